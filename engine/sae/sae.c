/* sae.c — TopK / ReLU / JumpReLU sparse autoencoder: parameters, batched
 * encode and decode, the TopK training loss (MSE + AuxK) and its sparse
 * backward pass, dead-latent tracking, decoder constraints. Files: sae_io.c. */
#include "sae.h"

#include "alloc.h"
#include "ops.h"
#include "pool.h"
#include "train_ops.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRE_EPS 1e-3f          /* the reference counts a latent as firing above this */
#define DEAD_TOKENS 10000000ull /* the reference's dead_toks_threshold */

/* ------------------------------------------------------------ model */

static int default_k_aux(int d, int L) {
    int half = d / 2 > 0 ? d / 2 : 1, p = 1;
    while (p * 2 <= half) p *= 2;
    if (half - p > 2 * p - half) p *= 2; /* the power of two nearest d/2 (ties: lower) */
    return p < L ? p : L;
}

static void bind(sae_params *v, float *base, const sae_config *c) {
    size_t Ld = (size_t)c->n_latents * (size_t)c->d_in;
    v->W_enc = base;
    v->b_enc = base + Ld;
    v->W_dec = v->b_enc + c->n_latents;
    v->b_dec = v->W_dec + Ld;
}

int sae_init(sae_model *m, const sae_config *c) {
    memset(m, 0, sizeof *m);
    if (c->d_in < 1 || c->d_in > (1 << 20) || c->n_latents < 1 || c->n_latents > (1 << 24))
        return ms_seterr("bad SAE size d_in %d n_latents %d (sae)", c->d_in, c->n_latents);
    if ((size_t)c->d_in * (size_t)c->n_latents > ((size_t)1 << 32))
        return ms_seterr("SAE too large: d_in %d x n_latents %d (sae)", c->d_in, c->n_latents);
    if (c->k < 1 || c->k > c->n_latents)
        return ms_seterr("k = %d outside 1..n_latents %d (sae)", c->k, c->n_latents);
    m->c = *c;
    m->n_params = 2 * (size_t)c->n_latents * c->d_in + (size_t)c->n_latents + (size_t)c->d_in;
    /* Sizes may come from a file: failing to allocate is an error, not an exit. */
    m->flat = ms_try_calloc(m->n_params, sizeof(float), "SAE parameters");
    m->grad = m->flat ? ms_try_calloc(m->n_params, sizeof(float), "SAE gradients") : NULL;
    if (!m->grad) {
        free(m->flat);
        memset(m, 0, sizeof *m);
        return -1;
    }
    bind(&m->p, m->flat, c);
    bind(&m->g, m->grad, c);
    if (c->arch == SAE_JUMPRELU) m->threshold = xcalloc((size_t)c->n_latents, sizeof(float));
    m->layer = -1;
    m->mse_scale = 1;
    m->k_aux = default_k_aux(c->d_in, c->n_latents);
    m->aux_coef = 1.0f / 32;
    m->dead_tokens = DEAD_TOKENS;
    m->since_fired = xcalloc((size_t)c->n_latents, sizeof(uint64_t));
    return 0;
}

static void normalize_rows(float *W, int L, int d) {
    for (int j = 0; j < L; j++) {
        float *w = W + (size_t)j * d;
        double s = 0;
        for (int i = 0; i < d; i++) s += (double)w[i] * w[i];
        if (s > 0) {
            float inv = (float)(1.0 / sqrt(s));
            for (int i = 0; i < d; i++) w[i] *= inv;
        }
    }
}

void sae_init_random(sae_model *m, rng_t *r) {
    size_t Ld = (size_t)m->c.n_latents * m->c.d_in;
    for (size_t i = 0; i < Ld; i++) m->p.W_dec[i] = rng_normal(r);
    normalize_rows(m->p.W_dec, m->c.n_latents, m->c.d_in);
    memcpy(m->p.W_enc, m->p.W_dec, sizeof(float) * Ld);
    memset(m->p.b_enc, 0, sizeof(float) * (size_t)m->c.n_latents);
    memset(m->p.b_dec, 0, sizeof(float) * (size_t)m->c.d_in);
}

void sae_free(sae_model *m) {
    free(m->flat), free(m->grad), free(m->threshold), free(m->since_fired);
    memset(m, 0, sizeof *m);
}

void sae_zero_grad(sae_model *m) { memset(m->grad, 0, sizeof(float) * m->n_params); }

void sae_set_b_dec(sae_model *m, const float *b_dec) {
    memcpy(m->p.b_dec, b_dec, sizeof(float) * (size_t)m->c.d_in);
}

void sae_data_mean(const float *h, int N, int d, float *mean) {
    double *acc = xcalloc((size_t)d, sizeof(double));
    for (int r = 0; r < N; r++)
        for (int i = 0; i < d; i++) acc[i] += h[(size_t)r * d + i];
    for (int i = 0; i < d; i++) mean[i] = N > 0 ? (float)(acc[i] / N) : 0;
    free(acc);
}

/* mean over rows and dims of (x - mean_rows x)^2, in double */
static double batch_var(const float *x, int N, int d) {
    float *mu = xmalloc(sizeof(float) * (size_t)d);
    sae_data_mean(x, N, d, mu);
    double s = 0;
    for (int r = 0; r < N; r++)
        for (int i = 0; i < d; i++) {
            double e = (double)x[(size_t)r * d + i] - mu[i];
            s += e * e;
        }
    free(mu);
    return N > 0 ? s / ((double)N * d) : 0;
}

int sae_set_mse_scale(sae_model *m, const float *h, int N) {
    double v = batch_var(h, N, m->c.d_in);
    if (!(v > 0) || !isfinite(v)) return ms_seterr("activation sample has no variance (%d rows) (sae)", N);
    m->mse_scale = (float)(1.0 / v);
    return 0;
}

void sae_set_layer(sae_model *m, int layer) {
    m->layer = layer;
    snprintf(m->hook_name, sizeof m->hook_name, "blocks.%d.hook_resid_post", layer);
}

/* ------------------------------------------------------------ kernels */

int sae_topk_row(const float *x, int n, int k, const uint8_t *allow, int *idx, float *val) {
    int cnt = 0;
    for (int j = 0; j < n; j++) {
        if (allow && !allow[j]) continue;
        float v = x[j];
        if (cnt == k && !(v > val[k - 1])) continue; /* strict: an equal later value loses */
        int p = cnt < k ? cnt++ : k - 1;
        while (p > 0 && v > val[p - 1]) val[p] = val[p - 1], idx[p] = idx[p - 1], p--;
        val[p] = v, idx[p] = j;
    }
    return cnt;
}

typedef struct {
    float *out;
    const float *W, *val;
    const int *idx;
    int N, k, d;
} decode_job;

enum { DECODE_BLOCK = 64 }; /* rows per pool item */

static void decode_rows(void *ctx, int b) {
    const decode_job *j = ctx;
    int r1 = (b + 1) * DECODE_BLOCK < j->N ? (b + 1) * DECODE_BLOCK : j->N;
    for (int r = b * DECODE_BLOCK; r < r1; r++) {
        float *o = j->out + (size_t)r * j->d;
        for (int s = 0; s < j->k; s++) {
            float v = j->val[(size_t)r * j->k + s];
            if (v != 0) axpy(o, v, j->W + (size_t)j->idx[(size_t)r * j->k + s] * j->d, j->d);
        }
    }
}

/* Rows are independent, so blocks of them go to the thread pool; each row's
 * sum runs in the same order either way (bit-identical to one thread). */
void sae_sparse_decode_add(float *out, const float *W, const int *idx, const float *val, int N, int k, int d) {
    decode_job j = {.out = out, .W = W, .val = val, .idx = idx, .N = N, .k = k, .d = d};
    int blocks = (N + DECODE_BLOCK - 1) / DECODE_BLOCK;
    if (blocks > 1) pool_run(blocks, decode_rows, &j);
    else if (blocks == 1) decode_rows(&j, 0);
}

void sae_sparse_decode_bwd(float *dW, float *dval, const float *W, const int *idx, const float *val,
                           const float *dout, int N, int k, int d) {
    for (int r = 0; r < N; r++) {
        const float *g = dout + (size_t)r * d;
        for (int s = 0; s < k; s++) {
            size_t q = (size_t)r * k + s, j = (size_t)idx[q];
            dval[q] = dot(W + j * d, g, d);
            if (val[q] != 0) axpy(dW + j * d, val[q], g, d);
        }
    }
}

void sae_sparse_encode_bwd(float *dW, float *db, float *dxc_sum, const float *W, const float *xc, const int *idx,
                           const float *dval, int N, int k, int d) {
    for (int r = 0; r < N; r++) {
        const float *x = xc + (size_t)r * d;
        for (int s = 0; s < k; s++) {
            size_t q = (size_t)r * k + s, j = (size_t)idx[q];
            float g = dval[q];
            if (g == 0) continue;
            axpy(dW + j * d, g, x, d);
            db[j] += g;
            if (dxc_sum) axpy(dxc_sum, g, W + j * d, d);
        }
    }
}

/* ------------------------------------------------------------ workspace */

struct sae_work {
    int cap, d, L, k, ka;
    float *xc, *pre, *out, *dout, *aout, *err, *val, *dval, *aval, *daval, *gsum;
    int *idx, *aidx;
    uint8_t *dead;
};

sae_work *sae_work_new(const sae_model *m, int cap) {
    sae_work *w = xcalloc(1, sizeof *w);
    size_t n = (size_t)(cap > 0 ? cap : 1), d = (size_t)m->c.d_in, L = (size_t)m->c.n_latents;
    int ka = m->k_aux > 0 ? m->k_aux : 1;
    w->cap = (int)n, w->d = m->c.d_in, w->L = m->c.n_latents, w->k = m->c.k, w->ka = ka;
    w->xc = xmalloc(xmul(n * d, sizeof(float)));
    w->pre = xmalloc(xmul(xmul(n, L), sizeof(float)));
    w->out = xmalloc(n * d * sizeof(float)), w->dout = xmalloc(n * d * sizeof(float));
    w->aout = xmalloc(n * d * sizeof(float)), w->err = xmalloc(n * d * sizeof(float));
    w->val = xmalloc(n * (size_t)w->k * sizeof(float)), w->dval = xmalloc(n * (size_t)w->k * sizeof(float));
    w->idx = xmalloc(n * (size_t)w->k * sizeof(int));
    w->aval = xmalloc(n * (size_t)ka * sizeof(float)), w->daval = xmalloc(n * (size_t)ka * sizeof(float));
    w->aidx = xmalloc(n * (size_t)ka * sizeof(int));
    w->gsum = xmalloc(d * sizeof(float));
    w->dead = xmalloc(L);
    return w;
}

void sae_work_free(sae_work *w) {
    if (!w) return;
    free(w->xc), free(w->pre), free(w->out), free(w->dout), free(w->aout), free(w->err);
    free(w->val), free(w->dval), free(w->idx), free(w->aval), free(w->daval), free(w->aidx);
    free(w->gsum), free(w->dead), free(w);
}

static int check_work(const sae_model *m, const sae_work *w) {
    if (w->d != m->c.d_in || w->L != m->c.n_latents || w->k != m->c.k)
        return ms_seterr("workspace made for another SAE shape (sae)");
    return 0;
}

/* ------------------------------------------------------------ forward */

/* w->xc = h - b_dec (or h), w->pre = xc W_enc^T + b_enc for n <= cap rows. */
static void pre_chunk(const sae_model *m, sae_work *w, const float *h, int n) {
    int d = w->d, L = w->L;
    for (int r = 0; r < n; r++) {
        const float *hr = h + (size_t)r * d;
        float *x = w->xc + (size_t)r * d;
        for (int i = 0; i < d; i++) x[i] = m->c.apply_b_dec_to_input ? hr[i] - m->p.b_dec[i] : hr[i];
        memcpy(w->pre + (size_t)r * L, m->p.b_enc, sizeof(float) * (size_t)L);
    }
    tr_gemm_par(false, true, n, L, d, 1.0f, w->xc, d, m->p.W_enc, d, 1.0f, w->pre, L);
}

/* The dense code of one row, in place over its pre-activations (non-topk). */
static void activate_row(const sae_model *m, float *z) {
    for (int j = 0; j < m->c.n_latents; j++) {
        float v = z[j];
        if (m->c.arch == SAE_JUMPRELU)
            z[j] = v > m->threshold[j] && v > 0 ? v : 0;
        else
            z[j] = v > 0 ? v : 0;
    }
}

/* Codes of one row from its pre-activations; non-topk rows are activated in place. */
static void codes_row(const sae_model *m, float *pre, int *idx, float *val) {
    int k = m->c.k;
    if (m->c.arch != SAE_TOPK) activate_row(m, pre);
    sae_topk_row(pre, m->c.n_latents, k, NULL, idx, val);
    for (int s = 0; s < k; s++) val[s] = val[s] > 0 ? val[s] : 0; /* ReLU after TopK */
}

int sae_encode(const sae_model *m, sae_work *w, const float *h, int N, int *idx, float *val, float *pre) {
    if (check_work(m, w)) return -1;
    int d = w->d, L = w->L, k = w->k;
    for (int r0 = 0; r0 < N; r0 += w->cap) {
        int n = N - r0 < w->cap ? N - r0 : w->cap;
        pre_chunk(m, w, h + (size_t)r0 * d, n);
        if (pre) memcpy(pre + (size_t)r0 * L, w->pre, sizeof(float) * (size_t)n * L);
        for (int r = 0; r < n; r++) {
            size_t q = (size_t)(r0 + r) * k;
            codes_row(m, w->pre + (size_t)r * L, idx + q, val + q);
        }
    }
    return 0;
}

int sae_encode_dense(const sae_model *m, sae_work *w, const float *h, int N, float *z) {
    if (check_work(m, w)) return -1;
    int d = w->d, L = w->L, k = w->k;
    for (int r0 = 0; r0 < N; r0 += w->cap) {
        int n = N - r0 < w->cap ? N - r0 : w->cap;
        pre_chunk(m, w, h + (size_t)r0 * d, n);
        for (int r = 0; r < n; r++) {
            float *zr = z + (size_t)(r0 + r) * L, *pr = w->pre + (size_t)r * L;
            if (m->c.arch != SAE_TOPK) {
                activate_row(m, pr);
                memcpy(zr, pr, sizeof(float) * (size_t)L);
                continue;
            }
            codes_row(m, pr, w->idx, w->val);
            memset(zr, 0, sizeof(float) * (size_t)L);
            for (int s = 0; s < k; s++) zr[w->idx[s]] = w->val[s];
        }
    }
    return 0;
}

static void fill_bias(float *out, const float *b, int N, int d) {
    for (int r = 0; r < N; r++) memcpy(out + (size_t)r * d, b, sizeof(float) * (size_t)d);
}

void sae_decode_sparse(const sae_model *m, const int *idx, const float *val, int N, int k, float *out) {
    fill_bias(out, m->p.b_dec, N, m->c.d_in);
    sae_sparse_decode_add(out, m->p.W_dec, idx, val, N, k, m->c.d_in);
}

void sae_decode_dense(const sae_model *m, const float *z, int N, float *out) {
    int d = m->c.d_in, L = m->c.n_latents;
    fill_bias(out, m->p.b_dec, N, d);
    tr_gemm_par(false, false, N, d, L, 1.0f, z, L, m->p.W_dec, d, 1.0f, out, d);
}

int sae_reconstruct(const sae_model *m, sae_work *w, const float *h, int N, float *out) {
    if (check_work(m, w)) return -1;
    int d = w->d, L = w->L, k = w->k;
    for (int r0 = 0; r0 < N; r0 += w->cap) {
        int n = N - r0 < w->cap ? N - r0 : w->cap;
        const float *hr = h + (size_t)r0 * d;
        float *o = out + (size_t)r0 * d;
        pre_chunk(m, w, hr, n);
        if (m->c.arch == SAE_TOPK) {
            for (int r = 0; r < n; r++)
                codes_row(m, w->pre + (size_t)r * L, w->idx + (size_t)r * k, w->val + (size_t)r * k);
            sae_decode_sparse(m, w->idx, w->val, n, k, o);
        } else {
            for (int r = 0; r < n; r++) activate_row(m, w->pre + (size_t)r * L);
            sae_decode_dense(m, w->pre, n, o);
        }
    }
    return 0;
}

/* ------------------------------------------------------------ dead latents */

void sae_track(sae_model *m, const int *idx, const float *val, int N, int k) {
    int L = m->c.n_latents;
    uint8_t *fired = xcalloc((size_t)L, 1);
    for (size_t q = 0; q < (size_t)N * k; q++)
        if (val[q] > FIRE_EPS) fired[idx[q]] = 1;
    for (int j = 0; j < L; j++) m->since_fired[j] = fired[j] ? 0 : m->since_fired[j] + (uint64_t)N;
    free(fired);
}

int sae_dead_mask(const sae_model *m, uint8_t *dead) {
    int n = 0;
    for (int j = 0; j < m->c.n_latents; j++) n += dead[j] = m->since_fired[j] > m->dead_tokens;
    return n;
}

/* ------------------------------------------------------------ loss */

/* Zeroes the gradient of entries the ReLU cut (value 0). */
static void relu_mask(float *dval, const float *val, size_t n) {
    for (size_t q = 0; q < n; q++)
        if (!(val[q] > 0)) dval[q] = 0;
}

static void colsum_add(float *acc, const float *x, int N, int d) {
    for (int r = 0; r < N; r++) axpy(acc, 1.0f, x + (size_t)r * d, d);
}

/* Main term: codes, ĥ, mse, fvu; w->dout = d main / d ĥ, w->err = h - ĥ. */
static void main_term(const sae_model *m, sae_work *w, const float *h, int N, sae_loss_parts *p) {
    int d = w->d, L = w->L, k = w->k;
    for (int r = 0; r < N; r++) codes_row(m, w->pre + (size_t)r * L, w->idx + (size_t)r * k, w->val + (size_t)r * k);
    sae_decode_sparse(m, w->idx, w->val, N, k, w->out);
    size_t n = (size_t)N * d;
    double se = 0;
    float scale = (float)(2.0 * m->mse_scale / (double)n);
    for (size_t q = 0; q < n; q++) {
        float e = w->out[q] - h[q];
        se += (double)e * e;
        w->dout[q] = scale * e;
        w->err[q] = -e;
    }
    double var = batch_var(h, N, d);
    p->mse = se / (double)n;
    p->fvu = var > 0 ? p->mse / var : NAN;
    p->main = m->mse_scale * p->mse;
}

/* AuxK term over the dead latents; w->aout = d aux / d(ê + b_dec). */
static void aux_term(const sae_model *m, sae_work *w, const uint8_t *dead, int n_dead, int N, sae_loss_parts *p) {
    int d = w->d, L = w->L, ka = w->ka;
    int kk = n_dead < m->k_aux ? n_dead : m->k_aux;
    for (int r = 0; r < N; r++) {
        int *ai = w->aidx + (size_t)r * ka;
        float *av = w->aval + (size_t)r * ka;
        int got = sae_topk_row(w->pre + (size_t)r * L, L, kk, dead, ai, av);
        for (int s = 0; s < ka; s++)
            if (s >= got) ai[s] = 0, av[s] = 0;
            else if (!(av[s] > 0)) av[s] = 0;
    }
    size_t n = (size_t)N * d;
    memset(w->aout, 0, sizeof(float) * n);
    sae_sparse_decode_add(w->aout, m->p.W_dec, w->aidx, w->aval, N, ka, d);
    double den = batch_var(w->err, N, d), se = 0;
    if (!(den > 0)) {
        memset(w->aout, 0, sizeof(float) * n);
        return;
    }
    float scale = (float)(2.0 * m->aux_coef / ((double)n * den));
    for (size_t q = 0; q < n; q++) {
        float e = w->aout[q] - w->err[q];
        se += (double)e * e;
        w->aout[q] = scale * e;
    }
    p->aux = m->aux_coef * se / (double)n / den;
}

static void backward(sae_model *m, sae_work *w, int N, bool aux) {
    int d = w->d, k = w->k, ka = w->ka;
    bool centre = m->c.apply_b_dec_to_input;
    colsum_add(m->g.b_dec, w->dout, N, d); /* ĥ = ... + b_dec */
    sae_sparse_decode_bwd(m->g.W_dec, w->dval, m->p.W_dec, w->idx, w->val, w->dout, N, k, d);
    relu_mask(w->dval, w->val, (size_t)N * k);
    memset(w->gsum, 0, sizeof(float) * (size_t)d);
    sae_sparse_encode_bwd(m->g.W_enc, m->g.b_enc, centre ? w->gsum : NULL, m->p.W_enc, w->xc, w->idx, w->dval,
                          N, k, d);
    if (aux) {
        colsum_add(m->g.b_dec, w->aout, N, d); /* the reference decodes ê with + b_dec */
        sae_sparse_decode_bwd(m->g.W_dec, w->daval, m->p.W_dec, w->aidx, w->aval, w->aout, N, ka, d);
        relu_mask(w->daval, w->aval, (size_t)N * ka);
        sae_sparse_encode_bwd(m->g.W_enc, m->g.b_enc, centre ? w->gsum : NULL, m->p.W_enc, w->xc, w->aidx,
                              w->daval, N, ka, d);
    }
    if (centre) axpy(m->g.b_dec, -1.0f, w->gsum, d); /* xc = h - b_dec */
}

double sae_loss(sae_model *m, sae_work *w, const float *h, int N, const sae_loss_opts *o, sae_loss_parts *out) {
    sae_loss_parts p = {0};
    if (check_work(m, w)) return NAN;
    if (m->c.arch != SAE_TOPK) return ms_seterr("only TopK SAEs are trained (sae)"), NAN;
    if (N < 1 || N > w->cap) return ms_seterr("batch of %d rows exceeds the workspace (%d) (sae)", N, w->cap), NAN;
    if (m->k_aux < 1 || m->k_aux > w->ka) return ms_seterr("k_aux %d outside 1..%d (sae)", m->k_aux, w->ka), NAN;
    pre_chunk(m, w, h, N);
    main_term(m, w, h, N, &p);
    if (o->track) sae_track(m, w->idx, w->val, N, w->k);
    const uint8_t *dead = o->dead;
    if (!dead) {
        sae_dead_mask(m, w->dead);
        dead = w->dead;
    }
    for (int j = 0; j < w->L; j++) p.n_dead += dead[j] != 0;
    if (o->aux_target) /* err = target - b_dec, so that ê - err = ê + b_dec - target */
        for (int r = 0; r < N; r++)
            for (int i = 0; i < w->d; i++)
                w->err[(size_t)r * w->d + i] = o->aux_target[(size_t)r * w->d + i] - m->p.b_dec[i];
    if (p.n_dead > 0) aux_term(m, w, dead, p.n_dead, N, &p);
    p.loss = p.main + p.aux;
    if (o->grad) backward(m, w, N, p.n_dead > 0);
    if (out) *out = p;
    return p.loss;
}

/* ------------------------------------------------------------ decoder constraints */

void sae_project_decoder_grad(sae_model *m) {
    int d = m->c.d_in;
    for (int j = 0; j < m->c.n_latents; j++) {
        const float *w = m->p.W_dec + (size_t)j * d;
        float *g = m->g.W_dec + (size_t)j * d;
        axpy(g, -dot(w, g, d), w, d);
    }
}

void sae_normalize_decoder(sae_model *m) { normalize_rows(m->p.W_dec, m->c.n_latents, m->c.d_in); }
