/* glp.c — GLP denoiser: flat parameter layout, batched forward/backward of
 * the flow-matching loss, normalizer, meta-neurons (the samplers and the
 * SDEdit projection are glp_ode.c), checkpoint load/save under the reference tensor names. */
#include "glp.h"
#include "glpconfig.h"
#include "half.h"
#include "hash.h"

#include "ops.h"
#include "safetensors.h"
#include "train_ops.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LN_EPS 1e-5f
#define NORM_EPS 1e-12 /* the reference divides by sqrt(var) bare; this only avoids 0/0 */
#define FM_GRID 1000

/* ------------------------------------------------------------ layout */

/* Walks the tensors in flat order. When p is given, binds its views to
 * base + offset. Returns the tensor count. */
static int layout(const glp_config *c, glp_tensor *t, int max, glp_params *p, float *base) {
    int n = 0;
    size_t off = 0;
    int di = c->d_input, dm = c->d_model, dh = c->d_mlp;
#define T2(view, r, cl, ...)                                                                                 \
    do {                                                                                                     \
        size_t sz_ = (size_t)(r) * (size_t)((cl) ? (cl) : 1);                                                \
        if (n < max) {                                                                                       \
            snprintf(t[n].name, sizeof t[n].name, __VA_ARGS__);                                              \
            t[n].rows = (r), t[n].cols = (cl), t[n].offset = off, t[n].size = sz_, t[n].decay = (cl) != 0; \
        }                                                                                                    \
        if (p) (view) = base + off;                                                                          \
        n++, off += sz_;                                                                                     \
    } while (0)
#define LIN(v, o, i, nm)                                    \
    do {                                                    \
        T2((v).w, o, i, "model.%s.weight", nm);              \
        T2((v).b, o, 0, "model.%s.bias", nm);                \
    } while (0)
    glp_params dummy = {0};
    glp_params *q = p ? p : &dummy;
    LIN(q->in_proj, dm, di, "in_proj");
    LIN(q->te0, dm, dm, "time_embed.0");
    LIN(q->te2, dm, dm, "time_embed.2");
    if (c->multi_layer_n_layers > 1) {
        LIN(q->le0, dm, dm, "layer_embed.0");
        LIN(q->le2, dm, dm, "layer_embed.2");
    }
    char nm[48];
    for (int l = 0; l < c->n_layers; l++) {
        glp_block dummy_b, *b = p ? &p->blocks[l] : &dummy_b;
        snprintf(nm, sizeof nm, "layers.%d.ln", l);
        T2(b->ln.w, dm, 0, "model.%s.weight", nm);
        T2(b->ln.b, dm, 0, "model.%s.bias", nm);
        snprintf(nm, sizeof nm, "layers.%d.up_proj", l);
        LIN(b->up, dh, dm, nm);
        snprintf(nm, sizeof nm, "layers.%d.gate_proj", l);
        LIN(b->gate, dh, dm, nm);
        snprintf(nm, sizeof nm, "layers.%d.time_proj", l);
        LIN(b->time, dh, dm, nm);
        snprintf(nm, sizeof nm, "layers.%d.down_proj", l);
        LIN(b->down, dm, dh, nm);
    }
    T2(q->ln.w, dm, 0, "model.ln.weight");
    T2(q->ln.b, dm, 0, "model.ln.bias");
    LIN(q->out_proj, di, dm, "out_proj");
#undef LIN
#undef T2
    return n;
}

int glp_tensors(const glp_config *c, glp_tensor *t, int max) { return layout(c, t, max, NULL, NULL); }

static glp_tensor *all_tensors(const glp_config *c, int *n) {
    *n = glp_tensors(c, NULL, 0);
    glp_tensor *t = xmalloc(sizeof *t * (size_t)*n);
    glp_tensors(c, t, *n);
    return t;
}

size_t glp_param_count(const glp_config *c) {
    int n;
    glp_tensor *t = all_tensors(c, &n);
    size_t total = t[n - 1].offset + t[n - 1].size;
    free(t);
    return total;
}

static void set_ln_ones(glp_model *m) {
    for (int l = 0; l < m->c.n_layers; l++)
        for (int i = 0; i < m->c.d_model; i++) m->p.blocks[l].ln.w[i] = 1;
    for (int i = 0; i < m->c.d_model; i++) m->p.ln.w[i] = 1;
}

int glp_init(glp_model *m, const glp_config *c) {
    memset(m, 0, sizeof *m);
    if (c->d_input < 1 || c->d_model < 2 || c->d_model % 2 || c->d_mlp < 1 || c->n_layers < 0)
        return ms_seterr("bad GLP config d_input %d d_model %d d_mlp %d n_layers %d (glp)", c->d_input,
                         c->d_model, c->d_mlp, c->n_layers);
    if (c->n_layers > GLP_MAX_LAYERS || c->d_input > GLP_MAX_WIDTH || c->d_model > GLP_MAX_WIDTH ||
        c->d_mlp > 4 * GLP_MAX_WIDTH)
        return ms_seterr("GLP config d_input %d d_model %d d_mlp %d n_layers %d exceeds the limits (glp)",
                         c->d_input, c->d_model, c->d_mlp, c->n_layers);
    m->c = *c;
    m->n_params = glp_param_count(c);
    /* Sizes may come from a file: failing to allocate is an error, not an exit. */
    m->flat = ms_try_calloc(m->n_params, sizeof(float), "GLP parameters");
    m->grad = m->flat ? ms_try_calloc(m->n_params, sizeof(float), "GLP gradients") : NULL;
    if (!m->grad) {
        free(m->flat);
        memset(m, 0, sizeof *m);
        return -1;
    }
    m->p.blocks = xcalloc((size_t)c->n_layers + 1, sizeof(glp_block));
    m->g.blocks = xcalloc((size_t)c->n_layers + 1, sizeof(glp_block));
    layout(c, NULL, 0, &m->p, m->flat);
    layout(c, NULL, 0, &m->g, m->grad);
    m->mean = xcalloc((size_t)c->d_input, sizeof(float));
    m->var = xmalloc(sizeof(float) * (size_t)c->d_input);
    for (int i = 0; i < c->d_input; i++) m->var[i] = 1;
    set_ln_ones(m);
    return 0;
}

void glp_init_random(glp_model *m, rng_t *r) {
    int n;
    glp_tensor *t = all_tensors(&m->c, &n);
    for (int k = 0; k < n; k++) {
        /* a bias's fan-in is its weight's column count: the previous entry */
        int fan_in = t[k].cols ? t[k].cols : (k > 0 ? t[k - 1].cols : 0);
        float bound = fan_in > 0 ? 1.0f / sqrtf((float)fan_in) : 0;
        for (size_t i = 0; i < t[k].size; i++) m->flat[t[k].offset + i] = bound * (2 * rng_uniform(r) - 1);
    }
    free(t);
    /* LayerNorms (weight 1, bias 0): their entries are 1-D and follow no weight */
    for (int l = 0; l <= m->c.n_layers; l++) {
        glp_lin *ln = l < m->c.n_layers ? &m->p.blocks[l].ln : &m->p.ln;
        memset(ln->b, 0, sizeof(float) * (size_t)m->c.d_model);
    }
    set_ln_ones(m);
}

int glp_grow(glp_model *dst, const glp_model *src) {
    const glp_config *a = &src->c, *b = &dst->c;
    if (a->d_input != b->d_input || a->d_model != b->d_model || a->d_mlp != b->d_mlp ||
        a->multi_layer_n_layers != b->multi_layer_n_layers || a->n_layers > b->n_layers)
        return ms_seterr("cannot grow a %d x %d/%d GLP into %d x %d/%d: only blocks can be added (glp)", a->n_layers,
                         a->d_model, a->d_mlp, b->n_layers, b->d_model, b->d_mlp);
    int ns, nd;
    glp_tensor *ts = all_tensors(a, &ns), *td = all_tensors(b, &nd);
    int rc = 0;
    for (int i = 0, j = 0; i < ns && !rc; i++) { /* the same names in the same order, td has more blocks */
        while (j < nd && strcmp(td[j].name, ts[i].name)) j++;
        if (j == nd || td[j].size != ts[i].size)
            rc = ms_seterr("GLP tensor %s has no place in the grown GLP (glp)", ts[i].name);
        else memcpy(dst->flat + td[j].offset, src->flat + ts[i].offset, sizeof(float) * ts[i].size);
    }
    free(ts), free(td);
    if (rc) return rc;
    for (int l = a->n_layers; l < b->n_layers; l++) {
        glp_lin *d = &dst->p.blocks[l].down;
        memset(d->w, 0, sizeof(float) * (size_t)b->d_model * b->d_mlp);
        memset(d->b, 0, sizeof(float) * (size_t)b->d_model);
    }
    return 0;
}

/* Every weight matrix of p, for glp_hold_bf16. */
static int matrices(glp_model *m, glp_lin **out) {
    glp_params *p = &m->p;
    int n = 0;
    out[n++] = &p->in_proj, out[n++] = &p->te0, out[n++] = &p->te2;
    if (m->c.multi_layer_n_layers > 1) out[n++] = &p->le0, out[n++] = &p->le2;
    for (int l = 0; l < m->c.n_layers; l++) {
        glp_block *b = &p->blocks[l];
        out[n++] = &b->up, out[n++] = &b->gate, out[n++] = &b->time, out[n++] = &b->down;
    }
    out[n++] = &p->out_proj;
    return n;
}

static const st_tensor *find_prefixed(const st_file *f, const char *name);

/* Every weight matrix into m->half in BF16, from m->flat (f NULL: its f32
 * pages are given back) or straight from the file f, one tensor at a time
 * through a temporary, so the f32 matrices are never all resident. */
static int to_bf16(glp_model *m, const st_file *f) {
    int nt;
    glp_tensor *t = all_tensors(&m->c, &nt);
    glp_lin **lins = xmalloc(sizeof *lins * (size_t)(4 * m->c.n_layers + 6));
    int nl = matrices(m, lins), rc = 0;
    size_t total = 0, big = 0;
    for (int k = 0; k < nt; k++) {
        total += t[k].cols ? t[k].size : 0;
        big = t[k].cols && t[k].size > big ? t[k].size : big;
    }
    m->half = ms_try_calloc(total, sizeof(uint16_t), "GLP weights in BF16");
    float *tmp = m->half && f ? ms_try_calloc(big, sizeof(float), "GLP weight conversion") : NULL;
    if (!m->half || (f && !tmp)) rc = -1;
    uint16_t *h = m->half;
    for (int i = 0; i < nl && !rc; i++) {
        size_t off = (size_t)(lins[i]->w - m->flat);
        int k = 0;
        while (t[k].offset != off) k++;
        const float *src = lins[i]->w;
        if (f) {
            const st_tensor *s = find_prefixed(f, t[k].name);
            if ((rc = st_to_f32(f, s, tmp, t[k].size))) break;
            st_release(f, s); /* the file's f32 pages need not stay resident either */
            src = tmp;
        }
        for (size_t j = 0; j < t[k].size; j++) h[j] = f32_to_bf16(src[j]);
        lins[i]->held = (wmat){WM_BF16, h, t[k].rows, t[k].cols};
        if (!f) ms_drop_pages(lins[i]->w, sizeof(float) * t[k].size); /* the f32 copy: reads as zeros after */
        lins[i]->w = NULL;
        h += t[k].size;
    }
    free(tmp), free(lins), free(t);
    return rc;
}

int glp_hold_bf16(glp_model *m) { return m->half ? 0 : to_bf16(m, NULL); }

void glp_free(glp_model *m) {
    free(m->half);
    free(m->flat), free(m->grad), free(m->p.blocks), free(m->g.blocks), free(m->mean), free(m->var);
    free(m->basis), free(m->basis_inv);
    memset(m, 0, sizeof *m);
}

void glp_zero_grad(glp_model *m) { memset(m->grad, 0, sizeof(float) * m->n_params); }

void glp_set_stats(glp_model *m, const float *mean, const float *var) {
    memcpy(m->mean, mean, sizeof(float) * (size_t)m->c.d_input);
    memcpy(m->var, var, sizeof(float) * (size_t)m->c.d_input);
}

void glp_set_basis(glp_model *m, const float *basis, const float *basis_inv) {
    size_t dd = (size_t)m->c.d_input * m->c.d_input;
    free(m->basis), free(m->basis_inv);
    m->basis = m->basis_inv = NULL;
    if (!basis || !basis_inv) return;
    m->basis = xmalloc(sizeof(float) * dd), m->basis_inv = xmalloc(sizeof(float) * dd);
    memcpy(m->basis, basis, sizeof(float) * dd), memcpy(m->basis_inv, basis_inv, sizeof(float) * dd);
}

uint64_t glp_normalizer_hash(const glp_model *m) {
    size_t d = (size_t)m->c.d_input;
    uint64_t h = hash64(hash64(HASH64_INIT, m->mean, sizeof(float) * d), m->var, sizeof(float) * d);
    return m->basis ? hash64(h, m->basis, sizeof(float) * d * d) : h;
}

/* ------------------------------------------------------------ load / save */

static const st_tensor *find_prefixed(const st_file *f, const char *name) {
    const st_tensor *t = st_find(f, name);
    if (t) return t;
    char buf[96];
    snprintf(buf, sizeof buf, "denoiser.%s", name);
    return st_find(f, buf);
}

static int check_extras(const st_file *f, const glp_config *c) {
    char nm[64];
    snprintf(nm, sizeof nm, "model.layers.%d.ln.weight", c->n_layers);
    if (find_prefixed(f, nm))
        return ms_seterr("checkpoint has more than n_layers = %d blocks (%s)", c->n_layers, f->path);
    bool has_le = find_prefixed(f, "model.layer_embed.0.weight") != NULL;
    if (has_le && c->multi_layer_n_layers < 2)
        return ms_seterr("layer_embed present but multi_layer_n_layers is %d (%s)", c->multi_layer_n_layers,
                         f->path);
    return 0;
}

int glp_load_file_as(glp_model *m, const char *path, const glp_config *c, bool bf16) {
    memset(m, 0, sizeof *m); /* an early failure must not free what the caller left in *m */
    st_file f;
    if (st_open(&f, path)) return -1;
    int rc = check_extras(&f, c);
    /* Every parameter takes at least 2 bytes (F16/BF16) in the file: a config
     * declaring more than the file can hold is refused before allocating. */
    if (!rc && c->n_layers <= GLP_MAX_LAYERS && c->d_input <= GLP_MAX_WIDTH && c->d_model <= GLP_MAX_WIDTH &&
        c->d_mlp <= 4 * GLP_MAX_WIDTH && c->d_model > 0 && c->d_mlp > 0 && glp_param_count(c) > f.size / 2)
        rc = ms_seterr("config declares %zu parameters, more than the %zu-byte file can hold (%s)",
                       glp_param_count(c), f.size, path);
    if (!rc) rc = glp_init(m, c);
    int n = 0;
    glp_tensor *t = rc ? NULL : all_tensors(c, &n);
    for (int k = 0; k < n && !rc; k++) {
        const st_tensor *s = find_prefixed(&f, t[k].name);
        int nd = t[k].cols ? 2 : 1;
        if (!s) {
            rc = ms_seterr("missing tensor %s (%s)", t[k].name, path);
        } else if (s->ndim != nd || s->shape[0] != t[k].rows || (nd == 2 && s->shape[1] != t[k].cols)) {
            rc = ms_seterr("tensor %s has the wrong shape for d_input %d d_model %d d_mlp %d (%s)", t[k].name,
                           c->d_input, c->d_model, c->d_mlp, path);
        } else if (!bf16 || !t[k].cols) { /* held in BF16: the matrices go straight there (below) */
            rc = st_to_f32(&f, s, m->flat + t[k].offset, t[k].size);
        }
    }
    if (!rc && bf16) rc = to_bf16(m, &f);
    free(t);
    st_close(&f);
    if (rc && m->flat) glp_free(m);
    return rc;
}

int glp_load_file(glp_model *m, const char *path, const glp_config *c) { return glp_load_file_as(m, path, c, false); }

int glp_load_as(glp_model *m, const char *dir, const glp_config *c, bool bf16) {
    char *path = ms_find_file(dir, "final.safetensors");
    if (!path) return ms_seterr("no final.safetensors (%s)", dir);
    int rc = glp_load_file_as(m, path, c, bf16);
    free(path);
    return rc;
}

int glp_load(glp_model *m, const char *dir, const glp_config *c) { return glp_load_as(m, dir, c, false); }

int glp_save(const glp_model *m, const char *path) { return glp_save_as(m, path, false); }

int glp_save_as(const glp_model *m, const char *path, bool half) {
    if (m->half) return ms_seterr("the GLP is held in BF16 for inference and cannot be saved (%s)", path);
    int n;
    glp_tensor *t = all_tensors(&m->c, &n);
    st_wtensor *w = xcalloc((size_t)n, sizeof *w);
    uint16_t *h = half ? xmalloc(sizeof(uint16_t) * m->n_params) : NULL;
    for (size_t i = 0; h && i < m->n_params; i++) h[i] = f32_to_f16(m->flat[i]);
    for (int k = 0; k < n; k++) {
        w[k].name = t[k].name;
        w[k].dtype = half ? ST_F16 : ST_F32;
        w[k].data = half ? (const void *)(h + t[k].offset) : (const void *)(m->flat + t[k].offset);
        w[k].ndim = t[k].cols ? 2 : 1;
        w[k].shape[0] = t[k].rows, w[k].shape[1] = t[k].cols;
    }
    const char *meta[] = {"format", "pt"};
    int rc = st_write(path, w, n, meta, 1);
    free(w), free(t), free(h);
    return rc;
}

/* ------------------------------------------------------------ small pieces */

void glp_normalize(const glp_model *m, float *x, const float *h, int N) {
    int d = m->c.d_input;
    for (int r = 0; r < N; r++)
        for (int i = 0; i < d; i++) {
            size_t k = (size_t)r * d + i;
            x[k] = (float)((h[k] - m->mean[i]) / sqrt((double)m->var[i] + NORM_EPS));
        }
    if (m->basis) linear_inplace(x, m->basis, N, d);
}

void glp_denormalize(const glp_model *m, float *h, const float *x, int N) {
    int d = m->c.d_input;
    if (m->basis_inv) {
        if (h != x) memcpy(h, x, sizeof(float) * (size_t)N * d);
        linear_inplace(h, m->basis_inv, N, d);
        x = h;
    }
    for (int r = 0; r < N; r++)
        for (int i = 0; i < d; i++) {
            size_t k = (size_t)r * d + i;
            h[k] = x[k] * sqrtf(m->var[i]) + m->mean[i];
        }
}

void glp_timestep_embedding(float *out, const float *t, int N, int dim) {
    int half = dim / 2;
    /* float32 steps as torch: exponent = (-ln 1e4 * i) / half, exp, t * f */
    const float nl = (float)-log(10000.0);
    for (int r = 0; r < N; r++)
        for (int i = 0; i < half; i++) {
            float f = expf(nl * (float)i / (float)half);
            float a = t[r] * f;
            out[(size_t)r * dim + i] = (float)cos((double)a);
            out[(size_t)r * dim + half + i] = (float)sin((double)a);
        }
}

float glp_grid(int i, int n) {
    if (i >= n) return 0; /* the appended final point */
    if (n == 1) return 1;
    return (float)(1.0 + (0.001 - 1.0) * i / (n - 1));
}

/* ------------------------------------------------------------ kernels */

void glp_linear_fwd(float *y, const float *x, const float *W, const float *b, int N, int in, int out) {
    if (N == 1) { /* sgemv: sgemm would repack the whole matrix for one row */
        linear(y, x, W, b, 1, in, out);
        return;
    }
    /* bias first, then the product accumulates onto it (beta = 1) */
    for (int r = 0; r < N; r++) memcpy(y + (size_t)r * out, b, sizeof(float) * (size_t)out);
    tr_gemm_par(false, true, N, out, in, 1.0f, x, in, W, in, 1.0f, y, out);
}

static void lin_fwd(float *y, const float *x, const glp_lin *l, int N, int in, int out) {
    if (l->held.data) wmat_linear(y, x, &l->held, l->b, N);
    else glp_linear_fwd(y, x, l->w, l->b, N, in, out);
}

static void colsum_add(float *db, const float *dy, int N, int out) {
    for (int r = 0; r < N; r++) {
        const float *row = dy + (size_t)r * out;
        for (int j = 0; j < out; j++) db[j] += row[j];
    }
}

void glp_linear_bwd(float *dx, bool accumulate, float *dW, float *db, const float *W, const float *dy,
                    const float *x, int N, int in, int out) {
    tr_gemm_par(true, false, out, in, N, 1.0f, dy, out, x, in, 1.0f, dW, in);
    colsum_add(db, dy, N, out);
    if (dx) tr_gemm_par(false, false, N, in, out, 1.0f, dy, out, W, in, accumulate ? 1.0f : 0.0f, dx, in);
}

static void lin_bwd(float *dx, bool accumulate, const glp_lin *g, const glp_lin *l, const float *dy,
                    const float *x, int N, int in, int out) {
    glp_linear_bwd(dx, accumulate, g->w, g->b, l->w, dy, x, N, in, out);
}

static inline float sigmoidf_(float z) { return 1.0f / (1.0f + expf(-z)); }

static void silu_fwd(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] * sigmoidf_(x[i]);
}

/* d silu(z)/dz = s (1 + z (1 - s)) */
static inline float dsilu(float z) {
    float s = sigmoidf_(z);
    return s * (1.0f + z * (1.0f - s));
}

void glp_layernorm_fwd(float *y, float *mu, float *rstd, const float *x, const float *w, const float *b, int N,
                       int d) {
    for (int r = 0; r < N; r++) {
        const float *xr = x + (size_t)r * d;
        float *yr = y + (size_t)r * d;
        double s = 0, v = 0;
        for (int i = 0; i < d; i++) s += xr[i];
        s /= d;
        for (int i = 0; i < d; i++) v += ((double)xr[i] - s) * ((double)xr[i] - s);
        float m = (float)s, rs = (float)(1.0 / sqrt(v / d + LN_EPS));
        mu[r] = m, rstd[r] = rs;
        for (int i = 0; i < d; i++) yr[i] = (xr[i] - m) * rs * w[i] + b[i];
    }
}

static void ln_fwd(float *y, float *mu, float *rstd, const float *x, const glp_lin *l, int N, int d) {
    glp_layernorm_fwd(y, mu, rstd, x, l->w, l->b, N, d);
}

void glp_layernorm_bwd(float *dx, float *dw, float *db, const float *w, const float *dy, const float *x,
                       const float *mu, const float *rstd, int N, int d) {
    for (int r = 0; r < N; r++) {
        const float *xr = x + (size_t)r * d, *dyr = dy + (size_t)r * d;
        float *dxr = dx + (size_t)r * d;
        float m = mu[r], rs = rstd[r];
        double a = 0, b = 0; /* mean(dxhat), mean(dxhat * xhat) */
        for (int i = 0; i < d; i++) {
            float xh = (xr[i] - m) * rs, dxh = dyr[i] * w[i];
            a += dxh, b += (double)dxh * xh;
            dw[i] += dyr[i] * xh;
            db[i] += dyr[i];
        }
        float ma = (float)(a / d), mb = (float)(b / d);
        for (int i = 0; i < d; i++) {
            float xh = (xr[i] - m) * rs;
            dxr[i] += rs * (dyr[i] * w[i] - ma - xh * mb);
        }
    }
}

static void ln_bwd(float *dx, const glp_lin *g, const glp_lin *l, const float *dy, const float *x,
                   const float *mu, const float *rstd, int N, int d) {
    glp_layernorm_bwd(dx, g->w, g->b, l->w, dy, x, mu, rstd, N, d);
}

/* The gate's elementwise work is split over tr_threads() in blocks of
 * GATE_BLOCK entries: with thousands of rows it is the largest non-sgemm cost. */
#define GATE_BLOCK 16384

typedef struct {
    float *dU, *dG, *dTE, *A;
    const float *dA, *G, *TE, *U;
    size_t n;
} gate_job;

static void gate_fwd_range(float *A, const float *G, const float *TE, const float *U, size_t n) {
    for (size_t i = 0; i < n; i++) A[i] = G[i] * TE[i];
    swiglu_vec(A, A, U, n); /* silu(g*te) * up, elementwise so in place is safe */
}

static void gate_bwd_range(float *dU, float *dG, float *dTE, const float *dA, const float *G, const float *TE,
                           const float *U, size_t n);

static void gate_part(void *arg, int lo, int hi, int tid) {
    (void)tid;
    const gate_job *j = arg;
    size_t a = (size_t)lo * GATE_BLOCK, b = (size_t)hi * GATE_BLOCK < j->n ? (size_t)hi * GATE_BLOCK : j->n;
    if (j->A)
        gate_fwd_range(j->A + a, j->G + a, j->TE + a, j->U + a, b - a);
    else
        gate_bwd_range(j->dU + a, j->dG + a, j->dTE + a, j->dA + a, j->G + a, j->TE + a, j->U + a, b - a);
}

static void gate_run(gate_job *j) {
    int parts = (int)((j->n + GATE_BLOCK - 1) / GATE_BLOCK);
    if (parts > 1) /* elementwise: ranges claimed by whichever thread is free */
        tr_parallel_chunks(parts, (parts + 7) / 8, gate_part, j);
    else if (parts == 1)
        gate_part(j, 0, 1, 0);
}

void glp_gate_fwd(float *A, const float *G, const float *TE, const float *U, size_t n) {
    gate_job j = {.A = A, .G = G, .TE = TE, .U = U, .n = n};
    gate_run(&j);
}

void glp_gate_bwd(float *dU, float *dG, float *dTE, const float *dA, const float *G, const float *TE,
                  const float *U, size_t n) {
    gate_job j = {.dU = dU, .dG = dG, .dTE = dTE, .dA = dA, .G = G, .TE = TE, .U = U, .n = n};
    gate_run(&j);
}

static void gate_bwd_range(float *dU, float *dG, float *dTE, const float *dA, const float *G, const float *TE,
                           const float *U, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float z = G[i] * TE[i], da = dA[i];
        float dz = da * U[i] * dsilu(z);
        dU[i] = da * z * sigmoidf_(z);
        dG[i] = dz * TE[i]; /* dG may alias dA: da was read first */
        dTE[i] = dz * G[i];
    }
}

/* ------------------------------------------------------------ workspace */

typedef struct {
    float *h, *post, *mu, *rstd, *U, *G, *TE, *A;
} glp_act;

#define TAU_CACHE 32 /* distinct sigmas remembered (a projection uses 10, sampling n) */

struct glp_work {
    int cap, d_in, D, H, L;
    bool uniform; /* every row of the current chunk has the same tau */
    bool cache_on; /* the weights stay fixed: reuse the time path per tau */
    int cached, next;
    float ctau[TAU_CACHE];
    int clayer[TAU_CACHE]; /* multi-layer GLPs add the layer's embedding */
    float *cemb, *cte; /* [TAU_CACHE][D], [TAU_CACHE][L][H] */
    float *xin, *tau, *e0, *a1, *s1, *emb;     /* time embedding path */
    float *le_in, *le_a1, *le_s1, *le_out; /* layer embedding, one row */
    glp_act *act;                               /* L blocks */
    float *hL, *P, *mu, *rstd, *out;            /* final LN and output */
    float *dh, *dpost, *dA, *dU, *dTE, *demb, *ds1, *dle; /* backward scratch */
};

glp_work *glp_work_new(const glp_config *c, int cap) {
    glp_work *w = xcalloc(1, sizeof *w);
    size_t n = (size_t)(cap > 0 ? cap : 1), D = (size_t)c->d_model, H = (size_t)c->d_mlp;
    w->cap = (int)n, w->d_in = c->d_input, w->D = c->d_model, w->H = c->d_mlp, w->L = c->n_layers;
#define A_(k) xmalloc(sizeof(float) * (k))
    w->xin = A_(n * (size_t)c->d_input), w->tau = A_(n);
    w->e0 = A_(n * D), w->a1 = A_(n * D), w->s1 = A_(n * D), w->emb = A_(n * D);
    w->le_in = A_(D), w->le_a1 = A_(D), w->le_s1 = A_(D), w->le_out = A_(D), w->dle = A_(2 * D);
    w->act = xcalloc((size_t)c->n_layers + 1, sizeof(glp_act));
    for (int l = 0; l < c->n_layers; l++) {
        glp_act *a = &w->act[l];
        a->h = A_(n * D), a->post = A_(n * D), a->mu = A_(n), a->rstd = A_(n);
        a->U = A_(n * H), a->G = A_(n * H), a->TE = A_(n * H), a->A = A_(n * H);
    }
    w->hL = A_(n * D), w->P = A_(n * D), w->mu = A_(n), w->rstd = A_(n), w->out = A_(n * (size_t)c->d_input);
    w->dh = A_(n * D), w->dpost = A_(n * D), w->dA = A_(n * H), w->dU = A_(n * H), w->dTE = A_(n * H);
    w->demb = A_(n * D), w->ds1 = A_(n * D);
#undef A_
    return w;
}

int glp_work_cap(const glp_work *w) { return w->cap; }

void glp_work_cache(glp_work *w, bool on) {
    w->cache_on = on;
    w->cached = w->next = 0;
    if (on && !w->cemb) {
        w->cemb = xmalloc(sizeof(float) * TAU_CACHE * (size_t)w->D);
        w->cte = xmalloc(sizeof(float) * TAU_CACHE * (size_t)w->L * w->H);
    }
}

void glp_work_free(glp_work *w) {
    if (!w) return;
    free(w->cemb), free(w->cte);
    free(w->xin), free(w->tau), free(w->e0), free(w->a1), free(w->s1), free(w->emb);
    free(w->le_in), free(w->le_a1), free(w->le_s1), free(w->le_out), free(w->dle);
    for (int l = 0; l < w->L; l++) {
        glp_act *a = &w->act[l];
        free(a->h), free(a->post), free(a->mu), free(a->rstd), free(a->U), free(a->G), free(a->TE), free(a->A);
    }
    free(w->act);
    free(w->hL), free(w->P), free(w->mu), free(w->rstd), free(w->out);
    free(w->dh), free(w->dpost), free(w->dA), free(w->dU), free(w->dTE), free(w->demb), free(w->ds1);
    free(w);
}

/* ------------------------------------------------------------ forward */

static bool uses_layer(const glp_model *m) { return m->c.multi_layer_n_layers > 1; }

static int check_layer(const glp_model *m, int layer) {
    if (uses_layer(m) && (layer < 0 || layer >= m->c.multi_layer_n_layers))
        return ms_seterr("layer index %d outside 0..%d of the multi-layer GLP (glp)", layer,
                         m->c.multi_layer_n_layers - 1);
    return 0;
}

/* emb rows = time_embed(sin(tau)) [+ layer_embed(sin(depth))] */
static bool same_tau(const glp_work *w, int N) {
    for (int r = 1; r < N; r++)
        if (w->tau[r] != w->tau[0]) return false;
    return true;
}

/* Copies row 0 of x[N, n] to the other rows. */
static void broadcast(float *x, int N, int n) {
    for (int r = 1; r < N; r++) memcpy(x + (size_t)r * n, x, sizeof(float) * (size_t)n);
}

static void embed_fwd(const glp_model *m, glp_work *w, int N, int layer) {
    int D = w->D;
    /* Sampling and projection give every row the same sigma: embed it once. */
    int E = w->uniform ? 1 : N;
    glp_timestep_embedding(w->e0, w->tau, E, D);
    lin_fwd(w->a1, w->e0, &m->p.te0, E, D, D);
    silu_fwd(w->s1, w->a1, (size_t)E * D);
    lin_fwd(w->emb, w->s1, &m->p.te2, E, D, D);
    if (w->uniform) /* the backward reads every row of these */
        broadcast(w->e0, N, D), broadcast(w->a1, N, D), broadcast(w->s1, N, D), broadcast(w->emb, N, D);
    if (!uses_layer(m)) return;
    /* the same layer depth for every row: embed it once and broadcast */
    float depth = (float)layer / (float)(m->c.multi_layer_n_layers - 1);
    glp_timestep_embedding(w->le_in, &depth, 1, D);
    lin_fwd(w->le_a1, w->le_in, &m->p.le0, 1, D, D);
    silu_fwd(w->le_s1, w->le_a1, (size_t)D);
    lin_fwd(w->le_out, w->le_s1, &m->p.le2, 1, D, D);
    for (int r = 0; r < N; r++) axpy(w->emb + (size_t)r * D, 1.0f, w->le_out, D);
}

/* te: 0 = compute TE per row, 1 = once (one tau for all rows), 2 = TE is
 * already filled (from the tau cache). */
static void block_fwd(const glp_block *b, glp_act *a, float *hnext, const float *emb, int N, int D, int H, int te) {
    ln_fwd(a->post, a->mu, a->rstd, a->h, &b->ln, N, D);
    lin_fwd(a->U, a->post, &b->up, N, D, H);
    lin_fwd(a->G, a->post, &b->gate, N, D, H);
    if (te < 2) lin_fwd(a->TE, emb, &b->time, te ? 1 : N, D, H);
    if (te == 1) broadcast(a->TE, N, H);
    glp_gate_fwd(a->A, a->G, a->TE, a->U, (size_t)N * H);
    memcpy(hnext, a->h, sizeof(float) * (size_t)N * D);
    /* residual add through beta = 1, bias added by hand */
    for (int r = 0; r < N; r++) axpy(hnext + (size_t)r * D, 1.0f, b->down.b, D);
    if (b->down.held.data) { /* held in BF16 (inference only): post is free scratch now */
        wmat_linear(a->post, a->A, &b->down.held, NULL, N);
        for (size_t i = 0; i < (size_t)N * D; i++) hnext[i] += a->post[i];
    } else if (N == 1) gemv_acc(hnext, b->down.w, a->A, D, H);
    else tr_gemm_par(false, true, N, D, H, 1.0f, a->A, H, b->down.w, H, 1.0f, hnext, D);
}

/* Forward of N <= cap rows whose input is w->xin and timesteps w->tau. */
static void fwd_chunk(const glp_model *m, glp_work *w, int N, int layer) {
    int D = w->D, H = w->H, L = w->L;
    w->uniform = same_tau(w, N);
    int hit = -1;
    for (int i = 0; w->cache_on && w->uniform && i < w->cached && hit < 0; i++)
        if (w->ctau[i] == w->tau[0] && w->clayer[i] == layer) hit = i;
    if (hit >= 0) { /* the time path of this sigma is known: copy it to every row */
        for (int r = 0; r < N; r++) memcpy(w->emb + (size_t)r * D, w->cemb + (size_t)hit * D, sizeof(float) * D);
        for (int l = 0; l < L; l++)
            for (int r = 0; r < N; r++)
                memcpy(w->act[l].TE + (size_t)r * H, w->cte + ((size_t)hit * L + l) * H, sizeof(float) * H);
    } else embed_fwd(m, w, N, layer);
    lin_fwd(L > 0 ? w->act[0].h : w->hL, w->xin, &m->p.in_proj, N, w->d_in, D);
    for (int l = 0; l < L; l++)
        block_fwd(&m->p.blocks[l], &w->act[l], l + 1 < L ? w->act[l + 1].h : w->hL, w->emb, N, D, H,
                  hit >= 0 ? 2 : w->uniform);
    if (hit < 0 && w->cache_on && w->uniform) { /* remember this sigma's time path */
        int i = w->next;
        w->next = (w->next + 1) % TAU_CACHE;
        if (w->cached < TAU_CACHE) w->cached++;
        w->ctau[i] = w->tau[0], w->clayer[i] = layer;
        memcpy(w->cemb + (size_t)i * D, w->emb, sizeof(float) * D);
        for (int l = 0; l < L; l++) memcpy(w->cte + ((size_t)i * L + l) * H, w->act[l].TE, sizeof(float) * H);
    }
    ln_fwd(w->P, w->mu, w->rstd, w->hL, &m->p.ln, N, D);
    lin_fwd(w->out, w->P, &m->p.out_proj, N, D, w->d_in);
}

static void copy_meta(const glp_work *w, float *meta, int N_total, int r0, int N) {
    for (int l = 0; l < w->L; l++)
        memcpy(meta + ((size_t)l * N_total + r0) * w->H, w->act[l].A, sizeof(float) * (size_t)N * w->H);
}

int glp_forward(const glp_model *m, glp_work *w, float *out, const float *x, const float *tau, int N, int layer,
                float *meta) {
    if (check_layer(m, layer)) return -1;
    int di = m->c.d_input;
    for (int r0 = 0; r0 < N; r0 += w->cap) {
        int n = N - r0 < w->cap ? N - r0 : w->cap;
        memcpy(w->xin, x + (size_t)r0 * di, sizeof(float) * (size_t)n * di);
        memcpy(w->tau, tau + r0, sizeof(float) * (size_t)n);
        fwd_chunk(m, w, n, layer);
        memcpy(out + (size_t)r0 * di, w->out, sizeof(float) * (size_t)n * di);
        if (meta) copy_meta(w, meta, N, r0, n);
    }
    return 0;
}

/* ------------------------------------------------------------ backward */

static void embed_bwd(glp_model *m, glp_work *w, int N) {
    int D = w->D;
    size_t nd = (size_t)N * D;
    lin_bwd(w->ds1, false, &m->g.te2, &m->p.te2, w->demb, w->s1, N, D, D);
    for (size_t i = 0; i < nd; i++) w->ds1[i] *= dsilu(w->a1[i]);
    lin_bwd(NULL, false, &m->g.te0, &m->p.te0, w->ds1, w->e0, N, D, D);
    if (!uses_layer(m)) return;
    float *dout = w->dle, *ds = w->dle + D;
    memset(dout, 0, sizeof(float) * (size_t)D);
    colsum_add(dout, w->demb, N, D); /* broadcast's gradient: sum over rows */
    lin_bwd(ds, false, &m->g.le2, &m->p.le2, dout, w->le_s1, 1, D, D);
    for (int i = 0; i < D; i++) ds[i] *= dsilu(w->le_a1[i]);
    lin_bwd(NULL, false, &m->g.le0, &m->p.le0, ds, w->le_in, 1, D, D);
}

/* w->dh holds d/d(h_next); on return it holds d/d(h) of this block's input. */
static void block_bwd(const glp_block *b, const glp_block *g, const glp_act *a, glp_work *w, int N) {
    int D = w->D, H = w->H;
    size_t nh = (size_t)N * H;
    lin_bwd(w->dA, false, &g->down, &b->down, w->dh, a->A, N, H, D);
    float *dU = w->dU, *dG = w->dA, *dTE = w->dTE; /* dG overwrites dA entry by entry */
    glp_gate_bwd(dU, dG, dTE, w->dA, a->G, a->TE, a->U, nh);
    lin_bwd(w->demb, true, &g->time, &b->time, dTE, w->emb, N, D, H);
    lin_bwd(w->dpost, false, &g->up, &b->up, dU, a->post, N, D, H);
    lin_bwd(w->dpost, true, &g->gate, &b->gate, dG, a->post, N, D, H);
    ln_bwd(w->dh, &g->ln, &b->ln, w->dpost, a->h, a->mu, a->rstd, N, D); /* residual: dh kept, LN added */
}

/* Backward from dout = w->out (overwritten by the caller with d loss/d out). */
static void bwd_chunk(glp_model *m, glp_work *w, int N) {
    int D = w->D, L = w->L;
    memset(w->dh, 0, sizeof(float) * (size_t)N * D);
    memset(w->demb, 0, sizeof(float) * (size_t)N * D);
    lin_bwd(w->dpost, false, &m->g.out_proj, &m->p.out_proj, w->out, w->P, N, D, w->d_in);
    ln_bwd(w->dh, &m->g.ln, &m->p.ln, w->dpost, w->hL, w->mu, w->rstd, N, D);
    for (int l = L - 1; l >= 0; l--) block_bwd(&m->p.blocks[l], &m->g.blocks[l], &w->act[l], w, N);
    lin_bwd(NULL, false, &m->g.in_proj, &m->p.in_proj, w->dh, w->xin, N, w->d_in, D);
    embed_bwd(m, w, N);
}

double glp_fm_loss(glp_model *m, glp_work *w, const float *x, const float *eps, const float *u, int N, int layer,
                   bool grad) {
    if (check_layer(m, layer)) return NAN;
    if (grad && m->half) return ms_seterr("the GLP is held in BF16 for inference: no gradients (glp)"), NAN;
    if (N < 1 || N > w->cap) return ms_seterr("batch of %d rows exceeds the workspace (%d) (glp)", N, w->cap), NAN;
    int di = w->d_in;
    for (int r = 0; r < N; r++) {
        int k = (int)floorf(u[r] * FM_GRID);
        k = k < 0 ? 0 : k >= FM_GRID ? FM_GRID - 1 : k;
        float s = glp_grid(k, FM_GRID);
        w->tau[r] = 1000.0f * s;
        for (int i = 0; i < di; i++) {
            size_t j = (size_t)r * di + i;
            w->xin[j] = (1 - s) * x[j] + s * eps[j];
        }
    }
    fwd_chunk(m, w, N, layer);
    size_t n = (size_t)N * di;
    double loss = 0;
    float scale = 2.0f / (float)n;
    for (size_t j = 0; j < n; j++) {
        float e = w->out[j] - (eps[j] - x[j]);
        loss += (double)e * e;
        w->out[j] = scale * e; /* becomes d loss / d out */
    }
    if (grad) bwd_chunk(m, w, N);
    return loss / (double)n;
}

/* ------------------------------------------------------------ sampling */

int glp_meta_neurons(const glp_model *m, glp_work *w, float *meta, const float *x, const float *eps, int N,
                     int layer) {
    if (check_layer(m, layer)) return -1;
    int di = m->c.d_input;
    float s = glp_grid(GLP_META_SIGMA_INDEX, FM_GRID);
    for (int r0 = 0; r0 < N; r0 += w->cap) {
        int n = N - r0 < w->cap ? N - r0 : w->cap;
        for (size_t j = 0; j < (size_t)n * di; j++) {
            size_t k = (size_t)r0 * di + j;
            w->xin[j] = (1 - s) * x[k] + s * eps[k];
        }
        for (int r = 0; r < n; r++) w->tau[r] = 1000.0f * s;
        fwd_chunk(m, w, n, layer);
        copy_meta(w, meta, N, r0, n);
    }
    return 0;
}
