/* gauss_prior.h — the on-manifold projection a perfect meta-model would make
 * if the activations were Gaussian: a baseline for the GLP's projection.
 *
 * With data z ~ N(m, C) (normalized space) and the flow-matching path
 * x_s = (1 - s) z + s eps, the marginal at s is N((1 - s) m, (1 - s)^2 C + s^2 I)
 * and the probability-flow ODE is linear; solved exactly from s to 0 it maps
 *   z' = m + P_s (x_s - (1 - s) m),  P_s = V diag(sqrt(l / ((1 - s)^2 l + s^2))) V^T
 * (C = V diag(l) V^T). So the projection of h at noise level s is that map
 * applied to (1 - s) z + s eps: what the GLP's projection is with the exact
 * velocity of a Gaussian prior in place of the learned one. */
#ifndef MS_GAUSS_PRIOR_H
#define MS_GAUSS_PRIOR_H

#include "glp.h"
#include "rng.h"

typedef struct {
    int d;
    double *mu;  /* [d] mean, normalized space */
    double *l;   /* [d] eigenvalues of the covariance */
    double *v;   /* [d, d] eigenvectors in rows */
    float *P;    /* [d, d] P_s for s = P_sigma (recomputed when s changes) */
    double *z;   /* [2 d] scratch of gauss_prior_noise */
    float *zf;   /* [d] its f32 scratch, for a normalizer with a basis */
    float P_sigma;
    float *A, *Ainv; /* [d, d] or NULL: the prior lives in z = A y, y the normalized row */
} gauss_prior;

/* From a fitted mean [d] and covariance [d, d] (copied). */
int gauss_prior_init(gauss_prior *p, const double *mu, const double *cov, int d);
void gauss_prior_free(gauss_prior *p);
/* The same prior (p's Gaussian in normalized space y) seen in the metric M
 * [d, d] (symmetric positive definite, y space) raised to `power` > 0: q
 * lives in z = A y with A = c M^(power/2), c such that z's total variance is
 * d as y's is, so that isotropic noise in z is noise of covariance
 * c^-2 M^-power in y: short along the directions M weighs, long along the
 * others (power 1: the metric itself; larger: more so). */
int gauss_prior_init_metric(gauss_prior *q, const gauss_prior *p, const double *M, double power);

/* Projection of raw rows h[N, d] in place at noise level sigma in [0, 1]:
 * normalize with norm's statistics (then z = A y with a metric), noise with normals from r (row by row,
 * in order), map exactly to s = 0, denormalize (sigma 0: h up to rounding). */
void gauss_prior_project(gauss_prior *p, const glp_model *norm, float *h, int N, float sigma, rng_t *r);

/* One raw-space row e[d] of zero-mean noise shaped like the data: a draw of
 * N(0, C) (normals from r) taken back to raw units by the normalizer's basis
 * inverse (if any) and standard deviations. p must have no metric. */
void gauss_prior_noise(gauss_prior *p, const glp_model *norm, float *e, rng_t *r);

#endif
