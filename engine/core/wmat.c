/* wmat.c — products of f32 activations with F32 / F16 / BF16 weights as
 * stored (see wmat.h for the scheme). */
#include "wmat.h"
#include "gemm_panel.h"
#include "half.h"
#include "ops.h"
#include "pool.h"
#include "util.h"

#include <cblas.h>
#include <immintrin.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

const char *wm_dtype_name(wm_dtype d) { return d == WM_F32 ? "F32" : d == WM_F16 ? "F16" : "BF16"; }
size_t wm_dtype_size(wm_dtype d) { return d == WM_F32 ? 4 : 2; }

static void widen(wm_dtype dt, const void *src, float *dst, size_t n) {
    if (dt == WM_F32) memcpy(dst, src, n * sizeof(float));
    else if (dt == WM_F16) f16_to_f32_n(src, dst, n);
    else bf16_to_f32_n(src, dst, n);
}

void wmat_row(const wmat *w, int r, float *out) {
    size_t K = (size_t)w->cols;
    widen(w->dtype, (const uint8_t *)w->data + (size_t)r * K * wm_dtype_size(w->dtype), out, K);
}

void wmat_to_f32(const wmat *w, float *out) { widen(w->dtype, w->data, out, (size_t)w->rows * w->cols); }

/* ---------------------------------------------------------------- kernel choice */

static int g_kernel = -1; /* -1 not chosen yet, 0 portable, 1 avx512 */
static bool g_force_portable;

static bool use_avx512(void) {
    if (g_kernel < 0) {
        __builtin_cpu_init();
        g_kernel = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                   __builtin_cpu_supports("avx512vl");
    }
    return g_kernel == 1 && !g_force_portable;
}

const char *wmat_kernel(void) { return use_avx512() ? "avx512" : "portable"; }
void wmat_force_portable(bool on) { g_force_portable = on; }

static wm_precision g_precision = WM_PREC_HIGHEST;

void wmat_set_precision(wm_precision p) { g_precision = p; }
wm_precision wmat_precision(void) { return g_precision; }
const char *wm_precision_name(wm_precision p) { return p == WM_PREC_MEDIUM ? "medium" : "highest"; }
int wm_precision_parse(const char *s, wm_precision *out) {
    if (!strcmp(s, "highest")) *out = WM_PREC_HIGHEST;
    else if (!strcmp(s, "medium")) *out = WM_PREC_MEDIUM;
    else return -1;
    return 0;
}
bool wmat_bf16_dot_available(void) { return gemm_panel_available(GP_BF16); }
/* "medium" takes vdpbf16ps only where the CPU has it (and not when the
 * portable kernels are forced): elsewhere it is a permission left unused. */
static bool use_bf16_dot(void) {
    return g_precision == WM_PREC_MEDIUM && !g_force_portable && gemm_panel_available(GP_BF16);
}

/* ---------------------------------------------------------------- small-T kernels
 * y[t * ldy + r] = sum_k W[r, k] x[t * K + k] for rows r0..r1-1 and t < T. */

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) static inline

AVX512 __m512 widen16(const uint16_t *p, int bf) {
    __m256i h = _mm256_loadu_si256((const __m256i *)p);
    if (bf) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    return _mm512_cvtph_ps(h);
}

AVX512 __m512 widen16_mask(const uint16_t *p, __mmask16 m, int bf) {
    __m256i h = _mm256_maskz_loadu_epi16(m, p);
    if (bf) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    return _mm512_cvtph_ps(h);
}

/* Bytes ahead of the weights being read that are asked for early: the
 * hardware prefetchers stop at every 4 KB page boundary, and one decode step
 * streams the whole model through them. */
#define PREFETCH_AHEAD 4096

/* T and bf are constants at every call site, so each instance keeps its
 * 2 T accumulators in registers. */
AVX512 void dot_rows_avx(const uint16_t *W, int K, int r0, int r1, const float *x, int T, float *y,
                         int ldy, int bf) {
    for (int r = r0; r < r1; r++) {
        const uint16_t *w = W + (size_t)r * K;
        __m512 a[WM_SMALL_T][2];
        for (int t = 0; t < T; t++) a[t][0] = a[t][1] = _mm512_setzero_ps();
        int k = 0;
        for (; k + 32 <= K; k += 32) {
            _mm_prefetch((const char *)(w + k) + PREFETCH_AHEAD, _MM_HINT_T0);
            __m512 w0 = widen16(w + k, bf), w1 = widen16(w + k + 16, bf);
            for (int t = 0; t < T; t++) {
                a[t][0] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x + (size_t)t * K + k), a[t][0]);
                a[t][1] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x + (size_t)t * K + k + 16), a[t][1]);
            }
        }
        for (; k < K; k += 16) {
            int n = K - k < 16 ? K - k : 16;
            __mmask16 m = (__mmask16)((1u << n) - 1);
            __m512 w0 = widen16_mask(w + k, m, bf);
            for (int t = 0; t < T; t++)
                a[t][0] = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(m, x + (size_t)t * K + k), a[t][0]);
        }
        for (int t = 0; t < T; t++) y[(size_t)t * ldy + r] = _mm512_reduce_add_ps(_mm512_add_ps(a[t][0], a[t][1]));
    }
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) static void
rows_avx512(const uint16_t *W, int K, int r0, int r1, const float *x, int T, float *y, int ldy, int bf) {
#define CASE(t)                                                                          \
    case t:                                                                              \
        if (bf) dot_rows_avx(W, K, r0, r1, x, t, y, ldy, 1);                             \
        else dot_rows_avx(W, K, r0, r1, x, t, y, ldy, 0);                                \
        break;
    switch (T) {
        CASE(1) CASE(2) CASE(3) CASE(4)
    }
#undef CASE
}

/* Portable C: widen 256 weights at a time, then 16 independent partial sums
 * per input row (a form GCC vectorizes without reassociating). */
#define LANES 16
#define CHUNK 256
static void rows_portable(wm_dtype dt, const void *W, int K, int r0, int r1, const float *x, int T, float *y,
                          int ldy) {
    float buf[CHUNK];
    size_t es = wm_dtype_size(dt);
    for (int r = r0; r < r1; r++) {
        float acc[WM_SMALL_T][LANES] = {{0}};
        const uint8_t *w = (const uint8_t *)W + (size_t)r * K * es;
        for (int k0 = 0; k0 < K; k0 += CHUNK) {
            int n = K - k0 < CHUNK ? K - k0 : CHUNK;
            widen(dt, w + (size_t)k0 * es, buf, (size_t)n);
            for (int i = n; i < (n + LANES - 1) / LANES * LANES; i++) buf[i] = 0;
            for (int t = 0; t < T; t++) {
                const float *xt = x + (size_t)t * K + k0;
                int i = 0;
                for (; i + LANES <= n; i += LANES)
                    for (int j = 0; j < LANES; j++) acc[t][j] += buf[i + j] * xt[i + j];
                for (; i < n; i++) acc[t][i % LANES] += buf[i] * xt[i];
            }
        }
        for (int t = 0; t < T; t++) {
            float s = 0;
            for (int j = 0; j < LANES; j++) s += acc[t][j];
            y[(size_t)t * ldy + r] = s;
        }
    }
}

/* ---------------------------------------------------------------- tile scratch */

static pthread_key_t g_key;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;
/* Each thread's tile scratch. The pool's workers live as long as the process,
 * so their buffers are also listed in g_all: they stay reachable (no leak
 * report at exit) and are unlinked when a thread that owned one ends. */
typedef struct scratch {
    float *p[2]; /* 0: a widened tile or packed panel, 1: rounded activations */
    size_t n[2];
    struct scratch *next;
} scratch;

static pthread_mutex_t g_all_lock = PTHREAD_MUTEX_INITIALIZER;
static scratch *g_all;

static void scratch_free(void *v) {
    scratch *s = v;
    pthread_mutex_lock(&g_all_lock);
    for (scratch **q = &g_all; *q; q = &(*q)->next)
        if (*q == s) {
            *q = s->next;
            break;
        }
    pthread_mutex_unlock(&g_all_lock);
    free(s->p[0]);
    free(s->p[1]);
    free(s);
}
static void key_init(void) { pthread_key_create(&g_key, scratch_free); }

static float *tile_buffer(int slot, size_t n) {
    pthread_once(&g_key_once, key_init);
    scratch *s = pthread_getspecific(g_key);
    if (!s) {
        s = xcalloc(1, sizeof *s);
        pthread_setspecific(g_key, s);
        pthread_mutex_lock(&g_all_lock);
        s->next = g_all, g_all = s;
        pthread_mutex_unlock(&g_all_lock);
    }
    if (s->n[slot] < n) {
        free(s->p[slot]);
        s->p[slot] = xmalloc(n * sizeof(float));
        s->n[slot] = n;
    }
    return s->p[slot];
}

/* ---------------------------------------------------------------- jobs */

#define TILE_ROWS 64

typedef struct {
    const wmat *w;
    int n, T, K, ldy, rb;
    int first[5];   /* first block of each part; first[n] = total */
    int col[4];     /* output column of each part */
    const float *x;
    const void *xp; /* x laid out for gemm_panel_rows, or NULL: widen + sgemm */
    gp_form form;
    float *y;
    bool avx;
} job;

static void run_block(void *ctx, int item) {
    const job *j = ctx;
    int p = 0;
    while (item >= j->first[p + 1]) p++;
    const wmat *w = &j->w[p];
    int r0 = (item - j->first[p]) * j->rb, r1 = r0 + j->rb < w->rows ? r0 + j->rb : w->rows;
    float *y = j->y + j->col[p];
    if (j->T <= WM_SMALL_T) {
        if (j->avx) rows_avx512(w->data, j->K, r0, r1, j->x, j->T, y, j->ldy, w->dtype == WM_BF16);
        else rows_portable(w->dtype, w->data, j->K, r0, r1, j->x, j->T, y, j->ldy);
        return;
    }
    if (j->xp) {
        float *panel = tile_buffer(0, gemm_panel_scratch(j->form, j->K));
        gp_wtype wt = w->dtype == WM_F32 ? GP_W_F32 : w->dtype == WM_F16 ? GP_W_F16 : GP_W_BF16;
        gemm_panel_rows(j->form, wt, w->data, j->K, r0, r1, j->xp, j->T, y, j->ldy, panel);
        return;
    }
    int nr = r1 - r0;
    float *tile = tile_buffer(0, (size_t)nr * j->K);
    widen(w->dtype, (const uint8_t *)w->data + (size_t)r0 * j->K * wm_dtype_size(w->dtype), tile, (size_t)nr * j->K);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->T, nr, j->K, 1.0f, j->x, j->K, tile, j->K, 0.0f,
                y + r0, j->ldy);
}

/* Rows per block: ~64 KB of weights for the small-T kernels (enough items to
 * balance two cores on every product, few enough that claiming costs nothing);
 * TILE_ROWS for the sgemm path, which amortizes the widening over T rows. */
static int block_rows(const wmat *w, int T, bool panel) {
    if (panel) return GP_PANEL;
    if (T > WM_SMALL_T) return TILE_ROWS;
    int rb = (int)(65536 / ((size_t)w->cols * wm_dtype_size(w->dtype)));
    return rb < 4 ? 4 : rb;
}

static void f32_part(float *y, int ldy, const float *x, const wmat *w, int T) {
    if (T == 1) {
        ms_blas_threads_for((double)w->rows * w->cols);
        cblas_sgemv(CblasRowMajor, CblasNoTrans, w->rows, w->cols, 1.0f, w->data, w->cols, x, 1, 0.0f, y, 1);
    } else {
        gemm_nt(T, w->rows, w->cols, 1.0f, x, w->cols, w->data, w->cols, 0.0f, y, ldy);
    }
}

/* Parts of one dtype (F16 / BF16) as one pool job; outputs at y + column. */
static void run_parts(float *y, int ldy, const float *x, const wmat *w, int n, int T) {
    if (w[0].dtype == WM_F32 && !(T > WM_SMALL_T && use_avx512())) { /* OpenBLAS; a part's output at its column */
        for (int p = 0, col = 0; p < n; col += w[p].rows, p++) f32_part(y + col, ldy, x, &w[p], T);
        return;
    }
    job j = {w, n, T, w[0].cols, ldy, 0, {0}, {0}, x, NULL, GP_EXACT, y, use_avx512()};
    bool panel = T > WM_SMALL_T && j.avx;
    if (panel) { /* laid out once here, read by every block */
        j.form = w[0].dtype == WM_BF16 && use_bf16_dot() ? GP_BF16 : GP_EXACT;
        float *xp = tile_buffer(1, gemm_panel_x_size(j.form, T, w[0].cols));
        gemm_panel_x(j.form, x, T, w[0].cols, xp);
        j.xp = xp;
    }
    for (int p = 0; p < n; p++) {
        int rb = block_rows(&w[p], T, panel);
        j.rb = p == 0 || rb < j.rb ? rb : j.rb; /* one block size for the job */
    }
    for (int p = 0; p < n; p++) {
        j.first[p + 1] = j.first[p] + (w[p].rows + j.rb - 1) / j.rb;
        j.col[p] = p ? j.col[p - 1] + w[p - 1].rows : 0;
    }
    if (T > WM_SMALL_T && !panel) ms_blas_threads_for(0); /* one OpenBLAS thread per pool thread */
    pool_run(j.first[n], run_block, &j);
}

void wmat_linear_n(float *y, const float *x, const wmat *w, int n, int T) {
    int ldy = 0;
    bool same = true;
    for (int p = 0; p < n; p++) ldy += w[p].rows, same &= w[p].dtype == w[0].dtype;
    if (same) run_parts(y, ldy, x, w, n, T);
    else
        for (int p = 0, col = 0; p < n; col += w[p].rows, p++) run_parts(y + col, ldy, x, &w[p], 1, T);
}

void wmat_linear(float *y, const float *x, const wmat *w, const float *b, int T) {
    if (w->dtype == WM_F32 && !(T > WM_SMALL_T && use_avx512())) linear(y, x, w->data, b, T, w->cols, w->rows);
    else {
        run_parts(y, w->rows, x, w, 1, T);
        if (b)
            for (int t = 0; t < T; t++)
                for (int o = 0; o < w->rows; o++) y[(size_t)t * w->rows + o] += b[o];
    }
}
