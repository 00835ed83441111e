/* test_wmat.c — the weight kernels (engine/core/wmat.c) and the pool they run
 * on (engine/core/pool.c).
 *
 * Products of F32 / F16 / BF16 weights with f32 activations against float64
 * references (tools/gen_wmat_fixture.py), for 1..4 input rows (the fused
 * widen-and-dot kernels) and 7 (widened tiles through sgemm), with the
 * AVX-512 kernels (when the CPU has them) and the portable C ones, on one and
 * two threads. Stated tolerance: every output within 1e-5 * sum_k |x_k w_k|
 * of the float64 value (f32 accumulation of K <= 300 exact products is good
 * to ~K * 2^-24 of that sum in the worst case, ~sqrt(K) * 2^-24 typically).
 *
 * Matmul precision "medium" (vdpbf16ps, engine/core/gemm_panel.c) against
 * float64 products of the BF16-rounded activations (medium.safetensors), with
 * the same tolerance, when the CPU has the instruction; decode-sized products
 * and the portable kernels stay exact under "medium". */
#include "testutil.h"
#include "gradcheck.h"

#include "gemm_panel.h"
#include "ops.h"
#include "pool.h"
#include "safetensors.h"
#include "wmat.h"

#include <stdatomic.h>

#define REF FIXTURES "/wmat/ref.safetensors"
#define MEDIUM FIXTURES "/wmat/medium.safetensors"
#define TOL 1e-5

static st_file F, MF;

static int setup(void **st) {
    (void)st;
    return st_open(&F, REF) || st_open(&MF, MEDIUM);
}
static int teardown(void **st) {
    (void)st;
    st_close(&F);
    st_close(&MF);
    wmat_set_precision(WM_PREC_HIGHEST);
    wmat_force_portable(false);
    ms_set_threads(0);
    return 0;
}

static wmat fixture_w(const char *dt, int K) {
    char name[64];
    snprintf(name, sizeof name, "w_%s_%d", dt, K);
    const st_tensor *t = st_find(&F, name);
    assert_non_null(t);
    wm_dtype d = t->dtype == ST_F32 ? WM_F32 : t->dtype == ST_F16 ? WM_F16 : WM_BF16;
    return (wmat){d, t->data, (int)t->shape[0], (int)t->shape[1]};
}

static double *fixture_f64(const char *fmt, const char *dt, int K) {
    char name[64];
    snprintf(name, sizeof name, fmt, dt, K);
    const st_tensor *t = st_find(&F, name);
    assert_non_null(t);
    assert_int_equal(t->dtype, ST_F64);
    double *v = malloc(t->nbytes);
    memcpy(v, t->data, t->nbytes);
    return v;
}

/* Worst |y - ref| / sum|x w| over T rows; prints it. */
static double check_product(const char *dt, int K, int T, const char *kernel, int threads) {
    wmat w = fixture_w(dt, K);
    char xn[32];
    snprintf(xn, sizeof xn, "x_%d", K);
    const st_tensor *xt = st_find(&F, xn);
    assert_non_null(xt);
    const float *x = (const float *)xt->data;
    double *ref = fixture_f64("y_%s_%d", dt, K), *abs = fixture_f64("a_%s_%d", dt, K);
    float *y = vec((size_t)T * w.rows);
    wmat_linear(y, x, &w, NULL, T);
    double worst = 0;
    for (int i = 0; i < T * w.rows; i++) {
        double e = fabs(y[i] - ref[i]) / (abs[i] > 0 ? abs[i] : 1);
        worst = e > worst || e != e ? e : worst;
    }
    printf("# %-4s K=%-3d T=%d %-8s %d thread(s): max |y-ref|/sum|xw| %.2e\n", dt, K, T, kernel, threads, worst);
    free(ref), free(abs), free(y);
    return worst;
}

static void test_products_match_float64(void **st) {
    (void)st;
    const char *dts[] = {"F32", "F16", "BF16"};
    int Ks[] = {300, 40}, Ts[] = {1, 2, 3, 4, 7};
    for (int portable = 0; portable < 2; portable++) {
        wmat_force_portable(portable);
        for (int threads = 1; threads <= 2; threads++) {
            ms_set_threads(threads);
            for (int d = 0; d < 3; d++)
                for (int k = 0; k < 2; k++)
                    for (int t = 0; t < 5; t++)
                        assert_true(check_product(dts[d], Ks[k], Ts[t], wmat_kernel(), threads) < TOL);
        }
    }
    wmat_force_portable(false);
    ms_set_threads(0);
}

static const double *medium_f64(const char *name) {
    const st_tensor *t = st_find(&MF, name);
    assert_non_null(t);
    assert_int_equal(t->dtype, ST_F64);
    return (const double *)t->data;
}

/* Worst |y - ref| / sum|x w| of y = x w^T (T rows) against ref / abs. */
static double worst_error(const float *x, const wmat *w, int T, const double *ref, const double *abs) {
    float *y = vec((size_t)T * w->rows);
    wmat_linear(y, x, w, NULL, T);
    double worst = 0;
    for (int i = 0; i < T * w->rows; i++) {
        double e = fabs(y[i] - ref[i]) / (abs[i] > 0 ? abs[i] : 1);
        worst = e > worst || e != e ? e : worst;
    }
    free(y);
    return worst;
}

static void test_medium_matches_float64(void **st) {
    (void)st;
    if (!wmat_bf16_dot_available()) {
        printf("# no AVX-512 BF16 on this CPU: medium is the exact path (tested above)\n");
        return;
    }
    wmat_set_precision(WM_PREC_MEDIUM);
    const st_tensor *wt = st_find(&MF, "w_m");
    assert_non_null(wt);
    wmat wm = {WM_BF16, wt->data, (int)wt->shape[0], (int)wt->shape[1]};
    const float *xm = (const float *)st_find(&MF, "x_m")->data;
    for (int threads = 1; threads <= 2; threads++) {
        ms_set_threads(threads);
        for (int k = 0; k < 2; k++) { /* the fixture's small shapes at T 7: a 7-row block, one panel */
            int K = k ? 40 : 300;
            char yn[16], an[16], xn[16];
            snprintf(yn, sizeof yn, "ym_%d", K), snprintf(an, sizeof an, "am_%d", K), snprintf(xn, sizeof xn, "x_%d", K);
            wmat w = fixture_w("BF16", K);
            double e = worst_error((const float *)st_find(&F, xn)->data, &w, 7, medium_f64(yn), medium_f64(an));
            printf("# medium BF16 K=%d T=7 %d thread(s): %.2e\n", K, threads, e);
            assert_true(e < TOL);
        }
        for (int T = 5; T <= 11; T += 3) { /* 53 rows, K 2085: panels, chunks, odd K, row blocks */
            double e = worst_error(xm, &wm, T, medium_f64("ym_m"), medium_f64("am_m"));
            printf("# medium BF16 K=2085 T=%d %d thread(s): %.2e\n", T, threads, e);
            assert_true(e < TOL);
        }
    }
    ms_set_threads(0);
    wmat_set_precision(WM_PREC_HIGHEST);
}

/* gemm_panel_sgemm against a float64 product, every transpose combination,
 * alpha / beta, padded leading dimensions, shapes past one panel and one
 * chunk of K, and the degenerate ones; within TOL of sum |alpha a b| +
 * |beta c|. */
static double sgemm_case(bool ta, bool tb, int M, int N, int K, float alpha, float beta) {
    int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 2, ldc = N + 5;
    size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
    float *A = vec(na + 1), *B = vec(nb + 1), *C = vec(nc + 1), *C0 = vec(nc + 1);
    uint64_t r = 12345u + (uint64_t)M * 31 + (uint64_t)N * 7 + (uint64_t)K;
    for (size_t i = 0; i < na; i++) A[i] = (float)((r = r * 6364136223846793005u + 1442695040888963407u) >> 40) / (1 << 24) - 0.5f;
    for (size_t i = 0; i < nb; i++) B[i] = (float)((r = r * 6364136223846793005u + 1442695040888963407u) >> 40) / (1 << 24) - 0.5f;
    for (size_t i = 0; i < nc; i++) C0[i] = C[i] = (float)(i % 7) - 3;
    gemm_panel_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    double worst = 0;
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = 0, a = 0;
            for (int k = 0; k < K; k++) {
                double x = ta ? A[(size_t)k * lda + m] : A[(size_t)m * lda + k];
                double y = tb ? B[(size_t)n * ldb + k] : B[(size_t)k * ldb + n];
                s += x * y, a += fabs(x * y);
            }
            double c0 = C0[(size_t)m * ldc + n], want = alpha * s + beta * c0;
            double e = fabs(C[(size_t)m * ldc + n] - want) / (fabs(alpha) * a + fabs(beta * c0) + 1e-30);
            worst = e > worst || e != e ? e : worst;
        }
    for (int m = 0; m < M; m++) /* the padding between rows is left alone */
        for (int n = N; n < ldc; n++) assert_true(C[(size_t)m * ldc + n] == C0[(size_t)m * ldc + n]);
    free(A), free(B), free(C), free(C0);
    return worst;
}

static void test_panel_sgemm(void **st) {
    (void)st;
    if (!gemm_panel_available(GP_EXACT)) {
        printf("# no AVX-512: the trainers' products stay OpenBLAS's\n");
        return;
    }
    static const int shapes[][3] = {{13, 53, 1030}, {8, 48, 16}, {1, 1, 1}, {37, 100, 7}, {9, 17, 2049}};
    static const float ab[][2] = {{1, 0}, {0.5f, 1}, {-1, -2}};
    for (int s = 0; s < 5; s++)
        for (int t = 0; t < 4; t++)
            for (int c = 0; c < 3; c++) {
                double e = sgemm_case(t & 1, t & 2, shapes[s][0], shapes[s][1], shapes[s][2], ab[c][0], ab[c][1]);
                if (e >= TOL) fail_msg("sgemm ta %d tb %d %dx%dx%d alpha %g beta %g: %.2e", t & 1, !!(t & 2),
                                       shapes[s][0], shapes[s][1], shapes[s][2], ab[c][0], ab[c][1], e);
            }
    printf("# gemm_panel_sgemm: 60 cases within %.0e\n", TOL);
}

/* The exact panels on a shape past one panel and one chunk of K, odd K. */
static void test_exact_large_shape(void **st) {
    (void)st;
    const st_tensor *wt = st_find(&MF, "w_m");
    assert_non_null(wt);
    wmat wm = {WM_BF16, wt->data, (int)wt->shape[0], (int)wt->shape[1]};
    const float *xm = (const float *)st_find(&MF, "x_m")->data;
    for (int portable = 0; portable < 2; portable++) {
        wmat_force_portable(portable);
        for (int threads = 1; threads <= 2; threads++) {
            ms_set_threads(threads);
            for (int T = 1; T <= 11; T += 2) {
                double e = worst_error(xm, &wm, T, medium_f64("y_m"), medium_f64("a_m"));
                printf("# exact BF16 K=2085 T=%d %s %d thread(s): %.2e\n", T, wmat_kernel(), threads, e);
                assert_true(e < TOL);
            }
        }
    }
    wmat_force_portable(false);
    ms_set_threads(0);
}

/* Under "medium", decode-sized products (T <= WM_SMALL_T), F16 weights and
 * the portable kernels keep the exact results. */
static void test_medium_leaves_exact_paths(void **st) {
    (void)st;
    wmat_set_precision(WM_PREC_MEDIUM);
    for (int T = 1; T <= WM_SMALL_T; T++) assert_true(check_product("BF16", 300, T, "medium", 2) < TOL);
    assert_true(check_product("F16", 300, 7, "medium", 2) < TOL);
    wmat_force_portable(true);
    assert_true(check_product("BF16", 300, 7, "medium, portable", 2) < TOL);
    wmat_force_portable(false);
    /* rounding the activations shows: the exact reference is missed by more */
    if (wmat_bf16_dot_available()) assert_true(check_product("BF16", 300, 7, "medium", 2) > 1e-4);
    wmat_set_precision(WM_PREC_HIGHEST);
    wm_precision p;
    assert_int_equal(wm_precision_parse("medium", &p), 0);
    assert_int_equal(p, WM_PREC_MEDIUM);
    assert_int_equal(wm_precision_parse("high", &p), -1);
}

/* wmat_linear_n puts each part's outputs at its column: splitting a matrix
 * into row blocks gives the whole's numbers (up to summation order: sgemm's
 * blocking depends on the number of outputs). */
static void test_parts_side_by_side(void **st) {
    (void)st;
    ms_set_threads(2);
    const char *dts[] = {"F32", "F16", "BF16"};
    const float *x = (const float *)st_find(&F, "x_300")->data;
    for (int d = 0; d < 3; d++)
        for (int T = 1; T <= 7; T += 6) {
            wmat w = fixture_w(dts[d], 300);
            size_t es = wm_dtype_size(w.dtype);
            wmat parts[3] = {w, w, w};
            parts[0].rows = 20, parts[1].rows = 9, parts[2].rows = 8;
            parts[1].data = (const uint8_t *)w.data + 20 * 300 * es;
            parts[2].data = (const uint8_t *)w.data + 29 * 300 * es;
            float *whole = vec((size_t)T * 37), *split = vec((size_t)T * 37);
            wmat_linear(whole, x, &w, NULL, T);
            wmat_linear_n(split, x, parts, 3, T);
            double e = 0, big = 0; /* against the largest output */
            for (int i = 0; i < T * 37; i++) e = fmax(e, fabs(split[i] - whole[i])), big = fmax(big, fabs(whole[i]));
            e /= big;
            printf("# parts %s T=%d %.2e\n", dts[d], T, e);
            assert_true(e < 1e-6);
            free(whole), free(split);
        }
    ms_set_threads(0);
}

/* Rows widened by wmat_row / wmat_to_f32 equal the stored values. */
static void test_widening(void **st) {
    (void)st;
    wmat w = fixture_w("BF16", 40), w32 = fixture_w("F32", 40);
    float all[5 * 40], row[40];
    wmat_to_f32(&w, all);
    wmat_row(&w, 3, row);
    assert_memory_equal(row, all + 3 * 40, sizeof row);
    for (int i = 0; i < 5 * 40; i++) { /* BF16 keeps the top 16 bits, rounded */
        float want = ((const float *)w32.data)[i];
        assert_true(fabsf(all[i] - want) <= fabsf(want) * (1.0f / 256));
    }
}

static _Atomic int g_hits[1000];
static void count_item(void *ctx, int i) {
    (void)ctx;
    atomic_fetch_add(&g_hits[i], 1);
}
static void nested_item(void *ctx, int i) { /* a job inside a job runs inline */
    (void)ctx;
    if (i % 100 == 0) pool_run(10, count_item, NULL);
    atomic_fetch_add(&g_hits[i], 1);
}

static void test_pool_runs_every_item_once(void **st) {
    (void)st;
    for (int threads = 1; threads <= 3; threads++) {
        ms_set_threads(threads);
        for (int rep = 0; rep < 50; rep++) {
            for (int i = 0; i < 1000; i++) g_hits[i] = 0;
            pool_run(1000, rep % 2 ? nested_item : count_item, NULL);
            for (int i = 0; i < 1000; i++) {
                int want = 1 + (rep % 2 && i < 10 ? 10 : 0);
                if (g_hits[i] != want) fail_msg("threads %d rep %d item %d ran %d times", threads, rep, i, g_hits[i]);
            }
        }
    }
    ms_set_threads(0);
}

/* Many tiny jobs, more threads than cores: workers are often late to a job
 * the caller has already finished and closed. Every item still runs exactly
 * once, and never after its pool_run returned (the next job's count would
 * show it). */
typedef struct {
    _Atomic int hits[8];
} tiny_job;
static void tiny_item(void *ctx, int i) { atomic_fetch_add(&((tiny_job *)ctx)->hits[i], 1); }

static void test_pool_late_workers(void **st) {
    (void)st;
    tiny_job job;
    for (int threads = 2; threads <= 4; threads += 2) {
        ms_set_threads(threads);
        for (int rep = 0; rep < 20000; rep++) {
            int n = 1 + rep % 8;
            for (int i = 0; i < 8; i++) job.hits[i] = 0;
            pool_run(n, tiny_item, &job);
            for (int i = 0; i < 8; i++)
                if (job.hits[i] != (i < n)) fail_msg("threads %d rep %d item %d ran %d times", threads, rep, i, job.hits[i]);
        }
    }
    ms_set_threads(0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_products_match_float64),
        cmocka_unit_test(test_parts_side_by_side),
        cmocka_unit_test(test_exact_large_shape),
        cmocka_unit_test(test_panel_sgemm),
        cmocka_unit_test(test_medium_matches_float64),
        cmocka_unit_test(test_medium_leaves_exact_paths),
        cmocka_unit_test(test_widening),
        cmocka_unit_test(test_pool_runs_every_item_once),
        cmocka_unit_test(test_pool_late_workers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
