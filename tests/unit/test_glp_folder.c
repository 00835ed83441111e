/* test_glp_folder.c — loading GLP folders in the published layout:
 * config.yaml (without d_model / d_mlp), final.safetensors with the
 * "denoiser." prefix, rep_statistics.pt written by torch.save; the errors a
 * broken folder gives; and metascope's normalizer with a basis. */
#include "testutil.h"

#include "glp_folder.h"
#include "glp_ode.h"
#include "rng.h"
#include "safetensors.h"
#include "util.h"

#include <unistd.h>

static float *ref(st_file *f, const char *name, size_t *n) {
    const st_tensor *t = st_find(f, name);
    assert_non_null(t);
    float *p = malloc(sizeof(float) * t->numel);
    assert_int_equal(st_to_f32(f, t, p, t->numel), 0);
    if (n) *n = t->numel;
    return p;
}

static void test_published_folder(void **st) {
    (void)st;
    glp_model m;
    glp_file_config fc;
    if (glp_load_folder(&m, &fc, FIXTURES "/glp_folder", -1)) fprintf(stderr, "# %s\n", ms_geterr());
    assert_int_equal(fc.d_model, 32); /* read from the weights */
    assert_int_equal(fc.d_mlp, 64);
    assert_int_equal(fc.n_hook_layers, 1);
    assert_int_equal(fc.layers[0], 1);
    st_file f;
    assert_int_equal(st_open(&f, FIXTURES "/glp/single/ref.safetensors"), 0);
    size_t nd, ns;
    float *mean = ref(&f, "mean", &nd), *var = ref(&f, "var", NULL);
    assert_memory_equal(m.mean, mean, sizeof(float) * nd);
    assert_memory_equal(m.var, var, sizeof(float) * nd);
    /* The whole path (normalizer from the .pt, weights, sampler) reproduces
     * the reference projection. */
    float *h = ref(&f, "proj_h", &ns), *eps = ref(&f, "proj_eps", NULL), *want = ref(&f, "proj_out", NULL);
    glp_work *w = glp_work_new(&m.c, 64);
    assert_int_equal(glp_project(&m, w, h, (int)(ns / nd), 0.5f, 20, -1, eps, NULL), 0);
    assert_true(max_rel_err(h, want, ns, 1e-2) < 1e-4);
    glp_work_free(w);
    free(mean), free(var), free(h), free(eps), free(want);
    st_close(&f);
    glp_free(&m);
}

static char *copy_folder(void) {
    char *dir = strdup("/tmp/ms_glpf_XXXXXX"), cmd[256];
    assert_non_null(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "cp " FIXTURES "/glp_folder/* %s/", dir);
    assert_int_equal(system(cmd), 0);
    return dir;
}

static void expect_error(const char *dir, int row, const char *needle) {
    glp_model m;
    glp_file_config fc;
    assert_int_equal(glp_load_folder(&m, &fc, dir, row), -1);
    if (!strstr(ms_geterr(), needle)) {
        fprintf(stderr, "# '%s' lacks '%s'\n", ms_geterr(), needle);
        fail();
    }
}

static void test_broken_folders(void **st) {
    (void)st;
    expect_error("/nonexistent", -1, "not a GLP folder");
    char *dir = copy_folder(), cmd[512];
    /* [L, d] statistics need a row. */
    snprintf(cmd, sizeof cmd, "cp " FIXTURES "/pt/multi_f32.pt %s/rep_statistics.pt", dir);
    assert_int_equal(system(cmd), 0);
    expect_error(dir, -1, "rows (one per layer)");
    glp_model m;
    glp_file_config fc;
    assert_int_equal(glp_load_folder(&m, &fc, dir, 2), 0);
    glp_free(&m);
    /* Statistics of another width. */
    snprintf(cmd, sizeof cmd, "sed -i 's/d_input: 16/d_input: 8/' %s/config.yaml", dir);
    assert_int_equal(system(cmd), 0);
    expect_error(dir, -1, "disagree with d_input 8");
    snprintf(cmd, sizeof cmd, "rm %s/config.yaml", dir);
    assert_int_equal(system(cmd), 0);
    expect_error(dir, -1, "no config.yaml");
    snprintf(cmd, sizeof cmd, "cp " FIXTURES "/glp_folder/config.yaml %s/ && rm %s/rep_statistics.pt", dir, dir);
    assert_int_equal(system(cmd), 0);
    expect_error(dir, -1, "no rep_statistics.pt");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

/* A basis B = diag(s) H (H a Householder reflection, its own inverse), so
 * B^-1 = H diag(1/s) exactly; d x d. */
static void make_basis(float *B, float *Bi, int d, uint64_t seed) {
    rng_t r;
    rng_seed(&r, seed);
    double v[64], vv = 0, s[64];
    for (int i = 0; i < d; i++) v[i] = rng_normal(&r), vv += v[i] * v[i], s[i] = 0.5 + rng_uniform(&r);
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double h = (i == j) - 2 * v[i] * v[j] / vv;
            B[i * d + j] = (float)(s[i] * h), Bi[i * d + j] = (float)(h / s[j]);
        }
}

/* A normalizer with a basis: the GLP then works in z = B ((h - mean) / sd):
 * its projection equals the basis-free GLP's on rows taken to z by hand;
 * the basis survives rep_statistics.safetensors; broken bases are refused. */
static void test_basis(void **st) {
    (void)st;
    char *dir = copy_folder(), cmd[512], path[300];
    glp_model m, m2;
    glp_file_config fc;
    assert_int_equal(glp_load_folder(&m, &fc, dir, -1), 0);
    assert_null(m.basis);
    int d = m.c.d_input, N = 8;
    float *B = malloc(sizeof(float) * d * d), *Bi = malloc(sizeof(float) * d * d);
    make_basis(B, Bi, d, 3);
    glp_set_basis(&m, B, Bi);
    float *h = malloc(sizeof(float) * N * d), *z = malloc(sizeof(float) * N * d), *eps = malloc(sizeof(float) * N * d);
    rng_t r;
    rng_seed(&r, 4);
    for (int i = 0; i < N * d; i++) h[i] = m.mean[i % d] + 2 * rng_normal(&r), eps[i] = rng_normal(&r);
    for (int n = 0; n < N; n++) /* z by hand */
        for (int i = 0; i < d; i++) {
            double s = 0;
            for (int k = 0; k < d; k++) s += B[i * d + k] * (h[n * d + k] - m.mean[k]) / sqrt(m.var[k] + 1e-12);
            z[n * d + i] = (float)s;
        }
    float *x = malloc(sizeof(float) * N * d);
    glp_normalize(&m, x, h, N);
    assert_true(max_rel_err(x, z, (size_t)N * d, 1.0) < 1e-5);
    glp_denormalize(&m, x, x, N);
    assert_true(max_rel_err(x, h, (size_t)N * d, 1.0) < 1e-5);
    /* the same weights with the identity normalizer, fed z */
    assert_int_equal(glp_load_folder(&m2, &fc, dir, -1), 0);
    for (int i = 0; i < d; i++) m2.mean[i] = 0, m2.var[i] = 1;
    glp_work *w = glp_work_new(&m.c, N);
    memcpy(x, h, sizeof(float) * N * d);
    assert_int_equal(glp_project(&m, w, x, N, 0.5f, 20, -1, eps, NULL), 0);
    assert_int_equal(glp_project(&m2, w, z, N, 0.5f, 20, -1, eps, NULL), 0);
    for (int n = 0; n < N; n++) /* back by hand: h = mean + sd Bi z */
        for (int i = 0; i < d; i++) {
            double s = 0;
            for (int k = 0; k < d; k++) s += Bi[i * d + k] * z[n * d + k];
            h[n * d + i] = (float)(m.mean[i] + sqrt(m.var[i]) * s);
        }
    assert_true(max_rel_err(x, h, (size_t)N * d, 1.0) < 1e-4);
    glp_work_free(w);
    /* saved and loaded back with the folder */
    snprintf(path, sizeof path, "%s/rep_statistics.safetensors", dir);
    assert_int_equal(glp_normalizer_save(&m, path), 0);
    snprintf(cmd, sizeof cmd, "rm %s/rep_statistics.pt", dir);
    assert_int_equal(system(cmd), 0);
    glp_model m3;
    assert_int_equal(glp_load_folder(&m3, &fc, dir, -1), 0);
    assert_non_null(m3.basis);
    assert_memory_equal(m3.basis, B, sizeof(float) * d * d);
    assert_memory_equal(m3.basis_inv, Bi, sizeof(float) * d * d);
    assert_memory_equal(m3.mean, m.mean, sizeof(float) * d);
    /* broken: one without the other, another shape, not inverses */
    int64_t dd = d, half = d / 2;
    st_wtensor t[] = {{"mean", ST_F32, 1, {dd}, m.mean}, {"var", ST_F32, 1, {dd}, m.var},
                      {"basis", ST_F32, 2, {dd, dd}, B}, {"basis_inv", ST_F32, 2, {dd, dd}, B}};
    assert_int_equal(st_write(path, t, 3, NULL, 0), 0);
    assert_int_equal(glp_normalizer_load(&m3, path), -1);
    assert_non_null(strstr(ms_geterr(), "come together"));
    assert_int_equal(st_write(path, t, 4, NULL, 0), 0);
    assert_int_equal(glp_normalizer_load(&m3, path), -1);
    assert_non_null(strstr(ms_geterr(), "not the inverse"));
    t[3] = (st_wtensor){"basis_inv", ST_F32, 2, {half, dd}, Bi};
    assert_int_equal(st_write(path, t, 4, NULL, 0), 0);
    assert_int_equal(glp_normalizer_load(&m3, path), -1);
    assert_non_null(strstr(ms_geterr(), "is not ["));
    expect_error(dir, -1, "is not [");
    /* without a basis the file gives the plain normalizer */
    assert_int_equal(st_write(path, t, 2, NULL, 0), 0);
    assert_int_equal(glp_normalizer_load(&m3, path), 0);
    assert_null(m3.basis);
    glp_free(&m), glp_free(&m2), glp_free(&m3);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    free(dir), free(B), free(Bi), free(h), free(z), free(eps), free(x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_published_folder),
        cmocka_unit_test(test_broken_folders),
        cmocka_unit_test(test_basis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
