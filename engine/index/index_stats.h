/* index_stats.h — engine-internal: the streaming per-unit state of an index
 * build (index_stats.c) and the automatic labels (index_label.c). */
#ifndef MS_INDEX_STATS_H
#define MS_INDEX_STATS_H

#include "index.h"
#include "rng.h"
#include "tokenizer.h"

/* A candidate example: value, where it is, its window in the unit's pool. */
typedef struct {
    float v;
    int seg, pos, w0, n, win;
} ix_slot;

/* Where a batch's values of one unit group live: dense rows [rows][width]
 * (column = unit - first), or sparse SAE codes [rows][k]. */
typedef struct {
    const float *X;
    int width;
    const int *idx;
    const float *val;
    int k;
} ix_values;

typedef struct {
    int U, K, R, W, before, after;
    uint64_t *n_pos, *seen, *next;
    double *sum_pos, *res_w;
    float *max;
    uint32_t *hist;    /* [U][BINS] */
    ix_slot *heap;     /* [U][K] min-heap on v */
    int *heap_n;
    ix_slot *res;      /* [U][R] reservoir of positive positions */
    float *heap_win, *res_win; /* [U][K][W], [U][R][W] */
    rng_t rng;
} ix_stats;

void ix_stats_init(ix_stats *s, int U, int K, int R, int before, int after, uint64_t seed);
void ix_stats_free(ix_stats *s);
/* Offers unit u's value v at batch row r (segment seg, position pos, segment
 * rows seg_row0 .. seg_row0+seg_len-1 in the batch). */
typedef struct {
    int r, seg, pos, seg_row0, seg_len;
} ix_where;
void ix_stats_offer(ix_stats *s, int u, int col, float v, const ix_where *w, const ix_values *vals);
/* The record of unit u (examples only; logits, partners, label left empty). */
void ix_stats_record(const ix_stats *s, int u, int bands, int per_band, ix_record *rec);

/* ---- automatic labels */
typedef struct {
    const ms_index *ix;    /* stream, segments, categories */
    const tokenizer *tok;
    double *freq;          /* [vocab] share of index tokens */
    bool *word;            /* [vocab] token is a word (letters, >= 3) */
} ix_labeler;

void ix_labeler_init(ix_labeler *L, const ms_index *ix, const tokenizer *tok);
void ix_labeler_free(ix_labeler *L);
/* "category C (n/K)" when one category holds >= half of the top examples,
 * else the 2-3 most over-represented words of their windows; malloc'd. */
char *ix_auto_label(const ix_labeler *L, const ix_record *rec);

#endif
