/* eval_steer.h — the steering frontier (DESIGN.md "Evaluations"): for each
 * concept (a corpus category) and steering source, each alpha and each
 * method (plain addition, +GLP projection at u = 0.3, 0.5, 0.7), greedy
 * continuations of the same N held-out neutral prefixes; fluency and
 * concept score per point with bootstrap intervals, the Pareto-optimal
 * points and each method's frontier area (frontier.h).
 *
 * Prefixes: the first prefix_tokens tokens (BOS first when used) of N
 * documents of the corpus' test split, drawn (seeded) from documents whose
 * category is none of the concepts'.
 * Sources: "diffmean", the concept's DiffMean direction at the GLP's layer
 * (exactly what 'vec NAME diffmean CAT' makes); and, when an SAE of that
 * layer is loaded, "sae:I", the unit-norm decoder row of the latent whose
 * direction has the largest cosine with the DiffMean direction.
 * Alpha is a multiple of the layer's mean residual norm, as in 'steer'.
 * Fluency: mean NLL of the continuation under the unsteered model; concept:
 * fraction of its words in the category's lexicon (lexicon.h). End-of-text
 * does not stop a continuation. */
#ifndef MS_EVAL_STEER_H
#define MS_EVAL_STEER_H

#include <stdbool.h>
#include <stdint.h>

#include "session.h"

#define FR_MAX_METHODS 4
#define FR_MAX_CONCEPTS 16
#define FR_MAX_ALPHAS 32

typedef struct {
    char concepts[FR_MAX_CONCEPTS][64]; /* as given (resolved in the blocks) */
    int n_concepts;
    double alphas[FR_MAX_ALPHAS];
    int n_alphas;
    int prefixes, tokens, prefix_tokens;
    int boot;      /* bootstrap resamples */
    char out[1024]; /* folder for frontier.csv ("" = none) */
} frontier_opts;

typedef struct {
    double mean, lo, hi; /* over prefixes, 95% percentile bootstrap */
} fr_stat;

typedef struct {
    char concept[64];   /* the resolved category */
    char source[32];    /* "diffmean" or "sae:I" */
    double cosine;      /* sae: cosine of the latent's direction with the DiffMean's */
    int lex_words;
    fr_stat *fl, *co;   /* [n_alphas * n_methods], alpha-major */
    bool *pareto;       /* among all points of the block */
    double area[FR_MAX_METHODS];
    double f_lo, f_hi;  /* the fluency span of the block's points: the area's range */
} frontier_block;

typedef struct frontier_result {
    frontier_opts o;
    int layer, n_methods; /* methods: the first n_methods of frontier_method() */
    frontier_block *blocks;
    int n_blocks;
    char note[160];       /* why methods or sources were skipped ("" = none) */
    int generations;
    double seconds;
} frontier_result;

/* Method m: its name ("plain", "glp@0.3", ...) and GLP u (0 = plain). */
const char *frontier_method(int m, float *u);

typedef void (*frontier_progress_fn)(void *ctx, int done, int total);

/* Parses the options (argv[0] names the command in errors), runs the sweep,
 * prints the tables and plots through the session, writes OUT/frontier.csv
 * when --out is given, and keeps the result in S->frontier_last. */
int frontier_exec(session *S, int argc, char **argv, frontier_progress_fn progress, void *ctx);
void frontier_free(frontier_result *r);

#endif
