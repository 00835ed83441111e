/* index_build.c — building the top-activating examples index (format in index.h,
 * per-unit state in index_stats.c). Segments are run through the model in
 * batches of whole segments, so the GLP meta-neurons and the SAE codes of a
 * batch are computed with a few large sgemms, and every kept example's
 * window is at hand when it is kept. */
#include "index.h"
#include "jsonutil.h"
#include "corpus.h"
#include "index_stats.h"
#include "ops.h"
#include "safetensors.h"
#include "util.h"

#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define BATCH_ROWS 1024
#define QUANT_RESERVOIR 4 /* reservoir slots per quantile example */
#define MAX_CROSS_CELLS (32u << 20) /* meta x latents correlation accumulators (floats) */

void index_opts_default(index_opts *o) {
    memset(o, 0, sizeof *o);
    o->mlp_layer = -1, o->glp_layer = -1, o->split = "valid", o->tokens = 50000;
    o->K = 20, o->before = 12, o->after = 4, o->bands = 5, o->per_band = 2, o->seed = 1;
}

void index_meta_noise(uint64_t seed, int seg, int pos, float *eps, int d) {
    rng_t r;
    rng_seed(&r, (seed * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)(uint32_t)seg << 32 | (uint32_t)pos));
    for (int i = 0; i < d; i++) eps[i] = rng_normal(&r);
}

typedef struct {
    const index_opts *o;
    ms_index ix;   /* the stream, segments and categories, as a reader sees them */
    int seg_cap, stream_cap, cat_cap;
    tf_state st;
    int T, d, d_ff, M, L; /* context, widths, meta units, latents */
    tf_rows g_glp, g_sae, g_mlp; /* where each hook puts its rows */
    /* one batch: rows of whole segments */
    int rows, seg0, nseg;
    float *h_glp, *h_sae, *mlp, *xn, *eps, *meta, *sval;
    int *sidx;
    glp_work *gw;
    sae_work *sw;
    ix_stats stats;
    /* correlation of meta-neurons and latents: C[l][m] += y_l x_m over tokens */
    float *C;
    double *sx, *sxx, *sy, *syy;
    long tokens;
} builder;

/* ------------------------------------------------------------ segments */

static int category_id(builder *B, const char *cat) {
    ms_index *ix = &B->ix;
    for (int i = 0; i < ix->n_cat; i++)
        if (!strcmp(ix->categories[i], cat)) return i;
    if (ix->n_cat == B->cat_cap) ix->categories = xrealloc(ix->categories, sizeof(char *) * (size_t)(B->cat_cap = 2 * B->cat_cap + 16));
    ix->categories[ix->n_cat] = xstrdup(cat);
    return ix->n_cat++;
}

static void add_segment(builder *B, const int *ids, int n, int doc, int cat) {
    ms_index *ix = &B->ix;
    if (ix->n_seg == B->seg_cap) {
        size_t c = (size_t)(B->seg_cap = 2 * B->seg_cap + 64);
        ix->seg_start = xrealloc(ix->seg_start, sizeof(int) * c), ix->seg_len = xrealloc(ix->seg_len, sizeof(int) * c);
        ix->seg_doc = xrealloc(ix->seg_doc, sizeof(int) * c), ix->seg_cat = xrealloc(ix->seg_cat, sizeof(int) * c);
    }
    if (ix->n_stream + n > B->stream_cap) ix->stream = xrealloc(ix->stream, sizeof(int) * (size_t)(B->stream_cap = 2 * (ix->n_stream + n)));
    memcpy(ix->stream + ix->n_stream, ids, sizeof(int) * (size_t)n);
    int s = ix->n_seg++;
    ix->seg_start[s] = ix->n_stream, ix->seg_len[s] = n, ix->seg_doc[s] = doc, ix->seg_cat[s] = cat;
    ix->n_stream += n;
    ix->tokens += n - 1;
}

/* Cuts the split's documents into segments of at most T tokens (BOS first
 * when used) until `want` index tokens (positions >= 1) are held. */
static int make_segments(builder *B, long want) {
    const index_opts *o = B->o;
    corpus_split cs;
    if (corpus_load(&cs, o->corpus, o->split)) return -1;
    int bos = o->bos ? 1 : 0, *buf = xmalloc(sizeof(int) * (size_t)B->T), rc = 0;
    for (int doc = 0; doc < cs.n && B->ix.tokens < want && !rc; doc++) {
        int *ids, n;
        if ((rc = tok_encode(o->model->tok, cs.docs[doc].text, cs.docs[doc].len, &ids, &n))) break;
        int cat = category_id(B, cs.docs[doc].category);
        for (int at = 0; at < n && B->ix.tokens < want;) {
            int take = n - at < B->T - bos ? n - at : B->T - bos;
            if (take + bos - 1 > want - B->ix.tokens) take = (int)(want - B->ix.tokens) + 1 - bos;
            if (bos) buf[0] = o->model->c.bos_id;
            memcpy(buf + bos, ids + at, sizeof(int) * (size_t)take);
            if (take + bos >= 2) add_segment(B, buf, take + bos, doc, cat);
            at += take;
        }
        free(ids);
    }
    free(buf);
    corpus_free(&cs);
    if (!rc && B->ix.tokens < 1) rc = ms_seterr("the %s split holds no text to index (%s)", o->split, o->corpus);
    return rc;
}

/* ------------------------------------------------------------ setup */

static void add_group(ms_index *ix, ix_kind kind, int layer, int block, int count) {
    ix->groups[ix->n_groups++] = (ix_group){kind, layer, block, count, ix->n_units};
    ix->n_units += count;
}

static int check_opts(const index_opts *o) {
    const tf_config *c = &o->model->c;
    if (!o->model->tok) return ms_seterr("the model has no tokenizer (index)");
    if (!o->glp && !o->sae && o->mlp_layer < 0) return ms_seterr("no units to index: give an SAE, a GLP or an MLP layer (index)");
    if (o->glp && (o->glp->c.d_input != c->d_model || o->glp_layer < 0 || o->glp_layer >= c->n_layers ||
                   o->glp->c.multi_layer_n_layers > 1))
        return ms_seterr("the GLP does not fit the model (index)");
    if (o->sae && (o->sae->c.d_in != c->d_model || o->sae->layer < 0 || o->sae->layer >= c->n_layers))
        return ms_seterr("the SAE does not fit the model (index)");
    if (o->mlp_layer >= c->n_layers) return ms_seterr("MLP layer %d outside 0..%d (index)", o->mlp_layer, c->n_layers - 1);
    if (o->K < 1 || o->before < 0 || o->after < 0 || o->before + o->after + 1 > INDEX_MAX_WINDOW || o->bands < 0 ||
        o->per_band < 0 || o->tokens < 1)
        return ms_seterr("bad index settings: K >= 1, window within %d tokens, tokens >= 1 (index)", INDEX_MAX_WINDOW);
    if (o->bos && c->bos_id < 0) return ms_seterr("the model has no BOS token (index)");
    return 0;
}

static int add_hooks(builder *B) {
    const index_opts *o = B->o;
    int top = -1, rc = 0;
    if (o->glp) {
        rc |= tf_add_hook(&B->st, (tf_hook){HOOK_RESID, o->glp_layer, tf_rows_hook, &B->g_glp});
        top = o->glp_layer;
    }
    if (o->sae && !(o->glp && o->sae->layer == o->glp_layer)) {
        rc |= tf_add_hook(&B->st, (tf_hook){HOOK_RESID, o->sae->layer, tf_rows_hook, &B->g_sae});
        top = o->sae->layer > top ? o->sae->layer : top;
    }
    if (o->mlp_layer >= 0) {
        rc |= tf_add_hook(&B->st, (tf_hook){HOOK_MLP, o->mlp_layer, tf_rows_hook, &B->g_mlp});
        top = o->mlp_layer > top ? o->mlp_layer : top;
    }
    B->st.stop_layer = top + 1; /* later blocks cannot change what is read */
    return rc;
}

static int builder_init(builder *B, const index_opts *o) {
    memset(B, 0, sizeof *B);
    B->o = o;
    if (check_opts(o)) return -1;
    const tf_config *c = &o->model->c;
    B->T = c->max_seq < BATCH_ROWS ? c->max_seq : BATCH_ROWS, B->d = c->d_model, B->d_ff = c->d_ff;
    if (B->T < 2) return ms_seterr("model context %d is too short (index)", c->max_seq);
    ms_index *ix = &B->ix;
    ix->vocab = c->vocab, ix->d_model = c->d_model, ix->bos = o->bos;
    if (o->sae) add_group(ix, IX_SAE, o->sae->layer, 0, B->L = o->sae->c.n_latents);
    for (int b = 0; o->glp && b < o->glp->c.n_layers; b++) add_group(ix, IX_META, o->glp_layer, b, o->glp->c.d_mlp);
    B->M = o->glp ? o->glp->c.n_layers * o->glp->c.d_mlp : 0;
    if (o->mlp_layer >= 0) add_group(ix, IX_MLP, o->mlp_layer, 0, B->d_ff);
    if (make_segments(B, o->tokens) || tf_state_init(&B->st, o->model, B->T) || add_hooks(B)) return -1;
    size_t R = (size_t)BATCH_ROWS, d = (size_t)B->d;
    B->h_glp = xmalloc(sizeof(float) * R * d), B->xn = xmalloc(sizeof(float) * R * d), B->eps = xmalloc(sizeof(float) * R * d);
    B->h_sae = o->glp && o->sae && o->sae->layer == o->glp_layer ? B->h_glp : xmalloc(sizeof(float) * R * d);
    if (o->mlp_layer >= 0) B->mlp = xmalloc(xmul(sizeof(float) * R, (size_t)B->d_ff));
    if (o->glp) B->meta = xmalloc(xmul(sizeof(float) * R, (size_t)B->M)), B->gw = glp_work_new(&o->glp->c, BATCH_ROWS);
    if (o->sae) {
        B->sidx = xmalloc(sizeof(int) * R * (size_t)o->sae->c.k), B->sval = xmalloc(sizeof(float) * R * (size_t)o->sae->c.k);
        B->sw = sae_work_new(o->sae, BATCH_ROWS);
    }
    ix_stats_init(&B->stats, ix->n_units, o->K, o->bands * o->per_band * QUANT_RESERVOIR, o->before, o->after, o->seed);
    if (B->M && B->L && (size_t)B->M * (size_t)B->L <= MAX_CROSS_CELLS) {
        B->C = xcalloc((size_t)B->M * (size_t)B->L, sizeof(float));
        B->sx = xcalloc((size_t)B->M, 8), B->sxx = xcalloc((size_t)B->M, 8);
        B->sy = xcalloc((size_t)B->L, 8), B->syy = xcalloc((size_t)B->L, 8);
    }
    return 0;
}

static void builder_free(builder *B) {
    if (B->st.x) tf_state_free(&B->st);
    if (B->h_sae != B->h_glp) free(B->h_sae);
    free(B->h_glp), free(B->xn), free(B->eps), free(B->mlp), free(B->meta), free(B->sidx), free(B->sval);
    glp_work_free(B->gw);
    sae_work_free(B->sw);
    ix_stats_free(&B->stats);
    free(B->C), free(B->sx), free(B->sxx), free(B->sy), free(B->syy);
    index_close(&B->ix);
}

/* ------------------------------------------------------------ one batch */

/* Runs segments seg0.. while they fit in a batch; fills the captures. */
static int run_batch(builder *B) {
    const ms_index *ix = &B->ix;
    B->rows = 0, B->nseg = 0;
    for (int s = B->seg0; s < ix->n_seg && B->rows + ix->seg_len[s] <= BATCH_ROWS; s++) {
        size_t r = (size_t)B->rows;
        B->g_glp = (tf_rows){B->h_glp + r * B->d, B->d};
        B->g_sae = (tf_rows){B->h_sae + r * B->d, B->d};
        if (B->mlp) B->g_mlp = (tf_rows){B->mlp + r * B->d_ff, B->d_ff};
        tf_state_reset(&B->st);
        if (tf_forward(B->o->model, &B->st, ix->stream + ix->seg_start[s], ix->seg_len[s], LOGITS_NONE, NULL))
            return -1;
        B->rows += ix->seg_len[s], B->nseg++;
    }
    return 0;
}

/* Meta-neurons ([n_blocks][rows][d_mlp]) and SAE codes of the batch. */
static int encode_batch(builder *B) {
    const index_opts *o = B->o;
    if (o->glp) {
        for (int s = B->seg0, r = 0; s < B->seg0 + B->nseg; s++)
            for (int p = 0; p < B->ix.seg_len[s]; p++, r++) index_meta_noise(o->seed, s, p, B->eps + (size_t)r * B->d, B->d);
        glp_normalize(o->glp, B->xn, B->h_glp, B->rows);
        if (glp_meta_neurons(o->glp, B->gw, B->meta, B->xn, B->eps, B->rows, -1)) return -1;
    }
    if (o->sae && sae_encode(o->sae, B->sw, B->h_sae, B->rows, B->sidx, B->sval, NULL)) return -1;
    return 0;
}

static void offer_dense(builder *B, int first, int width, const float *X, const ix_where *w) {
    ix_values x = {X, width, NULL, NULL, 0};
    const float *row = X + (size_t)w->r * width;
    for (int i = 0; i < width; i++) ix_stats_offer(&B->stats, first + i, i, row[i], w, &x);
}

static void offer_sparse(builder *B, int first, const ix_where *w) {
    int k = B->o->sae->c.k;
    ix_values x = {NULL, 0, B->sidx, B->sval, k};
    for (int j = 0; j < k; j++) {
        float v = B->sval[(size_t)w->r * k + j];
        int l = B->sidx[(size_t)w->r * k + j];
        if (v > 0) ix_stats_offer(&B->stats, first + l, l, v, w, &x);
    }
}

/* Sums for Pearson correlations; the latent side is sparse. */
static void accumulate_cross(builder *B, int r) {
    int k = B->o->sae->c.k, dm = B->o->glp->c.d_mlp, nb = B->o->glp->c.n_layers;
    for (int b = 0; b < nb; b++) {
        const float *x = B->meta + ((size_t)b * B->rows + r) * dm;
        double *sx = B->sx + (size_t)b * dm, *sxx = B->sxx + (size_t)b * dm;
        for (int i = 0; i < dm; i++) sx[i] += x[i], sxx[i] += (double)x[i] * x[i];
    }
    for (int j = 0; j < k; j++) {
        float y = B->sval[(size_t)r * k + j];
        int l = B->sidx[(size_t)r * k + j];
        if (y <= 0) continue;
        B->sy[l] += y, B->syy[l] += (double)y * y;
        for (int b = 0; b < nb; b++)
            axpy(B->C + (size_t)l * B->M + (size_t)b * dm, y, B->meta + ((size_t)b * B->rows + r) * dm, dm);
    }
}

static void offer_batch(builder *B) {
    const ms_index *ix = &B->ix;
    for (int s = B->seg0, r0 = 0; s < B->seg0 + B->nseg; r0 += ix->seg_len[s], s++)
        for (int p = 1; p < ix->seg_len[s]; p++) {
            ix_where w = {r0 + p, s, p, r0, ix->seg_len[s]};
            for (int g = 0; g < ix->n_groups; g++) {
                const ix_group *G = &ix->groups[g];
                if (G->kind == IX_SAE) offer_sparse(B, G->first, &w);
                else if (G->kind == IX_MLP) offer_dense(B, G->first, B->d_ff, B->mlp, &w);
                else offer_dense(B, G->first, G->count, B->meta + (size_t)G->block * B->rows * G->count, &w);
            }
            if (B->C) accumulate_cross(B, r0 + p);
            B->tokens++;
        }
}

static int run_all(builder *B, double t0) {
    const index_opts *o = B->o;
    for (B->seg0 = 0; B->seg0 < B->ix.n_seg; B->seg0 += B->nseg) {
        if (run_batch(B) || encode_batch(B)) return -1;
        offer_batch(B);
        if (o->log && o->tty) {
            fprintf(o->log, "\r\033[Kindex: %ld/%ld tokens  %.0f tokens/s", B->tokens, B->ix.tokens,
                    B->tokens / (ms_now() - t0 + 1e-9));
            fflush(o->log);
        }
        if (o->stop && *o->stop) return ms_seterr("stopped (index)");
    }
    if (o->log && o->tty) fprintf(o->log, "\n");
    return 0;
}

/* ------------------------------------------------------------ finishing */

/* Indices of the n largest (sign +1) or smallest (-1) of x[V], in order,
 * skipping ids with skip[id] set. */
static int extremes(const float *x, int V, int n, int sign, const bool *skip, ix_logit *out) {
    int m = 0;
    for (int i = 0; i < V; i++) {
        if (skip[i]) continue;
        float v = sign * x[i];
        if (m == n && v <= sign * out[m - 1].value) continue;
        int j = m < n ? m++ : n - 1;
        while (j > 0 && v > sign * out[j - 1].value) out[j] = out[j - 1], j--;
        out[j] = (ix_logit){i, x[i]};
    }
    return m;
}

/* Tokens that cannot read as output on their own: ids the tokenizer cannot
 * decode, and lone bytes that are control characters or part of a UTF-8
 * sequence. Their unembedding rows are barely trained (byte fallbacks the
 * corpus never uses), so they would crowd every latent's top list. */
static bool *unreadable_tokens(const tf_model *m) {
    bool *skip = xcalloc((size_t)m->c.vocab, sizeof(bool));
    for (int i = 0; i < m->c.vocab; i++) {
        size_t n;
        const char *b = m->tok ? tok_bytes(m->tok, i, &n) : NULL;
        unsigned char c = b && n == 1 ? (unsigned char)b[0] : 0;
        skip[i] = !b || (n == 1 && ((c < 0x20 && c != '\n' && c != '\t') || c >= 0x7f));
    }
    return skip;
}

/* Top output tokens of every latent's decoder direction through the
 * unembedding, into logits[L][2 * INDEX_LOGITS]. */
static ix_logit *latent_logits(const builder *B) {
    const tf_model *m = B->o->model;
    int V = m->c.vocab, d = B->d, L = B->L, CH = 64;
    bool *skip = unreadable_tokens(m);
    ix_logit *out = xcalloc(xmul((size_t)L, 2 * INDEX_LOGITS), sizeof(ix_logit));
    float *lg = xmalloc(sizeof(float) * (size_t)CH * V);
    for (int l0 = 0; l0 < L; l0 += CH) {
        int n = L - l0 < CH ? L - l0 : CH;
        wmat_linear(lg, B->o->sae->p.W_dec + (size_t)l0 * d, &m->head, NULL, n);
        for (int i = 0; i < n; i++) {
            ix_logit *o = out + (size_t)(l0 + i) * 2 * INDEX_LOGITS;
            extremes(lg + (size_t)i * V, V, INDEX_LOGITS, 1, skip, o);
            extremes(lg + (size_t)i * V, V, INDEX_LOGITS, -1, skip, o + INDEX_LOGITS);
        }
    }
    free(lg), free(skip);
    return out;
}

static double corr(const builder *B, int m, int l) {
    double N = (double)B->tokens, mx = B->sx[m] / N, my = B->sy[l] / N;
    double vx = B->sxx[m] - N * mx * mx, vy = B->syy[l] - N * my * my;
    if (vx <= 0 || vy <= 0) return 0;
    return (B->C[(size_t)l * B->M + m] - N * mx * my) / sqrt(vx * vy);
}

/* Keeps the INDEX_CROSS partners of largest |r| in p (n of them so far). */
static void keep_partner(ix_partner *p, int *n, int unit, double r) {
    if (r == 0 || (*n == INDEX_CROSS && fabs(r) <= fabs(p[*n - 1].r))) return;
    int j = *n < INDEX_CROSS ? (*n)++ : INDEX_CROSS - 1;
    while (j > 0 && fabs(r) > fabs(p[j - 1].r)) p[j] = p[j - 1], j--;
    p[j] = (ix_partner){unit, (float)r};
}

/* Partners of every unit: meta units get latents, latents get meta units. */
static ix_partner *cross_partners(const builder *B, int *count) {
    int U = B->ix.n_units, sae0 = 0, meta0 = B->L; /* groups: SAE first, then meta */
    ix_partner *p = xcalloc(xmul((size_t)U, INDEX_CROSS), sizeof(ix_partner));
    for (int m = 0; m < B->M; m++)
        for (int l = 0; l < B->L; l++) {
            double r = corr(B, m, l);
            keep_partner(p + (size_t)(meta0 + m) * INDEX_CROSS, &count[meta0 + m], sae0 + l, r);
            keep_partner(p + (size_t)(sae0 + l) * INDEX_CROSS, &count[sae0 + l], meta0 + m, r);
        }
    return p;
}

static int write_stream(const builder *B, const char *dir) {
    const ms_index *ix = &B->ix;
    int64_t n = ix->n_stream, s = ix->n_seg;
    st_wtensor t[] = {{"tokens", ST_I32, 1, {n}, ix->stream},       {"seg_start", ST_I32, 1, {s}, ix->seg_start},
                      {"seg_len", ST_I32, 1, {s}, ix->seg_len},    {"seg_doc", ST_I32, 1, {s}, ix->seg_doc},
                      {"seg_cat", ST_I32, 1, {s}, ix->seg_cat}};
    char *path = ms_path_join(dir, "tokens.safetensors.lz4");
    int rc = st_write(path, t, 5, NULL, 0);
    free(path);
    return rc;
}

static json_object *group_json(const ix_group *g, const index_opts *o) {
    json_object *j = json_object_new_object();
    const char *kind = g->kind == IX_SAE ? "sae" : g->kind == IX_META ? "meta" : "mlp";
    json_object_object_add(j, "kind", json_object_new_string(kind));
    json_object_object_add(j, "layer", json_object_new_int(g->layer));
    if (g->kind == IX_META) json_object_object_add(j, "block", json_object_new_int(g->block));
    json_object_object_add(j, "count", json_object_new_int(g->count));
    const char *path = g->kind == IX_SAE ? o->sae_path : g->kind == IX_META ? o->glp_path : NULL;
    if (path) json_object_object_add(j, "path", json_object_new_string(path));
    return j;
}

static int write_manifest(const builder *B, const char *dir, double seconds) {
    const index_opts *o = B->o;
    const ms_index *ix = &B->ix;
    json_object *j = json_object_new_object(), *u = json_object_new_array(), *c = json_object_new_array();
    json_object_object_add(j, "format", json_object_new_string("metascope-index"));
    json_object_object_add(j, "version", json_object_new_int(INDEX_VERSION));
    json_object_object_add(j, "metascope", json_object_new_string(MS_VERSION));
    json_object_object_add(j, "model", json_object_new_string(o->model_path ? o->model_path : ""));
    json_object_object_add(j, "vocab", json_object_new_int(ix->vocab));
    json_object_object_add(j, "d_model", json_object_new_int(ix->d_model));
    json_object_object_add(j, "bos", json_object_new_boolean(o->bos));
    json_object_object_add(j, "corpus", json_object_new_string(o->corpus));
    json_object_object_add(j, "split", json_object_new_string(o->split));
    json_object_object_add(j, "tokens", json_object_new_int64(ix->tokens));
    json_object_object_add(j, "segments", json_object_new_int(ix->n_seg));
    const char *keys[] = {"K", "before", "after", "bands", "per_band"};
    int vals[] = {o->K, o->before, o->after, o->bands, o->per_band};
    for (int i = 0; i < 5; i++) json_object_object_add(j, keys[i], json_object_new_int(vals[i]));
    json_object_object_add(j, "seed", json_object_new_int64((int64_t)(o->seed & INT64_MAX)));
    json_object_object_add(j, "meta_sigma", json_object_new_double(0.1));
    json_object_object_add(j, "hist_emin", json_object_new_int(INDEX_HIST_EMIN));
    json_object_object_add(j, "hist_bins", json_object_new_int(INDEX_HIST_BINS));
    json_object_object_add(j, "cross", json_object_new_boolean(B->C != NULL));
    json_object_object_add(j, "seconds", json_object_new_double(seconds));
    for (int g = 0; g < ix->n_groups; g++) json_object_array_add(u, group_json(&ix->groups[g], o));
    json_object_object_add(j, "units", u);
    for (int i = 0; i < ix->n_cat; i++) json_object_array_add(c, json_object_new_string(ix->categories[i]));
    json_object_object_add(j, "categories", c);
    return ms_json_write(j, dir, "manifest.json");
}

/* Every unit's record, serialized (examples, logits, partners, label). */
static ix_buf *make_records(builder *B, float *max, float *density) {
    int U = B->ix.n_units, *ncross = xcalloc((size_t)U, sizeof(int));
    ix_logit *lg = B->L ? latent_logits(B) : NULL;
    ix_partner *cp = B->C ? cross_partners(B, ncross) : NULL;
    ix_labeler lab; /* reads the builder's stream and segments as an index */
    ix_labeler_init(&lab, &B->ix, B->o->model->tok);
    ix_buf *raw = xcalloc((size_t)U, sizeof(ix_buf));
    for (int u = 0; u < U; u++) {
        ix_record r;
        ix_stats_record(&B->stats, u, B->o->bands, B->o->per_band, &r);
        if (lg && u < B->L) r.logits = lg + (size_t)u * 2 * INDEX_LOGITS, r.n_plus = r.n_minus = INDEX_LOGITS;
        if (cp) r.cross = cp + (size_t)u * INDEX_CROSS, r.n_cross = ncross[u];
        r.auto_label = ix_auto_label(&lab, &r);
        max[u] = r.max, density[u] = (float)((double)r.n_pos / (double)B->tokens);
        index_encode_record(&raw[u], &r);
        r.logits = NULL, r.cross = NULL;
        index_record_free(&r);
    }
    ix_labeler_free(&lab);
    free(lg), free(cp), free(ncross);
    return raw;
}

static int write_index(builder *B, const char *dir, double seconds) {
    if (mkdir(dir, 0755) && !ms_is_dir(dir)) return ms_seterr("cannot create the index folder (%s)", dir);
    int U = B->ix.n_units;
    float *max = xmalloc(sizeof(float) * (size_t)U), *density = xmalloc(sizeof(float) * (size_t)U);
    ix_buf *raw = make_records(B, max, density);
    char *rec = ms_path_join(dir, "records.bin");
    int rc = write_stream(B, dir) || index_write_records(rec, raw, U, max, density) || write_manifest(B, dir, seconds) ? -1 : 0;
    for (int u = 0; u < U; u++) free(raw[u].buf);
    free(raw), free(rec), free(max), free(density);
    return rc;
}

static size_t folder_bytes(const char *dir) {
    const char *names[] = {"manifest.json", "tokens.safetensors.lz4", "records.bin"};
    size_t total = 0;
    for (int i = 0; i < 3; i++) {
        char *p = ms_path_join(dir, names[i]);
        struct stat st;
        if (!stat(p, &st)) total += (size_t)st.st_size;
        free(p);
    }
    return total;
}

int index_build(const index_opts *o, index_result *res) {
    builder B;
    double t0 = ms_now();
    /* a read-only or impossible destination is found before, not after, the run */
    if (ms_prepare_out_dir(o->out)) return -1;
    int rc = builder_init(&B, o) || run_all(&B, t0) ? -1 : 0;
    double seconds = ms_now() - t0;
    if (!rc) rc = write_index(&B, o->out, seconds);
    if (!rc && res)
        *res = (index_result){B.tokens, B.ix.n_seg, B.ix.n_units, seconds, B.C != NULL, folder_bytes(o->out)};
    builder_free(&B);
    return rc;
}
