/* gauss_prior.c — exact flow-matching projection under a Gaussian prior. */
#include "gauss_prior.h"
#include "frechet.h"
#include "ops.h"
#include "util.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int gauss_prior_init(gauss_prior *p, const double *mu, const double *cov, int d) {
    *p = (gauss_prior){.d = d, .P_sigma = -1};
    p->mu = xmalloc(sizeof(double) * (size_t)d);
    p->l = xmalloc(sizeof(double) * (size_t)d);
    p->v = xmalloc(sizeof(double) * (size_t)d * d);
    p->P = xmalloc(sizeof(float) * (size_t)d * d);
    p->z = xmalloc(sizeof(double) * 2 * (size_t)d);
    p->zf = xmalloc(sizeof(float) * (size_t)d);
    memcpy(p->mu, mu, sizeof(double) * (size_t)d);
    if (eigh_sym(cov, d, p->l, p->v)) {
        gauss_prior_free(p);
        return -1;
    }
    for (int k = 0; k < d; k++) p->l[k] = p->l[k] > 0 ? p->l[k] : 0; /* PSD up to rounding */
    return 0;
}

void gauss_prior_free(gauss_prior *p) {
    free(p->mu), free(p->l), free(p->v), free(p->P), free(p->z), free(p->zf), free(p->A), free(p->Ainv);
    *p = (gauss_prior){0};
}

/* out = W^T diag(f(w)) W, W's rows the eigenvectors. */
static void eig_apply(double *out, const double *W, const double *w, double p, double scale, int d) {
    double *Wf = xmalloc(sizeof(double) * (size_t)d * d);
    for (int k = 0; k < d; k++) {
        double f = scale * pow(w[k], p);
        for (int i = 0; i < d; i++) Wf[(size_t)k * d + i] = W[(size_t)k * d + i] * f;
    }
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, d, d, 1.0, W, d, Wf, d, 0.0, out, d);
    free(Wf);
}

int gauss_prior_init_metric(gauss_prior *q, const gauss_prior *p, const double *M, double power) {
    *q = (gauss_prior){0};
    int d = p->d;
    size_t dd = (size_t)d * d;
    double *w = xmalloc(sizeof(double) * (size_t)d), *W = xmalloc(sizeof(double) * dd);
    double *A = xmalloc(sizeof(double) * dd), *C = xmalloc(sizeof(double) * dd), *T = xmalloc(sizeof(double) * dd);
    double *mu = xmalloc(sizeof(double) * (size_t)d);
    int rc = power > 0 && power <= 4 ? eigh_sym(M, d, w, W)
                                     : ms_seterr("the metric's power must be in (0, 4] (Gaussian prior)");
    double top = 0;
    for (int k = 0; k < d && !rc; k++) top = w[k] > top ? w[k] : top;
    for (int k = 0; k < d && !rc; k++)
        if (!(w[k] > top * 1e-9)) rc = ms_seterr("the metric is not positive definite (Gaussian prior)");
    if (!rc) {
        eig_apply(C, p->v, p->l, 1.0, 1.0, d);  /* y's covariance */
        eig_apply(A, W, w, power / 2, 1.0, d);  /* M^(power/2) */
        cblas_dsymm(CblasRowMajor, CblasLeft, CblasUpper, d, d, 1.0, A, d, C, d, 0.0, T, d);
        double tr = 0; /* tr(A C A) */
        for (size_t i = 0; i < dd; i++) tr += T[i] * A[i];
        double c = sqrt((double)d / tr);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, c * c, T, d, A, d, 0.0, C, d);
        cblas_dgemv(CblasRowMajor, CblasNoTrans, d, d, c, A, d, p->mu, 1, 0.0, mu, 1);
        rc = gauss_prior_init(q, mu, C, d);
        if (!rc) {
            q->A = xmalloc(sizeof(float) * dd), q->Ainv = xmalloc(sizeof(float) * dd);
            for (size_t i = 0; i < dd; i++) q->A[i] = (float)(c * A[i]);
            eig_apply(A, W, w, -power / 2, 1.0 / c, d); /* A^-1 = M^(-power/2) / c */
            for (size_t i = 0; i < dd; i++) q->Ainv[i] = (float)A[i];
        }
    }
    free(w), free(W), free(A), free(C), free(T), free(mu);
    return rc;
}

/* P_s = V^T diag(a) V with v's rows the eigenvectors, in double. */
static void make_P(gauss_prior *p, float s) {
    int d = p->d;
    double *va = xmalloc(sizeof(double) * (size_t)d * d), *P = xmalloc(sizeof(double) * (size_t)d * d);
    for (int k = 0; k < d; k++) {
        double q = (1.0 - s) * (1.0 - s) * p->l[k] + (double)s * s;
        double a = q > 0 ? sqrt(p->l[k] / q) : 1.0; /* s 0 and l 0: identity on that direction */
        for (int i = 0; i < d; i++) va[(size_t)k * d + i] = p->v[(size_t)k * d + i] * a;
    }
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, d, d, 1.0, p->v, d, va, d, 0.0, P, d);
    for (size_t j = 0; j < (size_t)d * d; j++) p->P[j] = (float)P[j];
    p->P_sigma = s;
    free(va), free(P);
}

void gauss_prior_project(gauss_prior *p, const glp_model *norm, float *h, int N, float sigma, rng_t *r) {
    int d = p->d;
    if (p->P_sigma != sigma) make_P(p, sigma);
    float *x = xmalloc(sizeof(float) * (size_t)N * d);
    glp_normalize(norm, h, h, N);
    if (p->A) linear_inplace(h, p->A, N, d);
    for (int n = 0; n < N; n++) /* x_s - (1 - s) m = (1 - s)(z - m) + s eps */
        for (int i = 0; i < d; i++) {
            size_t j = (size_t)n * d + i;
            x[j] = (float)((1.0 - sigma) * (h[j] - p->mu[i])) + sigma * rng_normal(r);
        }
    /* z' = m + x P^T (P is symmetric) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, d, d, 1.0f, x, d, p->P, d, 0.0f, h, d);
    for (int n = 0; n < N; n++)
        for (int i = 0; i < d; i++) h[(size_t)n * d + i] += (float)p->mu[i];
    if (p->Ainv) linear_inplace(h, p->Ainv, N, d);
    glp_denormalize(norm, h, h, N);
    free(x);
}

void gauss_prior_noise(gauss_prior *p, const glp_model *norm, float *e, rng_t *r) {
    int d = p->d;
    double *z = p->z, *a = p->z + d;
    for (int k = 0; k < d; k++) z[k] = sqrt(p->l[k]) * rng_normal(r);
    cblas_dgemv(CblasRowMajor, CblasTrans, d, d, 1.0, p->v, d, z, 1, 0.0, a, 1); /* V^T z, v's rows the eigenvectors */
    if (norm->basis_inv) { /* back from the GLP's basis: e = basis_inv a */
        for (int i = 0; i < d; i++) p->zf[i] = (float)a[i];
        linear(e, p->zf, norm->basis_inv, NULL, 1, d, d);
        for (int i = 0; i < d; i++) e[i] = (float)(e[i] * sqrt((double)norm->var[i] + 1e-12));
    } else
        for (int i = 0; i < d; i++) e[i] = (float)(a[i] * sqrt((double)norm->var[i] + 1e-12));
}
