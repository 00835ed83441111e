/* tconcept.h — a concept's distilled classifier for interactive use: the
 * session's active concept (`concept`), whose labels and scores the
 * explorer shows per token, with its highest-scoring held-out tokens.
 *
 * Cost is kept to seconds by training on small seeded samples, never on a
 * whole split: a train pool from the train split and a held-out pool from
 * the test split (tlabel.h pools: up to `docs` documents of the category and
 * as many of its siblings for a category concept, else 2*docs documents of
 * any category, at most TL_MAX_TOKENS tokens each). One forward pass per pool
 * captures what the units and the residual classifier need; the concept
 * labels both pools; both classifiers of distill.h (logistic regressions on
 * the residual at the layer, and on an embedding window) learn the train
 * labels and score the held-out pool, whose tokens ranked by the shown
 * classifier's score are the concept's examples. */
#ifndef MS_TCONCEPT_H
#define MS_TCONCEPT_H

#include "distill.h"

enum { TC_TRAIN, TC_TEST };

typedef struct {
    int features;         /* TL_CLF_RESID or TL_CLF_EMBED: the classifier shown and ranked by */
    int expand, window;   /* labelling (tlabel.h) */
    int radius;           /* embedding window: 2*radius+1 tokens */
    int docs;             /* pool size (see above) */
    uint64_t seed;
    const char *category; /* the truth and the pools' documents, or NULL */
} tc_opts;

typedef struct {
    tl_concept c;
    tc_opts o;            /* o.category is not kept: category[] is ("" for none) */
    char category[64];
    int layer;            /* resid units and the residual classifier (M->layer at training) */
    logreg clf[TL_CLF_N];
    tl_pool pool[2];      /* TC_TRAIN, TC_TEST */
    uint8_t *lab[2];      /* the concept's labels of each pool */
    int n_pos[2];
    float *score[TL_CLF_N]; /* held-out tokens' probabilities, per classifier */
    int *rank;            /* held-out tokens by descending score of o.features */
    double auc[TL_CLF_N], f1[TL_CLF_N]; /* against the held-out labels (F1 at p > 0.5) */
    double acc_truth[TL_CLF_N];         /* against the category (NaN without one) */
    double lab_f1_truth;                /* the labels against the category (NaN without one) */
    double seconds;
} tc_model;

/* Fits m for concept c (units checked by the caller) at M->layer; progress
 * lines through progress(ctx, line) when not NULL; cancellable through
 * M->cancel. On failure m holds nothing. */
int tc_train(tc_model *m, const tl_models *M, const corpus_split *s_train, const corpus_split *s_test,
             const tl_concept *c, const tc_opts *o, void (*progress)(void *, const char *), void *ctx);
void tc_free(tc_model *m);

/* Labels and shown-classifier probabilities of another pool (a prompt, s its
 * one-document split): lab[p->n_tok], score[p->n_tok]. */
int tc_score_pool(const tc_model *m, const tl_models *M, const tl_pool *p, const corpus_split *s, uint8_t *lab,
                  float *score);

/* The held-out token of rank i (0 = highest score): token t of the pool, its
 * document di, and the window [w0, w1) of up to `before` tokens before and
 * `after` after it within the document. -1 when i is out of range. */
typedef struct {
    int t, di, w0, w1;
} tc_hit;
int tc_hit_at(const tc_model *m, int i, int before, int after, tc_hit *h);
int tc_n_hits(const tc_model *m);

/* "resid@3" or "embed window 3" for classifier k. */
void tc_clf_name(const tc_model *m, int k, char *buf, size_t cap);
/* "none", "word" or "window:N". */
void tc_expand_str(int expand, int window, char *buf, size_t cap);

/* Writes dir/classifier-resid.safetensors and dir/classifier-embed.safetensors
 * (tl_clf_write; metadata: format, features, layer, radius, concept, the
 * unit families and thresholds, the decision threshold 0.5, expand, category,
 * pool sizes, held-out AUC, and the model / GLP / SAE paths given), and
 * dir/labels-train.jsonl.lz4, dir/labels-test.jsonl.lz4 (tl_write_labels of
 * each pool: byte spans of positive tokens). The folder is created. */
int tc_export(const tc_model *m, const char *dir, const corpus_split *s_train, const corpus_split *s_test,
              const char *model_path, const char *glp_path, const char *sae_path);

#endif
