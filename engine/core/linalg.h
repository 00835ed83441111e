/* linalg.h — small dense linear algebra in double over OpenBLAS and its
 * bundled LAPACK: a mean and covariance, a symmetric eigen-decomposition. */
#ifndef MS_LINALG_H
#define MS_LINALG_H

/* mu[d] and the unbiased covariance cov[d, d] of rows X[n, d] (n >= 2). */
int linalg_mean_cov(const float *X, long n, int d, double *mu, double *cov);
/* Eigenvalues w[d] (ascending) and eigenvectors as the rows of v[d, d] of
 * the symmetric a[d, d] (row-major). */
int linalg_eigh(const double *a, int d, double *w, double *v);

#endif
