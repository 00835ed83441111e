/* test_scaling.c — the power-law fit L(C) = E + A·C^-alpha: exact recovery
 * from noiseless points, robustness to noise, and the constraints. */
#include "testutil.h"

#include "scaling.h"

static void make(double E, double A, double alpha, double *C, double *L, int n, double noise) {
    for (int i = 0; i < n; i++) {
        C[i] = 1e12 * pow(4.0, i);
        L[i] = E + A * pow(C[i], -alpha) + noise * ((i % 2) ? 1 : -1);
    }
}

static void test_exact(void **state) {
    double C[6], L[6];
    make(0.55, 400.0, 0.21, C, L, 6, 0);
    scaling_fit f;
    assert_int_equal(scaling_fit_power(C, L, 6, &f), 0);
    assert_float_equal(f.alpha, 0.21, 1e-6);
    assert_float_equal(f.E, 0.55, 1e-6);
    assert_float_equal(f.A / 400.0, 1, 1e-4);
    assert_true(f.rmse < 1e-8);
}

static void test_noisy(void **state) {
    double C[8], L[8];
    make(0.6, 50.0, 0.15, C, L, 8, 0.002);
    scaling_fit f;
    assert_int_equal(scaling_fit_power(C, L, 8, &f), 0);
    assert_float_equal(f.alpha, 0.15, 0.03);
    assert_true(f.rmse < 0.003);
}

/* Loss that does not fall: A = 0, E = the mean. Loss falling to below zero
 * asymptotically: E is clamped at 0. */
static void test_constraints(void **state) {
    double C[4] = {1, 10, 100, 1000}, L[4] = {1, 1.1, 1.2, 1.3};
    scaling_fit f;
    assert_int_equal(scaling_fit_power(C, L, 4, &f), 0);
    assert_float_equal(f.A, 0, 0);
    assert_float_equal(f.E, 1.15, 1e-12);
    double L2[4] = {3, 2, 1, 0.1};
    assert_int_equal(scaling_fit_power(C, L2, 4, &f), 0);
    assert_true(f.E >= 0);
    double bad[2] = {1, 2};
    assert_int_equal(scaling_fit_power(C, bad, 2, &f), -1);
    double C0[3] = {0, 1, 2}, L3[3] = {1, 1, 1};
    assert_int_equal(scaling_fit_power(C0, L3, 3, &f), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_exact), cmocka_unit_test(test_noisy),
                                       cmocka_unit_test(test_constraints)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
