/* sae_train.h — training a TopK SAE (engine/sae.h) on harvested activations
 * (engine/harvest.h), as in Gao et al.: b_dec starts at the data mean, the
 * decoder at the encoder's transpose; normalized MSE + AuxK on dead latents;
 * decoder gradients projected off the rows and rows renormalized after each
 * Adam step; held-out FVU, L0 and dead fraction; checkpoints that resume
 * bit-for-bit; at the end an SAELens-layout folder. Also the evaluation. */
#ifndef MS_SAE_TRAIN_H
#define MS_SAE_TRAIN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "checkpoint.h"

#include "sae.h"

typedef struct {
    int latents, k, batch;
    long steps;
    float lr, warmup, final_lr, clip, beta1, beta2, eps;
    float aux_coef;
    long dead_tokens;     /* a latent is dead after this many training rows without firing */
    uint64_t seed;
    double ckpt_minutes, heldout;
    int eval_every, eval_rows, log_every;
    bool half;            /* export weights as f16 (+ lz4) */
} sae_train_cfg;

void sae_train_defaults(sae_train_cfg *c);
/* JSON config; unspecified keys keep the defaults; unknown keys are errors. */
int sae_train_cfg_load(sae_train_cfg *c, const char *path);

/* Trains on acts/ into out/: ckpt.safetensors, loss.csv, and when done
 * out/sae/ (cfg.json + sae_weights.safetensors[.lz4]). */
int sae_train(const sae_train_cfg *c, const char *acts, const char *out, bool resume, const train_opts *o);

typedef struct {
    double fvu, mse, l0;     /* on held-out rows */
    double dead_fraction;    /* latents that never fire on the rows scanned */
    long dead_rows;          /* rows scanned for the dead fraction */
    long rows;
} sae_eval_result;

/* Metrics of sae on the last `rows` harvested rows (FVU, MSE, mean L0) and
 * the dead fraction over the last `dead_rows` rows (up to every row). */
int sae_eval(const sae_model *m, const char *acts, long rows, long dead_rows, sae_eval_result *r);

#endif
