/* test_frechet.c — Fréchet distance against closed forms: commuting
 * covariances (shared eigenvectors) give |dmu|^2 + sum (sqrt l1 - sqrt l2)^2;
 * the distance is symmetric for non-commuting ones and zero to itself; fits
 * of Gaussian samples recover their parameters. */
#include "testutil.h"

#include "frechet.h"
#include "rng.h"

enum { D = 6 };

/* A random orthonormal basis: Gram-Schmidt on normal vectors (rows). */
static void random_basis(double *q, rng_t *r) {
    for (int k = 0; k < D; k++) {
        for (int i = 0; i < D; i++) q[k * D + i] = rng_normal(r);
        for (int j = 0; j < k; j++) {
            double p = 0;
            for (int i = 0; i < D; i++) p += q[k * D + i] * q[j * D + i];
            for (int i = 0; i < D; i++) q[k * D + i] -= p * q[j * D + i];
        }
        double n = 0;
        for (int i = 0; i < D; i++) n += q[k * D + i] * q[k * D + i];
        for (int i = 0; i < D; i++) q[k * D + i] /= sqrt(n);
    }
}

/* cov = Q^T diag(l) Q (rows of Q are the eigenvectors). */
static void compose(double *cov, const double *q, const double *l) {
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            double s = 0;
            for (int k = 0; k < D; k++) s += q[k * D + i] * l[k] * q[k * D + j];
            cov[i * D + j] = s;
        }
}

static void test_commuting_closed_form(void **st) {
    (void)st;
    rng_t r;
    rng_seed(&r, 5);
    double q[D * D], l1[D], l2[D], c1[D * D], c2[D * D], m1[D], m2[D];
    random_basis(q, &r);
    double want = 0;
    for (int i = 0; i < D; i++) {
        l1[i] = 0.1 + 3 * rng_uniform(&r), l2[i] = 0.1 + 3 * rng_uniform(&r);
        m1[i] = rng_normal(&r), m2[i] = rng_normal(&r);
        want += (m1[i] - m2[i]) * (m1[i] - m2[i]) + (sqrt(l1[i]) - sqrt(l2[i])) * (sqrt(l1[i]) - sqrt(l2[i]));
    }
    compose(c1, q, l1);
    compose(c2, q, l2);
    double fd = frechet_distance(m1, c1, m2, c2, D);
    assert_true(fabs(fd - want) < 1e-9 * (1 + want));
    assert_true(frechet_distance(m1, c1, m1, c1, D) < 1e-9);
}

static void test_symmetric_noncommuting(void **st) {
    (void)st;
    rng_t r;
    rng_seed(&r, 9);
    double q1[D * D], q2[D * D], l1[D], l2[D], c1[D * D], c2[D * D], m[D] = {0};
    random_basis(q1, &r);
    random_basis(q2, &r);
    for (int i = 0; i < D; i++) l1[i] = 0.05 + rng_uniform(&r), l2[i] = 0.05 + 2 * rng_uniform(&r);
    compose(c1, q1, l1);
    compose(c2, q2, l2);
    double a = frechet_distance(m, c1, m, c2, D), b = frechet_distance(m, c2, m, c1, D);
    assert_true(a > 0.01);
    assert_true(fabs(a - b) < 1e-9 * a);
}

static void test_fit_of_samples(void **st) {
    (void)st;
    rng_t r;
    rng_seed(&r, 3);
    double q[D * D], l[D], c[D * D], mu[D];
    random_basis(q, &r);
    for (int i = 0; i < D; i++) l[i] = 0.5 + rng_uniform(&r), mu[i] = 2 * rng_normal(&r);
    compose(c, q, l);
    long n = 200000;
    float *x = malloc(sizeof(float) * (size_t)n * D);
    assert_int_equal(gauss_sample(x, n, D, mu, c, &r), 0);
    double fm[D], fc[D * D];
    assert_int_equal(gauss_fit(x, n, D, fm, fc), 0);
    for (int i = 0; i < D; i++) assert_true(fabs(fm[i] - mu[i]) < 0.02);
    for (int i = 0; i < D * D; i++) assert_true(fabs(fc[i] - c[i]) < 0.03);
    assert_true(frechet_distance(fm, fc, mu, c, D) < 1e-3);
    assert_int_equal(gauss_fit(x, 1, D, fm, fc), -1);
    free(x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commuting_closed_form),
        cmocka_unit_test(test_symmetric_noncommuting),
        cmocka_unit_test(test_fit_of_samples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
