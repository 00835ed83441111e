/* distill.h — distilling a concept's token labels into cheap classifiers,
 * and comparing labellers (unit families) on corpus categories.
 *
 * Distillation: the concept labels the tokens of a train pool and a test
 * pool (tlabel.h); two logistic regressions (logreg.h) learn the train
 * labels: one on the residual at a chosen layer (a forward pass up to that
 * layer), one on the token embeddings of a window of 2*radius+1 tokens
 * around each token (zeros past the document's ends; no forward pass at
 * all). On the test pool each is scored against the labels (AUC, F1 at
 * p > 0.5) and against the ground truth (accuracy, F1), and the cost per
 * token of the labeller and of each classifier is timed in the same run.
 *
 * Comparison: per category, for each family, the k units found on the
 * train pool (tl_auto_units) label the test pool; F1 against the truth and
 * the AUC of the first unit's raw value, then the mean over categories with
 * a percentile bootstrap interval (probe_bootstrap). */
#ifndef MS_DISTILL_H
#define MS_DISTILL_H

#include "logreg.h"
#include "tlabel.h"

enum { TL_CLF_RESID, TL_CLF_EMBED, TL_CLF_N };
extern const char *const TL_CLF_NAME[TL_CLF_N];

typedef struct {
    double auc_lab, f1_lab;    /* against the concept's labels */
    double acc_truth, f1_truth; /* against the corpus category */
    double us_per_token;       /* features + score, per test token */
} tl_clf_stats;

typedef struct {
    int train_tok, test_tok, train_pos, test_pos; /* tokens and labelled positives */
    double lab_prec, lab_rec, lab_f1, lab_acc;    /* labels vs truth on the test pool */
    double label_us_per_token;                    /* forward + units + thresholds */
    tl_clf_stats clf[TL_CLF_N];
    double base_acc; /* accuracy of always predicting the majority truth */
} tl_distill_result;

typedef struct {
    int expand, window; /* labelling (tlabel.h) */
    int radius;         /* embedding window: 2*radius+1 tokens */
    logreg_opts lr;
} tl_distill_opts;

/* Embedding-window features of a pool: F[n_tok, (2r+1) d] (malloc'd). */
float *tl_embed_features(const tf_model *m, const tl_pool *p, int radius);

/* Fits and evaluates; the fitted classifiers go to out[TL_CLF_N] (caller
 * frees with logreg_free) when out is not NULL. */
int tl_distill(const tl_models *M, const tl_pool *train, const corpus_split *s_train, const tl_pool *test,
               const corpus_split *s_test, const tl_concept *c, const tl_distill_opts *o, tl_distill_result *r,
               logreg *out);

/* A fitted classifier as safetensors: F32 tensors weight [d], mean [d],
 * sd [d] and bias [1], p = sigmoid(weight . ((x - mean) / sd) + bias), with
 * the caller's metadata (key, value pairs), atomically. tl_clf_read loads
 * one back (m allocated here). */
int tl_clf_write(const char *path, const logreg *m, const char *const *meta, int nmeta);
int tl_clf_read(const char *path, logreg *m);

/* ---- comparison */

typedef struct {
    char category[64];
    char units[PF_N][96];  /* the concept found per family */
    double f1[PF_N], auc[PF_N];
    int test_tok, test_pos;
} tl_cmp_row;

typedef struct {
    tl_cmp_row *rows;
    int n;
    unsigned families;
    double mean_f1[PF_N], lo_f1[PF_N], hi_f1[PF_N];
    double mean_auc[PF_N], lo_auc[PF_N], hi_auc[PF_N];
} tl_cmp_result;

int tl_compare(const tl_models *M, const corpus_split *s_train, const corpus_split *s_test, char **categories,
               int n_cat, unsigned families, int k, int docs, uint64_t seed, void (*progress)(void *, const char *),
               void *ctx, tl_cmp_result *r);
void tl_cmp_free(tl_cmp_result *r);
/* The table as text and as CSV (malloc'd). */
char *tl_cmp_text(const tl_cmp_result *r);
char *tl_cmp_csv(const tl_cmp_result *r);

#endif
