/* test_reliability.c — hostile files and hostile environments (issue #15):
 * FIFOs refused without blocking, raw bytes escaped in messages, sizes from
 * files bounded before allocation, checkpoint checksums, SIGXFSZ, stale
 * temporaries swept. */
#include "testutil.h"

#include "checkpoint.h"
#include "hash.h"
#include "glp.h"
#include "glpconfig.h"
#include "hfconfig.h"
#include "safetensors.h"
#include "session.h"
#include "util.h"

#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmpdir(void) {
    char *d = xstrdup("/tmp/ms_rel_XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

/* Opening a FIFO for reading blocks until a writer comes; every loader must
 * refuse it by name instead (alarm: a regression fails, it does not hang). */
static void test_fifo_refused(void **st) {
    (void)st;
    char *d = tmpdir(), *p = ms_path_join(d, "manifest.json");
    assert_int_equal(mkfifo(p, 0600), 0);
    alarm(20);
    assert_true(ms_file_exists(p)); /* found, so the loader reports it */
    uint8_t *buf;
    size_t n;
    assert_int_equal(ms_read_file(p, &buf, &n), -1);
    assert_non_null(strstr(ms_geterr(), "not a regular file"));
    assert_non_null(strstr(ms_geterr(), "manifest.json"));
    assert_null(ms_fopen_regular(p));
    assert_int_equal(ms_open_regular(p, NULL), -1);
    st_file f;
    assert_int_equal(st_open(&f, p), -1);
    assert_non_null(strstr(ms_geterr(), "not a regular file"));
    assert_int_equal(ms_open_regular(d, NULL), -1); /* a directory neither */
    alarm(0);
    unlink(p);
    rmdir(d);
    free(p), free(d);
}

static void test_messages_escape_raw_bytes(void **st) {
    (void)st;
    ms_seterr("unknown key '%s' (%s)", "a\x1b[2J\x07z", "cfg.json");
    assert_string_equal(ms_geterr(), "unknown key 'a\\x1b[2J\\x07z' (cfg.json)");
    ms_seterr("bad '%s'", "\xff\xfe ok \xc3\xa9"); /* malformed UTF-8 escaped, é kept */
    assert_string_equal(ms_geterr(), "bad '\\xff\\xfe ok \xc3\xa9'");
    ms_seterr("two\r\nlines");
    assert_string_equal(ms_geterr(), "two  lines");
    /* a long quoted value keeps the "(where)" at the end of the line */
    char big[3000];
    memset(big, 0x17, sizeof big - 1);
    big[sizeof big - 1] = 0;
    ms_seterr("unsupported model_type '%s' (config.json)", big);
    assert_true(ms_ends_with(ms_geterr(), "' (config.json)"));
    assert_non_null(strstr(ms_geterr(), " ... "));
    assert_true(strlen(ms_geterr()) < 1024);
}

static void test_try_alloc(void **st) {
    (void)st;
    assert_null(ms_try_alloc(SIZE_MAX / 2, "huge"));
    assert_non_null(strstr(ms_geterr(), "out of memory"));
    assert_non_null(strstr(ms_geterr(), "(huge)"));
    assert_null(ms_try_calloc(SIZE_MAX / 4, 8, "over"));
    assert_non_null(strstr(ms_geterr(), "overflows"));
    void *p = ms_try_calloc(4, 4, "small");
    assert_non_null(p);
    free(p);
}

/* FNV-1a 64 reference values (the published test vectors). */
static void test_digest(void **st) {
    (void)st;
    assert_true(hash64(HASH64_INIT, "", 0) == 0xcbf29ce484222325ULL);
    assert_true(hash64(HASH64_INIT, "a", 1) == 0xaf63dc4c8601ec8cULL);
    assert_true(hash64(HASH64_INIT, "foobar", 6) == 0x85944171f73967e8ULL);
    assert_true(hash64(hash64(HASH64_INIT, "foo", 3), "bar", 3) == 0x85944171f73967e8ULL);
}

/* A temporary whose writer no longer runs is swept by the next write of the
 * same file; one of a live process is left alone. */
static void test_stale_temporaries_swept(void **st) {
    (void)st;
    char *d = tmpdir(), *p = ms_path_join(d, "records.bin");
    char dead[512], live[512], other[512];
    snprintf(dead, sizeof dead, "%s.tmp.%d", p, 999999999); /* above pid_max */
    snprintf(live, sizeof live, "%s.tmp.%ld", p, (long)getppid());
    snprintf(other, sizeof other, "%s/other.bin.tmp.999999999", d);
    const char *names[] = {dead, live, other};
    for (int i = 0; i < 3; i++) assert_int_equal(ms_write_file_atomic(names[i], "x", 1), 0);
    assert_int_equal(ms_write_file_atomic(p, "data", 4), 0);
    assert_false(ms_file_exists(dead));
    assert_true(ms_file_exists(live));
    assert_true(ms_file_exists(other));
    unlink(live), unlink(other), unlink(p), rmdir(d);
    free(p), free(d);
}

/* Past `ulimit -f` a write is a one-line error naming the file, the process
 * lives on (no SIGXFSZ) and no temporary is left. */
static void test_file_size_limit(void **st) {
    (void)st;
    char *d = tmpdir(), *p = ms_path_join(d, "ckpt.safetensors");
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 4096;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    size_t n = 1 << 16;
    char *big = xcalloc(n, 1);
    int rc = ms_write_file_atomic(p, big, n);
    setrlimit(RLIMIT_FSIZE, &old);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(ms_geterr(), "File too large"));
    assert_non_null(strstr(ms_geterr(), "ckpt.safetensors)"));
    assert_int_equal(rmdir(d), 0); /* empty: neither the file nor a temporary */
    free(big), free(p), free(d);
}

/* Flips bits `mask` of byte `at` of tensor `name` in dir/ckpt.safetensors. */
static void flip_ckpt_bit(const char *dir, const char *name, size_t at, uint8_t mask) {
    char *p = ms_path_join(dir, "ckpt.safetensors");
    uint8_t *buf;
    size_t n;
    assert_int_equal(ms_read_file(p, &buf, &n), 0);
    st_file f;
    assert_int_equal(st_open_mem(&f, buf, n, "ckpt.safetensors"), 0);
    size_t off = (size_t)(st_find(&f, name)->data - f.base) + at; /* f holds a copy */
    st_close(&f);
    buf[off] ^= mask;
    assert_int_equal(ms_write_file_atomic(p, buf, n), 0);
    free(buf), free(p);
}

/* Flipped bits anywhere in the optimizer state make the resume fail. */
static void test_checkpoint_checksum(void **st) {
    (void)st;
    char *d = tmpdir();
    enum { N = 64 };
    float params[N], m[N], v[N];
    for (int i = 0; i < N; i++) params[i] = (float)i, m[i] = 0.5f * (float)i, v[i] = 0.25f;
    adamw_state opt = {m, v, N, 7};
    rng_t r;
    rng_seed(&r, 3);
    double el = 1.5;
    ckpt_view c = {params, &opt, &r, &el, "shape", "sig", "model", NULL, 0, NULL};
    assert_int_equal(ckpt_save(&c, d), 0);
    float p2[N], m2[N], v2[N];
    adamw_state o2 = {m2, v2, N, 0};
    rng_t r2;
    double el2 = 0;
    ckpt_view c2 = {p2, &o2, &r2, &el2, "shape", "sig", "model", NULL, 0, NULL};
    assert_int_equal(ckpt_load(&c2, d), 0);
    assert_memory_equal(v2, v, sizeof v);
    assert_int_equal(o2.step, 7);
    flip_ckpt_bit(d, "adam_v", sizeof v - 1, 0x10); /* adam_v's last float: the file's last data bytes */
    char *p = ms_path_join(d, "ckpt.safetensors");
    assert_int_equal(ckpt_load(&c2, d), -1);
    assert_non_null(strstr(ms_geterr(), "corrupt"));
    unlink(p), rmdir(d);
    free(p), free(d);
}

/* The moving average rides in the checkpoint: it round-trips, its bits are
 * under the checksum, and a run that keeps one refuses a checkpoint without. */
static void test_checkpoint_ema(void **st) {
    (void)st;
    char *d = tmpdir();
    enum { N = 32 };
    float params[N], m[N], v[N], ema[N];
    for (int i = 0; i < N; i++) params[i] = (float)i, m[i] = 0.5f, v[i] = 0.25f, ema[i] = -(float)i;
    adamw_state opt = {m, v, N, 3};
    rng_t r;
    rng_seed(&r, 4);
    double el = 0;
    ckpt_view c = {params, &opt, &r, &el, "shape", "sig", "GLP", NULL, 0, ema};
    assert_int_equal(ckpt_save(&c, d), 0);
    float p2[N], m2[N], v2[N], e2[N] = {0};
    adamw_state o2 = {m2, v2, N, 0};
    rng_t r2;
    double el2 = 0;
    ckpt_view c2 = {p2, &o2, &r2, &el2, "shape", "sig", "GLP", NULL, 0, e2};
    assert_int_equal(ckpt_load(&c2, d), 0);
    assert_memory_equal(e2, ema, sizeof ema);
    flip_ckpt_bit(d, "ema", 5, 0x01);
    char *p = ms_path_join(d, "ckpt.safetensors");
    assert_int_equal(ckpt_load(&c2, d), -1);
    assert_non_null(strstr(ms_geterr(), "corrupt"));
    c.ema = NULL; /* a checkpoint without an average */
    assert_int_equal(ckpt_save(&c, d), 0);
    assert_int_equal(ckpt_load(&c2, d), -1);
    assert_non_null(strstr(ms_geterr(), "lacks or mis-sizes ema"));
    unlink(p), rmdir(d);
    free(p), free(d);
}

static void test_glp_config_limits(void **st) {
    (void)st;
    const char *fmt = "glp_kwargs:\n  denoiser_config:\n    d_input: %s\n    n_layers: %s\n"
                      "  tracedict_config:\n    layers: [1]\n";
    const char *cases[][2] = {{"8", "100000000"}, {"1000000000", "2"}, {"8", "2"}};
    for (int i = 0; i < 3; i++) {
        char y[512];
        snprintf(y, sizeof y, fmt, cases[i][0], cases[i][1]);
        glp_file_config c;
        int rc = glp_config_load_mem(&c, y, strlen(y), "config.yaml");
        if (i < 2) {
            assert_int_equal(rc, -1);
            assert_non_null(strstr(ms_geterr(), "config.yaml"));
            assert_non_null(strstr(ms_geterr(), "exceed"));
        } else {
            assert_int_equal(rc, 0);
        }
    }
    /* within the limits but more than the weights file holds: refused before allocating */
    char *d = tmpdir(), *p = ms_path_join(d, "final.safetensors");
    float one = 1;
    st_wtensor w[] = {{"model.in_proj.weight", ST_F32, 2, {1, 1}, &one}};
    assert_int_equal(st_write(p, w, 1, NULL, 0), 0);
    glp_config gc = {GLP_MAX_WIDTH, GLP_MAX_WIDTH, 4 * GLP_MAX_WIDTH, GLP_MAX_LAYERS, 0};
    glp_model m;
    assert_int_equal(glp_load_file(&m, p, &gc), -1);
    assert_non_null(strstr(ms_geterr(), "more than the"));
    unlink(p), rmdir(d);
    free(p), free(d);
}

static void test_token_ids_outside_vocab(void **st) {
    (void)st;
    const char *fmt = "{\"model_type\":\"gpt2\",\"vocab_size\":100,\"n_embd\":8,\"n_layer\":1,\"n_head\":2,"
                      "\"n_positions\":16,%s}";
    const char *cases[] = {"\"bos_token_id\":100", "\"eos_token_id\":[-1]", "\"eos_token_id\":\"x\"",
                           "\"bos_token_id\":99,\"eos_token_id\":null"};
    for (int i = 0; i < 4; i++) {
        char j[512];
        snprintf(j, sizeof j, fmt, cases[i]);
        tf_config c;
        int rc = hf_config_parse(&c, j, strlen(j), "config.json");
        if (i < 3) {
            assert_int_equal(rc, -1);
            assert_non_null(strstr(ms_geterr(), "config.json"));
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(c.bos_id, 99);
            assert_int_equal(c.eos_id, -1);
        }
    }
}

static void quiet(void *ctx, const char *text, size_t len) { (void)ctx, (void)text, (void)len; }

/* A GLP folder declaring a huge model is a one-line error; the session keeps
 * its model and works on (it used to end the process with exit 3). */
static void test_session_survives_bad_glp(void **st) {
    (void)st;
    char *d = tmpdir(), *src = ms_path_join(FIXTURES "/glp_folder", "final.safetensors");
    char *dst = ms_path_join(d, "final.safetensors"), *cfg = ms_path_join(d, "config.yaml");
    uint8_t *buf;
    size_t n;
    assert_int_equal(ms_read_file(src, &buf, &n), 0);
    assert_int_equal(ms_write_file_atomic(dst, buf, n), 0);
    free(buf);
    const char *y = "glp_kwargs:\n  denoiser_config:\n    d_input: 60000\n    d_model: 60000\n    d_mlp: 200000\n"
                    "    n_layers: 900\n  tracedict_config:\n    layers: [1]\n";
    assert_int_equal(ms_write_file_atomic(cfg, y, strlen(y)), 0);
    session S;
    sess_init(&S, quiet, NULL);
    assert_int_equal(sess_load_model(&S, FIXTURES "/models/gpt2_tiny"), 0);
    assert_int_equal(sess_load_glp(&S, d), -1);
    assert_non_null(strstr(ms_geterr(), "final.safetensors"));
    assert_true(S.has_model);
    assert_false(S.has_glp);
    assert_int_equal(sess_exec_multi(&S, "prompt the cat; gen 2"), 0);
    sess_free(&S);
    unlink(dst), unlink(cfg), rmdir(d);
    free(src), free(dst), free(cfg), free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_refused),          cmocka_unit_test(test_messages_escape_raw_bytes),
        cmocka_unit_test(test_try_alloc),             cmocka_unit_test(test_digest),
        cmocka_unit_test(test_stale_temporaries_swept), cmocka_unit_test(test_file_size_limit),
        cmocka_unit_test(test_checkpoint_checksum),   cmocka_unit_test(test_checkpoint_ema),   cmocka_unit_test(test_glp_config_limits),
        cmocka_unit_test(test_token_ids_outside_vocab), cmocka_unit_test(test_session_survives_bad_glp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
