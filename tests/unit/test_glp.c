/* test_glp.c — the GLP denoiser (engine/glp.c).
 *
 * 1. Central finite differences against each backward piece (linear with
 *    bias, LayerNorm, the gated SiLU-with-time product), then against the
 *    whole flow-matching loss on small models: every entry of one middle
 *    block and of the time-embedding MLP (and the layer-embedding MLP of a
 *    multi-layer model), and sampled entries of every tensor.
 * 2. The PyTorch float64 reference of tools/gen_glp_fixture.py
 *    (tests/fixtures/glp/{single,multi}): forward, loss, every gradient,
 *    meta-neurons, Euler sample, projection, to 1e-4 in ||d||inf/||ref||inf.
 * 3. Save/load round trip under the reference names.
 * 4. Throughput of forward+backward (batch 4096, d_in 256, d_model 512,
 *    d_mlp 1024, 3 blocks, 2 threads) when MS_GLP_BENCH is set; a small
 *    batch otherwise, to keep `make test` quick. */
#include "testutil.h"
#include "gradcheck.h"
#include "refcheck.h"

#include "frechet.h"
#include "glp.h"
#include "glp_folder.h"
#include "glp_ode.h"
#include "ops.h"
#include "rng.h"
#include "safetensors.h"
#include "train_ops.h"
#include "util.h"

#include <unistd.h>

#define RTOL 1e-2  /* finite differences in float32 */
#define REF_TOL 1e-4

/* ---------------------------------------------------------------- linear */

typedef struct {
    int N, in, out;
    float *x, *W, *b, *y, *R;
} lin_ctx;

static double lin_loss(void *arg) {
    lin_ctx *c = arg;
    glp_linear_fwd(c->y, c->x, c->W, c->b, c->N, c->in, c->out);
    return dot_d(c->y, c->R, (size_t)c->N * c->out);
}

static void test_fd_linear(void **st) {
    (void)st;
    rng_t r;
    rng_seed(&r, 1);
    lin_ctx c = {.N = 37, .in = 13, .out = 11}; /* not multiples of the sgemm split */
    size_t nx = (size_t)c.N * c.in, nw = (size_t)c.out * c.in, ny = (size_t)c.N * c.out;
    c.x = vec(nx), c.W = vec(nw), c.b = vec(c.out), c.y = vec(ny), c.R = vec(ny);
    fill(c.x, nx, 1, &r), fill(c.W, nw, 0.5f, &r), fill(c.b, c.out, 0.5f, &r), fill(c.R, ny, 1, &r);
    float *dx = vec(nx), *dW = vec(nw), *db = vec(c.out);
    glp_linear_bwd(dx, false, dW, db, c.W, c.R, c.x, c.N, c.in, c.out);
    double e = fd_check("linear dx", c.x, dx, nx, 0, 1e-2f, 1e-2, lin_loss, &c, &r);
    e = fmax(e, fd_check("linear dW", c.W, dW, nw, 0, 1e-2f, 1e-2, lin_loss, &c, &r));
    e = fmax(e, fd_check("linear db", c.b, db, c.out, 0, 1e-2f, 1e-2, lin_loss, &c, &r));
    /* accumulate mode adds onto dx */
    float *dx2 = vec(nx);
    for (size_t i = 0; i < nx; i++) dx2[i] = 1;
    glp_linear_bwd(dx2, true, dW, db, c.W, c.R, c.x, c.N, c.in, c.out);
    for (size_t i = 0; i < nx; i++) assert_true(fabsf(dx2[i] - 1 - dx[i]) < 1e-5f);
    assert_true(e < RTOL);
    free(c.x), free(c.W), free(c.b), free(c.y), free(c.R), free(dx), free(dW), free(db), free(dx2);
}

/* ---------------------------------------------------------------- layernorm */

typedef struct {
    int N, d;
    float *x, *w, *b, *y, *mu, *rs, *R;
} ln_ctx;

static double ln_loss(void *arg) {
    ln_ctx *c = arg;
    glp_layernorm_fwd(c->y, c->mu, c->rs, c->x, c->w, c->b, c->N, c->d);
    return dot_d(c->y, c->R, (size_t)c->N * c->d);
}

static void test_fd_layernorm(void **st) {
    (void)st;
    rng_t r;
    rng_seed(&r, 2);
    ln_ctx c = {.N = 9, .d = 24};
    size_t n = (size_t)c.N * c.d;
    c.x = vec(n), c.w = vec(c.d), c.b = vec(c.d), c.y = vec(n), c.mu = vec(c.N), c.rs = vec(c.N), c.R = vec(n);
    fill(c.x, n, 2, &r), fill(c.b, c.d, 0.5f, &r), fill(c.R, n, 1, &r);
    for (int i = 0; i < c.d; i++) c.w[i] = 1 + 0.3f * rng_normal(&r);
    for (int t = 0; t < c.N; t++) c.x[t * c.d] += 3; /* a nonzero row mean */
    ln_loss(&c);
    float *dx = vec(n), *dw = vec(c.d), *db = vec(c.d);
    glp_layernorm_bwd(dx, dw, db, c.w, c.R, c.x, c.mu, c.rs, c.N, c.d);
    double e = fd_check("layernorm dx", c.x, dx, n, 0, 1e-2f, 1e-2, ln_loss, &c, &r);
    e = fmax(e, fd_check("layernorm dw", c.w, dw, c.d, 0, 1e-2f, 1e-2, ln_loss, &c, &r));
    e = fmax(e, fd_check("layernorm db", c.b, db, c.d, 0, 1e-2f, 1e-2, ln_loss, &c, &r));
    assert_true(e < RTOL);
    free(c.x), free(c.w), free(c.b), free(c.y), free(c.mu), free(c.rs), free(c.R), free(dx), free(dw), free(db);
}

/* ---------------------------------------------------------------- gate */

typedef struct {
    size_t n;
    float *G, *TE, *U, *A, *R;
} gate_ctx;

static double gate_loss(void *arg) {
    gate_ctx *c = arg;
    glp_gate_fwd(c->A, c->G, c->TE, c->U, c->n);
    return dot_d(c->A, c->R, c->n);
}

static void test_fd_gate(void **st) {
    (void)st;
    rng_t r;
    rng_seed(&r, 3);
    gate_ctx c = {.n = 300};
    c.G = vec(c.n), c.TE = vec(c.n), c.U = vec(c.n), c.A = vec(c.n), c.R = vec(c.n);
    fill(c.G, c.n, 1.5f, &r), fill(c.TE, c.n, 1.5f, &r), fill(c.U, c.n, 1, &r), fill(c.R, c.n, 1, &r);
    float *dU = vec(c.n), *dG = vec(c.n), *dTE = vec(c.n);
    glp_gate_bwd(dU, dG, dTE, c.R, c.G, c.TE, c.U, c.n);
    double e = fd_check("gate dG", c.G, dG, c.n, 0, 1e-2f, 1e-2, gate_loss, &c, &r);
    e = fmax(e, fd_check("gate dTE", c.TE, dTE, c.n, 0, 1e-2f, 1e-2, gate_loss, &c, &r));
    e = fmax(e, fd_check("gate dU", c.U, dU, c.n, 0, 1e-2f, 1e-2, gate_loss, &c, &r));
    /* dG aliasing dA (as the block does) gives the same result */
    float *alias = vec(c.n);
    memcpy(alias, c.R, sizeof(float) * c.n);
    glp_gate_bwd(dU, alias, dTE, alias, c.G, c.TE, c.U, c.n);
    assert_true(max_rel_err(alias, dG, c.n, 1e-6) == 0);
    assert_true(e < RTOL);
    free(c.G), free(c.TE), free(c.U), free(c.A), free(c.R), free(dU), free(dG), free(dTE), free(alias);
}

/* ---------------------------------------------------------------- whole model */

typedef struct {
    glp_model m;
    glp_work *w;
    int N, layer;
    float *x, *eps, *u;
} model_ctx;

static double model_loss(void *arg) {
    model_ctx *c = arg;
    return glp_fm_loss(&c->m, c->w, c->x, c->eps, c->u, c->N, c->layer, false);
}

static void model_setup(model_ctx *c, const glp_config *cfg, int N, int layer, rng_t *r) {
    assert_int_equal(glp_init(&c->m, cfg), 0);
    glp_init_random(&c->m, r);
    /* biases and LayerNorm affine away from their init so every path is exercised */
    int nt;
    glp_tensor t[64];
    nt = glp_tensors(cfg, t, 64);
    assert_true(nt <= 64);
    for (int k = 0; k < nt; k++)
        if (!t[k].cols)
            for (size_t i = 0; i < t[k].size; i++) c->m.flat[t[k].offset + i] += 0.2f * rng_normal(r);
    c->w = glp_work_new(cfg, N);
    c->N = N, c->layer = layer;
    size_t n = (size_t)N * cfg->d_input;
    c->x = vec(n), c->eps = vec(n), c->u = vec((size_t)N);
    fill(c->x, n, 1, r), fill(c->eps, n, 1, r);
    for (int i = 0; i < N; i++) c->u[i] = rng_uniform(r);
    glp_zero_grad(&c->m);
    double loss = glp_fm_loss(&c->m, c->w, c->x, c->eps, c->u, N, layer, true);
    assert_true(isfinite(loss));
}

static void model_teardown(model_ctx *c) {
    glp_work_free(c->w);
    glp_free(&c->m);
    free(c->x), free(c->eps), free(c->u);
}

/* FD over the tensors whose names contain `match` (all entries, or samples). */
static double fd_tensors(model_ctx *c, const char *label, const char *match, int samples, rng_t *r) {
    glp_tensor t[64];
    int nt = glp_tensors(&c->m.c, t, 64);
    double worst = 0;
    for (int k = 0; k < nt; k++) {
        if (!strstr(t[k].name, match)) continue;
        char nm[96];
        snprintf(nm, sizeof nm, "%s %s", label, t[k].name + 6);
        worst = fmax(worst, fd_check(nm, c->m.flat + t[k].offset, c->m.grad + t[k].offset, t[k].size, samples,
                                     5e-3f, 2e-3, model_loss, c, r));
    }
    return worst;
}

static void test_fd_model(void **st) {
    (void)st;
    rng_t r;
    rng_seed(&r, 4);
    glp_config cfg = {.d_input = 6, .d_model = 12, .d_mlp = 20, .n_layers = 3};
    model_ctx c;
    model_setup(&c, &cfg, 19, -1, &r);
    double e = fd_tensors(&c, "block", "layers.1.", 0, &r);
    e = fmax(e, fd_tensors(&c, "time mlp", "time_embed", 0, &r));
    e = fmax(e, fd_tensors(&c, "model", "model.", 12, &r));
    model_teardown(&c);
    assert_true(e < RTOL);
}

static void test_fd_model_multi(void **st) {
    (void)st;
    rng_t r;
    rng_seed(&r, 5);
    glp_config cfg = {.d_input = 5, .d_model = 8, .d_mlp = 12, .n_layers = 2, .multi_layer_n_layers = 4};
    model_ctx c;
    model_setup(&c, &cfg, 11, 1, &r);
    double e = fd_tensors(&c, "layer mlp", "layer_embed", 0, &r);
    e = fmax(e, fd_tensors(&c, "multi", "model.", 12, &r));
    /* a multi-layer model refuses a missing layer index */
    assert_true(isnan(glp_fm_loss(&c.m, c.w, c.x, c.eps, c.u, c.N, -1, false)));
    model_teardown(&c);
    assert_true(e < RTOL);
}

/* ---------------------------------------------------------------- reference */

static void run_reference(const char *dir, const glp_config *cfg, int layer) {
    char path[256];
    glp_model m;
    assert_int_equal(glp_load(&m, dir, cfg), 0);
    snprintf(path, sizeof path, "%s/ref.safetensors", dir);
    st_file f;
    assert_int_equal(st_open(&f, path), 0);
    size_t nx;
    float *x = ref_get(&f, "x", &nx), *tau = ref_get(&f, "tau", NULL);
    int di = cfg->d_input, N = (int)(nx / (size_t)di);
    glp_work *w = glp_work_new(cfg, 5); /* smaller than N: the chunked path */
    float *out = vec(nx);
    assert_int_equal(glp_forward(&m, w, out, x, tau, N, layer, NULL), 0);
    double e = check("forward", out, &f, "out", nx);

    /* loss and gradients (one chunk: the backward needs all rows) */
    glp_work_free(w);
    w = glp_work_new(cfg, N);
    float *fx = ref_get(&f, "fm_x", NULL), *fe = ref_get(&f, "fm_eps", NULL), *fu = ref_get(&f, "fm_u", NULL);
    glp_zero_grad(&m);
    float loss = (float)glp_fm_loss(&m, w, fx, fe, fu, N, layer, true);
    e = fmax(e, check("flow-matching loss", &loss, &f, "fm_loss", 1));
    glp_tensor t[64];
    int nt = glp_tensors(cfg, t, 64);
    double ge = 0;
    for (int k = 0; k < nt; k++) {
        char nm[sizeof t[k].name + 8] = "grad.";
        strcat(nm, t[k].name);
        size_t n;
        float *ref = ref_get(&f, nm, &n);
        assert_int_equal(n, t[k].size);
        double te = inf_err(m.grad + t[k].offset, ref, n);
        if (te > ge || getenv("GLP_VERBOSE")) printf("#   %-36s %.2e\n", t[k].name, te);
        ge = fmax(ge, te);
        free(ref);
    }
    printf("# %-40s ||d||inf/||ref||inf %.2e (%d tensors)\n", "gradients (worst tensor)", ge, nt);
    e = fmax(e, ge);

    /* meta-neurons */
    float *mx = ref_get(&f, "meta_x", NULL), *me = ref_get(&f, "meta_eps", NULL);
    size_t nmeta = (size_t)cfg->n_layers * N * cfg->d_mlp;
    float *meta = vec(nmeta);
    assert_int_equal(glp_meta_neurons(&m, w, meta, mx, me, N, layer), 0);
    e = fmax(e, check("meta-neurons (sigma 0.1)", meta, &f, "meta", nmeta));

    /* Euler sample, 8 steps */
    size_t ns;
    float *z = ref_get(&f, "sample_noise", &ns);
    assert_int_equal(glp_sample(&m, w, z, (int)(ns / (size_t)di), 8, layer), 0);
    e = fmax(e, check("Euler sample n=8", z, &f, "sample", ns));

    /* projection u 0.5, n 20 with the given noise */
    float *mean = ref_get(&f, "mean", NULL), *var = ref_get(&f, "var", NULL);
    float *h = ref_get(&f, "proj_h", NULL), *pe = ref_get(&f, "proj_eps", NULL);
    glp_set_stats(&m, mean, var);
    assert_int_equal(glp_project(&m, w, h, (int)(ns / (size_t)di), 0.5f, 20, layer, pe, NULL), 0);
    e = fmax(e, check("projection u=0.5 n=20", h, &f, "proj_out", ns));

    free(x), free(tau), free(out), free(fx), free(fe), free(fu), free(mx), free(me), free(meta), free(z);
    free(mean), free(var), free(h), free(pe);
    glp_work_free(w);
    st_close(&f);
    glp_free(&m);
    assert_true(e < REF_TOL);
}

static void test_reference_single(void **st) {
    (void)st;
    glp_config cfg = {.d_input = 16, .d_model = 32, .d_mlp = 64, .n_layers = 3, .multi_layer_n_layers = 1};
    run_reference(FIXTURES "/glp/single", &cfg, -1);
}

static void test_reference_multi(void **st) {
    (void)st;
    glp_config cfg = {.d_input = 8, .d_model = 16, .d_mlp = 32, .n_layers = 2, .multi_layer_n_layers = 5};
    run_reference(FIXTURES "/glp/multi", &cfg, 2);
}

static void test_sigma(void **st) {
    (void)st;
    /* the documented sigmas: meta-neurons at 0.1, projection starts at 0.474 */
    assert_true(fabsf(glp_grid(GLP_META_SIGMA_INDEX, 1000) - 0.1f) < 1e-7f);
    assert_true(fabsf(glp_grid(10, 20) - 0.4742105f) < 1e-7f);
    assert_true(glp_grid(20, 20) == 0 && glp_grid(0, 20) == 1);
}

/* ---------------------------------------------------------------- load/save */

static void test_load_errors_and_roundtrip(void **st) {
    (void)st;
    glp_config cfg = {.d_input = 16, .d_model = 32, .d_mlp = 64, .n_layers = 3, .multi_layer_n_layers = 1};
    glp_model m, m2;
    assert_int_equal(glp_load(&m, FIXTURES "/glp/single", &cfg), 0);
    char tmp[64];
    snprintf(tmp, sizeof tmp, "/tmp/test_glp_%d.safetensors", (int)getpid());
    assert_int_equal(glp_save(&m, tmp), 0);
    assert_int_equal(glp_load_file(&m2, tmp, &cfg), 0);
    assert_true(max_rel_err(m2.flat, m.flat, m.n_params, 1e-30) == 0);
    st_file f;
    assert_int_equal(st_open(&f, tmp), 0);
    assert_non_null(st_find(&f, "model.layers.2.time_proj.weight")); /* written without prefix */
    st_close(&f);
    unlink(tmp);
    glp_free(&m2);
    /* mismatches are refused with a message */
    glp_config two = cfg;
    two.n_layers = 2;
    assert_int_equal(glp_load(&m2, FIXTURES "/glp/single", &two), -1);
    printf("# %s\n", ms_geterr());
    glp_config wide = cfg;
    wide.d_mlp = 32;
    assert_int_equal(glp_load(&m2, FIXTURES "/glp/single", &wide), -1);
    printf("# %s\n", ms_geterr());
    glp_config multi = {.d_input = 8, .d_model = 16, .d_mlp = 32, .n_layers = 2, .multi_layer_n_layers = 1};
    assert_int_equal(glp_load(&m2, FIXTURES "/glp/multi", &multi), -1);
    printf("# %s\n", ms_geterr());
    assert_int_equal(glp_load(&m2, FIXTURES "/glp/nonexistent", &cfg), -1);
    glp_free(&m);
}

/* ---------------------------------------------------------------- fast paths */

/* Inference shortcuts give the same numbers as the plain batched pass: one
 * row through sgemv, a shared sigma embedded once, and the per-sigma cache of
 * the time path (checked for a single- and a multi-layer model). */
static void test_fast_paths(void **st) {
    (void)st;
    for (int multi = 0; multi < 2; multi++) {
        glp_config cfg = {.d_input = 16, .d_model = 32, .d_mlp = 64, .n_layers = 2, .multi_layer_n_layers = multi ? 3 : 0};
        int N = 5, layer = multi ? 1 : -1;
        rng_t r;
        rng_seed(&r, 11);
        glp_model m;
        assert_int_equal(glp_init(&m, &cfg), 0);
        glp_init_random(&m, &r);
        size_t n = (size_t)N * cfg.d_input;
        float *x = vec(n), *tau = vec((size_t)N), *ref = vec(n), *out = vec(n), *one = vec(n);
        fill(x, n, 1, &r);
        for (int i = 0; i < N; i++) tau[i] = 474.0f;
        tau[N - 1] = 473.0f; /* not uniform: the reference computes every row's time path */
        glp_work *w = glp_work_new(&cfg, N);
        assert_int_equal(glp_forward(&m, w, ref, x, tau, N, layer, NULL), 0);
        tau[N - 1] = 474.0f;
        float *ref2 = vec(n);
        assert_int_equal(glp_forward(&m, w, ref2, x, tau, N, layer, NULL), 0);
        /* rows 0..N-2 saw the same tau in both passes */
        assert_true(max_rel_err(ref2, ref, n - cfg.d_input, 1e-3) < 1e-4);
        for (int i = 0; i < N; i++) /* one row at a time: sgemv */
            assert_int_equal(glp_forward(&m, w, one + (size_t)i * cfg.d_input, x + (size_t)i * cfg.d_input, tau + i, 1,
                                         layer, NULL), 0);
        printf("# one row vs batch: %g\n", max_rel_err(one, ref2, n, 1e-3));
        assert_true(max_rel_err(one, ref2, n, 1e-3) < 1e-4); /* summation order differs */
        glp_work_cache(w, true);
        for (int k = 0; k < 2; k++) { /* a miss fills the cache, then a hit reads it */
            assert_int_equal(glp_forward(&m, w, out, x, tau, N, layer, NULL), 0);
            assert_true(max_rel_err(out, ref2, n, 1e-3) == 0);
        }
        if (multi) { /* another layer must not hit the first layer's entry */
            float *o2 = vec(n), *o3 = vec(n);
            glp_work_cache(w, false);
            assert_int_equal(glp_forward(&m, w, o2, x, tau, N, 2, NULL), 0);
            glp_work_cache(w, true);
            assert_int_equal(glp_forward(&m, w, out, x, tau, N, layer, NULL), 0);
            assert_int_equal(glp_forward(&m, w, o3, x, tau, N, 2, NULL), 0);
            assert_true(max_rel_err(o3, o2, n, 1e-3) == 0);
            free(o2), free(o3);
        }
        free(x), free(tau), free(ref), free(ref2), free(out), free(one);
        glp_work_free(w);
        glp_free(&m);
    }
}

/* ---------------------------------------------------------------- throughput */

static void test_throughput(void **st) {
    (void)st;
    bool full = getenv("MS_GLP_BENCH") != NULL;
    glp_config cfg = {.d_input = 256, .d_model = 512, .d_mlp = 1024, .n_layers = 3};
    int N = full ? 4096 : 256, iters = full ? 3 : 1;
    rng_t r;
    rng_seed(&r, 6);
    glp_model m;
    assert_int_equal(glp_init(&m, &cfg), 0);
    glp_init_random(&m, &r);
    glp_work *w = glp_work_new(&cfg, N);
    size_t n = (size_t)N * cfg.d_input;
    float *x = vec(n), *eps = vec(n), *u = vec((size_t)N);
    fill(x, n, 1, &r), fill(eps, n, 1, &r);
    for (int i = 0; i < N; i++) u[i] = rng_uniform(&r);
    /* as the training pass does: our threads each run one-threaded sgemm */
    int blas = ms_get_threads();
    ms_set_threads(1);
    tr_set_threads(2);
    glp_fm_loss(&m, w, x, eps, u, N, -1, true); /* warm-up */
    tr_gemm_stats_reset();
    double t0 = ms_now(), loss = 0;
    for (int k = 0; k < iters; k++) loss = glp_fm_loss(&m, w, x, eps, u, N, -1, true);
    double dt = ms_now() - t0;
    tr_gemm_stats s = tr_gemm_stats_get();
    tr_set_threads(0);
    ms_set_threads(blas);
    printf("# GLP fwd+bwd %s: batch %d, 2 threads: %.0f rows/s (%.3f s/step), sgemm %.1f%% of time at %.1f "
           "GFLOP/s, loss %.3f\n",
           full ? "" : "(small; MS_GLP_BENCH=1 for batch 4096)", N, N * iters / dt, dt / iters,
           100 * s.dense_seconds / dt, s.dense_flops / s.dense_seconds * 1e-9, loss);
    assert_true(isfinite(loss) && loss > 0.5 && loss < 10);
    free(x), free(eps), free(u);
    glp_work_free(w);
    glp_free(&m);
}

/* ---------------------------------------------------------------- BF16 */

/* The bundled GLP held in BF16 against itself in f32: N on-manifold points
 * (f32 samples) projected with the same noise by both. Reports the largest
 * per-row relative error and the Fréchet distance between the two sets of
 * projections, beside the FD of the f32 projections to their inputs (the
 * scale of what a projection changes). */
static void test_bf16_projection(void **st) {
    (void)st;
    enum { N = 512 };
    glp_model a, b;
    glp_file_config fa, fb;
    assert_int_equal(glp_load_folder(&a, &fa, MS_ASSETS_DIR "/glp", -1), 0);
    assert_int_equal(glp_load_folder(&b, &fb, MS_ASSETS_DIR "/glp", -1), 0);
    assert_int_equal(glp_hold_bf16(&b), 0);
    assert_null(b.p.in_proj.w);
    int d = a.c.d_input;
    size_t n = (size_t)N * d;
    glp_work *w = glp_work_new(&a.c, N);
    rng_t r;
    rng_seed(&r, 5);
    float *x = vec(n), *eps = vec(n), *pa = vec(n), *pb = vec(n);
    fill(x, n, 1, &r);
    assert_int_equal(glp_sample(&a, w, x, N, 20, -1), 0);
    glp_denormalize(&a, x, x, N);
    fill(eps, n, 1, &r);
    memcpy(pa, x, sizeof(float) * n), memcpy(pb, x, sizeof(float) * n);
    assert_int_equal(glp_project(&a, w, pa, N, 0.5f, 20, -1, eps, NULL), 0);
    assert_int_equal(glp_project(&b, w, pb, N, 0.5f, 20, -1, eps, NULL), 0);
    double worst = 0;
    for (int i = 0; i < N; i++) {
        double e2 = 0, s2 = 0;
        for (int j = 0; j < d; j++) {
            double e = (double)pb[(size_t)i * d + j] - pa[(size_t)i * d + j];
            e2 += e * e, s2 += (double)pa[(size_t)i * d + j] * pa[(size_t)i * d + j];
        }
        worst = fmax(worst, sqrt(e2 / s2));
    }
    double *mu[3], *cov[3];
    float *sets[3] = {pa, pb, x};
    for (int k = 0; k < 3; k++) {
        mu[k] = calloc((size_t)d, sizeof(double)), cov[k] = calloc((size_t)d * d, sizeof(double));
        assert_int_equal(gauss_fit(sets[k], N, d, mu[k], cov[k]), 0);
    }
    double fd_ab = frechet_distance(mu[0], cov[0], mu[1], cov[1], d);
    double fd_ax = frechet_distance(mu[0], cov[0], mu[2], cov[2], d);
    printf("# GLP d_in %d held in BF16 vs f32, %d projections (u 0.5, 20 steps): max row |pb-pa|/|pa| %.2e, "
           "FD(bf16, f32) %.4g, FD(f32 projections, inputs) %.4g\n", d, N, worst, fd_ab, fd_ax);
    assert_true(worst < 0.05);
    assert_true(fd_ab >= 0 && fd_ab < 0.05 * fd_ax);
    /* held in BF16: no gradients, no saving */
    float u[1] = {0.5f};
    assert_true(isnan(glp_fm_loss(&b, w, x, eps, u, 1, -1, true)));
    assert_int_equal(glp_save(&b, "/tmp/ms_never_written.safetensors"), -1);
    /* loaded straight into BF16 (no f32 matrices): the same bits, the same projections */
    glp_model c;
    glp_file_config fcc;
    assert_int_equal(glp_load_folder_as(&c, &fcc, MS_ASSETS_DIR "/glp", -1, true), 0);
    assert_null(c.p.in_proj.w);
    assert_non_null(c.p.in_proj.b);
    const glp_lin *lc[] = {&c.p.in_proj, &c.p.te0, &c.p.te2, &c.p.out_proj, &c.p.blocks[0].up, &c.p.blocks[0].down},
                  *lb[] = {&b.p.in_proj, &b.p.te0, &b.p.te2, &b.p.out_proj, &b.p.blocks[0].up, &b.p.blocks[0].down};
    for (int k = 0; k < 6; k++) {
        assert_int_equal(lc[k]->held.rows, lb[k]->held.rows);
        assert_memory_equal(lc[k]->held.data, lb[k]->held.data, 2 * (size_t)lb[k]->held.rows * lb[k]->held.cols);
    }
    assert_memory_equal(c.p.in_proj.b, b.p.in_proj.b, sizeof(float) * (size_t)c.c.d_model);
    float *pc = vec(n);
    memcpy(pc, x, sizeof(float) * n);
    assert_int_equal(glp_project(&c, w, pc, N, 0.5f, 20, -1, eps, NULL), 0);
    assert_memory_equal(pc, pb, sizeof(float) * n);
    free(pc);
    glp_free(&c);
    for (int k = 0; k < 3; k++) free(mu[k]), free(cov[k]);
    free(x), free(eps), free(pa), free(pb);
    glp_work_free(w);
    glp_free(&a), glp_free(&b);
}

/* ---------------------------------------------------------------- growth */

/* glp_grow: a deeper copy computes exactly the shallow model's function (the
 * added blocks' down_proj is zero), its added blocks get gradients (so they
 * train), and anything but added blocks is refused. */
static void test_grow(void **st) {
    (void)st;
    glp_config a = {.d_input = 16, .d_model = 32, .d_mlp = 64, .n_layers = 2}, b = a;
    b.n_layers = 4;
    rng_t r;
    rng_seed(&r, 21);
    glp_model src, dst;
    assert_int_equal(glp_init(&src, &a), 0);
    assert_int_equal(glp_init(&dst, &b), 0);
    glp_init_random(&src, &r), glp_init_random(&dst, &r);
    for (size_t i = 0; i < src.n_params; i++) src.flat[i] += 0.1f * rng_normal(&r); /* LN and biases too */
    assert_int_equal(glp_grow(&dst, &src), 0);
    int N = 6;
    size_t n = (size_t)N * a.d_input;
    float *x = vec(n), *eps = vec(n), *u = vec((size_t)N), *tau = vec((size_t)N), *ya = vec(n), *yb = vec(n);
    fill(x, n, 1, &r), fill(eps, n, 1, &r);
    for (int i = 0; i < N; i++) u[i] = rng_uniform(&r), tau[i] = 1000.0f * rng_uniform(&r);
    glp_work *wa = glp_work_new(&a, N), *wb = glp_work_new(&b, N);
    assert_int_equal(glp_forward(&src, wa, ya, x, tau, N, -1, NULL), 0);
    assert_int_equal(glp_forward(&dst, wb, yb, x, tau, N, -1, NULL), 0);
    assert_memory_equal(ya, yb, sizeof(float) * n); /* adding zero changes no bit */
    glp_zero_grad(&dst);
    assert_true(isfinite(glp_fm_loss(&dst, wb, x, eps, u, N, -1, true)));
    double g = 0;
    for (int l = a.n_layers; l < b.n_layers; l++)
        for (int i = 0; i < b.d_model * b.d_mlp; i++) g += fabsf(dst.g.blocks[l].down.w[i]);
    assert_true(g > 0);
    glp_model bad;
    glp_config c = b;
    c.d_mlp = 32;
    assert_int_equal(glp_init(&bad, &c), 0);
    assert_int_equal(glp_grow(&bad, &src), -1); /* other widths */
    printf("# %s\n", ms_geterr());
    assert_int_equal(glp_grow(&src, &dst), -1); /* fewer blocks */
    glp_free(&bad);
    glp_work_free(wa), glp_work_free(wb);
    free(x), free(eps), free(u), free(tau), free(ya), free(yb);
    glp_free(&src), glp_free(&dst);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_linear),
        cmocka_unit_test(test_fd_layernorm),
        cmocka_unit_test(test_fd_gate),
        cmocka_unit_test(test_fd_model),
        cmocka_unit_test(test_fd_model_multi),
        cmocka_unit_test(test_sigma),
        cmocka_unit_test(test_reference_single),
        cmocka_unit_test(test_reference_multi),
        cmocka_unit_test(test_load_errors_and_roundtrip),
        cmocka_unit_test(test_fast_paths),
        cmocka_unit_test(test_throughput),
        cmocka_unit_test(test_bf16_projection),
        cmocka_unit_test(test_grow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
