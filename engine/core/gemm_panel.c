/* gemm_panel.c — the packed-panel products of gemm_panel.h.
 *
 * Per chunk of KC units, the panel's 48 rows are packed as P[u][48] (4-byte
 * elements: an f32 for GP_EXACT, a BF16 pair for GP_BF16) by 16x16
 * transposes of 32-bit elements, 16 rows at a time. The micro-kernel keeps
 * 8 x 3 accumulators (8 input rows x 48 outputs) in registers: per unit it
 * loads 3 packed vectors and broadcasts one unit of each input row. KC units
 * per chunk keep the packed panel (192 KB) in L2 while every block of input
 * rows streams past it. */
#include "gemm_panel.h"

#include "alloc.h"

#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MR GP_ROWS
#define NV (GP_PANEL / 16)
#define KC 1024 /* units of K per packed chunk */

static int units(gp_form f, int K) { return f == GP_BF16 ? (K + 1) / 2 : K; }

bool gemm_panel_available(gp_form f) {
    static int have[2] = {-1, -1};
    if (have[f] < 0) {
        __builtin_cpu_init();
        have[f] = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512vl") && (f == GP_EXACT || __builtin_cpu_supports("avx512bf16"));
    }
    return have[f];
}

size_t gemm_panel_x_size(gp_form f, int T, int K) {
    return ((size_t)T + MR - 1) / MR * MR * (size_t)units(f, K);
}

size_t gemm_panel_scratch(gp_form f, int K) {
    size_t u = (size_t)units(f, K);
    return (u < KC ? u : KC) * GP_PANEL;
}

#define AVX __attribute__((target("avx512f,avx512bw,avx512vl")))
#define AVX_INLINE __attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) static inline
#define BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#define BF16_INLINE __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"), always_inline)) static inline

/* ---------------------------------------------------------------- activations */

static uint16_t round_one(float f) { /* nearest even; NaN stays NaN */
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}

/* Whole blocks of 32 with vcvtne2ps2bf16 (the rounding of round_one);
 * returns how many elements of the row it did. */
BF16 static int round_avx(const float *s, int K, uint16_t *d) {
    int k = 0;
    for (; k + 32 <= K; k += 32) {
        __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(s + k + 16), _mm512_loadu_ps(s + k));
        _mm512_storeu_si512(d + k, (__m512i)v);
    }
    return k;
}

/* Row t of x as units: f32 values, or BF16 pairs (the odd K's last padded). */
static void row_units(gp_form f, const float *s, int K, uint32_t *row) {
    if (f == GP_EXACT) {
        memcpy(row, s, sizeof(float) * (size_t)K);
        return;
    }
    uint16_t *d = (uint16_t *)row;
    for (int k = round_avx(s, K, d); k < K; k++) d[k] = round_one(s[k]);
    if (K & 1) d[K] = 0;
}

void gemm_panel_x(gp_form f, const float *x, int T, int K, void *xp) {
    size_t n = (size_t)units(f, K);
    uint32_t *row = xmalloc(sizeof(uint32_t) * n), *out = xp;
    for (int t0 = 0; t0 < T; t0 += MR) {
        uint32_t *blk = out + (size_t)t0 * n; /* [units][MR] */
        for (int i = 0; i < MR; i++) {
            if (t0 + i < T) row_units(f, x + (size_t)(t0 + i) * K, K, row);
            else memset(row, 0, sizeof(uint32_t) * n);
            for (size_t u = 0; u < n; u++) blk[u * MR + i] = row[u];
        }
    }
    free(row);
}

/* ---------------------------------------------------------------- packing */

/* r[i] = 16 uint32 of row i; afterwards r[c] = element c of the 16 rows. */
AVX_INLINE void transpose16(__m512i r[16]) {
    __m512i t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int g = 0; g < 4; g++) { /* u[4g + e]: rows 4g..4g+3 of column 4 L + e in lane L */
        __m512i *q = t + 4 * g;
        u[4 * g + 0] = _mm512_unpacklo_epi64(q[0], q[2]);
        u[4 * g + 1] = _mm512_unpackhi_epi64(q[0], q[2]);
        u[4 * g + 2] = _mm512_unpacklo_epi64(q[1], q[3]);
        u[4 * g + 3] = _mm512_unpackhi_epi64(q[1], q[3]);
    }
    for (int e = 0; e < 4; e++) {
        __m512i v0 = _mm512_shuffle_i32x4(u[e], u[4 + e], 0x88), v1 = _mm512_shuffle_i32x4(u[e], u[4 + e], 0xdd);
        __m512i w0 = _mm512_shuffle_i32x4(u[8 + e], u[12 + e], 0x88),
                w1 = _mm512_shuffle_i32x4(u[8 + e], u[12 + e], 0xdd);
        r[0 + e] = _mm512_shuffle_i32x4(v0, w0, 0x88);
        r[8 + e] = _mm512_shuffle_i32x4(v0, w0, 0xdd);
        r[4 + e] = _mm512_shuffle_i32x4(v1, w1, 0x88);
        r[12 + e] = _mm512_shuffle_i32x4(v1, w1, 0xdd);
    }
}

/* 16 units of one weight row from unit u, zero past K: BF16 pairs as stored
 * (GP_BF16), or 16 elements widened to f32 (GP_EXACT). */
AVX_INLINE __m512i load_units(gp_form f, gp_wtype dt, const uint16_t *w, int K, int u) {
    if (f == GP_BF16) {
        int k = 2 * u, m = K - k < 32 ? K - k : 32;
        return _mm512_maskz_loadu_epi16((__mmask32)(m >= 32 ? ~0u : (1u << m) - 1), w + k);
    }
    int m = K - u < 16 ? K - u : 16;
    __mmask16 mask = (__mmask16)(m >= 16 ? 0xffff : (1u << m) - 1);
    if (dt == GP_W_F32) return _mm512_maskz_loadu_epi32(mask, (const float *)(const void *)w + u);
    __m256i h = _mm256_maskz_loadu_epi16(mask, w + u);
    if (dt == GP_W_BF16) return _mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16);
    return _mm512_castps_si512(_mm512_cvtph_ps(h));
}

/* P[u][GP_PANEL] for units u0 <= u < u0 + n of rows r0..r1-1 of W; rows past
 * r1 are zero. */
AVX_INLINE void pack(gp_form f, gp_wtype dt, const uint16_t *W, int K, int r0, int r1, int u0, int n, uint32_t *P) {
    for (int g = 0; g < NV; g++)
        for (int c0 = 0; c0 < n; c0 += 16) {
            __m512i r[16];
            for (int i = 0; i < 16; i++) {
                int row = r0 + 16 * g + i;
                const uint16_t *w = (const uint16_t *)((const uint8_t *)W + (size_t)row * K * (dt == GP_W_F32 ? 4 : 2));
                r[i] = row < r1 ? load_units(f, dt, w, K, u0 + c0) : _mm512_setzero_si512();
            }
            transpose16(r);
            int nc = n - c0 < 16 ? n - c0 : 16;
            for (int c = 0; c < nc; c++) _mm512_storeu_si512(P + (size_t)(c0 + c) * GP_PANEL + 16 * g, r[c]);
        }
}

/* ---------------------------------------------------------------- micro-kernels */

/* y[i * ldy + c] = alpha * sum over n units of x[u][i] . P[u][c]
 * (+ beta * y[i * ldy + c] when beta != 0) for i < mr, c < GP_PANEL (lanes
 * outside mask[j] left alone). mr is a constant at every call site, so the
 * accumulators stay in registers. */
#define KERNEL_BODY(STEP)                                                                              \
    __m512 a[MR][NV];                                                                                  \
    for (int i = 0; i < mr; i++)                                                                       \
        for (int j = 0; j < NV; j++) a[i][j] = _mm512_setzero_ps();                                   \
    for (int u = 0; u < n; u++) {                                                                      \
        __m512i w[NV];                                                                                 \
        for (int j = 0; j < NV; j++) w[j] = _mm512_loadu_si512(P + (size_t)u * GP_PANEL + 16 * j);     \
        for (int i = 0; i < mr; i++) {                                                                 \
            __m512i b = _mm512_set1_epi32((int)x[(size_t)u * MR + i]);                                 \
            for (int j = 0; j < NV; j++) a[i][j] = STEP(a[i][j], b, w[j]);                             \
        }                                                                                              \
    }                                                                                                  \
    __m512 al = _mm512_set1_ps(alpha), be = _mm512_set1_ps(beta);                                     \
    for (int i = 0; i < mr; i++)                                                                       \
        for (int j = 0; j < NV; j++) {                                                                 \
            float *d = y + (size_t)i * ldy + 16 * j;                                                   \
            __m512 v = alpha == 1 ? a[i][j] : _mm512_mul_ps(al, a[i][j]);                              \
            if (beta != 0)                                                                             \
                v = _mm512_add_ps(v, beta == 1 ? _mm512_maskz_loadu_ps(mask[j], d)                      \
                                               : _mm512_mul_ps(be, _mm512_maskz_loadu_ps(mask[j], d))); \
            _mm512_mask_storeu_ps(d, mask[j], v);                                                      \
        }

#define FMA_STEP(acc, b, w) _mm512_fmadd_ps(_mm512_castsi512_ps(b), _mm512_castsi512_ps(w), acc)
#define DOT_STEP(acc, b, w) _mm512_dpbf16_ps(acc, (__m512bh)(b), (__m512bh)(w))

AVX_INLINE void kernel_fma(const uint32_t *P, int n, const uint32_t *x, float *y, int ldy, int mr,
                           const __mmask16 mask[NV], float alpha, float beta) {
    KERNEL_BODY(FMA_STEP)
}
BF16_INLINE void kernel_dot(const uint32_t *P, int n, const uint32_t *x, float *y, int ldy, int mr,
                            const __mmask16 mask[NV], float alpha, float beta) {
    KERNEL_BODY(DOT_STEP)
}

#define CASES(K)                                                                                       \
    switch (mr) {                                                                                      \
    case 1: K(P, n, x, y, ldy, 1, mask, alpha, beta); break;                                                 \
    case 2: K(P, n, x, y, ldy, 2, mask, alpha, beta); break;                                                 \
    case 3: K(P, n, x, y, ldy, 3, mask, alpha, beta); break;                                                 \
    case 4: K(P, n, x, y, ldy, 4, mask, alpha, beta); break;                                                 \
    case 5: K(P, n, x, y, ldy, 5, mask, alpha, beta); break;                                                 \
    case 6: K(P, n, x, y, ldy, 6, mask, alpha, beta); break;                                                 \
    case 7: K(P, n, x, y, ldy, 7, mask, alpha, beta); break;                                                 \
    default: K(P, n, x, y, ldy, 8, mask, alpha, beta); break;                                                \
    }

AVX static void block_fma(const uint32_t *P, int n, const uint32_t *x, float *y, int ldy, int mr,
                          const __mmask16 mask[NV], float alpha, float beta) {
    CASES(kernel_fma)
}
BF16 static void block_dot(const uint32_t *P, int n, const uint32_t *x, float *y, int ldy, int mr,
                           const __mmask16 mask[NV], float alpha, float beta) {
    CASES(kernel_dot)
}

/* ---------------------------------------------------------------- a panel */

AVX static void pack_exact(gp_wtype dt, const uint16_t *W, int K, int r0, int r1, int u0, int n, uint32_t *P) {
    if (dt == GP_W_BF16) pack(GP_EXACT, GP_W_BF16, W, K, r0, r1, u0, n, P);
    else if (dt == GP_W_F16) pack(GP_EXACT, GP_W_F16, W, K, r0, r1, u0, n, P);
    else pack(GP_EXACT, GP_W_F32, W, K, r0, r1, u0, n, P);
}
BF16 static void pack_bf16(const uint16_t *W, int K, int r0, int r1, int u0, int n, uint32_t *P) {
    pack(GP_BF16, GP_W_BF16, W, K, r0, r1, u0, n, P);
}

void gemm_panel_rows(gp_form f, gp_wtype dt, const void *W, int K, int r0, int r1, const void *xp, int T, float *y,
                     int ldy, void *scratch) {
    int nu = units(f, K), nr = r1 - r0;
    __mmask16 mask[NV];
    for (int j = 0; j < NV; j++) {
        int v = nr - 16 * j;
        mask[j] = (__mmask16)(v >= 16 ? 0xffff : v <= 0 ? 0 : (1u << v) - 1);
    }
    uint32_t *P = scratch;
    const uint32_t *x = xp;
    for (int u0 = 0; u0 < nu; u0 += KC) {
        int n = nu - u0 < KC ? nu - u0 : KC;
        if (f == GP_BF16) pack_bf16(W, K, r0, r1, u0, n, P);
        else pack_exact(dt, W, K, r0, r1, u0, n, P);
        for (int t = 0; t < T; t += MR) {
            const uint32_t *xb = x + (size_t)t * nu + (size_t)u0 * MR;
            float *yb = y + (size_t)t * ldy + r0;
            int mr = T - t < MR ? T - t : MR;
            if (f == GP_BF16) block_dot(P, n, xb, yb, ldy, mr, mask, 1, u0 > 0);
            else block_fma(P, n, xb, yb, ldy, mr, mask, 1, u0 > 0);
        }
    }
}

/* ---------------------------------------------------------------- f32 sgemm */

/* op(A) rows as GP_ROWS-row blocks of units: xp[m / 8][k][m % 8], alpha
 * left to the kernel. ta: A is [K, lda] and op(A)(m, k) = A[k * lda + m]. */
static void layout_a(bool ta, int M, int K, const float *A, int lda, float *xp) {
    for (int m0 = 0; m0 < M; m0 += MR) {
        float *blk = xp + (size_t)m0 * K;
        int mr = M - m0 < MR ? M - m0 : MR;
        for (int k = 0; k < K; k++) {
            float *d = blk + (size_t)k * MR;
            for (int i = 0; i < MR; i++)
                d[i] = i >= mr ? 0 : ta ? A[(size_t)k * lda + m0 + i] : A[(size_t)(m0 + i) * lda + k];
        }
    }
}

/* P[k][GP_PANEL] for k0 <= k < k0 + n and columns n0..n1-1 of op(B), zero
 * past n1. tb: B is [N, ldb] and op(B)(k, c) = B[c * ldb + k] (the
 * transposing pack); else B is [K, ldb] and a row of P is a row of B. */
AVX static void pack_f32(bool tb, const float *B, int ldb, int K, int n0, int n1, int k0, int n, uint32_t *P) {
    if (tb) {
        for (int g = 0; g < NV; g++)
            for (int c0 = 0; c0 < n; c0 += 16) {
                __m512i r[16];
                for (int i = 0; i < 16; i++) {
                    int col = n0 + 16 * g + i, m = K - (k0 + c0) < 16 ? K - (k0 + c0) : 16;
                    __mmask16 mk = (__mmask16)(m >= 16 ? 0xffff : (1u << m) - 1);
                    r[i] = col < n1 ? _mm512_maskz_loadu_epi32(mk, B + (size_t)col * ldb + k0 + c0) : _mm512_setzero_si512();
                }
                transpose16(r);
                int nc = n - c0 < 16 ? n - c0 : 16;
                for (int c = 0; c < nc; c++) _mm512_storeu_si512(P + (size_t)(c0 + c) * GP_PANEL + 16 * g, r[c]);
            }
        return;
    }
    __mmask16 mk[NV];
    for (int j = 0; j < NV; j++) {
        int v = n1 - n0 - 16 * j;
        mk[j] = (__mmask16)(v >= 16 ? 0xffff : v <= 0 ? 0 : (1u << v) - 1);
    }
    for (int k = 0; k < n; k++)
        for (int j = 0; j < NV; j++)
            _mm512_storeu_si512(P + (size_t)k * GP_PANEL + 16 * j,
                                _mm512_maskz_loadu_epi32(mk[j], B + (size_t)(k0 + k) * ldb + n0 + 16 * j));
}

/* Each thread's layout and panel buffers, freed when the thread ends (the
 * trainers start threads per parallel section). */
typedef struct {
    float *p[2];
    size_t n[2];
} bufs;
static pthread_key_t g_key;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void bufs_free(void *v) {
    bufs *b = v;
    free(b->p[0]), free(b->p[1]), free(b);
}
static void key_init(void) { pthread_key_create(&g_key, bufs_free); }

static float *thread_buf(int i, size_t n) {
    pthread_once(&g_once, key_init);
    bufs *b = pthread_getspecific(g_key);
    if (!b) {
        b = xcalloc(1, sizeof *b);
        pthread_setspecific(g_key, b);
    }
    if (b->n[i] < n) {
        free(b->p[i]);
        b->p[i] = xmalloc(sizeof(float) * n);
        b->n[i] = n;
    }
    return b->p[i];
}

void gemm_panel_sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                      int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* C = beta C */
        for (int m = 0; m < M; m++)
            for (int c = 0; c < N; c++) C[(size_t)m * ldc + c] = beta == 0 ? 0 : beta * C[(size_t)m * ldc + c];
        return;
    }
    float *xp = thread_buf(0, (size_t)(M + MR - 1) / MR * MR * (size_t)K);
    uint32_t *P = (uint32_t *)thread_buf(1, (size_t)(K < KC ? K : KC) * GP_PANEL);
    layout_a(ta, M, K, A, lda, xp);
    const uint32_t *x = (const uint32_t *)xp;
    for (int n0 = 0; n0 < N; n0 += GP_PANEL) {
        int n1 = n0 + GP_PANEL < N ? n0 + GP_PANEL : N;
        __mmask16 mask[NV];
        for (int j = 0; j < NV; j++) {
            int v = n1 - n0 - 16 * j;
            mask[j] = (__mmask16)(v >= 16 ? 0xffff : v <= 0 ? 0 : (1u << v) - 1);
        }
        for (int k0 = 0; k0 < K; k0 += KC) {
            int n = K - k0 < KC ? K - k0 : KC;
            pack_f32(tb, B, ldb, K, n0, n1, k0, n, P);
            for (int m = 0; m < M; m += MR)
                block_fma(P, n, x + (size_t)m * K + (size_t)k0 * MR, C + (size_t)m * ldc + n0, ldc,
                          M - m < MR ? M - m : MR, mask, alpha, k0 ? 1 : beta);
        }
    }
}
