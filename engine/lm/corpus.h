/* corpus.h — the labelled text corpus: JSON lines {"text", "source",
 * "category"} per split (train / valid / test), lz4-compressed under
 * assets/corpus/, as written by tools/build_corpus.py. */
#ifndef MS_CORPUS_H
#define MS_CORPUS_H

#include <stddef.h>

#include "tokenizer.h"

typedef struct {
    char *text;
    size_t len;
    char *source, *category;
} corpus_doc;

typedef struct {
    corpus_doc *docs;
    int n;
    size_t bytes; /* sum of text lengths */
} corpus_split;

/* Loads dir/<split>.jsonl(.lz4). */
int corpus_load(corpus_split *s, const char *dir, const char *split);
void corpus_free(corpus_split *s);
/* All documents as one token stream, each document followed by `sep` (e.g.
 * the end-of-text token; -1 for none). *ids is malloc'd. */
int corpus_tokenize(const corpus_split *s, const tokenizer *t, int sep, int **ids, size_t *n);
/* corpus_load then corpus_tokenize: one split of dir as a token stream. */
int corpus_split_ids(const char *dir, const char *split, const tokenizer *t, int sep, int **ids, size_t *n);

#endif
