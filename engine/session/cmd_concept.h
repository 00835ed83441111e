/* cmd_concept.h — the session word `concept`: named token-label concepts,
 * the active one and its distilled classifier (tconcept.h), and what a front
 * end reads of them (labels and scores of the prompt's tokens, the
 * highest-scoring held-out tokens) without parsing printed text.
 *
 *   concept                          list the concepts (* marks the active one)
 *   concept NAME UNITS [options]     define one from units and make it active
 *   concept NAME --auto CAT [opts]   find the units for a corpus category
 *   concept NAME                     make it active, train its classifier if
 *                                    needed, label the prompt's tokens
 *   concept off                      no active concept
 *   concept top [K]                  the active concept's best held-out tokens
 *   concept export DIR               its classifiers and labels to files
 *
 * The classifier is trained on demand (first `concept NAME`, `top`,
 * `export`, or a front end's concept_train), on small samples (tconcept.h);
 * loading a model, GLP or SAE, or `set bos`, makes it stale (retrained on
 * the next demand). */
#ifndef MS_CMD_CONCEPT_H
#define MS_CMD_CONCEPT_H

#include <stdint.h>

#include "cmd.h"

int cmd_concept(session *S, words *w);

/* ---- for front ends */

/* The name of concept i (0-based; NULL past the last): Tab completion. */
const char *concept_name(const session *S, int i);

typedef struct {
    char name[32], units[256], category[64];
    bool trained;    /* its classifier fits the loaded models */
    char why[256];   /* why training failed ("" when it has not been tried) */
    char clf[32];    /* the classifier shown: "resid@3" or "embed window 3" */
    double auc, f1;  /* against the held-out labels */
    int train_tok, train_pos, test_tok, test_pos;
    double seconds;
} concept_info;

/* Fills ci and returns true when a concept is active. */
bool concept_active(session *S, concept_info *ci);
/* Trains the active concept's classifier unless it is trained (progress
 * through S->progress, cancellable). 0 when there is nothing to do. */
int concept_train(session *S, const char *cmd);
/* The active concept over the prompt, aligned with S->prompt_ids: lab[t] 1 /
 * 0 (-1 for BOS), score[t] the classifier's probability (NaN when it is not
 * trained). */
int concept_prompt(session *S, int8_t *lab, float *score, const char *cmd);

#define CONCEPT_BEFORE 12
#define CONCEPT_AFTER 4
/* The held-out token of rank i of the trained active concept, with up to
 * CONCEPT_BEFORE tokens before and CONCEPT_AFTER after it in its document. */
typedef struct {
    int doc, pos;   /* document (index in the test split) and token position */
    float score;
    bool label;     /* the concept labels it positive */
    int n, peak;    /* context tokens; index of the hit among them */
    int ids[CONCEPT_BEFORE + CONCEPT_AFTER + 1];
    float scores[CONCEPT_BEFORE + CONCEPT_AFTER + 1];
    uint8_t labels[CONCEPT_BEFORE + CONCEPT_AFTER + 1];
} concept_hit;
int concept_n_hits(session *S);
int concept_hit_get(session *S, int i, concept_hit *h);
/* The hit's document text from its start through CONCEPT_AFTER tokens past
 * it (malloc'd, NUL-terminated), to make it the prompt; *pos gets the hit's
 * token position in that text. */
char *concept_hit_text(session *S, int i, int *pos);

#endif
