/* checkpoint.c — resumable training state (see checkpoint.h). */
#include "checkpoint.h"
#include "hash.h"
#include "safetensors.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Digest of the whole training state, in a fixed order: written in the
 * metadata and checked on resume, so flipped bits in the optimizer state
 * cannot resume silently into a different model. */
static uint64_t state_digest(const void *const *data, const size_t *bytes, int n, const char *steps) {
    uint64_t h = hash64(HASH64_INIT, steps, strlen(steps));
    for (int i = 0; i < n; i++) h = hash64(h, data[i], bytes[i]);
    return h;
}

int ckpt_save(const ckpt_view *c, const char *out) {
    int64_t n = (int64_t)c->opt->n, step = c->opt->step;
    char steps[32], el[32], sum[24];
    snprintf(steps, sizeof steps, "%ld", c->opt->step);
    snprintf(el, sizeof el, "%.3f", *c->elapsed);
    st_wtensor w[] = {
        {"params", ST_F32, 1, {n}, c->params}, {"adam_m", ST_F32, 1, {n}, c->opt->m},
        {"adam_v", ST_F32, 1, {n}, c->opt->v}, {"rng", ST_U64, 1, {4}, c->rng->s},
        {"step", ST_I64, 1, {1}, &step},   {0}, {0},
    };
    int nw = 5;
    if (c->n_counters) w[nw++] = (st_wtensor){"counters", ST_U64, 1, {(int64_t)c->n_counters}, c->counters};
    if (c->ema) w[nw++] = (st_wtensor){"ema", ST_F32, 1, {n}, c->ema};
    size_t fb = sizeof(float) * (size_t)n;
    /* An absent part hashes as zero bytes: checkpoints without a moving
     * average keep the digest they had before it existed. */
    const void *data[] = {c->params, c->opt->m, c->opt->v, c->rng->s, &step, c->counters, c->ema};
    size_t bytes[] = {fb, fb, fb, 32, 8, 8 * c->n_counters, c->ema ? fb : 0};
    snprintf(sum, sizeof sum, "%016llx", (unsigned long long)state_digest(data, bytes, 7, steps));
    const char *meta[] = {"step", steps, "elapsed", el, "shape", c->shape, "signature", c->signature, "fnv1a64", sum};
    char *p = ms_path_join(out, "ckpt.safetensors");
    int rc = st_write(p, w, nw, meta, 5);
    free(p);
    return rc;
}

static bool sized(const st_tensor *t, st_dtype dt, size_t n) { return t && t->dtype == dt && t->numel == n; }

static int check_digest(const st_file *f, const st_tensor *P, const st_tensor *M, const st_tensor *V,
                        const st_tensor *R, const st_tensor *S, const st_tensor *K, const st_tensor *E) {
    const char *sum = st_meta(f, "fnv1a64"), *steps = st_meta(f, "step");
    if (!sum || !steps)
        return ms_seterr("checkpoint has no checksum (written by an older build?); use a new --out (%s)", f->path);
    const void *data[] = {P->data, M->data, V->data, R->data, S->data, K ? K->data : NULL, E ? E->data : NULL};
    size_t bytes[] = {P->nbytes, M->nbytes, V->nbytes, R->nbytes, S->nbytes, K ? K->nbytes : 0, E ? E->nbytes : 0};
    char want[24];
    snprintf(want, sizeof want, "%016llx", (unsigned long long)state_digest(data, bytes, 7, steps));
    if (strcmp(sum, want))
        return ms_seterr("checkpoint is corrupt: checksum %.16s, contents give %s (%s)", sum, want, f->path);
    return 0;
}

int ckpt_load(const ckpt_view *c, const char *out) {
    char *p = ms_path_join(out, "ckpt.safetensors");
    st_file f;
    int rc = st_open(&f, p);
    free(p);
    if (rc) return -1;
    size_t n = c->opt->n;
    const char *have = st_meta(&f, "shape"), *el = st_meta(&f, "elapsed"), *sig = st_meta(&f, "signature");
    const st_tensor *P = st_find(&f, "params"), *M = st_find(&f, "adam_m"), *V = st_find(&f, "adam_v");
    const st_tensor *R = st_find(&f, "rng"), *S = st_find(&f, "step"), *K = st_find(&f, "counters");
    const st_tensor *E = st_find(&f, "ema");
    if (!have || strcmp(have, c->shape))
        rc = ms_seterr("checkpoint was made for another %s shape (%s)", c->what, f.path);
    else if (!sig || strcmp(sig, c->signature))
        rc = ms_seterr("checkpoint was made with other settings, tokenizer or data; use a new --out (%s)", f.path);
    else if (!sized(P, ST_F32, n) || !sized(M, ST_F32, n) || !sized(V, ST_F32, n) || !sized(R, ST_U64, 4) ||
             !sized(S, ST_I64, 1))
        rc = ms_seterr("checkpoint lacks or mis-sizes params/adam_m/adam_v/rng/step (%s)", f.path);
    else if (c->n_counters && !sized(K, ST_U64, c->n_counters))
        rc = ms_seterr("checkpoint lacks or mis-sizes counters (%s)", f.path);
    else if (c->ema && !sized(E, ST_F32, n))
        rc = ms_seterr("checkpoint lacks or mis-sizes ema (%s)", f.path);
    else if (check_digest(&f, P, M, V, R, S, c->n_counters ? K : NULL, c->ema ? E : NULL))
        rc = -1;
    else {
        memcpy(c->params, P->data, P->nbytes);
        memcpy(c->opt->m, M->data, M->nbytes);
        memcpy(c->opt->v, V->data, V->nbytes);
        memcpy(c->rng->s, R->data, 32);
        int64_t step;
        memcpy(&step, S->data, 8);
        c->opt->step = (long)step;
        *c->elapsed = el ? atof(el) : 0;
        if (c->n_counters) memcpy(c->counters, K->data, K->nbytes);
        if (c->ema) memcpy(c->ema, E->data, E->nbytes);
    }
    st_close(&f);
    return rc;
}

FILE *ckpt_open_log(const char *out, const char *header, long step, bool resume) {
    char *p = ms_path_join(out, "loss.csv");
    uint8_t *old = NULL;
    size_t n = 0, hl = strlen(header);
    if (resume && ms_file_exists(p) && ms_read_file(p, &old, &n)) {
        free(p);
        return NULL;
    }
    char *keep = xmalloc(n + hl + 1);
    size_t k = hl;
    memcpy(keep, header, k);
    for (char *line = old ? strchr((char *)old, '\n') : NULL; line && *line;) {
        char *next = strchr(line + 1, '\n');
        if (!next) break; /* a half-written last row is dropped */
        long s = strtol(line + 1, NULL, 10);
        if (s >= 1 && s <= step) {
            memcpy(keep + k, line + 1, (size_t)(next - line));
            k += (size_t)(next - line);
        }
        line = next;
    }
    free(old);
    FILE *f = NULL;
    if (!ms_write_file_atomic(p, keep, k) && !(f = fopen(p, "a"))) ms_seterr("cannot open: %s (%s)", strerror(errno), p);
    free(keep);
    free(p);
    return f;
}

FILE *ckpt_start(const ckpt_view *c, const char *out, const char *header, bool resume) {
    char *ck = ms_path_join(out, "ckpt.safetensors");
    bool have = resume && ms_file_exists(ck);
    free(ck);
    if (have && ckpt_load(c, out)) return NULL;
    return ckpt_open_log(out, header, c->opt->step, have); /* NULL: the error names loss.csv */
}

int ckpt_after_step(const ckpt_view *c, const char *out, bool stop, bool last_step, double minutes, double *last) {
    if (!stop && !last_step && ms_now() - *last <= 60 * minutes) return 0;
    *last = ms_now();
    return ckpt_save(c, out);
}
