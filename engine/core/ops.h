/* ops.h — dense math over OpenBLAS plus the small elementwise kernels the
 * models share. Matrices are row-major f32; weights are stored [out, in] so a
 * linear layer is y = x W^T (+ b). */
#ifndef MS_OPS_H
#define MS_OPS_H

#include <stddef.h>

/* OpenBLAS thread count (n <= 0 means all cores). */
void ms_set_threads(int n);
int ms_get_threads(void);
/* Sets OpenBLAS's thread count for a product of `macs` multiply-adds (one
 * thread below ~256k, as every wrapper here does); 0 forces one thread, for
 * callers that run single-threaded sgemm calls side by side. */
void ms_blas_threads_for(double macs);

/* Y[T, out] = X[T, in] W[out, in]^T (+ b[out] when b != NULL). Uses sgemv for
 * T == 1 and sgemm otherwise. */
void linear(float *y, const float *x, const float *w, const float *b, int T, int in, int out);
/* X[T, d] = X W[d, d]^T in place (linear through a temporary of at most 256 rows). */
void linear_inplace(float *x, const float *w, int T, int d);
/* C[M,N] = alpha * A[M,K] B[N,K]^T + beta * C, with leading dimensions. */
/* y[out] += w[out, in] x[in] */
void gemv_acc(float *y, const float *w, const float *x, int out, int in);
void gemm_nt(int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
             float beta, float *C, int ldc);
/* C[M,N] = alpha * A[M,K] B[K,N] + beta * C, with leading dimensions. */
void gemm_nn(int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
             float beta, float *C, int ldc);

/* Row-wise norms over T rows of width d. b may be NULL (no bias). */
void rmsnorm(float *y, const float *x, const float *w, int T, int d, float eps);
void layernorm(float *y, const float *x, const float *w, const float *b, int T, int d, float eps);
/* In-place softmax of n values; returns log of the normaliser (logsumexp). */
double softmax(float *x, int n);
/* log-softmax value of x[i] over n values. */
double log_softmax_at(const float *x, int n, int i);
float silu(float x);
float gelu_tanh(float x);
/* Vectorisable forms over arrays (a polynomial expf accurate to ~2 ulp): */
void gelu_tanh_vec(float *y, const float *x, size_t n);          /* y = gelu(x) */
void swiglu_vec(float *y, const float *gate, const float *up, size_t n); /* silu(gate)*up */
float dot(const float *a, const float *b, int n);
float l2norm(const float *a, int n);
void axpy(float *y, float a, const float *x, int n);

#endif
