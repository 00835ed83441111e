/* tconcept.c — a concept's classifier for interactive use: training on two
 * small pools, scoring texts, the ranked held-out tokens and the export (see
 * tconcept.h). */
#include "tconcept.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Labels of a pool and its residual rows at M->layer, from one forward pass
 * capturing whatever the units need as well; *resid is malloc'd. */
static int pool_rows(const tl_models *M, const tl_pool *p, const corpus_split *s, const tl_concept *c,
                     const tc_opts *o, uint8_t *lab, float **resid) {
    int layers[3], mlp, nl = tl_concept_layers(M, c, layers, &mlp);
    if (nl < 0) return -1;
    bool have = false;
    for (int k = 0; k < nl; k++) have |= layers[k] == M->layer;
    if (!have) layers[nl++] = M->layer; /* units read at most the three layers resid, GLP, SAE */
    tl_acts a;
    if (tl_acts_run(M, p, layers, nl, mlp, &a)) return -1;
    float *V = tl_concept_values_acts(M, p, c, &a);
    if (V) tl_label(c, V, p, s, o->expand, o->window, lab);
    *resid = NULL;
    for (int k = 0; k < a.n_layers && V; k++)
        if (a.layers[k] == M->layer) *resid = a.resid[k], a.resid[k] = NULL;
    tl_acts_free(&a);
    free(V);
    return *resid ? 0 : -1;
}

static int count(const uint8_t *y, int n) {
    int k = 0;
    for (int i = 0; i < n; i++) k += y[i] != 0;
    return k;
}

static const float *g_rank_score; /* qsort has no context argument */
static int by_score(const void *a, const void *b) {
    int i = *(const int *)a, j = *(const int *)b;
    float x = g_rank_score[i], y = g_rank_score[j];
    return x < y ? 1 : x > y ? -1 : (i > j) - (i < j);
}

static void say(void (*progress)(void *, const char *), void *ctx, const char *fmt, const char *name, int n) {
    if (!progress) return;
    char line[200];
    snprintf(line, sizeof line, fmt, name, n);
    progress(ctx, line);
}

/* Fits classifier k on the train rows and scores the held-out ones. */
static int fit_one(tc_model *m, const tl_models *M, int k, const float *resid_tr, const float *resid_te) {
    const tl_pool *tr = &m->pool[TC_TRAIN], *te = &m->pool[TC_TEST];
    int d = k == TL_CLF_RESID ? M->m->c.d_model : (2 * m->o.radius + 1) * M->m->c.d_model;
    float *X = k == TL_CLF_RESID ? (float *)resid_tr : tl_embed_features(M->m, tr, m->o.radius);
    logreg_opts lo = logreg_defaults();
    int rc = logreg_fit(&m->clf[k], X, tr->n_tok, d, m->lab[TC_TRAIN], &lo, NULL);
    if (X != resid_tr) free(X);
    if (rc) return -1;
    float *Xt = k == TL_CLF_RESID ? (float *)resid_te : tl_embed_features(M->m, te, m->o.radius);
    m->score[k] = xmalloc(sizeof(float) * (size_t)te->n_tok + 1);
    logreg_score(&m->clf[k], Xt, te->n_tok, m->score[k]);
    if (Xt != resid_te) free(Xt);
    uint8_t *pred = xmalloc((size_t)te->n_tok + 1);
    long ok = 0;
    for (int t = 0; t < te->n_tok; t++) pred[t] = m->score[k][t] > 0.5f, ok += pred[t] == te->truth[t];
    double pr, re;
    m->auc[k] = probe_auc(m->score[k], m->lab[TC_TEST], te->n_tok);
    tl_prf(pred, m->lab[TC_TEST], te->n_tok, &pr, &re, &m->f1[k]);
    m->acc_truth[k] = te->has_truth ? (double)ok / te->n_tok : NAN;
    free(pred);
    return 0;
}

int tc_train(tc_model *m, const tl_models *M, const corpus_split *s_train, const corpus_split *s_test,
             const tl_concept *c, const tc_opts *o, void (*progress)(void *, const char *), void *ctx) {
    memset(m, 0, sizeof *m);
    double t0 = ms_now();
    m->c = *c, m->o = *o, m->layer = M->layer, m->lab_f1_truth = NAN;
    snprintf(m->category, sizeof m->category, "%s", o->category ? o->category : "");
    m->o.category = NULL;
    const char *cat = m->category[0] ? m->category : NULL;
    int np = cat ? o->docs : 0, nn = cat ? o->docs : 2 * o->docs, rc = 0;
    float *resid[2] = {NULL, NULL};
    const corpus_split *split[2] = {s_train, s_test};
    static const char *const what[2] = {"labelling the train sample (%s, %d tokens)",
                                        "labelling the held-out sample (%s, %d tokens)"};
    for (int i = 0; i < 2 && !rc; i++) {
        rc = tl_pool_make(&m->pool[i], split[i], M->m->tok, cat, np, nn, o->seed + (i ? 1 : 2), "concept");
        if (rc) break;
        say(progress, ctx, what[i], cat ? cat : "any category", m->pool[i].n_tok);
        m->lab[i] = xmalloc((size_t)m->pool[i].n_tok + 1);
        rc = pool_rows(M, &m->pool[i], split[i], c, &m->o, m->lab[i], &resid[i]);
        if (!rc) m->n_pos[i] = count(m->lab[i], m->pool[i].n_tok);
    }
    int n = m->pool[TC_TRAIN].n_tok;
    if (!rc && (m->n_pos[TC_TRAIN] == 0 || m->n_pos[TC_TRAIN] == n))
        rc = ms_seterr("the concept labels %s of the %d train-sample tokens positive: nothing to learn (raise --docs "
                       "or change a threshold) (concept)", m->n_pos[TC_TRAIN] ? "all" : "none", n);
    if (!rc) say(progress, ctx, "fitting the classifiers (%s, %d train tokens)", "resid and embed", n);
    for (int k = 0; k < TL_CLF_N && !rc; k++) rc = fit_one(m, M, k, resid[TC_TRAIN], resid[TC_TEST]);
    free(resid[0]), free(resid[1]);
    if (rc) return tc_free(m), -1;
    const tl_pool *te = &m->pool[TC_TEST];
    if (te->has_truth) {
        double pr, re;
        tl_prf(m->lab[TC_TEST], te->truth, te->n_tok, &pr, &re, &m->lab_f1_truth);
    }
    m->rank = xmalloc(sizeof(int) * (size_t)te->n_tok + 1);
    for (int t = 0; t < te->n_tok; t++) m->rank[t] = t;
    g_rank_score = m->score[m->o.features];
    qsort(m->rank, (size_t)te->n_tok, sizeof(int), by_score);
    m->seconds = ms_now() - t0;
    return 0;
}

void tc_free(tc_model *m) {
    for (int k = 0; k < TL_CLF_N; k++) logreg_free(&m->clf[k]), free(m->score[k]);
    for (int i = 0; i < 2; i++) tl_pool_free(&m->pool[i]), free(m->lab[i]);
    free(m->rank);
    memset(m, 0, sizeof *m);
}

int tc_score_pool(const tc_model *m, const tl_models *M, const tl_pool *p, const corpus_split *s, uint8_t *lab,
                  float *score) {
    tl_models L = *M;
    L.layer = m->layer;
    float *resid;
    if (pool_rows(&L, p, s, &m->c, &m->o, lab, &resid)) return -1;
    float *X = m->o.features == TL_CLF_RESID ? resid : tl_embed_features(L.m, p, m->o.radius);
    logreg_score(&m->clf[m->o.features], X, p->n_tok, score);
    if (X != resid) free(X);
    free(resid);
    return 0;
}

int tc_n_hits(const tc_model *m) { return m->rank ? m->pool[TC_TEST].n_tok : 0; }

int tc_hit_at(const tc_model *m, int i, int before, int after, tc_hit *h) {
    if (i < 0 || i >= tc_n_hits(m)) return -1;
    const tl_pool *p = &m->pool[TC_TEST];
    int t = m->rank[i], di = 0;
    while (p->start[di + 1] <= t) di++;
    h->t = t, h->di = di;
    h->w0 = t - before > p->start[di] ? t - before : p->start[di];
    h->w1 = t + after + 1 < p->start[di + 1] ? t + after + 1 : p->start[di + 1];
    return 0;
}

void tc_clf_name(const tc_model *m, int k, char *buf, size_t cap) {
    if (k == TL_CLF_RESID) snprintf(buf, cap, "resid@%d", m->layer);
    else snprintf(buf, cap, "embed window %d", 2 * m->o.radius + 1);
}

void tc_expand_str(int expand, int window, char *buf, size_t cap) {
    if (expand == TL_EXPAND_WORD) snprintf(buf, cap, "word");
    else if (expand == TL_EXPAND_WINDOW) snprintf(buf, cap, "window:%d", window);
    else snprintf(buf, cap, "none");
}

/* ------------------------------------------------------------ export */

typedef struct {
    char kv[24][2][256];
    const char *ptr[48];
    int n;
} meta_list;

static void meta_add(meta_list *l, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void meta_add(meta_list *l, const char *key, const char *fmt, ...) {
    if (l->n == 24) return;
    va_list ap;
    va_start(ap, fmt);
    snprintf(l->kv[l->n][0], sizeof l->kv[0][0], "%s", key);
    vsnprintf(l->kv[l->n][1], sizeof l->kv[0][1], fmt, ap);
    va_end(ap);
    l->ptr[2 * l->n] = l->kv[l->n][0], l->ptr[2 * l->n + 1] = l->kv[l->n][1];
    l->n++;
}

static void concept_meta(const tc_model *m, meta_list *l) {
    char units[1024], fam[128] = "", thr[256] = "", ex[32];
    tl_concept_str(&m->c, units, sizeof units);
    for (int i = 0, a = 0, b = 0; i < m->c.n; i++) {
        a += snprintf(fam + a, sizeof fam - (size_t)a, "%s%s", i ? "," : "", PROBE_FAMILY[m->c.u[i].fam]);
        b += snprintf(thr + b, sizeof thr - (size_t)b, "%s%g", i ? "," : "", m->c.u[i].thr);
        if (a >= (int)sizeof fam || b >= (int)sizeof thr) break;
    }
    tc_expand_str(m->o.expand, m->o.window, ex, sizeof ex);
    meta_add(l, "concept", "%s", units);
    meta_add(l, "unit_families", "%s", fam);
    meta_add(l, "unit_thresholds", "%s", thr);
    meta_add(l, "label_rule", "a token is positive when any unit's value exceeds its threshold");
    meta_add(l, "expand", "%s", ex);
    meta_add(l, "category", "%s", m->category);
    meta_add(l, "train_tokens", "%d", m->pool[TC_TRAIN].n_tok);
    meta_add(l, "train_positives", "%d", m->n_pos[TC_TRAIN]);
    meta_add(l, "heldout_tokens", "%d", m->pool[TC_TEST].n_tok);
    meta_add(l, "heldout_positives", "%d", m->n_pos[TC_TEST]);
}

int tc_export(const tc_model *m, const char *dir, const corpus_split *s_train, const corpus_split *s_test,
              const char *model_path, const char *glp_path, const char *sae_path) {
    if (!ms_is_dir(dir) && mkdir(dir, 0755)) return ms_seterr("cannot create folder: %s (%s)", strerror(errno), dir);
    int rc = 0;
    for (int k = 0; k < TL_CLF_N && !rc; k++) {
        meta_list *l = xcalloc(1, sizeof *l);
        meta_add(l, "format", "metascope-token-classifier-1");
        meta_add(l, "features", "%s", TL_CLF_NAME[k]);
        if (k == TL_CLF_RESID) meta_add(l, "layer", "%d", m->layer);
        else meta_add(l, "layer", "embed"), meta_add(l, "radius", "%d", m->o.radius);
        meta_add(l, "d_model", "%d", k == TL_CLF_RESID ? m->clf[k].d : m->clf[k].d / (2 * m->o.radius + 1));
        meta_add(l, "threshold", "0.5");
        meta_add(l, "score", "p = sigmoid(weight . ((x - mean) / sd) + bias); positive when p > threshold");
        concept_meta(m, l);
        meta_add(l, "heldout_auc", "%.6f", m->auc[k]);
        if (model_path) meta_add(l, "model", "%s", model_path);
        if (glp_path) meta_add(l, "glp", "%s", glp_path);
        if (sae_path) meta_add(l, "sae", "%s", sae_path);
        char file[64];
        snprintf(file, sizeof file, "classifier-%s.safetensors", TL_CLF_NAME[k]);
        char *path = ms_path_join(dir, file);
        rc = tl_clf_write(path, &m->clf[k], l->ptr, l->n);
        free(path), free(l);
    }
    static const char *const files[2] = {"labels-train.jsonl.lz4", "labels-test.jsonl.lz4"};
    const corpus_split *split[2] = {s_train, s_test};
    for (int i = 0; i < 2 && !rc; i++) {
        char *path = ms_path_join(dir, files[i]);
        rc = tl_write_labels(path, &m->pool[i], split[i], m->lab[i]);
        free(path);
    }
    return rc;
}
