/* train_ops.c — forward/backward kernels of the Llama training pass. The
 * derivations are the usual ones; comments note only what is not obvious. */
#include "train_ops.h"
#include "gemm_panel.h"
#include "ops.h"
#include "util.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>


/* ---------------------------------------------------------------- vector helpers
 * Branch-free so that GCC vectorizes the loops calling them (libm's expf is
 * scalar without -ffast-math, and ~50M exponentials per step at the default
 * shape would otherwise cost as much as the attention products). Reductions
 * keep LANES independent partial sums, which vectorizes without
 * reassociation; the partial sums are doubles where precision matters. */
#define LANES 16

/* e^x: x = k ln2 + r with |r| <= ln2/2, e^r by its degree-7 Taylor polynomial
 * (truncation < 6e-9 relative, so the result is within ~1 ulp of expf), 2^k
 * built in the exponent bits. Round-to-nearest of x/ln2 uses the 1.5*2^23
 * trick, so there is no float-to-int conversion. Inputs are clamped to
 * [-87, 88] (e^-87 ~ 1.6e-38 stands in for 0); NaN stays NaN. */
static inline float vexp(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    float kf = x * 1.44269504088896341f + 12582912.0f;
    uint32_t kb;
    memcpy(&kb, &kf, sizeof kb);
    kf -= 12582912.0f;
    float r = (x - kf * 0.693145751953125f) - kf * 1.428606820309417e-6f;
    float p = 1.0f / 5040;
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    uint32_t sb = (kb - 0x4B400000u + 127u) << 23;
    float sc;
    memcpy(&sc, &sb, sizeof sc);
    return p * sc;
}

static float row_max(const float *x, int n) {
    float m[LANES];
    for (int j = 0; j < LANES; j++) m[j] = -INFINITY;
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
    for (; i < n; i++) m[0] = x[i] > m[0] ? x[i] : m[0];
    float r = m[0];
    for (int j = 1; j < LANES; j++) r = m[j] > r ? m[j] : r;
    return r;
}

static double row_sum(const float *x, int n) {
    double a[LANES] = {0};
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) a[j] += x[i + j];
    for (; i < n; i++) a[0] += x[i];
    double r = 0;
    for (int j = 0; j < LANES; j++) r += a[j];
    return r;
}

static double row_dot(const float *x, const float *y, int n) {
    double a[LANES] = {0};
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) a[j] += (double)x[i + j] * y[i + j];
    for (; i < n; i++) a[0] += (double)x[i] * y[i];
    double r = 0;
    for (int j = 0; j < LANES; j++) r += a[j];
    return r;
}

/* x <- exp(x - max x) / sum; returns the log of the normaliser. */
static double softmax_row(float *x, int n) {
    float mx = row_max(x, n);
    for (int i = 0; i < n; i++) x[i] = vexp(x[i] - mx);
    double s = row_sum(x, n);
    float inv = (float)(1.0 / s);
    for (int i = 0; i < n; i++) x[i] *= inv;
    return mx + log(s);
}

/* ---------------------------------------------------------------- threads */

static int g_threads; /* tr_set_threads; 0 = follow OpenBLAS's setting */

void tr_set_threads(int n) { g_threads = n; }

int tr_threads(void) {
    int n = g_threads > 0 ? g_threads : ms_get_threads();
    return n < 1 ? 1 : n > TR_MAX_THREADS ? TR_MAX_THREADS : n;
}

typedef struct {
    tr_range_fn fn;
    void *ctx;
    int lo, hi, tid;
    int n, chunk;      /* chunk > 0: ranges claimed from *next instead of [lo, hi) */
    atomic_int *next;
} par_job;

static void *par_run(void *arg) {
    par_job *j = arg;
    if (!j->chunk) {
        if (j->lo < j->hi) j->fn(j->ctx, j->lo, j->hi, j->tid);
        return NULL;
    }
    for (int k; (k = atomic_fetch_add(j->next, 1)) < (j->n + j->chunk - 1) / j->chunk;) {
        int lo = k * j->chunk, hi = lo + j->chunk < j->n ? lo + j->chunk : j->n;
        j->fn(j->ctx, lo, hi, j->tid);
    }
    return NULL;
}

static void run_jobs(int n, int chunk, tr_range_fn fn, void *ctx) {
    int nt = tr_threads();
    if (chunk > 0 && nt > (n + chunk - 1) / chunk) nt = (n + chunk - 1) / chunk;
    if (nt > n) nt = n;
    if (nt < 1) return;
    par_job jobs[TR_MAX_THREADS];
    pthread_t th[TR_MAX_THREADS];
    bool started[TR_MAX_THREADS] = {0};
    atomic_int next = 0;
    for (int i = 0; i < nt; i++)
        jobs[i] = (par_job){fn, ctx, (int)((long)n * i / nt), (int)((long)n * (i + 1) / nt), i, n, chunk, &next};
    int saved = ms_get_threads();
    /* one core per worker's sgemm; through ops.c, which must know the count
     * OpenBLAS runs with (its per-product choice skips the call when it
     * believes the count is already right) */
    if (nt > 1 && saved > 1) ms_blas_threads_for(0);
    for (int i = 1; i < nt; i++) started[i] = pthread_create(&th[i], NULL, par_run, &jobs[i]) == 0;
    if (!chunk)
        for (int i = 1; i < nt; i++) /* no thread: do its share here */
            if (!started[i]) par_run(&jobs[i]);
    par_run(&jobs[0]); /* dynamic: a missing thread's ranges are simply claimed by the others */
    for (int i = 1; i < nt; i++)
        if (started[i]) pthread_join(th[i], NULL);
    if (nt > 1 && saved > 1) ms_blas_threads_for(INFINITY); /* back to the configured count */
}

void tr_parallel(int n, tr_range_fn fn, void *ctx) { run_jobs(n, 0, fn, ctx); }

void tr_parallel_chunks(int n, int chunk, tr_range_fn fn, void *ctx) { run_jobs(n, chunk < 1 ? 1 : chunk, fn, ctx); }

/* ---------------------------------------------------------------- sgemm */

enum { CAT_DENSE, CAT_ATTN };
static _Atomic unsigned long long g_flops[2];
static _Atomic long g_calls;
static double g_sec[2]; /* written by the calling thread only */
static _Thread_local int t_cat; /* category of this thread's products */

void tr_gemm(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    /* The packed panels where the shape amortizes packing (their FMA kernel
     * runs 1.1-1.8x OpenBLAS's sgemm on this project's shapes: bench/gemm.c) */
    if (M >= 16 && N >= 16 && gemm_panel_available(GP_EXACT))
        gemm_panel_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A,
                    lda, B, ldb, beta, C, ldc);
    unsigned long long f = 2ull * (unsigned long long)M * (unsigned long long)N * (unsigned long long)K;
    atomic_fetch_add_explicit(&g_flops[t_cat], f, memory_order_relaxed);
    atomic_fetch_add_explicit(&g_calls, 1, memory_order_relaxed);
}

typedef struct {
    bool ta, tb;
    int M, N, K, lda, ldb, ldc;
    float alpha, beta;
    const float *A, *B;
    float *C;
} gemm_job;

#define GEMM_ROWS 16 /* split unit, so that every part starts on an aligned row */
#define GEMM_PARTS 8 /* ranges per product */

static void gemm_rows(void *arg, int lo, int hi, int tid) {
    (void)tid;
    const gemm_job *g = arg;
    int r0 = lo * GEMM_ROWS, r1 = hi * GEMM_ROWS < g->M ? hi * GEMM_ROWS : g->M;
    const float *A = g->ta ? g->A + r0 : g->A + (size_t)r0 * g->lda; /* op(A) row r0 */
    tr_gemm(g->ta, g->tb, r1 - r0, g->N, g->K, g->alpha, A, g->lda, g->B, g->ldb, g->beta,
            g->C + (size_t)r0 * g->ldc, g->ldc);
}

void tr_gemm_par(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc) {
    double t0 = ms_now();
    gemm_job g = {ta, tb, M, N, K, lda, ldb, ldc, alpha, beta, A, B, C};
    /* Fixed ranges of rows claimed by whichever thread is free: on a shared
     * machine the faster core takes more of them instead of waiting on the
     * slower one's half; the ranges do not depend on the thread count, so
     * neither do the results. */
    int units = (M + GEMM_ROWS - 1) / GEMM_ROWS;
    tr_parallel_chunks(units, (units + GEMM_PARTS - 1) / GEMM_PARTS, gemm_rows, &g);
    g_sec[CAT_DENSE] += ms_now() - t0;
}

void tr_gemm_stats_reset(void) {
    for (int i = 0; i < 2; i++) atomic_store(&g_flops[i], 0), g_sec[i] = 0;
    atomic_store(&g_calls, 0);
}

tr_gemm_stats tr_gemm_stats_get(void) {
    tr_gemm_stats s;
    s.dense_flops = (double)atomic_load(&g_flops[CAT_DENSE]);
    s.dense_seconds = g_sec[CAT_DENSE];
    s.attn_flops = (double)atomic_load(&g_flops[CAT_ATTN]);
    s.attn_seconds = g_sec[CAT_ATTN];
    s.calls = atomic_load(&g_calls);
    return s;
}

/* ---------------------------------------------------------------- embedding */

void tr_embed_fwd(float *x, const float *E, const int *ids, int N, int d) {
    for (int r = 0; r < N; r++) memcpy(x + (size_t)r * d, E + (size_t)ids[r] * d, sizeof(float) * (size_t)d);
}

void tr_embed_bwd(float *dE, const float *dx, const int *ids, int N, int d) {
    for (int r = 0; r < N; r++) {
        float *e = dE + (size_t)ids[r] * d;
        const float *g = dx + (size_t)r * d;
        for (int i = 0; i < d; i++) e[i] += g[i];
    }
}

/* ---------------------------------------------------------------- RMSNorm */

typedef struct {
    float *y, *rstd, *dx, *dw;
    double *acc;
    const float *x, *w, *dy, *rs;
    int d;
    float eps;
} rms_ctx;

static void rms_apply_rows(float *y, const float *x, const float *rstd, const float *w, int lo, int hi, int d) {
    for (int r = lo; r < hi; r++) {
        const float *xr = x + (size_t)r * d;
        float *yr = y + (size_t)r * d, s = rstd[r];
        for (int i = 0; i < d; i++) yr[i] = xr[i] * s * w[i];
    }
}

static void rms_fwd_range(void *arg, int lo, int hi, int tid) {
    (void)tid;
    rms_ctx *c = arg;
    for (int r = lo; r < hi; r++) { /* as ops.c rmsnorm (inference): sum of squares in double */
        const float *xr = c->x + (size_t)r * c->d;
        c->rstd[r] = (float)(1.0 / sqrt(row_dot(xr, xr, c->d) / c->d + c->eps));
    }
    rms_apply_rows(c->y, c->x, c->rstd, c->w, lo, hi, c->d);
}

void tr_rms_fwd(float *y, float *rstd, const float *x, const float *w, int N, int d, float eps) {
    rms_ctx c = {.y = y, .rstd = rstd, .x = x, .w = w, .d = d, .eps = eps};
    tr_parallel(N, rms_fwd_range, &c);
}

static void rms_apply_range(void *arg, int lo, int hi, int tid) {
    (void)tid;
    rms_ctx *c = arg;
    rms_apply_rows(c->y, c->x, c->rs, c->w, lo, hi, c->d);
}

void tr_rms_apply(float *y, const float *x, const float *rstd, const float *w, int N, int d) {
    rms_ctx c = {.y = y, .x = x, .rs = rstd, .w = w, .d = d};
    tr_parallel(N, rms_apply_range, &c);
}

/* dx_j += s (dy_j w_j - x_j s^2 <dy w, x> / d); each thread sums its rows'
 * dy_j x_j s into its own d doubles, reduced in thread order afterwards. */
static void rms_bwd_range(void *arg, int lo, int hi, int tid) {
    rms_ctx *c = arg;
    int d = c->d;
    double *acc = c->acc + (size_t)tid * d;
    memset(acc, 0, sizeof(double) * (size_t)d);
    for (int r = lo; r < hi; r++) {
        const float *xr = c->x + (size_t)r * d, *gr = c->dy + (size_t)r * d, *w = c->w;
        float *dr = c->dx + (size_t)r * d, s = c->rs[r];
        double a[LANES] = {0};
        int i = 0;
        for (; i + LANES <= d; i += LANES)
            for (int j = 0; j < LANES; j++) a[j] += (double)(gr[i + j] * w[i + j]) * xr[i + j];
        for (; i < d; i++) a[0] += (double)(gr[i] * w[i]) * xr[i];
        double dot_ = 0;
        for (int j = 0; j < LANES; j++) dot_ += a[j];
        float k = (float)(dot_ * s * s / d);
        for (i = 0; i < d; i++) {
            dr[i] += s * (gr[i] * w[i] - xr[i] * k);
            acc[i] += (double)(gr[i] * xr[i] * s);
        }
    }
}

void tr_rms_bwd(float *dx, float *dw, double *acc, const float *dy, const float *x, const float *rstd,
                const float *w, int N, int d) {
    rms_ctx c = {.dx = dx, .acc = acc, .x = x, .w = w, .dy = dy, .rs = rstd, .d = d};
    int nt = tr_threads() < N ? tr_threads() : N;
    tr_parallel(N, rms_bwd_range, &c);
    for (int i = 0; i < d; i++) {
        double s = 0;
        for (int t = 0; t < nt; t++) s += acc[(size_t)t * d + i];
        dw[i] += (float)s;
    }
}

/* ---------------------------------------------------------------- linear */

void tr_linear_fwd(float *y, const float *x, const float *W, int N, int in, int out) {
    tr_gemm_par(false, true, N, out, in, 1.0f, x, in, W, in, 0.0f, y, out);
}

void tr_linear_bwd(float *dx, float *dW, const float *dy, const float *x, const float *W, int N, int in,
                   int out) {
    tr_gemm_par(true, false, out, in, N, 1.0f, dy, out, x, in, 1.0f, dW, in);
    if (dx) tr_gemm_par(false, false, N, in, out, 1.0f, dy, out, W, in, 0.0f, dx, in);
}

/* ---------------------------------------------------------------- RoPE */

void tr_rope_tables(float *cs, float *sn, const float *inv_freq, int T, int hd) {
    int half = hd / 2;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < half; i++) {
            double a = (double)t * inv_freq[i];
            cs[t * half + i] = (float)cos(a);
            sn[t * half + i] = (float)sin(a);
        }
}

/* Rotation by +angle (sign 1) or -angle (sign -1): the gradient of a
 * rotation is the inverse rotation. */
typedef struct {
    float *x;
    const float *cs, *sn;
    int ld, nh, hd, T;
    float sign;
} rope_ctx;

static void rope_range(void *arg, int lo, int hi, int tid) {
    (void)tid;
    const rope_ctx *c = arg;
    int half = c->hd / 2;
    for (int r = lo; r < hi; r++) {
        const float *cs = c->cs + (size_t)(r % c->T) * half, *sn = c->sn + (size_t)(r % c->T) * half;
        float *row = c->x + (size_t)r * c->ld;
        for (int h = 0; h < c->nh; h++) {
            float *v = row + h * c->hd;
            for (int i = 0; i < half; i++) {
                float a = v[i], b = v[i + half], si = c->sign * sn[i];
                v[i] = a * cs[i] - b * si;
                v[i + half] = b * cs[i] + a * si;
            }
        }
    }
}

void tr_rope_fwd(float *x, int ld, int nh, int hd, const float *cs, const float *sn, int N, int T) {
    rope_ctx c = {x, cs, sn, ld, nh, hd, T, 1.0f};
    tr_parallel(N, rope_range, &c);
}

void tr_rope_bwd(float *dx, int ld, int nh, int hd, const float *cs, const float *sn, int N, int T) {
    rope_ctx c = {dx, cs, sn, ld, nh, hd, T, -1.0f};
    tr_parallel(N, rope_range, &c);
}

/* ---------------------------------------------------------------- attention */

/* Query rows are processed in blocks of ATT_BLK so the products skip most of
 * the masked upper triangle: block [r0, r1) only needs keys [0, r1). */
#define ATT_BLK 64

typedef struct {
    float *out, *P, *dqkv, *scratch;
    const float *qkv, *dout, *Pc;
    tr_attn_dims a;
} attn_ctx;

static void attn_fwd_range(void *arg, int lo, int hi, int tid) {
    (void)tid;
    attn_ctx *c = arg;
    tr_attn_dims a = c->a;
    int T = a.T, hd = a.hd, q = a.H * hd, ld = (a.H + 2 * a.KV) * hd, group = a.H / a.KV;
    float scale = 1.0f / sqrtf((float)hd);
    t_cat = CAT_ATTN;
    for (int bh = lo; bh < hi; bh++) {
        int b = bh / a.H, h = bh % a.H, g = h / group;
        const float *Q = c->qkv + (size_t)b * T * ld + h * hd, *K = c->qkv + (size_t)b * T * ld + q + g * hd;
        const float *V = K + a.KV * hd;
        float *P = c->P + (size_t)bh * T * T, *O = c->out + (size_t)b * T * q + h * hd;
        for (int r0 = 0; r0 < T; r0 += ATT_BLK) {
            int r1 = r0 + ATT_BLK < T ? r0 + ATT_BLK : T;
            tr_gemm(false, true, r1 - r0, r1, hd, scale, Q + (size_t)r0 * ld, ld, K, ld, 0.0f,
                    P + (size_t)r0 * T, T);
            for (int i = r0; i < r1; i++) {
                float *row = P + (size_t)i * T;
                softmax_row(row, i + 1);
                memset(row + i + 1, 0, sizeof(float) * (size_t)(T - i - 1));
            }
            tr_gemm(false, false, r1 - r0, hd, r1, 1.0f, P + (size_t)r0 * T, T, V, ld, 0.0f,
                    O + (size_t)r0 * q, q);
        }
    }
    t_cat = CAT_DENSE;
}

void tr_attn_fwd(float *out, float *P, const float *qkv, tr_attn_dims a) {
    attn_ctx c = {.out = out, .P = P, .qkv = qkv, .a = a};
    double t0 = ms_now();
    tr_parallel(a.B * a.H, attn_fwd_range, &c);
    g_sec[CAT_ATTN] += ms_now() - t0;
}

/* One query head h of sequence b: dS = P (dP - rowdot(P, dP)) with
 * dP = dO V^T; dQ = scale dS K; dK += scale dS^T Q; dV += P^T dO. */
static void attn_bwd_head(attn_ctx *c, int b, int h, float *dS) {
    tr_attn_dims a = c->a;
    int T = a.T, hd = a.hd, q = a.H * hd, ld = (a.H + 2 * a.KV) * hd, g = h / (a.H / a.KV);
    float scale = 1.0f / sqrtf((float)hd);
    size_t base = (size_t)b * T * ld;
    const float *Q = c->qkv + base + h * hd, *K = c->qkv + base + q + g * hd, *V = K + a.KV * hd;
    float *dQ = c->dqkv + base + h * hd, *dK = c->dqkv + base + q + g * hd, *dV = dK + a.KV * hd;
    const float *P = c->Pc + (size_t)(b * a.H + h) * T * T, *dO = c->dout + (size_t)b * T * q + h * hd;
    for (int r0 = 0; r0 < T; r0 += ATT_BLK) {
        int r1 = r0 + ATT_BLK < T ? r0 + ATT_BLK : T, n = r1 - r0;
        const float *Pb = P + (size_t)r0 * T;
        float *dSb = dS + (size_t)r0 * T;
        tr_gemm(false, true, n, r1, hd, 1.0f, dO + (size_t)r0 * q, q, V, ld, 0.0f, dSb, T);
        for (int i = r0; i < r1; i++) {
            const float *p = P + (size_t)i * T;
            float *s = dS + (size_t)i * T;
            float df = (float)row_dot(p, s, i + 1);
            for (int j = 0; j <= i; j++) s[j] = p[j] * (s[j] - df);
            for (int j = i + 1; j < r1; j++) s[j] = 0.0f; /* masked: no gradient */
        }
        tr_gemm(false, false, n, hd, r1, scale, dSb, T, K, ld, 0.0f, dQ + (size_t)r0 * ld, ld);
        tr_gemm(true, false, r1, hd, n, scale, dSb, T, Q + (size_t)r0 * ld, ld, 1.0f, dK, ld);
        tr_gemm(true, false, r1, hd, n, 1.0f, Pb, T, dO + (size_t)r0 * q, q, 1.0f, dV, ld);
    }
}

/* Work items are (sequence, kv head): the query heads sharing a kv head add
 * into the same dK/dV, so they stay on one thread. */
static void attn_bwd_range(void *arg, int lo, int hi, int tid) {
    attn_ctx *c = arg;
    tr_attn_dims a = c->a;
    int T = a.T, hd = a.hd, ld = (a.H + 2 * a.KV) * hd, group = a.H / a.KV;
    float *dS = c->scratch + (size_t)tid * T * T;
    t_cat = CAT_ATTN;
    for (int bg = lo; bg < hi; bg++) {
        int b = bg / a.KV, g = bg % a.KV;
        float *dK = c->dqkv + (size_t)b * T * ld + (a.H + g) * hd, *dV = dK + a.KV * hd;
        for (int t = 0; t < T; t++) {
            memset(dK + (size_t)t * ld, 0, sizeof(float) * (size_t)hd);
            memset(dV + (size_t)t * ld, 0, sizeof(float) * (size_t)hd);
        }
        for (int h = g * group; h < (g + 1) * group; h++) attn_bwd_head(c, b, h, dS);
    }
    t_cat = CAT_DENSE;
}

void tr_attn_bwd(float *dqkv, float *scratch, const float *dout, const float *P, const float *qkv,
                 tr_attn_dims a) {
    attn_ctx c = {.dqkv = dqkv, .scratch = scratch, .dout = dout, .Pc = P, .qkv = qkv, .a = a};
    double t0 = ms_now();
    tr_parallel(a.B * a.KV, attn_bwd_range, &c);
    g_sec[CAT_ATTN] += ms_now() - t0;
}

/* ---------------------------------------------------------------- SwiGLU */

typedef struct {
    float *out;
    const float *h, *dout;
    int ff;
} swiglu_ctx;

static void swiglu_fwd_range(void *arg, int lo, int hi, int tid) {
    (void)tid;
    swiglu_ctx *c = arg;
    int ff = c->ff;
    for (int r = lo; r < hi; r++) {
        const float *g = c->h + (size_t)r * 2 * ff, *u = g + ff;
        float *o = c->out + (size_t)r * ff;
        for (int i = 0; i < ff; i++) o[i] = g[i] / (1.0f + vexp(-g[i])) * u[i];
    }
}

void tr_swiglu_fwd(float *out, const float *h, int N, int ff) {
    swiglu_ctx c = {.out = out, .h = h, .ff = ff};
    tr_parallel(N, swiglu_fwd_range, &c);
}

/* silu'(x) = s (1 + x (1 - s)) with s = sigmoid(x). */
static void swiglu_bwd_range(void *arg, int lo, int hi, int tid) {
    (void)tid;
    swiglu_ctx *c = arg;
    int ff = c->ff;
    for (int r = lo; r < hi; r++) {
        const float *g = c->h + (size_t)r * 2 * ff, *u = g + ff, *d = c->dout + (size_t)r * ff;
        float *dg = c->out + (size_t)r * 2 * ff, *du = dg + ff;
        for (int i = 0; i < ff; i++) {
            float sg = 1.0f / (1.0f + vexp(-g[i]));
            du[i] = d[i] * g[i] * sg;
            dg[i] = d[i] * u[i] * sg * (1.0f + g[i] * (1.0f - sg));
        }
    }
}

void tr_swiglu_bwd(float *dh, const float *dout, const float *h, int N, int ff) {
    swiglu_ctx c = {.out = dh, .h = h, .dout = dout, .ff = ff};
    tr_parallel(N, swiglu_bwd_range, &c);
}

/* ---------------------------------------------------------------- cross-entropy */

typedef struct {
    float *logits;
    const int *targets;
    int V;
    float dscale;
    double part[TR_MAX_THREADS];
} xent_ctx;

static void xent_range(void *arg, int lo, int hi, int tid) {
    xent_ctx *c = arg;
    int V = c->V;
    double sum = 0;
    for (int r = lo; r < hi; r++) {
        float *x = c->logits + (size_t)r * V;
        int t = c->targets[r];
        float xt = x[t];
        if (c->dscale == 0.0f) { /* loss only: leave the logits as they are */
            float mx = row_max(x, V);
            double a[LANES] = {0};
            int i = 0;
            for (; i + LANES <= V; i += LANES)
                for (int j = 0; j < LANES; j++) a[j] += vexp(x[i + j] - mx);
            for (; i < V; i++) a[0] += vexp(x[i] - mx);
            double s = 0;
            for (int j = 0; j < LANES; j++) s += a[j];
            sum += mx + log(s) - xt;
            continue;
        }
        sum += softmax_row(x, V) - xt;
        for (int j = 0; j < V; j++) x[j] *= c->dscale;
        x[t] -= c->dscale;
    }
    c->part[tid] += sum;
}

double tr_xent(float *logits, const int *targets, int N, int V, float dscale) {
    xent_ctx c = {.logits = logits, .targets = targets, .V = V, .dscale = dscale};
    tr_parallel(N, xent_range, &c);
    double sum = 0;
    for (int i = 0; i < TR_MAX_THREADS; i++) sum += c.part[i];
    return sum;
}
