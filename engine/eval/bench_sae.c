/* bench_sae.c — SAE encode and sparse decode timings for
 * `metascope bench --sae` (see bench_sae.h). */
#include "bench_sae.h"
#include "rng.h"
#include "sae.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int or_default(int v, int d) { return v > 0 ? v : d; }

/* Fraction of variance unexplained: a cheap check that both sides reconstruct alike. */
static double fvu(const float *h, const float *out, int N, int d) {
    double se = 0, ss = 0;
    for (int i = 0; i < d; i++) {
        double mu = 0;
        for (int r = 0; r < N; r++) mu += h[(size_t)r * d + i];
        mu /= N;
        for (int r = 0; r < N; r++) {
            double x = h[(size_t)r * d + i], e = out[(size_t)r * d + i] - x;
            se += e * e, ss += (x - mu) * (x - mu);
        }
    }
    return ss > 0 ? se / ss : NAN;
}

/* Best of reps encodes after a warm-up; codes left in idx/val. */
static int time_encode(const sae_model *m, sae_work *w, const float *h, int N, int reps, int *idx, float *val,
                       double *best) {
    *best = INFINITY;
    for (int i = 0; i <= reps; i++) {
        double t0 = ms_now();
        if (sae_encode(m, w, h, N, idx, val, NULL)) return -1;
        double dt = ms_now() - t0;
        if (i && dt < *best) *best = dt;
    }
    return 0;
}

static void time_decode(const sae_model *m, const int *idx, const float *val, int N, int reps, float *out,
                        double *best) {
    *best = INFINITY;
    for (int i = 0; i <= reps; i++) {
        double t0 = ms_now();
        sae_decode_sparse(m, idx, val, N, m->c.k, out);
        double dt = ms_now() - t0;
        if (i && dt < *best) *best = dt;
    }
}

int bench_sae(const bench_sae_opts *o, bench_sae_result *r) {
    sae_config c = {or_default(o->d_in, 256), or_default(o->n_latents, 4096), or_default(o->k, 32), SAE_TOPK, true};
    int N = or_default(o->rows, 4096), reps = or_default(o->reps, 3), chunk = or_default(o->chunk, 1024);
    memset(r, 0, sizeof *r);
    if (c.k > c.n_latents) return ms_seterr("k %d exceeds the %d latents (bench)", c.k, c.n_latents);
    sae_model m;
    if (sae_init(&m, &c)) return -1;
    rng_t rng;
    rng_seed(&rng, o->seed ? o->seed : 42);
    sae_init_random(&m, &rng);
    size_t n = (size_t)N * c.d_in;
    float *h = xmalloc(sizeof(float) * n), *out = xmalloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) h[i] = rng_normal(&rng);
    int *idx = xmalloc(sizeof(int) * (size_t)N * c.k);
    float *val = xmalloc(sizeof(float) * (size_t)N * c.k);
    sae_work *w = sae_work_new(&m, chunk < N ? chunk : N);
    double te, td;
    int rc = time_encode(&m, w, h, N, reps, idx, val, &te);
    if (!rc) {
        time_decode(&m, idx, val, N, reps, out, &td);
        *r = (bench_sae_result){N / te, N / td, fvu(h, out, N, c.d_in)};
    }
    sae_work_free(w);
    free(h), free(out), free(idx), free(val);
    sae_free(&m);
    return rc;
}
