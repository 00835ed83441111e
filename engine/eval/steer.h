/* steer.h — steering vectors and the steering hook.
 *
 * A steering vector is a unit-norm direction in one layer's residual stream.
 * DiffMean: the mean over documents of a category of each document's mean
 * residual (every position but the first), minus the same mean over the
 * other documents. Prompt pair: mean residual of prompt A minus that of B.
 *
 * The hook applies h ← P(h + alpha·v) at the last position of every forward
 * call (the last prompt token at prefill, then each generated token); plain
 * steering is the same without the GLP projection P. */
#ifndef MS_STEER_H
#define MS_STEER_H

#include <signal.h>
#include <stdbool.h>

#include "corpus.h"
#include "glp.h"
#include "glp_ode.h"
#include "rng.h"
#include "transformer.h"

typedef struct {
    char name[32];
    int layer, d;
    float *v;         /* [d], unit norm */
    double raw_norm;  /* |difference| before normalizing */
    int pos_docs, neg_docs;
    char kind[16];    /* "diffmean", "prompt", "sae" */
    char pos[64], neg[64]; /* categories (neg "" = the rest) or "" */
    char concept[64]; /* category whose lexicon scores steered text ("" = none) */
} steer_vec;

/* Documents are run one at a time, truncated to max_tokens (BOS first when
 * bos >= 0). sum[d] accumulates the per-document mean residual of `layer`
 * over positions >= 1; *norm_sum / *norm_count the residual norms there.
 * Documents with fewer than 2 tokens are skipped; *used counts the others.
 * Stops early when *cancel is set (returns -1 with a message). */
typedef struct {
    const tf_model *m;
    tf_state *st;
    int layer, bos, max_tokens;
    volatile sig_atomic_t *cancel;
} steer_runner;

int steer_doc_means(const steer_runner *r, const corpus_split *c, const int *docs, int ndocs, double *sum,
                    double *norm_sum, long *norm_count, int *used);
/* Mean residual over the positions >= 1 of one token sequence, into mean[d]. */
int steer_seq_mean(const steer_runner *r, const int *ids, int n, double *mean);

/* Up to cap documents of the split (seeded sample when more qualify):
 * category == cat when want, else category != cat (and == other when other
 * is not NULL/""). Returns the count; *docs malloc'd. */
int steer_pick_docs(const corpus_split *c, const char *cat, bool want, const char *other, int cap, uint64_t seed,
                    int **docs);

/* One side of a DiffMean: the mean over steer_pick_docs(c, cat, want, other,
 * cap, seed) of each document's mean residual, into mean[d]; *used counts
 * the documents. Errors name cmd. */
int steer_side_mean(const steer_runner *r, const corpus_split *c, const char *cat, bool want, const char *other,
                    int cap, uint64_t seed, double *mean, int *used, const char *cmd);

/* Fills v->v from the difference a - b (length d), normalized; fails when the
 * difference is zero. */
int steer_set_direction(steer_vec *v, const double *a, const double *b, int d);

typedef struct {
    const float *v;
    int layer, d;
    float alpha;          /* absolute: the ratio times the mean residual norm */
    const glp_model *glp; /* NULL: plain steering */
    glp_work *work;
    float u;
    int steps;            /* the projection's grid (sigma_start = grid_steps[floor(u steps)]) */
    glp_ode ode;          /* its solver and budget (zero: the reference Euler) */
    rng_t rng;            /* projection noise */
    const tf_state *st;
    int calls;            /* positions steered */
    int failed;           /* the projection failed (message set) */
} steer_hook;

/* tf_hook_fn: acts only on the chunk holding the call's last position. */
void steer_hook_fn(void *ctx, int layer, int pos0, int n, float *x, int dim);

#endif
