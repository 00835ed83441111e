/* test_safetensors.c — writer/reader round trip (plain and .lz4), dtype
 * conversion, sharded folders, and every kind of malformed file. */
#include "testutil.h"

#include "half.h"
#include "safetensors.h"
#include "util.h"

#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

static int setup(void **st) {
    (void)st;
    strcpy(tmpdir, "/tmp/ms_st_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **st) {
    (void)st;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd);
}

/* Writes 8-byte length + header + data to tmpdir/name; returns the path. */
static char *raw_file(const char *name, const char *header, uint64_t claimed_len, const void *data, size_t n) {
    char *p = ms_path_join(tmpdir, name);
    FILE *f = fopen(p, "wb");
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)(claimed_len >> (8 * i));
    fwrite(len, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    if (n) fwrite(data, 1, n, f);
    fclose(f);
    return p;
}

static void expect_fail(const char *name, const char *header, int64_t claimed, size_t ndata, const char *needle) {
    uint8_t data[64] = {0};
    char *p = raw_file(name, header, claimed < 0 ? strlen(header) : (uint64_t)claimed, data, ndata);
    st_file f;
    assert_int_equal(st_open(&f, p), -1);
    if (!strstr(ms_geterr(), needle) || !strstr(ms_geterr(), name)) {
        fprintf(stderr, "# message '%s' lacks '%s' or '%s'\n", ms_geterr(), needle, name);
        fail();
    }
    free(p);
}

static void test_roundtrip(void **st) {
    (void)st;
    float a[6] = {1, -2, 3.5f, 0, 1e-3f, -7};
    uint16_t h[4], b[4];
    float hv[4] = {0.5f, -1, 2, 65504}, bv[4] = {1, -1.5f, 3e20f, -4};
    for (int i = 0; i < 4; i++) h[i] = f32_to_f16(hv[i]), b[i] = f32_to_bf16(bv[i]);
    int32_t ids[3] = {7, -1, 1 << 30};
    st_wtensor t[] = {
        {"a", ST_F32, 2, {2, 3}, a}, {"h", ST_F16, 1, {4}, h}, {"b", ST_BF16, 2, {2, 2}, b}, {"ids", ST_I32, 1, {3}, ids},
        {"empty", ST_F32, 2, {0, 5}, NULL},
    };
    const char *meta[] = {"format", "pt", "note", "x"};
    const char *names[] = {"rt.safetensors", "rt.safetensors.lz4"};
    for (int k = 0; k < 2; k++) {
        char *p = ms_path_join(tmpdir, names[k]);
        assert_int_equal(st_write(p, t, 5, meta, 2), 0);
        st_file f;
        assert_int_equal(st_open(&f, p), 0);
        assert_int_equal(f.n, 5);
        assert_string_equal(st_meta(&f, "format"), "pt");
        assert_string_equal(st_meta(&f, "note"), "x");
        const st_tensor *ta = st_find(&f, "a");
        assert_non_null(ta);
        assert_int_equal(ta->ndim, 2);
        assert_int_equal(ta->shape[1], 3);
        float out[6];
        assert_int_equal(st_to_f32(&f, ta, out, 6), 0);
        assert_memory_equal(out, a, sizeof a);
        assert_int_equal(st_to_f32(&f, st_find(&f, "h"), out, 4), 0);
        for (int i = 0; i < 4; i++) assert_true(out[i] == hv[i]);
        assert_int_equal(st_to_f32(&f, st_find(&f, "b"), out, 4), 0);
        for (int i = 0; i < 4; i++) assert_true(out[i] == bf16_to_f32(b[i]));
        assert_int_equal(st_find(&f, "ids")->dtype, ST_I32);
        assert_int_equal(st_to_f32(&f, st_find(&f, "ids"), out, 3), -1); /* not a float type */
        assert_non_null(strstr(ms_geterr(), "I32"));
        assert_int_equal(st_find(&f, "empty")->numel, 0);
        /* Header is padded to a multiple of 8. */
        if (k == 0) {
            uint64_t n = 0;
            for (int i = 7; i >= 0; i--) n = (n << 8) | f.base[i];
            assert_int_equal(n % 8, 0);
        }
        int64_t shape[2] = {2, -1};
        float *l = st_load_f32(&f, "a", 2, shape);
        assert_non_null(l);
        free(l);
        int64_t wrong[2] = {3, 2};
        assert_null(st_load_f32(&f, "a", 2, wrong));
        assert_null(st_load_f32(&f, "nope", 1, wrong));
        assert_non_null(strstr(ms_geterr(), "nope"));
        st_close(&f);
        free(p);
    }
}

static void test_malformed(void **st) {
    (void)st;
    expect_fail("zero.st", "", 0, 0, "not a JSON object");
    /* Header length larger than the file, and larger than 100 MB. */
    expect_fail("lying.st", "{}", 4096, 0, "exceeds file size");
    expect_fail("huge.st", "{}", (int64_t)200 << 20, 0, "exceeds 100 MB");
    expect_fail("notobj.st", "[1,2]", -1, 0, "not a JSON object");
    expect_fail("badjson.st", "{\"a\":", -1, 0, "bad header JSON");
    expect_fail("trail.st", "{} x", -1, 0, "trailing");
    expect_fail("dtype.st", "{\"a\":{\"dtype\":\"F17\",\"shape\":[1],\"data_offsets\":[0,4]}}", -1, 4, "unknown dtype");
    expect_fail("noshape.st", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", -1, 4, "lacks");
    expect_fail("negdim.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", -1, 4, "bad dimension");
    expect_fail("oob.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", -1, 8, "outside");
    expect_fail("rev.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", -1, 8, "outside");
    expect_fail("size.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", -1, 8, "need 12");
    expect_fail("hole.st",
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", -1, 12, "hole");
    expect_fail("overlap.st",
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", -1, 8, "overlaps");
    expect_fail("extra.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", -1, 8, "cover");
    expect_fail("overflow.st",
                "{\"a\":{\"dtype\":\"F64\",\"shape\":[1099511627776,1099511627776],\"data_offsets\":[0,8]}}", -1, 8,
                "too large");
    expect_fail("meta.st", "{\"__metadata__\":{\"a\":1}}", -1, 0, "not a string");
    expect_fail("offs.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", -1, 4, "data_offsets");
    /* Missing file and a directory. */
    st_file f;
    assert_int_equal(st_open(&f, "/nonexistent/model.safetensors"), -1);
    assert_non_null(strstr(ms_geterr(), "/nonexistent/model.safetensors"));
    assert_int_equal(st_open(&f, tmpdir), -1);
    /* A valid minimal file with no tensors is accepted. */
    char *p = raw_file("empty.st", "{}      ", 8, NULL, 0);
    assert_int_equal(st_open(&f, p), 0);
    assert_int_equal(f.n, 0);
    st_close(&f);
    free(p);
}

/* Every truncation of a valid file fails cleanly (or parses when only the
 * data after the last tensor is cut — impossible here since tensors cover it). */
static void test_truncations(void **st) {
    (void)st;
    float a[4] = {1, 2, 3, 4};
    st_wtensor t[] = {{"w", ST_F32, 1, {4}, a}, {"v", ST_F32, 1, {0}, NULL}};
    char *p = ms_path_join(tmpdir, "full.st");
    assert_int_equal(st_write(p, t, 2, NULL, 0), 0);
    uint8_t *buf;
    size_t n;
    assert_int_equal(ms_read_file(p, &buf, &n), 0);
    for (size_t cut = 0; cut < n; cut++) {
        st_file f;
        assert_int_equal(st_open_mem(&f, buf, cut, "cut.st"), -1);
        assert_non_null(strstr(ms_geterr(), "cut.st"));
    }
    st_file f;
    assert_int_equal(st_open_mem(&f, buf, n, "whole.st"), 0);
    st_close(&f);
    free(buf);
    free(p);
}

static void test_sharded(void **st) {
    (void)st;
    char dir[128];
    snprintf(dir, sizeof dir, "%s/sharded", tmpdir);
    mkdir(dir, 0755);
    float a[2] = {1, 2}, b[3] = {3, 4, 5};
    st_wtensor ta[] = {{"x.a", ST_F32, 1, {2}, a}}, tb[] = {{"x.b", ST_F32, 1, {3}, b}};
    char *p1 = ms_path_join(dir, "m-1.safetensors"), *p2 = ms_path_join(dir, "m-2.safetensors.lz4");
    assert_int_equal(st_write(p1, ta, 1, NULL, 0), 0);
    assert_int_equal(st_write(p2, tb, 1, NULL, 0), 0);
    char *idx = ms_path_join(dir, "model.safetensors.index.json");
    const char *js = "{\"metadata\":{},\"weight_map\":{\"x.a\":\"m-1.safetensors\",\"x.b\":\"m-2.safetensors\"}}";
    assert_int_equal(ms_write_file_atomic(idx, js, strlen(js)), 0);
    st_set s;
    assert_int_equal(st_set_open(&s, dir), 0);
    assert_int_equal(s.nfiles, 2);
    const st_file *f;
    const st_tensor *t = st_set_find(&s, "x.b", &f);
    assert_non_null(t);
    float out[3];
    assert_int_equal(st_to_f32(f, t, out, 3), 0);
    assert_true(out[2] == 5);
    assert_null(st_set_find(&s, "x.c", NULL));
    st_set_close(&s);
    /* An index naming a missing shard, or escaping the folder, fails. */
    const char *bad = "{\"weight_map\":{\"x.a\":\"m-9.safetensors\"}}";
    assert_int_equal(ms_write_file_atomic(idx, bad, strlen(bad)), 0);
    assert_int_equal(st_set_open(&s, dir), -1);
    assert_non_null(strstr(ms_geterr(), "m-9.safetensors"));
    const char *esc = "{\"weight_map\":{\"x.a\":\"../m-1.safetensors\"}}";
    assert_int_equal(ms_write_file_atomic(idx, esc, strlen(esc)), 0);
    assert_int_equal(st_set_open(&s, dir), -1);
    assert_int_equal(ms_write_file_atomic(idx, "{", 1), 0);
    assert_int_equal(st_set_open(&s, dir), -1);
    assert_non_null(strstr(ms_geterr(), "index.json"));
    assert_int_equal(st_set_open(&s, tmpdir), -1); /* no model files at all */
    free(p1);
    free(p2);
    free(idx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_sharded),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
