/* lexicon.h — concept lexicons built from the corpus labels, and the concept
 * score of a text.
 *
 * A word is a maximal run of letters (ASCII letters, lowercased, and any
 * non-ASCII UTF-8 bytes) of length >= 2. The lexicon of category C (against
 * the rest of the corpus, or against a second category) holds the words that
 * occur in at least LEX_MIN_DOCS of C's documents and whose document
 * frequency in C is at least LEX_MIN_RATIO times their (add-one smoothed)
 * document frequency in the other side. The concept score of a text is the
 * fraction of its words that are in the lexicon. */
#ifndef MS_LEXICON_H
#define MS_LEXICON_H

#include <stddef.h>

#include "corpus.h"
#include "strmap.h"

#define LEX_MIN_DOCS 3
#define LEX_MIN_RATIO 4.0

/* A set of words: owned copies, indexed through a strmap. */
typedef struct {
    char **word; /* n entries */
    int n, cap;
    strmap map;  /* word -> index */
} wordset;

void ws_init(wordset *s);
void ws_free(wordset *s);
/* Index of w[0..len), adding it when absent (add) or -1 when absent. */
int ws_find(wordset *s, const char *w, size_t len, int add);

/* Calls fn for every word of text (lowercased into a scratch buffer). */
typedef void (*word_fn)(void *ctx, const char *w, size_t len);
void lex_words(const char *text, size_t n, word_fn fn, void *ctx);

typedef struct {
    char category[64], against[64]; /* against "" = the rest of the corpus */
    wordset words;
    int pos_docs, neg_docs;
} lexicon;

/* The category whose name is `name`, or else the only category ending in
 * ".name" or "/name" (e.g. "food" → noun.food when fortunes/food is absent).
 * Returns the category string inside s, or NULL with an error that lists the
 * candidates (where names the command). */
const char *lex_resolve_category(const corpus_split *s, const char *name, const char *where);

/* Builds the lexicon of `category` against `against` (NULL or "" = the rest). */
int lex_build(lexicon *L, const corpus_split *s, const char *category, const char *against);
void lex_free(lexicon *L);
/* Fraction of text's words in L (0 when the text has none); *n_words gets the
 * count of words when not NULL. */
double lex_score(const lexicon *L, const char *text, size_t n, int *n_words);

#endif
