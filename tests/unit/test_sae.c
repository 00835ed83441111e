/* test_sae.c — the sparse autoencoder (engine/sae.c, engine/sae_io.c).
 *
 * 1. TopK selection edge cases (ties, masks, k = n), central finite
 *    differences against the sparse decode / encode backward kernels and
 *    against the whole loss (main term, AuxK term, b_dec through the input
 *    centring and the output, with and without centring).
 * 2. The PyTorch float64 reference of tools/gen_sae_fixture.py
 *    (tests/fixtures/sae/ref.safetensors): pre-activations, codes,
 *    reconstruction, loss parts and every gradient, to 1e-4 in
 *    ||d||inf/||ref||inf.
 * 3. Sparse decode == dense decode, decoder renormalization, gradient
 *    projection, dead-latent tracking, hook-name mapping.
 * 4. Loaders on the fixture folders (SAELens topk v6 / pre-6.0 BF16 /
 *    standard F16 / jumprelu, sparsify layers.N), their error messages, and
 *    the save -> load round trip. */
#include "testutil.h"
#include "gradcheck.h"
#include "refcheck.h"

#include "ops.h"
#include "rng.h"
#include "sae.h"
#include "safetensors.h"
#include "util.h"

#include <sys/stat.h>
#include <unistd.h>

#define RTOL 1e-2 /* finite differences in float32 */
#define REF_TOL 1e-4
#define SAE_FIX FIXTURES "/sae"

/* ---------------------------------------------------------------- topk */

static void test_topk_row(void **st) {
    (void)st;
    float x[] = {1, 3, 3, -1, 2, 3};
    int idx[6];
    float val[6];
    assert_int_equal(sae_topk_row(x, 6, 2, NULL, idx, val), 2);
    assert_int_equal(idx[0], 1), assert_int_equal(idx[1], 2); /* ties: lower index first */
    assert_int_equal(sae_topk_row(x, 6, 4, NULL, idx, val), 4);
    assert_int_equal(idx[2], 5), assert_int_equal(idx[3], 4);
    assert_int_equal(sae_topk_row(x, 6, 6, NULL, idx, val), 6); /* k = n: a full sort */
    for (int s = 1; s < 6; s++) assert_true(val[s - 1] >= val[s]);
    assert_int_equal(idx[5], 3);
    uint8_t allow[] = {1, 0, 0, 1, 0, 0};
    assert_int_equal(sae_topk_row(x, 6, 4, allow, idx, val), 2); /* fewer allowed than k */
    assert_int_equal(idx[0], 0), assert_int_equal(idx[1], 3);
    float same[] = {0, 0, 0, 0};
    assert_int_equal(sae_topk_row(same, 4, 2, NULL, idx, val), 2);
    assert_int_equal(idx[0], 0), assert_int_equal(idx[1], 1);
}

/* all-negative pre-activations: TopK then ReLU keeps k zero codes, decodes to b_dec */
static void test_topk_relu_zero(void **st) {
    (void)st;
    sae_model m;
    sae_config c = {.d_in = 3, .n_latents = 5, .k = 2, .arch = SAE_TOPK, .apply_b_dec_to_input = true};
    assert_int_equal(sae_init(&m, &c), 0);
    for (int j = 0; j < 5; j++) m.p.b_enc[j] = -1.0f - j;
    m.p.b_dec[1] = 2;
    sae_work *w = sae_work_new(&m, 4);
    float h[3] = {0, 2, 0}, out[3];
    int idx[2];
    float val[2];
    assert_int_equal(sae_encode(&m, w, h, 1, idx, val, NULL), 0);
    assert_true(val[0] == 0 && val[1] == 0);
    assert_int_equal(idx[0], 0), assert_int_equal(idx[1], 1);
    assert_int_equal(sae_reconstruct(&m, w, h, 1, out), 0);
    assert_true(out[0] == 0 && out[1] == 2 && out[2] == 0);
    sae_work_free(w);
    sae_free(&m);
}

/* ---------------------------------------------------------------- kernels */

typedef struct {
    int N, k, d, L;
    int *idx;
    float *W, *val, *xc, *b, *out, *R, *Rs;
} kern_ctx;

static double decode_loss(void *arg) {
    kern_ctx *c = arg;
    memset(c->out, 0, sizeof(float) * (size_t)c->N * c->d);
    sae_sparse_decode_add(c->out, c->W, c->idx, c->val, c->N, c->k, c->d);
    return dot_d(c->out, c->R, (size_t)c->N * c->d);
}

/* Many rows go to the thread pool in blocks: the result is the same bit for
 * bit with one thread or two, and matches a plain double sum. */
static void test_decode_blocks(void **st) {
    (void)st;
    enum { N = 300, K = 5, D = 24, L = 50 };
    rng_t r;
    rng_seed(&r, 21);
    float *W = malloc(sizeof(float) * L * D), val[N * K], *a = calloc(N * D, sizeof(float)),
          *b = calloc(N * D, sizeof(float));
    int idx[N * K];
    for (int i = 0; i < L * D; i++) W[i] = rng_normal(&r);
    for (int i = 0; i < N * K; i++) idx[i] = (int)(rng_uniform(&r) * L) % L, val[i] = i % 7 ? rng_normal(&r) : 0;
    ms_set_threads(1);
    sae_sparse_decode_add(a, W, idx, val, N, K, D);
    ms_set_threads(2);
    sae_sparse_decode_add(b, W, idx, val, N, K, D);
    ms_set_threads(0);
    assert_memory_equal(a, b, sizeof(float) * N * D);
    for (int n = 0; n < N; n++)
        for (int i = 0; i < D; i++) {
            double want = 0;
            for (int q = 0; q < K; q++) want += (double)val[n * K + q] * W[idx[n * K + q] * D + i];
            assert_true(fabs(a[n * D + i] - want) < 1e-5 * (1 + fabs(want)));
        }
    free(W), free(a), free(b);
}

/* sum_r,s R[r,s] (W[idx] . xc[r] + b[idx]) + Rs . sum_r xc[r] */
static double encode_loss(void *arg) {
    kern_ctx *c = arg;
    double s = 0;
    for (int r = 0; r < c->N; r++)
        for (int q = 0; q < c->k; q++) {
            int j = c->idx[r * c->k + q];
            double v = dot_d(c->W + (size_t)j * c->d, c->xc + (size_t)r * c->d, (size_t)c->d) + c->b[j];
            s += c->R[r * c->k + q] * v;
        }
    return s;
}

static void kern_setup(kern_ctx *c, rng_t *r) {
    c->N = 7, c->k = 3, c->d = 5, c->L = 11;
    size_t nk = (size_t)c->N * c->k, nd = (size_t)c->N * c->d;
    c->idx = calloc(nk, sizeof(int));
    c->W = vec((size_t)c->L * c->d), c->val = vec(nk), c->xc = vec(nd), c->b = vec((size_t)c->L);
    c->out = vec(nd), c->R = vec(nd > nk ? nd : nk), c->Rs = vec((size_t)c->d);
    for (int q = 0; q < c->N; q++) /* distinct latents per row, some shared across rows */
        for (int s = 0; s < c->k; s++) c->idx[q * c->k + s] = (q + 4 * s) % c->L;
    fill(c->W, (size_t)c->L * c->d, 1, r), fill(c->val, nk, 1, r), fill(c->xc, nd, 1, r);
    fill(c->b, (size_t)c->L, 1, r), fill(c->R, nd > nk ? nd : nk, 1, r);
}

static void kern_free(kern_ctx *c) {
    free(c->idx), free(c->W), free(c->val), free(c->xc), free(c->b), free(c->out), free(c->R), free(c->Rs);
}

static void test_fd_decode_kernel(void **st) {
    (void)st;
    rng_t r;
    rng_seed(&r, 1);
    kern_ctx c;
    kern_setup(&c, &r);
    c.val[2] = 0; /* a zero code gives no decoder gradient but still a dval */
    size_t nk = (size_t)c.N * c.k;
    float *dW = vec((size_t)c.L * c.d), *dval = vec(nk);
    sae_sparse_decode_bwd(dW, dval, c.W, c.idx, c.val, c.R, c.N, c.k, c.d);
    double e = fd_check("sparse decode dW", c.W, dW, (size_t)c.L * c.d, 0, 1e-2f, 1e-2, decode_loss, &c, &r);
    e = fmax(e, fd_check("sparse decode dval", c.val, dval, nk, 0, 1e-2f, 1e-2, decode_loss, &c, &r));
    assert_true(e < RTOL);
    free(dW), free(dval);
    kern_free(&c);
}

static void test_fd_encode_kernel(void **st) {
    (void)st;
    rng_t r;
    rng_seed(&r, 2);
    kern_ctx c;
    kern_setup(&c, &r);
    float *dW = vec((size_t)c.L * c.d), *db = vec((size_t)c.L), *dsum = vec((size_t)c.d);
    sae_sparse_encode_bwd(dW, db, dsum, c.W, c.xc, c.idx, c.R, c.N, c.k, c.d);
    double e = fd_check("sparse encode dW", c.W, dW, (size_t)c.L * c.d, 0, 1e-2f, 1e-2, encode_loss, &c, &r);
    e = fmax(e, fd_check("sparse encode db", c.b, db, (size_t)c.L, 0, 1e-2f, 1e-2, encode_loss, &c, &r));
    /* dxc_sum is the gradient w.r.t. a shift added to every row of xc */
    double worst = 0;
    for (int i = 0; i < c.d; i++) {
        float e0 = 1e-2f;
        for (int q = 0; q < c.N; q++) c.xc[q * c.d + i] += e0;
        double fp = encode_loss(&c);
        for (int q = 0; q < c.N; q++) c.xc[q * c.d + i] -= 2 * e0;
        double fm = encode_loss(&c);
        for (int q = 0; q < c.N; q++) c.xc[q * c.d + i] += e0;
        double fd = (fp - fm) / (2 * e0);
        worst = fmax(worst, fabs(fd - dsum[i]) / (fabs(fd) + 1e-2));
    }
    printf("# %-34s worst err %.2e\n", "sparse encode dxc_sum", worst);
    assert_true(fmax(e, worst) < RTOL);
    free(dW), free(db), free(dsum);
    kern_free(&c);
}

/* ---------------------------------------------------------------- whole loss */

typedef struct {
    sae_model m;
    sae_work *w;
    int N;
    float *h, *e; /* e: the AuxK target e + b_dec, frozen at the starting point */
    uint8_t *dead;
} loss_ctx;

static double sae_loss_eval(void *arg) {
    loss_ctx *c = arg;
    sae_loss_opts o = {.dead = c->dead, .aux_target = c->e};
    return sae_loss(&c->m, c->w, c->h, c->N, &o, NULL);
}

static void loss_setup(loss_ctx *c, bool centre, bool aux, rng_t *r) {
    sae_config cfg = {.d_in = 6, .n_latents = 24, .k = 3, .arch = SAE_TOPK, .apply_b_dec_to_input = centre};
    assert_int_equal(sae_init(&c->m, &cfg), 0);
    sae_init_random(&c->m, r);
    size_t Ld = (size_t)cfg.n_latents * cfg.d_in;
    for (size_t i = 0; i < Ld; i++) c->m.p.W_enc[i] += 0.3f * rng_normal(r); /* untie */
    fill(c->m.p.b_enc, (size_t)cfg.n_latents, 0.2f, r), fill(c->m.p.b_dec, (size_t)cfg.d_in, 0.5f, r);
    c->m.k_aux = 4;
    c->m.mse_scale = 0.7f;
    c->N = 10;
    c->w = sae_work_new(&c->m, c->N);
    c->h = vec((size_t)c->N * cfg.d_in);
    fill(c->h, (size_t)c->N * cfg.d_in, 1.5f, r);
    c->dead = calloc((size_t)cfg.n_latents, 1);
    for (int j = 0; aux && j < cfg.n_latents; j++) c->dead[j] = j % 2;
    /* the reference detaches its target e + b_dec = h - ĥ + b_dec: FD holds it constant */
    c->e = vec((size_t)c->N * cfg.d_in);
    assert_int_equal(sae_reconstruct(&c->m, c->w, c->h, c->N, c->e), 0);
    for (size_t i = 0; i < (size_t)c->N * cfg.d_in; i++)
        c->e[i] = c->h[i] - c->e[i] + c->m.p.b_dec[i % cfg.d_in];
    sae_zero_grad(&c->m);
    sae_loss_parts p;
    sae_loss_opts o = {.dead = c->dead, .grad = true, .aux_target = c->e};
    assert_true(isfinite(sae_loss(&c->m, c->w, c->h, c->N, &o, &p)));
    assert_true(aux ? p.aux > 0 && p.n_dead == 12 : p.aux == 0);
}

static void loss_free(loss_ctx *c) {
    sae_work_free(c->w);
    sae_free(&c->m);
    free(c->h), free(c->e), free(c->dead);
}

static double fd_all(loss_ctx *c, const char *label, rng_t *r) {
    struct {
        const char *name;
        float *p, *g;
        size_t n;
    } t[] = {
        {"W_enc", c->m.p.W_enc, c->m.g.W_enc, (size_t)c->m.c.n_latents * c->m.c.d_in},
        {"b_enc", c->m.p.b_enc, c->m.g.b_enc, (size_t)c->m.c.n_latents},
        {"W_dec", c->m.p.W_dec, c->m.g.W_dec, (size_t)c->m.c.n_latents * c->m.c.d_in},
        {"b_dec", c->m.p.b_dec, c->m.g.b_dec, (size_t)c->m.c.d_in},
    };
    double worst = 0;
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        char nm[64];
        snprintf(nm, sizeof nm, "%s %s", label, t[i].name);
        worst = fmax(worst, fd_check(nm, t[i].p, t[i].g, t[i].n, 0, 1e-3f, 2e-3, sae_loss_eval, c, r));
    }
    return worst;
}

static void test_fd_loss(void **st) {
    (void)st;
    rng_t r;
    rng_seed(&r, 3);
    const struct {
        bool centre, aux;
        const char *label;
    } cases[] = {{true, false, "mse"}, {true, true, "mse+auxk"}, {false, true, "no-centre auxk"}};
    for (size_t i = 0; i < 3; i++) {
        loss_ctx c;
        loss_setup(&c, cases[i].centre, cases[i].aux, &r);
        double e = fd_all(&c, cases[i].label, &r);
        loss_free(&c);
        assert_true(e < RTOL);
    }
}

/* ---------------------------------------------------------------- reference */

static void ref_model(sae_model *m, st_file *f) {
    sae_config c = {.d_in = 16, .n_latents = 64, .k = 4, .arch = SAE_TOPK, .apply_b_dec_to_input = true};
    assert_int_equal(sae_init(m, &c), 0);
    const char *names[] = {"W_enc", "b_enc", "W_dec", "b_dec"};
    float *dst[] = {m->p.W_enc, m->p.b_enc, m->p.W_dec, m->p.b_dec};
    for (int i = 0; i < 4; i++) {
        const st_tensor *t = st_find(f, names[i]);
        assert_non_null(t);
        assert_int_equal(st_to_f32(f, t, dst[i], t->numel), 0);
    }
    float *v = ref_get(f, "mse_scale", NULL);
    m->mse_scale = v[0];
    free(v);
    v = ref_get(f, "aux_coef", NULL);
    m->aux_coef = v[0];
    free(v);
    m->k_aux = *(const int32_t *)st_find(f, "k_aux")->data;
}

static double check_grads(sae_model *m, st_file *f, const char *prefix) {
    const char *names[] = {"W_enc", "b_enc", "W_dec", "b_dec"};
    float *g[] = {m->g.W_enc, m->g.b_enc, m->g.W_dec, m->g.b_dec};
    size_t n[] = {64 * 16, 64, 64 * 16, 16};
    double e = 0;
    for (int i = 0; i < 4; i++) {
        char nm[64];
        snprintf(nm, sizeof nm, "%sgrad.%s", prefix, names[i]);
        e = fmax(e, check(nm, g[i], f, nm, n[i]));
    }
    return e;
}

static void test_reference(void **st) {
    (void)st;
    st_file f;
    assert_int_equal(st_open(&f, SAE_FIX "/ref.safetensors"), 0);
    sae_model m;
    ref_model(&m, &f);
    int N = 32, L = 64, d = 16;
    float *h = ref_get(&f, "h", NULL), *pre = vec((size_t)N * L), *z = vec((size_t)N * L), *rec = vec((size_t)N * d);
    const st_tensor *dt = st_find(&f, "dead");
    assert_true(dt && dt->dtype == ST_U8 && dt->numel == (size_t)L);
    sae_work *w = sae_work_new(&m, N);
    int idx[32 * 4];
    float val[32 * 4];
    assert_int_equal(sae_encode(&m, w, h, N, idx, val, pre), 0);
    assert_int_equal(sae_encode_dense(&m, w, h, N, z), 0);
    assert_int_equal(sae_reconstruct(&m, w, h, N, rec), 0);
    double e = check("pre-activations", pre, &f, "pre", (size_t)N * L);
    e = fmax(e, check("codes (dense)", z, &f, "z", (size_t)N * L));
    e = fmax(e, check("reconstruction", rec, &f, "recon", (size_t)N * d));
    sae_zero_grad(&m);
    sae_loss_parts p;
    sae_loss_opts o = {.dead = dt->data, .grad = true};
    sae_loss(&m, w, h, N, &o, &p);
    float parts[3] = {(float)p.main, (float)p.aux, (float)p.loss};
    e = fmax(e, check("loss (main, aux, total)", parts, &f, "loss", 3));
    e = fmax(e, check_grads(&m, &f, ""));
    uint8_t none[64] = {0};
    sae_zero_grad(&m);
    o.dead = none;
    sae_loss(&m, w, h, N, &o, &p);
    assert_true(p.aux == 0 && p.n_dead == 0);
    e = fmax(e, check_grads(&m, &f, "noaux."));
    printf("# reference: worst %.2e\n", e);
    assert_true(e < REF_TOL);
    sae_work_free(w);
    sae_free(&m);
    free(h), free(pre), free(z), free(rec);
    st_close(&f);
}

/* ---------------------------------------------------------------- inference paths */

static void random_sae(sae_model *m, sae_arch arch, bool centre, uint64_t seed) {
    sae_config c = {.d_in = 12, .n_latents = 40, .k = 5, .arch = arch, .apply_b_dec_to_input = centre};
    assert_int_equal(sae_init(m, &c), 0);
    rng_t r;
    rng_seed(&r, seed);
    sae_init_random(m, &r);
    fill(m->p.b_enc, 40, 0.3f, &r), fill(m->p.b_dec, 12, 0.5f, &r);
    if (m->threshold)
        for (int j = 0; j < 40; j++) m->threshold[j] = 0.2f * fabsf(rng_normal(&r));
}

static void test_sparse_equals_dense(void **st) {
    (void)st;
    int N = 37, d = 12, L = 40, k = 5;
    rng_t r;
    rng_seed(&r, 5);
    float *h = vec((size_t)N * d), *z = vec((size_t)N * L), *a = vec((size_t)N * d), *b = vec((size_t)N * d);
    float *c = vec((size_t)N * d), val[37 * 5];
    int idx[37 * 5];
    fill(h, (size_t)N * d, 1, &r);
    for (int arch = SAE_TOPK; arch <= SAE_JUMPRELU; arch++) {
        sae_model m;
        random_sae(&m, (sae_arch)arch, arch != SAE_STANDARD, 10 + arch);
        sae_work *w = sae_work_new(&m, 8); /* chunks of 8 rows: exercises the chunking */
        assert_int_equal(sae_encode(&m, w, h, N, idx, val, NULL), 0);
        assert_int_equal(sae_encode_dense(&m, w, h, N, z), 0);
        sae_decode_dense(&m, z, N, b);
        assert_int_equal(sae_reconstruct(&m, w, h, N, c), 0);
        assert_true(inf_err(c, b, (size_t)N * d) < 1e-5);
        if (arch == SAE_TOPK) {
            sae_decode_sparse(&m, idx, val, N, k, a);
            assert_true(inf_err(a, b, (size_t)N * d) < 1e-5);
            for (int q = 0; q < N; q++) { /* exactly k latents per row at most */
                int nz = 0;
                for (int j = 0; j < L; j++) nz += z[(size_t)q * L + j] != 0;
                assert_true(nz <= k);
            }
        }
        sae_work_free(w);
        sae_free(&m);
    }
    free(h), free(z), free(a), free(b), free(c);
}

static void test_decoder_constraints(void **st) {
    (void)st;
    sae_model m;
    random_sae(&m, SAE_TOPK, true, 6);
    rng_t r;
    rng_seed(&r, 7);
    int d = m.c.d_in, L = m.c.n_latents;
    for (int i = 0; i < L * d; i++) m.p.W_dec[i] *= 1 + 0.5f * rng_uniform(&r), m.g.W_dec[i] = rng_normal(&r);
    sae_normalize_decoder(&m);
    for (int j = 0; j < L; j++) assert_true(fabs(dot_d(m.p.W_dec + j * d, m.p.W_dec + j * d, (size_t)d) - 1) < 1e-5);
    sae_project_decoder_grad(&m);
    for (int j = 0; j < L; j++) assert_true(fabs(dot_d(m.p.W_dec + j * d, m.g.W_dec + j * d, (size_t)d)) < 1e-5);
    sae_free(&m);
}

static void test_dead_tracking(void **st) {
    (void)st;
    sae_model m;
    random_sae(&m, SAE_TOPK, true, 8);
    m.dead_tokens = 10;
    int idx[2 * 5] = {0, 1, 2, 3, 4, 0, 1, 2, 3, 5};
    float val[2 * 5] = {1, 1, 1, 1, 1e-4f, 1, 1, 1, 1, 0.5f}; /* latent 4 stays below 1e-3 */
    uint8_t dead[40];
    for (int s = 0; s < 6; s++) sae_track(&m, idx, val, 2, 5);
    assert_int_equal(sae_dead_mask(&m, dead), 40 - 5); /* 12 tokens since 4, 6..39 fired */
    assert_true(!dead[0] && !dead[5] && dead[4] && dead[39]);
    assert_int_equal((int)m.since_fired[4], 12);
    /* the loss with the tracker: dead latents feed AuxK, and track updates first */
    float h[2 * 12] = {0};
    sae_work *w = sae_work_new(&m, 2);
    sae_loss_parts p;
    sae_loss_opts o = {.track = true};
    assert_true(isfinite(sae_loss(&m, w, h, 2, &o, &p)));
    assert_true(p.n_dead > 0 && p.n_dead <= 40 - 1);
    sae_work_free(w);
    sae_free(&m);
}

static void test_hook_names(void **st) {
    (void)st;
    const struct {
        const char *hook;
        int layer;
    } ok[] = {{"blocks.6.hook_resid_post", 6}, {"blocks.6.hook_resid_pre", 5}, {"layers.6", 6},
              {"model.layers.12", 12},         {"gpt_neox.layers.3", 3},        {"transformer.h.0", 0}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        int L = -9;
        assert_int_equal(sae_hook_layer(ok[i].hook, &L), 0);
        assert_int_equal(L, ok[i].layer);
    }
    const char *bad[] = {"blocks.6.hook_mlp_out", "blocks.0.hook_resid_pre", "layers.6.mlp", "layers.3.attention",
                         "blocks.2.attn.hook_z", "embed_tokens", "layers.x", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int L = -9;
        assert_int_equal(sae_hook_layer(bad[i], &L), -1);
        assert_non_null(strstr(ms_geterr(), "cannot map SAE hook"));
        assert_null(strchr(ms_geterr(), '\n'));
        assert_int_equal(L, -9);
    }
}

/* ---------------------------------------------------------------- loaders */

static void expect_matches(const sae_model *m, const char *name) {
    char path[256];
    snprintf(path, sizeof path, SAE_FIX "/expect_%s.safetensors", name);
    st_file f;
    assert_int_equal(st_open(&f, path), 0);
    int N = 5, d = m->c.d_in, L = m->c.n_latents;
    float *h = ref_get(&f, "h", NULL), *z = vec((size_t)N * L), *rec = vec((size_t)N * d);
    sae_work *w = sae_work_new(m, N);
    assert_int_equal(sae_encode_dense(m, w, h, N, z), 0);
    assert_int_equal(sae_reconstruct(m, w, h, N, rec), 0);
    char what[96];
    snprintf(what, sizeof what, "%s codes", name);
    double e = check(what, z, &f, "z", (size_t)N * L);
    snprintf(what, sizeof what, "%s reconstruction", name);
    e = fmax(e, check(what, rec, &f, "recon", (size_t)N * d));
    assert_true(e < 1e-5);
    sae_work_free(w);
    free(h), free(z), free(rec);
    st_close(&f);
}

static void test_load_saelens(void **st) {
    (void)st;
    const struct {
        const char *name;
        sae_arch arch;
        int k, layer;
        bool centre;
        const char *hook;
    } cases[] = {
        {"saelens_topk", SAE_TOPK, 3, 1, true, "blocks.1.hook_resid_post"},
        {"saelens_topk_bf16", SAE_TOPK, 3, 1, true, "blocks.2.hook_resid_pre"},
        {"saelens_standard", SAE_STANDARD, 32, 0, false, "blocks.0.hook_resid_post"},
        {"saelens_jumprelu", SAE_JUMPRELU, 32, 1, true, "blocks.1.hook_resid_post"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char dir[256];
        snprintf(dir, sizeof dir, SAE_FIX "/%s", cases[i].name);
        sae_model m;
        if (sae_load_folder(&m, dir, -1)) fail_msg("%s", ms_geterr());
        assert_int_equal(m.c.arch, cases[i].arch);
        assert_int_equal(m.c.d_in, 8), assert_int_equal(m.c.n_latents, 32);
        assert_int_equal(m.c.k, cases[i].k);
        assert_int_equal(m.layer, cases[i].layer);
        assert_int_equal(m.c.apply_b_dec_to_input, cases[i].centre);
        assert_string_equal(m.hook_name, cases[i].hook);
        assert_true((m.threshold != NULL) == (cases[i].arch == SAE_JUMPRELU));
        expect_matches(&m, cases[i].name);
        sae_free(&m);
    }
}

static void test_load_sparsify(void **st) {
    (void)st;
    sae_model m;
    assert_int_equal(sae_load_folder(&m, SAE_FIX "/sparsify", 1), 0); /* parent + layer */
    assert_string_equal(m.hook_name, "layers.1");
    assert_int_equal(m.layer, 1), assert_int_equal(m.c.k, 3), assert_int_equal(m.c.n_latents, 32);
    expect_matches(&m, "sparsify_1");
    sae_free(&m);
    assert_int_equal(sae_load_folder(&m, SAE_FIX "/sparsify/layers.0/", -1), 0); /* the hookpoint itself */
    assert_string_equal(m.hook_name, "layers.0");
    assert_int_equal(m.layer, 0);
    expect_matches(&m, "sparsify_0");
    sae_free(&m);
    assert_int_equal(sae_load_folder(&m, SAE_FIX "/sparsify", -1), -1); /* two hookpoints: which? */
    assert_non_null(strstr(ms_geterr(), "choose a layer"));
    assert_int_equal(sae_load_folder(&m, SAE_FIX "/sparsify", 7), -1);
    assert_non_null(strstr(ms_geterr(), "layers.7"));
}

/* ---------------------------------------------------------------- errors */

static char tmpdir[128];

static void make_tmp(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_sae_%d", (int)getpid());
    mkdir(tmpdir, 0755);
}

static void write_text(const char *name, const char *text) {
    char *p = ms_path_join(tmpdir, name);
    assert_int_equal(ms_write_file_atomic(p, text, strlen(text)), 0);
    free(p);
}

static void rm_tmp(void) {
    const char *names[] = {"cfg.json", "sae_weights.safetensors", "sae_weights.safetensors.lz4", "sae.safetensors"};
    for (size_t i = 0; i < 4; i++) {
        char *p = ms_path_join(tmpdir, names[i]);
        unlink(p);
        free(p);
    }
    rmdir(tmpdir);
}

/* Expects the load of tmpdir to fail with a one-line message holding `what`. */
static void expect_error(const char *what) {
    sae_model m;
    assert_int_equal(sae_load_folder(&m, tmpdir, -1), -1);
    printf("# error: %s\n", ms_geterr());
    assert_non_null(strstr(ms_geterr(), what));
    assert_null(strchr(ms_geterr(), '\n'));
}

static void copy_truncated(const char *src, const char *name, size_t cut) {
    uint8_t *buf;
    size_t len;
    assert_int_equal(ms_read_file(src, &buf, &len), 0);
    char *p = ms_path_join(tmpdir, name);
    assert_int_equal(ms_write_file_atomic(p, buf, len > cut ? len - cut : 0), 0);
    free(p), free(buf);
}

static void write_weights(int d, int L, bool transposed_dec) {
    float *z = vec((size_t)d * L);
    st_wtensor t[4] = {{"W_enc", ST_F32, 2, {d, L}, z}, {"b_enc", ST_F32, 1, {L}, z},
                       {"W_dec", ST_F32, 2, {L, d}, z}, {"b_dec", ST_F32, 1, {d}, z}};
    if (transposed_dec) t[2].shape[0] = d, t[2].shape[1] = L;
    char *p = ms_path_join(tmpdir, "sae_weights.safetensors");
    assert_int_equal(st_write(p, t, 4, NULL, 0), 0);
    free(p), free(z);
}

#define CFG(extra) "{\"architecture\": \"topk\", \"d_in\": 4, \"d_sae\": 6, \"k\": 2" extra "}"

static void test_load_errors(void **st) {
    (void)st;
    sae_model m;
    assert_int_equal(sae_load_folder(&m, SAE_FIX "/saelens_mlp", -1), -1);
    printf("# error: %s\n", ms_geterr());
    assert_non_null(strstr(ms_geterr(), "blocks.1.hook_mlp_out"));
    assert_non_null(strstr(ms_geterr(), "cfg.json"));
    assert_int_equal(sae_load_folder(&m, SAE_FIX "/nonexistent", -1), -1);
    make_tmp();
    expect_error("no cfg.json");
    write_text("cfg.json", CFG(""));
    expect_error("without sae_weights.safetensors");
    write_weights(4, 6, true);
    expect_error("tensor W_dec must have shape [6, 4]");
    write_weights(5, 6, false);
    expect_error("tensor W_enc must have shape [4, 6]");
    copy_truncated(SAE_FIX "/saelens_topk/sae_weights.safetensors", "sae_weights.safetensors", 9);
    write_text("cfg.json", "{\"architecture\": \"topk\", \"d_in\": 8, \"d_sae\": 32, \"k\": 3}");
    expect_error("sae_weights.safetensors");
    write_weights(4, 6, false);
    write_text("cfg.json", CFG(", \"metadata\": {\"hook_name\": \"blocks.0.hook_resid_pre\"}"));
    expect_error("embedding output");
    write_text("cfg.json", "{\"architecture\": \"gated\", \"d_in\": 4, \"d_sae\": 6}");
    expect_error("architecture 'gated' is not supported");
    write_text("cfg.json", "{\"architecture\": \"topk\", \"d_in\": 4, \"d_sae\": 6}");
    expect_error("without 'k'");
    write_text("cfg.json", "{\"architecture\": \"topk\", \"d_in\": 4, \"k\": 2}");
    expect_error("missing 'd_sae'");
    write_text("cfg.json", CFG(", \"normalize_activations\": \"layer_norm\""));
    expect_error("normalize_activations 'layer_norm'");
    write_text("cfg.json", CFG("") "trailing");
    expect_error("cfg.json");
    write_text("cfg.json", "{\"architecture\": \"topk\", \"d_in\": 4, \"d_sae\": 6, \"k\": 7}");
    expect_error("'k' = 7 outside 1..6");
    /* sparsify */
    char *p = ms_path_join(tmpdir, "sae_weights.safetensors");
    unlink(p), free(p);
    copy_truncated(SAE_FIX "/sparsify/layers.0/sae.safetensors", "sae.safetensors", 0);
    write_text("cfg.json", "{\"k\": 3, \"num_latents\": 32, \"d_in\": 8, \"skip_connection\": true}");
    expect_error("skip connection");
    write_text("cfg.json", "{\"k\": 3, \"num_latents\": 16, \"d_in\": 8}");
    expect_error("tensor encoder.weight must have shape [16, 8]");
    write_text("cfg.json", "{\"k\": 3, \"num_latents\": 32, \"d_in\": 8}");
    assert_int_equal(sae_load_folder(&m, tmpdir, -1), -1); /* folder name is not a hook */
    assert_non_null(strstr(ms_geterr(), "cannot map SAE hook 'test_sae_"));
    rm_tmp();
}

/* ---------------------------------------------------------------- save / load */

static void roundtrip(sae_arch arch, unsigned flags) {
    sae_model m, m2;
    random_sae(&m, arch, arch != SAE_STANDARD, 20 + arch);
    sae_set_layer(&m, 3);
    make_tmp();
    assert_int_equal(sae_save_folder(&m, tmpdir, flags), 0);
    if (sae_load_folder(&m2, tmpdir, -1)) fail_msg("%s", ms_geterr());
    assert_int_equal(m2.c.arch, arch);
    assert_int_equal(m2.c.d_in, m.c.d_in), assert_int_equal(m2.c.n_latents, m.c.n_latents);
    if (arch == SAE_TOPK) assert_int_equal(m2.c.k, m.c.k);
    assert_int_equal(m2.c.apply_b_dec_to_input, m.c.apply_b_dec_to_input);
    assert_int_equal(m2.layer, 3);
    assert_string_equal(m2.hook_name, "blocks.3.hook_resid_post");
    double tol = flags & SAE_SAVE_F16 ? 1e-3 : 0;
    assert_true(inf_err(m2.flat, m.flat, m.n_params) <= tol);
    if (m.threshold) assert_true(inf_err(m2.threshold, m.threshold, (size_t)m.c.n_latents) <= tol);
    /* the file is SAELens's layout: W_enc [d_in, d_sae] */
    char *p = ms_find_file(tmpdir, "sae_weights.safetensors");
    st_file f;
    assert_int_equal(st_open(&f, p), 0);
    const st_tensor *t = st_find(&f, "W_enc");
    assert_true(t && t->shape[0] == m.c.d_in && t->shape[1] == m.c.n_latents);
    assert_int_equal(t->dtype, flags & SAE_SAVE_F16 ? ST_F16 : ST_F32);
    st_close(&f);
    free(p);
    sae_free(&m), sae_free(&m2);
    rm_tmp();
}

static void test_roundtrip(void **st) {
    (void)st;
    roundtrip(SAE_TOPK, 0);
    roundtrip(SAE_TOPK, SAE_SAVE_F16 | SAE_SAVE_LZ4);
    roundtrip(SAE_JUMPRELU, 0);
    roundtrip(SAE_STANDARD, SAE_SAVE_F16);
}

/* a short training run: loss falls, decoder rows stay unit norm */
static void test_train_smoke(void **st) {
    (void)st;
    sae_model m;
    random_sae(&m, SAE_TOPK, true, 30);
    int N = 64, d = m.c.d_in;
    rng_t r;
    rng_seed(&r, 31);
    float *h = vec((size_t)N * d), mean[12];
    fill(h, (size_t)N * d, 1, &r);
    sae_data_mean(h, N, d, mean);
    sae_set_b_dec(&m, mean);
    assert_int_equal(sae_set_mse_scale(&m, h, N), 0);
    sae_work *w = sae_work_new(&m, N);
    sae_loss_opts o = {.track = true, .grad = true};
    double first = 0, last = 0;
    for (int step = 0; step < 60; step++) {
        sae_zero_grad(&m);
        last = sae_loss(&m, w, h, N, &o, NULL);
        if (!step) first = last;
        sae_project_decoder_grad(&m);
        for (size_t i = 0; i < m.n_params; i++) m.flat[i] -= 0.05f * m.grad[i];
        sae_normalize_decoder(&m);
    }
    printf("# train smoke: loss %.4f -> %.4f\n", first, last);
    assert_true(last < 0.8 * first);
    for (int j = 0; j < m.c.n_latents; j++)
        assert_true(fabs(dot_d(m.p.W_dec + j * d, m.p.W_dec + j * d, (size_t)d) - 1) < 1e-5);
    sae_work_free(w);
    sae_free(&m);
    free(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topk_row),        cmocka_unit_test(test_topk_relu_zero),
        cmocka_unit_test(test_decode_blocks),    cmocka_unit_test(test_fd_decode_kernel), cmocka_unit_test(test_fd_encode_kernel),
        cmocka_unit_test(test_fd_loss),          cmocka_unit_test(test_reference),
        cmocka_unit_test(test_sparse_equals_dense), cmocka_unit_test(test_decoder_constraints),
        cmocka_unit_test(test_dead_tracking),    cmocka_unit_test(test_hook_names),
        cmocka_unit_test(test_load_saelens),     cmocka_unit_test(test_load_sparsify),
        cmocka_unit_test(test_load_errors),      cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_train_smoke),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
