/* frechet.c — Gaussian fits, the Fréchet distance and Gaussian samples. */
#include "frechet.h"
#include "linalg.h"
#include "rng.h"
#include "util.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int gauss_fit(const float *X, long n, int d, double *mu, double *cov) {
    return linalg_mean_cov(X, n, d, mu, cov);
}

/* s = sqrt of symmetric PSD a: V diag(sqrt(max(w,0))) V^T. */
static int sqrtm_psd(const double *a, int d, double *s) {
    double *w = xmalloc(sizeof(double) * (size_t)d), *v = xmalloc(sizeof(double) * (size_t)d * d);
    double *vs = xmalloc(sizeof(double) * (size_t)d * d);
    int rc = linalg_eigh(a, d, w, v);
    for (int k = 0; !rc && k < d; k++) {
        double r = sqrt(w[k] > 0 ? w[k] : 0);
        for (int i = 0; i < d; i++) vs[(size_t)k * d + i] = v[(size_t)k * d + i] * r;
    }
    /* rows of v are eigenvectors: s = v^T diag v = sum_k r_k v_k v_k^T */
    if (!rc) cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, d, d, 1.0, v, d, vs, d, 0.0, s, d);
    free(w), free(v), free(vs);
    return rc;
}

double frechet_distance(const double *mu1, const double *cov1, const double *mu2, const double *cov2, int d) {
    size_t dd = (size_t)d * d;
    double *s1 = xmalloc(sizeof(double) * dd), *t = xmalloc(sizeof(double) * dd), *m = xmalloc(sizeof(double) * dd);
    double *w = xmalloc(sizeof(double) * (size_t)d), *v = xmalloc(sizeof(double) * dd);
    double fd = -1;
    if (!sqrtm_psd(cov1, d, s1)) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, s1, d, cov2, d, 0.0, t, d);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, t, d, s1, d, 0.0, m, d);
        for (int i = 0; i < d; i++) /* symmetrise against rounding */
            for (int j = i + 1; j < d; j++) m[(size_t)i * d + j] = m[(size_t)j * d + i] =
                0.5 * (m[(size_t)i * d + j] + m[(size_t)j * d + i]);
        if (!linalg_eigh(m, d, w, v)) {
            double tr_sqrt = 0, dm = 0, tr = 0;
            for (int i = 0; i < d; i++) tr_sqrt += sqrt(w[i] > 0 ? w[i] : 0);
            for (int i = 0; i < d; i++) {
                dm += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]);
                tr += cov1[(size_t)i * d + i] + cov2[(size_t)i * d + i];
            }
            fd = dm + tr - 2 * tr_sqrt;
            if (fd < 0) fd = 0; /* rounding near identical distributions */
        }
    }
    free(s1), free(t), free(m), free(w), free(v);
    return fd;
}

int gauss_sample(float *X, long n, int d, const double *mu, const double *cov, rng_t *r) {
    double *s = xmalloc(sizeof(double) * (size_t)d * d), *z = xmalloc(sizeof(double) * (size_t)d);
    int rc = sqrtm_psd(cov, d, s); /* x = mu + S z has covariance S S^T = cov */
    for (long k = 0; !rc && k < n; k++) {
        for (int i = 0; i < d; i++) z[i] = rng_normal(r);
        for (int i = 0; i < d; i++) {
            double acc = mu[i];
            for (int j = 0; j < d; j++) acc += s[(size_t)i * d + j] * z[j];
            X[(size_t)k * d + i] = (float)acc;
        }
    }
    free(s), free(z);
    return rc;
}
