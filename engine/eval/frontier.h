/* frontier.h — statistics of a steering frontier: which (fluency, concept)
 * points are Pareto-optimal, the area a method's frontier encloses, and
 * bootstrap intervals of a mean. Pure functions, no model.
 *
 * Fluency is a mean NLL (lower is better), concept a fraction of lexicon
 * words (higher is better). Point j dominates point i when f_j <= f_i and
 * c_j >= c_i with at least one inequality strict; a point is Pareto-optimal
 * when no point dominates it. Equal points (duplicates) do not dominate each
 * other, so all copies of a Pareto point are marked. Points with a NaN
 * coordinate are never optimal and dominate nothing.
 *
 * Area: a method's frontier is the staircase S(f) = max{c_i : f_i <= f}
 * over its points (its best concept score within a fluency budget f; 0
 * where no point is that fluent). Its area is the integral of S(f) over
 * f in [f_lo, f_hi], a range shared by all methods being compared (the
 * fluency span of all their points), so methods are comparable: a method
 * whose staircase is higher, or starts at lower NLL, encloses more. Units:
 * nats x concept fraction; dividing by (f_hi - f_lo) gives the mean
 * attainable concept score over the range. */
#ifndef MS_FRONTIER_H
#define MS_FRONTIER_H

#include <stdbool.h>
#include <stdint.h>

/* on[i] = whether point i (f[i], c[i]) is Pareto-optimal; returns the count. */
int fr_pareto(const double *f, const double *c, int n, bool *on);

/* Area under the staircase of points (f, c) over [f_lo, f_hi] (see above);
 * 0 when f_hi <= f_lo. */
double fr_area(const double *f, const double *c, int n, double f_lo, double f_hi);

/* Percentile bootstrap of the mean of x[n] (NaNs skipped): B resamples of
 * the n values with replacement, drawn from rng seed `seed` (the same seed
 * resamples the same indices, so intervals of different quantities over the
 * same prefixes are paired); *lo, *hi the (1-level)/2 and (1+level)/2
 * quantiles of the resampled means (linear interpolation between order
 * statistics). *mean is the plain mean. With no finite value all are NaN;
 * with one, lo = hi = mean. */
void fr_bootstrap_mean(const double *x, int n, int B, uint64_t seed, double level, double *mean, double *lo,
                       double *hi);

/* ---- a sweep's result (filled by the session's frontier command) */

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


void frontier_free(frontier_result *r);

#endif
