/* transformer_train.h — training forward and backward pass of the Llama
 * family over a batch of B sequences of T tokens, on the flat layout of
 * tf_flat_size / tf_bind_flat (transformer.h). The forward computes what
 * tf_forward computes (same RMSNorm, RoPE, GQA attention, SwiGLU, head). */
#ifndef MS_TRANSFORMER_TRAIN_H
#define MS_TRANSFORMER_TRAIN_H

#include "rng.h"
#include "transformer.h"

typedef struct tf_train_ws tf_train_ws;          /* activations for B x T */
tf_train_ws *tf_train_ws_new(const tf_config *c, int B, int T);
void tf_train_ws_free(tf_train_ws *ws);
/* tokens: B rows of T+1 ids (inputs 0..T-1, targets 1..T). Returns the mean
 * cross-entropy (nats) over B*T targets and ADDS grad_scale * d(mean loss)/dθ
 * into g, a model bound (tf_bind_flat) to a gradient buffer of the same layout
 * as m. Llama family only (m->c.arch == ARCH_LLAMA), positions 0..T-1. */
float tf_train_fwd_bwd(const tf_model *m, tf_model *g, tf_train_ws *ws, const int *tokens, int B, int T, float grad_scale);
/* Forward only: mean cross-entropy, for evaluation. */
float tf_train_loss(const tf_model *m, tf_train_ws *ws, const int *tokens, int B, int T);
/* The summed NLL (nats) over the B*T targets, in double: for evaluation
 * over many batches and for finite-difference checks. */
double tf_train_nll_sum(const tf_model *m, tf_train_ws *ws, const int *tokens, int B, int T);
/* All three return NAN after ms_seterr() when the model is not Llama-family, its
 * shape differs from the workspace's config, B or T exceed the workspace, or
 * a token id is out of range. B and T may be smaller than the workspace's.
 * Threads: a pass uses as many threads as OpenBLAS is set to (ms_set_threads)
 * and splits the work itself, holding OpenBLAS at one thread until it
 * returns; one pass at a time per process. Results are deterministic for a
 * given thread count (they may differ in the last bits across counts). */

/* The gradient of the summed NLL over the B*T targets with respect to the
 * residual stream after block `layer` (the rows a HOOK_RESID hook at that
 * layer sees), into grad[B*T, d]. Targets are the tokens' next ids, or with
 * sample != NULL drawn from the model's own next-token distributions (so
 * E[grad grad^T] is the Fisher metric of the LM's predictions at that layer).
 * g: a gradient model as above (its weights' gradients are scratch: blocks
 * after `layer` add into it). Returns the summed NLL of the targets used. */
double tf_train_resid_grad(const tf_model *m, tf_model *g, tf_train_ws *ws, const int *tokens, int B, int T,
                           int layer, rng_t *sample, float *grad);

/* Bytes held by a workspace (for progress messages and budgets). */
size_t tf_train_ws_bytes(const tf_train_ws *ws);

/* Throughput of tf_train_fwd_bwd on a random model of config c (B x T,
 * current thread count, best of reps after one warm-up), with the sgemm
 * FLOP rate inside it and the machine's sgemm rate on a 1024^3 product.
 * opt_s: one clip_grad_norm + adamw_step over all parameters (optim.h), so
 * tokens per second of a whole step are B*T / (step_s + opt_s). */
typedef struct {
    double tok_s, step_s, opt_s;
    size_t ws_bytes;
    double gemm_gflops;       /* all sgemm FLOPs of a step / time inside them */
    double dense_gflops;      /* linear layers only */
    double attn_gflops;       /* attention kernels (sgemm + their softmax) */
    double gemm_share;        /* fraction of the step spent in sgemm / attention */
    double peak_gflops;       /* square 1024 sgemm, same threads */
    double step_gflop;        /* sgemm GFLOP per step */
} tf_train_bench_result;
/* Same weight shapes (width, depth, heads, head size, MLP, vocabulary). */
bool tf_same_shape(const tf_config *a, const tf_config *b);
int tf_train_bench(const tf_config *c, int B, int T, int reps, tf_train_bench_result *r);
double tf_sgemm_peak_gflops(int n, int reps);

#endif
