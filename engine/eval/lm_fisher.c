/* lm_fisher.c — the LM's Fisher metric at one layer, from gradients of
 * sampled-target losses (one backward per window, through the blocks after
 * the layer only). */
#include "lm_fisher.h"
#include "corpus.h"
#include "rng.h"
#include "transformer_train.h"
#include "util.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct lm_grad_work {
    float *flat, *gflat;
    tf_model m, g;
    tf_train_ws *ws;
    int T;
};

lm_grad_work *lm_grad_new(const tf_model *lm, int T) {
    lm_grad_work *w = xcalloc(1, sizeof *w);
    size_t n = tf_flat_size(&lm->c);
    w->T = T;
    w->flat = xmalloc(sizeof(float) * n);
    w->gflat = xcalloc(n, sizeof(float));
    if (!tf_flatten(lm, w->flat)) {
        tf_bind_flat(&w->m, &lm->c, w->flat);
        tf_bind_flat(&w->g, &lm->c, w->gflat);
        w->ws = tf_train_ws_new(&lm->c, 1, T);
    }
    if (!w->ws) lm_grad_free(w), w = NULL;
    return w;
}

void lm_grad_free(lm_grad_work *w) {
    if (!w) return;
    if (w->ws) tf_train_ws_free(w->ws);
    if (w->m.layers) tf_free(&w->m);
    if (w->g.layers) tf_free(&w->g);
    free(w->flat), free(w->gflat), free(w);
}

double lm_grad(lm_grad_work *w, const int *win, int layer, rng_t *sample, float *grad) {
    return tf_train_resid_grad(&w->m, &w->g, w->ws, win, 1, w->T, layer, sample, grad);
}

/* F += G^T G over the k rows of G [k, d] (lower triangle, in double). */
static void add_rows(double *F, const float *grad, const int *at, int k, int d, double *G) {
    for (int r = 0; r < k; r++)
        for (int i = 0; i < d; i++) G[(size_t)r * d + i] = grad[(size_t)at[r] * d + i];
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, d, k, 1.0, G, d, 1.0, F, d);
}

int lm_fisher_fit(lm_fisher *f, const tf_model *lm, int layer, const char *corpus_dir, const char *split,
                  int windows, uint64_t seed) {
    int d = lm->c.d_model, T = (lm->c.max_seq < 256 ? lm->c.max_seq : 256) - 1; /* 256 tokens: 255 targets */
    *f = (lm_fisher){.d = d, .layer = layer};
    if (!lm->tok) return ms_seterr("the model has no tokenizer (fisher)");
    if (windows < 1) return ms_seterr("windows must be at least 1 (fisher)");
    int *ids;
    size_t n;
    if (corpus_split_ids(corpus_dir, split, lm->tok, lm->c.eos_id, &ids, &n)) return -1;
    long nwin = (long)(n / (size_t)(T + 1)) < windows ? (long)(n / (size_t)(T + 1)) : windows;
    if (nwin < 1) {
        free(ids);
        return ms_seterr("the %s split is shorter than one window (fisher)", split);
    }
    lm_grad_work *w = lm_grad_new(lm, T);
    int rc = w ? 0 : -1;
    f->F = xcalloc((size_t)d * d, sizeof(double));
    float *grad = xmalloc(sizeof(float) * (size_t)T * d);
    double *G = xmalloc(sizeof(double) * (size_t)T * d), nll = 0, targets = 0;
    int *at = xmalloc(sizeof(int) * (size_t)T);
    rng_t rng;
    rng_seed(&rng, seed);
    for (long wi = 0; wi < nwin && !rc; wi++) {
        const int *win = ids + (size_t)wi * ((n - (size_t)T - 1) / (size_t)(nwin > 1 ? nwin - 1 : 1));
        double s = lm_grad(w, win, layer, &rng, grad);
        if (s != s) rc = -1;
        int k = 0;
        for (int t = 1; t < T; t++)
            if (win[t] != lm->c.eos_id) at[k++] = t;
        if (!rc && k) add_rows(f->F, grad, at, k, d, G);
        f->rows += k, nll += s, targets += T;
    }
    if (!rc && f->rows < d) /* a sum of fewer rank-one terms than dimensions is singular */
        rc = ms_seterr("%ld positions cannot fix a metric in %d dimensions: use at least %ld windows (fisher)",
                       f->rows, d, (long)d * nwin / (f->rows > 0 ? f->rows : 1) + 1);
    if (!rc) {
        for (int i = 0; i < d; i++)
            for (int j = 0; j <= i; j++) {
                double v = f->F[(size_t)i * d + j] / (double)f->rows;
                f->F[(size_t)i * d + j] = f->F[(size_t)j * d + i] = v;
            }
        f->nll = nll / targets;
    }
    free(grad), free(G), free(at), free(ids);
    lm_grad_free(w);
    if (rc) lm_fisher_free(f);
    return rc;
}

void lm_fisher_free(lm_fisher *f) {
    free(f->F);
    f->F = NULL;
}

void lm_fisher_normalized(const lm_fisher *f, const glp_model *norm, double *My) {
    int d = f->d;
    size_t dd = (size_t)d * d;
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++)
            My[(size_t)i * d + j] = f->F[(size_t)i * d + j] * sqrt((double)norm->var[i] + 1e-12) *
                                    sqrt((double)norm->var[j] + 1e-12);
    if (!norm->basis_inv) return;
    double *Bi = xmalloc(sizeof(double) * dd), *T = xmalloc(sizeof(double) * dd); /* Bi^T My Bi */
    for (size_t i = 0; i < dd; i++) Bi[i] = norm->basis_inv[i];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, My, d, Bi, d, 0.0, T, d);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, d, d, 1.0, Bi, d, T, d, 0.0, My, d);
    free(Bi), free(T);
}

double lm_fisher_shape_ratio(const lm_fisher *f, const glp_model *norm, const gauss_prior *gp) {
    int d = f->d;
    size_t dd = (size_t)d * d;
    double *My = xmalloc(sizeof(double) * dd), *MV = xmalloc(sizeof(double) * dd), *W = xmalloc(sizeof(double) * dd);
    lm_fisher_normalized(f, norm, My);
    /* rows of V (gp's eigenvectors) through My, and back to raw units: W = V basis_inv^T (or V) */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, gp->v, d, My, d, 0.0, MV, d);
    if (norm->basis_inv) {
        for (size_t i = 0; i < dd; i++) My[i] = norm->basis_inv[i]; /* My is free now: basis_inv in double */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, d, d, d, 1.0, gp->v, d, My, d, 0.0, W, d);
    } else memcpy(W, gp->v, sizeof(double) * dd);
    double fc = 0, trF = 0, trC = 0; /* tr(F_h C_h) = sum_k l_k v_k^T My v_k; tr C_h = sum_k l_k |D W_k|^2 */
    for (int k = 0; k < d; k++) {
        const double *v = gp->v + (size_t)k * d, *mv = MV + (size_t)k * d, *w = W + (size_t)k * d;
        double q = 0, vv = 0;
        for (int i = 0; i < d; i++) q += v[i] * mv[i], vv += w[i] * w[i] * ((double)norm->var[i] + 1e-12);
        fc += gp->l[k] * q, trC += gp->l[k] * vv;
    }
    for (int i = 0; i < d; i++) trF += f->F[(size_t)i * d + i];
    free(My), free(MV), free(W);
    return (double)d * fc / (trF * trC);
}

int lm_fisher_prior(const tf_model *lm, const glp_model *norm, int layer, const char *corpus_dir, const char *split,
                    int windows, uint64_t seed, double power, const gauss_prior *gp, gauss_prior *gpf,
                    lm_fisher_info *info, lm_fisher *keep) {
    lm_fisher f;
    *gpf = (gauss_prior){0};
    if (lm_fisher_fit(&f, lm, layer, corpus_dir, split, windows, seed)) return -1;
    double *My = xmalloc(sizeof(double) * (size_t)f.d * f.d);
    lm_fisher_normalized(&f, norm, My);
    int rc = gauss_prior_init_metric(gpf, gp, My, power);
    *info = (lm_fisher_info){f.rows, f.nll, lm_fisher_shape_ratio(&f, norm, gp)};
    free(My);
    if (keep && !rc) *keep = f;
    else lm_fisher_free(&f);
    return rc;
}

double lm_fisher_edit_ratio(const lm_fisher *f, double eFe, double ee) {
    double trF = 0;
    for (int i = 0; i < f->d; i++) trF += f->F[(size_t)i * f->d + i];
    return ee > 0 && trF > 0 ? (double)f->d * eFe / (trF * ee) : NAN;
}
