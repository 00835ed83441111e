/* gemm_bf16.c — the vdpbf16ps product of gemm_bf16.h.
 *
 * A panel of 48 weight rows is packed per chunk of K as P[kp][48] (uint32:
 * the BF16 pair (2 kp, 2 kp + 1) of each row), a 16x16 transpose of 32-bit
 * elements per 16 rows. The micro-kernel keeps MR x 3 accumulators (8 input
 * rows x 48 outputs) in registers: per pair of K it loads 3 packed vectors
 * and broadcasts one pair of each input row. KC pairs per chunk keep the
 * packed panel (192 KB) in L2 while all input rows stream past it. */
#include "gemm_bf16.h"

#include "alloc.h"

#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#define MR GB_ROWS
#define NV (GB_PANEL / 16)
#define KC 1024 /* pairs of K per packed chunk */

bool gemm_bf16_available(void) {
    static int ok = -1;
    if (ok < 0) {
        __builtin_cpu_init();
        ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512bf16");
    }
    return ok;
}

size_t gemm_bf16_xb_size(int T, int K) { return ((size_t)T + GB_ROWS - 1) / GB_ROWS * GB_ROWS * (((size_t)K + 1) / 2); }

size_t gemm_bf16_scratch(int K) {
    size_t kp = ((size_t)K + 1) / 2;
    return (kp < KC ? kp : KC) * GB_PANEL;
}

#define BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#define BF16_INLINE __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"), always_inline)) static inline

/* ---------------------------------------------------------------- rounding */

static uint16_t round_one(float f) { /* nearest even; NaN stays NaN */
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}

/* Whole blocks of 32 with vcvtne2ps2bf16 (same rounding as round_one);
 * returns how many elements of the row it did. */
BF16 static int round_avx(const float *s, int K, uint16_t *d) {
    int k = 0;
    for (; k + 32 <= K; k += 32) {
        __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(s + k + 16), _mm512_loadu_ps(s + k));
        _mm512_storeu_si512(d + k, (__m512i)v);
    }
    return k;
}

void gemm_bf16_round(const float *x, int T, int K, uint32_t *xb) {
    int kp = (K + 1) / 2;
    bool avx = gemm_bf16_available();
    uint16_t *row = xmalloc(sizeof(uint16_t) * 2 * (size_t)kp);
    for (int t0 = 0; t0 < T; t0 += GB_ROWS) {
        uint32_t *blk = xb + (size_t)t0 * kp; /* [kp][GB_ROWS], rows past T zero */
        for (int i = 0; i < GB_ROWS; i++) {
            if (t0 + i < T) {
                const float *s = x + (size_t)(t0 + i) * K;
                for (int k = avx ? round_avx(s, K, row) : 0; k < K; k++) row[k] = round_one(s[k]);
                if (K & 1) row[K] = 0;
            } else memset(row, 0, sizeof(uint16_t) * 2 * (size_t)kp);
            const uint32_t *pairs = (const uint32_t *)row;
            for (int c = 0; c < kp; c++) blk[(size_t)c * GB_ROWS + i] = pairs[c];
        }
    }
    free(row);
}

/* ---------------------------------------------------------------- packing */

/* r[i] = 16 uint32 of row i; afterwards r[c] = element c of the 16 rows. */
BF16_INLINE void transpose16(__m512i r[16]) {
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

/* P[kp][GB_PANEL] for pairs kp0 <= kp < kp0 + n of rows r0..r1-1 of W;
 * rows past r1 and elements past K are zero. */
BF16 static void pack(const uint16_t *W, int K, int r0, int r1, int kp0, int n, uint32_t *P) {
    for (int g = 0; g < NV; g++)
        for (int c0 = 0; c0 < n; c0 += 16) {
            int k = 2 * (kp0 + c0), m = K - k < 32 ? K - k : 32;
            __mmask32 mask = (__mmask32)(m >= 32 ? ~0u : (1u << m) - 1);
            __m512i r[16];
            for (int i = 0; i < 16; i++) {
                int row = r0 + 16 * g + i;
                r[i] = row < r1 ? _mm512_maskz_loadu_epi16(mask, W + (size_t)row * K + k) : _mm512_setzero_si512();
            }
            transpose16(r);
            int nc = n - c0 < 16 ? n - c0 : 16;
            for (int c = 0; c < nc; c++) _mm512_storeu_si512(P + (size_t)(c0 + c) * GB_PANEL + 16 * g, r[c]);
        }
}

/* ---------------------------------------------------------------- micro-kernel */

/* y[i * ldy + c] (+)= sum over n pairs of x[kp][i] . P[kp][c] for
 * i < mr, c < GB_PANEL (lanes outside mask[j] left alone). mr is a
 * constant at every call site, so the accumulators stay in registers. */
BF16_INLINE void kernel(const uint32_t *P, int n, const uint32_t *x, float *y, int ldy, int mr,
                        const __mmask16 mask[NV], bool add) {
    __m512 a[MR][NV];
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < NV; j++) a[i][j] = _mm512_setzero_ps();
    for (int kp = 0; kp < n; kp++) {
        __m512bh w[NV];
        for (int j = 0; j < NV; j++) w[j] = (__m512bh)_mm512_loadu_si512(P + (size_t)kp * GB_PANEL + 16 * j);
        for (int i = 0; i < mr; i++) {
            __m512bh b = (__m512bh)_mm512_set1_epi32((int)x[(size_t)kp * MR + i]);
            for (int j = 0; j < NV; j++) a[i][j] = _mm512_dpbf16_ps(a[i][j], b, w[j]);
        }
    }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < NV; j++) {
            float *d = y + (size_t)i * ldy + 16 * j;
            __m512 v = add ? _mm512_add_ps(a[i][j], _mm512_maskz_loadu_ps(mask[j], d)) : a[i][j];
            _mm512_mask_storeu_ps(d, mask[j], v);
        }
}

BF16 static void rows(const uint32_t *P, int n, const uint32_t *x, float *y, int ldy, int mr,
                      const __mmask16 mask[NV], bool add) {
#define CASE(m)                                          \
    case m:                                              \
        kernel(P, n, x, y, ldy, m, mask, add);           \
        break;
    switch (mr) {
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
    }
#undef CASE
}

BF16 void gemm_bf16_panel(const uint16_t *W, int K, int r0, int r1, const uint32_t *xb, int T, float *y, int ldy,
                          uint32_t *scratch) {
    int kp = (K + 1) / 2, nr = r1 - r0;
    __mmask16 mask[NV];
    for (int j = 0; j < NV; j++) {
        int v = nr - 16 * j;
        mask[j] = (__mmask16)(v >= 16 ? 0xffff : v <= 0 ? 0 : (1u << v) - 1);
    }
    for (int c0 = 0; c0 < kp; c0 += KC) {
        int n = kp - c0 < KC ? kp - c0 : KC;
        pack(W, K, r0, r1, c0, n, scratch);
        for (int t = 0; t < T; t += MR)
            rows(scratch, n, xb + ((size_t)t * kp + (size_t)c0 * MR), y + (size_t)t * ldy + r0, ldy,
                 T - t < MR ? T - t : MR, mask, c0 > 0);
    }
}
