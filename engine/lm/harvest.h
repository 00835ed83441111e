/* harvest.h — residual-stream activations of a model over a corpus split,
 * written as shards for GLP (and SAE) training.
 *
 * The split is tokenized as train_lm does (documents joined by EOS) and cut
 * into consecutive windows of the model context. Every token of a window but
 * its first is kept: position 0 sees no context and its residual is an
 * outlier the prior should not model. The EOS tokens are left out too unless
 * keep_eos: EOS is the separator every following token attends to (our BOS),
 * its residual has ~5x the norm of the others, and the published reference
 * harvests documents with their BOS excluded. Rows are the kept stream
 * positions in order, which makes shards reproducible and lets a resumed run
 * skip the shards already written.
 *
 * out/shard-NNNNN.safetensors.lz4: acts F16 [n, d], tokens / doc / pos I32 [n]
 *   (doc = index of the document in the split, pos = position in the window)
 * out/stats.safetensors: mean, var F32 [d] (double sums over every stored
 *   row, as stored in f16; population variance)
 * out/manifest.json: model, layer, d, split, window, eos ("skipped" or
 *   "kept"), shard_rows, rows, shards, and source: a hash of the model's
 *   digest (model_digest.h), the layer, window, EOS policy, the split's
 *   tokens and the row count. It names what the rows are activations of,
 *   which another CPU reproduces only up to the last bit of the f32 math
 *   (other BLAS kernels), so training checkpoints key their data on it. */
#ifndef MS_HARVEST_H
#define MS_HARVEST_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

typedef struct {
    const char *model;  /* HF folder */
    const char *corpus; /* folder with <split>.jsonl(.lz4) */
    const char *split;
    const char *out;
    int layer;          /* < 0: the middle block, n_layers / 2 */
    long tokens;        /* rows wanted (capped at what the split holds) */
    long shard_rows;
    bool resume;        /* keep finished shards; otherwise refuse a non-empty out */
    FILE *log;
    bool tty;
    volatile sig_atomic_t *stop;
    bool keep_eos;      /* also harvest the EOS tokens' rows */
} harvest_opts;

typedef struct {
    long rows, shards, computed_rows; /* computed: rows run through the model this call */
    int layer, d;
    double seconds;
} harvest_result;

int harvest(const harvest_opts *o, harvest_result *r);

/* Reads a harvest folder's manifest fields and its statistics. mean/var are
 * malloc'd (d each). */
typedef struct {
    char model[1024];
    char split[64]; /* "" when the manifest does not say */
    char source[17]; /* 16 hex digits; "" in harvests made before it was recorded */
    int layer, d;
    long rows, shards, shard_rows;
    float *mean, *var;
} harvest_info;
int harvest_info_load(harvest_info *h, const char *dir);
void harvest_info_free(harvest_info *h);
/* Every row of every shard as f32 (the f16 → f32 conversion is exact) into
 * *data [h->rows, h->d] (malloc'd); checks each shard against the manifest. */
int harvest_load_rows(const char *dir, const harvest_info *h, float **data);
/* The last `want` rows of the harvest, in order, into X [want, d]; reads
 * only the shards that hold them. */
int harvest_last_rows(const char *dir, const harvest_info *h, long want, float *X);
/* Shard k's rows as f32 into *acts [*n, h->d] and their token ids into
 * *tokens [*n] (both malloc'd), checked against the manifest's width. On
 * an error both are NULL. */
int harvest_shard_load(const char *dir, const harvest_info *h, long k, float **acts, int **tokens, long *n);
/* Path of shard k (malloc'd). */
char *harvest_shard_path(const char *dir, long k);

/* Held-out rows for an evaluation given no harvest: `rows` rows of `layer`
 * of the test split into a new temporary folder (*dir, malloc'd), which
 * harvest_remove deletes afterwards. */
int harvest_test_temp(const char *model, const char *corpus, int layer, long rows, FILE *log, char **dir);
void harvest_remove(const char *dir);

#endif
