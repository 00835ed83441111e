/* lm_fisher.h — how strongly the LM reads each direction of its residual
 * stream at one layer: the Fisher metric of its next-token predictions,
 *   F = mean over positions t of E_{y ~ p}[g_t g_t^T],
 *   g_t = d(sum_s log p(y_s | text)) / dh_t  (targets y drawn from the LM),
 * so that replacing h_t by h_t + e with small zero-mean e of covariance S
 * raises the expected loss by about tr(F S) / 2 per edited position. It
 * counts the positions eval-recon edits (not the first, not EOS). */
#ifndef MS_LM_FISHER_H
#define MS_LM_FISHER_H

#include "gauss_prior.h"
#include "glp.h"
#include "rng.h"
#include "transformer.h"

#include <stdint.h>

/* Gradients of a window's summed NLL with respect to the residual rows
 * after block `layer` (tf_train_resid_grad on the model widened to f32):
 * T targets per window of T + 1 tokens, into grad[T, d]; targets the text's
 * next tokens, or drawn from the LM with sample != NULL. lm_grad returns the
 * summed NLL (NaN on failure); lm_grad_new NULL on failure. */
typedef struct lm_grad_work lm_grad_work;
lm_grad_work *lm_grad_new(const tf_model *lm, int T);
double lm_grad(lm_grad_work *w, const int *win, int layer, rng_t *sample, float *grad);
void lm_grad_free(lm_grad_work *w);

typedef struct {
    int d, layer;
    long rows;  /* positions averaged */
    double *F;  /* [d, d] */
    double nll; /* mean NLL of the drawn targets, nats per position */
} lm_fisher;

/* Over `windows` windows of 256 tokens spread evenly over the split; fails
 * (naming the windows needed) when they hold fewer positions than d, since
 * F is then singular. */
int lm_fisher_fit(lm_fisher *f, const tf_model *lm, int layer, const char *corpus_dir, const char *split,
                  int windows, uint64_t seed);
void lm_fisher_free(lm_fisher *f);

/* F in norm's normalized space y = (h - mean) / sqrt(var): D F D with
 * D = diag(sqrt(var)), into My [d, d] (the metric gauss_prior_init_metric takes). */
void lm_fisher_normalized(const lm_fisher *f, const glp_model *norm, double *My);

/* What F predicts for noise shaped like the data against isotropic noise of
 * the same norm: d tr(F C) / (tr F tr C), C the raw covariance of gp (a
 * prior in norm's normalized space, without a metric). */
double lm_fisher_shape_ratio(const lm_fisher *f, const glp_model *norm, const gauss_prior *gp);

/* F fitted on the split (lm_fisher_fit), then the prior gp (in norm's
 * normalized space) seen in it: *gpf = gp in the metric of F raised to
 * `power` (gauss_prior_init_metric). The fit's positions, sampled-target NLL and
 * shaped-noise prediction go into *info; F itself goes to *keep (the caller
 * frees it with lm_fisher_free), or is freed when keep is NULL. */
typedef struct {
    long rows;
    double nll, shape_ratio;
} lm_fisher_info;
int lm_fisher_prior(const tf_model *lm, const glp_model *norm, int layer, const char *corpus_dir, const char *split,
                    int windows, uint64_t seed, double power, const gauss_prior *gp, gauss_prior *gpf,
                    lm_fisher_info *info, lm_fisher *keep);

/* What F predicts for edits e (sum_e e^T F e over sum_e |e|^2, raw units)
 * against isotropic noise of their norm: d e^T F e / (tr F |e|^2) summed
 * over edits; 1 for isotropic noise itself. */
double lm_fisher_edit_ratio(const lm_fisher *f, double eFe, double ee);

#endif
