/* test_train_grad.c — central finite differences against every backward
 * kernel of the training pass (train_ops.h), one at a time, then against the
 * whole model (tied and untied) on a tiny config. Each kernel is checked
 * through the scalar L = sum(out * R) for a fixed random R (evaluated in
 * double), so the kernel's backward gets dout = R. Error per entry:
 * |analytic - fd| / (|fd| + floor); the worst one is printed per check. */
#include "testutil.h"
#include "gradcheck.h"

#include "ops.h"
#include "rng.h"
#include "train_ops.h"
#include "transformer_train.h"
#include "util.h"

#define RTOL 1e-2

/* ---------------------------------------------------------------- embedding */

typedef struct {
    int N, d, V;
    int *ids;
    float *E, *x, *R;
} emb_ctx;

static double emb_loss(void *arg) {
    emb_ctx *c = arg;
    tr_embed_fwd(c->x, c->E, c->ids, c->N, c->d);
    return dot_d(c->x, c->R, (size_t)c->N * c->d);
}

static void test_embedding(void **st) {
    (void)st;
    rng_t r;
    rng_seed(&r, 11);
    emb_ctx c = {.N = 9, .d = 5, .V = 7};
    int ids[9] = {3, 1, 3, 0, 6, 3, 1, 2, 2}; /* repeats: the backward must add */
    c.ids = ids;
    c.E = vec(35), c.x = vec(45), c.R = vec(45);
    fill(c.E, 35, 1, &r), fill(c.R, 45, 1, &r);
    float *dE = vec(35);
    for (int i = 0; i < 35; i++) dE[i] = 0.5f; /* accumulates onto what is there */
    tr_embed_bwd(dE, c.R, ids, c.N, c.d);
    for (int i = 0; i < 35; i++) dE[i] -= 0.5f;
    assert_true(fd_check("embedding dE", c.E, dE, 35, 0, 1e-2f, 1e-3, emb_loss, &c, &r) < RTOL);
    free(c.E), free(c.x), free(c.R), free(dE);
}

/* ---------------------------------------------------------------- RMSNorm */

typedef struct {
    int N, d;
    float *x, *w, *y, *rstd, *R;
} rms_ctx;

static double rms_loss(void *arg) {
    rms_ctx *c = arg;
    tr_rms_fwd(c->y, c->rstd, c->x, c->w, c->N, c->d, 1e-5f);
    return dot_d(c->y, c->R, (size_t)c->N * c->d);
}

static void test_rmsnorm(void **st) {
    (void)st;
    rng_t r;
    rng_seed(&r, 12);
    int N = 6, d = 10;
    size_t n = (size_t)N * d;
    rms_ctx c = {N, d, vec(n), vec(d), vec(n), vec(N), vec(n)};
    fill(c.x, n, 1, &r), fill(c.R, n, 1, &r);
    for (int i = 0; i < d; i++) c.w[i] = 1 + 0.3f * rng_normal(&r);
    rms_loss(&c);
    /* matches the inference kernel, and apply() reproduces the forward */
    float *y2 = vec(n);
    rmsnorm(y2, c.x, c.w, N, d, 1e-5f);
    assert_true(max_rel_err(c.y, y2, n, 1e-6) < 1e-6);
    tr_rms_apply(y2, c.x, c.rstd, c.w, N, d);
    assert_true(max_rel_err(y2, c.y, n, 1e-6) == 0);
    float *dx = vec(n), *dw = vec(d);
    double acc[TR_MAX_THREADS * 10];
    for (size_t i = 0; i < n; i++) dx[i] = 1.0f;
    tr_rms_bwd(dx, dw, acc, c.R, c.x, c.rstd, c.w, N, d);
    for (size_t i = 0; i < n; i++) dx[i] -= 1.0f;
    assert_true(fd_check("rmsnorm dx", c.x, dx, n, 0, 1e-2f, 1e-3, rms_loss, &c, &r) < RTOL);
    assert_true(fd_check("rmsnorm dw", c.w, dw, d, 0, 1e-2f, 1e-3, rms_loss, &c, &r) < RTOL);
    free(c.x), free(c.w), free(c.y), free(c.rstd), free(c.R), free(y2), free(dx), free(dw);
}

/* ---------------------------------------------------------------- linear */

typedef struct {
    int N, in, out;
    float *x, *W, *y, *R;
} lin_ctx;

static double lin_loss(void *arg) {
    lin_ctx *c = arg;
    tr_linear_fwd(c->y, c->x, c->W, c->N, c->in, c->out);
    return dot_d(c->y, c->R, (size_t)c->N * c->out);
}

static void test_linear(void **st) {
    (void)st;
    rng_t r;
    rng_seed(&r, 13);
    int N = 7, in = 9, out = 5;
    lin_ctx c = {N, in, out, vec((size_t)N * in), vec((size_t)out * in), vec((size_t)N * out), vec((size_t)N * out)};
    fill(c.x, (size_t)N * in, 1, &r), fill(c.W, (size_t)out * in, 1, &r), fill(c.R, (size_t)N * out, 1, &r);
    lin_loss(&c);
    float *y2 = vec((size_t)N * out);
    linear(y2, c.x, c.W, NULL, N, in, out);
    assert_true(max_rel_err(c.y, y2, (size_t)N * out, 1e-6) < 1e-6);
    float *dx = vec((size_t)N * in), *dW = vec((size_t)out * in);
    for (int i = 0; i < out * in; i++) dW[i] = 2.0f;
    tr_linear_bwd(dx, dW, c.R, c.x, c.W, N, in, out);
    for (int i = 0; i < out * in; i++) dW[i] -= 2.0f;
    assert_true(fd_check("linear dx", c.x, dx, (size_t)N * in, 0, 1e-2f, 1e-3, lin_loss, &c, &r) < RTOL);
    assert_true(fd_check("linear dW", c.W, dW, (size_t)out * in, 0, 1e-2f, 1e-3, lin_loss, &c, &r) < RTOL);
    free(c.x), free(c.W), free(c.y), free(c.R), free(y2), free(dx), free(dW);
}

/* ---------------------------------------------------------------- RoPE */

typedef struct {
    int N, T, ld, nh, hd;
    float *x, *y, *R, *cs, *sn;
} rope_ctx;

static double rope_loss(void *arg) {
    rope_ctx *c = arg;
    size_t n = (size_t)c->N * c->ld;
    memcpy(c->y, c->x, n * sizeof(float));
    tr_rope_fwd(c->y, c->ld, c->nh, c->hd, c->cs, c->sn, c->N, c->T);
    return dot_d(c->y, c->R, n);
}

static void test_rope(void **st) {
    (void)st;
    rng_t r;
    rng_seed(&r, 14);
    /* two sequences of 5; 3 rotated heads of 8 in rows of 30 (6 trailing
     * columns, like v, stay untouched) */
    int T = 5, N = 10, nh = 3, hd = 8, ld = 30;
    size_t n = (size_t)N * ld;
    float inv[4];
    for (int i = 0; i < 4; i++) inv[i] = (float)(1.0 / pow(10000.0, 2.0 * i / hd)) * 7.0f;
    rope_ctx c = {N, T, ld, nh, hd, vec(n), vec(n), vec(n), vec((size_t)T * 4), vec((size_t)T * 4)};
    tr_rope_tables(c.cs, c.sn, inv, T, hd);
    fill(c.x, n, 1, &r), fill(c.R, n, 1, &r);
    /* the rotation of position t is the one tf_forward applies */
    rope_loss(&c);
    int t = 3, h = 1, i = 2;
    float a = c.x[(size_t)(5 + t) * ld + h * hd + i], b = c.x[(size_t)(5 + t) * ld + h * hd + i + 4];
    double ang = t * (double)inv[i];
    assert_true(fabs(c.y[(size_t)(5 + t) * ld + h * hd + i] - (a * cos(ang) - b * sin(ang))) < 1e-5);
    assert_true(c.y[(size_t)7 * ld + 27] == c.x[(size_t)7 * ld + 27]);
    float *dx = vec(n);
    memcpy(dx, c.R, n * sizeof(float));
    tr_rope_bwd(dx, ld, nh, hd, c.cs, c.sn, N, T);
    assert_true(fd_check("rope dx", c.x, dx, n, 0, 1e-2f, 1e-3, rope_loss, &c, &r) < RTOL);
    free(c.x), free(c.y), free(c.R), free(c.cs), free(c.sn), free(dx);
}

/* ---------------------------------------------------------------- attention */

typedef struct {
    tr_attn_dims a;
    float *qkv, *out, *P, *R;
} att_ctx;

static size_t att_rows(tr_attn_dims a) { return (size_t)a.B * a.T; }
static int att_ld(tr_attn_dims a) { return (a.H + 2 * a.KV) * a.hd; }

static double att_loss(void *arg) {
    att_ctx *c = arg;
    tr_attn_fwd(c->out, c->P, c->qkv, c->a);
    return dot_d(c->out, c->R, att_rows(c->a) * c->a.H * c->a.hd);
}

/* Naive double reference: softmax(q k^T / sqrt(hd)) v per head with the
 * causal mask; returns sum(out * R) and writes out (as float) when asked. */
static double att_naive(float *out, const float *qkv, const float *R, tr_attn_dims a) {
    int ld = att_ld(a), q = a.H * a.hd;
    double *s = malloc(sizeof(double) * (size_t)a.T), L = 0;
    for (int b = 0; b < a.B; b++)
        for (int h = 0; h < a.H; h++) {
            int g = h / (a.H / a.KV);
            for (int i = 0; i < a.T; i++) {
                const float *qi = qkv + (size_t)(b * a.T + i) * ld + h * a.hd;
                double mx = -1e300, z = 0;
                for (int j = 0; j <= i; j++) {
                    const float *kj = qkv + (size_t)(b * a.T + j) * ld + q + g * a.hd;
                    double d = 0;
                    for (int e = 0; e < a.hd; e++) d += (double)qi[e] * kj[e];
                    s[j] = d / sqrt(a.hd);
                    mx = s[j] > mx ? s[j] : mx;
                }
                for (int j = 0; j <= i; j++) z += s[j] = exp(s[j] - mx);
                for (int e = 0; e < a.hd; e++) {
                    double o = 0;
                    for (int j = 0; j <= i; j++) o += s[j] / z * qkv[(size_t)(b * a.T + j) * ld + q + (a.KV + g) * a.hd + e];
                    size_t k = (size_t)(b * a.T + i) * q + h * a.hd + e;
                    if (out) out[k] = (float)o;
                    L += o * R[k];
                }
            }
        }
    free(s);
    return L;
}

static double att_naive_loss(void *arg) {
    att_ctx *c = arg;
    return att_naive(NULL, c->qkv, c->R, c->a);
}

/* exact: finite differences through the double reference (long sequences,
 * where f32 forward noise would swamp small gradients), else through the
 * kernel's own forward. */
static void check_attention(tr_attn_dims a, int samples, bool exact, const char *label) {
    rng_t r;
    rng_seed(&r, 15 + (uint64_t)a.T);
    size_t N = att_rows(a), nqkv = N * att_ld(a), nout = N * a.H * a.hd;
    att_ctx c = {a, vec(nqkv), vec(nout), vec((size_t)a.B * a.H * a.T * a.T), vec(nout)};
    fill(c.qkv, nqkv, 1, &r), fill(c.R, nout, 1, &r);
    att_loss(&c);
    float *ref = vec(nout);
    att_naive(ref, c.qkv, c.R, a);
    double e = max_rel_err(c.out, ref, nout, 1e-3);
    printf("# %s forward vs naive: %.2e\n", label, e);
    assert_true(e < 1e-4);
    /* probabilities: rows sum to one, nothing above the diagonal */
    for (size_t row = 0; row < (size_t)a.B * a.H * a.T; row++) {
        int i = (int)(row % a.T);
        double s = 0;
        for (int j = 0; j < a.T; j++) {
            float p = c.P[row * a.T + j];
            if (j > i) assert_true(p == 0.0f);
            s += p;
        }
        assert_true(fabs(s - 1) < 1e-5);
    }
    /* causality: changing key/value at position t leaves earlier outputs alone */
    int t = a.T / 2, ld = att_ld(a);
    for (int col = a.H * a.hd; col < ld; col++) c.qkv[(size_t)t * ld + col] += 1.0f;
    float *out2 = vec(nout);
    tr_attn_fwd(out2, c.P, c.qkv, a);
    assert_memory_equal(out2, c.out, sizeof(float) * (size_t)t * a.H * a.hd);
    assert_memory_not_equal(out2, c.out, sizeof(float) * (size_t)(t + 1) * a.H * a.hd);
    for (int col = a.H * a.hd; col < ld; col++) c.qkv[(size_t)t * ld + col] -= 1.0f;
    att_loss(&c);
    float *dqkv = vec(nqkv), *scratch = vec((size_t)TR_MAX_THREADS * a.T * a.T);
    for (size_t i = 0; i < nqkv; i++) dqkv[i] = NAN; /* must be overwritten everywhere */
    tr_attn_bwd(dqkv, scratch, c.R, c.P, c.qkv, a);
    char name[64];
    snprintf(name, sizeof name, "attention %s dqkv", label);
    double err = exact ? fd_check(name, c.qkv, dqkv, nqkv, samples, 1e-3f, 1e-4, att_naive_loss, &c, &r)
                       : fd_check(name, c.qkv, dqkv, nqkv, samples, 1e-2f, 1e-3, att_loss, &c, &r);
    assert_true(err < (exact ? 1e-3 : RTOL));
    free(c.qkv), free(c.out), free(c.P), free(c.R), free(ref), free(out2), free(dqkv), free(scratch);
}

static void test_attention_gqa(void **st) {
    (void)st;
    check_attention((tr_attn_dims){2, 6, 4, 2, 4}, 0, false, "GQA B2 T6 H4 KV2");
    check_attention((tr_attn_dims){1, 5, 3, 1, 6}, 0, false, "MQA B1 T5 H3 KV1");
    check_attention((tr_attn_dims){2, 6, 4, 2, 4}, 0, true, "GQA B2 T6 H4 KV2 (exact)");
}

static void test_attention_mha_blocks(void **st) {
    (void)st;
    /* T > the kernel's 64-row blocks: the block-causal products must agree */
    check_attention((tr_attn_dims){2, 150, 2, 2, 8}, 400, true, "MHA B2 T150 H2");
    check_attention((tr_attn_dims){1, 70, 4, 2, 8}, 400, true, "GQA B1 T70 H4 KV2");
}

static void test_attention_threads(void **st) {
    (void)st;
    /* single- and multi-threaded runs give the same numbers */
    tr_attn_dims a = {3, 40, 4, 2, 8};
    rng_t r;
    rng_seed(&r, 99);
    size_t N = att_rows(a), nqkv = N * att_ld(a), nout = N * a.H * a.hd, nP = (size_t)a.B * a.H * a.T * a.T;
    float *qkv = vec(nqkv), *o1 = vec(nout), *o2 = vec(nout), *P = vec(nP), *d1 = vec(nqkv), *d2 = vec(nqkv);
    float *R = vec(nout), *scratch = vec((size_t)TR_MAX_THREADS * a.T * a.T);
    fill(qkv, nqkv, 1, &r), fill(R, nout, 1, &r);
    int saved = ms_get_threads();
    ms_set_threads(1);
    tr_attn_fwd(o1, P, qkv, a);
    tr_attn_bwd(d1, scratch, R, P, qkv, a);
    ms_set_threads(2);
    tr_attn_fwd(o2, P, qkv, a);
    tr_attn_bwd(d2, scratch, R, P, qkv, a);
    ms_set_threads(saved);
    assert_memory_equal(o1, o2, nout * sizeof(float));
    assert_memory_equal(d1, d2, nqkv * sizeof(float));
    free(qkv), free(o1), free(o2), free(P), free(d1), free(d2), free(R), free(scratch);
}

/* Row-split products equal one sgemm call, for every transpose and for row
 * counts that do not divide evenly. */
static void test_gemm_par(void **st) {
    (void)st;
    rng_t r;
    rng_seed(&r, 98);
    int saved = ms_get_threads();
    float *first[4] = {0}; /* nt 1's products: the ranges do not depend on the thread count, nor do the bits */
    for (int nt = 1; nt <= 3; nt++) {
        tr_set_threads(nt);
        rng_seed(&r, 98);
        for (int t = 0; t < 4; t++) {
            bool ta = t & 1, tb = t & 2;
            int M = 53 + 16 * t, N = 19, K = 37;
            float *A = vec((size_t)M * K), *B = vec((size_t)N * K), *C1 = vec((size_t)M * N), *C2 = vec((size_t)M * N);
            fill(A, (size_t)M * K, 1, &r), fill(B, (size_t)N * K, 1, &r), fill(C1, (size_t)M * N, 1, &r);
            memcpy(C2, C1, sizeof(float) * (size_t)M * N);
            int lda = ta ? M : K, ldb = tb ? K : N;
            tr_gemm(ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 1.0f, C1, N);
            tr_gemm_par(ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 1.0f, C2, N);
            double e = max_rel_err(C2, C1, (size_t)M * N, 1.0); /* values are O(1) */
            if (e >= 1e-5) printf("# gemm_par nt %d ta %d tb %d: %.3g\n", nt, ta, tb, e);
            assert_true(e < 1e-5); /* ulps: the kernels round differently at row offsets */
            if (nt == 1) first[t] = C2, C2 = NULL;
            else assert_memory_equal(C2, first[t], sizeof(float) * (size_t)M * N);
            free(A), free(B), free(C1), free(C2);
        }
    }
    for (int t = 0; t < 4; t++) free(first[t]);
    tr_set_threads(0);
    assert_int_equal(ms_get_threads(), saved);
}

/* ---------------------------------------------------------------- SwiGLU */

typedef struct {
    int N, ff;
    float *h, *out, *R;
} swi_ctx;

static double swi_loss(void *arg) {
    swi_ctx *c = arg;
    tr_swiglu_fwd(c->out, c->h, c->N, c->ff);
    return dot_d(c->out, c->R, (size_t)c->N * c->ff);
}

static void test_swiglu(void **st) {
    (void)st;
    rng_t r;
    rng_seed(&r, 16);
    int N = 5, ff = 12;
    swi_ctx c = {N, ff, vec((size_t)N * 2 * ff), vec((size_t)N * ff), vec((size_t)N * ff)};
    fill(c.h, (size_t)N * 2 * ff, 2, &r), fill(c.R, (size_t)N * ff, 1, &r);
    float *dh = vec((size_t)N * 2 * ff);
    tr_swiglu_bwd(dh, c.R, c.h, N, ff);
    assert_true(fd_check("swiglu dh", c.h, dh, (size_t)N * 2 * ff, 0, 1e-2f, 1e-3, swi_loss, &c, &r) < RTOL);
    free(c.h), free(c.out), free(c.R), free(dh);
}

/* ---------------------------------------------------------------- cross-entropy */

typedef struct {
    int N, V;
    float *logits;
    int *tgt;
} xe_ctx;

static double xe_loss(void *arg) {
    xe_ctx *c = arg;
    return tr_xent(c->logits, c->tgt, c->N, c->V, 0.0f);
}

static void test_xent(void **st) {
    (void)st;
    rng_t r;
    rng_seed(&r, 17);
    int N = 6, V = 11, tgt[6] = {0, 10, 3, 3, 7, 1};
    size_t n = (size_t)N * V;
    xe_ctx c = {N, V, vec(n), tgt};
    fill(c.logits, n, 2, &r);
    c.logits[5 * V + 4] = 80.0f; /* a dominant logit must not overflow */
    double loss = xe_loss(&c), ref = 0;
    for (int i = 0; i < N; i++) ref -= log_softmax_at(c.logits + (size_t)i * V, V, tgt[i]);
    assert_true(fabs(loss - ref) < 1e-5 * fabs(ref));
    float *g = vec(n);
    memcpy(g, c.logits, n * sizeof(float));
    double loss2 = tr_xent(g, tgt, N, V, 1.0f);
    assert_true(fabs(loss2 - loss) < 1e-9 * fabs(loss));
    assert_true(fd_check("cross-entropy dlogits", c.logits, g, n, 0, 1e-2f, 1e-3, xe_loss, &c, &r) < RTOL);
    free(c.logits), free(g);
}

/* ---------------------------------------------------------------- whole model */

/* Independent double-precision Llama forward (written from the definition,
 * sharing no code with the engine): summed NLL of B rows of T+1 tokens.
 * Finite differences of this exact-to-1e-15 loss isolate the engine's f32
 * gradients from f32 forward noise. */
static void ref_rms(double *y, const double *x, const float *w, int d, double eps) {
    double ss = 0;
    for (int i = 0; i < d; i++) ss += x[i] * x[i];
    double r = 1 / sqrt(ss / d + eps);
    for (int i = 0; i < d; i++) y[i] = x[i] * r * w[i];
}

static void ref_matvec(double *y, const float *W, const double *x, int out, int in) {
    for (int o = 0; o < out; o++) {
        double s = 0;
        for (int i = 0; i < in; i++) s += (double)W[(size_t)o * in + i] * x[i];
        y[o] = s;
    }
}

static double ref_nll(const tf_model *m, const int *tok, int B, int T) {
    const tf_config *c = &m->c;
    int d = c->d_model, H = c->n_heads, KV = c->n_kv_heads, hd = c->head_dim, ff = c->d_ff, V = c->vocab;
    int q = H * hd, ld = q + 2 * KV * hd, half = hd / 2;
    double *x = calloc((size_t)T * d, 8), *xn = calloc((size_t)d, 8), *qkv = calloc((size_t)T * ld, 8);
    double *att = calloc((size_t)q, 8), *tmp = calloc((size_t)(d > 2 * ff ? d : 2 * ff), 8);
    double *act = calloc((size_t)ff, 8), *lg = calloc((size_t)V, 8), *s = calloc((size_t)T, 8);
    double total = 0;
    for (int b = 0; b < B; b++) {
        const int *tk = tok + (size_t)b * (T + 1);
        for (int t = 0; t < T; t++)
            for (int i = 0; i < d; i++) x[t * d + i] = m->embed[(size_t)tk[t] * d + i];
        for (int l = 0; l < c->n_layers; l++) {
            const tf_layer *ly = &m->layers[l];
            for (int t = 0; t < T; t++) {
                ref_rms(xn, x + t * d, ly->norm1_w, d, c->norm_eps);
                ref_matvec(qkv + t * ld, ly->wqkv, xn, ld, d);
                for (int h = 0; h < H + KV; h++) /* q and k heads: rotate_half RoPE */
                    for (int i = 0; i < half; i++) {
                        double *v = qkv + t * ld + h * hd, a = v[i], bb = v[i + half];
                        double ang = t * (double)m->inv_freq[i];
                        v[i] = a * cos(ang) - bb * sin(ang);
                        v[i + half] = bb * cos(ang) + a * sin(ang);
                    }
            }
            for (int t = 0; t < T; t++) {
                for (int h = 0; h < H; h++) {
                    int g = h / (H / KV);
                    double mx = -1e300, z = 0;
                    for (int j = 0; j <= t; j++) {
                        double dd = 0;
                        for (int e = 0; e < hd; e++) dd += qkv[t * ld + h * hd + e] * qkv[j * ld + q + g * hd + e];
                        s[j] = dd / sqrt(hd);
                        mx = s[j] > mx ? s[j] : mx;
                    }
                    for (int j = 0; j <= t; j++) z += s[j] = exp(s[j] - mx);
                    for (int e = 0; e < hd; e++) {
                        double o = 0;
                        for (int j = 0; j <= t; j++) o += s[j] / z * qkv[j * ld + q + (KV + g) * hd + e];
                        att[h * hd + e] = o;
                    }
                }
                ref_matvec(tmp, ly->wo, att, d, q);
                for (int i = 0; i < d; i++) x[t * d + i] += tmp[i];
            }
            for (int t = 0; t < T; t++) {
                ref_rms(xn, x + t * d, ly->norm2_w, d, c->norm_eps);
                ref_matvec(tmp, ly->w_in, xn, 2 * ff, d);
                for (int i = 0; i < ff; i++) act[i] = tmp[i] / (1 + exp(-tmp[i])) * tmp[ff + i];
                ref_matvec(tmp, ly->w_down, act, d, ff);
                for (int i = 0; i < d; i++) x[t * d + i] += tmp[i];
            }
        }
        for (int t = 0; t < T; t++) {
            ref_rms(xn, x + t * d, m->norm_w, d, c->norm_eps);
            ref_matvec(lg, m->lm_head, xn, V, d);
            double mx = -1e300, z = 0;
            for (int v = 0; v < V; v++) mx = lg[v] > mx ? lg[v] : mx;
            for (int v = 0; v < V; v++) z += exp(lg[v] - mx);
            total += mx + log(z) - lg[tk[t + 1]];
        }
    }
    free(x), free(xn), free(qkv), free(att), free(tmp), free(act), free(lg), free(s);
    return total;
}

typedef struct {
    tf_model *m;
    const int *tok;
    int B, T;
} model_ctx;

static double model_loss(void *arg) {
    model_ctx *c = arg;
    return ref_nll(c->m, c->tok, c->B, c->T) / (c->B * c->T);
}

static void check_model(bool tied, int kv) {
    tf_config c = {0};
    c.arch = ARCH_LLAMA;
    c.d_model = 16, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = kv, c.head_dim = 8, c.d_ff = 24;
    c.vocab = 29, c.max_seq = 32, c.norm_eps = 1e-5f, c.rope_theta = 10000, c.tied = tied;
    c.bos_id = c.eos_id = -1;
    int B = 2, T = 7;
    rng_t r;
    rng_seed(&r, tied ? 21 : 22);
    size_t n = tf_flat_size(&c);
    float *w = vec(n), *gw = vec(n);
    tf_segment seg[32];
    int ns = tf_flat_segments(&c, seg, 32);
    assert_true(ns <= 32);
    for (int s = 0; s < ns; s++)
        for (size_t i = 0; i < seg[s].size; i++)
            w[seg[s].offset + i] = seg[s].decay ? 0.4f * rng_normal(&r) : 1.0f + 0.2f * rng_normal(&r);
    tf_model m, g;
    tf_bind_flat(&m, &c, w);
    tf_bind_flat(&g, &c, gw);
    int tok[2 * 8];
    for (int i = 0; i < B * (T + 1); i++) tok[i] = (int)rng_below(&r, (uint64_t)c.vocab);
    tf_train_ws *ws = tf_train_ws_new(&c, B, T);
    assert_non_null(ws);
    float loss = tf_train_fwd_bwd(&m, &g, ws, tok, B, T, 1.0f);
    assert_true(fabs(loss - tf_train_loss(&m, ws, tok, B, T)) < 1e-6);
    double ref = ref_nll(&m, tok, B, T) / (B * T);
    printf("# %s loss %.9f, double reference %.9f\n", tied ? "tied" : "untied", loss, ref);
    assert_true(fabs(loss - ref) < 1e-5 * ref);
    model_ctx mc = {&m, tok, B, T};
    double worst = 0;
    for (int s = 0; s < ns; s++) {
        float gmax = 0;
        for (size_t i = 0; i < seg[s].size; i++) gmax = fmaxf(gmax, fabsf(gw[seg[s].offset + i]));
        char name[96];
        snprintf(name, sizeof name, "%s %.60s", tied ? "tied" : "untied", seg[s].name);
        double e = fd_check(name, w + seg[s].offset, gw + seg[s].offset, seg[s].size, 24, 1e-3f,
                            1e-3 * gmax + 1e-7, model_loss, &mc, &r);
        worst = e > worst ? e : worst;
    }
    assert_true(worst < 1e-3);
    tf_train_ws_free(ws);
    tf_free(&m), tf_free(&g);
    free(w), free(gw);
}

static void test_model_untied_gqa(void **st) {
    (void)st;
    check_model(false, 2);
}

static void test_model_tied_mha(void **st) {
    (void)st;
    check_model(true, 4);
}

static void test_errors(void **st) {
    (void)st;
    tf_config c = {0};
    c.arch = ARCH_LLAMA, c.d_model = 8, c.n_layers = 1, c.n_heads = 2, c.n_kv_heads = 1, c.head_dim = 4;
    c.d_ff = 8, c.vocab = 5, c.max_seq = 8, c.norm_eps = 1e-5f, c.rope_theta = 10000, c.tied = true;
    size_t n = tf_flat_size(&c);
    float *w = vec(n), *gw = vec(n);
    tf_model m, g;
    tf_bind_flat(&m, &c, w);
    tf_bind_flat(&g, &c, gw);
    tf_train_ws *ws = tf_train_ws_new(&c, 2, 4);
    int tok[10] = {0, 1, 2, 3, 4, 0, 1, 2, 3, 5};
    assert_true(isnan(tf_train_fwd_bwd(&m, &g, ws, tok, 2, 4, 1.0f)));
    assert_non_null(strstr(ms_geterr(), "token id 5"));
    assert_false(isnan(tf_train_fwd_bwd(&m, &g, ws, tok, 1, 4, 1.0f)));
    assert_true(isnan(tf_train_loss(&m, ws, tok, 1, 5)));
    assert_non_null(strstr(ms_geterr(), "outside the workspace"));
    m.c.arch = ARCH_GPT2;
    assert_true(isnan(tf_train_loss(&m, ws, tok, 1, 4)));
    assert_non_null(strstr(ms_geterr(), "Llama"));
    m.c.arch = ARCH_LLAMA;
    /* all-zero weights: uniform prediction, loss log V */
    assert_true(fabs(tf_train_loss(&m, ws, tok, 1, 4) - log(5.0)) < 1e-5);
    assert_null(tf_train_ws_new(&c, 0, 4));
    tf_train_ws_free(ws);
    tf_free(&m), tf_free(&g);
    free(w), free(gw);
}

/* ---------------------------------------------------------------- residual gradient */

/* A tiny random Llama model bound to the returned buffer (the caller frees it). */
static float *tiny_model(tf_model *m, tf_config *c, int layers, uint64_t seed) {
    *c = (tf_config){0};
    c->arch = ARCH_LLAMA;
    c->d_model = 16, c->n_layers = layers, c->n_heads = 4, c->n_kv_heads = 2, c->head_dim = 8, c->d_ff = 24;
    c->vocab = 29, c->max_seq = 32, c->norm_eps = 1e-5f, c->rope_theta = 10000, c->tied = true;
    c->bos_id = c->eos_id = -1;
    rng_t r;
    rng_seed(&r, seed);
    float *w = vec(tf_flat_size(c));
    tf_segment seg[32];
    int ns = tf_flat_segments(c, seg, 32);
    for (int s = 0; s < ns; s++)
        for (size_t i = 0; i < seg[s].size; i++)
            w[seg[s].offset + i] = seg[s].decay ? 0.4f * rng_normal(&r) : 1.0f + 0.2f * rng_normal(&r);
    tf_bind_flat(m, c, w);
    return w;
}

/* The inference path with one residual entry moved: h[t, i] += delta after block `layer`. */
typedef struct {
    int t, i;
    float delta;
} poke_ctx;

static void poke_hook(void *ctx, int layer, int pos0, int n, float *x, int dim) {
    poke_ctx *p = ctx;
    if (p->t >= pos0 && p->t < pos0 + n) x[(size_t)(p->t - pos0) * dim + p->i] += p->delta;
}

static double poked_nll(const tf_model *m, tf_state *s, const int *tok, int n, poke_ctx *p) {
    float nll[16];
    assert_int_equal(tf_nll(m, s, tok, n, nll), 0);
    double sum = 0;
    for (int t = 0; t < n - 1; t++) sum += nll[t];
    return sum;
}

/* d(summed NLL)/dh after a middle block, against central differences of the
 * inference forward (a separate code path) with that entry moved. */
static void test_resid_grad(void **st) {
    (void)st;
    tf_config c;
    tf_model m, g;
    float *w = tiny_model(&m, &c, 3, 31), *gw = vec(tf_flat_size(&c));
    tf_bind_flat(&g, &c, gw);
    int T = 7, tok[8] = {3, 17, 5, 5, 28, 0, 11, 9}, d = c.d_model;
    tf_train_ws *ws = tf_train_ws_new(&c, 1, T);
    float *grad = vec((size_t)T * d);
    double sum = tf_train_resid_grad(&m, &g, ws, tok, 1, T, 1, NULL, grad);
    assert_true(fabs(sum - tf_train_nll_sum(&m, ws, tok, 1, T)) < 1e-4);
    tf_state s;
    assert_int_equal(tf_state_init(&s, &m, T + 1), 0);
    poke_ctx p = {0};
    tf_add_hook(&s, (tf_hook){HOOK_RESID, 1, poke_hook, &p});
    double worst = 0, gmax = 0;
    for (int k = 0; k < T * d; k++) gmax = fmax(gmax, fabs(grad[k]));
    for (int t = 0; t < T; t++)
        for (int i = 0; i < d; i += 3) {
            float eps = 1e-2f;
            p = (poke_ctx){t, i, eps};
            double hi = poked_nll(&m, &s, tok, T + 1, &p);
            p.delta = -eps;
            double lo = poked_nll(&m, &s, tok, T + 1, &p), fd = (hi - lo) / (2 * eps);
            worst = fmax(worst, fabs(fd - grad[t * d + i]) / (fabs(fd) + 1e-2 * gmax));
        }
    printf("# resid grad after block 1: worst rel error %.2e (max |g| %.3f)\n", worst, gmax);
    assert_true(worst < RTOL);
    assert_true(isnan(tf_train_resid_grad(&m, &g, ws, tok, 1, T, 3, NULL, grad)));
    assert_non_null(strstr(ms_geterr(), "layer 3"));
    tf_state_free(&s);
    tf_train_ws_free(ws);
    tf_free(&m), tf_free(&g);
    free(w), free(gw), free(grad);
}

/* With targets drawn from the model, E[g g^T] at the last block is the
 * Fisher metric J^T (diag p - p p^T) J of that position's prediction (J the
 * Jacobian of its logits, here by central differences of the inference
 * forward): the Monte Carlo mean over many draws must approach it. */
static void test_resid_grad_sampled(void **st) {
    (void)st;
    tf_config c;
    tf_model m, g;
    float *w = tiny_model(&m, &c, 2, 32);
    float *gw = vec(tf_flat_size(&c));
    tf_bind_flat(&g, &c, gw);
    int T = 3, tok[4] = {4, 20, 7, 1}, d = c.d_model, V = c.vocab, t = 2;
    tf_state s;
    assert_int_equal(tf_state_init(&s, &m, T), 0);
    poke_ctx p = {0};
    tf_add_hook(&s, (tf_hook){HOOK_RESID, 1, poke_hook, &p});
    double *J = calloc((size_t)V * d, 8), *pr = calloc((size_t)V, 8), *F = calloc((size_t)d * d, 8);
    float *lg = vec((size_t)T * V), *lg2 = vec((size_t)T * V);
    for (int i = 0; i < d; i++) {
        float eps = 1e-2f;
        p = (poke_ctx){t, i, eps};
        tf_state_reset(&s);
        assert_int_equal(tf_forward(&m, &s, tok, T, LOGITS_ALL, lg), 0);
        p.delta = -eps;
        tf_state_reset(&s);
        assert_int_equal(tf_forward(&m, &s, tok, T, LOGITS_ALL, lg2), 0);
        for (int v = 0; v < V; v++) J[(size_t)v * d + i] = (lg[t * V + v] - lg2[t * V + v]) / (2.0 * eps);
    }
    p.delta = 0;
    tf_state_reset(&s);
    assert_int_equal(tf_forward(&m, &s, tok, T, LOGITS_ALL, lg), 0);
    double mx = -1e300, z = 0;
    for (int v = 0; v < V; v++) mx = fmax(mx, lg[t * V + v]);
    for (int v = 0; v < V; v++) z += pr[v] = exp(lg[t * V + v] - mx);
    for (int v = 0; v < V; v++) pr[v] /= z;
    for (int i = 0; i < d; i++) /* J^T (diag p - p p^T) J */
        for (int j = 0; j < d; j++) {
            double a = 0, bi = 0, bj = 0;
            for (int v = 0; v < V; v++) {
                a += pr[v] * J[(size_t)v * d + i] * J[(size_t)v * d + j];
                bi += pr[v] * J[(size_t)v * d + i], bj += pr[v] * J[(size_t)v * d + j];
            }
            F[(size_t)i * d + j] = a - bi * bj;
        }
    tf_train_ws *ws = tf_train_ws_new(&c, 1, T);
    float *grad = vec((size_t)T * d);
    double *M = calloc((size_t)d * d, 8), *mean = calloc((size_t)d, 8);
    rng_t r;
    rng_seed(&r, 5);
    int K = 8000;
    for (int k = 0; k < K; k++) {
        assert_false(isnan(tf_train_resid_grad(&m, &g, ws, tok, 1, T, 1, &r, grad)));
        const float *gt = grad + (size_t)t * d;
        for (int i = 0; i < d; i++) {
            mean[i] += gt[i] / K;
            for (int j = 0; j < d; j++) M[(size_t)i * d + j] += (double)gt[i] * gt[j] / K;
        }
    }
    double num = 0, den = 0, mn = 0, trF = 0;
    for (int i = 0; i < d * d; i++) num += (M[i] - F[i]) * (M[i] - F[i]), den += F[i] * F[i];
    for (int i = 0; i < d; i++) mn += mean[i] * mean[i], trF += F[(size_t)i * d + i];
    printf("# sampled targets: |E[g g^T] - F| / |F| = %.3f over %d draws, |E[g]|^2 / tr F = %.5f\n",
           sqrt(num / den), K, mn / trF);
    assert_true(sqrt(num / den) < 0.05);
    assert_true(mn < 0.01 * trF); /* the score has mean zero */
    tf_state_free(&s);
    tf_train_ws_free(ws);
    tf_free(&m), tf_free(&g);
    free(w), free(gw), free(grad), free(J), free(pr), free(F), free(lg), free(lg2), free(M), free(mean);
}

/* A model's weight views (here f32) widen back into the training layout bit for bit. */
static void test_flatten(void **st) {
    (void)st;
    tf_config c;
    tf_model m;
    float *w = tiny_model(&m, &c, 2, 33);
    size_t n = tf_flat_size(&c);
    float *back = vec(n);
    assert_int_equal(tf_flatten(&m, back), 0);
    assert_memory_equal(back, w, n * sizeof(float));
    m.c.arch = ARCH_GPT2;
    assert_int_equal(tf_flatten(&m, back), -1);
    assert_non_null(strstr(ms_geterr(), "Llama"));
    m.c.arch = ARCH_LLAMA;
    tf_free(&m);
    free(w), free(back);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedding),       cmocka_unit_test(test_rmsnorm),
        cmocka_unit_test(test_linear),          cmocka_unit_test(test_rope),
        cmocka_unit_test(test_attention_gqa),   cmocka_unit_test(test_attention_mha_blocks),
        cmocka_unit_test(test_attention_threads), cmocka_unit_test(test_gemm_par),
        cmocka_unit_test(test_swiglu),
        cmocka_unit_test(test_xent),            cmocka_unit_test(test_model_untied_gqa),
        cmocka_unit_test(test_model_tied_mha),  cmocka_unit_test(test_errors),
        cmocka_unit_test(test_resid_grad),      cmocka_unit_test(test_resid_grad_sampled),
        cmocka_unit_test(test_flatten),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
