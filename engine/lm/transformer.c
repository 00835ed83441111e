/* transformer.c — loading HF GPT-2 / Llama folders and the batched forward
 * pass with KV cache and hooks. */
#include "transformer.h"
#include "hfconfig.h"
#include "ops.h"
#include "safetensors.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tf_q_dim(const tf_config *c) { return c->n_heads * c->head_dim; }
int tf_kv_dim(const tf_config *c) { return c->n_kv_heads * c->head_dim; }

/* ---------------------------------------------------------------- loading */

typedef struct {
    const st_set *set;
    const char *dir;
    const char *prefix; /* GPT-2 checkpoints may prefix names with "transformer." */
    size_t n_params;
} loader;

static const st_tensor *find(loader *L, const char *name, const st_file **f) {
    char full[256];
    snprintf(full, sizeof full, "%s%s", L->prefix, name);
    return st_set_find(L->set, full, f);
}

static const st_tensor *find_checked(loader *L, const char *name, int64_t e0, int64_t e1, const st_file **f) {
    const st_tensor *t = find(L, name, f);
    if (!t) return ms_seterr("missing tensor '%s%s' (%s)", L->prefix, name, L->dir), NULL;
    int nd = e1 ? 2 : 1;
    if (t->ndim != nd || t->shape[0] != e0 || (nd == 2 && t->shape[1] != e1)) {
        char got[64] = "", want[64];
        for (int i = 0; i < t->ndim && i < 4; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? "," : "", (long long)t->shape[i]);
        if (nd == 2) snprintf(want, sizeof want, "%lld,%lld", (long long)e0, (long long)e1);
        else snprintf(want, sizeof want, "%lld", (long long)e0);
        ms_seterr("tensor '%s' has shape [%s], config needs [%s] (%s)", t->name, got, want, ms_basename((*f)->path));
        return NULL;
    }
    L->n_params += t->numel;
    return t;
}

static void *own(tf_model *m, void *p) {
    m->owned = xrealloc(m->owned, sizeof(void *) * (size_t)(m->nowned + 1));
    return m->owned[m->nowned++] = p;
}

/* An f32 copy of tensor `name` of shape [d0] or [d0, d1] (d1 = 0 for 1-D);
 * with transpose, the file holds [d1, d0] (GPT-2 Conv1D) and it is
 * transposed. Freed by tf_free. */
static float *load(loader *L, tf_model *m, const char *name, int64_t d0, int64_t d1, bool transpose) {
    const st_file *f;
    const st_tensor *t = find_checked(L, name, transpose ? d1 : d0, transpose ? d0 : d1, &f);
    if (!t) return NULL;
    size_t n = t->numel;
    float *p = ms_try_calloc(n, sizeof(float), name); /* a loading failure, not an exit */
    if (!p || st_to_f32(f, t, p, n)) {
        free(p);
        return NULL;
    }
    if (transpose) {
        float *q = ms_try_calloc(n, sizeof(float), name);
        if (!q) {
            free(p);
            return NULL;
        }
        for (int64_t i = 0; i < d1; i++)
            for (int64_t j = 0; j < d0; j++) q[j * d1 + i] = p[i * d0 + j];
        free(p);
        p = q;
    }
    return own(m, p);
}

/* Matrix `name` [d0, d1] as a view in place: F32 / F16 / BF16 as stored
 * (copied only when the file leaves it misaligned), other float types
 * widened to an f32 copy. */
static int view(loader *L, tf_model *m, const char *name, int64_t d0, int64_t d1, wmat *w) {
    const st_file *f;
    const st_tensor *t = find_checked(L, name, d0, d1, &f);
    if (!t) return -1;
    *w = (wmat){WM_F32, t->data, (int)d0, (int)d1};
    if (t->dtype == ST_F32 || t->dtype == ST_F16 || t->dtype == ST_BF16) {
        w->dtype = t->dtype == ST_F32 ? WM_F32 : t->dtype == ST_F16 ? WM_F16 : WM_BF16;
        if ((uintptr_t)t->data % wm_dtype_size(w->dtype)) {
            void *c = ms_try_calloc(t->nbytes, 1, name);
            if (!c) return -1;
            w->data = memcpy(own(m, c), t->data, t->nbytes);
        }
    } else {
        float *p = ms_try_calloc(t->numel, sizeof(float), name);
        if (!p || st_to_f32(f, t, p, t->numel)) {
            free(p);
            return -1;
        }
        w->data = own(m, p);
    }
    m->weight_bytes += wmat_bytes(w);
    return 0;
}

#define TRY(x) do { if (!(x)) return -1; } while (0)

static int load_llama_layer(loader *L, tf_model *m, int i, tf_layer *ly) {
    const tf_config *c = &m->c;
    char n[128];
    int d = c->d_model, q = tf_q_dim(c), kv = tf_kv_dim(c), ff = c->d_ff;
#define NAME(s) (snprintf(n, sizeof n, "model.layers.%d.%s", i, s), n)
    TRY(ly->norm1_w = load(L, m, NAME("input_layernorm.weight"), d, 0, false));
    TRY(ly->norm2_w = load(L, m, NAME("post_attention_layernorm.weight"), d, 0, false));
    int rows[3] = {q, kv, kv};
    const char *qkv[3] = {"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight"};
    for (int j = 0; j < 3; j++)
        if (view(L, m, NAME(qkv[j]), rows[j], d, &ly->attn_in[j])) return -1;
    ly->n_attn_in = 3;
    if (view(L, m, NAME("self_attn.o_proj.weight"), d, q, &ly->attn_out)) return -1;
    if (view(L, m, NAME("mlp.gate_proj.weight"), ff, d, &ly->mlp_in[0]) ||
        view(L, m, NAME("mlp.up_proj.weight"), ff, d, &ly->mlp_in[1]))
        return -1;
    ly->n_mlp_in = 2;
    if (view(L, m, NAME("mlp.down_proj.weight"), d, ff, &ly->mlp_out)) return -1;
#undef NAME
    return 0;
}

static int load_gpt2_layer(loader *L, tf_model *m, int i, tf_layer *ly) {
    const tf_config *c = &m->c;
    char n[128];
    int d = c->d_model, ff = c->d_ff;
    float *w;
#define NAME(s) (snprintf(n, sizeof n, "h.%d.%s", i, s), n)
    TRY(ly->norm1_w = load(L, m, NAME("ln_1.weight"), d, 0, false));
    TRY(ly->norm1_b = load(L, m, NAME("ln_1.bias"), d, 0, false));
    TRY(w = load(L, m, NAME("attn.c_attn.weight"), 3 * d, d, true));
    ly->attn_in[0] = wmat_f32(w, 3 * d, d), ly->n_attn_in = 1;
    TRY(ly->bqkv = load(L, m, NAME("attn.c_attn.bias"), 3 * d, 0, false));
    TRY(w = load(L, m, NAME("attn.c_proj.weight"), d, d, true));
    ly->attn_out = wmat_f32(w, d, d);
    TRY(ly->bo = load(L, m, NAME("attn.c_proj.bias"), d, 0, false));
    TRY(ly->norm2_w = load(L, m, NAME("ln_2.weight"), d, 0, false));
    TRY(ly->norm2_b = load(L, m, NAME("ln_2.bias"), d, 0, false));
    TRY(w = load(L, m, NAME("mlp.c_fc.weight"), ff, d, true));
    ly->mlp_in[0] = wmat_f32(w, ff, d), ly->n_mlp_in = 1;
    TRY(ly->b_in = load(L, m, NAME("mlp.c_fc.bias"), ff, 0, false));
    TRY(w = load(L, m, NAME("mlp.c_proj.weight"), d, ff, true));
    ly->mlp_out = wmat_f32(w, d, ff);
    TRY(ly->b_down = load(L, m, NAME("mlp.c_proj.bias"), d, 0, false));
    m->weight_bytes += sizeof(float) * ((size_t)4 * d * d + (size_t)2 * d * ff);
#undef NAME
    return 0;
}

void tf_rope_init(tf_model *m) {
    const tf_config *c = &m->c;
    int half = c->head_dim / 2;
    m->inv_freq = xmalloc(sizeof(float) * (size_t)half);
    for (int i = 0; i < half; i++) {
        double inv = 1.0 / pow(c->rope_theta, (2.0 * i) / c->head_dim);
        if (c->rope_llama3) { /* as in Llama 3.1's reference rope scaling */
            double low_wl = c->rs_orig_max / c->rs_low, high_wl = c->rs_orig_max / c->rs_high;
            double wl = 2 * M_PI / inv;
            if (wl > low_wl) inv /= c->rs_factor;
            else if (wl >= high_wl) {
                double s = (c->rs_orig_max / wl - c->rs_low) / (c->rs_high - c->rs_low);
                inv = (1 - s) * inv / c->rs_factor + s * inv;
            }
        }
        m->inv_freq[i] = (float)inv;
    }
}

static int load_weights(tf_model *m, const st_set *set, const char *dir) {
    tf_config *c = &m->c;
    loader L = {set, dir, "", 0};
    int d = c->d_model;
    m->layers = xcalloc((size_t)c->n_layers, sizeof(tf_layer));
    if (c->arch == ARCH_LLAMA) {
        if (view(&L, m, "model.embed_tokens.weight", c->vocab, d, &m->tok_embed)) return -1;
        TRY(m->norm_w = load(&L, m, "model.norm.weight", d, 0, false));
        if (c->tied || !find(&L, "lm_head.weight", NULL)) m->head = m->tok_embed, c->tied = true;
        else if (view(&L, m, "lm_head.weight", c->vocab, d, &m->head)) return -1;
        for (int i = 0; i < c->n_layers; i++)
            if (load_llama_layer(&L, m, i, &m->layers[i])) return -1;
        tf_rope_init(m);
    } else {
        if (!find(&L, "wte.weight", NULL)) L.prefix = "transformer.";
        if (view(&L, m, "wte.weight", c->vocab, d, &m->tok_embed)) return -1;
        TRY(m->pos_embed = load(&L, m, "wpe.weight", c->max_seq, d, false));
        TRY(m->norm_w = load(&L, m, "ln_f.weight", d, 0, false));
        TRY(m->norm_b = load(&L, m, "ln_f.bias", d, 0, false));
        m->head = m->tok_embed;
        for (int i = 0; i < c->n_layers; i++)
            if (load_gpt2_layer(&L, m, i, &m->layers[i])) return -1;
    }
    m->n_params = L.n_params;
    return 0;
}

int tf_load(tf_model *m, const char *dir) {
    memset(m, 0, sizeof *m);
    if (!ms_is_dir(dir)) return ms_seterr("not a model folder (%s)", dir);
    char *cfg = ms_find_file(dir, "config.json");
    if (!cfg) return ms_seterr("no config.json in model folder (%s)", dir);
    int rc = hf_config_load(&m->c, cfg);
    free(cfg);
    if (rc) return -1;
    m->files = xcalloc(1, sizeof(st_set)); /* kept open: the views point into it */
    if (st_set_open(m->files, dir)) {
        free(m->files);
        m->files = NULL;
        return -1;
    }
    rc = load_weights(m, m->files, dir);
    if (!rc) {
        char *tj = ms_find_file(dir, "tokenizer.json"), *vj = ms_find_file(dir, "vocab.json");
        if (tj || vj) {
            m->tok = tok_load_dir(dir);
            if (!m->tok) rc = -1;
            else if (tok_vocab_size(m->tok) > m->c.vocab)
                rc = ms_seterr("tokenizer has %d tokens but the model only %d (%s)", tok_vocab_size(m->tok),
                               m->c.vocab, dir);
        }
        free(tj);
        free(vj);
    }
    if (!rc && m->tok) { /* config ids win; fall back to the tokenizer's */
        if (m->c.bos_id < 0) m->c.bos_id = tok_bos(m->tok);
        if (m->c.eos_id < 0) m->c.eos_id = tok_eos(m->tok);
    }
    if (rc) {
        tf_free(m);
        return -1;
    }
    m->path = xstrdup(dir);
    return 0;
}

void tf_free(tf_model *m) {
    for (int i = 0; i < m->nowned; i++) free(m->owned[i]);
    free(m->owned);
    if (m->files) st_set_close(m->files);
    free(m->files);
    free(m->layers);
    free(m->inv_freq);
    free(m->path);
    if (m->tok) tok_free(m->tok);
    memset(m, 0, sizeof *m);
}

/* ---------------------------------------------------------------- state */

int tf_state_init(tf_state *s, const tf_model *m, int max_seq) {
    const tf_config *c = &m->c;
    memset(s, 0, sizeof *s);
    if (max_seq <= 0 || max_seq > c->max_seq) max_seq = c->max_seq;
    s->max_seq = max_seq;
    s->cap = max_seq < 256 ? max_seq : 256;
    size_t kv = (size_t)c->n_layers * max_seq * tf_kv_dim(c), cap = (size_t)s->cap;
    int qkv = tf_q_dim(c) + 2 * tf_kv_dim(c);
    int wide = c->d_model > tf_q_dim(c) ? c->d_model : tf_q_dim(c);
    /* The cache is the one large allocation a user controls (set ctx): fail
     * with a message instead of exiting. */
    s->k = calloc(kv, sizeof(float));
    s->v = calloc(kv, sizeof(float));
    if (!s->k || !s->v) {
        free(s->k);
        free(s->v);
        s->k = s->v = NULL;
        return ms_seterr("cannot allocate a %zu MB KV cache for %d positions (ctx)",
                         kv * 2 * sizeof(float) >> 20, max_seq);
    }
    s->x = xmalloc(cap * c->d_model * sizeof(float));
    s->xn = xmalloc(cap * wide * sizeof(float));
    s->qkv = xmalloc(cap * qkv * sizeof(float));
    s->att = xmalloc(cap * tf_q_dim(c) * sizeof(float));
    s->hb = xmalloc(cap * 2 * c->d_ff * sizeof(float));
    s->hb2 = xmalloc(cap * c->d_ff * sizeof(float));
    s->scores = xmalloc(cap * max_seq * sizeof(float));
    s->logits = xmalloc((size_t)c->vocab * sizeof(float));
    return 0;
}

void tf_state_free(tf_state *s) {
    float *ps[] = {s->k, s->v, s->x, s->xn, s->qkv, s->att, s->hb, s->hb2, s->scores, s->logits, s->chunk_logits};
    for (size_t i = 0; i < sizeof ps / sizeof *ps; i++) free(ps[i]);
    memset(s, 0, sizeof *s);
}

void tf_state_reset(tf_state *s) { s->pos = 0; }

int tf_add_hook(tf_state *s, tf_hook h) {
    if (s->nhooks >= TF_MAX_HOOKS) return ms_seterr("too many hooks (at most %d) (hooks)", TF_MAX_HOOKS);
    s->hooks[s->nhooks++] = h;
    return 0;
}

void tf_clear_hooks(tf_state *s) { s->nhooks = 0; }

void tf_rows_hook(void *ctx, int layer, int pos0, int n, float *x, int dim) {
    tf_rows *c = ctx;
    memcpy(c->buf + (size_t)pos0 * c->width, x, sizeof(float) * (size_t)n * (size_t)dim);
}

static void run_hooks(tf_state *s, tf_hook_kind kind, int layer, int pos0, int n, float *x, int dim) {
    for (int i = 0; i < s->nhooks; i++)
        if (s->hooks[i].kind == kind && s->hooks[i].layer == layer)
            s->hooks[i].fn(s->hooks[i].ctx, layer, pos0, n, x, dim);
}

/* ---------------------------------------------------------------- forward */

static void apply_rope(const tf_model *m, float *qkv, int T, int pos0) {
    const tf_config *c = &m->c;
    int hd = c->head_dim, half = hd / 2, stride = tf_q_dim(c) + 2 * tf_kv_dim(c);
    int nrot = c->n_heads + c->n_kv_heads; /* q heads then k heads are contiguous */
    float cs[half], sn[half];
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < half; i++) {
            double a = (double)(pos0 + t) * m->inv_freq[i];
            cs[i] = (float)cos(a);
            sn[i] = (float)sin(a);
        }
        float *row = qkv + (size_t)t * stride;
        for (int h = 0; h < nrot; h++) {
            float *v = row + h * hd;
            for (int i = 0; i < half; i++) { /* HF rotate_half pairs i with i+half */
                float a = v[i], b = v[i + half];
                v[i] = a * cs[i] - b * sn[i];
                v[i + half] = b * cs[i] + a * sn[i];
            }
        }
    }
}

/* Causal attention of T new queries against the cache's first pos0+T rows. */
static void attention(const tf_model *m, tf_state *s, int layer, int T, int pos0) {
    const tf_config *c = &m->c;
    int hd = c->head_dim, q = tf_q_dim(c), kvd = tf_kv_dim(c), stride = q + 2 * kvd;
    int S = pos0 + T, group = c->n_heads / c->n_kv_heads;
    const float *K = s->k + (size_t)layer * s->max_seq * kvd;
    const float *V = s->v + (size_t)layer * s->max_seq * kvd;
    float scale = 1.0f / sqrtf((float)hd);
    for (int h = 0; h < c->n_heads; h++) {
        int g = h / group;
        gemm_nt(T, S, hd, scale, s->qkv + h * hd, stride, K + g * hd, kvd, 0.0f, s->scores, S);
        for (int t = 0; t < T; t++) {
            float *row = s->scores + (size_t)t * S;
            int valid = pos0 + t + 1;
            softmax(row, valid);
            memset(row + valid, 0, sizeof(float) * (size_t)(S - valid));
        }
        gemm_nn(T, hd, S, 1.0f, s->scores, S, V + g * hd, kvd, 0.0f, s->att + h * hd, q);
    }
}

static void add_bias(float *y, const float *b, int T, int n) {
    if (b)
        for (int t = 0; t < T; t++) axpy(y + (size_t)t * n, 1.0f, b, n);
}

static void block(const tf_model *m, tf_state *s, int l, int T, int pos0) {
    const tf_config *c = &m->c;
    const tf_layer *ly = &m->layers[l];
    int d = c->d_model, q = tf_q_dim(c), kvd = tf_kv_dim(c), ff = c->d_ff, stride = q + 2 * kvd;
    bool llama = c->arch == ARCH_LLAMA;
    if (llama) rmsnorm(s->xn, s->x, ly->norm1_w, T, d, c->norm_eps);
    else layernorm(s->xn, s->x, ly->norm1_w, ly->norm1_b, T, d, c->norm_eps);
    wmat_linear_n(s->qkv, s->xn, ly->attn_in, ly->n_attn_in, T);
    add_bias(s->qkv, ly->bqkv, T, stride);
    if (llama) apply_rope(m, s->qkv, T, pos0);
    float *K = s->k + ((size_t)l * s->max_seq + pos0) * kvd, *V = s->v + ((size_t)l * s->max_seq + pos0) * kvd;
    for (int t = 0; t < T; t++) {
        memcpy(K + (size_t)t * kvd, s->qkv + (size_t)t * stride + q, sizeof(float) * kvd);
        memcpy(V + (size_t)t * kvd, s->qkv + (size_t)t * stride + q + kvd, sizeof(float) * kvd);
    }
    attention(m, s, l, T, pos0);
    wmat_linear(s->xn, s->att, &ly->attn_out, ly->bo, T);
    for (size_t i = 0; i < (size_t)T * d; i++) s->x[i] += s->xn[i];

    if (llama) rmsnorm(s->xn, s->x, ly->norm2_w, T, d, c->norm_eps);
    else layernorm(s->xn, s->x, ly->norm2_w, ly->norm2_b, T, d, c->norm_eps);
    wmat_linear_n(s->hb, s->xn, ly->mlp_in, ly->n_mlp_in, T);
    add_bias(s->hb, ly->b_in, T, ff);
    for (int t = 0; t < T; t++) {
        float *h = s->hb + (size_t)t * (llama ? 2 * ff : ff), *o = s->hb2 + (size_t)t * ff;
        if (llama) swiglu_vec(o, h, h + ff, (size_t)ff);
        else gelu_tanh_vec(o, h, (size_t)ff);
    }
    run_hooks(s, HOOK_MLP, l, pos0, T, s->hb2, ff);
    wmat_linear(s->xn, s->hb2, &ly->mlp_out, ly->b_down, T);
    for (size_t i = 0; i < (size_t)T * d; i++) s->x[i] += s->xn[i];
    run_hooks(s, HOOK_RESID, l, pos0, T, s->x, d);
}

static void final_logits(const tf_model *m, tf_state *s, int row0, int T, float *out) {
    const tf_config *c = &m->c;
    int d = c->d_model;
    const float *x = s->x + (size_t)row0 * d;
    if (c->arch == ARCH_LLAMA) rmsnorm(s->xn, x, m->norm_w, T, d, c->norm_eps);
    else layernorm(s->xn, x, m->norm_w, m->norm_b, T, d, c->norm_eps);
    wmat_linear(out, s->xn, &m->head, NULL, T);
}

static int forward_chunk(const tf_model *m, tf_state *s, const int *tok, int T, bool last_chunk,
                         tf_logits_mode mode, float *all) {
    const tf_config *c = &m->c;
    int d = c->d_model, pos0 = s->pos;
    for (int t = 0; t < T; t++) {
        if (tok[t] < 0 || tok[t] >= c->vocab)
            return ms_seterr("token id %d out of range [0, %d) (forward)", tok[t], c->vocab);
        wmat_row(&m->tok_embed, tok[t], s->x + (size_t)t * d);
        if (m->pos_embed) axpy(s->x + (size_t)t * d, 1.0f, m->pos_embed + (size_t)(pos0 + t) * d, d);
    }
    int L = s->stop_layer > 0 && s->stop_layer < c->n_layers ? s->stop_layer : c->n_layers;
    for (int l = 0; l < L; l++) block(m, s, l, T, pos0);
    s->pos += T;
    if (L < c->n_layers) return 0;
    if (mode == LOGITS_ALL) final_logits(m, s, 0, T, all);
    else if (mode == LOGITS_LAST && last_chunk) final_logits(m, s, T - 1, 1, s->logits);
    return 0;
}

int tf_forward(const tf_model *m, tf_state *s, const int *tokens, int n, tf_logits_mode mode, float *all) {
    if (n <= 0) return ms_seterr("nothing to run (forward)");
    if (s->pos + n > s->max_seq)
        return ms_seterr("context full: %d + %d tokens exceed %d (forward)", s->pos, n, s->max_seq);
    s->call_end = s->pos + n;
    for (int i = 0; i < n; i += s->cap) {
        int T = n - i < s->cap ? n - i : s->cap;
        float *out = mode == LOGITS_ALL ? all + (size_t)i * m->c.vocab : NULL;
        if (forward_chunk(m, s, tokens + i, T, i + T == n, mode, out)) return -1;
    }
    return 0;
}

void tf_logit_lens(const tf_model *m, const float *h, int n, float *out) {
    const tf_config *c = &m->c;
    float *xn = xmalloc(sizeof(float) * (size_t)n * c->d_model);
    if (c->arch == ARCH_LLAMA) rmsnorm(xn, h, m->norm_w, n, c->d_model, c->norm_eps);
    else layernorm(xn, h, m->norm_w, m->norm_b, n, c->d_model, c->norm_eps);
    wmat_linear(out, xn, &m->head, NULL, n);
    free(xn);
}

int tf_nll(const tf_model *m, tf_state *s, const int *tokens, int n, float *out) {
    if (n < 2) return ms_seterr("need at least 2 tokens to score (nll)");
    tf_state_reset(s);
    int V = m->c.vocab;
    if (!s->chunk_logits) s->chunk_logits = xmalloc((size_t)s->cap * V * sizeof(float));
    float *lg = s->chunk_logits;
    int rc = 0;
    for (int i = 0; i < n - 1 && !rc; i += s->cap) {
        int T = n - 1 - i < s->cap ? n - 1 - i : s->cap;
        rc = tf_forward(m, s, tokens + i, T, LOGITS_ALL, lg);
        for (int t = 0; t < T && !rc; t++)
            out[i + t] = (float)-log_softmax_at(lg + (size_t)t * V, V, tokens[i + t + 1]);
    }
    return rc;
}
