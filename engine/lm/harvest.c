/* harvest.c — residual activations over a corpus split, into f16 shards. */
#include "harvest.h"
#include "corpus.h"
#include "half.h"
#include "hash.h"
#include "jsonutil.h"
#include "model_digest.h"
#include "safetensors.h"
#include "transformer.h"
#include "util.h"

#include <dirent.h>
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HARVEST_MAX_WINDOW 1024 /* as eval_lm: bounds the KV cache of long-context models */

char *harvest_shard_path(const char *dir, long k) {
    char name[64];
    snprintf(name, sizeof name, "shard-%05ld.safetensors.lz4", k);
    return ms_path_join(dir, name);
}

typedef struct {
    const harvest_opts *o;
    tf_model m;
    tf_state st;
    tf_rows cap; /* the rows of one window's forward pass */
    int *ids, *docs; /* token stream and each token's document */
    size_t n;
    size_t *at;      /* [rows]: the stream position of each row */
    int T, d, layer;
    long rows, S, nshards;
    char signature[1024];
    uint64_t source; /* what the rows are, independent of the CPU that computed them (harvest.h) */
    /* one shard's buffers, reused */
    uint16_t *acts;
    int32_t *tok, *doc, *pos;
} harvester;

static void harvester_free(harvester *h) {
    if (h->st.x) tf_state_free(&h->st);
    tf_free(&h->m);
    free(h->ids), free(h->docs), free(h->at), free(h->cap.buf), free(h->acts), free(h->tok), free(h->doc), free(h->pos);
}

/* A stream position is a row unless it opens a window or (keep_eos off) is an EOS. */
static bool is_row(const harvester *h, size_t i) {
    return i % (size_t)h->T && (h->o->keep_eos || h->ids[i] != h->m.c.eos_id);
}

/* The stream positions of the first `want` rows (all when want <= 0) into h->at. */
static long find_rows(harvester *h, long want) {
    long avail = 0;
    for (size_t i = 0; i < h->n; i++) avail += is_row(h, i);
    long rows = want > 0 && want < avail ? want : avail;
    h->at = xmalloc(sizeof(size_t) * (size_t)(rows ? rows : 1));
    long k = 0;
    for (size_t i = 0; i < h->n && k < rows; i++)
        if (is_row(h, i)) h->at[k++] = i;
    return rows;
}

static int harvester_init(harvester *h, const harvest_opts *o) {
    memset(h, 0, sizeof *h);
    h->o = o;
    if (tf_load(&h->m, o->model)) return -1;
    if (!h->m.tok) return ms_seterr("the model folder has no tokenizer (%s)", o->model);
    const tf_config *c = &h->m.c;
    h->layer = o->layer < 0 ? c->n_layers / 2 : o->layer;
    if (h->layer >= c->n_layers)
        return ms_seterr("layer %d outside 0..%d (%s)", h->layer, c->n_layers - 1, o->model);
    h->d = c->d_model;
    h->T = c->max_seq < HARVEST_MAX_WINDOW ? c->max_seq : HARVEST_MAX_WINDOW;
    if (h->T < 2) return ms_seterr("model context %d is too short to harvest (%s)", c->max_seq, o->model);
    corpus_split s;
    if (corpus_load(&s, o->corpus, o->split)) return -1;
    int rc = corpus_tokenize(&s, h->m.tok, c->eos_id, &h->ids, &h->n);
    corpus_free(&s);
    if (rc) return -1;
    h->rows = find_rows(h, o->tokens);
    if (h->rows < 1) return ms_seterr("the %s split is too short to harvest (%s)", o->split, o->corpus);
    h->S = o->shard_rows > 0 ? o->shard_rows : 262144;
    h->nshards = (h->rows + h->S - 1) / h->S;
    /* The EOS closing a document belongs to it; the next token starts the next. */
    h->docs = xmalloc(sizeof(int) * (h->n ? h->n : 1));
    int doc = 0;
    uint64_t hash = 1469598103934665603ull;
    for (size_t i = 0; i < h->n; i++) {
        h->docs[i] = doc;
        if (h->ids[i] == c->eos_id) doc++;
        hash = (hash ^ (uint64_t)(uint32_t)h->ids[i]) * 1099511628211ull;
    }
    snprintf(h->signature, sizeof h->signature,
             "model=%s layer=%d d=%d T=%d split=%s eos=%s shard_rows=%ld data=%zu:%016llx", o->model, h->layer, h->d,
             h->T, o->split, o->keep_eos ? "kept" : "skipped", h->S, h->n, (unsigned long long)hash);
    uint64_t digest;
    if (model_digest(o->model, &digest)) return -1;
    int64_t shape[6] = {h->layer, h->d, h->T, o->keep_eos, (int64_t)h->n, h->rows};
    h->source = hash64(hash64(hash64(HASH64_INIT, &digest, sizeof digest), shape, sizeof shape), &hash, sizeof hash);
    if (tf_state_init(&h->st, &h->m, h->T)) return -1;
    h->cap = (tf_rows){xmalloc(xmul(sizeof(float) * (size_t)h->T, (size_t)h->d)), h->d};
    if (tf_add_hook(&h->st, (tf_hook){HOOK_RESID, h->layer, tf_rows_hook, &h->cap})) return -1;
    size_t S = (size_t)(h->S < h->rows ? h->S : h->rows);
    h->acts = xmalloc(xmul(sizeof(uint16_t) * S, (size_t)h->d));
    h->tok = xmalloc(sizeof(int32_t) * S), h->doc = xmalloc(sizeof(int32_t) * S), h->pos = xmalloc(sizeof(int32_t) * S);
    return 0;
}

/* A finished shard from an earlier run counts only if it was made by the same
 * model, layer, window, split and data, with the expected row count. */
static int shard_done(harvester *h, long k, long want, bool *done) {
    char *p = harvest_shard_path(h->o->out, k);
    *done = false;
    if (!ms_file_exists(p)) {
        free(p);
        return 0;
    }
    st_file f;
    int rc = st_open(&f, p);
    if (!rc) {
        const char *sig = st_meta(&f, "signature");
        const st_tensor *a = st_find(&f, "acts");
        if (!sig || strcmp(sig, h->signature))
            rc = ms_seterr("shard was harvested with another model, layer or corpus; use a new --out (%s)", p);
        else if (!a || a->dtype != ST_F16 || a->ndim != 2 || a->shape[0] != want || a->shape[1] != h->d)
            rc = ms_seterr("shard has the wrong size for this run; use a new --out (%s)", p);
        else *done = true;
        st_close(&f);
    }
    free(p);
    return rc;
}

/* Runs the windows covering rows [a, b) and stores them at the shard's start. */
static int harvest_rows(harvester *h, long a, long b, long *done_rows, double t0) {
    int T = h->T, d = h->d;
    long r = a;
    while (r < b) {
        size_t start = h->at[r] / (size_t)T * (size_t)T;
        long e = r + 1; /* rows [r, e) lie in this window */
        while (e < b && h->at[e] < start + (size_t)T) e++;
        tf_state_reset(&h->st);
        /* Causal: tokens after the last kept row cannot change it. */
        if (tf_forward(&h->m, &h->st, h->ids + start, (int)(h->at[e - 1] - start) + 1, LOGITS_NONE, NULL)) return -1;
        for (long j = r; j < e; j++) {
            size_t at = h->at[j], row = (size_t)(j - a);
            int pos = (int)(at - start);
            const float *x = h->cap.buf + (size_t)pos * d;
            uint16_t *y = h->acts + row * d;
            for (int i = 0; i < d; i++) y[i] = f32_to_f16(x[i]);
            h->tok[row] = h->ids[at], h->doc[row] = h->docs[at], h->pos[row] = pos;
        }
        long take = e - r;
        r = e;
        *done_rows += take;
        if (h->o->tty) {
            double el = ms_now() - t0;
            fprintf(h->o->log, "\r\033[Kharvest: %ld/%ld rows  %.0f rows/s", r, h->rows,
                    *done_rows / (el + 1e-9));
            fflush(h->o->log);
        }
        if (h->o->stop && *h->o->stop) return 1;
    }
    return 0;
}

static int write_shard(harvester *h, long k, long nrows) {
    char *p = harvest_shard_path(h->o->out, k);
    char layer[16];
    snprintf(layer, sizeof layer, "%d", h->layer);
    st_wtensor t[] = {
        {"acts", ST_F16, 2, {nrows, h->d}, h->acts}, {"tokens", ST_I32, 1, {nrows}, h->tok},
        {"doc", ST_I32, 1, {nrows}, h->doc},          {"pos", ST_I32, 1, {nrows}, h->pos},
    };
    const char *meta[] = {"signature", h->signature, "layer", layer};
    int rc = st_write(p, t, 4, meta, 2);
    free(p);
    return rc;
}

/* Mean and population variance over every stored row (the f16 values the
 * trainer will see), in double with a per-dimension shift against cancellation. */
static int write_stats(harvester *h) {
    int d = h->d;
    double *sum = xcalloc((size_t)d * 3, sizeof(double)), *sq = sum + d, *shift = sum + 2 * d;
    enum { CHUNK = 4096 };
    float *buf = xmalloc(sizeof(float) * CHUNK * (size_t)d);
    long total = 0;
    int rc = 0;
    for (long k = 0; k < h->nshards && !rc; k++) {
        char *p = harvest_shard_path(h->o->out, k);
        st_file f;
        rc = st_open(&f, p);
        free(p);
        if (rc) break;
        const st_tensor *a = st_find(&f, "acts");
        long n = a ? (long)a->shape[0] : 0;
        for (long r0 = 0; r0 < n; r0 += CHUNK) {
            long m = n - r0 < CHUNK ? n - r0 : CHUNK;
            f16_to_f32_n(a->data + (size_t)r0 * d * 2, buf, (size_t)m * d);
            if (total == 0)
                for (int i = 0; i < d; i++) shift[i] = buf[i];
            for (long j = 0; j < m; j++)
                for (int i = 0; i < d; i++) {
                    double x = buf[(size_t)j * d + i] - shift[i];
                    sum[i] += x, sq[i] += x * x;
                }
            total += m;
        }
        st_close(&f);
    }
    free(buf);
    float *mean = xmalloc(sizeof(float) * 2 * (size_t)d), *var = mean + d;
    for (int i = 0; i < d && total; i++) {
        double mu = sum[i] / total;
        mean[i] = (float)(shift[i] + mu);
        var[i] = (float)fmax(sq[i] / total - mu * mu, 0);
    }
    free(sum);
    if (!rc) {
        char *p = ms_path_join(h->o->out, "stats.safetensors");
        st_wtensor t[] = {{"mean", ST_F32, 1, {d}, mean}, {"var", ST_F32, 1, {d}, var}};
        rc = st_write(p, t, 2, NULL, 0);
        free(p);
    }
    free(mean);
    return rc;
}

static int write_manifest(harvester *h) {
    json_object *o = json_object_new_object(), *sh = json_object_new_array();
    json_object_object_add(o, "model", json_object_new_string(h->o->model));
    json_object_object_add(o, "layer", json_object_new_int(h->layer));
    json_object_object_add(o, "d", json_object_new_int(h->d));
    json_object_object_add(o, "split", json_object_new_string(h->o->split));
    json_object_object_add(o, "window", json_object_new_int(h->T));
    json_object_object_add(o, "eos", json_object_new_string(h->o->keep_eos ? "kept" : "skipped"));
    json_object_object_add(o, "shard_rows", json_object_new_int64(h->S));
    json_object_object_add(o, "rows", json_object_new_int64(h->rows));
    char src[17];
    snprintf(src, sizeof src, "%016llx", (unsigned long long)h->source);
    json_object_object_add(o, "source", json_object_new_string(src));
    for (long k = 0; k < h->nshards; k++) {
        char name[64];
        snprintf(name, sizeof name, "shard-%05ld.safetensors.lz4", k);
        json_object_array_add(sh, json_object_new_string(name));
    }
    json_object_object_add(o, "shards", sh);
    return ms_json_write(o, h->o->out, "manifest.json");
}

int harvest(const harvest_opts *o, harvest_result *r) {
    memset(r, 0, sizeof *r);
    if (ms_prepare_out_dir(o->out)) return -1; /* writable before the first shard is computed */
    char *first = harvest_shard_path(o->out, 0);
    bool exists = ms_file_exists(first);
    free(first);
    if (exists && !o->resume) return ms_seterr("folder already holds shards; use --resume or a new --out (%s)", o->out);
    harvester h;
    if (harvester_init(&h, o)) {
        harvester_free(&h);
        return -1;
    }
    r->layer = h.layer, r->d = h.d, r->rows = h.rows, r->shards = h.nshards;
    fprintf(o->log, "harvest: layer %d, d %d, %ld rows in %ld shards from %zu %s tokens (windows of %d)\n", h.layer,
            h.d, h.rows, h.nshards, h.n, o->split, h.T);
    double t0 = ms_now();
    int rc = 0;
    for (long k = 0; k < h.nshards && !rc; k++) {
        long a = k * h.S, b = a + h.S < h.rows ? a + h.S : h.rows;
        bool done;
        if ((rc = shard_done(&h, k, b - a, &done)) || done) continue;
        rc = harvest_rows(&h, a, b, &r->computed_rows, t0);
        if (rc == 1) break; /* stopped: the partial shard is not written */
        if (!rc) rc = write_shard(&h, k, b - a);
    }
    r->seconds = ms_now() - t0;
    if (o->tty) fprintf(o->log, "\n");
    bool stopped = rc == 1;
    if (!rc) rc = write_stats(&h);
    if (!rc) rc = write_manifest(&h);
    harvester_free(&h);
    if (stopped) return ms_seterr("stopped; finished shards kept, continue with --resume (%s)", o->out);
    return rc;
}

/* ------------------------------------------------------------ reading back */

static int json_long(json_object *o, const char *k, long *v, const char *path) {
    json_object *x;
    if (!json_object_object_get_ex(o, k, &x) || !json_object_is_type(x, json_type_int))
        return ms_seterr("manifest lacks integer '%s' (%s)", k, path);
    *v = (long)json_object_get_int64(x);
    return 0;
}

int harvest_info_load(harvest_info *h, const char *dir) {
    memset(h, 0, sizeof *h);
    char *p = ms_path_join(dir, "manifest.json");
    json_object *o = ms_json_read(p), *x;
    long layer = 0, d = 0;
    int rc = o ? 0 : -1;
    if (!rc && !json_object_is_type(o, json_type_object)) rc = ms_seterr("manifest is not a JSON object (%s)", p);
    if (!rc) rc = json_long(o, "layer", &layer, p) || json_long(o, "d", &d, p) || json_long(o, "rows", &h->rows, p) ||
                  json_long(o, "shard_rows", &h->shard_rows, p);
    if (!rc && (d < 1 || d > 65536 || layer < 0 || h->rows < 1 || h->shard_rows < 1 || h->rows > (1L << 40) ||
                h->shard_rows > (1L << 40))) /* limits keep rows + shard_rows from overflowing (a fuzzer's find) */
        rc = ms_seterr("manifest has an out-of-range layer, d, rows or shard_rows (%s)", p);
    if (!rc && json_object_object_get_ex(o, "model", &x) && json_object_is_type(x, json_type_string))
        snprintf(h->model, sizeof h->model, "%s", json_object_get_string(x));
    if (!rc && json_object_object_get_ex(o, "split", &x) && json_object_is_type(x, json_type_string))
        snprintf(h->split, sizeof h->split, "%s", json_object_get_string(x));
    if (!rc && json_object_object_get_ex(o, "source", &x)) {
        const char *v = json_object_is_type(x, json_type_string) ? json_object_get_string(x) : "";
        if (strlen(v) != 16 || strspn(v, "0123456789abcdef") != 16)
            rc = ms_seterr("manifest's source is not 16 hex digits (%s)", p);
        else memcpy(h->source, v, 17);
    }
    if (o) json_object_put(o);
    free(p);
    if (rc) return -1;
    h->layer = (int)layer, h->d = (int)d;
    h->shards = (h->rows + h->shard_rows - 1) / h->shard_rows;
    p = ms_path_join(dir, "stats.safetensors");
    st_file f;
    if (st_open(&f, p)) {
        free(p);
        return -1;
    }
    int64_t shape[1] = {d};
    h->mean = st_load_f32(&f, "mean", 1, shape);
    h->var = h->mean ? st_load_f32(&f, "var", 1, shape) : NULL;
    st_close(&f);
    if (!h->var) {
        rc = ms_seterr("stats lack mean/var of size %ld (%s)", d, p);
        harvest_info_free(h);
    }
    free(p);
    return rc;
}

void harvest_info_free(harvest_info *h) {
    free(h->mean), free(h->var);
    h->mean = h->var = NULL;
}

/* Rows are 2·d bytes of F16 in the shards, which lz4 shrinks at most 255x:
 * a manifest claiming more rows than its shards can hold is refused before
 * the rows are allocated. */
static int check_rows_fit(const char *dir, const harvest_info *h) {
    if (h->shards > (1L << 20)) return ms_seterr("manifest implies %ld shards (%s)", h->shards, dir);
    double bytes = 0;
    for (long k = 0; k < h->shards; k++) {
        char *p = harvest_shard_path(dir, k);
        struct stat st;
        int missing = stat(p, &st);
        free(p);
        if (missing) return ms_seterr("shard %ld of %ld is missing (%s)", k, h->shards, dir);
        bytes += (double)st.st_size;
    }
    if ((double)h->rows * 2 * h->d > 255 * bytes + 4096)
        return ms_seterr("manifest claims %ld rows, more than its shards can hold (%s)", h->rows, dir);
    return 0;
}

int harvest_load_rows(const char *dir, const harvest_info *h, float **data) {
    int d = h->d;
    if (check_rows_fit(dir, h)) return -1;
    float *buf = ms_try_alloc(sizeof(float) * (size_t)h->rows * (size_t)d, dir);
    if (!buf) return -1;
    long at = 0;
    for (long k = 0; k < h->shards; k++) {
        char *p = harvest_shard_path(dir, k);
        st_file f;
        int rc = st_open(&f, p);
        if (!rc) {
            const st_tensor *a = st_find(&f, "acts");
            if (!a || a->dtype != ST_F16 || a->ndim != 2 || a->shape[1] != d || at + a->shape[0] > h->rows)
                rc = ms_seterr("shard lacks acts F16 [n, %d] or holds more rows than the manifest (%s)", d, p);
            else {
                f16_to_f32_n(a->data, buf + (size_t)at * d, a->numel);
                at += (long)a->shape[0];
            }
            st_close(&f);
        }
        free(p);
        if (rc) return free(buf), -1;
    }
    if (at != h->rows) {
        free(buf);
        return ms_seterr("shards hold %ld rows, the manifest says %ld (%s)", at, h->rows, dir);
    }
    *data = buf;
    return 0;
}

int harvest_last_rows(const char *dir, const harvest_info *h, long want, float *X) {
    long have = 0;
    for (long k = h->shards - 1; k >= 0 && have < want; k--) {
        char *p = harvest_shard_path(dir, k);
        st_file f;
        int rc = st_open(&f, p);
        free(p);
        if (rc) return -1;
        const st_tensor *t = st_find(&f, "acts");
        if (!t || t->ndim != 2 || t->shape[1] != h->d) {
            st_close(&f);
            return ms_seterr("shard %ld lacks an acts tensor of width %d (%s)", k, h->d, dir);
        }
        long rows = (long)t->shape[0], take = want - have < rows ? want - have : rows;
        float *all = xmalloc(sizeof(float) * (size_t)rows * h->d);
        rc = st_to_f32(&f, t, all, t->numel);
        st_close(&f);
        if (!rc) memcpy(X + (size_t)(want - have - take) * h->d, all + (size_t)(rows - take) * h->d,
                        sizeof(float) * (size_t)take * h->d);
        free(all);
        if (rc) return -1;
        have += take;
    }
    return have == want ? 0 : ms_seterr("the harvest has %ld rows, fewer than the %ld needed (%s)", have, want, dir);
}

int harvest_shard_load(const char *dir, const harvest_info *h, long k, float **acts, int **tokens, long *n) {
    *acts = NULL, *tokens = NULL, *n = 0; /* on any error too: the caller frees them */
    char *p = harvest_shard_path(dir, k);
    st_file f;
    int rc = st_open(&f, p);
    if (rc) return free(p), -1;
    const st_tensor *a = st_find(&f, "acts"), *t = st_find(&f, "tokens");
    if (!a || a->ndim != 2 || a->shape[1] != h->d || !t || t->dtype != ST_I32 || t->ndim != 1 ||
        t->shape[0] != a->shape[0])
        rc = ms_seterr("shard lacks acts [n, %d] with tokens I32 [n] (%s)", h->d, p);
    *n = rc ? 0 : (long)a->shape[0];
    if (!rc) {
        *acts = xmalloc(sizeof(float) * a->numel);
        *tokens = xmalloc(sizeof(int) * (size_t)*n);
        rc = st_to_f32(&f, a, *acts, a->numel);
        memcpy(*tokens, t->data, sizeof(int) * (size_t)*n); /* I32 little-endian, as written */
    }
    st_close(&f);
    free(p);
    if (rc) free(*acts), free(*tokens), *acts = NULL, *tokens = NULL;
    return rc;
}

/* ------------------------------------------------------------ temporary test harvests */

void harvest_remove(const char *dir) {
    DIR *D = opendir(dir);
    for (struct dirent *e; D && (e = readdir(D));)
        if (!strncmp(e->d_name, "shard-", 6) || !strcmp(e->d_name, "stats.safetensors") ||
            !strcmp(e->d_name, "manifest.json")) {
            char *p = ms_path_join(dir, e->d_name);
            unlink(p);
            free(p);
        }
    if (D) closedir(D);
    rmdir(dir);
}

int harvest_test_temp(const char *model, const char *corpus, int layer, long rows, FILE *log, char **dir) {
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/metascope-test-acts-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpl)) return ms_seterr("cannot create a temporary folder (%s)", tmpl);
    FILE *quiet = log ? log : fopen("/dev/null", "w");
    harvest_opts o = {model, corpus, "test", tmpl, layer, rows, 262144, false, quiet, false, NULL, false};
    harvest_result r;
    int rc = harvest(&o, &r);
    if (!log && quiet) fclose(quiet);
    if (!rc && r.rows < rows)
        rc = ms_seterr("the test split holds %ld rows of layer %d, fewer than the %ld needed (%s)", r.rows, r.layer,
                       rows, corpus);
    if (rc) {
        harvest_remove(tmpl);
        return -1;
    }
    *dir = xstrdup(tmpl);
    return 0;
}
