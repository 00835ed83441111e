/* token_prior.h — the Gaussian prior conditioned on the row's own token: what
 * a perfect meta-model that knows one piece of the row's context would do.
 *
 * h | token t ~ N(mu_t, C_w): a mean per token, shrunk toward the overall
 * mean m by `shrink` pseudo-rows (a token seen n times gets
 * (sum + shrink m) / (n + shrink)), and one covariance of the rows around
 * their token's mean. The projection shifts each row into the overall mean's
 * frame, r = h + (m - mu_t), projects r exactly under N(m, C_w) (as
 * gauss_prior does for the unconditional prior, in the same normalized
 * space), and shifts back: the part of h its token explains is kept, the
 * rest is re-drawn. eval-recon --token-prior sets it beside the
 * unconditional prior: does knowing the context make the projection cheaper
 * for the LM than noise of its norm? */
#ifndef MS_TOKEN_PRIOR_H
#define MS_TOKEN_PRIOR_H

#include "gauss_prior.h"

typedef struct {
    int vocab, d, seen; /* seen: tokens with rows in the fit */
    int *slot;      /* [vocab]: a token's row of shift, -1 if unseen (its mean is m: no shift) */
    float *shift;   /* [seen, d] raw units: m - mu_t (a large vocabulary holds only the tokens seen) */
    long *count;    /* [vocab] rows of each token in the fit */
    long rows;      /* rows fitted */
    char split[64]; /* the harvest's split ("" when its manifest does not say) */
    double within;  /* tr C_w / tr C (normalized space): the share of the variance tokens leave */
    gauss_prior gp; /* N(m, C_w) in norm's normalized space */
} token_prior;

/* Fits from every row of the harvest acts_dir (its shards' acts and tokens;
 * a token id outside [0, vocab) is an error), in norm's normalized space. */
int token_prior_fit(token_prior *tp, const char *acts_dir, const glp_model *norm, int vocab, double shrink);
void token_prior_free(token_prior *tp);

/* Projection of raw rows h[N, d] with tokens tok[N] in place at noise level
 * sigma (normals from r, row by row; sigma 0: h up to rounding). */
void token_prior_project(token_prior *tp, const glp_model *norm, float *h, const int *tok, int N, float sigma,
                         rng_t *r);

#endif
