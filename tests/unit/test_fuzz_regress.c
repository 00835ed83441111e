/* test_fuzz_regress.c — replays every input under tests/fixtures/fuzz/ (the
 * crashes and odd inputs the fuzzers found) plus the fuzz seeds through the same
 * entry points the harnesses use; each must fail or succeed cleanly. */
#include "testutil.h"

#include "glpconfig.h"
#include "safetensors.h"
#include "session.h"
#include "tokenizer.h"
#include "torchpt.h"
#include "util.h"

#include <dirent.h>

typedef void (*replay_fn)(const uint8_t *data, size_t n);

static int replay_dir(const char *dir, replay_fn fn) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *p = ms_path_join(dir, e->d_name);
        uint8_t *buf;
        size_t len;
        if (ms_file_exists(p) && ms_read_file(p, &buf, &len) == 0) {
            fn(buf, len);
            free(buf);
            n++;
        }
        free(p);
    }
    closedir(d);
    return n;
}

static void st_one(const uint8_t *data, size_t n) {
    st_file f;
    if (st_open_mem(&f, data, n, "replay.safetensors") == 0) st_close(&f);
    else assert_non_null(strstr(ms_geterr(), "replay.safetensors"));
}

static void tok_one(const uint8_t *data, size_t n) {
    tokenizer *t = tok_load_hf_json_mem((const char *)data, n, "replay.json");
    if (!t) {
        assert_non_null(strstr(ms_geterr(), "replay.json"));
        return;
    }
    static const char text[] = "Hello, world! \xf0\x9f\x99\x82 \xff\xfe end\n";
    bool complete = true; /* round trips need a token for every byte */
    for (size_t i = 0; i < sizeof text - 1 && complete; i++) {
        int *one, k1;
        if (tok_encode(t, text + i, 1, &one, &k1) == 0) {
            complete = k1 > 0;
            free(one);
        }
    }
    int *ids, k;
    if (tok_encode(t, text, sizeof text - 1, &ids, &k) == 0) {
        char *out;
        size_t len;
        if (tok_decode(t, ids, k, &out, &len) == 0) {
            if (complete) {
                assert_int_equal(len, sizeof text - 1);
                assert_memory_equal(out, text, len);
            }
            free(out);
        }
        free(ids);
    }
    tok_free(t);
}

static void pt_one(const uint8_t *data, size_t n) {
    pt_dict p;
    if (pt_load_dict_mem(&p, data, n, "replay.pt") == 0) pt_free(&p);
    else assert_non_null(strstr(ms_geterr(), "replay.pt"));
}

static void glp_one(const uint8_t *data, size_t n) {
    glp_file_config c;
    if (glp_config_load_mem(&c, (const char *)data, n, "replay.yaml") == 0) {
        assert_true(c.d_input > 0 && c.n_layers > 0);
        assert_true(c.n_hook_layers >= 1 && c.n_hook_layers <= GLP_MAX_HOOK_LAYERS);
        assert_non_null(memchr(c.model_name, 0, sizeof c.model_name));
        assert_non_null(memchr(c.layer_prefix, 0, sizeof c.layer_prefix));
        assert_non_null(memchr(c.retain, 0, sizeof c.retain));
    } else {
        assert_non_null(strstr(ms_geterr(), "replay.yaml"));
        assert_int_equal(c.d_input, 0);
    }
}

static session S;
static void sink(void *ctx, const char *text, size_t len) { (void)ctx, (void)text, (void)len; }

static void cmd_one(const uint8_t *data, size_t n) {
    char *line = xstrndup((const char *)data, n);
    if (!strstr(line, "load") && !strstr(line, "threads")) {
        if (sess_exec_multi(&S, line)) assert_true(strlen(ms_geterr()) > 0);
    }
    S.quit = false;
    free(line);
}

static void test_safetensors_inputs(void **st) {
    (void)st;
    int n = replay_dir(FIXTURES "/fuzz/safetensors", st_one) + replay_dir("tests/fuzz/seeds/safetensors", st_one);
    assert_true(n > 0);
}

static void test_tokenizer_inputs(void **st) {
    (void)st;
    int n = replay_dir(FIXTURES "/fuzz/tokenizer_json", tok_one) + replay_dir("tests/fuzz/seeds/tokenizer_json", tok_one);
    assert_true(n > 0);
}

static void test_command_inputs(void **st) {
    (void)st;
    sess_init(&S, sink, NULL);
    assert_int_equal(sess_load_model(&S, FIXTURES "/models/gpt2_tiny"), 0);
    int n = replay_dir(FIXTURES "/fuzz/commands", cmd_one) + replay_dir("tests/fuzz/seeds/commands", cmd_one);
    assert_true(n > 0);
    sess_free(&S);
}

static void test_torchpt_inputs(void **st) {
    (void)st;
    int n = replay_dir(FIXTURES "/fuzz/torchpt", pt_one) + replay_dir("tests/fuzz/seeds/torchpt", pt_one);
    assert_true(n > 0);
}

static void test_glpconfig_inputs(void **st) {
    (void)st;
    int n = replay_dir(FIXTURES "/fuzz/glpconfig", glp_one) + replay_dir("tests/fuzz/seeds/glpconfig", glp_one);
    assert_true(n > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_safetensors_inputs),
        cmocka_unit_test(test_tokenizer_inputs),
        cmocka_unit_test(test_command_inputs),
        cmocka_unit_test(test_torchpt_inputs),
        cmocka_unit_test(test_glpconfig_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
