/* sess_stats.c — corpus statistics a command needs from the loaded model (the
 * mean residual norm behind alpha units), measured once on a small sample
 * with progress, then kept in memory and in the disk cache (statcache.h)
 * under a key naming the model's identity (model_digest.h), the layer and
 * the sample, so a later session reads it instead of running the model. */
#include "hash.h"
#include "model_digest.h"
#include "session.h"
#include "statcache.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The sample: NORM_DOCS seeded training documents of up to NORM_TOKENS
 * tokens (~1200 tokens on the bundled corpus). bench/norm_sample.c measured
 * the estimate's relative error against a 1024-document pool on the default
 * model at layers 0, 3, 5: 0.6-0.9% RMS (1.2-1.7% at the 95th percentile)
 * with 32 documents, against 0.2-0.3% with the 256 used before, for an eighth
 * of the model time; it falls as 1/sqrt(tokens). Alpha is a coarse knob (0.5,
 * 1, 2...): 1% in its unit does not matter, a minute of waiting does. */
#define NORM_DOCS 32
#define NORM_TOKENS 128
#define NORM_SEED 0x6e6f726dull
#define NORM_CHUNK 4 /* documents between progress reports */

static const char *const NORM_NAMES[] = {"mean_norm", "tokens", "docs"};

const char *sess_cache_dir(const session *S, char *buf, size_t n) {
    return S->cache_off ? NULL : statcache_dir(buf, n);
}

void sess_forget_stats(session *S) {
    for (int i = 0; i < S->n_stats; i++) free(S->stats[i].key);
    free(S->stats);
    S->stats = NULL;
    S->n_stats = 0;
    S->has_digest = false;
}

/* The bundled corpus' train split file, hashed whole once per process: the
 * sample is drawn from it. */
static int corpus_digest(uint64_t *out) {
    static uint64_t h;
    static bool done;
    if (done) return *out = h, 0;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/corpus", ms_assets_dir());
    char *p = ms_find_file(dir, "train.jsonl");
    if (!p) return ms_seterr("no train.jsonl(.lz4) in %s", dir);
    int rc = model_digest_file(p, HASH64_INIT, &h);
    free(p);
    if (!rc) done = true, *out = h;
    return rc;
}

/* The full key of the mean norm at layer: everything the value depends on. */
static int norm_key(session *S, int layer, char *key, size_t n) {
    uint64_t corpus;
    if (!S->has_digest) {
        if (model_digest(S->model.path, &S->digest)) return -1;
        S->has_digest = true;
    }
    if (corpus_digest(&corpus)) return -1;
    int tokens = NORM_TOKENS < S->st.max_seq ? NORM_TOKENS : S->st.max_seq;
    snprintf(key, n, "mean_resid_norm v1 model=%016llx layer=%d bos=%d docs=%d tokens=%d seed=%llx corpus=%016llx",
             (unsigned long long)S->digest, layer, sess_use_bos(S) ? 1 : 0, NORM_DOCS, tokens,
             (unsigned long long)NORM_SEED, (unsigned long long)corpus);
    return 0;
}

static const sess_stat *find_stat(const session *S, const char *key) {
    for (int i = 0; i < S->n_stats; i++)
        if (!strcmp(S->stats[i].key, key)) return &S->stats[i];
    return NULL;
}

static void keep_stat(session *S, const char *key, int layer, const double *v, bool cached) {
    S->stats = xrealloc(S->stats, sizeof(sess_stat) * (size_t)(S->n_stats + 1));
    S->stats[S->n_stats++] = (sess_stat){xstrdup(key), layer, v[0], (long)v[1], (int)v[2], cached};
}

static void note(session *S, const char *text) {
    if (!S->json) sess_printf(S, "note: %s\n", text);
}

/* Memory, then the disk cache. */
static bool lookup(session *S, const char *key, int layer, double *out) {
    const sess_stat *s = find_stat(S, key);
    if (s) return *out = s->value, true;
    char dir[4096], why[4096 + 128];
    if (!sess_cache_dir(S, dir, sizeof dir)) return false;
    double v[3];
    int hit = statcache_get(dir, key, NORM_NAMES, v, 3, why, sizeof why);
    if (hit < 0) note(S, why);
    if (hit <= 0 || !(v[0] > 0)) return false;
    keep_stat(S, key, layer, v, true);
    return *out = v[0], true;
}

bool sess_known_norm(session *S, int layer, double *out) {
    char key[512];
    if (!S->has_model || norm_key(S, layer, key, sizeof key)) return ms_clearerr(), false;
    return lookup(S, key, layer, out);
}

/* Runs the sample in chunks, reporting progress between them. */
static int measure(session *S, int layer, double *norm, long *rows, int *used, const char *cmd) {
    corpus_split *c;
    if (sess_corpus(S, &c, cmd)) return -1;
    int *docs, n = steer_pick_docs(c, "", false, NULL, NORM_DOCS, NORM_SEED, &docs), rc = 0;
    steer_runner r = {&S->model, &S->st, layer, sess_use_bos(S) ? S->model.c.bos_id : -1, NORM_TOKENS, S->cancel};
    double *sum = xcalloc((size_t)S->model.c.d_model, sizeof(double));
    for (int k = 0; k < n && !rc; k += NORM_CHUNK) {
        if (S->progress) {
            char line[160];
            snprintf(line, sizeof line, "mean |h| at layer %d (the unit of alpha, measured once): %d/%d documents", layer,
                     k, n);
            S->progress(S->progress_ctx, line);
        }
        if (S->cancel && *S->cancel) rc = ms_seterr("cancelled (%s)", cmd);
        else if (steer_doc_means(&r, c, docs + k, n - k < NORM_CHUNK ? n - k : NORM_CHUNK, sum, norm, rows, used))
            rc = ms_seterr("%s (%s)", ms_geterr(), cmd);
    }
    free(docs), free(sum);
    if (!rc && !*rows) rc = ms_seterr("no corpus text to measure the residual norm (%s)", cmd);
    return rc;
}

int sess_mean_norm(session *S, int layer, double *out, const char *cmd) {
    char key[512];
    if (norm_key(S, layer, key, sizeof key)) return ms_seterr("%s (%s)", ms_geterr(), cmd);
    if (lookup(S, key, layer, out)) return 0;
    double norm = 0;
    long rows = 0;
    int used = 0;
    if (measure(S, layer, &norm, &rows, &used, cmd)) return -1;
    *out = norm / (double)rows;
    double v[3] = {*out, (double)rows, (double)used};
    keep_stat(S, key, layer, v, false);
    char dir[4096];
    if (sess_cache_dir(S, dir, sizeof dir) && statcache_put(dir, key, NORM_NAMES, v, 3)) {
        char why[1024];
        snprintf(why, sizeof why, "cannot write the cache: %s", ms_geterr());
        note(S, why);
        ms_clearerr();
    }
    return 0;
}
