/* glp.h — the GLP (generative latent prior) meta-model: a flow-matching
 * denoiser over normalized residual activations, matching the published
 * reference (TransformerMLPDenoiser) and its checkpoint tensor names.
 *
 *   emb  = time_embed(sin_emb(tau)) [+ layer_embed(sin_emb(layer depth))]
 *   x    = in_proj(x_in)
 *   block: post = LN(x); x += down( SiLU(gate(post) * time_proj(emb)) * up(post) )
 *   out  = out_proj(LN(x))                 (all Linear layers have bias)
 *
 * Rows are independent: every function takes a batch of N rows, and every
 * matrix product goes through sgemm (tr_gemm_par), so batches of thousands
 * of rows are the intended use. The "meta-neurons" of block b are the input
 * of its down_proj (width d_mlp). */
#ifndef MS_GLP_H
#define MS_GLP_H

#include "rng.h"
#include "wmat.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int d_input, d_model, d_mlp, n_layers;
    int multi_layer_n_layers; /* > 1: the checkpoint has model.layer_embed */
} glp_config;

typedef struct {
    float *w, *b; /* w [out, in], b [out] (LayerNorm: w = weight, b = bias) */
    wmat held;    /* after glp_hold_bf16: w in BF16 (w is then NULL); else data NULL */
} glp_lin;

typedef struct {
    glp_lin ln, up, gate, time, down;
} glp_block;

/* Views into one flat buffer (parameters or their gradients, same layout). */
typedef struct {
    glp_lin in_proj, te0, te2, le0, le2, ln, out_proj; /* le*: only if multi-layer */
    glp_block *blocks;                                 /* n_layers */
} glp_params;

typedef struct {
    glp_config c;
    float *flat, *grad; /* n_params each; grad is zeroed by glp_zero_grad */
    size_t n_params;
    glp_params p, g;
    float *mean, *var; /* normalizer, d_input each (mean 0, var 1 until set) */
    /* An optional linear map after it, [d_input, d_input] each or NULL: the
     * GLP then works in z = basis ((h - mean) / sqrt(var)) (for example the
     * LM's Fisher metric, `metascope fisher`); the reference has none. */
    float *basis, *basis_inv;
    uint16_t *half;    /* glp_hold_bf16: every weight matrix in BF16 */
} glp_model;

/* Inference in BF16: every weight matrix is rounded (to nearest even) into a
 * BF16 copy that the forward pass reads, halving its memory traffic, and the
 * f32 matrices are released (biases and LayerNorms stay f32). For a loaded
 * model that will not be trained or saved: glp_fm_loss and glp_save then
 * fail. */
int glp_hold_bf16(glp_model *m);

/* One tensor of the flat layout, under its reference name ("model.…"). */
typedef struct {
    char name[64];
    int rows, cols; /* cols == 0: 1-D [rows] */
    size_t offset, size;
    bool decay;     /* weight matrices get AdamW weight decay; biases, LN do not */
} glp_tensor;

/* Fills up to max entries; returns the count (call with max 0 to size). */
int glp_tensors(const glp_config *c, glp_tensor *t, int max);
/* Number of parameters (floats) of a model with config c. */
size_t glp_param_count(const glp_config *c);

/* Zeroed parameters (LayerNorm weights 1) and a zeroed gradient. */
int glp_init(glp_model *m, const glp_config *c);
/* PyTorch's default nn.Linear init: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias. */
void glp_init_random(glp_model *m, rng_t *r);
/* Copies src's weights into dst, a deeper model of the same widths, and zeroes
 * the down_proj of dst's extra (last) blocks: those blocks then add nothing to
 * the residual, so dst computes exactly src's function. Other parameters of
 * the extra blocks stay as they were (random, so they train). */
int glp_grow(glp_model *dst, const glp_model *src);
void glp_free(glp_model *m);
void glp_zero_grad(glp_model *m);
/* Normalizer statistics (copied), d_input each. */
void glp_set_stats(glp_model *m, const float *mean, const float *var);

/* Loads <dir>/final.safetensors (or .lz4) for config c; names may carry the
 * "denoiser." prefix. Fails if a tensor is missing, misshapen, or the file
 * disagrees with c (extra layers, layer_embed presence). */
int glp_load(glp_model *m, const char *dir, const glp_config *c);
int glp_load_file(glp_model *m, const char *path, const glp_config *c);
/* The same, held in BF16 when bf16 (as glp_hold_bf16 after loading, bit for
 * bit), converting one matrix at a time from the file: the f32 matrices are
 * never resident (a 0.45B-parameter GLP peaks at ~1 GB, not 2.7). */
int glp_load_as(glp_model *m, const char *dir, const glp_config *c, bool bf16);
int glp_load_file_as(glp_model *m, const char *path, const glp_config *c, bool bf16);
/* Writes the weights as F32 under the reference names (no prefix). */
int glp_save(const glp_model *m, const char *path);
/* The same, in f16 when half (loading widens back to f32); ".lz4" paths are
 * compressed. */
int glp_save_as(const glp_model *m, const char *path, bool half);

/* The basis and its inverse (copied), or NULL for none. */
void glp_set_basis(glp_model *m, const float *basis, const float *basis_inv);

/* Hash of the normalizer (mean, var, basis): equal for GLPs working in one space. */
uint64_t glp_normalizer_hash(const glp_model *m);

/* x = (h - mean)/sqrt(var + 1e-12); h = x sqrt(var) + mean; with a basis,
 * x = basis x after and x = basis_inv x before. In place allowed. */
void glp_normalize(const glp_model *m, float *x, const float *h, int N);
void glp_denormalize(const glp_model *m, float *h, const float *x, int N);

/* The reference's sinusoidal embedding of t[N] into out[N, dim]:
 * [cos(t f_i), sin(t f_i)], f_i = exp(-ln(1e4) i/half), float32 as torch. */
void glp_timestep_embedding(float *out, const float *t, int N, int dim);
/* sigma grid: linspace(1, 0.001, n) in float32 (computed in double, rounded). */
float glp_grid(int i, int n);

/* Activations of a batch of at most cap rows (for the backward pass). */
typedef struct glp_work glp_work;
glp_work *glp_work_new(const glp_config *c, int cap);
void glp_work_free(glp_work *w);
int glp_work_cap(const glp_work *w); /* rows per chunk */
/* Inference only: while on, the time-embedding path (time_embed and every
 * time_proj, ~30% of the weights) is remembered per sigma and reused, which
 * assumes the weights do not change. Switching clears the memory. */
void glp_work_cache(glp_work *w, bool on);

/* out[N, d_input] = denoiser(x[N, d_input], tau[N]). layer < 0: no layer
 * embedding (required for single-layer models; required >= 0 for multi-layer
 * ones). meta (optional): [n_layers][N][d_mlp] meta-neurons. Rows beyond the
 * workspace's cap are processed in chunks. */
int glp_forward(const glp_model *m, glp_work *w, float *out, const float *x, const float *tau, int N,
                int layer, float *meta);

/* Flow-matching loss on clean normalized x[N, d_input] with noise eps and
 * uniforms u[N] (sigma = grid1000[floor(1000 u)]): returns the mean squared
 * error against v = eps - x; when grad, ADDS its gradient to m->grad.
 * N <= the workspace's cap. Returns NaN on error (message set). */
double glp_fm_loss(glp_model *m, glp_work *w, const float *x, const float *eps, const float *u, int N,
                   int layer, bool grad);

/* Meta-neurons [n_layers][N][d_mlp] of normalized x noised to sigma =
 * grid1000[900] = 0.1 (u = 0.9) with eps[N, d_input]. */
#define GLP_META_SIGMA_INDEX 900
int glp_meta_neurons(const glp_model *m, glp_work *w, float *meta, const float *x, const float *eps, int N,
                     int layer);

/* ---- kernels of the pass, exposed for the finite-difference tests.
 * Backward kernels ADD into parameter gradients. */
/* y[N,out] = x[N,in] W[out,in]^T + b */
void glp_linear_fwd(float *y, const float *x, const float *W, const float *b, int N, int in, int out);
/* dW += dy^T x, db += colsum(dy); dx = dy W (dx += dy W when accumulate; skipped when dx is NULL) */
void glp_linear_bwd(float *dx, bool accumulate, float *dW, float *db, const float *W, const float *dy,
                    const float *x, int N, int in, int out);
/* LayerNorm (eps 1e-5, biased variance); stores mean and 1/std per row. bwd: dx +=, dw +=, db += */
void glp_layernorm_fwd(float *y, float *mu, float *rstd, const float *x, const float *w, const float *b, int N,
                       int d);
void glp_layernorm_bwd(float *dx, float *dw, float *db, const float *w, const float *dy, const float *x,
                       const float *mu, const float *rstd, int N, int d);
/* A = SiLU(G * TE) * U over n entries; bwd overwrites dU, dG, dTE (dG may alias dA). */
void glp_gate_fwd(float *A, const float *G, const float *TE, const float *U, size_t n);
void glp_gate_bwd(float *dU, float *dG, float *dTE, const float *dA, const float *G, const float *TE,
                  const float *U, size_t n);

#endif
