/* train_lm.h — training the Llama-family language model from the corpus:
 * config file, AdamW loop with cosine schedule and gradient accumulation,
 * atomic checkpoints that resume bit-for-bit, held-out evaluation. */
#ifndef MS_TRAIN_LM_H
#define MS_TRAIN_LM_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "checkpoint.h"

#include "transformer.h"

typedef struct {
    char corpus[512];    /* folder with train/valid/test .jsonl(.lz4) */
    char tokenizer[512]; /* tokenizer.json */
    char init[512];      /* a model folder to start from (a second stage); "" = random */
    tf_config model;     /* vocab comes from the tokenizer */
    int batch, accum;
    long steps, warmup;
    float lr, warm_start, final_lr, weight_decay, clip, beta1, beta2, eps, init_std;
    uint64_t seed;
    double ckpt_minutes;
    int eval_every, eval_batches, log_every;
} train_cfg;

/* JSON config; unspecified fields keep the defaults of train_cfg_defaults. */
void train_cfg_defaults(train_cfg *c);
int train_cfg_load(train_cfg *c, const char *path);

/* Trains into out/: ckpt.safetensors (params, AdamW moments, step, RNG),
 * loss.csv, and at the end model/ (HF folder, f32). With resume, continues
 * from out/ckpt.safetensors. With c->init, the weights start from that
 * model folder (same shape and vocabulary) and the optimizer and schedule
 * start afresh: a further stage of training. */
int train_lm(const train_cfg *c, const char *out, bool resume, const train_opts *o);

typedef struct {
    double loss, bits_per_byte, ppl;
    size_t tokens, bytes;
} lm_eval;
/* Mean next-token loss over a corpus split with the inference engine,
 * windows of the model's context overlapping by one token. */
int eval_lm(const tf_model *m, const char *corpus_dir, const char *split, lm_eval *r);

#endif
