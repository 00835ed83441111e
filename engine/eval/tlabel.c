/* tlabel.c — concepts, pools, unit values, token labels and their metrics
 * (see tlabel.h). */
#include "tlabel.h"
#include "rng.h"
#include "util.h"

#include <ctype.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ concepts */

static int parse_unit(const char *p, size_t n, tl_unit *u, const char *cmd) {
    char buf[64];
    if (n >= sizeof buf) return ms_seterr("unit '%.*s' too long (%s)", (int)n, p, cmd);
    memcpy(buf, p, n), buf[n] = 0;
    char *gt = strchr(buf, '>'), *end;
    u->thr = 0;
    if (gt) {
        *gt = 0;
        u->thr = strtof(gt + 1, &end);
        if (end == gt + 1 || *end || !isfinite(u->thr)) return ms_seterr("bad threshold in '%.*s' (%s)", (int)n, p, cmd);
    }
    int a = -1, b = -1, k = 0;
    char fam[8];
    if (sscanf(buf, "%7[a-z]:%d%n:%d%n", fam, &a, &k, &b, &k) < 2 || (size_t)k != strlen(buf) || a < 0)
        return ms_seterr("unit '%s' is not sae:I, meta:B:I, mlp:L:I or resid:I (%s)", buf, cmd);
    u->fam = -1;
    for (int f = 0; f < PF_N; f++)
        if (!strcmp(fam, PROBE_FAMILY[f])) u->fam = f;
    bool two = u->fam == PF_META || u->fam == PF_MLP;
    if (u->fam < 0 || two != (b >= 0))
        return ms_seterr("unit '%s' is not sae:I, meta:B:I, mlp:L:I or resid:I (%s)", buf, cmd);
    u->a = a, u->b = b;
    return 0;
}

int tl_parse_concept(const char *s, tl_concept *c, const char *cmd) {
    c->n = 0;
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, ",");
        if (c->n == TL_MAX_UNITS) return ms_seterr("more than %d units (%s)", TL_MAX_UNITS, cmd);
        if (parse_unit(p, n, &c->u[c->n++], cmd)) return -1;
        p += n + (p[n] == ',');
    }
    if (!c->n) return ms_seterr("no units given, e.g. sae:18,meta:1:7>0.5 (%s)", cmd);
    return 0;
}

void tl_concept_str(const tl_concept *c, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i < c->n && n < cap; i++) {
        const tl_unit *u = &c->u[i];
        n += (size_t)snprintf(buf + n, cap - n, "%s%s:%d", i ? "," : "", PROBE_FAMILY[u->fam], u->a);
        if (n < cap && u->b >= 0) n += (size_t)snprintf(buf + n, cap - n, ":%d", u->b);
        if (n < cap) n += (size_t)snprintf(buf + n, cap - n, ">%g", u->thr);
    }
}

int tl_models_check(const tl_models *M, const tl_concept *c, const char *cmd) {
    for (int i = 0; i < c->n; i++) {
        const tl_unit *u = &c->u[i];
        int lim = 0;
        if (u->fam == PF_SAE) {
            if (!M->sae) return ms_seterr("no SAE loaded for sae:%d (%s)", u->a, cmd);
            lim = M->sae->c.n_latents;
        } else if (u->fam == PF_META) {
            if (!M->glp) return ms_seterr("no GLP loaded for meta:%d:%d (%s)", u->a, u->b, cmd);
            if (u->a >= M->glp->c.n_layers) return ms_seterr("meta block %d out of range (%s)", u->a, cmd);
            lim = M->glp->c.d_mlp;
        } else if (u->fam == PF_MLP) {
            if (u->a >= M->m->c.n_layers) return ms_seterr("mlp layer %d out of range (%s)", u->a, cmd);
            lim = M->m->c.d_ff;
        } else lim = M->m->c.d_model;
        int idx = u->fam == PF_META || u->fam == PF_MLP ? u->b : u->a;
        if (idx >= lim) return ms_seterr("unit %s index %d out of range 0..%d (%s)", PROBE_FAMILY[u->fam], idx, lim - 1, cmd);
    }
    return 0;
}

/* ------------------------------------------------------------ pools */

void tl_siblings(const char *category, char *prefix, size_t cap) {
    size_t n = strcspn(category, "./");
    if (!category[n]) n = 0;
    else n++;
    snprintf(prefix, cap, "%.*s", (int)n, category);
}

/* Token ids and byte ranges of a text's first `cap` tokens. */
static int doc_tokens(const tokenizer *tok, const corpus_doc *d, tl_pool *p, int cap) {
    int *ids, m;
    if (tok_encode(tok, d->text, d->len, &ids, &m)) return -1;
    if (m > cap) m = cap;
    int at = 0;
    for (int i = 0; i < m; i++) {
        size_t len;
        if (!tok_bytes(tok, ids[i], &len)) len = 0;
        int t = p->n_tok + i;
        p->ids[t] = ids[i], p->off[t] = at, p->end[t] = at + (int)len, p->pos[t] = i;
        at += (int)len;
    }
    free(ids);
    p->n_tok += m;
    return m;
}

int tl_pool_make(tl_pool *p, const corpus_split *s, const tokenizer *tok, const char *category, int max_pos,
                 int max_neg, uint64_t seed, const char *cmd) {
    memset(p, 0, sizeof *p);
    char sib[64] = "";
    if (category) tl_siblings(category, sib, sizeof sib);
    int *perm = xmalloc(sizeof(int) * (size_t)(s->n + 1));
    for (int i = 0; i < s->n; i++) perm[i] = i;
    rng_t r;
    rng_seed(&r, seed);
    for (int i = s->n - 1; i > 0; i--) {
        int j = (int)rng_below(&r, (uint64_t)i + 1), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    int cap = max_pos + max_neg, np = 0, nn = 0;
    p->doc = xmalloc(sizeof(int) * (size_t)(cap + 1));
    p->start = xmalloc(sizeof(int) * (size_t)(cap + 2));
    size_t tcap = (size_t)cap * TL_MAX_TOKENS + 1;
    p->ids = xmalloc(sizeof(int) * tcap), p->off = xmalloc(sizeof(int) * tcap);
    p->end = xmalloc(sizeof(int) * tcap), p->pos = xmalloc(sizeof(int) * tcap);
    p->truth = xmalloc(tcap);
    p->has_truth = category != NULL;
    for (int k = 0; k < s->n && (np < max_pos || nn < max_neg); k++) {
        const corpus_doc *d = &s->docs[perm[k]];
        int y = 0;
        if (category) {
            if (!d->category) continue;
            y = !strcmp(d->category, category);
            if (!y && (!*sib || strncmp(d->category, sib, strlen(sib)))) continue;
            if (y ? np >= max_pos : nn >= max_neg) continue;
        } else if (nn >= max_neg) break;
        p->start[p->n_docs] = p->n_tok;
        int m = doc_tokens(tok, d, p, TL_MAX_TOKENS);
        if (m < 0) break;
        if (m == 0) continue;
        memset(p->truth + p->start[p->n_docs], y, (size_t)m);
        p->doc[p->n_docs++] = perm[k];
        *(y ? &np : &nn) += 1;
    }
    p->start[p->n_docs] = p->n_tok;
    free(perm);
    if (category && (!np || !nn)) {
        tl_pool_free(p);
        return ms_seterr("no %s documents of '%s' in the split (%s)", np ? "sibling" : "", category, cmd);
    }
    if (!p->n_tok) return tl_pool_free(p), ms_seterr("no documents to label (%s)", cmd);
    return 0;
}

int tl_pool_text(tl_pool *p, const corpus_doc *d, const tokenizer *tok, int max_tokens, const char *cmd) {
    memset(p, 0, sizeof *p);
    size_t cap = (size_t)max_tokens + 1;
    p->doc = xcalloc(1, sizeof(int)), p->start = xcalloc(2, sizeof(int));
    p->ids = xmalloc(sizeof(int) * cap), p->off = xmalloc(sizeof(int) * cap);
    p->end = xmalloc(sizeof(int) * cap), p->pos = xmalloc(sizeof(int) * cap);
    p->truth = xcalloc(cap, 1);
    int m = doc_tokens(tok, d, p, max_tokens);
    if (m <= 0) return tl_pool_free(p), m < 0 ? -1 : ms_seterr("no tokens to label (%s)", cmd);
    p->n_docs = 1, p->start[1] = m;
    return 0;
}

void tl_pool_free(tl_pool *p) {
    free(p->doc), free(p->start), free(p->ids), free(p->off), free(p->end), free(p->pos), free(p->truth);
    memset(p, 0, sizeof *p);
}

/* ------------------------------------------------------------ activations */

typedef struct {
    float *dst;
    int row0; /* pool row of the document's first token */
    int skip; /* sequence positions before the first token (BOS) */
} grab;

static void grab_fn(void *ctx, int layer, int pos0, int n, float *x, int dim) {
    grab *g = ctx;
    for (int i = 0; i < n; i++) {
        int p = pos0 + i - g->skip;
        if (p >= 0) memcpy(g->dst + (size_t)(g->row0 + p) * dim, x + (size_t)i * dim, sizeof(float) * (size_t)dim);
    }
}

int tl_acts_run(const tl_models *M, const tl_pool *p, const int *layers, int n_layers, int mlp_layer, tl_acts *a) {
    memset(a, 0, sizeof *a);
    int d = M->m->c.d_model, top = mlp_layer, saved = M->st->nhooks, rc = 0;
    grab g[4];
    a->mlp_layer = mlp_layer;
    for (int k = 0; k < n_layers; k++) {
        if (tl_acts_at(a, layers[k])) continue;
        a->layers[a->n_layers] = layers[k];
        a->resid[a->n_layers] = xmalloc(sizeof(float) * (size_t)p->n_tok * d + 1);
        g[a->n_layers] = (grab){a->resid[a->n_layers], 0, 0};
        rc |= tf_add_hook(M->st, (tf_hook){HOOK_RESID, layers[k], grab_fn, &g[a->n_layers]});
        top = layers[k] > top ? layers[k] : top;
        a->n_layers++;
    }
    int ng = a->n_layers;
    if (mlp_layer >= 0) {
        a->mlp = xmalloc(sizeof(float) * (size_t)p->n_tok * M->m->c.d_ff + 1);
        g[ng] = (grab){a->mlp, 0, 0};
        rc |= tf_add_hook(M->st, (tf_hook){HOOK_MLP, mlp_layer, grab_fn, &g[ng++]});
    }
    int longest = 0, b = M->bos >= 0;
    for (int i = 0; i < p->n_docs; i++)
        if (p->start[i + 1] - p->start[i] > longest) longest = p->start[i + 1] - p->start[i];
    int *ids = xmalloc(sizeof(int) * (size_t)(longest + 1));
    for (int i = 0; i < p->n_docs && !rc; i++) {
        if (M->cancel && *M->cancel) {
            rc = ms_seterr("cancelled (labels)");
            break;
        }
        int s0 = p->start[i], n = p->start[i + 1] - s0;
        if (b) ids[0] = M->bos;
        memcpy(ids + b, p->ids + s0, sizeof(int) * (size_t)n);
        for (int k = 0; k < ng; k++) g[k].row0 = s0, g[k].skip = b;
        tf_state_reset(M->st);
        M->st->stop_layer = top + 1;
        rc = tf_forward(M->m, M->st, ids, n + b, LOGITS_NONE, NULL);
        M->st->stop_layer = 0;
    }
    M->st->nhooks = saved;
    free(ids);
    if (rc) tl_acts_free(a);
    return rc;
}

void tl_acts_free(tl_acts *a) {
    for (int k = 0; k < a->n_layers; k++) free(a->resid[k]);
    free(a->mlp);
    memset(a, 0, sizeof *a);
}

const float *tl_acts_at(const tl_acts *a, int layer) {
    for (int k = 0; k < a->n_layers; k++)
        if (a->layers[k] == layer) return a->resid[k];
    return NULL;
}

/* ------------------------------------------------------------ families */

/* Noise of one token, seeded by (document, position) only. */
static void token_noise(int doc, int pos, float *eps, int d) {
    rng_t r;
    rng_seed(&r, 0x6d657461ull ^ ((uint64_t)doc << 20) ^ (uint64_t)pos * 0x9e3779b97f4a7c15ull);
    for (int j = 0; j < d; j++) eps[j] = rng_normal(&r);
}

/* Meta-neurons of every block: X[n, B * d_mlp], unit (b, i) at b*d_mlp + i. */
static float *meta_values(const tl_models *M, const tl_pool *p, const float *h) {
    const glp_config *c = &M->glp->c;
    int n = p->n_tok, d = c->d_input, B = c->n_layers, dm = c->d_mlp, chunk = 1024;
    float *X = xmalloc(sizeof(float) * (size_t)n * B * dm + 1);
    float *x = xmalloc(sizeof(float) * (size_t)chunk * d), *eps = xmalloc(sizeof(float) * (size_t)chunk * d);
    float *meta = xmalloc(sizeof(float) * (size_t)B * chunk * dm);
    int rc = 0;
    for (int t0 = 0; t0 < n && !rc; t0 += chunk) {
        int m = n - t0 < chunk ? n - t0 : chunk;
        glp_normalize(M->glp, x, h + (size_t)t0 * d, m);
        for (int k = 0; k < m; k++) {
            int t = t0 + k, di = 0;
            while (p->start[di + 1] <= t) di++;
            token_noise(p->doc[di], p->pos[t], eps + (size_t)k * d, d);
        }
        rc = glp_meta_neurons(M->glp, M->glp_work, meta, x, eps, m, -1);
        for (int k = 0; k < m && !rc; k++)
            for (int b = 0; b < B; b++)
                memcpy(X + (size_t)(t0 + k) * B * dm + (size_t)b * dm, meta + ((size_t)b * m + k) * dm,
                       sizeof(float) * (size_t)dm);
    }
    free(x), free(eps), free(meta);
    if (rc) free(X), X = NULL;
    return X;
}

float *tl_family(const tl_models *M, const tl_pool *p, const tl_acts *a, int fam, int *units) {
    int d = M->m->c.d_model, n = p->n_tok;
    if (fam == PF_MLP) {
        if (!a->mlp) return ms_seterr("no MLP rows captured (labels)"), NULL;
        *units = M->m->c.d_ff;
        float *X = xmalloc(sizeof(float) * (size_t)n * *units + 1);
        memcpy(X, a->mlp, sizeof(float) * (size_t)n * *units);
        return X;
    }
    int layer = fam == PF_RESID ? M->layer : fam == PF_SAE ? M->sae->layer : M->glp_layer;
    const float *h = tl_acts_at(a, layer);
    if (!h) return ms_seterr("no residual rows at layer %d (labels)", layer), NULL;
    if (fam == PF_RESID) {
        *units = d;
        float *X = xmalloc(sizeof(float) * (size_t)n * d + 1);
        memcpy(X, h, sizeof(float) * (size_t)n * d);
        return X;
    }
    if (fam == PF_META) return *units = M->glp->c.n_layers * M->glp->c.d_mlp, meta_values(M, p, h);
    *units = M->sae->c.n_latents;
    float *z = xmalloc(sizeof(float) * (size_t)n * *units + 1);
    if (sae_encode_dense(M->sae, M->sae_work, h, n, z)) free(z), z = NULL;
    return z;
}

static int unit_col(const tl_models *M, const tl_unit *u) {
    if (u->fam == PF_META) return u->a * M->glp->c.d_mlp + u->b;
    return u->fam == PF_MLP ? u->b : u->a;
}

int tl_concept_layers(const tl_models *M, const tl_concept *c, int *layers, int *mlp_layer) {
    int nl = 0;
    *mlp_layer = -1;
    for (int i = 0; i < c->n; i++) {
        const tl_unit *u = &c->u[i];
        if (u->fam == PF_MLP) {
            if (*mlp_layer >= 0 && *mlp_layer != u->a)
                return ms_seterr("mlp units of one concept must share a layer (labels)");
            *mlp_layer = u->a;
            continue;
        }
        int l = u->fam == PF_RESID ? M->layer : u->fam == PF_SAE ? M->sae->layer : M->glp_layer;
        bool seen = false;
        for (int k = 0; k < nl; k++) seen |= layers[k] == l;
        if (!seen) layers[nl++] = l;
    }
    return nl;
}

float *tl_concept_values_acts(const tl_models *M, const tl_pool *p, const tl_concept *c, const tl_acts *a) {
    float *V = xmalloc(sizeof(float) * (size_t)p->n_tok * c->n + 1);
    for (int f = 0; f < PF_N; f++) {
        bool used = false;
        for (int i = 0; i < c->n; i++) used |= c->u[i].fam == f;
        if (!used) continue;
        int units;
        float *X = tl_family(M, p, a, f, &units);
        if (!X) return free(V), NULL;
        for (int i = 0; i < c->n; i++)
            if (c->u[i].fam == f)
                for (int t = 0; t < p->n_tok; t++)
                    V[(size_t)t * c->n + i] = X[(size_t)t * units + unit_col(M, &c->u[i])];
        free(X);
    }
    return V;
}

float *tl_concept_values(const tl_models *M, const tl_pool *p, const tl_concept *c) {
    int layers[3], mlp, nl = tl_concept_layers(M, c, layers, &mlp);
    tl_acts a;
    if (nl < 0 || tl_acts_run(M, p, layers, nl, mlp, &a)) return NULL;
    float *V = tl_concept_values_acts(M, p, c, &a);
    tl_acts_free(&a);
    return V;
}

/* ------------------------------------------------------------ labels */

/* Whether token t continues the word of token t-1 (same document): its
 * first byte is a letter or digit, and so is the byte before it. */
static bool continues(const tl_pool *p, const corpus_split *s, int di, int t) {
    if (t == p->start[di]) return false;
    const char *txt = s->docs[p->doc[di]].text;
    int a = p->off[t];
    if (a == 0 || p->end[t] == a) return false;
    return isalnum((unsigned char)txt[a]) && isalnum((unsigned char)txt[a - 1]);
}

void tl_label(const tl_concept *c, const float *V, const tl_pool *p, const corpus_split *s, int expand, int window,
              uint8_t *lab) {
    uint8_t *raw = xmalloc((size_t)p->n_tok + 1);
    for (int t = 0; t < p->n_tok; t++) {
        raw[t] = 0;
        for (int i = 0; i < c->n; i++) raw[t] |= V[(size_t)t * c->n + i] > c->u[i].thr;
    }
    for (int di = 0; di < p->n_docs; di++) {
        int a = p->start[di], b = p->start[di + 1];
        for (int t = a; t < b; t++) lab[t] = raw[t];
        if (expand == TL_EXPAND_WINDOW)
            for (int t = a; t < b; t++)
                for (int k = t - window; k <= t + window && !lab[t]; k++)
                    if (k >= a && k < b && raw[k]) lab[t] = 1;
        if (expand == TL_EXPAND_WORD)
            for (int w0 = a, w1; w0 < b; w0 = w1) {
                uint8_t any = raw[w0];
                for (w1 = w0 + 1; w1 < b && continues(p, s, di, w1); w1++) any |= raw[w1];
                for (int t = w0; t < w1; t++) lab[t] = any;
            }
    }
    free(raw);
}

void tl_prf(const uint8_t *pred, const uint8_t *truth, int n, double *prec, double *rec, double *f1) {
    long tp = 0, fp = 0, fn = 0;
    for (int i = 0; i < n; i++) {
        tp += pred[i] && truth[i], fp += pred[i] && !truth[i], fn += !pred[i] && truth[i];
    }
    *prec = tp + fp ? (double)tp / (double)(tp + fp) : NAN;
    *rec = tp + fn ? (double)tp / (double)(tp + fn) : NAN;
    *f1 = tp + fp + fn ? 2.0 * (double)tp / (double)(2 * tp + fp + fn) : NAN;
}

typedef struct {
    float v;
    uint8_t y;
} vy;

static int vy_desc(const void *a, const void *b) {
    float x = ((const vy *)a)->v, y = ((const vy *)b)->v;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Sweep the sorted values: predicting v > thr for thr between distinct
 * values (the threshold is the lower value of the chosen gap), keeping the
 * one of largest TPR - FPR (Youden's J: 0 for labelling all or nothing,
 * whatever the class balance, which F1 would reward). */
float tl_best_threshold(const float *v, const uint8_t *y, int n, double *J) {
    vy *s = xmalloc(sizeof(vy) * (size_t)(n + 1));
    long P = 0;
    for (int i = 0; i < n; i++) s[i] = (vy){v[i], y[i]}, P += y[i] != 0;
    qsort(s, (size_t)n, sizeof *s, vy_desc);
    long tp = 0, fp = 0, N = n - P;
    double best = 0;
    float thr = n ? s[0].v : 0; /* nothing positive */
    for (int i = 0; i < n && P && N; i++) {
        tp += s[i].y != 0, fp += s[i].y == 0;
        if (i + 1 < n && s[i + 1].v == s[i].v) continue;
        double j = (double)tp / (double)P - (double)fp / (double)N;
        if (j > best) best = j, thr = i + 1 < n ? s[i + 1].v : s[i].v - 1;
    }
    free(s);
    *J = best;
    return thr;
}

int tl_auto_units(const tl_models *M, const float *X, int n, int units, int fam, const uint8_t *y, int k,
                  tl_concept *c) {
    double *diff = xmalloc(sizeof(double) * (size_t)units);
    probe_mean_diff(X, n, units, y, NULL, diff);
    for (int j = 0; j < units; j++) diff[j] = diff[j] > 0 ? diff[j] : 0; /* a label fires above its threshold */
    int *idx = xmalloc(sizeof(int) * (size_t)units), m = probe_top_units(diff, units, k, idx);
    float *v = xmalloc(sizeof(float) * (size_t)n + 1);
    int rc = 0;
    for (int i = 0; i < m && !rc; i++) {
        if (!(diff[idx[i]] > 0)) break;
        if (c->n == TL_MAX_UNITS) {
            rc = ms_seterr("more than %d units (labels)", TL_MAX_UNITS);
            break;
        }
        for (int t = 0; t < n; t++) v[t] = X[(size_t)t * units + idx[i]];
        double J;
        tl_unit *u = &c->u[c->n++];
        u->fam = fam, u->thr = tl_best_threshold(v, y, n, &J);
        u->a = idx[i], u->b = -1;
        if (fam == PF_MLP) u->a = M->layer, u->b = idx[i];
        if (fam == PF_META) u->a = idx[i] / M->glp->c.d_mlp, u->b = idx[i] % M->glp->c.d_mlp;
    }
    free(diff), free(idx), free(v);
    return rc;
}

int tl_auto_concept(const tl_models *M, const corpus_split *s, const char *category, int fam, int k, int docs,
                    uint64_t seed, tl_concept *c, const char *cmd) {
    c->n = 0;
    if (fam == PF_META && !M->glp) return ms_seterr("no GLP loaded for the meta family (%s)", cmd);
    if (fam == PF_SAE && !M->sae) return ms_seterr("no SAE loaded for the sae family (%s)", cmd);
    tl_pool p;
    if (tl_pool_make(&p, s, M->m->tok, category, docs, docs, seed, cmd)) return -1;
    int layers[3] = {M->layer, M->glp ? M->glp_layer : M->layer, M->sae ? M->sae->layer : M->layer}, units;
    tl_acts acts;
    int rc = tl_acts_run(M, &p, layers, 3, fam == PF_MLP ? M->layer : -1, &acts); /* freed on failure */
    float *X = rc ? NULL : tl_family(M, &p, &acts, fam, &units);
    if (!rc) tl_acts_free(&acts);
    rc = !X || tl_auto_units(M, X, p.n_tok, units, fam, p.truth, k, c) ? -1 : 0;
    if (!rc && !c->n) rc = ms_seterr("no %s unit fires more on '%s' (%s)", PROBE_FAMILY[fam], category, cmd);
    free(X);
    tl_pool_free(&p);
    return rc;
}

/* ------------------------------------------------------------ writing */

int tl_write_labels(const char *path, const tl_pool *p, const corpus_split *s, const uint8_t *lab) {
    size_t cap = 1 << 16, n = 0;
    char *buf = xmalloc(cap);
    for (int di = 0; di < p->n_docs; di++) {
        const corpus_doc *d = &s->docs[p->doc[di]];
        json_object *o = json_object_new_object(), *spans = json_object_new_array();
        int a = p->start[di], b = p->start[di + 1];
        for (int t = a; t < b; t++) {
            if (!lab[t] || (t > a && lab[t - 1])) continue;
            int e = t;
            while (e + 1 < b && lab[e + 1]) e++;
            json_object *sp = json_object_new_array();
            json_object_array_add(sp, json_object_new_int(p->off[t]));
            json_object_array_add(sp, json_object_new_int(p->end[e]));
            json_object_array_add(spans, sp);
        }
        json_object_object_add(o, "doc", json_object_new_int(p->doc[di]));
        json_object_object_add(o, "category", json_object_new_string(d->category ? d->category : ""));
        if (p->has_truth) json_object_object_add(o, "truth", json_object_new_int(p->truth[a]));
        json_object_object_add(o, "n_tokens", json_object_new_int(b - a));
        json_object_object_add(o, "spans", spans);
        const char *line = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        size_t m = strlen(line);
        if (n + m + 2 > cap) cap = 2 * (n + m + 2), buf = xrealloc(buf, cap);
        memcpy(buf + n, line, m), n += m, buf[n++] = '\n';
        json_object_put(o);
    }
    int rc = ms_write_file_atomic(path, buf, n); /* compresses a .lz4 path */
    free(buf);
    return rc;
}
