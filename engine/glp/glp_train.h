/* glp_train.h — training the GLP denoiser on harvested activations
 * (engine/harvest.h): flow-matching loss, AdamW with the reference's cosine
 * schedule, checkpoints that resume bit-for-bit, a held-out loss, and at the
 * end a GLP folder in the published layout. */
#ifndef MS_GLP_TRAIN_H
#define MS_GLP_TRAIN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "checkpoint.h"

typedef struct {
    int d_model, d_mlp, n_layers; /* 0: 2·d, 4·d (reference widths); n_layers 3 */
    int batch;
    long steps;
    float lr, warmup, warm_start, final_lr; /* warmup: fraction of steps */
    float weight_decay, clip, beta1, beta2, eps;
    uint64_t seed;
    double ckpt_minutes, heldout; /* heldout: fraction of rows (the last ones) */
    int eval_every, eval_rows, log_every;
    float ema;            /* decay of the parameters' moving average, exported instead; 0 = none */
    char model_name[256]; /* config.yaml's model_name; "" = the harvested model's path */
    char init[1024];      /* a GLP folder to start from (shape and normalizer too); "" = random */
    char normalizer[1024]; /* a statistics file (glp_normalizer_load) in place of the harvest's; "" = none */
} glp_train_cfg;

void glp_train_defaults(glp_train_cfg *c);
/* JSON config; unspecified fields keep the defaults. */
int glp_train_cfg_load(glp_train_cfg *c, const char *path);

/* Trains on the harvest folder acts/ into out/: ckpt.safetensors, loss.csv,
 * and when the last step is done out/glp/ (final.safetensors, config.yaml,
 * rep_statistics.safetensors). With an ema, out/glp/ holds the moving
 * average (its held-out loss is the one logged) and out/glp-raw/ the last
 * step's weights. */
int glp_train(const glp_train_cfg *c, const char *acts, const char *out, bool resume, const train_opts *o);

#endif
