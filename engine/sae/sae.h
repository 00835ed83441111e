/* sae.h — sparse autoencoders over residual activations: the TopK SAE of
 * Gao et al., "Scaling and evaluating sparse autoencoders" (OpenAI), which we
 * train, plus the standard (ReLU) and JumpReLU SAEs we load from SAELens.
 *
 *   pre = W_enc (h - b_dec) + b_enc      (h, not h - b_dec, when !apply_b_dec_to_input)
 *   z   = ReLU(TopK_k(pre))              topk
 *       = ReLU(pre)                      standard
 *       = pre * [pre > threshold]        jumprelu (thresholds are >= 0)
 *   ĥ   = W_dec^T z + b_dec
 *
 * Layout: W_enc and W_dec are both [n_latents, d_in], one row per latent
 * (W_enc as nn.Linear / sparsify's encoder.weight, the transpose of SAELens's
 * W_enc; W_dec as SAELens and sparsify), so each latent's decoder direction
 * is a contiguous row, kept unit-norm in training. Rows of a batch are
 * independent; the encoder is one sgemm per chunk of rows, decoding and the
 * backward pass touch only the active latents. */
#ifndef MS_SAE_H
#define MS_SAE_H

#include "rng.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { SAE_TOPK, SAE_STANDARD, SAE_JUMPRELU } sae_arch;

typedef struct {
    int d_in, n_latents;
    int k; /* active latents per row (topk); for the others, the codes' width */
    sae_arch arch;
    bool apply_b_dec_to_input;
} sae_config;

/* Views into one flat buffer (parameters or their gradients, same layout). */
typedef struct {
    float *W_enc, *b_enc, *W_dec, *b_dec; /* [L,d], [L], [L,d], [d] */
} sae_params;

typedef struct {
    sae_config c;
    float *flat, *grad; /* n_params each, in the order W_enc, b_enc, W_dec, b_dec */
    size_t n_params;
    sae_params p, g;
    float *threshold;   /* jumprelu only: [n_latents], not trained; else NULL */
    char hook_name[128]; /* as in the file ("" = unknown) */
    int layer;           /* our block index of that hook (-1 = unknown) */
    /* training settings (defaults from sae_init, per the reference code) */
    float mse_scale;     /* main loss multiplier: 1/Var(h) from sae_set_mse_scale; 1 = plain MSE */
    int k_aux;           /* AuxK width: power of two nearest d_in/2, at most n_latents */
    float aux_coef;      /* 1/32 */
    uint64_t dead_tokens; /* a latent is dead after more than this many tokens without firing (10M) */
    uint64_t *since_fired; /* [n_latents] tokens since each latent last exceeded 1e-3 */
} sae_model;

/* Zeroed parameters, dead tracker and defaults; jumprelu gets zero thresholds. */
int sae_init(sae_model *m, const sae_config *c);
/* Decoder rows Gaussian then unit-norm, W_enc = W_dec (the "tied" init: the
 * encoder matrix is the decoder's transpose), b_enc = b_dec = 0. */
void sae_init_random(sae_model *m, rng_t *r);
void sae_free(sae_model *m);
void sae_zero_grad(sae_model *m);
void sae_set_b_dec(sae_model *m, const float *b_dec);
/* Mean of h[N, d_in] (the data-mean init of b_dec), into mean[d_in]. */
void sae_data_mean(const float *h, int N, int d, float *mean);
/* mse_scale = 1 / mean over rows and dims of (h - mean_rows(h))^2, as the
 * reference computes once from a sample of training activations. */
int sae_set_mse_scale(sae_model *m, const float *h, int N);
/* "blocks.L.hook_resid_post" and layer = L. */
void sae_set_layer(sae_model *m, int layer);

/* Maps a hook name onto our hook, the residual output of block *layer:
 * blocks.L.hook_resid_post -> L, blocks.L.hook_resid_pre -> L-1 (L >= 1),
 * [model.|gpt_neox.|transformer.]layers.L or h.L -> L. Anything else (MLP or
 * attention outputs, embeddings) fails with a one-line message. */
int sae_hook_layer(const char *hook, int *layer);

/* ---- files */

/* Loads an SAE folder, detected by its files:
 *  SAELens:  cfg.json + sae_weights.safetensors
 *  sparsify: cfg.json + sae.safetensors (hookpoint = the folder's name)
 *  a parent of sparsify hookpoints layers.N/: the one for `layer` (layer < 0:
 *  the only one). Weights F32/F16/BF16, each file also found as .lz4.
 * A hook that cannot be mapped (sae_hook_layer) is an error; a missing hook
 * name leaves layer = -1. */
int sae_load_folder(sae_model *m, const char *dir, int layer);
/* Writes dir/cfg.json and dir/sae_weights.safetensors in the SAELens (v6)
 * layout, atomically, creating dir. */
#define SAE_SAVE_F16 1u /* weights as F16 */
#define SAE_SAVE_LZ4 2u /* sae_weights.safetensors.lz4 (our loader only) */
int sae_save_folder(const sae_model *m, const char *dir, unsigned flags);

/* ---- inference */

typedef struct sae_work sae_work;
/* Scratch for chunks of up to cap rows. */
sae_work *sae_work_new(const sae_model *m, int cap);
void sae_work_free(sae_work *w);

/* Sparse codes of h[N, d_in]: per row the k = m->c.k latents of largest
 * activation, in decreasing order (ties: lower index first), idx/val [N, k].
 * For topk this is exactly the SAE's code (values may be 0 after the ReLU);
 * for standard/jumprelu it is the k largest of the dense code. pre
 * (optional, [N, n_latents]) receives the pre-activations. */
int sae_encode(const sae_model *m, sae_work *w, const float *h, int N, int *idx, float *val, float *pre);
/* Dense code z[N, n_latents] (any architecture). */
int sae_encode_dense(const sae_model *m, sae_work *w, const float *h, int N, float *z);
/* out[N, d_in] = b_dec + sum of val * W_dec[idx] over the k slots (val 0 skipped). */
void sae_decode_sparse(const sae_model *m, const int *idx, const float *val, int N, int k, float *out);
/* out[N, d_in] = z[N, n_latents] W_dec + b_dec, through sgemm. */
void sae_decode_dense(const sae_model *m, const float *z, int N, float *out);
/* ĥ[N, d_in]: sparse for topk, dense otherwise (exact for every architecture). */
int sae_reconstruct(const sae_model *m, sae_work *w, const float *h, int N, float *out);

/* ---- training (topk only)
 *
 * Loss, following the OpenAI reference code (sparse_autoencoder/train.py,
 * kernels.py; mse = mean over rows and dims):
 *   main = mse_scale * mse(ĥ, h)
 *   aux  = aux_coef * mse(ê + b_dec, e + b_dec) / mse(mean_rows(e), e)
 * with e = h - ĥ and the target's b_dec detached (no gradient), ê = the
 * sparse decode (without b_dec) of the k_aux largest pre-activations among
 * dead latents after ReLU. As in the reference the AuxK gradient reaches
 * W_enc, b_enc, W_dec and b_dec (through the input centring and the output).
 * aux is 0 when no latent is dead or the denominator is 0 (the reference's
 * nan_to_num); the reference would still count a term with no dead latent. */
typedef struct {
    const uint8_t *dead; /* [n_latents], 1 = dead; NULL: the model's tracker */
    bool track;          /* first update the tracker with this batch (as the reference) */
    bool grad;           /* add the gradient into m->grad */
    const float *aux_target; /* a fixed AuxK target e + b_dec [N, d_in] (NULL: this batch's);
                              * lets finite differences hold the detached target constant */
} sae_loss_opts;

typedef struct {
    double loss, main, aux;
    double mse;  /* plain mean squared error */
    double fvu;  /* sum (ĥ-h)^2 / sum (h - mean_rows h)^2 over the batch */
    int n_dead;  /* dead latents used by AuxK */
} sae_loss_parts;

/* N <= the workspace's cap. Returns the loss, NaN on error (message set). */
double sae_loss(sae_model *m, sae_work *w, const float *h, int N, const sae_loss_opts *o, sae_loss_parts *out);

/* Tracker update from codes idx/val [N, k]: latents with a value > 1e-3
 * restart at 0, the others age by N tokens. */
void sae_track(sae_model *m, const int *idx, const float *val, int N, int k);
/* dead[j] = since_fired[j] > dead_tokens; returns the count. */
int sae_dead_mask(const sae_model *m, uint8_t *dead);

/* Removes from each decoder row's gradient its component along the
 * (unit-norm) row: g_j -= (g_j . w_j) w_j. Call before the optimizer step. */
void sae_project_decoder_grad(sae_model *m);
/* Rescales each nonzero decoder row to unit norm. Call after each step. */
void sae_normalize_decoder(sae_model *m);

/* ---- kernels of the pass, exposed for the finite-difference tests.
 * Backward kernels ADD into parameter gradients. */
/* TopK of one row of n values: the k largest, decreasing, ties to the lower
 * index (k <= n). Among candidates where allow[j] (allow NULL = all); returns
 * how many were found (< k when fewer are allowed). */
int sae_topk_row(const float *x, int n, int k, const uint8_t *allow, int *idx, float *val);
/* out[N,d] += sum_s val[r,s] W[idx[r,s]]. */
void sae_sparse_decode_add(float *out, const float *W, const int *idx, const float *val, int N, int k, int d);
/* For out as above and dout = d loss/d out: dW[idx] += val * dout;
 * dval[r,s] = W[idx[r,s]] . dout[r] (overwritten). */
void sae_sparse_decode_bwd(float *dW, float *dval, const float *W, const int *idx, const float *val,
                           const float *dout, int N, int k, int d);
/* For val = pre[idx] with pre = W xc + b: dW[idx] += dval * xc, db[idx] += dval,
 * and when dxc_sum is given, dxc_sum[d] += sum over rows of dval * W[idx]
 * (the gradient of the sum over rows of xc). */
void sae_sparse_encode_bwd(float *dW, float *db, float *dxc_sum, const float *W, const float *xc, const int *idx,
                           const float *dval, int N, int k, int d);

#endif
