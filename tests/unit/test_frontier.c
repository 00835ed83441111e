/* test_frontier.c — the steering-frontier statistics: Pareto sets of known
 * points (ties, dominated points, duplicates, NaNs), staircase areas computed
 * by hand, and the bootstrap interval's determinism and coverage. */
#include "testutil.h"

#include "frontier.h"

static void test_pareto_known(void **state) {
    /* (1,.1) twice: duplicates, both kept; (2,.5) twice likewise; (3,.4) is
     * dominated by (2,.5); (2,.3) ties (2,.5) in fluency and loses; (4,.6)
     * is the most conceptual; the NaN point is never optimal. */
    double f[] = {1, 2, 3, 2, 2, 4, 1, NAN}, c[] = {0.1, 0.5, 0.4, 0.5, 0.3, 0.6, 0.1, 0.9};
    bool on[8];
    assert_int_equal(fr_pareto(f, c, 8, on), 5);
    bool want[] = {true, true, false, true, false, true, true, false};
    for (int i = 0; i < 8; i++) assert_int_equal(on[i], want[i]);
}

static void test_pareto_ties(void **state) {
    /* Equal concept, better fluency dominates; equal fluency, better concept too. */
    double f[] = {1, 2, 1}, c[] = {0.5, 0.5, 0.2};
    bool on[3];
    assert_int_equal(fr_pareto(f, c, 3, on), 1);
    assert_true(on[0]);
    assert_false(on[1]);
    assert_false(on[2]);
    assert_int_equal(fr_pareto(f, c, 0, on), 0);
    double f1[] = {7}, c1[] = {0};
    assert_int_equal(fr_pareto(f1, c1, 1, on), 1);
}

static void test_area_staircase(void **state) {
    /* S = 0 on [0,1), .2 on [1,2), .5 on [2,4] ((3,.4) is below the stair). */
    double f[] = {1, 2, 3}, c[] = {0.2, 0.5, 0.4};
    assert_float_equal(fr_area(f, c, 3, 0, 4), 0.2 + 1.0, 1e-12);
    assert_float_equal(fr_area(f, c, 3, 1.5, 2.5), 0.2 * 0.5 + 0.5 * 0.5, 1e-12);
    /* Order does not matter. */
    double f2[] = {3, 1, 2}, c2[] = {0.4, 0.2, 0.5};
    assert_float_equal(fr_area(f2, c2, 3, 0, 4), 1.2, 1e-12);
    /* A point past f_hi adds nothing; one before f_lo counts from f_lo. */
    double f3[] = {5, 0.5}, c3[] = {1.0, 0.1};
    assert_float_equal(fr_area(f3, c3, 2, 0, 4), 0.1 * 3.5, 1e-12);
    double f4[] = {-1}, c4[] = {0.3};
    assert_float_equal(fr_area(f4, c4, 1, 0, 2), 0.6, 1e-12);
    /* Empty range, no points, NaN points. */
    assert_float_equal(fr_area(f, c, 3, 2, 2), 0, 0);
    assert_float_equal(fr_area(f, c, 0, 0, 4), 0, 0);
    double f5[] = {NAN, 1}, c5[] = {0.9, 0.25};
    assert_float_equal(fr_area(f5, c5, 2, 0, 3), 0.5, 1e-12);
}

static void test_area_compares_methods(void **state) {
    /* B reaches A's concept at better fluency: more area on the shared range. */
    double fa[] = {2, 3}, ca[] = {0.1, 0.3}, fb[] = {1.5, 2.5}, cb[] = {0.1, 0.3};
    double lo = 1.5, hi = 3;
    double a = fr_area(fa, ca, 2, lo, hi), b = fr_area(fb, cb, 2, lo, hi);
    assert_float_equal(a, 0.1 * 1 + 0.3 * 0, 1e-12);
    assert_float_equal(b, 0.1 * 1 + 0.3 * 0.5, 1e-12);
    assert_true(b > a);
}

static void test_bootstrap(void **state) {
    double x[100];
    for (int i = 0; i < 100; i++) x[i] = i % 2;
    double m1, l1, h1, m2, l2, h2;
    fr_bootstrap_mean(x, 100, 2000, 42, 0.95, &m1, &l1, &h1);
    fr_bootstrap_mean(x, 100, 2000, 42, 0.95, &m2, &l2, &h2);
    assert_float_equal(m1, 0.5, 1e-12);
    assert_true(l1 == l2 && h1 == h2); /* seeded: bit-identical */
    /* Normal approximation: 0.5 +- 1.96 * 0.05 */
    assert_true(l1 > 0.38 && l1 < 0.44);
    assert_true(h1 > 0.56 && h1 < 0.62);
    double y[50];
    for (int i = 0; i < 50; i++) y[i] = sin(1.3 * i);
    fr_bootstrap_mean(y, 50, 500, 42, 0.95, &m1, &l1, &h1);
    fr_bootstrap_mean(y, 50, 500, 43, 0.95, &m2, &l2, &h2);
    assert_true(m1 == m2 && (l1 != l2 || h1 != h2)); /* another seed, other resamples */
    assert_true(l1 < m1 && m1 < h1);
    /* Constant data, one value, NaNs skipped, nothing finite. */
    double k[] = {3, 3, 3, NAN};
    fr_bootstrap_mean(k, 4, 100, 1, 0.95, &m1, &l1, &h1);
    assert_true(m1 == 3 && l1 == 3 && h1 == 3);
    fr_bootstrap_mean(k, 1, 100, 1, 0.95, &m1, &l1, &h1);
    assert_true(m1 == 3 && l1 == 3 && h1 == 3);
    double nan1[] = {NAN};
    fr_bootstrap_mean(nan1, 1, 100, 1, 0.95, &m1, &l1, &h1);
    assert_true(isnan(m1) && isnan(l1) && isnan(h1));
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_pareto_known), cmocka_unit_test(test_pareto_ties),
                                       cmocka_unit_test(test_area_staircase),
                                       cmocka_unit_test(test_area_compares_methods), cmocka_unit_test(test_bootstrap)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
