/* train_ops.h — forward and backward kernels of the Llama training pass.
 *
 * Activations are row-major [N, width] with N = B*T rows (row r is position
 * r % T of sequence r / T). Backward kernels ADD into parameter gradients
 * (dw) so micro-batches accumulate; what they do to input gradients is stated
 * per kernel. Every matrix product goes through tr_gemm (OpenBLAS sgemm),
 * which also counts FLOPs and time for the throughput report. */
#ifndef MS_TRAIN_OPS_H
#define MS_TRAIN_OPS_H

#include <stdbool.h>
#include <stddef.h>

/* C[M,N] = alpha op(A) op(B) + beta C, row-major; ta/tb say whether A
 * ([K,M] stored) or B ([N,K] stored) is transposed. tr_gemm is one sgemm
 * call; tr_gemm_par splits the rows of C into 8 ranges that tr_threads()
 * threads claim as they go, each running a single-threaded sgemm (see
 * tr_parallel_chunks). */
void tr_gemm(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc);
void tr_gemm_par(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc);

/* Process-wide sgemm counters (FLOPs = 2MNK). dense: tr_gemm_par products
 * (the linear layers), timed per call. attn: products inside the attention
 * kernels, timed per kernel (so that time includes their softmax work). */
typedef struct {
    double dense_flops, dense_seconds, attn_flops, attn_seconds;
    long calls;
} tr_gemm_stats;
void tr_gemm_stats_reset(void);
tr_gemm_stats tr_gemm_stats_get(void);

/* Runs fn(ctx, lo, hi, tid) over [0, n) split into contiguous parts, one
 * per thread (tid < tr_threads() <= TR_MAX_THREADS), on fresh pthreads
 * joined before returning. OpenBLAS is held at one thread meanwhile, so the
 * sgemm calls inside fn run side by side (one attention head each, or one
 * slice of rows) instead of each splitting itself. tr_threads() is the
 * count given to tr_set_threads, or OpenBLAS's setting when that is 0. The
 * training pass sets it and drops OpenBLAS to one thread for its duration:
 * OpenBLAS's own workers spin after each call and would otherwise compete
 * with these threads for the cores. */
#define TR_MAX_THREADS 16
typedef void (*tr_range_fn)(void *ctx, int lo, int hi, int tid);
void tr_set_threads(int n);
int tr_threads(void);
void tr_parallel(int n, tr_range_fn fn, void *ctx);
/* The same over fixed ranges [k chunk, (k+1) chunk) claimed by whichever
 * thread is free (for fn whose result does not depend on tid). */
void tr_parallel_chunks(int n, int chunk, tr_range_fn fn, void *ctx);

/* ---- embedding: x[r] = E[ids[r]]; dE[ids[r]] += dx[r] */
void tr_embed_fwd(float *x, const float *E, const int *ids, int N, int d);
void tr_embed_bwd(float *dE, const float *dx, const int *ids, int N, int d);

/* ---- RMSNorm: y = x * rstd * w, rstd = 1/sqrt(mean(x^2) + eps) per row.
 * fwd stores rstd [N]; apply recomputes y from a stored rstd. bwd: dx +=,
 * dw += (acc: TR_MAX_THREADS * d doubles of scratch for the column sums). */
void tr_rms_fwd(float *y, float *rstd, const float *x, const float *w, int N, int d, float eps);
void tr_rms_apply(float *y, const float *x, const float *rstd, const float *w, int N, int d);
void tr_rms_bwd(float *dx, float *dw, double *acc, const float *dy, const float *x, const float *rstd,
                const float *w, int N, int d);

/* ---- linear y[N,out] = x[N,in] W[out,in]^T. bwd: dx = dy W (overwrites;
 * skipped when dx is NULL), dW += dy^T x. */
void tr_linear_fwd(float *y, const float *x, const float *W, int N, int in, int out);
void tr_linear_bwd(float *dx, float *dW, const float *dy, const float *x, const float *W, int N, int in,
                   int out);

/* ---- RoPE (HF rotate_half: dim i pairs with i + hd/2) on the first nh heads
 * of each row of x (row stride ld), position = row % T. Tables [T, hd/2]:
 * cs = cos(t * inv_freq[i]), sn = sin(...), computed as inference does.
 * bwd applies the inverse rotation to the gradient in place. */
void tr_rope_tables(float *cs, float *sn, const float *inv_freq, int T, int hd);
void tr_rope_fwd(float *x, int ld, int nh, int hd, const float *cs, const float *sn, int N, int T);
void tr_rope_bwd(float *dx, int ld, int nh, int hd, const float *cs, const float *sn, int N, int T);

/* ---- causal attention with grouped-query heads over qkv rows [N, (H+2KV)hd]
 * (q heads, then k heads, then v heads; query head h uses kv head h/(H/KV)).
 * fwd writes out [N, H hd] and the probabilities P [B, H, T, T] (entries
 * above the diagonal are zero). bwd overwrites dqkv [N, (H+2KV)hd] (gradient
 * w.r.t. the rotated q and k, and v) from dout; scratch: T*T floats per
 * thread (TR_MAX_THREADS * T * T). */
typedef struct {
    int B, T, H, KV, hd;
} tr_attn_dims;
void tr_attn_fwd(float *out, float *P, const float *qkv, tr_attn_dims a);
void tr_attn_bwd(float *dqkv, float *scratch, const float *dout, const float *P, const float *qkv,
                 tr_attn_dims a);

/* ---- SwiGLU: h rows are [gate(ff) | up(ff)]; out = silu(gate) * up.
 * bwd overwrites dh. */
void tr_swiglu_fwd(float *out, const float *h, int N, int ff);
void tr_swiglu_bwd(float *dh, const float *dout, const float *h, int N, int ff);

/* ---- cross-entropy over logits [N, V] with targets [N]. Returns the sum of
 * the N per-row losses (nats). When dscale != 0 the logits are replaced in
 * place by dscale * (softmax - onehot(target)), else they are left as is. */
double tr_xent(float *logits, const int *targets, int N, int V, float dscale);

#endif
