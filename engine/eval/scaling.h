/* scaling.h — how the GLP's held-out loss falls with compute: train a set of
 * budgets (sizes x data, one train-glp config each), evaluate each on the
 * same held-out rows, and fit L(C) = E + A·C^-alpha with C = 6·params·rows
 * seen in training. */
#ifndef MS_SCALING_H
#define MS_SCALING_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    double E, A, alpha;
    double rmse; /* root mean squared residual of the loss */
} scaling_fit;

/* Least squares over alpha in (0, 3]: for each alpha the best E >= 0 and
 * A >= 0 are linear; alpha is found on a log grid and refined by golden
 * section. Needs n >= 3 points with distinct C > 0. */
int scaling_fit_power(const double *C, const double *L, int n, scaling_fit *f);

typedef struct {
    char name[64];
    int d_input, d_model, d_mlp, n_layers;
    double params, rows, compute; /* rows: activations seen (steps x batch); compute: 6 x params x rows per stage */
    double heldout_loss, fd;      /* eval_glp on the shared held-out rows */
    double fd_floor, fd_gauss;
    double minutes;               /* training time of this run (0 if it was done) */
    uint64_t space;               /* hash of its normalizer: losses compare only within one space */
} scaling_point;

typedef struct {
    const char *acts, *budgets, *out;
    const char *eval_acts; /* held-out rows; NULL: out/test-acts, harvested from the test split */
    const char *corpus;    /* for that harvest; NULL: the bundled corpus */
    const char *extra_config, *extra_glp; /* an already trained GLP as one more point (may be NULL) */
    const char *const *extra_stages;      /* its later stages (train-glp --init), in order: their rows and */
    int n_extra_stages;                   /* compute add (a stage may have fewer blocks than the GLP) */
    const char *extra_name;
    long eval_rows;
    int fd_steps;
    FILE *log;
    bool tty;
    volatile sig_atomic_t *stop;
    const char *normalizer; /* the budgets' basis (train-glp --normalizer); NULL: the harvest's statistics */
} scaling_opts;

/* Trains (or resumes, or reuses when finished) out/<name>/ for every
 * <budgets>/NAME.json in name order, evaluates each on the last 2·eval_rows
 * rows of eval_acts (FD with the floor and Gaussian, as eval-glp), writes
 * out/scaling.csv and out/fit.txt. Every point must share one normalizer
 * (held-out losses in different spaces do not compare). *pts is malloc'd. */
int scaling_run(const scaling_opts *o, scaling_point **pts, int *n, scaling_fit *fit);

#endif
