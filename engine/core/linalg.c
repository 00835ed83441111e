/* linalg.c — see linalg.h. */
#include "linalg.h"
#include "util.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK (bundled in OpenBLAS). */
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work,
             const int *lwork, int *iwork, const int *liwork, int *info);

int linalg_mean_cov(const float *X, long n, int d, double *mu, double *cov) {
    if (n < 2) return ms_seterr("need at least 2 rows for a covariance (linalg)");
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

int linalg_eigh(const double *a, int d, double *w, double *v) {
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
    return info ? ms_seterr("eigen-decomposition failed (info %d) (linalg)", info) : 0;
}
