/* checkpoint.h — what a resumable training run keeps (train-lm, train-glp):
 * out/ckpt.safetensors with the parameters, AdamW moments, RNG state and step
 * (and the parameters' moving average when the run keeps one),
 * plus a shape string and a signature of everything that shapes the run (a
 * resume must match both), written atomically; and out/loss.csv, truncated
 * to the checkpoint's step on resume. */
#ifndef MS_CHECKPOINT_H
#define MS_CHECKPOINT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "optim.h"
#include "rng.h"

typedef struct {
    float *params;     /* n floats */
    adamw_state *opt;  /* moments (n each) and step */
    rng_t *rng;
    double *elapsed;   /* training seconds over all runs */
    const char *shape, *signature;
    const char *what;  /* "model", "GLP": for messages */
    uint64_t *counters; /* optional extra state (the SAE's dead-latent ages) */
    size_t n_counters;
    float *ema;         /* optional: an exponential moving average of params (n floats) */
} ckpt_view;

/* How a training run reports and stops (train-lm, train-glp, train-sae). */
typedef struct {
    FILE *log;  /* progress and log lines */
    bool tty;   /* rewrite one progress line instead of printing lines */
    volatile sig_atomic_t *stop; /* set → checkpoint and return */
    long max_steps; /* stop (with a checkpoint) after this many steps this run; 0 = no limit */
} train_opts;

/* Whether the run ends after this step (stop requested or max_steps done). */
static inline bool train_should_stop(const train_opts *o, long run_steps) {
    return (o->stop && *o->stop) || (o->max_steps && run_steps >= o->max_steps);
}

int ckpt_save(const ckpt_view *c, const char *out);
/* Fills the view from out/ckpt.safetensors after checking shape, signature
 * and every tensor's size. */
int ckpt_load(const ckpt_view *c, const char *out);
/* loss.csv with `header` (one line, with its newline): on resume the rows up
 * to `step` are kept (atomically rewritten), then the file is opened to append. */
FILE *ckpt_open_log(const char *out, const char *header, long step, bool resume);

/* Start of a run in out/: with resume and an existing checkpoint, loads it
 * into the view; then opens loss.csv (see ckpt_open_log). NULL on error. */
FILE *ckpt_start(const ckpt_view *c, const char *out, const char *header, bool resume);

/* After a step: saves when the run stops, at its last step, or when
 * `minutes` have passed since *last (then reset to now). 0 or -1 (save failed). */
int ckpt_after_step(const ckpt_view *c, const char *out, bool stop, bool last_step, double minutes, double *last);

#endif
