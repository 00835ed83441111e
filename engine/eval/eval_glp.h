/* eval_glp.h — how well a GLP models held-out activations: its diffusion
 * loss, and the Fréchet distance of its samples to real rows next to the
 * real-vs-real floor and a Gaussian with the real mean and covariance. */
#ifndef MS_EVAL_GLP_H
#define MS_EVAL_GLP_H

#include <stdint.h>

#include "gauss_prior.h"
#include "token_prior.h"
#include "lm_fisher.h"
#include "glp.h"
#include "glp_ode.h"
#include "sae.h"
#include "transformer.h"

typedef struct {
    long n;        /* rows per set */
    uint64_t seed;
    glp_ode ode; /* how the samples are drawn; ode.evals: their budget in denoiser evaluations */
} eval_glp_opts;

typedef struct {
    double heldout_loss; /* flow-matching MSE on set A (fixed u, eps) */
    double fd_glp;       /* FD(GLP samples, A) */
    double fd_floor;     /* FD(B, A): two real sets */
    double fd_gauss;     /* FD(N(mean_B, cov_B) samples, A) */
    long n;
    int d;
} eval_glp_result;

/* Real rows are the last 2n of the harvest in acts_dir (A: the last n, B: the
 * n before), rows that train-glp holds out when its heldout fraction covers
 * them. All distances are in the GLP's normalized space. */
int eval_glp(const glp_model *m, const char *acts_dir, const eval_glp_opts *o, eval_glp_result *r);

/* ΔLM loss: mean next-token loss on `windows` held-out windows of the corpus
 * split with layer `layer`'s residual (every position but the first and the
 * EOS separators, which the harvest leaves out too) replaced by its
 * on-manifold projection (u 0.5 of a 20-point grid, solved with ode; NULL:
 * the reference, 10 Euler evaluations) and, when an SAE
 * is given, by its reconstruction, next to the clean loss and to adding
 * Gaussian noise of the same norm as each row's GLP change (the SAE's error
 * when there is no GLP). g or sae may be NULL (their results are NaN).
 * With a Gaussian prior gp (and g, whose normalizer it lives in), also the
 * prior's exact projection at the same sigma_start and noise of its norm. */
/* A paired difference of two edits' ΔLM over the windows: mean and the
 * half-width of its normal 95% interval (windows are the units; each sees
 * its own text and its own noise draws). */
typedef struct {
    double mean, half;
} dlm_paired;

typedef struct {
    double first, second, ratio;
} dlm_quad;

typedef struct {
    double clean, glp, noise, sae; /* mean NLL (nats) */
    double gauss, gauss_noise;     /* Gaussian prior's projection, noise of its norm (NaN without gp) */
    double rel_change;             /* mean |P(h) - h| / |h| */
    double sae_rel_error;          /* mean |SAE(h) - h| / |h| */
    double gauss_rel_change;       /* mean |G(h) - h| / |h| */
    double shaped_noise;           /* with gp: zero-mean noise shaped like the data, the GLP's norm */
    /* The projection split (draws > 1; else NaN): its mean over the draws
     * (shift, the systematic part) and the first draw's scatter around it
     * (scat), each alone and as noise of its norm, with their sizes. */
    double mean, mean_noise, scat, scat_noise, mean_rel_change, scat_rel_change;
    double scat_shaped_noise; /* with gp too: noise shaped like the data at the scatter's norm */
    /* -sum (h - mu) . e / sum |e|^2 over the projection's edits e (mu: the
     * GLP's normalizer mean): 1/2 for any projection that keeps the data's
     * distribution, 0 in expectation for noise. */
    double pull;
    dlm_paired vs_noise, vs_sae, vs_shaped; /* the GLP's ΔLM minus noise's, the SAE's, shaped noise's */
    /* With g and gp: the mean of the noise of the GLP's norm and the same noise
     * negated (an antithetic pair: the first-order term g^T e, mean zero for
     * noise but a large part of one draw's scatter, cancels exactly), and the
     * GLP minus that mean. Both are estimates of the same expected noise cost. */
    double noise_anti;
    dlm_paired vs_noise_anti;
    /* With gpf: the Gaussian prior's projection in the LM's metric, isotropic
     * noise of its norm, its size, and the first minus the second. */
    double fgauss, fgauss_noise, fgauss_rel_change;
    dlm_paired vs_fgauss;
    /* With tp: the prior given each row's token (token_prior.h), isotropic
     * noise of its norm, its size, and the first minus the second. */
    double tgauss, tgauss_noise, tgauss_rel_change;
    dlm_paired vs_tgauss;
    /* With fm, per edit (NaN for edits not made): the first two terms of
     * its ΔLM's expansion in the edit e, per token: first = g^T e summed
     * (g the gradient of the text's own loss at the row), second =
     * e^T F e / 2 summed (F: fm); and ratio = d e^T F e / (tr F |e|^2),
     * what F predicts for e against isotropic noise of its norm (1 for
     * that noise). Noise has first ~ 0; an edit that moves rows against
     * their own text's gradient does not. q_anoise: q_noise's noise negated. */
    dlm_quad q_glp, q_sae, q_noise, q_anoise, q_shaped, q_gauss, q_gnoise, q_fgauss, q_fgnoise, q_tgauss, q_tgnoise;
    long tokens, windows;
} delta_lm_result;

/* u: the projection's noise level (sigma_start = grid_20[floor(20 u)]; the
 * reference 0.5). draws: 0, or the projections per row averaged for the split.
 * gpf: NULL, or gp's prior in the LM's Fisher metric (gauss_prior_init_metric,
 * lm_fisher.h): a projection that knows which directions the LM reads.
 * tp: NULL, or the Gaussian prior given the token, in g's normalized space.
 * fm: NULL, or that metric, to expand each edit's cost (q_* above). */
int eval_delta_lm(const tf_model *lm, const glp_model *g, const glp_ode *ode, float u, const sae_model *sae,
                  gauss_prior *gp, gauss_prior *gpf, token_prior *tp, const lm_fisher *fm, int draws, int layer,
                  const char *corpus_dir, const char *split, int windows, uint64_t seed, delta_lm_result *r);

/* Fréchet distance to real activations of reconstructed ones: the last n
 * harvested rows A edited by the GLP projection (as eval_delta_lm's), by the SAE
 * (reconstruction), and by Gaussian noise of the GLP's (else the SAE's) per-row
 * change, each against the n rows before them (B); the floor is FD(A, B).
 * Normalized space (the GLP's statistics, else the harvest's). g or sae may be
 * NULL (their distances are NaN). */
typedef struct {
    double fd_glp, fd_sae, fd_noise, fd_floor;
    double fd_gauss, fd_gauss_noise; /* the Gaussian prior's projection and noise of its norm */
    long n;
} recon_fd_result;

/* With gp non-NULL (and g), the Gaussian fitted to B is the prior: gp is
 * initialized from it (the caller frees it) and its projection of A scored
 * too, for eval_delta_lm to use next. */
int eval_recon_fd(const glp_model *g, const glp_ode *ode, float u, const sae_model *sae, const char *acts_dir, long n,
                  uint64_t seed, gauss_prior *gp, recon_fd_result *r);

#endif
