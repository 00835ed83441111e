/* tlabel.h — token labels from concepts (sets of SAE latents, GLP
 * meta-neurons, residual dims, MLP neurons), their quality against the
 * corpus categories, and labeller comparison.
 *
 * Ground truth: a token is in category C when its document is (WordNet
 * glosses carry their lexicographer file, fortunes and FOLDOC entries their
 * topic). A pool for C is a seeded sample of a split: up to max_pos documents
 * of C and max_neg of its siblings (the categories sharing C's prefix up to
 * the first '.' or '/', as the probing tasks use), each cut to TL_MAX_TOKENS
 * tokens. Category NULL: up to max_neg documents of any category, no truth.
 *
 * A concept labels token t positive when any of its units u has value > u.thr
 * (then optionally grown to `window` neighbours each side, or to the whole
 * word). Unit values: resid:I and mlp:L:I at their layers, sae:I the SAE's
 * dense code, meta:B:I the GLP meta-neuron at sigma 0.1 with noise seeded
 * per (document, position), so a token's value does not depend on the pool. */
#ifndef MS_TLABEL_H
#define MS_TLABEL_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "corpus.h"
#include "glp.h"
#include "probe.h"
#include "sae.h"
#include "transformer.h"

#define TL_MAX_TOKENS 128
#define TL_MAX_UNITS 16

/* Families are probe.h's PF_META, PF_SAE, PF_RESID, PF_MLP. */
typedef struct {
    int fam, a, b; /* meta: block a, neuron b; sae/resid: index a; mlp: layer a, neuron b */
    float thr;
} tl_unit;

typedef struct {
    tl_unit u[TL_MAX_UNITS];
    int n;
} tl_concept;

/* "sae:18,meta:1:7>0.5,mlp:3:40" (threshold after '>', default 0); unit
 * ranges are checked against the models in tl_models_check. */
int tl_parse_concept(const char *s, tl_concept *c, const char *cmd);
/* The same form back (thresholds with %g). */
void tl_concept_str(const tl_concept *c, char *buf, size_t cap);

typedef struct {
    const tf_model *m;
    tf_state *st;
    int layer;            /* resid units and the residual classifier */
    int bos;              /* < 0: none */
    const glp_model *glp; /* NULL: no meta units */
    glp_work *glp_work;
    int glp_layer;
    const sae_model *sae; /* NULL: no sae units */
    sae_work *sae_work;
    volatile sig_atomic_t *cancel;
} tl_models;

int tl_models_check(const tl_models *M, const tl_concept *c, const char *cmd);

/* ---- pools */

typedef struct {
    int n_docs, n_tok;
    int *doc;       /* [n_docs] index in the split */
    int *start;     /* [n_docs + 1] first token of each document */
    int *ids;       /* [n_tok] */
    int *off, *end; /* [n_tok] byte range of each token in its text */
    int *pos;       /* [n_tok] position in the document */
    uint8_t *truth; /* [n_tok] 1 when the document is in the category */
    bool has_truth;
} tl_pool;

int tl_pool_make(tl_pool *p, const corpus_split *s, const tokenizer *tok, const char *category, int max_pos,
                 int max_neg, uint64_t seed, const char *cmd);
/* One text as a one-document pool (doc index 0, no truth), its first
 * max_tokens tokens: a prompt, which may be longer than TL_MAX_TOKENS. */
int tl_pool_text(tl_pool *p, const corpus_doc *d, const tokenizer *tok, int max_tokens, const char *cmd);
void tl_pool_free(tl_pool *p);
/* The sibling pattern of a category: "noun.food" -> "noun.", "fortunes/x"
 * -> "fortunes/"; "" when it has neither separator. */
void tl_siblings(const char *category, char *prefix, size_t cap);

/* Residual rows of a pool (forward passes stopped after the deepest layer
 * needed): resid[k] [n_tok, d] at layers[k], mlp [n_tok, d_ff] at mlp_layer
 * (NULL when mlp_layer < 0). */
typedef struct {
    int n_layers, layers[3];
    float *resid[3];
    int mlp_layer;
    float *mlp;
} tl_acts;

int tl_acts_run(const tl_models *M, const tl_pool *p, const int *layers, int n_layers, int mlp_layer, tl_acts *a);
void tl_acts_free(tl_acts *a);
/* The rows at `layer` (NULL when not captured). */
const float *tl_acts_at(const tl_acts *a, int layer);

/* All units of one family over the pool: X[n_tok, *units] (malloc'd). */
float *tl_family(const tl_models *M, const tl_pool *p, const tl_acts *a, int fam, int *units);
/* Values of a concept's units: V[n_tok, c->n] (malloc'd); computes (and
 * captures) whatever the units need. */
float *tl_concept_values(const tl_models *M, const tl_pool *p, const tl_concept *c);
/* The same in two steps, so one forward pass can also capture other rows:
 * the residual layers the units read (layers[3]; returns their count, or -1)
 * and their MLP layer (-1: none); then the values from captured rows. */
int tl_concept_layers(const tl_models *M, const tl_concept *c, int *layers, int *mlp_layer);
float *tl_concept_values_acts(const tl_models *M, const tl_pool *p, const tl_concept *c, const tl_acts *a);

/* ---- labels and metrics */

enum { TL_EXPAND_NONE, TL_EXPAND_WINDOW, TL_EXPAND_WORD };

/* lab[n_tok] from the values V[n_tok, c->n]; texts give word boundaries. */
void tl_label(const tl_concept *c, const float *V, const tl_pool *p, const corpus_split *s, int expand, int window,
              uint8_t *lab);
/* Precision, recall, F1 of pred against truth (NaN where undefined). */
void tl_prf(const uint8_t *pred, const uint8_t *truth, int n, double *prec, double *rec, double *f1);
/* The threshold on v maximizing Youden's J = TPR - FPR of (v > thr)
 * against y (not F1, which labelling everything scores well on when
 * positives are common); *J gets it. Nothing positive when no gap helps. */
float tl_best_threshold(const float *v, const uint8_t *y, int n, double *J);

/* The k units of family fam (X[n, units] from tl_family; mlp at M->layer)
 * whose mean is most above on positive tokens than on negative ones, each
 * with its J-best threshold on these rows; appended to c. */
int tl_auto_units(const tl_models *M, const float *X, int n, int units, int fam, const uint8_t *y, int k,
                  tl_concept *c);

/* The concept found for a category on split s: a pool of up to `docs`
 * documents of it and as many of its siblings (seeded), then the k units of
 * family fam by tl_auto_units. */
int tl_auto_concept(const tl_models *M, const corpus_split *s, const char *category, int fam, int k, int docs,
                    uint64_t seed, tl_concept *c, const char *cmd);

/* Writes one JSON line per pool document: {"doc", "id"?, "category",
 * "truth"?, "n_tokens", "spans": [[byte begin, byte end], ...]} (runs of
 * positive tokens), lz4-compressed when path ends in .lz4; atomically. */
int tl_write_labels(const char *path, const tl_pool *p, const corpus_split *s, const uint8_t *lab);

#endif
