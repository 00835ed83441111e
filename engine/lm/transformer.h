/* transformer.h — GPT-2 and Llama-family inference with a KV cache and hooks.
 *
 * Weight matrices are views as stored (wmat.h: F32, F16 or BF16, [out, in]),
 * used in place from the mmap of the safetensors files; lz4 files are
 * decompressed into memory once. GPT-2's Conv1D [in, out] weights are
 * transposed into f32 copies at load. Norm weights and biases are small f32
 * copies. A model built for training (tf_bind_flat) points both the f32
 * fields and the views into one flat f32 buffer. */
#ifndef MS_TRANSFORMER_H
#define MS_TRANSFORMER_H

#include <stdbool.h>
#include <stdint.h>

#include "hfconfig.h"
#include "safetensors.h"
#include "tokenizer.h"
#include "wmat.h"

typedef struct {
    float *norm1_w, *norm1_b;  /* b: GPT-2 only */
    float *bqkv, *bo;          /* GPT-2 only */
    float *norm2_w, *norm2_b;
    float *b_in, *b_down;      /* GPT-2 only */
    /* Inference: attn_in = q, k, v (Llama; [q_dim | kv_dim | kv_dim, d]) or
     * GPT-2's fused c_attn [3d, d]; attn_out [d, q_dim]; mlp_in = gate, up
     * (Llama, [d_ff, d] each) or c_fc [d_ff, d]; mlp_out [d, d_ff]. */
    wmat attn_in[3], attn_out, mlp_in[2], mlp_out;
    int n_attn_in, n_mlp_in;
    /* Training layout only (tf_bind_flat; NULL in a loaded model): */
    float *wqkv;               /* [q_dim + 2 kv_dim, d] */
    float *wo;                 /* [d, q_dim] */
    float *w_in;               /* [2 d_ff, d] (gate rows, then up) */
    float *w_down;             /* [d, d_ff] */
} tf_layer;

typedef struct {
    tf_config c;
    wmat tok_embed;    /* [vocab, d] */
    wmat head;         /* [vocab, d]; the same view as tok_embed when tied */
    float *pos_embed;  /* GPT-2: [max_seq, d] */
    float *norm_w, *norm_b;
    float *embed, *lm_head; /* training layout only, as in tf_layer */
    tf_layer *layers;
    float *inv_freq;   /* Llama: [head_dim / 2] after rope scaling */
    tokenizer *tok;    /* may be NULL for a weights-only folder */
    char *path;
    size_t n_params;
    size_t weight_bytes; /* bytes of the weight matrices as held */
    bool flat;         /* weights point into one caller-owned buffer (training) */
    st_set *files;     /* the open safetensors files the views point into */
    void **owned;      /* copies made at load (transposed, realigned, widened) */
    int nowned;
} tf_model;

/* Load a Hugging Face folder: config.json, model.safetensors (or sharded with
 * model.safetensors.index.json; any of them may carry a .lz4 suffix), tokenizer
 * files when present. */
int tf_load(tf_model *m, const char *dir);
void tf_free(tf_model *m);
/* Training layout (Llama family): every weight in one flat f32 buffer, in the
 * order embed [V,d]; per layer norm1_w [d], wqkv [q+2kv, d], wo [d, q],
 * norm2_w [d], w_in [2 d_ff, d], w_down [d, d_ff]; norm_w [d]; lm_head [V,d]
 * when untied. Gradients use the same layout, so one tf_model view over a
 * gradient buffer addresses each weight's gradient by the same field. */
size_t tf_flat_size(const tf_config *c);
/* Points m's weights into flat (tf_flat_size floats, caller-owned); computes
 * the RoPE table. m->tok and m->path are left NULL. */
void tf_bind_flat(tf_model *m, const tf_config *c, float *flat);
/* A loaded Llama-family model's weights widened into the training layout:
 * flat holds tf_flat_size(&src->c) floats. For gradients through a model
 * held in f16 or bf16 (tf_train_resid_grad). */
int tf_flatten(const tf_model *src, float *flat);
/* The flat buffer's tensors in order: name (HF spelling for fused tensors is
 * produced by tf_save_hf), offset, size, and whether weight decay applies. */
typedef struct {
    char name[64];
    size_t offset, size;
    bool decay;
} tf_segment;
int tf_flat_segments(const tf_config *c, tf_segment *seg, int max);
/* Writes config.json + model.safetensors (HF Llama names, q/k/v and gate/up
 * unfused; f32, or f16 storage when half is true) into dir, atomically; with
 * lz4 the weights and tokenizer files get a .lz4 suffix and are compressed.
 * The tokenizer is saved too when m->tok is set. */
int tf_save_hf(const tf_model *m, const char *dir, bool half, bool lz4);
/* RoPE inverse frequencies (with llama3 scaling) into m->inv_freq. */
void tf_rope_init(tf_model *m);
int tf_q_dim(const tf_config *c);
int tf_kv_dim(const tf_config *c);

/* Hooks see the rows of one chunk of a forward call (a long prompt is run in
 * chunks of up to 256 rows): n tokens at positions pos0..pos0+n-1; x is
 * [n, dim] and may be modified (resid) or only read (mlp). The forward call's
 * last position is s->call_end - 1, for hooks that act only there. */
typedef enum { HOOK_RESID, HOOK_MLP } tf_hook_kind;
typedef void (*tf_hook_fn)(void *ctx, int layer, int pos0, int n, float *x, int dim);
typedef struct {
    tf_hook_kind kind;
    int layer;
    tf_hook_fn fn;
    void *ctx;
} tf_hook;
#define TF_MAX_HOOKS 8

/* A ready-made hook context: the rows of each chunk land at buf + pos * width
 * (width = the hooked rows' dimension). */
typedef struct {
    float *buf;
    int width;
} tf_rows;
void tf_rows_hook(void *ctx, int layer, int pos0, int n, float *x, int dim);

typedef enum { LOGITS_NONE, LOGITS_LAST, LOGITS_ALL } tf_logits_mode;

/* Per-sequence state: KV cache and scratch. */
typedef struct {
    int max_seq, pos, cap; /* pos = tokens in the cache; cap = rows per chunk */
    int call_end;          /* position after the last token of the current forward call */
    int stop_layer;        /* > 0: run only blocks < stop_layer, no logits (for
                              readers of an early layer; the cache is then partial) */
    float *k, *v;          /* [layers][max_seq][kv_dim] */
    float *x, *xn, *qkv, *att, *hb, *hb2, *scores;
    float *logits;         /* [vocab]: the last position's logits */
    float *chunk_logits;   /* [cap, vocab], allocated by tf_nll on first use */
    tf_hook hooks[TF_MAX_HOOKS];
    int nhooks;
} tf_state;

int tf_state_init(tf_state *s, const tf_model *m, int max_seq);
void tf_state_free(tf_state *s);
void tf_state_reset(tf_state *s);
int tf_add_hook(tf_state *s, tf_hook h);
void tf_clear_hooks(tf_state *s);

/* Runs n tokens after the cached ones. Logits: LOGITS_LAST fills s->logits
 * with the last row; LOGITS_ALL writes [n, vocab] into `all` (caller-sized).
 * Fails (with a message) when the context would overflow. */
int tf_forward(const tf_model *m, tf_state *s, const int *tokens, int n, tf_logits_mode mode,
               float *all);

/* "Logit lens": logits of residual rows h[n, d] through the final norm and
 * the unembedding, into out[n, vocab]. */
void tf_logit_lens(const tf_model *m, const float *h, int n, float *out);

/* Per-token NLL (nats) of tokens[1..n-1] given their prefixes, on a fresh
 * state (hooks from s are kept). out has n-1 entries. */
int tf_nll(const tf_model *m, tf_state *s, const int *tokens, int n, float *out);

#endif
