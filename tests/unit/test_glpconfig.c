/* test_glpconfig.c — GLP config.yaml examples (tests/fixtures/glp_config/, written
 * by tools/gen_pt_fixtures.py) and malformed configs. */
#include "testutil.h"

#include "glpconfig.h"
#include "util.h"

#define CFG FIXTURES "/glp_config/"

static void test_single(void **st) {
    (void)st;
    glp_file_config c;
    assert_int_equal(glp_config_load(&c, CFG "single.yaml"), 0);
    assert_int_equal(c.d_input, 2048);
    assert_int_equal(c.d_model, 4096);
    assert_int_equal(c.d_mlp, 8192);
    assert_int_equal(c.n_layers, 6);
    assert_int_equal(c.multi_layer_n_layers, 0);
    assert_int_equal(c.n_hook_layers, 1);
    assert_int_equal(c.layers[0], 7);
    assert_string_equal(c.model_name, "meta-llama/Llama-3.2-1B");
    assert_string_equal(c.layer_prefix, "model.layers");
    assert_string_equal(c.retain, "output");
}

static void test_defaults(void **st) {
    (void)st;
    glp_file_config c;
    assert_int_equal(glp_config_load(&c, CFG "defaults.yaml"), 0);
    assert_int_equal(c.d_input, 64);
    assert_int_equal(c.d_model, 0); /* absent: taken from the weights by the caller */
    assert_int_equal(c.d_mlp, 0);
    assert_int_equal(c.n_layers, 2);
    assert_int_equal(c.n_hook_layers, 1);
    assert_int_equal(c.layers[0], 3);
    assert_string_equal(c.model_name, "");
}

static void test_multi(void **st) {
    (void)st;
    glp_file_config c;
    assert_int_equal(glp_config_load(&c, CFG "multi.yaml"), 0);
    assert_int_equal(c.multi_layer_n_layers, 3);
    assert_int_equal(c.n_hook_layers, 3);
    assert_int_equal(c.layers[0], 0);
    assert_int_equal(c.layers[1], 2);
    assert_int_equal(c.layers[2], 4);
    assert_string_equal(c.model_name, "meta-llama/Llama-3.1-8B");
}

static void expect_fail(const char *text, const char *needle) {
    glp_file_config c;
    int rc = glp_config_load_mem(&c, text, strlen(text), "config.yaml");
    if (rc != -1 || !strstr(ms_geterr(), "config.yaml") || !strstr(ms_geterr(), needle)) {
        fprintf(stderr, "# rc %d, message '%s' lacks '%s'\n", rc, ms_geterr(), needle);
        fail();
    }
    assert_int_equal(c.d_input, 0);
}

#define DC "glp_kwargs:\n  denoiser_config:\n"
#define TC "  tracedict_config:\n    layers: [1]\n"
#define DEEP_N 20000

static void test_bad(void **st) {
    (void)st;
    expect_fail("", "top level is not a mapping");
    expect_fail("a: [1, 2\n", "bad YAML");
    expect_fail("a: b: c\n", "bad YAML");
    expect_fail("a: 1\nb: 2\nc: \xff\n", "bad YAML at byte 13: invalid leading UTF-8 octet");
    expect_fail("- 1\n- 2\n", "top level");
    expect_fail("model_name: x\n", "missing glp_kwargs");
    expect_fail("glp_kwargs: 3\n", "missing glp_kwargs");
    expect_fail("glp_kwargs:\n  tracedict_config: {layers: [1]}\n", "denoiser_config");
    expect_fail(DC "    d_input: 8\n    n_layers: 2\n", "tracedict_config");
    expect_fail(DC "    n_layers: 2\n" TC, "missing glp_kwargs.denoiser_config.d_input");
    expect_fail(DC "    d_input: 8\n" TC, "missing glp_kwargs.denoiser_config.n_layers");
    expect_fail(DC "    d_input: ~\n    n_layers: 2\n" TC, "missing glp_kwargs.denoiser_config.d_input");
    expect_fail(DC "    d_input: ${oc.env:D}\n    n_layers: 2\n" TC, "interpolation");
    expect_fail(DC "    d_input: 8\n    d_model: ${..d_input}\n    n_layers: 2\n" TC, "d_model uses an OmegaConf interpolation");
    expect_fail(DC "    d_input: 8\n    n_layers: 2\n  tracedict_config:\n    layers: ${layers}\n", "interpolation");
    expect_fail(DC "    d_input: 8\n    n_layers: 2\n  tracedict_config:\n    layers: [1, '${x}']\n", "interpolation");
    expect_fail(DC "    d_input: eight\n    n_layers: 2\n" TC, "not a non-negative integer");
    expect_fail(DC "    d_input: -8\n    n_layers: 2\n" TC, "not a non-negative integer");
    expect_fail(DC "    d_input: 99999999999\n    n_layers: 2\n" TC, "not a non-negative integer");
    expect_fail(DC "    d_input: 8.5\n    n_layers: 2\n" TC, "not a non-negative integer");
    expect_fail(DC "    d_input: [8]\n    n_layers: 2\n" TC, "not an integer");
    expect_fail(DC "    d_input: 0\n    n_layers: 2\n" TC, "positive");
    expect_fail(DC "    d_input: 8\n    n_layers: 2\n  tracedict_config:\n    layers: []\n", "empty");
    expect_fail(DC "    d_input: 8\n    n_layers: 2\n  tracedict_config:\n    layers: {a: 1}\n", "not a list");
    expect_fail(DC "    d_input: 8\n    n_layers: 2\n  tracedict_config:\n    retain: output\n", "missing glp_kwargs.tracedict_config.layers");
    expect_fail("model_name: [a]\n" DC "    d_input: 8\n    n_layers: 2\n" TC, "model_name is not a string");
    expect_fail("model_name: ${m}\n" DC "    d_input: 8\n    n_layers: 2\n" TC, "model_name uses");
    char big[2048] = DC "    d_input: 8\n    n_layers: 2\n  tracedict_config:\n    layers: [";
    for (int i = 0; i < 70; i++) strcat(big, i ? ",1" : "1");
    strcat(big, "]\n");
    expect_fail(big, "more than 64");
    /* libyaml is quadratic in flow nesting depth and in anchors x aliases:
     * both are bounded before the document is loaded. */
    static char deep[DEEP_N * 2 + 256];
    strcpy(deep, DC "    d_input: 8\n    n_layers: 2\n" TC "z: ");
    size_t k = strlen(deep);
    memset(deep + k, '[', DEEP_N), memset(deep + k + DEEP_N, ']', DEEP_N);
    expect_fail(deep, "nested deeper than 64 levels");
    static char anch[32768];
    strcpy(anch, DC "    d_input: 8\n    n_layers: 2\n" TC "x: [&a 1");
    for (int i = 0; i < 1100; i++) strcat(anch, ", *a");
    strcat(anch, "]\n");
    expect_fail(anch, "more than 1024 anchors and aliases");
    glp_file_config c;
    assert_int_equal(glp_config_load(&c, CFG "nope.yaml"), -1);
    assert_non_null(strstr(ms_geterr(), "nope.yaml"));
}

static void test_variants(void **st) {
    (void)st;
    /* Anchors/aliases, flow style, a single int for layers, extra keys, quoted
     * model name, multi_layer_n_layers explicitly null. */
    const char *y = "base: &d {d_input: 8, n_layers: 2, multi_layer_n_layers: null, extra: [1, 2]}\n"
                    "glp_kwargs:\n  denoiser_config: *d\n  tracedict_config: {layers: 5, layer_prefix: 'h'}\n"
                    "model_name: 'gpt2'\n";
    glp_file_config c;
    assert_int_equal(glp_config_load_mem(&c, y, strlen(y), "config.yaml"), 0);
    assert_int_equal(c.d_input, 8);
    assert_int_equal(c.n_layers, 2);
    assert_int_equal(c.multi_layer_n_layers, 0);
    assert_int_equal(c.n_hook_layers, 1);
    assert_int_equal(c.layers[0], 5);
    assert_string_equal(c.layer_prefix, "h");
    assert_string_equal(c.retain, "");
    assert_string_equal(c.model_name, "gpt2");
    /* Interpolations elsewhere in the file are none of our business. */
    const char *z = "lr: ${oc.env:LR}\n" DC "    d_input: 8\n    n_layers: 2\n" TC;
    assert_int_equal(glp_config_load_mem(&c, z, strlen(z), "config.yaml"), 0);
    /* Nesting up to the limit and a few hundred aliases are fine. */
    char ok[8192] = DC "    d_input: 8\n    n_layers: 2\n" TC "z: ";
    for (int i = 0; i < 63; i++) strcat(ok, "[");
    for (int i = 0; i < 63; i++) strcat(ok, "]");
    strcat(ok, "\nw: [&a 1");
    for (int i = 0; i < 500; i++) strcat(ok, ",*a");
    strcat(ok, "]\n");
    assert_int_equal(glp_config_load_mem(&c, ok, strlen(ok), "config.yaml"), 0);
    assert_int_equal(c.d_input, 8);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single), cmocka_unit_test(test_defaults), cmocka_unit_test(test_multi),
        cmocka_unit_test(test_bad),    cmocka_unit_test(test_variants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
