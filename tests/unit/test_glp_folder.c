/* test_glp_folder.c — loading GLP folders in the published layout:
 * config.yaml (without d_model / d_mlp), final.safetensors with the
 * "denoiser." prefix, rep_statistics.pt written by torch.save; and the
 * errors a broken folder gives. */
#include "testutil.h"

#include "glp_folder.h"
#include "glp_ode.h"
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_published_folder),
        cmocka_unit_test(test_broken_folders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
