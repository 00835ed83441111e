/* index.h — the top-activating examples index: for every unit (SAE latents,
 * GLP meta-neurons of every block, MLP neurons of one layer) the contexts of
 * held-out text where it fires most, examples from lower quantiles, its
 * density and a histogram of its positive values; for SAE latents the top
 * output tokens of the decoder direction; for meta-neurons and latents the
 * units of the other kind whose activations correlate most with them.
 *
 * Build (index.c) runs the model once over the corpus split, one document
 * segment at a time (BOS when used; documents longer than the context are cut
 * into segments), and keeps, per unit, streaming state only: a min-heap of the
 * top K positions with their windows of values, a reservoir of positive
 * positions, counts and histogram bins. Positions >= 1 of a segment are index
 * tokens (position 0 is an outlier).
 *
 * On disk (index_io.c), a folder:
 *   manifest.json             model, layers, unit groups, tokens, K, window,
 *                             categories, versions
 *   tokens.safetensors.lz4    tokens I32 [n] (every segment as run, BOS
 *                             included), seg_start / seg_len / seg_doc /
 *                             seg_cat I32 [segments]
 *   records.bin               header "MSIXREC1", u32 version, u32 units,
 *                             u64 file size; a table of units x {u64 offset,
 *                             u32 compressed, u32 raw, f32 max, f32 density};
 *                             then one lz4 frame per unit's record
 *   labels.tsv                user labels "UNIT<TAB>TEXT" (optional)
 * so a unit's record is read and decompressed on its own. */
#ifndef MS_INDEX_H
#define MS_INDEX_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "glp.h"
#include "sae.h"
#include "transformer.h"

#define INDEX_VERSION 1
#define INDEX_HIST_BINS 32
#define INDEX_HIST_EMIN (-16) /* bin b >= 1 holds [2^(EMIN+b), 2^(EMIN+b+1)); bin 0 all below, the last all above */
#define INDEX_MAX_WINDOW 64
#define INDEX_LOGITS 10       /* top positive and negative output tokens of an SAE latent */
#define INDEX_CROSS 10        /* correlated partners kept per unit */
#define INDEX_MAX_GROUPS 64

/* ---- units: groups of consecutive global ids */
typedef enum { IX_SAE, IX_META, IX_MLP } ix_kind;
typedef struct {
    ix_kind kind;
    int layer; /* model layer the values come from */
    int block; /* meta: GLP block */
    int count, first;
} ix_group;

/* "sae:I", "meta:B:I", "mlp:L:I" of global unit u. */
void index_unit_name(const ix_group *g, int ng, int u, char *out, size_t cap);
/* Global id of a unit name, or -1 (message set, naming cmd). */
int index_unit_id(const ix_group *g, int ng, const char *name, const char *cmd);
const ix_group *index_unit_group(const ix_group *g, int ng, int u);
/* The first group of a kind, or NULL. */
const ix_group *index_find_group(const ix_group *g, int ng, ix_kind kind);
/* What the groups hold, for messages: "sae:0..4095, meta:0:0..1023, mlp:3:0..767". */
void index_units_text(const ix_group *g, int ng, char *out, size_t cap);

/* ---- build */
typedef struct {
    const tf_model *model; /* with a tokenizer */
    bool bos;
    const glp_model *glp;  /* NULL: no meta-neurons */
    int glp_layer;
    const sae_model *sae;  /* NULL: no latents; reads sae->layer */
    int mlp_layer;         /* < 0: no MLP neurons */
    const char *corpus, *split;
    long tokens;           /* index tokens wanted (capped at the split) */
    int K, before, after;  /* top examples, window around each */
    int bands, per_band;   /* quantile examples */
    uint64_t seed;
    const char *out;
    const char *model_path, *glp_path, *sae_path; /* recorded in the manifest */
    FILE *log;
    bool tty;
    volatile sig_atomic_t *stop;
} index_opts;

typedef struct {
    long tokens;
    int segments, units;
    double seconds;
    bool cross;       /* correlations computed */
    size_t bytes;     /* on disk */
} index_result;

/* Fills defaults (K 20, window 12/4, 5 bands x 2, seed 1). */
void index_opts_default(index_opts *o);
int index_build(const index_opts *o, index_result *r);
/* The noise meta-neurons see at position pos of segment seg: normals from an
 * RNG seeded by (seed, seg, pos), so any recomputation agrees with the build. */
void index_meta_noise(uint64_t seed, int seg, int pos, float *eps, int d);
/* Histogram bin of a positive value. */
int index_hist_bin(float v);

/* ---- reading */
typedef struct {
    int seg, pos;  /* segment and position in it of the example's token */
    float value;
    int band;      /* 0: top example; 1..bands: quantile band (1 = lowest) */
    int w0, n;     /* window: positions w0 .. w0+n-1 of the segment */
    float *vals;   /* [n] the unit's values over the window */
} ix_example;

typedef struct {
    int token;
    float value;
} ix_logit;

typedef struct {
    int unit;
    float r;
} ix_partner;

typedef struct {
    int unit;
    uint64_t n_pos;  /* index tokens with value > 0 */
    float max, mean_pos;
    uint32_t hist[INDEX_HIST_BINS];
    int n_top, n_quant;
    ix_example *ex;  /* n_top top examples (descending), then n_quant quantile ones */
    int n_plus, n_minus;
    ix_logit *logits; /* n_plus largest, then n_minus most negative */
    int n_cross;
    ix_partner *cross;
    char *auto_label;
} ix_record;

typedef struct {
    uint64_t offset;
    uint32_t clen, rawlen;
    float max, density;
} ix_entry;

typedef struct ms_index {
    char *dir;
    char model[1024];
    int vocab, d_model, K, before, after, bands, per_band;
    uint64_t seed;
    long tokens;
    bool bos, cross;
    ix_group groups[INDEX_MAX_GROUPS];
    int n_groups, n_units;
    int *stream, n_stream;
    int *seg_start, *seg_len, *seg_doc, *seg_cat, n_seg;
    char **categories;
    int n_cat;
    ix_entry *table; /* [n_units] */
    char **labels;   /* [n_units] user labels (NULL = none) */
} ms_index;

/* Opens an index folder: manifest, token stream, the records' table and the
 * user labels. Every length and offset is checked; errors name the file. */
int index_open(ms_index *ix, const char *dir);
void index_close(ms_index *ix);
/* Reads and decompresses unit u's record. */
int index_read(const ms_index *ix, int u, ix_record *rec);
void index_record_free(ix_record *rec);
/* Unit u's label: the user's if set (*is_auto false), else the record's
 * automatic one ("" when it has none). */
const char *index_label(const ms_index *ix, int u, const ix_record *rec, bool *is_auto);
/* Sets (text non-empty) or clears (NULL/"") unit u's user label and rewrites
 * dir/labels.tsv atomically. */
int index_set_label(ms_index *ix, int u, const char *text);

/* ---- format internals shared by build and reader (index_io.c) */
typedef struct {
    uint8_t *buf;
    size_t len, cap;
} ix_buf;
/* Serializes a record (the window values as f16). */
void index_encode_record(ix_buf *b, const ix_record *rec);
int index_decode_record(const uint8_t *p, size_t n, ix_record *rec, const char *where);
/* Writes records.bin from raw records (compressed here), atomically. */
int index_write_records(const char *path, ix_buf *raw, int n_units, const float *max, const float *density);

#endif
