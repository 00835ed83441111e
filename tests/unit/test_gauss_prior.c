/* test_gauss_prior.c — the Gaussian prior's closed-form projection against an
 * independent solve of its ODE: the flow-matching velocity of Gaussian data,
 * v(x, t) = E[eps - z | x_t = x] (conditional means by linear solves, no
 * eigen-decomposition), integrated from sigma to 0 with 4000 RK4 steps in
 * double. Also: it keeps the prior's distribution (so its edit pulls toward
 * the mean by half its square), sigma 0 keeps h, sigma 1 forgets it; noise
 * shaped like the data has the prior's covariance; in a metric, the same
 * ODE with noise shaped by the metric; the LM Fisher metric's algebra. */
#include "testutil.h"

#include "frechet.h"
#include "gauss_prior.h"
#include "glp.h"
#include "lm_fisher.h"
#include "rng.h"

enum { D = 5 };

/* A covariance A A^T + 0.05 I with a spread of scales, and a mean. */
static void make_prior(double *mu, double *cov, rng_t *r) {
    double a[D * D];
    for (int i = 0; i < D * D; i++) a[i] = rng_normal(r) * (i % D == 0 ? 3.0 : 0.5);
    for (int i = 0; i < D; i++) {
        mu[i] = rng_normal(r);
        for (int j = 0; j < D; j++) {
            double s = i == j ? 0.05 : 0;
            for (int k = 0; k < D; k++) s += a[i * D + k] * a[j * D + k];
            cov[i * D + j] = s;
        }
    }
}

/* y = S^-1 b by Gaussian elimination with partial pivoting (S is D x D). */
static void solve(const double *S, const double *b, double *y) {
    double m[D][D + 1];
    for (int i = 0; i < D; i++) {
        for (int j = 0; j < D; j++) m[i][j] = S[i * D + j];
        m[i][D] = b[i];
    }
    for (int c = 0; c < D; c++) {
        int p = c;
        for (int i = c + 1; i < D; i++)
            if (fabs(m[i][c]) > fabs(m[p][c])) p = i;
        for (int j = 0; j <= D; j++) {
            double t = m[c][j];
            m[c][j] = m[p][j], m[p][j] = t;
        }
        for (int i = c + 1; i < D; i++) {
            double f = m[i][c] / m[c][c];
            for (int j = c; j <= D; j++) m[i][j] -= f * m[c][j];
        }
    }
    for (int i = D - 1; i >= 0; i--) {
        double s = m[i][D];
        for (int j = i + 1; j < D; j++) s -= m[i][j] * y[j];
        y[i] = s / m[i][i];
    }
}

/* v(x, t) with x_t = (1 - t) z + t eps, z ~ N(mu, C), eps ~ N(0, Sig)
 * (Sig NULL: the identity): S = (1 - t)^2 C + t^2 Sig, y = S^-1 (x - (1 - t) mu),
 * E[z | x] = mu + (1 - t) C y, E[eps | x] = t Sig y. */
static void velocity(const double *mu, const double *C, const double *Sig, const double *x, double t, double *v) {
    double S[D * D], b[D], y[D];
    for (int i = 0; i < D * D; i++)
        S[i] = (1 - t) * (1 - t) * C[i] + t * t * (Sig ? Sig[i] : i % (D + 1) == 0 ? 1 : 0);
    for (int i = 0; i < D; i++) b[i] = x[i] - (1 - t) * mu[i];
    solve(S, b, y);
    for (int i = 0; i < D; i++) {
        double cy = 0, sy = Sig ? 0 : y[i];
        for (int k = 0; k < D; k++) cy += C[i * D + k] * y[k], sy += Sig ? Sig[i * D + k] * y[k] : 0;
        v[i] = t * sy - (mu[i] + (1 - t) * cy);
    }
}

/* x from t = s down to 0 (dx/dt = v), RK4. */
static void ode_ref(const double *mu, const double *C, const double *Sig, double *x, double s, int steps) {
    double h = -s / steps, k1[D], k2[D], k3[D], k4[D], tmp[D];
    for (int n = 0; n < steps; n++) {
        double t = s + n * h;
        velocity(mu, C, Sig, x, t, k1);
        for (int i = 0; i < D; i++) tmp[i] = x[i] + 0.5 * h * k1[i];
        velocity(mu, C, Sig, tmp, t + 0.5 * h, k2);
        for (int i = 0; i < D; i++) tmp[i] = x[i] + 0.5 * h * k2[i];
        velocity(mu, C, Sig, tmp, t + 0.5 * h, k3);
        for (int i = 0; i < D; i++) tmp[i] = x[i] + h * k3[i];
        velocity(mu, C, Sig, tmp, t + h, k4);
        for (int i = 0; i < D; i++) x[i] += h / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
    }
}

static float nmean[D] = {1.5f, -2.0f, 0.25f, 3.0f, 0.0f}, nvar[D] = {4.0f, 0.25f, 1.0f, 9.0f, 2.0f};
static glp_model normalizer(void) {
    return (glp_model){.c = {.d_input = D}, .mean = nmean, .var = nvar};
}

/* A seeded prior and its projection. */
static void setup(uint64_t seed, rng_t *r, double *mu, double *C, gauss_prior *gp) {
    rng_seed(r, seed);
    make_prior(mu, C, r);
    assert_int_equal(gauss_prior_init(gp, mu, C, D), 0);
}

/* Rows X[N, D] have mean mu and covariance C, within 3% of the deviations. */
static void assert_moments(const float *X, int N, const double *mu, const double *C) {
    double m2[D], c2[D * D];
    assert_int_equal(gauss_fit(X, N, D, m2, c2), 0);
    for (int i = 0; i < D; i++) {
        assert_true(fabs(m2[i] - mu[i]) < 0.03 * sqrt(C[i * D + i]));
        for (int j = 0; j < D; j++)
            assert_true(fabs(c2[i * D + j] - C[i * D + j]) < 0.03 * sqrt(C[i * D + i] * C[j * D + j]));
    }
}

static void test_matches_ode(void **st) {
    (void)st;
    rng_t r;
    double mu[D], C[D * D];
    gauss_prior gp;
    setup(3, &r, mu, C, &gp);
    glp_model nm = normalizer();
    const float sig[] = {0.05f, 0.474f, 0.8f, 0.999f};
    for (int si = 0; si < 4; si++)
        for (int row = 0; row < 3; row++) {
            float h[D];
            for (int i = 0; i < D; i++) h[i] = nmean[i] + sqrtf(nvar[i]) * (float)(mu[i] + 2 * rng_normal(&r));
            rng_t r1, r2;
            rng_seed(&r1, 100 + row), rng_seed(&r2, 100 + row);
            double x[D];
            for (int i = 0; i < D; i++) { /* the same noising, in double */
                double z = ((double)h[i] - nmean[i]) / sqrt((double)nvar[i] + 1e-12);
                x[i] = (1 - sig[si]) * z + sig[si] * rng_normal(&r2);
            }
            ode_ref(mu, C, NULL, x, sig[si], 4000);
            float got[D];
            memcpy(got, h, sizeof h);
            gauss_prior_project(&gp, &nm, got, 1, sig[si], &r1);
            for (int i = 0; i < D; i++) {
                double want = x[i] * sqrt((double)nvar[i] + 1e-12) + nmean[i];
                assert_true(fabs(got[i] - want) < 1e-4 * (1 + fabs(want)));
            }
        }
    gauss_prior_free(&gp);
}

/* Rows drawn from the prior stay distributed as the prior after projection
 * (the flow maps the noised marginal back onto it). */
static void test_keeps_the_prior(void **st) {
    (void)st;
    rng_t r;
    double mu[D], C[D * D], L[D * D] = {0};
    gauss_prior gp;
    setup(9, &r, mu, C, &gp);
    for (int i = 0; i < D; i++) /* Cholesky, to draw from N(mu, C) */
        for (int j = 0; j <= i; j++) {
            double s = C[i * D + j];
            for (int k = 0; k < j; k++) s -= L[i * D + k] * L[j * D + k];
            L[i * D + j] = i == j ? sqrt(s) : s / L[j * D + j];
        }
    enum { N = 200000 };
    float *h = malloc(sizeof(float) * N * D);
    for (int n = 0; n < N; n++) {
        double e[D];
        for (int i = 0; i < D; i++) e[i] = rng_normal(&r);
        for (int i = 0; i < D; i++) {
            double z = mu[i];
            for (int k = 0; k <= i; k++) z += L[i * D + k] * e[k];
            h[n * D + i] = (float)(z * sqrt(nvar[i] + 1e-12) + nmean[i]);
        }
    }
    glp_model nm = normalizer();
    float *h0 = malloc(sizeof(float) * N * D);
    memcpy(h0, h, sizeof(float) * N * D);
    gauss_prior_project(&gp, &nm, h, N, 0.6f, &r);
    /* Keeping the distribution means E|h' - m|^2 = E|h - m|^2, so the edit
     * e = h' - h pulls toward the mean by half its square:
     * -E[(h - m) . e] = E|e|^2 / 2 (what eval-recon reports as the pull). */
    double pull = 0, sq = 0;
    for (int n = 0; n < N; n++)
        for (int i = 0; i < D; i++) {
            double m = nmean[i] + sqrt(nvar[i] + 1e-12) * mu[i], e = (double)h[n * D + i] - h0[n * D + i];
            pull -= ((double)h0[n * D + i] - m) * e, sq += e * e;
        }
    assert_true(fabs(pull / sq - 0.5) < 0.02);
    free(h0);
    glp_normalize(&nm, h, h, N);
    assert_moments(h, N, mu, C);
    gauss_prior_free(&gp);
    free(h);
}

/* Noise shaped like the data: zero mean, covariance C in normalized units. */
static void test_shaped_noise(void **st) {
    (void)st;
    rng_t r;
    double mu[D], C[D * D];
    gauss_prior gp;
    setup(11, &r, mu, C, &gp);
    glp_model nm = normalizer();
    enum { N = 200000 };
    float *e = malloc(sizeof(float) * N * D);
    for (int n = 0; n < N; n++) {
        gauss_prior_noise(&gp, &nm, e + n * D, &r);
        for (int i = 0; i < D; i++) e[n * D + i] /= sqrtf(nvar[i]);
    }
    double zero[D] = {0};
    assert_moments(e, N, zero, C);
    gauss_prior_free(&gp);
    free(e);
}

static void test_ends(void **st) {
    (void)st;
    rng_t r;
    double mu[D], C[D * D];
    gauss_prior gp;
    setup(4, &r, mu, C, &gp);
    glp_model nm = normalizer();
    float a[D], b[D], h[D];
    for (int i = 0; i < D; i++) h[i] = a[i] = nmean[i] + 3 * rng_normal(&r), b[i] = -a[i];
    rng_t r1, r2;
    rng_seed(&r1, 7);
    gauss_prior_project(&gp, &nm, a, 1, 0.0f, &r1); /* sigma 0: h kept */
    for (int i = 0; i < D; i++) assert_true(fabs(a[i] - h[i]) < 1e-4 * (1 + fabs(h[i])));
    rng_seed(&r1, 7), rng_seed(&r2, 7);
    memcpy(a, h, sizeof h);
    gauss_prior_project(&gp, &nm, a, 1, 1.0f, &r1); /* sigma 1: a fresh sample, h forgotten */
    gauss_prior_project(&gp, &nm, b, 1, 1.0f, &r2);
    for (int i = 0; i < D; i++) assert_true(fabs(a[i] - b[i]) < 1e-5 * (1 + fabs(a[i])));
    gauss_prior_free(&gp);
}

/* In a metric M raised to a power the prior's projection is the flow of the
 * same Gaussian noised with noise of covariance (A A)^-1 in normalized units,
 * A = c M^(power/2) (the flow-matching path x = (1 - t) y + t A^-1 eps):
 * checked against that ODE solved in y, with no eigen-decomposition of M; and
 * A's definition: symmetric, A A proportional to M^power (M or M M, by hand),
 * tr(A C A) = D, A A^-1 = I. */
static void check_metric(double power) {
    rng_t r;
    double mu[D], C[D * D], M[D * D], B[D * D];
    gauss_prior gp, q;
    setup(13, &r, mu, C, &gp);
    for (int i = 0; i < D * D; i++) B[i] = rng_normal(&r);
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            double s = i == j ? 0.1 : 0;
            for (int k = 0; k < D; k++) s += B[i * D + k] * B[j * D + k];
            M[i * D + j] = s;
        }
    assert_int_equal(gauss_prior_init_metric(&q, &gp, M, power), 0);
    double AA[D * D], Sig[D * D], Mp[D * D], tr = 0, ratio = 0;
    for (int i = 0; i < D; i++) /* M^power by hand: M, or M M */
        for (int j = 0; j < D; j++) {
            double s = 0;
            for (int k = 0; k < D; k++) s += M[i * D + k] * M[k * D + j];
            Mp[i * D + j] = power == 2 ? s : M[i * D + j];
        }
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            double aa = 0, ai = 0, sg = 0;
            for (int k = 0; k < D; k++) {
                aa += (double)q.A[i * D + k] * q.A[k * D + j];
                ai += (double)q.A[i * D + k] * q.Ainv[k * D + j];
                sg += (double)q.Ainv[i * D + k] * q.Ainv[k * D + j];
            }
            AA[i * D + j] = aa, Sig[i * D + j] = sg;
            assert_true(fabs(ai - (i == j)) < 1e-4);
            assert_true(fabs(q.A[i * D + j] - q.A[j * D + i]) < 1e-5 * (1 + fabs(q.A[i * D + j])));
        }
    ratio = AA[0] / Mp[0];
    for (int i = 0; i < D * D; i++) assert_true(fabs(AA[i] - ratio * Mp[i]) < 1e-4 * ratio * (fabs(Mp[i]) + 1));
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++)
            for (int k = 0; k < D; k++) tr += AA[j * D + k] * C[k * D + i] * (i == j);
    assert_true(fabs(tr - D) < 1e-3 * D); /* tr(A C A) = tr(A A C) */
    glp_model nm = normalizer();
    const float sig[] = {0.05f, 0.474f, 0.8f};
    for (int si = 0; si < 3; si++)
        for (int row = 0; row < 3; row++) {
            float h[D];
            for (int i = 0; i < D; i++) h[i] = nmean[i] + sqrtf(nvar[i]) * (float)(mu[i] + 2 * rng_normal(&r));
            rng_t r1, r2;
            rng_seed(&r1, 200 + row), rng_seed(&r2, 200 + row);
            double x[D], e[D];
            for (int i = 0; i < D; i++) e[i] = rng_normal(&r2); /* the engine's noise, drawn in z */
            for (int i = 0; i < D; i++) {
                double y = ((double)h[i] - nmean[i]) / sqrt((double)nvar[i] + 1e-12), xi = 0;
                for (int k = 0; k < D; k++) xi += q.Ainv[i * D + k] * e[k];
                x[i] = (1 - sig[si]) * y + sig[si] * xi;
            }
            ode_ref(mu, C, Sig, x, sig[si], 4000);
            float got[D];
            memcpy(got, h, sizeof h);
            gauss_prior_project(&q, &nm, got, 1, sig[si], &r1);
            for (int i = 0; i < D; i++) {
                double want = x[i] * sqrt((double)nvar[i] + 1e-12) + nmean[i];
                assert_true(fabs(got[i] - want) < 1e-3 * (1 + fabs(want)));
            }
        }
    gauss_prior q2;
    assert_int_equal(gauss_prior_init_metric(&q2, &gp, M, 0.0), -1); /* powers outside (0, 4] */
    assert_int_equal(gauss_prior_init_metric(&q2, &gp, M, 4.5), -1);
    for (int i = 0; i < D * D; i++) M[i] = -M[i];
    assert_int_equal(gauss_prior_init_metric(&q2, &gp, M, power), -1);
    gauss_prior_free(&gp), gauss_prior_free(&q);
}

static void test_metric(void **st) {
    (void)st;
    check_metric(1.0);
    check_metric(2.0);
}

/* The Fisher metric moved into a normalizer's space (D F D, then with a
 * basis Bi^T D F D Bi) and its prediction d tr(F C) / (tr F tr C) for the
 * raw covariance C of a prior fitted in that space, against sums by hand. */
static void test_fisher_algebra(void **st) {
    (void)st;
    rng_t r;
    double mu[D], C[D * D], F[D * D], A[D * D];
    gauss_prior gp;
    setup(17, &r, mu, C, &gp);
    for (int i = 0; i < D * D; i++) A[i] = rng_normal(&r);
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            double s = 0;
            for (int k = 0; k < D; k++) s += A[i * D + k] * A[j * D + k];
            F[i * D + j] = s;
        }
    lm_fisher f = {.d = D, .F = F};
    float B[D * D] = {0}, Bi[D * D] = {0};
    for (int i = 0; i < D; i++) B[i * D + i] = 2.0f, Bi[i * D + i] = 0.5f; /* diagonal, then a swap of 0 and 1 */
    float t0[D], t1[D];
    memcpy(t0, B, sizeof t0), memcpy(B, B + D, sizeof t0), memcpy(B + D, t0, sizeof t0);
    for (int i = 0; i < D; i++) t1[i] = Bi[i * D], t0[i] = Bi[i * D + 1];
    for (int i = 0; i < D; i++) Bi[i * D] = t0[i], Bi[i * D + 1] = t1[i];
    for (int pass = 0; pass < 2; pass++) {
        glp_model nm = normalizer();
        if (pass) nm.basis = B, nm.basis_inv = Bi;
        double My[D * D], G[D * D], Ch[D * D], sd[D];
        for (int i = 0; i < D; i++) sd[i] = sqrt(nvar[i] + 1e-12);
        lm_fisher_normalized(&f, &nm, My);
        for (int i = 0; i < D; i++) /* G = Bi^T D F D Bi; Ch = D Bi C Bi^T D */
            for (int j = 0; j < D; j++) {
                double g = 0, c = 0;
                for (int k = 0; k < D; k++)
                    for (int l = 0; l < D; l++) {
                        double bki = pass ? Bi[k * D + i] : k == i, blj = pass ? Bi[l * D + j] : l == j;
                        double bik = pass ? Bi[i * D + k] : i == k, bjl = pass ? Bi[j * D + l] : j == l;
                        g += bki * sd[k] * F[k * D + l] * sd[l] * blj;
                        c += sd[i] * bik * C[k * D + l] * bjl * sd[j];
                    }
                G[i * D + j] = g, Ch[i * D + j] = c;
            }
        for (int i = 0; i < D * D; i++) assert_true(fabs(My[i] - G[i]) < 1e-9 * (1 + fabs(G[i])));
        double fc = 0, trF = 0, trC = 0;
        for (int i = 0; i < D; i++) {
            trF += F[i * D + i], trC += Ch[i * D + i];
            for (int k = 0; k < D; k++) fc += F[i * D + k] * Ch[k * D + i];
        }
        assert_true(fabs(lm_fisher_shape_ratio(&f, &nm, &gp) - D * fc / (trF * trC)) < 1e-9 * D * fc / (trF * trC));
    }
    gauss_prior_free(&gp);
}

/* What F predicts for an edit against isotropic noise of its norm,
 * d e^T F e / (tr F |e|^2), by hand on F = diag(1, 3): an edit along the
 * first axis 2/4 = 0.5, along the second 1.5, isotropic (1, 1) 1; no edit NaN. */
static void test_edit_ratio(void **st) {
    (void)st;
    double F[4] = {1, 0, 0, 3};
    lm_fisher f = {.d = 2, .F = F};
    assert_true(fabs(lm_fisher_edit_ratio(&f, 1.0, 1.0) - 0.5) < 1e-12);
    assert_true(fabs(lm_fisher_edit_ratio(&f, 3.0, 1.0) - 1.5) < 1e-12);
    assert_true(fabs(lm_fisher_edit_ratio(&f, 4.0, 2.0) - 1.0) < 1e-12);
    assert_true(isnan(lm_fisher_edit_ratio(&f, 0.0, 0.0)));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_ode),
        cmocka_unit_test(test_keeps_the_prior),
        cmocka_unit_test(test_shaped_noise),
        cmocka_unit_test(test_ends),
        cmocka_unit_test(test_metric),
        cmocka_unit_test(test_fisher_algebra),
        cmocka_unit_test(test_edit_ratio),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
