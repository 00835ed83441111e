/* test_train_step.c — the training pass and optimizer against the float64
 * PyTorch reference of tools/gen_train_fixture.py (tests/fixtures/train/):
 * loss and per-segment gradients at the initial parameters, then two steps of
 * clip_grad_norm + adamw_step (engine/optim.h) on the same batch. Also: the
 * training forward equals inference (tf_nll), and gradient accumulation over
 * half batches equals the full batch. */
#include "testutil.h"

#include "optim.h"
#include "safetensors.h"
#include "transformer.h"
#include "transformer_train.h"
#include "util.h"

typedef struct {
    st_file f;
    tf_config c;
    int B, T;
    int *tokens;
    size_t n;
    float *p0, *g0, *p1, *p2;
    double losses[3], gnorms[2];
    adamw_cfg opt;
    float lr, max_norm;
    tf_segment seg[64];
    int nseg;
} fixture;

static double meta_num(const st_file *f, const char *key) {
    const char *v = st_meta(f, key);
    if (!v) fprintf(stderr, "# fixture metadata lacks '%s'\n", key);
    assert_non_null(v);
    return atof(v);
}

static float *load_flat(const st_file *f, const char *name, size_t n) {
    const st_tensor *t = st_find(f, name);
    assert_non_null(t);
    assert_int_equal(t->numel, n);
    float *p = malloc(n * sizeof(float));
    assert_int_equal(st_to_f32(f, t, p, n), 0);
    return p;
}

static void load_doubles(const st_file *f, const char *name, double *out, size_t n) {
    const st_tensor *t = st_find(f, name);
    assert_non_null(t);
    assert_int_equal(t->dtype, ST_F64);
    assert_int_equal(t->numel, n);
    memcpy(out, t->data, n * sizeof(double));
}

static void open_fixture(fixture *x, const char *name) {
    char path[256];
    snprintf(path, sizeof path, FIXTURES "/train/%s.safetensors", name);
    if (st_open(&x->f, path)) fprintf(stderr, "# %s\n", ms_geterr());
    assert_non_null(x->f.t);
    tf_config *c = &x->c;
    memset(c, 0, sizeof *c);
    c->arch = ARCH_LLAMA;
    c->d_model = (int)meta_num(&x->f, "d_model");
    c->n_layers = (int)meta_num(&x->f, "n_layers");
    c->n_heads = (int)meta_num(&x->f, "n_heads");
    c->n_kv_heads = (int)meta_num(&x->f, "n_kv_heads");
    c->head_dim = (int)meta_num(&x->f, "head_dim");
    c->d_ff = (int)meta_num(&x->f, "d_ff");
    c->vocab = (int)meta_num(&x->f, "vocab");
    c->norm_eps = (float)meta_num(&x->f, "norm_eps");
    c->rope_theta = meta_num(&x->f, "rope_theta");
    c->tied = meta_num(&x->f, "tied") != 0;
    c->bos_id = c->eos_id = -1;
    x->B = (int)meta_num(&x->f, "B");
    x->T = (int)meta_num(&x->f, "T");
    c->max_seq = x->T + 1;
    x->opt = (adamw_cfg){(float)meta_num(&x->f, "beta1"), (float)meta_num(&x->f, "beta2"),
                         (float)meta_num(&x->f, "eps"), (float)meta_num(&x->f, "weight_decay")};
    x->lr = (float)meta_num(&x->f, "lr");
    x->max_norm = (float)meta_num(&x->f, "max_norm");
    x->n = tf_flat_size(c);
    x->nseg = tf_flat_segments(c, x->seg, 64);
    assert_true(x->nseg <= 64);
    const st_tensor *t = st_find(&x->f, "tokens");
    assert_non_null(t);
    assert_int_equal(t->dtype, ST_I32);
    assert_int_equal(t->numel, (size_t)x->B * (x->T + 1));
    x->tokens = malloc(t->nbytes);
    memcpy(x->tokens, t->data, t->nbytes);
    x->p0 = load_flat(&x->f, "params0", x->n);
    x->g0 = load_flat(&x->f, "grads0", x->n);
    x->p1 = load_flat(&x->f, "params1", x->n);
    x->p2 = load_flat(&x->f, "params2", x->n);
    load_doubles(&x->f, "losses", x->losses, 3);
    load_doubles(&x->f, "gnorms", x->gnorms, 2);
}

static void close_fixture(fixture *x) {
    free(x->tokens), free(x->p0), free(x->g0), free(x->p1), free(x->p2);
    st_close(&x->f);
}

/* max over segments of ||a-b||inf / ||b||inf, printing the worst segment. */
static double seg_err(const fixture *x, const float *a, const float *b, const char *what) {
    double worst = 0;
    int ws = 0;
    for (int s = 0; s < x->nseg; s++) {
        double dm = 0, bm = 0;
        for (size_t i = x->seg[s].offset; i < x->seg[s].offset + x->seg[s].size; i++) {
            double d = fabs((double)a[i] - b[i]);
            dm = d > dm || d != d ? (d != d ? INFINITY : d) : dm;
            bm = fabs(b[i]) > bm ? fabs(b[i]) : bm;
        }
        double e = dm / (bm > 0 ? bm : 1);
        if (e > worst) worst = e, ws = s;
    }
    printf("# %-24s worst segment %-16s ||d||inf/||ref||inf = %.2e\n", what, x->seg[ws].name, worst);
    return worst;
}

static double rel(double a, double b) { return fabs(a - b) / fabs(b); }

static void check_steps(const char *name) {
    fixture x;
    open_fixture(&x, name);
    float *p = malloc(x.n * sizeof(float)), *g = calloc(x.n, sizeof(float));
    memcpy(p, x.p0, x.n * sizeof(float));
    tf_model m, gm;
    tf_bind_flat(&m, &x.c, p);
    tf_bind_flat(&gm, &x.c, g);
    tf_train_ws *ws = tf_train_ws_new(&x.c, x.B, x.T);
    assert_non_null(ws);
    adamw_range *rg = malloc(sizeof(adamw_range) * (size_t)x.nseg);
    for (int s = 0; s < x.nseg; s++) rg[s] = (adamw_range){x.seg[s].offset, x.seg[s].size, x.seg[s].decay};
    adamw_state st;
    adamw_init(&st, x.n);
    const float *want[2] = {x.p1, x.p2};
    for (int step = 0; step < 2; step++) {
        memset(g, 0, x.n * sizeof(float));
        float loss = tf_train_fwd_bwd(&m, &gm, ws, x.tokens, x.B, x.T, 1.0f);
        printf("# %s step %d: loss %.7f, reference %.7f\n", name, step + 1, loss, x.losses[step]);
        assert_true(rel(loss, x.losses[step]) < 1e-5);
        if (step == 0) assert_true(seg_err(&x, g, x.g0, "grads") < 1e-4);
        double norm = clip_grad_norm(g, x.n, x.max_norm);
        printf("# %s step %d: grad norm %.7f, reference %.7f%s\n", name, step + 1, norm, x.gnorms[step],
               norm > x.max_norm ? " (clipped)" : "");
        assert_true(rel(norm, x.gnorms[step]) < 1e-5);
        adamw_step(&st, p, g, &x.opt, x.lr, rg, x.nseg);
        char what[32];
        snprintf(what, sizeof what, "params after step %d", step + 1);
        assert_true(seg_err(&x, p, want[step], what) < 1e-5);
    }
    float loss = tf_train_loss(&m, ws, x.tokens, x.B, x.T);
    assert_true(rel(loss, x.losses[2]) < 1e-5);
    adamw_free(&st);
    free(rg);
    tf_train_ws_free(ws);
    tf_free(&m), tf_free(&gm);
    free(p), free(g);
    close_fixture(&x);
}

static void test_untied_steps(void **st) {
    (void)st;
    check_steps("untied");
}

static void test_tied_steps(void **st) {
    (void)st;
    check_steps("tied");
}

/* The training forward computes what inference computes. */
static void check_vs_inference(const char *name) {
    fixture x;
    open_fixture(&x, name);
    tf_model m;
    tf_bind_flat(&m, &x.c, x.p0);
    tf_train_ws *ws = tf_train_ws_new(&x.c, x.B, x.T);
    tf_state s;
    assert_int_equal(tf_state_init(&s, &m, x.T + 1), 0);
    float *nll = malloc(sizeof(float) * (size_t)x.T);
    double all = 0, worst = 0;
    for (int b = 0; b < x.B; b++) {
        const int *row = x.tokens + (size_t)b * (x.T + 1);
        assert_int_equal(tf_nll(&m, &s, row, x.T + 1, nll), 0);
        double mean = 0;
        for (int t = 0; t < x.T; t++) mean += nll[t];
        mean /= x.T;
        all += mean / x.B;
        float mine = tf_train_loss(&m, ws, row, 1, x.T);
        worst = fmax(worst, rel(mine, mean));
    }
    double batch = tf_train_loss(&m, ws, x.tokens, x.B, x.T);
    printf("# %s: train loss vs tf_nll per row worst rel %.2e; batch %.8f vs %.8f\n", name, worst, batch, all);
    assert_true(worst < 1e-5);
    assert_true(rel(batch, all) < 1e-5);
    assert_true(rel(batch, x.losses[0]) < 1e-5);
    free(nll);
    tf_state_free(&s);
    tf_train_ws_free(ws);
    tf_free(&m);
    close_fixture(&x);
}

static void test_matches_inference(void **st) {
    (void)st;
    check_vs_inference("untied");
    check_vs_inference("tied");
}

/* Two half batches at grad_scale 0.5 add up to the full batch's gradient. */
static void check_accumulation(const char *name) {
    fixture x;
    open_fixture(&x, name);
    assert_true(x.B % 2 == 0);
    float *full = calloc(x.n, sizeof(float)), *acc = calloc(x.n, sizeof(float));
    tf_model m, gf, ga;
    tf_bind_flat(&m, &x.c, x.p0);
    tf_bind_flat(&gf, &x.c, full);
    tf_bind_flat(&ga, &x.c, acc);
    tf_train_ws *ws = tf_train_ws_new(&x.c, x.B, x.T);
    float lf = tf_train_fwd_bwd(&m, &gf, ws, x.tokens, x.B, x.T, 1.0f);
    int h = x.B / 2;
    float l1 = tf_train_fwd_bwd(&m, &ga, ws, x.tokens, h, x.T, 0.5f);
    float l2 = tf_train_fwd_bwd(&m, &ga, ws, x.tokens + (size_t)h * (x.T + 1), h, x.T, 0.5f);
    assert_true(rel(0.5 * (l1 + l2), lf) < 1e-6);
    assert_true(seg_err(&x, acc, full, "half-batch accumulation") < 1e-5);
    /* grad_scale 0 leaves the gradient untouched */
    memcpy(acc, full, x.n * sizeof(float));
    assert_true(fabsf(tf_train_fwd_bwd(&m, &ga, ws, x.tokens, x.B, x.T, 0.0f) - lf) < 1e-6f);
    assert_memory_equal(acc, full, x.n * sizeof(float));
    tf_train_ws_free(ws);
    tf_free(&m), tf_free(&gf), tf_free(&ga);
    free(full), free(acc);
    close_fixture(&x);
}

static void test_accumulation(void **st) {
    (void)st;
    check_accumulation("untied");
    check_accumulation("tied");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_untied_steps),
        cmocka_unit_test(test_tied_steps),
        cmocka_unit_test(test_matches_inference),
        cmocka_unit_test(test_accumulation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
