/* probe.c — the probing run: every distinct (text, position) of the chosen
 * tasks is computed once (one forward pass per text, stopped after the
 * deepest layer read, hooks copying only the wanted rows), then per task the
 * families are built in batches (SAE codes and GLP meta-neurons over all of
 * the task's rows at once) and each is scored by probe_family. */
#include "probe.h"
#include "rng.h"
#include "util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const int PROBE_SIGMA_INDEX[PROBE_SIGMAS] = {900, 700, 500};
const char *const PROBE_FAMILY[PF_N] = {"meta", "sae", "resid", "mlp"};

int probe_parse_units(const char *s, unsigned *mask, const char *cmd) {
    *mask = 0;
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, ",");
        int f = -1;
        for (int k = 0; k < PF_N; k++)
            if (strlen(PROBE_FAMILY[k]) == n && !strncmp(p, PROBE_FAMILY[k], n)) f = k;
        if (f < 0) return ms_seterr("unknown unit family '%.*s': meta, sae, resid or mlp (%s)", (int)n, p, cmd);
        *mask |= 1u << f;
        p += n + (p[n] == ',');
    }
    if (!*mask) return ms_seterr("no unit family given: meta, sae, resid or mlp (%s)", cmd);
    return 0;
}

/* ------------------------------------------------------------ rows */

/* A distinct (text, position): space PROBE_TEXT uses doc as a global text id. */
typedef struct {
    int space, doc, pos;
} row_key;

static int key_cmp(const void *a, const void *b) {
    const row_key *x = a, *y = b;
    if (x->space != y->space) return x->space - y->space;
    if (x->doc != y->doc) return x->doc < y->doc ? -1 : 1;
    return x->pos - y->pos;
}

typedef struct {
    const probe_task *t;
    int n;            /* examples kept */
    int *ex;          /* indices into t->ex */
    int *row;         /* the row of each */
    int text_base;    /* global id of t->texts[0] */
} task_sel;

typedef struct {
    row_key *keys;
    int n;
    const char **texts; /* global text table */
    int n_texts;
    int slots[3], n_slots; /* distinct residual layers read */
    float *resid[3];   /* [n, d] per slot */
    float *mlp;        /* [n, d_ff] at the probe layer */
} rowset;

/* The first max_per_class examples of each (side, class), in file order
 * (the files list them in random order). */
static void select_examples(const probe_task *t, int max, task_sel *s) {
    int seen[4] = {0, 0, 0, 0};
    s->t = t, s->n = 0;
    s->ex = xmalloc(sizeof(int) * (size_t)(t->n + 1));
    for (int i = 0; i < t->n; i++) {
        int c = 2 * t->ex[i].test + t->ex[i].y;
        if (!max || seen[c] < max) s->ex[s->n++] = i, seen[c]++;
    }
    s->row = xmalloc(sizeof(int) * (size_t)(s->n + 1));
}

static row_key ex_key(const task_sel *s, int k) {
    const probe_ex *e = &s->t->ex[s->ex[k]];
    return (row_key){e->space, e->space == PROBE_TEXT ? s->text_base + e->doc : e->doc, e->pos};
}

/* Distinct rows of all selected examples, sorted; each example's row index. */
static void build_rows(task_sel *sel, int ns, rowset *rs) {
    int total = 0;
    for (int i = 0; i < ns; i++) total += sel[i].n;
    rs->keys = xmalloc(sizeof(row_key) * (size_t)(total + 1));
    for (int i = 0, m = 0; i < ns; i++)
        for (int k = 0; k < sel[i].n; k++) rs->keys[m++] = ex_key(&sel[i], k);
    qsort(rs->keys, (size_t)total, sizeof(row_key), key_cmp);
    int u = 0;
    for (int i = 0; i < total; i++)
        if (!u || key_cmp(&rs->keys[u - 1], &rs->keys[i])) rs->keys[u++] = rs->keys[i];
    rs->n = u;
    for (int i = 0; i < ns; i++)
        for (int k = 0; k < sel[i].n; k++) {
            row_key key = ex_key(&sel[i], k);
            row_key *hit = bsearch(&key, rs->keys, (size_t)u, sizeof(row_key), key_cmp);
            sel[i].row[k] = (int)(hit - rs->keys);
        }
}

/* ------------------------------------------------------------ the forward runs */

typedef struct {
    int seq, row; /* sequence position, destination row */
} want;

typedef struct {
    const want *w;
    const int *nw;
    float *dst;
} grab;

static void grab_fn(void *ctx, int layer, int pos0, int n, float *x, int dim) {
    grab *g = ctx;
    for (int k = 0; k < *g->nw; k++) {
        int p = g->w[k].seq;
        if (p >= pos0 && p < pos0 + n)
            memcpy(g->dst + (size_t)g->w[k].row * dim, x + (size_t)(p - pos0) * dim, sizeof(float) * (size_t)dim);
    }
}

static const corpus_doc *row_doc(const probe_opts *o, const row_key *k) {
    if (k->space == PROBE_TRAIN) return &o->split[0]->docs[k->doc];
    int nv = o->split[1]->n;
    return k->doc < nv ? &o->split[1]->docs[k->doc] : &o->split[2]->docs[k->doc - nv];
}

/* Token ids of one row's text: BOS (when used) then at most the rest of
 * PROBE_MAX_TOKENS. */
static int row_ids(const probe_opts *o, const rowset *rs, const row_key *k, int *buf) {
    const char *text;
    size_t len;
    if (k->space == PROBE_TEXT) text = rs->texts[k->doc], len = strlen(text);
    else {
        const corpus_doc *d = row_doc(o, k);
        text = d->text, len = d->len;
    }
    return tok_encode_into(o->m->tok, o->bos, text, len, buf, PROBE_MAX_TOKENS);
}

/* Rows [r0, r1) share one text: run it once. */
static int run_text(const probe_opts *o, rowset *rs, int r0, int r1, int *ids, want *w, int *nw) {
    int n = row_ids(o, rs, &rs->keys[r0], ids), b = o->bos >= 0;
    if (n < 0) return -1;
    if (n == 0) return ms_seterr("an empty text (probe)");
    *nw = 0;
    for (int r = r0; r < r1; r++) {
        int p = rs->keys[r].pos < 0 ? n - 1 : rs->keys[r].pos + b;
        if (p >= n) return ms_seterr("token position %d beyond the text's %d tokens; rebuild the tasks for this "
                                     "tokenizer (probe)", rs->keys[r].pos, n - b);
        w[(*nw)++] = (want){p, r};
    }
    tf_state_reset(o->st);
    int top = o->layer;
    for (int s = 0; s < rs->n_slots; s++) top = rs->slots[s] > top ? rs->slots[s] : top;
    o->st->stop_layer = top + 1; /* later blocks cannot change what is read */
    int rc = tf_forward(o->m, o->st, ids, n, LOGITS_NONE, NULL);
    o->st->stop_layer = 0;
    return rc;
}

static int slot_of(const rowset *rs, int layer) {
    for (int s = 0; s < rs->n_slots; s++)
        if (rs->slots[s] == layer) return s;
    return -1;
}

static void add_slot(rowset *rs, int layer) {
    if (slot_of(rs, layer) < 0) rs->slots[rs->n_slots++] = layer;
}

static int add_hooks(const probe_opts *o, rowset *rs, grab *g, want *w, int *nw) {
    int d = o->m->c.d_model;
    for (int s = 0; s <= rs->n_slots; s++) {
        bool mlp = s == rs->n_slots;
        float *dst = xmalloc(sizeof(float) * (size_t)rs->n * (mlp ? o->m->c.d_ff : d));
        if (mlp) rs->mlp = dst;
        else rs->resid[s] = dst;
        g[s] = (grab){w, nw, dst};
        tf_hook h = {mlp ? HOOK_MLP : HOOK_RESID, mlp ? o->layer : rs->slots[s], grab_fn, &g[s]};
        if (tf_add_hook(o->st, h)) return -1;
    }
    return 0;
}

static void progress(const probe_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(const probe_opts *o, const char *fmt, ...) {
    if (!o->progress) return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    o->progress(o->progress_ctx, line);
}

static int run_rows(const probe_opts *o, rowset *rs) {
    rs->n_slots = 0;
    add_slot(rs, o->layer);
    if (o->glp) add_slot(rs, o->glp_layer);
    if (o->sae) add_slot(rs, o->sae->layer);
    int saved = o->st->nhooks, nw = 0, rc = 0;
    want *w = xmalloc(sizeof(want) * (size_t)(rs->n + 1));
    int *ids = xmalloc(sizeof(int) * PROBE_MAX_TOKENS);
    grab g[4];
    rc = add_hooks(o, rs, g, w, &nw);
    double t0 = ms_now(), last = t0;
    for (int r0 = 0, r1; r0 < rs->n && !rc; r0 = r1) {
        for (r1 = r0 + 1; r1 < rs->n && rs->keys[r1].space == rs->keys[r0].space && rs->keys[r1].doc == rs->keys[r0].doc;)
            r1++;
        if (o->cancel && *o->cancel) rc = ms_seterr("cancelled (probe)");
        else rc = run_text(o, rs, r0, r1, ids, w, &nw);
        if (ms_now() - last > 5) last = ms_now(), progress(o, "probe: features %d/%d rows", r1, rs->n);
    }
    progress(o, "probe: %d rows in %.1f s", rs->n, ms_now() - t0);
    o->st->nhooks = saved;
    free(w), free(ids);
    return rc;
}

static void rows_free(rowset *rs) {
    free(rs->keys), free(rs->mlp), free(rs->texts);
    for (int s = 0; s < 3; s++) free(rs->resid[s]);
}

/* ------------------------------------------------------------ families */

/* Gathers the task's rows of src[*, w] into X[n, w]. */
static float *gather(const float *src, int w, const int *row, int n) {
    float *X = xmalloc(sizeof(float) * (size_t)n * w + 1);
    for (int k = 0; k < n; k++) memcpy(X + (size_t)k * w, src + (size_t)row[k] * w, sizeof(float) * (size_t)w);
    return X;
}

static uint64_t row_seed(const rowset *rs, const row_key *k) {
    uint64_t h = 1469598103934665603ull;
    if (k->space == PROBE_TEXT)
        for (const char *s = rs->texts[k->doc]; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    else h ^= (uint64_t)k->space << 40 ^ (uint64_t)k->doc;
    return h * 31 + (uint64_t)(k->pos + 1) + 0x6d657461ull; /* "meta" */
}

/* Meta-neurons of every block at every sigma: X[n, S * B * d_mlp], unit
 * (s, b, i) at s*B*d_mlp + b*d_mlp + i, with noise fixed per row. */
static float *meta_features(const probe_opts *o, const rowset *rs, const task_sel *s, int *units) {
    const glp_config *c = &o->glp->c;
    int n = s->n, d = c->d_input, B = c->n_layers, dm = c->d_mlp;
    float *x = gather(rs->resid[slot_of(rs, o->glp_layer)], d, s->row, n);
    float *eps = xmalloc(sizeof(float) * (size_t)n * d), *xin = xmalloc(sizeof(float) * (size_t)n * d);
    float *out = xmalloc(sizeof(float) * (size_t)n * d), *tau = xmalloc(sizeof(float) * (size_t)n);
    float *meta = xmalloc(sizeof(float) * (size_t)B * n * dm);
    float *X = xmalloc(sizeof(float) * (size_t)n * PROBE_SIGMAS * B * dm);
    glp_normalize(o->glp, x, x, n);
    for (int k = 0; k < n; k++) {
        rng_t r;
        rng_seed(&r, row_seed(rs, &rs->keys[s->row[k]]));
        for (int j = 0; j < d; j++) eps[(size_t)k * d + j] = rng_normal(&r);
    }
    *units = PROBE_SIGMAS * B * dm;
    for (int si = 0; si < PROBE_SIGMAS; si++) {
        float sg = glp_grid(PROBE_SIGMA_INDEX[si], 1000);
        for (size_t j = 0; j < (size_t)n * d; j++) xin[j] = (1 - sg) * x[j] + sg * eps[j];
        for (int k = 0; k < n; k++) tau[k] = 1000.0f * sg;
        if (glp_forward(o->glp, o->glp_work, out, xin, tau, n, -1, meta)) {
            free(X), X = NULL;
            break;
        }
        for (int k = 0; k < n; k++)
            for (int b = 0; b < B; b++)
                memcpy(X + (size_t)k * *units + (size_t)(si * B + b) * dm, meta + ((size_t)b * n + k) * dm,
                       sizeof(float) * (size_t)dm);
    }
    free(x), free(eps), free(xin), free(out), free(tau), free(meta);
    return X;
}

static float *family_features(const probe_opts *o, const rowset *rs, const task_sel *s, int f, int *units) {
    int d = o->m->c.d_model;
    if (f == PF_RESID) return *units = d, gather(rs->resid[slot_of(rs, o->layer)], d, s->row, s->n);
    if (f == PF_MLP) return *units = o->m->c.d_ff, gather(rs->mlp, o->m->c.d_ff, s->row, s->n);
    if (f == PF_META) return meta_features(o, rs, s, units);
    float *h = gather(rs->resid[slot_of(rs, o->sae->layer)], d, s->row, s->n);
    *units = o->sae->c.n_latents;
    float *z = xmalloc(sizeof(float) * (size_t)s->n * *units + 1);
    if (sae_encode_dense(o->sae, o->sae_work, h, s->n, z)) free(z), z = NULL;
    free(h);
    return z;
}

/* ------------------------------------------------------------ scoring */

/* The best of the PROBE_KEEP top-|mean difference| units by CV AUC. */
static void score_family(const float *X, int n, int units, const uint8_t *y, const uint8_t *test, uint64_t seed,
                         probe_win *w) {
    uint8_t *train = xmalloc((size_t)n), *ytr = xmalloc((size_t)n), *yte = xmalloc((size_t)n);
    int ntr = 0, nte = 0;
    for (int k = 0; k < n; k++) {
        train[k] = !test[k];
        if (test[k]) yte[nte++] = y[k];
        else ytr[ntr++] = y[k];
    }
    double *diff = xmalloc(sizeof(double) * (size_t)units);
    probe_mean_diff(X, n, units, y, train, diff);
    int *idx = xmalloc(sizeof(int) * (size_t)units), keep = probe_top_units(diff, units, PROBE_KEEP, idx);
    int *fold = xmalloc(sizeof(int) * (size_t)(ntr + 1));
    probe_folds(ytr, ntr, PROBE_FOLDS, seed, fold);
    float *vtr = xmalloc(sizeof(float) * (size_t)(ntr + 1)), *vte = xmalloc(sizeof(float) * (size_t)(nte + 1));
    w->cv_auc = -1, w->unit = -1, w->test_auc = NAN;
    for (int j = 0; j < keep; j++) {
        for (int k = 0, a = 0, b = 0; k < n; k++) {
            float v = X[(size_t)k * units + idx[j]];
            if (test[k]) vte[b++] = v;
            else vtr[a++] = v;
        }
        double cv = probe_cv_auc(vtr, ytr, fold, ntr, PROBE_FOLDS);
        if (!(cv > w->cv_auc)) continue; /* ties keep the larger mean difference */
        double a = probe_auc(vte, yte, nte);
        w->cv_auc = cv, w->unit = idx[j], w->test_auc = diff[idx[j]] < 0 ? 1 - a : a;
    }
    if (w->cv_auc < 0) w->cv_auc = NAN;
    free(train), free(ytr), free(yte), free(diff), free(idx), free(fold), free(vtr), free(vte);
}

static void name_win(const probe_opts *o, int f, probe_win *w) {
    w->block = w->sigma_i = -1;
    if (w->unit < 0) {
        snprintf(w->name, sizeof w->name, "-");
        w->jump[0] = 0;
        return;
    }
    if (f == PF_RESID) snprintf(w->name, sizeof w->name, "resid:%d", w->unit);
    else if (f == PF_MLP) snprintf(w->name, sizeof w->name, "mlp:%d:%d", o->layer, w->unit);
    else if (f == PF_SAE) snprintf(w->name, sizeof w->name, "sae:%d", w->unit);
    else {
        int dm = o->glp->c.d_mlp, B = o->glp->c.n_layers;
        w->sigma_i = w->unit / (B * dm), w->block = w->unit / dm % B;
        snprintf(w->jump, sizeof w->jump, "meta:%d:%d", w->block, w->unit % dm);
        snprintf(w->name, sizeof w->name, "meta:%d:%d@%.1f", w->block, w->unit % dm,
                 glp_grid(PROBE_SIGMA_INDEX[w->sigma_i], 1000));
        return;
    }
    memcpy(w->jump, w->name, sizeof w->jump < sizeof w->name ? sizeof w->jump : sizeof w->name);
    w->jump[sizeof w->jump - 1] = 0;
}

static int eval_task(const probe_opts *o, const rowset *rs, const task_sel *s, probe_row *row) {
    snprintf(row->name, sizeof row->name, "%s", s->t->name);
    snprintf(row->kind, sizeof row->kind, "%s", s->t->kind);
    uint8_t *y = xmalloc((size_t)s->n + 1), *test = xmalloc((size_t)s->n + 1);
    memset(row->n, 0, sizeof row->n);
    for (int k = 0; k < s->n; k++) {
        const probe_ex *e = &s->t->ex[s->ex[k]];
        y[k] = e->y, test[k] = e->test;
        row->n[2 * e->test + e->y]++;
    }
    int rc = 0;
    for (int f = 0; f < PF_N && !rc; f++) {
        row->win[f] = (probe_win){.unit = -1, .cv_auc = NAN, .test_auc = NAN};
        if (!(o->families & (1u << f))) continue;
        int units;
        float *X = family_features(o, rs, s, f, &units);
        if (!X) {
            rc = ms_seterr("%s (probe)", ms_geterr());
            break;
        }
        score_family(X, s->n, units, y, test, o->seed, &row->win[f]); /* same folds for every family */
        name_win(o, f, &row->win[f]);
        free(X);
    }
    free(y), free(test);
    return rc;
}

static void summarize(const probe_opts *o, probe_result *r) {
    double *x = xmalloc(sizeof(double) * (size_t)(r->n + 1));
    for (int f = 0; f < PF_N; f++) {
        int m = 0;
        for (int i = 0; i < r->n; i++)
            if (isfinite(r->rows[i].win[f].test_auc)) x[m++] = r->rows[i].win[f].test_auc;
        double s = 0;
        for (int i = 0; i < m; i++) s += x[i];
        r->mean[f] = m ? s / m : NAN;
        probe_bootstrap(x, m, PROBE_BOOT, o->seed, &r->lo[f], &r->hi[f]);
    }
    free(x);
}

/* ------------------------------------------------------------ the run */

static int check_opts(const probe_opts *o) {
    if ((o->families & (1u << PF_META)) && !o->glp) return ms_seterr("no GLP loaded for the meta family (probe)");
    if ((o->families & (1u << PF_SAE)) && !o->sae) return ms_seterr("no SAE loaded for the sae family (probe)");
    if (!o->m->tok) return ms_seterr("the model has no tokenizer (probe)");
    return 0;
}

/* Selections of the tasks, their texts numbered globally. */
static task_sel *make_sel(const probe_opts *o, const probe_taskset *ts, const int *sel, int nsel, rowset *rs) {
    task_sel *s = xcalloc((size_t)nsel + 1, sizeof *s);
    for (int i = 0; i < nsel; i++) {
        const probe_task *t = &ts->t[sel[i]];
        select_examples(t, o->max_per_class, &s[i]);
        s[i].text_base = rs->n_texts;
        rs->texts = xrealloc(rs->texts, sizeof(char *) * (size_t)(rs->n_texts + t->n_texts + 1));
        for (int k = 0; k < t->n_texts; k++) rs->texts[rs->n_texts++] = t->texts[k];
    }
    return s;
}

int probe_run(const probe_opts *o, const probe_taskset *ts, const int *sel, int nsel, probe_result *r) {
    memset(r, 0, sizeof *r);
    if (check_opts(o)) return -1;
    double t0 = ms_now();
    rowset rs = {0};
    task_sel *s = make_sel(o, ts, sel, nsel, &rs);
    build_rows(s, nsel, &rs);
    int rc = run_rows(o, &rs);
    r->rows = xcalloc((size_t)nsel + 1, sizeof(probe_row));
    for (int i = 0; i < nsel && !rc; i++) {
        if (o->cancel && *o->cancel) rc = ms_seterr("cancelled (probe)");
        else rc = eval_task(o, &rs, &s[i], &r->rows[r->n]);
        if (!rc) progress(o, "probe: %d/%d %s", ++r->n, nsel, s[i].t->name);
    }
    for (int i = 0; i < nsel; i++) free(s[i].ex), free(s[i].row);
    free(s);
    rows_free(&rs);
    r->families = o->families, r->layer = o->layer;
    r->glp_layer = o->glp ? o->glp_layer : -1, r->sae_layer = o->sae ? o->sae->layer : -1;
    if (rc) return probe_result_free(r), -1;
    summarize(o, r);
    r->seconds = ms_now() - t0;
    return 0;
}

void probe_result_free(probe_result *r) {
    free(r->rows);
    memset(r, 0, sizeof *r);
}
