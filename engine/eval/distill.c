/* distill.c — cheap classifiers from concept labels, and the labeller
 * comparison (see distill.h). */
#include "distill.h"
#include "safetensors.h"
#include "sbuf.h"
#include "util.h"
#include "wmat.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const TL_CLF_NAME[TL_CLF_N] = {"resid", "embed"};

float *tl_embed_features(const tf_model *m, const tl_pool *p, int radius) {
    int d = m->c.d_model, w = (2 * radius + 1) * d;
    float *F = xcalloc((size_t)p->n_tok * w + 1, sizeof(float));
    for (int di = 0; di < p->n_docs; di++)
        for (int t = p->start[di]; t < p->start[di + 1]; t++)
            for (int k = -radius; k <= radius; k++) {
                int u = t + k;
                if (u < p->start[di] || u >= p->start[di + 1]) continue;
                wmat_row(&m->tok_embed, p->ids[u], F + (size_t)t * w + (size_t)(k + radius) * d); /* any dtype */
            }
    return F;
}

/* Residual rows at M->layer (a forward pass stopped there). */
static float *resid_features(const tl_models *M, const tl_pool *p) {
    tl_acts a;
    if (tl_acts_run(M, p, &M->layer, 1, -1, &a)) return NULL;
    float *X = a.resid[0];
    a.resid[0] = NULL, a.n_layers = 0;
    tl_acts_free(&a);
    return X;
}

static float *clf_features(const tl_models *M, const tl_pool *p, int which, int radius) {
    return which == TL_CLF_RESID ? resid_features(M, p) : tl_embed_features(M->m, p, radius);
}

static int label_pool(const tl_models *M, const tl_pool *p, const corpus_split *s, const tl_concept *c,
                      const tl_distill_opts *o, uint8_t *lab) {
    float *V = tl_concept_values(M, p, c);
    if (!V) return -1;
    tl_label(c, V, p, s, o->expand, o->window, lab);
    free(V);
    return 0;
}

static void eval_clf(const float *prob, const uint8_t *lab, const uint8_t *truth, int n, tl_clf_stats *st) {
    uint8_t *pred = xmalloc((size_t)n + 1);
    long ok = 0;
    for (int i = 0; i < n; i++) pred[i] = prob[i] > 0.5f, ok += pred[i] == truth[i];
    double p, r;
    st->auc_lab = probe_auc(prob, lab, n);
    tl_prf(pred, lab, n, &p, &r, &st->f1_lab);
    tl_prf(pred, truth, n, &p, &r, &st->f1_truth);
    st->acc_truth = n ? (double)ok / n : NAN;
    free(pred);
}

int tl_distill(const tl_models *M, const tl_pool *train, const corpus_split *s_train, const tl_pool *test,
               const corpus_split *s_test, const tl_concept *c, const tl_distill_opts *o, tl_distill_result *r,
               logreg *out) {
    memset(r, 0, sizeof *r);
    int n = train->n_tok, m = test->n_tok, rc = 0;
    uint8_t *ytr = xmalloc((size_t)n + 1), *yte = xmalloc((size_t)m + 1);
    if (label_pool(M, train, s_train, c, o, ytr)) return free(ytr), free(yte), -1;
    double t0 = ms_now();
    rc = label_pool(M, test, s_test, c, o, yte); /* the labeller's cost, timed */
    r->label_us_per_token = (ms_now() - t0) * 1e6 / m;
    r->train_tok = n, r->test_tok = m;
    for (int i = 0; i < n; i++) r->train_pos += ytr[i];
    for (int i = 0; i < m; i++) r->test_pos += yte[i];
    if (!rc && test->has_truth) {
        long ok = 0, pos = 0;
        for (int i = 0; i < m; i++) ok += yte[i] == test->truth[i], pos += test->truth[i];
        tl_prf(yte, test->truth, m, &r->lab_prec, &r->lab_rec, &r->lab_f1);
        r->lab_acc = (double)ok / m;
        r->base_acc = (double)(pos > m - pos ? pos : m - pos) / m;
    }
    if (!rc && (r->train_pos == 0 || r->train_pos == n))
        rc = ms_seterr("the concept labels %s of the %d train tokens positive: nothing to distill (distill)",
                       r->train_pos ? "all" : "none", n);
    float *prob = xmalloc(sizeof(float) * (size_t)m + 1);
    for (int k = 0; k < TL_CLF_N && !rc; k++) {
        logreg lr = {0};
        float *X = clf_features(M, train, k, o->radius);
        int d = k == TL_CLF_RESID ? M->m->c.d_model : (2 * o->radius + 1) * M->m->c.d_model;
        rc = !X || logreg_fit(&lr, X, n, d, ytr, &o->lr, NULL) ? -1 : 0;
        free(X);
        if (rc) break;
        double t1 = ms_now();
        float *Xt = clf_features(M, test, k, o->radius);
        if (Xt) logreg_score(&lr, Xt, m, prob);
        r->clf[k].us_per_token = (ms_now() - t1) * 1e6 / m;
        if (!Xt) rc = -1;
        else eval_clf(prob, yte, test->has_truth ? test->truth : yte, m, &r->clf[k]);
        free(Xt);
        if (!test->has_truth) r->clf[k].acc_truth = r->clf[k].f1_truth = NAN;
        if (out && !rc) out[k] = lr;
        else logreg_free(&lr);
    }
    free(ytr), free(yte), free(prob);
    return rc;
}

/* ------------------------------------------------------------ weights */

int tl_clf_write(const char *path, const logreg *m, const char *const *meta, int nmeta) {
    st_wtensor t[4] = {{"weight", ST_F32, 1, {m->d}, m->w}, {"mean", ST_F32, 1, {m->d}, m->mu},
                       {"sd", ST_F32, 1, {m->d}, m->sd}, {"bias", ST_F32, 1, {1}, &m->b}};
    return st_write(path, t, 4, meta, nmeta);
}

int tl_clf_read(const char *path, logreg *m) {
    st_file f;
    memset(m, 0, sizeof *m);
    if (st_open(&f, path)) return -1;
    const st_tensor *w = st_find(&f, "weight");
    int rc = 0;
    if (!w || w->ndim != 1 || w->shape[0] < 1) rc = ms_seterr("no 1-D weight tensor (%s)", path);
    int64_t d = rc ? 0 : w->shape[0], one = 1;
    float *b = NULL;
    if (!rc) {
        m->d = (int)d;
        m->w = st_load_f32(&f, "weight", 1, &d), m->mu = st_load_f32(&f, "mean", 1, &d);
        m->sd = st_load_f32(&f, "sd", 1, &d), b = st_load_f32(&f, "bias", 1, &one);
        if (!m->w || !m->mu || !m->sd || !b) rc = -1;
    }
    if (b) m->b = *b;
    free(b);
    st_close(&f);
    if (rc) logreg_free(m);
    return rc;
}

/* ------------------------------------------------------------ comparison */

static int compare_one(const tl_models *M, const corpus_split *s_train, const corpus_split *s_test, const char *cat,
                       unsigned families, int k, int docs, uint64_t seed, tl_cmp_row *row) {
    tl_pool tr, te;
    snprintf(row->category, sizeof row->category, "%s", cat);
    if (tl_pool_make(&tr, s_train, M->m->tok, cat, docs, docs, seed, "label-compare")) return -1;
    if (tl_pool_make(&te, s_test, M->m->tok, cat, docs, docs, seed + 1, "label-compare")) return tl_pool_free(&tr), -1;
    int layers[3] = {M->layer, M->glp ? M->glp_layer : M->layer, M->sae ? M->sae->layer : M->layer};
    tl_acts a;
    int rc = tl_acts_run(M, &tr, layers, 3, (families >> PF_MLP & 1) ? M->layer : -1, &a);
    row->test_tok = te.n_tok;
    for (int t = 0; t < te.n_tok; t++) row->test_pos += te.truth[t];
    uint8_t *lab = xmalloc((size_t)te.n_tok + 1);
    float *v = xmalloc(sizeof(float) * (size_t)te.n_tok + 1);
    for (int f = 0; f < PF_N && !rc; f++) {
        row->f1[f] = row->auc[f] = NAN;
        snprintf(row->units[f], sizeof row->units[f], "-");
        if (!(families >> f & 1)) continue;
        int units;
        float *X = tl_family(M, &tr, &a, f, &units);
        tl_concept c = {.n = 0};
        rc = !X || tl_auto_units(M, X, tr.n_tok, units, f, tr.truth, k, &c) ? -1 : 0;
        free(X);
        if (rc || !c.n) continue;
        float *V = tl_concept_values(M, &te, &c);
        if (!V) {
            rc = -1;
            break;
        }
        tl_label(&c, V, &te, s_test, TL_EXPAND_NONE, 0, lab);
        double p, r;
        tl_prf(lab, te.truth, te.n_tok, &p, &r, &row->f1[f]);
        for (int t = 0; t < te.n_tok; t++) v[t] = V[(size_t)t * c.n];
        row->auc[f] = probe_auc(v, te.truth, te.n_tok);
        tl_concept_str(&c, row->units[f], sizeof row->units[f]);
        free(V);
    }
    free(lab), free(v);
    tl_acts_free(&a);
    tl_pool_free(&tr), tl_pool_free(&te);
    return rc;
}

static void summary(const double *x, int stride, int n, uint64_t seed, double *mean, double *lo, double *hi) {
    double *v = xmalloc(sizeof(double) * (size_t)(n + 1));
    int m = 0;
    double s = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[(size_t)i * stride])) v[m++] = x[(size_t)i * stride], s += v[m - 1];
    *mean = m ? s / m : NAN;
    probe_bootstrap(v, m, PROBE_BOOT, seed, lo, hi);
    free(v);
}

int tl_compare(const tl_models *M, const corpus_split *s_train, const corpus_split *s_test, char **categories,
               int n_cat, unsigned families, int k, int docs, uint64_t seed, void (*progress)(void *, const char *),
               void *ctx, tl_cmp_result *r) {
    memset(r, 0, sizeof *r);
    if ((families >> PF_META & 1) && !M->glp) return ms_seterr("no GLP loaded for the meta family (label-compare)");
    if ((families >> PF_SAE & 1) && !M->sae) return ms_seterr("no SAE loaded for the sae family (label-compare)");
    r->rows = xcalloc((size_t)n_cat + 1, sizeof(tl_cmp_row));
    r->families = families;
    for (int i = 0; i < n_cat; i++) {
        if (M->cancel && *M->cancel) return tl_cmp_free(r), ms_seterr("cancelled (label-compare)");
        if (compare_one(M, s_train, s_test, categories[i], families, k, docs, seed, &r->rows[r->n]))
            return tl_cmp_free(r), -1;
        r->n++;
        if (progress) {
            char line[160];
            snprintf(line, sizeof line, "label-compare: %d/%d %s", i + 1, n_cat, categories[i]);
            progress(ctx, line);
        }
    }
    double *f1 = xmalloc(sizeof(double) * (size_t)(r->n + 1)), *auc = xmalloc(sizeof(double) * (size_t)(r->n + 1));
    for (int f = 0; f < PF_N; f++) {
        for (int i = 0; i < r->n; i++) f1[i] = r->rows[i].f1[f], auc[i] = r->rows[i].auc[f];
        summary(f1, 1, r->n, seed, &r->mean_f1[f], &r->lo_f1[f], &r->hi_f1[f]);
        summary(auc, 1, r->n, seed, &r->mean_auc[f], &r->lo_auc[f], &r->hi_auc[f]);
    }
    free(f1), free(auc);
    return 0;
}

void tl_cmp_free(tl_cmp_result *r) {
    free(r->rows);
    memset(r, 0, sizeof *r);
}

char *tl_cmp_text(const tl_cmp_result *r) {
    sbuf b = {0};
    sb_printf(&b, "%-22s %6s %5s", "category", "tokens", "pos");
    for (int f = 0; f < PF_N; f++)
        if (r->families >> f & 1) sb_printf(&b, "  %5s F1  AUC ", PROBE_FAMILY[f]);
    sb_printf(&b, "\n");
    for (int i = 0; i < r->n; i++) {
        const tl_cmp_row *w = &r->rows[i];
        sb_printf(&b, "%-22s %6d %5d", w->category, w->test_tok, w->test_pos);
        for (int f = 0; f < PF_N; f++)
            if (r->families >> f & 1) sb_printf(&b, "  %8.3f %5.3f", w->f1[f], w->auc[f]);
        sb_printf(&b, "\n");
    }
    sb_printf(&b, "%-35s", "mean [95% bootstrap over categories]");
    sb_printf(&b, "\n");
    for (int f = 0; f < PF_N; f++)
        if (r->families >> f & 1)
            sb_printf(&b, "  %-5s F1 %.3f [%.3f, %.3f]  AUC %.3f [%.3f, %.3f]\n", PROBE_FAMILY[f], r->mean_f1[f],
                      r->lo_f1[f], r->hi_f1[f], r->mean_auc[f], r->lo_auc[f], r->hi_auc[f]);
    sb_printf(&b, "units found on the train split:\n");
    for (int i = 0; i < r->n; i++) {
        sb_printf(&b, "  %-22s", r->rows[i].category);
        for (int f = 0; f < PF_N; f++)
            if (r->families >> f & 1) sb_printf(&b, " %s", r->rows[i].units[f]);
        sb_printf(&b, "\n");
    }
    return b.s;
}

char *tl_cmp_csv(const tl_cmp_result *r) {
    sbuf b = {0};
    sb_printf(&b, "category,family,units,f1,auc,test_tokens,test_pos\n");
    for (int i = 0; i < r->n; i++)
        for (int f = 0; f < PF_N; f++)
            if (r->families >> f & 1)
                sb_printf(&b, "%s,%s,\"%s\",%.6f,%.6f,%d,%d\n", r->rows[i].category, PROBE_FAMILY[f], r->rows[i].units[f],
                          r->rows[i].f1[f], r->rows[i].auc[f], r->rows[i].test_tok, r->rows[i].test_pos);
    for (int f = 0; f < PF_N; f++)
        if (r->families >> f & 1)
            sb_printf(&b, "MEAN,%s,,%.6f,%.6f,,\nLO95,%s,,%.6f,%.6f,,\nHI95,%s,,%.6f,%.6f,,\n", PROBE_FAMILY[f],
                      r->mean_f1[f], r->mean_auc[f], PROBE_FAMILY[f], r->lo_f1[f], r->lo_auc[f], PROBE_FAMILY[f],
                      r->hi_f1[f], r->hi_auc[f]);
    return b.s;
}
