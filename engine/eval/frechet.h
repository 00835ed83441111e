/* frechet.h — Fréchet distance between Gaussians fitted to two sets of
 * vectors (full covariance, as in FID):
 *   FD = |mu1 - mu2|^2 + Tr S1 + Tr S2 - 2 Tr (S1^1/2 S2 S1^1/2)^1/2
 * computed in double with LAPACK's symmetric eigensolver (OpenBLAS). */
#ifndef MS_FRECHET_H
#define MS_FRECHET_H

#include "rng.h"

/* Mean [d] and unbiased covariance [d, d] of n rows of X [n, d] (n >= 2). */
int gauss_fit(const float *X, long n, int d, double *mu, double *cov);
/* FD between two fitted Gaussians; negative on failure (message set). */
double frechet_distance(const double *mu1, const double *cov1, const double *mu2, const double *cov2, int d);
/* n rows drawn from N(mu, cov) into X [n, d] (cov positive semi-definite),
 * with normals from r. */
int gauss_sample(float *X, long n, int d, const double *mu, const double *cov, rng_t *r);

/* Eigenvalues w[d] (ascending) and eigenvectors in the rows of v[d, d]
 * (row-major) of the symmetric a[d, d]. */
int eigh_sym(const double *a, int d, double *w, double *v);

#endif
