/* test_token_prior.c — the Gaussian prior given the token, fitted from a
 * small harvest written here (two lz4 shards of acts and tokens): its token
 * means (shrunk toward the overall mean) and the covariance around them
 * against sums by hand in double over the same f16 values; projecting at
 * sigma 1 draws fresh rows with the token's mean and that covariance (the
 * token's part of h kept, the rest forgotten); sigma 0 keeps h; bad token
 * ids, widths and a missing shard are refused by name. */
#include "testutil.h"

#include "frechet.h"
#include "glp.h"
#include "half.h"
#include "harvest.h"
#include "rng.h"
#include "safetensors.h"
#include "token_prior.h"
#include "util.h"

#include <unistd.h>

enum { D = 4, V = 3, ROWS = 5000, SHARD = 3000, RARE = 5 };

static const double MU[V][D] = {{3, -2, 1, 0}, {-1, 4, 0, 2}, {0, 0, -3, 1}};
static float nmean[D] = {0.5f, 1.0f, -0.5f, 1.0f}, nvar[D] = {4.0f, 9.0f, 2.0f, 1.0f};

static glp_model normalizer(void) {
    return (glp_model){.c = {.d_input = D}, .mean = nmean, .var = nvar};
}

/* The rows as stored (f16) and their tokens: token 2 only RARE times. */
static float X[ROWS * D];
static int TOK[ROWS];

static void make_rows(void) {
    rng_t r;
    rng_seed(&r, 5);
    for (int n = 0; n < ROWS; n++) {
        int t = n < RARE ? 2 : n % 2;
        double e[D];
        for (int i = 0; i < D; i++) e[i] = rng_normal(&r);
        TOK[n] = t;
        for (int i = 0; i < D; i++) { /* a correlated within-token spread: L e */
            double z = MU[t][i] + (i + 1) * 0.25 * e[i] + (i ? 0.2 * e[i - 1] : 0);
            X[n * D + i] = f16_to_f32(f32_to_f16((float)z));
        }
    }
}

static void write_harvest(const char *dir, int bad_token) {
    for (int k = 0; k * SHARD < ROWS; k++) {
        int n = ROWS - k * SHARD < SHARD ? ROWS - k * SHARD : SHARD;
        uint16_t *a = malloc(sizeof(uint16_t) * (size_t)n * D);
        int *t = malloc(sizeof(int) * (size_t)n);
        for (int i = 0; i < n * D; i++) a[i] = f32_to_f16(X[k * SHARD * D + i]);
        for (int i = 0; i < n; i++) t[i] = TOK[k * SHARD + i];
        if (bad_token && k == 1) t[7] = bad_token;
        st_wtensor w[] = {{"acts", ST_F16, 2, {n, D}, a}, {"tokens", ST_I32, 1, {n}, t}};
        char *p = harvest_shard_path(dir, k);
        assert_int_equal(st_write(p, w, 2, NULL, 0), 0);
        free(p), free(a), free(t);
    }
    char *p = ms_path_join(dir, "stats.safetensors");
    st_wtensor s[] = {{"mean", ST_F32, 1, {D}, nmean}, {"var", ST_F32, 1, {D}, nvar}};
    assert_int_equal(st_write(p, s, 2, NULL, 0), 0);
    free(p);
    p = ms_path_join(dir, "manifest.json");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "{\"model\": \"x\", \"layer\": 1, \"d\": %d, \"split\": \"train\", \"shard_rows\": %d, \"rows\": %d}\n",
            D, SHARD, ROWS);
    fclose(f);
    free(p);
}

static char *tmpdir(void) {
    char *d = xstrdup("/tmp/ms_tp_XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static void rm_harvest(char *dir) {
    const char *names[] = {"shard-00000.safetensors.lz4", "shard-00001.safetensors.lz4", "stats.safetensors",
                           "manifest.json"};
    for (int i = 0; i < 4; i++) {
        char *p = ms_path_join(dir, names[i]);
        unlink(p);
        free(p);
    }
    rmdir(dir);
    free(dir);
}

/* C = V^T diag(l) V from the prior's eigen-decomposition. */
static void prior_cov(const gauss_prior *gp, double *C) {
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            double s = 0;
            for (int k = 0; k < D; k++) s += gp->v[k * D + i] * gp->l[k] * gp->v[k * D + j];
            C[i * D + j] = s;
        }
}

/* The rows written as a harvest in a new folder (returned) and fitted. */
static char *fit_fresh(token_prior *tp, const glp_model *nm, int vocab, double shrink) {
    make_rows();
    char *dir = tmpdir();
    write_harvest(dir, 0);
    assert_int_equal(token_prior_fit(tp, dir, nm, vocab, shrink), 0);
    return dir;
}

static void test_fit_by_hand(void **st) {
    (void)st;
    glp_model nm = normalizer();
    token_prior tp;
    const double shrink = 16;
    char *dir = fit_fresh(&tp, &nm, V + 1, shrink); /* a token never seen: no shift */
    assert_int_equal(tp.rows, ROWS);
    assert_int_equal(tp.count[2], RARE);
    assert_int_equal(tp.count[3], 0);
    double mu_t[V + 1][D], sum[V + 1][D] = {{0}};
    long cnt[V + 1] = {0};
    for (int n = 0; n < ROWS; n++) {
        cnt[TOK[n]]++;
        for (int i = 0; i < D; i++) sum[TOK[n]][i] += X[n * D + i];
    }
    assert_int_equal(tp.seen, V);
    assert_int_equal(tp.slot[3], -1); /* unseen: no row of shift, its mean is the overall one */
    for (int t = 0; t <= V; t++)
        for (int i = 0; i < D; i++) {
            mu_t[t][i] = (sum[t][i] + shrink * nmean[i]) / ((double)cnt[t] + shrink);
            double got = t < V ? tp.shift[tp.slot[t] * D + i] : 0;
            assert_true(fabs(got - (nmean[i] - mu_t[t][i])) < 1e-5);
        }
    /* the rare token borrows: its mean lies between its rows' and the overall one */
    assert_true(fabs(mu_t[2][2] - MU[2][2]) > 0.5);
    /* the covariance of the rows around their token's (shrunk) mean,
     * normalized: (h + (m - mu_t) - m) / sd */
    static float Y[ROWS * D];
    for (int n = 0; n < ROWS; n++)
        for (int i = 0; i < D; i++) Y[n * D + i] = (float)((X[n * D + i] - mu_t[TOK[n]][i]) / sqrt(nvar[i] + 1e-12));
    double m[D], C[D * D], got[D * D], m0[D], C0[D * D];
    assert_int_equal(gauss_fit(Y, ROWS, D, m, C), 0);
    prior_cov(&tp.gp, got);
    for (int i = 0; i < D * D; i++) assert_true(fabs(got[i] - C[i]) < 1e-4 * (1 + fabs(C[i])));
    for (int i = 0; i < D; i++) assert_true(fabs(tp.gp.mu[i] - m[i]) < 1e-5);
    /* the share of the variance the tokens leave */
    for (int n = 0; n < ROWS; n++)
        for (int i = 0; i < D; i++) Y[n * D + i] = (float)((X[n * D + i] - nmean[i]) / sqrt(nvar[i] + 1e-12));
    assert_int_equal(gauss_fit(Y, ROWS, D, m0, C0), 0);
    double tw = 0, tt = 0;
    for (int i = 0; i < D; i++) tw += C[i * D + i], tt += C0[i * D + i];
    assert_true(fabs(tp.within - tw / tt) < 1e-3);
    assert_true(tp.within < 0.5); /* the token means carry most of these rows' variance */
    token_prior_free(&tp);
    rm_harvest(dir);
}

/* sigma 1: rows of token 0, wherever they start, become fresh draws of
 * N(mu_0, C_w) (in the prior's normalized frame: mean gp.mu, covariance
 * C_w); sigma 0: h kept. */
static void test_projection(void **st) {
    (void)st;
    glp_model nm = normalizer();
    token_prior tp;
    char *dir = fit_fresh(&tp, &nm, V, 16);
    enum { N = 100000 };
    float *h = malloc(sizeof(float) * N * D), *h0 = malloc(sizeof(float) * 8 * D);
    int *tok = calloc(N, sizeof(int));
    for (int n = 0; n < N; n++)
        for (int i = 0; i < D; i++) h[n * D + i] = (float)(MU[1][i] + n % 7); /* far from token 0's rows */
    memcpy(h0, h, sizeof(float) * 8 * D);
    rng_t r;
    rng_seed(&r, 3);
    token_prior_project(&tp, &nm, h, tok, N, 1.0f, &r);
    double m[D], C[D * D], want[D * D];
    for (int n = 0; n < N; n++) /* to the prior's normalized frame: y = (h + shift - nmean) / sd */
        for (int i = 0; i < D; i++)
            h[n * D + i] = (float)((h[n * D + i] + tp.shift[tp.slot[0] * D + i] - nmean[i]) / sqrt(nvar[i] + 1e-12));
    assert_int_equal(gauss_fit(h, N, D, m, C), 0);
    prior_cov(&tp.gp, want);
    for (int i = 0; i < D; i++) {
        assert_true(fabs(m[i] - tp.gp.mu[i]) < 0.02 * sqrt(want[i * D + i]));
        for (int j = 0; j < D; j++)
            assert_true(fabs(C[i * D + j] - want[i * D + j]) < 0.03 * sqrt(want[i * D + i] * want[j * D + j]));
    }
    memcpy(h, h0, sizeof(float) * 8 * D);
    token_prior_project(&tp, &nm, h, tok, 8, 0.0f, &r);
    assert_true(max_rel_err(h, h0, 8 * D, 1.0) < 1e-4);
    token_prior_free(&tp);
    free(h), free(h0), free(tok);
    rm_harvest(dir);
}

static void test_refusals(void **st) {
    (void)st;
    make_rows();
    char *dir = tmpdir();
    write_harvest(dir, 9);
    glp_model nm = normalizer();
    token_prior tp;
    assert_int_equal(token_prior_fit(&tp, dir, &nm, V, 16), -1);
    assert_non_null(strstr(ms_geterr(), "token id 9 outside the vocabulary of 3"));
    assert_non_null(strstr(ms_geterr(), dir));
    assert_null(tp.shift);
    rm_harvest(dir);
    dir = tmpdir();
    write_harvest(dir, 0);
    glp_model wide = {.c = {.d_input = D + 1}, .mean = nmean, .var = nvar};
    assert_int_equal(token_prior_fit(&tp, dir, &wide, V, 16), -1);
    assert_non_null(strstr(ms_geterr(), "width"));
    assert_int_equal(token_prior_fit(&tp, dir, &nm, V, -1), -1);
    assert_non_null(strstr(ms_geterr(), "shrink"));
    char *p = harvest_shard_path(dir, 1); /* a shard the manifest counts, gone */
    unlink(p);
    assert_int_equal(token_prior_fit(&tp, dir, &nm, V, 16), -1);
    assert_non_null(strstr(ms_geterr(), "shard-00001"));
    assert_null(tp.shift);
    free(p);
    rm_harvest(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_by_hand),
        cmocka_unit_test(test_projection),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
