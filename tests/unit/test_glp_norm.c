/* test_glp_norm.c — the GLP's normalizer with ZCA whitening (glp_norm.c).
 *
 * The symmetric whitening of a covariance C is unique (C^-1/2), so the
 * checks are its defining properties, on correlated Gaussian rows with
 * offsets and scales per dimension: the whitened rows have identity
 * covariance (up to the ridge), the map in standardized space is symmetric,
 * unwhiten inverts whiten, glp_normalize reproduces what training wrote,
 * FD's standardized space is the per-dimension map whatever the normalizer,
 * and a folder written with the matrices loads them back bit for bit. */
#include "testutil.h"

#include "glp.h"
#include "glp_folder.h"
#include "linalg.h"
#include "rng.h"
#include "util.h"

#include <unistd.h>

enum { D = 12, N = 40000 };

/* h = mu + scale * (L g): correlated rows with variances from 0.01 to 100. */
static float *rows(rng_t *r) {
    float *L = malloc(sizeof(float) * D * D), *h = malloc(sizeof(float) * (size_t)N * D);
    for (int i = 0; i < D * D; i++) L[i] = (float)rng_normal(r) * (i % (D + 1) == 0 ? 2.0f : 0.6f);
    for (int n = 0; n < N; n++) {
        float g[D];
        for (int i = 0; i < D; i++) g[i] = (float)rng_normal(r);
        for (int i = 0; i < D; i++) {
            float s = 0;
            for (int j = 0; j < D; j++) s += L[i * D + j] * g[j];
            h[(size_t)n * D + i] = (float)(i - 5) * 3.0f + s * powf(10.0f, (float)(i % 5) / 2.0f - 1.0f);
        }
    }
    free(L);
    return h;
}

static void stats(const float *h, float *mean, float *var) {
    for (int i = 0; i < D; i++) {
        double s = 0, q = 0;
        for (int n = 0; n < N; n++) s += h[(size_t)n * D + i], q += (double)h[(size_t)n * D + i] * h[(size_t)n * D + i];
        mean[i] = (float)(s / N), var[i] = (float)(q / N - (s / N) * (s / N));
    }
}

static void test_whiten_properties(void **st) {
    (void)st;
    rng_t r;
    rng_seed(&r, 7);
    float *h = rows(&r), *z = malloc(sizeof(float) * (size_t)N * D), *x = malloc(sizeof(float) * (size_t)N * D);
    float mean[D], var[D];
    stats(h, mean, var);
    glp_model m;
    glp_config c = {D, 16, 32, 1, 0};
    assert_int_equal(glp_init(&m, &c), 0);
    glp_set_stats(&m, mean, var);
    glp_normalize(&m, z, h, N); /* per dimension until whitened */
    assert_null(m.whiten);
    /* expected covariance after whitening: V diag(l / (l + ridge)) V^T of the standardized rows' C */
    double mu[D], cov[D * D], C[D * D], l[D], V[D * D];
    assert_int_equal(linalg_mean_cov(z, N - 1000, D, mu, C), 0);
    assert_int_equal(linalg_eigh(C, D, l, V), 0);
    assert_int_equal(glp_fit_whiten(&m, z, N, N - 1000), 0);
    assert_non_null(m.whiten);
    assert_int_equal(linalg_mean_cov(z, N - 1000, D, mu, cov), 0);
    double worst = 0;
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            double e = 0;
            for (int k = 0; k < D; k++) e += V[k * D + i] * V[k * D + j] * l[k] / (l[k] + GLP_WHITEN_RIDGE);
            worst = fmax(worst, fabs(cov[i * D + j] - e));
        }
    assert_true(worst < 1e-4);
    assert_true(l[0] > 0.005 && l[0] < 0.1); /* the ridge matters here, and is accounted for */
    /* glp_normalize = what fitting wrote, held-out rows included */
    glp_normalize(&m, x, h, N);
    assert_true(max_rel_err(x, z, (size_t)N * D, 1.0) < 1e-4);
    /* symmetric in standardized space: whiten diag(sd) = W = W^T */
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            double a = m.whiten[i * D + j] * sqrt(var[j]), b = m.whiten[j * D + i] * sqrt(var[i]);
            assert_true(fabs(a - b) < 1e-4 * (1 + fabs(a)));
        }
    /* unwhiten inverts whiten */
    glp_denormalize(&m, x, x, N);
    assert_true(max_rel_err(x, h, (size_t)N * D, 1.0) < 1e-4);
    /* FD's space: normalized rows back to the per-dimension map */
    glp_normalize(&m, x, h, N);
    glp_normalized_to_standard(&m, x, N);
    glp_standardize(&m, z, h, N);
    assert_true(max_rel_err(x, z, (size_t)N * D, 1.0) < 1e-4);
    glp_free(&m);
    free(h), free(z), free(x);
}

static void test_whiten_folder_roundtrip(void **st) {
    (void)st;
    rng_t r;
    rng_seed(&r, 9);
    float *h = rows(&r), *z = malloc(sizeof(float) * (size_t)N * D);
    float mean[D], var[D];
    stats(h, mean, var);
    glp_model m, back;
    glp_config c = {D, 16, 32, 1, 0};
    assert_int_equal(glp_init(&m, &c), 0);
    glp_init_random(&m, &r);
    glp_set_stats(&m, mean, var);
    glp_normalize(&m, z, h, N);
    assert_int_equal(glp_fit_whiten(&m, z, N, N), 0);
    char dir[] = "/tmp/ms-whiten-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *p = ms_path_join(dir, "final.safetensors"), *s = ms_path_join(dir, "rep_statistics.safetensors");
    char *y = ms_path_join(dir, "config.yaml");
    const char yaml[] = "glp_kwargs:\n  denoiser_config:\n    d_input: 12\n    d_model: 16\n    d_mlp: 32\n"
                        "    n_layers: 1\n    multi_layer_n_layers: null\n  tracedict_config:\n    layer_prefix: model.layers\n"
                        "    layers: [1]\n    retain: output\n";
    assert_int_equal(glp_save(&m, p), 0);
    assert_int_equal(glp_save_stats(&m, s), 0);
    assert_int_equal(ms_write_file_atomic(y, yaml, sizeof yaml - 1), 0);
    glp_file_config fc;
    if (glp_load_folder(&back, &fc, dir, -1)) fprintf(stderr, "# %s\n", ms_geterr());
    assert_non_null(back.whiten);
    assert_memory_equal(back.whiten, m.whiten, sizeof(float) * D * D);
    assert_memory_equal(back.unwhiten, m.unwhiten, sizeof(float) * D * D);
    glp_free(&back);
    /* one matrix without the other is refused with the file's name */
    glp_set_whiten(&m, NULL, NULL);
    assert_int_equal(glp_save_stats(&m, s), 0);
    assert_int_equal(glp_load_folder(&back, &fc, dir, -1), 0);
    assert_null(back.whiten); /* per dimension again */
    glp_free(&back);
    unlink(p), unlink(s), unlink(y), rmdir(dir);
    free(p), free(s), free(y);
    glp_free(&m);
    free(h), free(z);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whiten_properties),
        cmocka_unit_test(test_whiten_folder_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
