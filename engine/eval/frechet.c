/* frechet.c — Gaussian fits, the Fréchet distance and Gaussian samples. */
#include "frechet.h"
#include "rng.h"
#include "util.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK (bundled in OpenBLAS): eigen-decomposition of a symmetric matrix. */
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work,
             const int *lwork, int *iwork, const int *liwork, int *info);

int gauss_fit(const float *X, long n, int d, double *mu, double *cov) {
    if (n < 2) return ms_seterr("need at least 2 rows for a covariance (frechet)");
    memset(mu, 0, sizeof(double) * (size_t)d);
    for (long r = 0; r < n; r++)
        for (int i = 0; i < d; i++) mu[i] += X[(size_t)r * d + i];
    for (int i = 0; i < d; i++) mu[i] /= (double)n;
    /* Centered rows in double, a chunk at a time, accumulated by dsyrk. */
    enum { CHUNK = 1024 };
    double *c = xmalloc(sizeof(double) * CHUNK * (size_t)d);
    memset(cov, 0, sizeof(double) * (size_t)d * d);
    for (long r0 = 0; r0 < n; r0 += CHUNK) {
        int m = (int)(n - r0 < CHUNK ? n - r0 : CHUNK);
        for (int r = 0; r < m; r++)
            for (int i = 0; i < d; i++) c[(size_t)r * d + i] = X[(size_t)(r0 + r) * d + i] - mu[i];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, m, 1.0, c, d, 1.0, cov, d);
    }
    free(c);
    for (int i = 0; i < d; i++)
        for (int j = i; j < d; j++) cov[(size_t)j * d + i] = cov[(size_t)i * d + j] /= (double)(n - 1);
    return 0;
}

int eigh_sym(const double *a, int d, double *w, double *v) {
    memcpy(v, a, sizeof(double) * (size_t)d * d);
    int lwork = -1, liwork = -1, info = 0, iw;
    double wq;
    dsyevd_("V", "U", &d, v, &d, w, &wq, &lwork, &iw, &liwork, &info);
    lwork = (int)wq;
    liwork = iw;
    double *work = xmalloc(sizeof(double) * (size_t)lwork);
    int *iwork = xmalloc(sizeof(int) * (size_t)liwork);
    /* Column-major in LAPACK: the symmetric input is the same, and the
     * eigenvectors come back as columns, i.e. as rows of our row-major v. */
    dsyevd_("V", "U", &d, v, &d, w, work, &lwork, iwork, &liwork, &info);
    free(work);
    free(iwork);
    return info ? ms_seterr("eigen-decomposition failed (info %d) (frechet)", info) : 0;
}

/* s = sqrt of symmetric PSD a: V diag(sqrt(max(w,0))) V^T. */
static int sqrtm_psd(const double *a, int d, double *s) {
    double *w = xmalloc(sizeof(double) * (size_t)d), *v = xmalloc(sizeof(double) * (size_t)d * d);
    double *vs = xmalloc(sizeof(double) * (size_t)d * d);
    int rc = eigh_sym(a, d, w, v);
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
        if (!eigh_sym(m, d, w, v)) {
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
