/* bench.c — prefill / decode throughput measurement for `metascope bench`. */
#include "bench.h"
#include "pool.h"
#include "rng.h"
#include "sampler.h"
#include "transformer.h"
#include "util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- streaming read of the weights (the bandwidth limit of decode) ---- */

#define READ_BLOCK 65536

typedef struct {
    const uint8_t **base; /* per matrix */
    size_t *bytes, *first; /* bytes and first block of each matrix */
    int n;
    _Atomic uint32_t sink;
} reader;

static void read_block(void *ctx, int item) {
    reader *R = ctx;
    int i = 0;
    while (i + 1 < R->n && (size_t)item >= R->first[i + 1]) i++;
    size_t off = ((size_t)item - R->first[i]) * READ_BLOCK, len = R->bytes[i] - off;
    len = len < READ_BLOCK ? len : READ_BLOCK;
    const uint32_t *p = (const uint32_t *)(R->base[i] + off);
    uint32_t acc[16] = {0}; /* integer sums: vectorized, and no slow denormal floats */
    size_t n = len / 4, k = 0;
    for (; k + 16 <= n; k += 16)
        for (int j = 0; j < 16; j++) acc[j] += p[k + j];
    for (int j = 1; j < 16; j++) acc[0] += acc[j];
    atomic_fetch_add_explicit(&R->sink, acc[0], memory_order_relaxed);
}

static void add_matrix(reader *R, const wmat *w) {
    int i = R->n++;
    R->base[i] = w->data;
    R->bytes[i] = wmat_bytes(w);
    R->first[i + 1] = R->first[i] + (R->bytes[i] + READ_BLOCK - 1) / READ_BLOCK;
}

/* The matrices one decode step reads: every layer's, then the head. */
static double token_reader(const tf_model *m, reader *R) {
    int cap = m->c.n_layers * 7 + 1;
    R->base = xcalloc((size_t)cap, sizeof *R->base);
    R->bytes = xcalloc((size_t)cap, sizeof *R->bytes);
    R->first = xcalloc((size_t)cap + 1, sizeof *R->first);
    for (int l = 0; l < m->c.n_layers; l++) {
        const tf_layer *ly = &m->layers[l];
        for (int j = 0; j < ly->n_attn_in; j++) add_matrix(R, &ly->attn_in[j]);
        add_matrix(R, &ly->attn_out);
        for (int j = 0; j < ly->n_mlp_in; j++) add_matrix(R, &ly->mlp_in[j]);
        add_matrix(R, &ly->mlp_out);
    }
    add_matrix(R, &m->head);
    double total = 0;
    for (int i = 0; i < R->n; i++) total += (double)R->bytes[i];
    return total;
}

static double read_gb_s(reader *R, double bytes, int reps) {
    double best = 0;
    for (int rep = 0; rep < reps; rep++) {
        double t0 = ms_now();
        pool_run((int)R->first[R->n], read_block, R);
        double gb_s = bytes / (ms_now() - t0) / 1e9;
        best = gb_s > best ? gb_s : best;
    }
    return best;
}

/* VmRSS and VmHWM of this process, in MB (0 when /proc is unavailable). */
static void resident_mb(double *rss, double *hwm) {
    *rss = *hwm = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        long kb;
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) *rss = kb / 1024.0;
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) *hwm = kb / 1024.0;
    }
    fclose(f);
}

int bench_lm(const char *dir, int prefill, int decode, int reps, bool bandwidth, bench_result *r) {
    tf_model m;
    memset(r, 0, sizeof *r);
    double tl = ms_now();
    if (tf_load(&m, dir)) return -1;
    r->load_s = ms_now() - tl;
    if (prefill + decode > m.c.max_seq) {
        ms_seterr("prefill + decode exceed the model's %d positions (bench)", m.c.max_seq);
        tf_free(&m);
        return -1;
    }
    tf_state s;
    if (tf_state_init(&s, &m, prefill + decode)) {
        tf_free(&m);
        return -1;
    }
    int *tok = xmalloc(sizeof(int) * (size_t)prefill);
    rng_t rng;
    rng_seed(&rng, 42);
    for (int i = 0; i < prefill; i++) tok[i] = (int)rng_below(&rng, (uint64_t)m.c.vocab);
    r->prefill_tok_s = r->decode_tok_s = 0;
    int rc = 0;
    for (int rep = 0; rep < reps && !rc; rep++) {
        tf_state_reset(&s);
        double t0 = ms_now();
        rc = tf_forward(&m, &s, tok, prefill, LOGITS_LAST, NULL);
        double t1 = ms_now();
        for (int i = 0; i < decode && !rc; i++) {
            int next = argmax(s.logits, m.c.vocab);
            rc = tf_forward(&m, &s, &next, 1, LOGITS_LAST, NULL);
        }
        double t2 = ms_now();
        if (prefill / (t1 - t0) > r->prefill_tok_s) r->prefill_tok_s = prefill / (t1 - t0);
        if (decode / (t2 - t1) > r->decode_tok_s) r->decode_tok_s = decode / (t2 - t1);
    }
    reader R = {0};
    r->token_bytes = token_reader(&m, &R);
    if (!rc && bandwidth) r->read_gb_s = read_gb_s(&R, r->token_bytes, reps < 3 ? 3 : reps);
    free(R.base), free(R.bytes), free(R.first);
    resident_mb(&r->rss_mb, &r->hwm_mb);
    free(tok);
    tf_state_free(&s);
    tf_free(&m);
    return rc;
}
