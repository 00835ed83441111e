/* test_glp_ode.c — the GLP's ODE solvers (engine/glp/glp_ode.c).
 *
 * 1. Euler is today's sampler bit for bit: glp_sample / glp_project (and the
 *    _ode forms with Euler at the reference budget) against a frozen copy of
 *    the original Euler loop, memcmp, on a random GLP in chunks.
 * 2. Every solver against the PyTorch reference of tools/gen_glp_ode_fixture.py
 *    (tests/fixtures/glp_ode): one step, the step to 0, a sample from noise
 *    (8 evaluations) and a projection from given noise (u 0.5, n 20, 10
 *    evaluations), both again on the grid spaced by rho 0.7, to 1e-4 in
 *    ||d||inf/||ref||inf.
 * 3. Order of accuracy on the fixture's GLP: the error of a sample against a
 *    1000-step Heun solution falls as the step count doubles (8 -> 64) at
 *    slope ~1 for Euler and ~2 for Heun, midpoint and DPM-2M.
 * 4. Budgets: evaluations per solver, steps per budget, names; the grid
 *    spaced by rho (1 is the reference's, bit for bit). */
#include "testutil.h"
#include "gradcheck.h"
#include "refcheck.h"

#include "glp.h"
#include "glp_ode.h"
#include "rng.h"
#include "safetensors.h"
#include "util.h"

#define REF_TOL 1e-4

static const glp_config FIX_CFG = {.d_input = 8, .d_model = 16, .d_mlp = 32, .n_layers = 2, .multi_layer_n_layers = 1};

/* ---------------------------------------------------------------- 1. Euler is unchanged */

/* The original sampler (glp.c before the solvers), frozen: Euler steps
 * i = start .. n-1 over glp_grid(., n) (+ 0), a chunk of cap rows at a time. */
static void frozen_euler(const glp_model *m, glp_work *w, float *x, int N, int n, int start, int cap) {
    int di = m->c.d_input;
    float *tau = vec((size_t)cap), *out = vec((size_t)cap * di);
    for (int r0 = 0; r0 < N; r0 += cap) {
        int c = N - r0 < cap ? N - r0 : cap;
        float *xr = x + (size_t)r0 * di;
        for (int i = start; i < n; i++) {
            float s = glp_grid(i, n), dt = glp_grid(i + 1, n) - s;
            for (int r = 0; r < c; r++) tau[r] = 1000.0f * s;
            glp_forward(m, w, out, xr, tau, c, -1, NULL);
            for (int j = 0; j < c * di; j++) xr[j] += dt * out[j]; /* axpy */
        }
    }
    free(tau), free(out);
}

static void frozen_project(const glp_model *m, glp_work *w, float *h, int N, float u, int n, const float *eps,
                           int cap) {
    int start = (int)floorf(u * (float)n);
    float s = glp_grid(start, n);
    size_t tot = (size_t)N * m->c.d_input;
    glp_normalize(m, h, h, N);
    for (size_t j = 0; j < tot; j++) h[j] = (1 - s) * h[j] + s * eps[j];
    frozen_euler(m, w, h, N, n, start, cap);
    glp_denormalize(m, h, h, N);
}

static void test_euler_bit_identical(void **st) {
    (void)st;
    glp_config cfg = {.d_input = 16, .d_model = 32, .d_mlp = 64, .n_layers = 2, .multi_layer_n_layers = 1};
    glp_model m;
    assert_int_equal(glp_init(&m, &cfg), 0);
    rng_t r;
    rng_seed(&r, 5);
    glp_init_random(&m, &r);
    int di = cfg.d_input, N = 11, cap = 4; /* three chunks, the last partial */
    float mean[16], var[16];
    for (int i = 0; i < di; i++) mean[i] = rng_normal(&r), var[i] = 0.5f + rng_uniform(&r);
    glp_set_stats(&m, mean, var);
    glp_work *w = glp_work_new(&cfg, cap);
    size_t n = (size_t)N * di;
    float *a = vec(n), *b = vec(n), *c = vec(n), *eps = vec(n), *h = vec(n);
    fill(h, n, 3, &r), fill(eps, n, 1, &r);
    glp_ode euler_ref = {GLP_EULER, 0, 1};
    int steps[] = {1, 2, 8, 20, 100};
    for (int k = 0; k < 5; k++) {
        fill(a, n, 1, &r);
        memcpy(b, a, sizeof(float) * n), memcpy(c, a, sizeof(float) * n);
        frozen_euler(&m, w, a, N, steps[k], 0, cap);
        assert_int_equal(glp_sample(&m, w, b, N, steps[k], -1), 0);
        glp_ode e = {GLP_EULER, steps[k], 1};
        assert_int_equal(glp_sample_ode(&m, w, c, N, steps[k], &e, -1), 0);
        assert_memory_equal(a, b, sizeof(float) * n);
        assert_memory_equal(a, c, sizeof(float) * n);
    }
    float us[] = {0.5f, 0.5f, 0.3f, 0.0f, 1.0f, 0.99f, 0.5f};
    int ns[] = {20, 7, 7, 5, 20, 20, 1};
    for (int k = 0; k < 7; k++) {
        memcpy(a, h, sizeof(float) * n), memcpy(b, h, sizeof(float) * n), memcpy(c, h, sizeof(float) * n);
        frozen_project(&m, w, a, N, us[k], ns[k], eps, cap);
        assert_int_equal(glp_project(&m, w, b, N, us[k], ns[k], -1, eps, NULL), 0);
        assert_int_equal(glp_project_ode(&m, w, c, N, us[k], ns[k], &euler_ref, -1, eps, NULL), 0);
        assert_memory_equal(a, b, sizeof(float) * n);
        assert_memory_equal(a, c, sizeof(float) * n);
    }
    printf("# Euler sample (5 step counts) and projection (7 u, n) bit-identical to the original loop\n");
    free(a), free(b), free(c), free(eps), free(h);
    glp_work_free(w);
    glp_free(&m);
}

/* ---------------------------------------------------------------- 2. the PyTorch reference */

/* A sample from the noise z (8 evaluations) and a projection of h with eps
 * (u 0.5, n 20, 10 evaluations) by solver s on a grid spaced by rho, against
 * the reference's "sample<tag>.S" and "proj<tag>.S"; the larger error. */
static double sample_and_project(const glp_model *m, glp_work *w, st_file *f, const float *z, const float *h,
                                 const float *eps, float *got, int N, glp_solver s, float rho, const char *tag) {
    size_t n = (size_t)N * FIX_CFG.d_input;
    const char *sn = glp_solver_name(s);
    char name[64], what[64];
    glp_ode o = {s, 8, rho};
    memcpy(got, z, sizeof(float) * n);
    assert_int_equal(glp_sample_ode(m, w, got, N, 100, &o, -1), 0);
    snprintf(name, sizeof name, "sample%s.%s", tag, sn), snprintf(what, sizeof what, "%s, sample, 8 evaluations, rho %g", sn, rho);
    double e = check(what, got, f, name, n);
    o.evals = 10;
    memcpy(got, h, sizeof(float) * n);
    assert_int_equal(glp_project_ode(m, w, got, N, 0.5f, 20, &o, -1, eps, NULL), 0);
    snprintf(name, sizeof name, "proj%s.%s", tag, sn), snprintf(what, sizeof what, "%s, projection, 10 evaluations, rho %g", sn, rho);
    return fmax(e, check(what, got, f, name, n));
}

static void test_reference(void **st) {
    (void)st;
    glp_model m;
    assert_int_equal(glp_load(&m, FIXTURES "/glp_ode", &FIX_CFG), 0);
    st_file f;
    assert_int_equal(st_open(&f, FIXTURES "/glp_ode/ref.safetensors"), 0);
    glp_work *w = glp_work_new(&FIX_CFG, 3); /* 5 rows: two chunks */
    size_t n;
    float *x = ref_get(&f, "x", &n), *z = ref_get(&f, "sample_noise", NULL), *got = vec(n);
    float *mean = ref_get(&f, "mean", NULL), *var = ref_get(&f, "var", NULL);
    float *h = ref_get(&f, "proj_h", NULL), *eps = ref_get(&f, "proj_eps", NULL);
    glp_set_stats(&m, mean, var);
    int N = (int)(n / (size_t)FIX_CFG.d_input);
    double e = 0;
    char name[64], what[64];
    for (int s = 0; s < GLP_N_SOLVERS; s++) {
        const char *sn = glp_solver_name((glp_solver)s);
        float one[] = {0.7f, 0.4f}, two[] = {0.7f, 0.55f, 0.4f}, last[] = {0.05f, 0};
        bool multi = s == GLP_DPM2M;
        memcpy(got, x, sizeof(float) * n);
        assert_int_equal(glp_ode_solve(&m, w, got, N, (glp_solver)s, multi ? two : one, multi ? 2 : 1, -1), 0);
        snprintf(name, sizeof name, "step.%s", sn), snprintf(what, sizeof what, "%s, %s", sn, multi ? "two steps" : "one step");
        e = fmax(e, check(what, got, &f, name, n));
        memcpy(got, x, sizeof(float) * n);
        assert_int_equal(glp_ode_solve(&m, w, got, N, (glp_solver)s, last, 1, -1), 0);
        snprintf(name, sizeof name, "final.%s", sn), snprintf(what, sizeof what, "%s, step to sigma 0", sn);
        e = fmax(e, check(what, got, &f, name, n));
        e = fmax(e, sample_and_project(&m, w, &f, z, h, eps, got, N, (glp_solver)s, 1, ""));
    }
    glp_ode o6 = {GLP_EULER, 6, 1};
    memcpy(got, h, sizeof(float) * n);
    assert_int_equal(glp_project_ode(&m, w, got, N, 0.5f, 20, &o6, -1, eps, NULL), 0);
    e = fmax(e, check("euler, projection, 6 evaluations", got, &f, "proj6.euler", n));
    for (int s = 0; s < GLP_N_SOLVERS; s++) /* the grid spaced by rho 0.7 */
        e = fmax(e, sample_and_project(&m, w, &f, z, h, eps, got, N, (glp_solver)s, 0.7f, "_rho.7"));
    free(x), free(z), free(got), free(mean), free(var), free(h), free(eps);
    glp_work_free(w);
    st_close(&f);
    glp_free(&m);
    assert_true(e < REF_TOL);
}

/* ---------------------------------------------------------------- 3. order of accuracy */

/* max |a - b| over n */
static double max_abs(const float *a, const float *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

static void solve_k(const glp_model *m, glp_work *w, float *x, const float *z, int N, glp_solver s, int k) {
    float *sig = vec((size_t)k + 1);
    glp_ode_schedule(sig, k, 0, k);
    memcpy(x, z, sizeof(float) * (size_t)N * m->c.d_input);
    assert_int_equal(glp_ode_solve(m, w, x, N, s, sig, k, -1), 0);
    free(sig);
}

static void test_order(void **st) {
    (void)st;
    glp_model m;
    assert_int_equal(glp_load(&m, FIXTURES "/glp_ode", &FIX_CFG), 0);
    int N = 16;
    size_t n = (size_t)N * FIX_CFG.d_input;
    glp_work *w = glp_work_new(&FIX_CFG, N);
    rng_t r;
    rng_seed(&r, 3);
    float *z = vec(n), *ref = vec(n), *x = vec(n);
    fill(z, n, 1, &r);
    solve_k(&m, w, ref, z, N, GLP_HEUN, 1000);
    const int K[] = {8, 16, 32, 64};
    const double lo[] = {0.8, 1.7, 1.7, 1.7}, hi[] = {1.3, 2.4, 2.4, 2.4};
    for (int s = 0; s < GLP_N_SOLVERS; s++) {
        double err[4];
        for (int i = 0; i < 4; i++) {
            solve_k(&m, w, x, z, N, (glp_solver)s, K[i]);
            err[i] = max_abs(x, ref, n);
        }
        double slope = log2(err[0] / err[3]) / 3; /* fitted over three doublings */
        printf("# %-9s error vs 1000-step Heun at 8/16/32/64 steps: %.2e %.2e %.2e %.2e  slope %.2f\n",
               glp_solver_name((glp_solver)s), err[0], err[1], err[2], err[3], slope);
        assert_true(slope > lo[s] && slope < hi[s]);
        for (int i = 0; i < 3; i++) assert_true(err[i + 1] < err[i]);
    }
    free(z), free(ref), free(x);
    glp_work_free(w);
    glp_free(&m);
}

/* ---------------------------------------------------------------- 4. budgets */

static void test_budgets(void **st) {
    (void)st;
    assert_int_equal(glp_solver_evals(GLP_EULER, 10), 10);
    assert_int_equal(glp_solver_evals(GLP_HEUN, 10), 19);
    assert_int_equal(glp_solver_evals(GLP_MIDPOINT, 1), 1);
    assert_int_equal(glp_solver_evals(GLP_DPM2M, 7), 7);
    assert_int_equal(glp_solver_steps(GLP_HEUN, 20), 10);
    assert_int_equal(glp_solver_steps(GLP_HEUN, 19), 10);
    assert_int_equal(glp_solver_steps(GLP_MIDPOINT, 4), 2);
    assert_int_equal(glp_solver_steps(GLP_DPM2M, 4), 4);
    assert_int_equal(glp_solver_steps(GLP_EULER, 0), 1);
    /* the reference projection (u 0.5, n 20): 10 evaluations; heun fits 9 in 10 */
    assert_int_equal(glp_project_evals(0.5f, 20, NULL), 10);
    glp_ode h = {GLP_HEUN, 0, 1}, h20 = {GLP_HEUN, 20, 1}, d4 = {GLP_DPM2M, 4, 1};
    assert_int_equal(glp_project_evals(0.5f, 20, &h), 9);
    assert_int_equal(glp_project_evals(0.5f, 20, &h20), 19);
    assert_int_equal(glp_project_evals(0.5f, 20, &d4), 4);
    assert_int_equal(glp_project_evals(1.0f, 20, &d4), 0);
    assert_int_equal(glp_sample_evals(100, NULL), 100);
    assert_int_equal(glp_sample_evals(100, &h20), 19);
    /* a resampled schedule keeps sigma_start and ends at 0.001, then 0 */
    float sig[5];
    glp_ode_schedule(sig, 20, 10, 4);
    assert_true(sig[0] == glp_grid(10, 20) && sig[3] == glp_grid(19, 20) && sig[4] == 0);
    assert_true(sig[1] < sig[0] && sig[2] < sig[1] && sig[3] < sig[2]);
    /* rho 1 (and unset) is that grid bit for bit; rho 0.7 keeps both ends, every point above (nearer 1) */
    float a[6], b[6];
    glp_ode_schedule(a, 20, 10, 5);
    glp_ode_schedule_rho(b, 20, 10, 5, 1.0f);
    assert_memory_equal(a, b, sizeof a);
    glp_ode_schedule_rho(b, 20, 10, 5, 0.0f);
    assert_memory_equal(a, b, sizeof a);
    glp_ode_schedule_rho(b, 20, 10, 5, 0.7f);
    assert_true(b[0] == a[0] && fabsf(b[4] - 0.001f) < 1e-7f && b[5] == 0);
    for (int j = 1; j < 5; j++) assert_true(b[j] < b[j - 1] && (j == 4 || b[j] > a[j]));
    float one[2];
    glp_ode_schedule_rho(one, 20, 10, 1, 0.7f); /* one step: from sigma_start */
    assert_true(one[0] == a[0] && one[1] == 0);
    float rho;
    assert_int_equal(glp_rho_parse("0.7", &rho, "t"), 0);
    assert_true(rho == 0.7f);
    assert_int_equal(glp_rho_parse("0", &rho, "set glp_rho"), -1);
    assert_string_equal(ms_geterr(), "rho takes a number from 0.1 to 4 (1: evenly spaced, the reference), not '0' (set glp_rho)");
    assert_int_equal(glp_rho_parse("0.7x", &rho, "t"), -1);
    assert_int_equal(glp_rho_parse("nan", &rho, "t"), -1);
    glp_solver s;
    assert_int_equal(glp_solver_parse("dpm2m", &s, "t"), 0);
    assert_int_equal(s, GLP_DPM2M);
    assert_int_equal(glp_solver_parse("rk4", &s, "set glp_sampler"), -1);
    assert_string_equal(ms_geterr(), "unknown sampler 'rk4'; use euler, heun, midpoint or dpm2m (set glp_sampler)");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_euler_bit_identical),
        cmocka_unit_test(test_reference),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_budgets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
