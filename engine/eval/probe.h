/* probe.h — 1-D probing: binary tasks over the labelled corpus, the
 * statistics (AUC, cross-validation, bootstrap), and the evaluation that
 * compares unit families (GLP meta-neurons, SAE latents, residual dims, MLP
 * neurons).
 *
 * A task is a list of examples, each a position in a text with a label y and
 * a side (train or test). Built-in tasks live in assets/probe/tasks.json as
 * references into the corpus (see probe_tasks_build); user tasks (probe add)
 * carry their own texts. The feature of an example is the activation at its
 * position, with the text truncated to PROBE_MAX_TOKENS tokens (BOS included
 * when the model uses it).
 *
 * Per task and family: rank units by |mean(y=1) - mean(y=0)| on train, keep
 * PROBE_KEEP, pick the unit with the best PROBE_FOLDS-fold cross-validated
 * AUC on train (the sign of each fold's classifier fixed on its training
 * folds), and report its test AUC with the sign fixed on all of train. */
#ifndef MS_PROBE_H
#define MS_PROBE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "corpus.h"
#include "glp.h"
#include "sae.h"
#include "transformer.h"

#define PROBE_MAX_TOKENS 128
#define PROBE_KEEP 512
#define PROBE_FOLDS 5
#define PROBE_BOOT 1000
#define PROBE_SIGMAS 3 /* meta-neurons at grid1000 indices 900, 700, 500 */
extern const int PROBE_SIGMA_INDEX[PROBE_SIGMAS];

/* ------------------------------------------------------------ statistics */

/* AUC of score for labels y (1 positive): the Mann-Whitney rank sum, ties
 * counted half. NaN when a class is empty. */
double probe_auc(const float *score, const uint8_t *y, int n);
/* Stratified fold of each row (0..k-1), seeded: each class is shuffled and
 * dealt round-robin, so fold sizes differ by at most one per class. */
void probe_folds(const uint8_t *y, int n, int k, uint64_t seed, int *fold);
/* mean(y=1) - mean(y=0) of column j of X[n, units] over rows with use[r]
 * (use NULL = all), for every column, into diff[units]. */
void probe_mean_diff(const float *X, int n, int units, const uint8_t *y, const uint8_t *use, double *diff);
/* The `keep` columns of largest |diff|, in decreasing order (ties: lower
 * index first); returns the count (min(keep, units)). */
int probe_top_units(const double *diff, int units, int keep, int *idx);
/* Mean over folds of the AUC on each fold of sign·v, the sign taken from the
 * mean difference on the other folds (+1 when zero). */
double probe_cv_auc(const float *v, const uint8_t *y, const int *fold, int n, int k);
/* Percentile bootstrap of the mean of x[n]: B resamples with replacement,
 * seeded; the 2.5% and 97.5% quantiles into lo, hi. */
void probe_bootstrap(const double *x, int n, int B, uint64_t seed, double *lo, double *hi);

/* ------------------------------------------------------------ tasks */

enum { PROBE_TRAIN = 0, PROBE_HELDOUT = 1, PROBE_TEXT = 2 }; /* where an example's text lives */

typedef struct {
    int doc;     /* train: train-split index; heldout: valid then test; text: index into texts */
    int pos;     /* token position in the text (BOS not counted), -1 = the last one kept */
    uint8_t space, y, test;
} probe_ex;

typedef struct {
    char name[64];
    char kind[8];   /* "doc", "token" or "text" */
    char desc[128];
    probe_ex *ex;
    int n;
    char **texts;   /* kind "text" only */
    int n_texts;
    bool user;
} probe_task;

typedef struct {
    probe_task *t;
    int n;
    uint32_t tok_hash; /* of the tokenizer the token positions were made with */
    int n_train, n_valid, n_test; /* corpus sizes the references assume */
} probe_taskset;

/* A fingerprint of a tokenizer's vocabulary (FNV-1a over the token bytes). */
uint32_t probe_tok_hash(const tokenizer *t);
/* Counts of a task's examples: [train neg, train pos, test neg, test pos]. */
void probe_task_counts(const probe_task *t, int c[4]);

/* Builds the built-in tasks from the corpus in `corpus_dir` (all three
 * splits) and tokenizer `tok`: at most per_class examples per class and
 * side, balanced, seeded. Writes dir/tasks.json atomically; a summary
 * table goes to `log` when not NULL. */
int probe_tasks_build(const char *corpus_dir, const tokenizer *tok, int per_class, uint64_t seed, const char *dir,
                      void (*log)(void *ctx, const char *line), void *log_ctx);
/* Reads dir/tasks.json (no built-ins when missing) plus every user task in
 * dir/user/ and in $XDG_DATA_HOME/metascope/probe/. */
int probe_tasks_load(probe_taskset *ts, const char *dir);
void probe_tasks_free(probe_taskset *ts);
/* A user task from two files of texts (one per line, the feature at the
 * last token), split 50/50 per class by a seeded shuffle; saved as
 * NAME.json under dir/user/ when that is writable, else under
 * $XDG_DATA_HOME/metascope/probe/. *where receives the path (malloc'd). */
int probe_task_add(const char *dir, const char *name, const char *pos_file, const char *neg_file, uint64_t seed,
                   char **where);
/* Where user tasks go when the assets are read-only. */
char *probe_user_dir(void);

/* ------------------------------------------------------------ evaluation */

enum { PF_META, PF_SAE, PF_RESID, PF_MLP, PF_N };
extern const char *const PROBE_FAMILY[PF_N];
/* "meta,sae,resid,mlp" (any subset, any order) into a mask of 1 << PF_*. */
int probe_parse_units(const char *s, unsigned *mask, const char *cmd);

typedef struct {
    const tf_model *m;
    tf_state *st;
    int layer;            /* resid and mlp */
    int bos;              /* < 0: none */
    const glp_model *glp; /* NULL: no meta family */
    glp_work *glp_work;
    int glp_layer;
    const sae_model *sae; /* NULL: no sae family */
    sae_work *sae_work;
    unsigned families;
    const corpus_split *split[3]; /* train, valid, test */
    int max_per_class;    /* 0: all of each task's examples */
    uint64_t seed;
    volatile sig_atomic_t *cancel;
    void (*progress)(void *ctx, const char *line);
    void *progress_ctx;
} probe_opts;

typedef struct {
    int unit;           /* index within the family; meta: (sigma, block, i) flattened */
    int block, sigma_i; /* meta only (-1 otherwise) */
    double cv_auc, test_auc;
    char name[40];      /* e.g. "sae:12", "mlp:3:40", "meta:1:7@0.1" */
    char jump[32];      /* the unit for `top` (meta without the sigma) */
} probe_win;

typedef struct {
    char name[64], kind[8];
    int n[4];           /* train neg, train pos, test neg, test pos */
    probe_win win[PF_N];
} probe_row;

typedef struct probe_result {
    probe_row *rows;
    int n;
    unsigned families;
    double mean[PF_N], lo[PF_N], hi[PF_N];
    int layer, glp_layer, sae_layer;
    double seconds;
} probe_result;

/* Runs the tasks ts->t[sel[i]] (i < nsel). */
int probe_run(const probe_opts *o, const probe_taskset *ts, const int *sel, int nsel, probe_result *r);
void probe_result_free(probe_result *r);
/* The table as text (malloc'd) and as CSV (malloc'd). */
char *probe_table_text(const probe_result *r);
char *probe_table_csv(const probe_result *r);
/* Writes dir/probe.txt and dir/probe.csv atomically (creating dir). */
int probe_write(const probe_result *r, const char *dir);

/* The probe command over a session (cmd_probe.c): argv[0] is "probe";
 * progress lines go to progress when not NULL. */
struct session;
int probe_exec(struct session *S, int argc, char **argv, void (*progress)(void *ctx, const char *line), void *ctx);

#endif
