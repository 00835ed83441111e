/* tf_flat.c — the training layout of a Llama model (one flat buffer) and
 * saving a model back into a Hugging Face folder. */
#include "safetensors.h"
#include "half.h"
#include "transformer.h"
#include "util.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tf_flat_segments(const tf_config *c, tf_segment *seg, int max) {
    size_t d = (size_t)c->d_model, q = (size_t)tf_q_dim(c), kv = (size_t)tf_kv_dim(c), ff = (size_t)c->d_ff;
    size_t off = 0;
    int n = 0;
#define SEG(sz, dec, ...)                                                          \
    do {                                                                           \
        if (n < max) {                                                             \
            snprintf(seg[n].name, sizeof seg[n].name, __VA_ARGS__);                \
            seg[n].offset = off, seg[n].size = (sz), seg[n].decay = (dec);         \
        }                                                                          \
        n++, off += (sz);                                                          \
    } while (0)
    SEG((size_t)c->vocab * d, true, "embed");
    for (int l = 0; l < c->n_layers; l++) {
        SEG(d, false, "layers.%d.norm1", l);
        SEG((q + 2 * kv) * d, true, "layers.%d.wqkv", l);
        SEG(d * q, true, "layers.%d.wo", l);
        SEG(d, false, "layers.%d.norm2", l);
        SEG(2 * ff * d, true, "layers.%d.w_in", l);
        SEG(d * ff, true, "layers.%d.w_down", l);
    }
    SEG(d, false, "norm");
    if (!c->tied) SEG((size_t)c->vocab * d, true, "lm_head");
#undef SEG
    return n;
}

size_t tf_flat_size(const tf_config *c) {
    tf_segment s[1];
    int n = tf_flat_segments(c, s, 0);
    tf_segment *all = xmalloc(sizeof(tf_segment) * (size_t)n);
    tf_flat_segments(c, all, n);
    size_t total = all[n - 1].offset + all[n - 1].size;
    free(all);
    return total;
}

void tf_bind_flat(tf_model *m, const tf_config *c, float *flat) {
    memset(m, 0, sizeof *m);
    m->c = *c;
    m->flat = true;
    m->layers = xcalloc((size_t)c->n_layers, sizeof(tf_layer));
    size_t d = (size_t)c->d_model, q = (size_t)tf_q_dim(c), kv = (size_t)tf_kv_dim(c), ff = (size_t)c->d_ff;
    float *p = flat;
    m->embed = p, p += (size_t)c->vocab * d;
    for (int l = 0; l < c->n_layers; l++) {
        tf_layer *ly = &m->layers[l];
        ly->norm1_w = p, p += d;
        ly->wqkv = p, p += (q + 2 * kv) * d;
        ly->wo = p, p += d * q;
        ly->norm2_w = p, p += d;
        ly->w_in = p, p += 2 * ff * d;
        ly->w_down = p, p += d * ff;
        /* the views the forward pass reads: row blocks of the fused matrices */
        ly->attn_in[0] = wmat_f32(ly->wqkv, (int)q, (int)d);
        ly->attn_in[1] = wmat_f32(ly->wqkv + q * d, (int)kv, (int)d);
        ly->attn_in[2] = wmat_f32(ly->wqkv + (q + kv) * d, (int)kv, (int)d);
        ly->n_attn_in = 3;
        ly->attn_out = wmat_f32(ly->wo, (int)d, (int)q);
        ly->mlp_in[0] = wmat_f32(ly->w_in, (int)ff, (int)d);
        ly->mlp_in[1] = wmat_f32(ly->w_in + ff * d, (int)ff, (int)d);
        ly->n_mlp_in = 2;
        ly->mlp_out = wmat_f32(ly->w_down, (int)d, (int)ff);
    }
    m->norm_w = p, p += d;
    m->lm_head = c->tied ? m->embed : p;
    if (!c->tied) p += (size_t)c->vocab * d;
    m->tok_embed = wmat_f32(m->embed, c->vocab, (int)d);
    m->head = wmat_f32(m->lm_head, c->vocab, (int)d);
    m->weight_bytes = sizeof(float) * (size_t)(p - flat);
    m->n_params = (size_t)(p - flat);
    tf_rope_init(m);
}

/* Rows of n weights stacked into dst (their widened f32 values, in order). */
static float *stack_rows(float *dst, const wmat *w, int n) {
    for (int i = 0; i < n; i++) {
        wmat_to_f32(&w[i], dst);
        dst += (size_t)w[i].rows * w[i].cols;
    }
    return dst;
}

int tf_flatten(const tf_model *src, float *flat) {
    const tf_config *c = &src->c;
    if (c->arch != ARCH_LLAMA) return ms_seterr("only Llama-family models have a training layout (flatten)");
    size_t d = (size_t)c->d_model;
    float *p = flat;
    wmat_to_f32(&src->tok_embed, p), p += (size_t)c->vocab * d;
    for (int l = 0; l < c->n_layers; l++) {
        const tf_layer *ly = &src->layers[l];
        memcpy(p, ly->norm1_w, d * sizeof(float)), p += d;
        p = stack_rows(p, ly->attn_in, ly->n_attn_in);
        p = stack_rows(p, &ly->attn_out, 1);
        memcpy(p, ly->norm2_w, d * sizeof(float)), p += d;
        p = stack_rows(p, ly->mlp_in, ly->n_mlp_in);
        p = stack_rows(p, &ly->mlp_out, 1);
    }
    memcpy(p, src->norm_w, d * sizeof(float)), p += d;
    if (!c->tied) wmat_to_f32(&src->head, p), p += (size_t)c->vocab * d;
    if ((size_t)(p - flat) != tf_flat_size(c)) return ms_seterr("model weights do not fill the training layout (flatten)");
    return 0;
}

/* ---- saving ---- */

typedef struct {
    st_wtensor *t;
    int n, cap;
    void **owned; /* converted buffers to free */
    int nowned;
    bool half;
} wlist;

static st_wtensor *push(wlist *w, const char *name, int64_t d0, int64_t d1) {
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 64;
        w->t = xrealloc(w->t, sizeof(st_wtensor) * (size_t)w->cap);
        w->owned = xrealloc(w->owned, sizeof(void *) * (size_t)w->cap * 2);
    }
    st_wtensor *t = &w->t[w->n++];
    t->name = xstrdup(name);
    w->owned[w->nowned++] = (void *)t->name;
    t->ndim = d1 ? 2 : 1;
    t->shape[0] = d0;
    t->shape[1] = d1;
    return t;
}

/* An f32 vector (norm weights), stored as f32 or f16. */
static void add(wlist *w, const char *name, const float *data, int64_t d0) {
    st_wtensor *t = push(w, name, d0, 0);
    if (w->half) {
        uint16_t *h = xmalloc((size_t)d0 * 2);
        for (int64_t i = 0; i < d0; i++) h[i] = f32_to_f16(data[i]);
        t->dtype = ST_F16;
        t->data = h;
        w->owned[w->nowned++] = h;
    } else {
        t->dtype = ST_F32;
        t->data = data;
    }
}

/* A weight matrix in whatever dtype it is held: written as f32 (or f16 with
 * half), widened or narrowed row by row. F32 as f32 is written in place. */
static void add_mat(wlist *w, const char *name, const wmat *m) {
    st_wtensor *t = push(w, name, m->rows, m->cols);
    if (m->dtype == WM_F32 && !w->half) {
        t->dtype = ST_F32;
        t->data = m->data;
        return;
    }
    size_t K = (size_t)m->cols, n = (size_t)m->rows * K;
    float *row = xmalloc(K * sizeof(float));
    void *out = xmalloc(n * (w->half ? 2 : 4));
    for (int r = 0; r < m->rows; r++) {
        wmat_row(m, r, w->half ? row : (float *)out + (size_t)r * K);
        if (w->half)
            for (size_t i = 0; i < K; i++) ((uint16_t *)out)[(size_t)r * K + i] = f32_to_f16(row[i]);
    }
    free(row);
    t->dtype = w->half ? ST_F16 : ST_F32;
    t->data = out;
    w->owned[w->nowned++] = out;
}

static int write_config(const tf_model *m, const char *dir, bool half) {
    const tf_config *c = &m->c;
    json_object *o = json_object_new_object(), *arch = json_object_new_array();
    json_object_array_add(arch, json_object_new_string("LlamaForCausalLM"));
    json_object_object_add(o, "architectures", arch);
    json_object_object_add(o, "model_type", json_object_new_string("llama"));
    json_object_object_add(o, "hidden_size", json_object_new_int(c->d_model));
    json_object_object_add(o, "intermediate_size", json_object_new_int(c->d_ff));
    json_object_object_add(o, "num_hidden_layers", json_object_new_int(c->n_layers));
    json_object_object_add(o, "num_attention_heads", json_object_new_int(c->n_heads));
    json_object_object_add(o, "num_key_value_heads", json_object_new_int(c->n_kv_heads));
    json_object_object_add(o, "head_dim", json_object_new_int(c->head_dim));
    json_object_object_add(o, "rms_norm_eps", json_object_new_double(c->norm_eps));
    json_object_object_add(o, "rope_theta", json_object_new_double(c->rope_theta));
    if (c->rope_llama3) {
        json_object *rs = json_object_new_object();
        json_object_object_add(rs, "rope_type", json_object_new_string("llama3"));
        json_object_object_add(rs, "factor", json_object_new_double(c->rs_factor));
        json_object_object_add(rs, "low_freq_factor", json_object_new_double(c->rs_low));
        json_object_object_add(rs, "high_freq_factor", json_object_new_double(c->rs_high));
        json_object_object_add(rs, "original_max_position_embeddings", json_object_new_int(c->rs_orig_max));
        json_object_object_add(o, "rope_scaling", rs);
    }
    json_object_object_add(o, "max_position_embeddings", json_object_new_int(c->max_seq));
    json_object_object_add(o, "vocab_size", json_object_new_int(c->vocab));
    json_object_object_add(o, "tie_word_embeddings", json_object_new_boolean(c->tied));
    json_object_object_add(o, "hidden_act", json_object_new_string("silu"));
    json_object_object_add(o, "torch_dtype", json_object_new_string(half ? "float16" : "float32"));
    if (c->bos_id >= 0) json_object_object_add(o, "bos_token_id", json_object_new_int(c->bos_id));
    if (c->eos_id >= 0) json_object_object_add(o, "eos_token_id", json_object_new_int(c->eos_id));
    const char *js = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
    char *path = ms_path_join(dir, "config.json");
    int rc = ms_write_file_atomic(path, js, strlen(js));
    free(path);
    json_object_put(o);
    return rc;
}

/* After writing name (or name.lz4) into dir, remove the other spelling so a
 * stale file cannot shadow the new one when the folder is loaded. */
static void drop_other(const char *dir, const char *name, bool lz4) {
    char other[256];
    snprintf(other, sizeof other, lz4 ? "%s" : "%s.lz4", name);
    char *p = ms_path_join(dir, other);
    unlink(p);
    free(p);
}

int tf_save_hf(const tf_model *m, const char *dir, bool half, bool lz4) {
    const tf_config *c = &m->c;
    if (c->arch != ARCH_LLAMA) return ms_seterr("saving is implemented for the Llama family only (%s)", dir);
    if (!ms_is_dir(dir) && mkdir(dir, 0755)) return ms_seterr("cannot create folder (%s)", dir);
    int64_t d = c->d_model;
    wlist w = {0};
    w.half = half;
    char n[128];
    add_mat(&w, "model.embed_tokens.weight", &m->tok_embed);
    for (int l = 0; l < c->n_layers; l++) {
        const tf_layer *ly = &m->layers[l];
#define NM(s) (snprintf(n, sizeof n, "model.layers.%d.%s", l, s), n)
        add(&w, NM("input_layernorm.weight"), ly->norm1_w, d);
        add_mat(&w, NM("self_attn.q_proj.weight"), &ly->attn_in[0]);
        add_mat(&w, NM("self_attn.k_proj.weight"), &ly->attn_in[1]);
        add_mat(&w, NM("self_attn.v_proj.weight"), &ly->attn_in[2]);
        add_mat(&w, NM("self_attn.o_proj.weight"), &ly->attn_out);
        add(&w, NM("post_attention_layernorm.weight"), ly->norm2_w, d);
        add_mat(&w, NM("mlp.gate_proj.weight"), &ly->mlp_in[0]);
        add_mat(&w, NM("mlp.up_proj.weight"), &ly->mlp_in[1]);
        add_mat(&w, NM("mlp.down_proj.weight"), &ly->mlp_out);
#undef NM
    }
    add(&w, "model.norm.weight", m->norm_w, d);
    if (!c->tied) add_mat(&w, "lm_head.weight", &m->head);
    const char *meta[] = {"format", "pt"};
    char *path = ms_path_join(dir, lz4 ? "model.safetensors.lz4" : "model.safetensors");
    int rc = st_write(path, w.t, w.n, meta, 1);
    free(path);
    for (int i = 0; i < w.nowned; i++) free(w.owned[i]);
    free(w.owned);
    free(w.t);
    if (!rc) drop_other(dir, "model.safetensors", lz4);
    if (!rc) rc = write_config(m, dir, half);
    if (!rc) drop_other(dir, "config.json", false);
    if (!rc && m->tok) {
        char *tp = ms_path_join(dir, lz4 ? "tokenizer.json.lz4" : "tokenizer.json");
        rc = tok_save_hf_json(m->tok, tp);
        free(tp);
        if (!rc) drop_other(dir, "tokenizer.json", lz4);
    }
    return rc;
}
