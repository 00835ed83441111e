/* ops.c — OpenBLAS wrappers and elementwise kernels (accumulating in double
 * where a long sum would otherwise lose precision). */
#include "ops.h"
#include "util.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
int openblas_get_num_procs(void);

/* OpenBLAS threads pay off only for large products: for small ones the
 * hand-off costs more than the work, and on a loaded machine a waiting worker
 * can stall a tiny call for milliseconds. So each call picks 1 thread below
 * ~256k multiply-adds (1 MB of weights) and the configured count above. */
static int g_threads, g_current;

void ms_set_threads(int n) {
    g_threads = n > 0 ? n : openblas_get_num_procs();
    g_current = g_threads;
    openblas_set_num_threads(g_threads);
}

int ms_get_threads(void) { return g_threads ? g_threads : openblas_get_num_threads(); }

static void threads_for(double macs) {
    if (!g_threads) g_threads = g_current = openblas_get_num_threads();
    int want = macs < (double)(1 << 18) ? 1 : g_threads;
    if (want != g_current) {
        openblas_set_num_threads(want);
        g_current = want;
    }
}

void ms_blas_threads_for(double macs) { threads_for(macs); }

void linear(float *y, const float *x, const float *w, const float *b, int T, int in, int out) {
    threads_for((double)T * in * out);
    if (T == 1) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, out, in, 1.0f, w, in, x, 1, 0.0f, y, 1);
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, out, in, 1.0f, x, in, w, in, 0.0f,
                    y, out);
    }
    if (b)
        for (int t = 0; t < T; t++)
            for (int o = 0; o < out; o++) y[(size_t)t * out + o] += b[o];
}

void linear_inplace(float *x, const float *w, int T, int d) {
    enum { BLK = 256 };
    float *t = xmalloc(sizeof(float) * (size_t)(T < BLK ? T : BLK) * d);
    for (int r = 0; r < T; r += BLK) {
        int n = T - r < BLK ? T - r : BLK;
        float *xr = x + (size_t)r * d;
        linear(t, xr, w, NULL, n, d, d);
        memcpy(xr, t, sizeof(float) * (size_t)n * d);
    }
    free(t);
}

void gemv_acc(float *y, const float *w, const float *x, int out, int in) {
    threads_for((double)in * out);
    cblas_sgemv(CblasRowMajor, CblasNoTrans, out, in, 1.0f, w, in, x, 1, 1.0f, y, 1);
}

void gemm_nt(int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
             float beta, float *C, int ldc) {
    threads_for((double)M * N * K);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm_nn(int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
             float beta, float *C, int ldc) {
    threads_for((double)M * N * K);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C,
                ldc);
}

void rmsnorm(float *y, const float *x, const float *w, int T, int d, float eps) {
    for (int t = 0; t < T; t++) {
        const float *xr = x + (size_t)t * d;
        float *yr = y + (size_t)t * d;
        double ss = 0;
        for (int i = 0; i < d; i++) ss += (double)xr[i] * xr[i];
        float r = (float)(1.0 / sqrt(ss / d + eps));
        for (int i = 0; i < d; i++) yr[i] = xr[i] * r * w[i];
    }
}

void layernorm(float *y, const float *x, const float *w, const float *b, int T, int d, float eps) {
    for (int t = 0; t < T; t++) {
        const float *xr = x + (size_t)t * d;
        float *yr = y + (size_t)t * d;
        double m = 0, v = 0;
        for (int i = 0; i < d; i++) m += xr[i];
        m /= d;
        for (int i = 0; i < d; i++) v += ((double)xr[i] - m) * ((double)xr[i] - m);
        float r = (float)(1.0 / sqrt(v / d + eps)), mf = (float)m;
        for (int i = 0; i < d; i++) yr[i] = (xr[i] - mf) * r * w[i] + (b ? b[i] : 0.0f);
    }
}

double softmax(float *x, int n) {
    float mx = -INFINITY;
    for (int i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    double s = 0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        s += x[i];
    }
    float inv = (float)(1.0 / s);
    for (int i = 0; i < n; i++) x[i] *= inv;
    return mx + log(s);
}

double log_softmax_at(const float *x, int n, int i) {
    float mx = -INFINITY;
    for (int j = 0; j < n; j++) mx = x[j] > mx ? x[j] : mx;
    double s = 0;
    for (int j = 0; j < n; j++) s += exp((double)x[j] - mx);
    return (double)x[i] - mx - log(s);
}

/* exp(x) by range reduction x = n ln2 + r and a degree-6 polynomial for
 * exp(r) (Cephes' expf coefficients); branch-free so loops over it vectorise. */
static inline float exp_poly(float x) {
    x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    /* round to nearest by the 1.5*2^23 trick: floorf would block vectorisation */
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

void gelu_tanh_vec(float *y, const float *x, size_t n) {
    /* 0.5 x (1 + tanh u) = x * sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3) */
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float u = 1.5957691216057308f * (v + 0.044715f * v * v * v);
        y[i] = v / (1.0f + exp_poly(-u));
    }
}

void swiglu_vec(float *y, const float *gate, const float *up, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = gate[i] / (1.0f + exp_poly(-gate[i])) * up[i];
}

float silu(float x) { return x / (1.0f + expf(-x)); }

float gelu_tanh(float x) {
    const float k = 0.7978845608028654f; /* sqrt(2/pi) */
    return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
}

float dot(const float *a, const float *b, int n) {
    float s = 0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

float l2norm(const float *a, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)a[i] * a[i];
    return (float)sqrt(s);
}

void axpy(float *y, float a, const float *x, int n) {
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}
