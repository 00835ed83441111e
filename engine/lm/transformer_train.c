/* transformer_train.c — the Llama training pass: a forward over B*T rows that
 * keeps what the backward needs, then the backward layer by layer. Every
 * linear layer is one product over all B*T rows (split by rows across
 * threads); attention runs per (sequence, head), threads taking whole heads
 * (train_ops.c). Normalized activations and the SwiGLU output are recomputed
 * in the backward rather than stored (cheap elementwise passes; saves d_ff
 * + 2 d_model floats per row and layer). */
#include "transformer_train.h"
#include "ops.h"
#include "optim.h"
#include "rng.h"
#include "train_ops.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct tf_train_ws {
    tf_config c;
    int B, T, N; /* capacity; N = B*T rows */
    int *ids, *tgt;
    float *cs, *sn;          /* RoPE tables [T, hd/2] */
    /* saved by the forward */
    float *res;              /* [L+1][N, d]: input of each layer, then the last output */
    float *mid;              /* [L][N, d]: residual after attention */
    float *rstd1, *rstd2;    /* [L][N] */
    float *qkv;              /* [L][N, q+2kv], q and k rotated */
    float *P;                /* [L][B, H, T, T] attention probabilities */
    float *att;              /* [L][N, q] attention output (input of wo) */
    float *hb;               /* [L][N, 2 ff] gate | up */
    float *rstdf, *xnf;      /* final norm [N], [N, d] */
    float *logits;           /* [N, V]; dlogits after the backward's first step */
    /* scratch */
    float *xn, *act, *dres, *dxn, *dqkv, *datt, *dhb, *dact, *dS;
    double *acc;
    size_t bytes;
};

static float *wsalloc(tf_train_ws *ws, size_t a, size_t b) {
    size_t n = xmul(a, b);
    ws->bytes += n * sizeof(float);
    return xmalloc(xmul(n, sizeof(float)));
}

tf_train_ws *tf_train_ws_new(const tf_config *c, int B, int T) {
    if (B <= 0 || T <= 0 || c->n_kv_heads <= 0 || c->n_heads % c->n_kv_heads || c->head_dim % 2) {
        ms_seterr("bad training shape B=%d T=%d (train workspace)", B, T);
        return NULL;
    }
    tf_train_ws *ws = xcalloc(1, sizeof *ws);
    size_t L = (size_t)c->n_layers, N = (size_t)B * T, d = (size_t)c->d_model, q = (size_t)tf_q_dim(c);
    size_t stride = q + 2 * (size_t)tf_kv_dim(c), ff = (size_t)c->d_ff, V = (size_t)c->vocab;
    ws->c = *c;
    ws->B = B, ws->T = T, ws->N = (int)N;
    ws->ids = xmalloc(N * sizeof(int));
    ws->tgt = xmalloc(N * sizeof(int));
    ws->cs = wsalloc(ws, (size_t)T, (size_t)c->head_dim / 2);
    ws->sn = wsalloc(ws, (size_t)T, (size_t)c->head_dim / 2);
    ws->res = wsalloc(ws, (L + 1) * N, d);
    ws->mid = wsalloc(ws, L * N, d);
    ws->rstd1 = wsalloc(ws, L, N);
    ws->rstd2 = wsalloc(ws, L, N);
    ws->qkv = wsalloc(ws, L * N, stride);
    ws->P = wsalloc(ws, L * (size_t)B * c->n_heads, (size_t)T * T);
    ws->att = wsalloc(ws, L * N, q);
    ws->hb = wsalloc(ws, L * N, 2 * ff);
    ws->rstdf = wsalloc(ws, N, 1);
    ws->xnf = wsalloc(ws, N, d);
    ws->logits = wsalloc(ws, N, V);
    ws->xn = wsalloc(ws, N, d);
    ws->act = wsalloc(ws, N, ff);
    ws->dres = wsalloc(ws, N, d);
    ws->dxn = wsalloc(ws, N, d);
    ws->dqkv = wsalloc(ws, N, stride);
    ws->datt = wsalloc(ws, N, q);
    ws->dhb = wsalloc(ws, N, 2 * ff);
    ws->dact = wsalloc(ws, N, ff);
    ws->dS = wsalloc(ws, TR_MAX_THREADS, (size_t)T * T);
    ws->acc = xmalloc(TR_MAX_THREADS * d * sizeof(double));
    ws->bytes += TR_MAX_THREADS * d * sizeof(double) + 2 * N * sizeof(int);
    return ws;
}

void tf_train_ws_free(tf_train_ws *ws) {
    if (!ws) return;
    void *ps[] = {ws->ids, ws->tgt, ws->cs,    ws->sn,     ws->res,    ws->mid,  ws->rstd1, ws->rstd2,
                  ws->qkv, ws->P,   ws->att,   ws->hb,     ws->rstdf,  ws->xnf,  ws->logits, ws->xn,
                  ws->act, ws->dres, ws->dxn,  ws->dqkv,   ws->datt,   ws->dhb,  ws->dact,  ws->dS,
                  ws->acc};
    for (size_t i = 0; i < sizeof ps / sizeof *ps; i++) free(ps[i]);
    free(ws);
}

size_t tf_train_ws_bytes(const tf_train_ws *ws) { return ws->bytes; }

/* ---------------------------------------------------------------- checks */

bool tf_same_shape(const tf_config *a, const tf_config *b) {
    return a->d_model == b->d_model && a->n_layers == b->n_layers && a->n_heads == b->n_heads &&
           a->n_kv_heads == b->n_kv_heads && a->head_dim == b->head_dim && a->d_ff == b->d_ff &&
           a->vocab == b->vocab;
}

/* Validates and splits tokens into inputs and targets. */
static int prepare(const tf_model *m, tf_train_ws *ws, const int *tokens, int B, int T) {
    const tf_config *c = &m->c;
    if (c->arch != ARCH_LLAMA) return ms_seterr("training supports the Llama family only (train)");
    if (!tf_same_shape(c, &ws->c)) return ms_seterr("model shape differs from the workspace's (train)");
    if (B <= 0 || T <= 0 || B > ws->B || T > ws->T)
        return ms_seterr("batch %dx%d outside the workspace's %dx%d (train)", B, T, ws->B, ws->T);
    for (int b = 0; b < B; b++)
        for (int t = 0; t <= T; t++) {
            int id = tokens[(size_t)b * (T + 1) + t];
            if (id < 0 || id >= c->vocab)
                return ms_seterr("token id %d out of range [0, %d) (train batch row %d)", id, c->vocab, b);
            if (t < T) ws->ids[b * T + t] = id;
            if (t > 0) ws->tgt[b * T + t - 1] = id;
        }
    tr_rope_tables(ws->cs, ws->sn, m->inv_freq, T, c->head_dim);
    return 0;
}

/* ---------------------------------------------------------------- forward */

typedef struct { /* per-layer views into the workspace for a B x T batch */
    float *x, *mid, *out, *rstd1, *rstd2, *qkv, *P, *att, *hb;
} layer_acts;

static layer_acts acts(const tf_train_ws *ws, int l, int B, int T) {
    const tf_config *c = &ws->c;
    size_t N = (size_t)B * T, d = (size_t)c->d_model, q = (size_t)tf_q_dim(c);
    size_t stride = q + 2 * (size_t)tf_kv_dim(c), ff = (size_t)c->d_ff;
    layer_acts a;
    a.x = ws->res + l * N * d;
    a.out = a.x + N * d;
    a.mid = ws->mid + l * N * d;
    a.rstd1 = ws->rstd1 + l * N;
    a.rstd2 = ws->rstd2 + l * N;
    a.qkv = ws->qkv + l * N * stride;
    a.P = ws->P + l * N * (size_t)c->n_heads * T;
    a.att = ws->att + l * N * q;
    a.hb = ws->hb + l * N * 2 * ff;
    return a;
}

static tr_attn_dims dims(const tf_config *c, int B, int T) {
    return (tr_attn_dims){B, T, c->n_heads, c->n_kv_heads, c->head_dim};
}

static void block_fwd(const tf_model *m, tf_train_ws *ws, int l, int B, int T) {
    const tf_config *c = &m->c;
    const tf_layer *ly = &m->layers[l];
    layer_acts a = acts(ws, l, B, T);
    int N = B * T, d = c->d_model, q = tf_q_dim(c), stride = q + 2 * tf_kv_dim(c), ff = c->d_ff;
    size_t nd = (size_t)N * d;
    tr_rms_fwd(ws->xn, a.rstd1, a.x, ly->norm1_w, N, d, c->norm_eps);
    tr_linear_fwd(a.qkv, ws->xn, ly->wqkv, N, d, stride);
    tr_rope_fwd(a.qkv, stride, c->n_heads + c->n_kv_heads, c->head_dim, ws->cs, ws->sn, N, T);
    tr_attn_fwd(a.att, a.P, a.qkv, dims(c, B, T));
    memcpy(a.mid, a.x, nd * sizeof(float)); /* residual: mid = x + att wo^T */
    tr_gemm_par(false, true, N, d, q, 1.0f, a.att, q, ly->wo, q, 1.0f, a.mid, d);
    tr_rms_fwd(ws->xn, a.rstd2, a.mid, ly->norm2_w, N, d, c->norm_eps);
    tr_linear_fwd(a.hb, ws->xn, ly->w_in, N, d, 2 * ff);
    tr_swiglu_fwd(ws->act, a.hb, N, ff);
    memcpy(a.out, a.mid, nd * sizeof(float));
    tr_gemm_par(false, true, N, d, ff, 1.0f, ws->act, ff, ly->w_down, ff, 1.0f, a.out, d);
}

/* Forward to the logits; returns the summed loss. With dscale != 0 the logits
 * become dscale * dloss/dlogits for the backward. */
static double forward(const tf_model *m, tf_train_ws *ws, int B, int T, float dscale) {
    const tf_config *c = &m->c;
    int N = B * T, d = c->d_model;
    tr_embed_fwd(ws->res, m->embed, ws->ids, N, d);
    for (int l = 0; l < c->n_layers; l++) block_fwd(m, ws, l, B, T);
    const float *xL = ws->res + (size_t)c->n_layers * N * d;
    tr_rms_fwd(ws->xnf, ws->rstdf, xL, m->norm_w, N, d, c->norm_eps);
    tr_linear_fwd(ws->logits, ws->xnf, m->lm_head, N, d, c->vocab);
    return tr_xent(ws->logits, ws->tgt, N, c->vocab, dscale);
}

/* ---------------------------------------------------------------- backward */

/* On entry ws->dres holds dL/d(output of layer l); on exit dL/d(its input). */
static void block_bwd(const tf_model *m, tf_model *g, tf_train_ws *ws, int l, int B, int T) {
    const tf_config *c = &m->c;
    const tf_layer *ly = &m->layers[l];
    tf_layer *gl = &g->layers[l];
    layer_acts a = acts(ws, l, B, T);
    int N = B * T, d = c->d_model, q = tf_q_dim(c), stride = q + 2 * tf_kv_dim(c), ff = c->d_ff;
    /* MLP: out = mid + swiglu(rms(mid) w_in^T) w_down^T */
    tr_rms_apply(ws->xn, a.mid, a.rstd2, ly->norm2_w, N, d);
    tr_swiglu_fwd(ws->act, a.hb, N, ff);
    tr_linear_bwd(ws->dact, gl->w_down, ws->dres, ws->act, ly->w_down, N, ff, d);
    tr_swiglu_bwd(ws->dhb, ws->dact, a.hb, N, ff);
    tr_linear_bwd(ws->dxn, gl->w_in, ws->dhb, ws->xn, ly->w_in, N, d, 2 * ff);
    tr_rms_bwd(ws->dres, gl->norm2_w, ws->acc, ws->dxn, a.mid, a.rstd2, ly->norm2_w, N, d);
    /* attention: mid = x + attn(rope(rms(x) wqkv^T)) wo^T */
    tr_linear_bwd(ws->datt, gl->wo, ws->dres, a.att, ly->wo, N, q, d);
    tr_attn_bwd(ws->dqkv, ws->dS, ws->datt, a.P, a.qkv, dims(c, B, T));
    tr_rope_bwd(ws->dqkv, stride, c->n_heads + c->n_kv_heads, c->head_dim, ws->cs, ws->sn, N, T);
    tr_rms_apply(ws->xn, a.x, a.rstd1, ly->norm1_w, N, d);
    tr_linear_bwd(ws->dxn, gl->wqkv, ws->dqkv, ws->xn, ly->wqkv, N, d, stride);
    tr_rms_bwd(ws->dres, gl->norm1_w, ws->acc, ws->dxn, a.x, a.rstd1, ly->norm1_w, N, d);
}

/* From dlogits down to ws->dres = dL/d(output of block `stop`) (stop -1:
 * dL/d(the embeddings), every block done). */
static void backward_to(const tf_model *m, tf_model *g, tf_train_ws *ws, int B, int T, int stop) {
    const tf_config *c = &m->c;
    int N = B * T, d = c->d_model;
    const float *xL = ws->res + (size_t)c->n_layers * N * d;
    /* head (g->lm_head is g->embed when tied, so both uses accumulate) */
    tr_linear_bwd(ws->dxn, g->lm_head, ws->logits, ws->xnf, m->lm_head, N, d, c->vocab);
    memset(ws->dres, 0, (size_t)N * d * sizeof(float));
    tr_rms_bwd(ws->dres, g->norm_w, ws->acc, ws->dxn, xL, ws->rstdf, m->norm_w, N, d);
    for (int l = c->n_layers - 1; l > stop; l--) block_bwd(m, g, ws, l, B, T);
}

static void backward(const tf_model *m, tf_model *g, tf_train_ws *ws, int B, int T) {
    backward_to(m, g, ws, B, T, -1);
    tr_embed_bwd(g->embed, ws->dres, ws->ids, B * T, m->c.d_model);
}

/* Our threads split every product (tr_parallel); OpenBLAS runs one thread
 * inside each, and its own pool stays idle for the whole pass. */
static int threads_begin(void) {
    int nt = ms_get_threads();
    tr_set_threads(nt);
    if (nt > 1) ms_set_threads(1);
    return nt;
}

static void threads_end(int nt) {
    if (nt > 1) ms_set_threads(nt);
    tr_set_threads(0);
}

float tf_train_fwd_bwd(const tf_model *m, tf_model *g, tf_train_ws *ws, const int *tokens, int B, int T,
                       float grad_scale) {
    if (prepare(m, ws, tokens, B, T)) return NAN;
    if (!tf_same_shape(&g->c, &m->c) || g->c.tied != m->c.tied) {
        ms_seterr("gradient model's shape differs from the model's (train)");
        return NAN;
    }
    int N = B * T, nt = threads_begin();
    float dscale = grad_scale / (float)N; /* d(mean)/d(sum) folded into dlogits */
    double sum = forward(m, ws, B, T, dscale);
    if (dscale != 0.0f) backward(m, g, ws, B, T);
    threads_end(nt);
    return (float)(sum / N);
}

/* Targets drawn from the model's own next-token distributions (the logits
 * of a loss-only forward), one uniform per row. */
static void sample_targets(tf_train_ws *ws, int N, int V, rng_t *r) {
    for (int i = 0; i < N; i++) {
        const float *x = ws->logits + (size_t)i * V;
        float mx = x[0];
        for (int j = 1; j < V; j++) mx = x[j] > mx ? x[j] : mx;
        double z = 0;
        for (int j = 0; j < V; j++) z += exp((double)x[j] - mx);
        double u = rng_uniform(r) * z, c = 0;
        int k = 0;
        for (; k < V - 1; k++)
            if ((c += exp((double)x[k] - mx)) > u) break;
        ws->tgt[i] = k;
    }
}

double tf_train_resid_grad(const tf_model *m, tf_model *g, tf_train_ws *ws, const int *tokens, int B, int T,
                           int layer, rng_t *sample, float *grad) {
    if (prepare(m, ws, tokens, B, T)) return NAN;
    const tf_config *c = &m->c;
    if (layer < 0 || layer >= c->n_layers) {
        ms_seterr("layer %d outside the model's 0..%d (resid grad)", layer, c->n_layers - 1);
        return NAN;
    }
    if (!tf_same_shape(&g->c, &m->c) || g->c.tied != m->c.tied) {
        ms_seterr("gradient model's shape differs from the model's (resid grad)");
        return NAN;
    }
    int N = B * T, d = c->d_model, nt = threads_begin();
    forward(m, ws, B, T, 0.0f); /* logits kept */
    if (sample) sample_targets(ws, N, c->vocab, sample);
    double sum = tr_xent(ws->logits, ws->tgt, N, c->vocab, 1.0f); /* d(sum)/dlogits */
    backward_to(m, g, ws, B, T, layer);
    memcpy(grad, ws->dres, (size_t)N * d * sizeof(float));
    threads_end(nt);
    return sum;
}

double tf_train_nll_sum(const tf_model *m, tf_train_ws *ws, const int *tokens, int B, int T) {
    if (prepare(m, ws, tokens, B, T)) return NAN;
    int nt = threads_begin();
    double sum = forward(m, ws, B, T, 0.0f);
    threads_end(nt);
    return sum;
}

float tf_train_loss(const tf_model *m, tf_train_ws *ws, const int *tokens, int B, int T) {
    return (float)(tf_train_nll_sum(m, ws, tokens, B, T) / ((double)B * T));
}

/* ---------------------------------------------------------------- benchmark */

double tf_sgemm_peak_gflops(int n, int reps) {
    float *A = xmalloc(xmul((size_t)n * n, sizeof(float))), *Bm = xmalloc(xmul((size_t)n * n, sizeof(float)));
    float *C = xmalloc(xmul((size_t)n * n, sizeof(float)));
    for (size_t i = 0; i < (size_t)n * n; i++) A[i] = (float)(i % 7) * 0.1f, Bm[i] = (float)(i % 5) * 0.1f;
    gemm_nt(n, n, n, 1.0f, A, n, Bm, n, 0.0f, C, n); /* warm-up */
    double best = INFINITY;
    for (int r = 0; r < reps; r++) {
        double t0 = ms_now();
        gemm_nt(n, n, n, 1.0f, A, n, Bm, n, 0.0f, C, n);
        double t = ms_now() - t0;
        best = t < best ? t : best;
    }
    free(A), free(Bm), free(C);
    return 2.0 * n * (double)n * n / best / 1e9;
}

int tf_train_bench(const tf_config *c, int B, int T, int reps, tf_train_bench_result *r) {
    memset(r, 0, sizeof *r);
    tf_train_ws *ws = tf_train_ws_new(c, B, T);
    if (!ws) return -1;
    size_t n = tf_flat_size(c);
    float *w = xmalloc(n * sizeof(float)), *gw = xcalloc(n, sizeof(float));
    rng_t rng;
    rng_seed(&rng, 1);
    for (size_t i = 0; i < n; i++) w[i] = 0.02f * rng_normal(&rng);
    tf_model m, g;
    tf_bind_flat(&m, c, w);
    tf_bind_flat(&g, c, gw);
    tf_segment *seg = xmalloc(sizeof(tf_segment) * (size_t)(6 * c->n_layers + 3));
    int ns = tf_flat_segments(c, seg, 6 * c->n_layers + 3);
    for (int s = 0; s < ns; s++) /* norm weights start at one */
        if (!seg[s].decay)
            for (size_t i = 0; i < seg[s].size; i++) w[seg[s].offset + i] = 1.0f;
    free(seg);
    int *tok = xmalloc(sizeof(int) * (size_t)B * (T + 1));
    for (size_t i = 0; i < (size_t)B * (T + 1); i++) tok[i] = (int)rng_below(&rng, (uint64_t)c->vocab);
    int rc = 0;
    double best = INFINITY;
    tr_gemm_stats st = {0};
    for (int i = 0; i <= reps && !rc; i++) {
        tr_gemm_stats_reset();
        double t0 = ms_now();
        float loss = tf_train_fwd_bwd(&m, &g, ws, tok, B, T, 1.0f);
        double t = ms_now() - t0;
        if (isnan(loss)) rc = -1;
        if (i > 0 && t < best) best = t, st = tr_gemm_stats_get();
    }
    if (!rc) { /* one optimizer step, as the trainer runs it */
        adamw_state opt;
        adamw_init(&opt, n);
        adamw_cfg oc = {0.9f, 0.95f, 1e-8f, 0.1f};
        adamw_range all = {0, n, true};
        double t0 = ms_now();
        clip_grad_norm(gw, n, 1.0);
        adamw_step(&opt, w, gw, &oc, 1e-3f, &all, 1);
        r->opt_s = ms_now() - t0;
        adamw_free(&opt);
        r->ws_bytes = tf_train_ws_bytes(ws);
        r->step_s = best;
        r->tok_s = (double)B * T / best;
        r->step_gflop = (st.dense_flops + st.attn_flops) / 1e9;
        r->gemm_gflops = r->step_gflop / (st.dense_seconds + st.attn_seconds);
        r->dense_gflops = st.dense_flops / 1e9 / st.dense_seconds;
        r->attn_gflops = st.attn_flops / 1e9 / st.attn_seconds;
        r->gemm_share = (st.dense_seconds + st.attn_seconds) / best;
        r->peak_gflops = tf_sgemm_peak_gflops(1024, 5);
    }
    tf_free(&m);
    tf_free(&g);
    free(w), free(gw), free(tok);
    tf_train_ws_free(ws);
    return rc;
}
