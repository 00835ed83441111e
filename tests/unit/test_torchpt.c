/* test_torchpt.c — torch.save files written by real torch (fixtures from
 * tools/gen_pt_fixtures.py) load exactly; hand-built archives and pickles cover
 * ZIP64 and every kind of malformed or hostile input. */
#include "testutil.h"

#include "safetensors.h"
#include "torchpt.h"
#include "util.h"

#define PT FIXTURES "/pt/"

/* ------------------------------------------------------------ fixtures --- */

static void check_fixture(const char *stem) {
    char path[256];
    snprintf(path, sizeof path, PT "%s.pt", stem);
    pt_dict d;
    if (pt_load_dict(&d, path)) {
        fprintf(stderr, "# %s\n", ms_geterr());
        fail();
    }
    st_file ex;
    assert_int_equal(st_open(&ex, PT "expected.safetensors"), 0);
    assert_int_equal(d.n, 2);
    const char *keys[] = {"mean", "var"};
    for (int k = 0; k < 2; k++) {
        char name[128];
        snprintf(name, sizeof name, "%s.%s", stem, keys[k]);
        const st_tensor *e = st_find(&ex, name);
        const pt_tensor *t = pt_get(&d, keys[k]);
        assert_non_null(e);
        assert_non_null(t);
        assert_int_equal(t->ndim, e->ndim);
        for (int i = 0; i < t->ndim; i++) assert_int_equal(t->shape[i], e->shape[i]);
        assert_int_equal(t->numel, e->numel);
        float *want = xmalloc(e->numel * sizeof(float) + 1);
        assert_int_equal(st_to_f32(&ex, e, want, e->numel), 0);
        if (e->numel) assert_memory_equal(t->data, want, e->numel * sizeof(float));
        free(want);
    }
    assert_null(pt_get(&d, "nope"));
    st_close(&ex);
    pt_free(&d);
}

static void test_fixtures(void **st) {
    (void)st;
    const char *stems[] = {"single_f32", "multi_f32", "single_f16", "multi_bf16", "single_f64",
                           "view_transposed", "view_sliced", "shared_storage", "ordered", "scalar0d", "zip64"};
    for (size_t i = 0; i < sizeof stems / sizeof stems[0]; i++) check_fixture(stems[i]);
    pt_dict d;
    assert_int_equal(pt_load_dict(&d, PT "multi_f32.pt"), 0);
    assert_int_equal(pt_get(&d, "mean")->ndim, 2);
    assert_int_equal(pt_get(&d, "mean")->shape[0], 3);
    assert_int_equal(pt_get(&d, "mean")->shape[1], 16);
    pt_free(&d);
}

static void expect_fail_mem(const uint8_t *buf, size_t n, const char *needle) {
    pt_dict d;
    int rc = pt_load_dict_mem(&d, buf, n, "hostile.pt");
    if (rc != -1 || !strstr(ms_geterr(), "hostile.pt") || (needle && !strstr(ms_geterr(), needle))) {
        fprintf(stderr, "# rc %d, message '%s' lacks '%s'\n", rc, ms_geterr(), needle ? needle : "");
        fail();
    }
    assert_int_equal(d.n, 0);
    assert_null(d.t);
}

static void test_truncated(void **st) {
    (void)st;
    uint8_t *buf;
    size_t n;
    assert_int_equal(ms_read_file(PT "single_f32.pt", &buf, &n), 0);
    for (size_t k = 0; k < n; k++) {
        uint8_t *cut = xmalloc(k + 1); /* exact-size copy so ASan sees overreads */
        memcpy(cut, buf, k);
        expect_fail_mem(cut, k, NULL);
        free(cut);
    }
    /* Every single-byte corruption must fail or succeed cleanly, never crash. */
    for (size_t k = 0; k < n; k++) {
        uint8_t *c = xmalloc(n);
        memcpy(c, buf, n);
        c[k] ^= 0x5a;
        pt_dict d;
        if (pt_load_dict_mem(&d, c, n, "flip.pt") == 0) pt_free(&d);
        else assert_non_null(strstr(ms_geterr(), "flip.pt"));
        free(c);
    }
    free(buf);
    pt_dict d;
    assert_int_equal(pt_load_dict(&d, PT "does_not_exist.pt"), -1);
    assert_non_null(strstr(ms_geterr(), "does_not_exist.pt"));
}

/* ------------------------------------------------------ builders --------- */

typedef struct {
    uint8_t *p;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *s, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = xrealloc(b->p, b->cap);
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
}
static void put8(bytes *b, unsigned v) { uint8_t c = (uint8_t)v; put(b, &c, 1); }
static void put16(bytes *b, unsigned v) { put8(b, v & 0xff), put8(b, v >> 8 & 0xff); }
static void put32(bytes *b, uint32_t v) { put16(b, v & 0xffff), put16(b, v >> 16); }
static void put64(bytes *b, uint64_t v) { put32(b, (uint32_t)v), put32(b, (uint32_t)(v >> 32)); }

typedef struct {
    const char *name;
    const void *data;
    size_t len;
    int method;
} zentry;

/* A ZIP with the given entries; zip64 puts every size and offset in ZIP64
 * extra fields and adds the ZIP64 end records, as writers do for big files. */
static bytes build_zip(const zentry *e, int n, bool zip64) {
    bytes b = {0};
    uint64_t offs[16];
    for (int i = 0; i < n; i++) {
        offs[i] = b.n;
        put32(&b, 0x04034b50), put16(&b, 20), put16(&b, 0), put16(&b, (unsigned)e[i].method);
        put32(&b, 0), put32(&b, 0);
        put32(&b, (uint32_t)e[i].len), put32(&b, (uint32_t)e[i].len);
        put16(&b, (unsigned)strlen(e[i].name)), put16(&b, 0);
        put(&b, e[i].name, strlen(e[i].name));
        put(&b, e[i].data, e[i].len);
    }
    uint64_t cd = b.n;
    for (int i = 0; i < n; i++) {
        put32(&b, 0x02014b50), put16(&b, 45), put16(&b, 45), put16(&b, 0), put16(&b, (unsigned)e[i].method);
        put32(&b, 0), put32(&b, 0);
        put32(&b, zip64 ? 0xFFFFFFFFu : (uint32_t)e[i].len), put32(&b, zip64 ? 0xFFFFFFFFu : (uint32_t)e[i].len);
        put16(&b, (unsigned)strlen(e[i].name)), put16(&b, zip64 ? 28 : 0), put16(&b, 0);
        put16(&b, 0), put16(&b, 0), put32(&b, 0), put32(&b, zip64 ? 0xFFFFFFFFu : (uint32_t)offs[i]);
        put(&b, e[i].name, strlen(e[i].name));
        if (zip64) put16(&b, 1), put16(&b, 24), put64(&b, e[i].len), put64(&b, e[i].len), put64(&b, offs[i]);
    }
    uint64_t cd_size = b.n - cd;
    if (zip64) {
        uint64_t rec = b.n;
        put32(&b, 0x06064b50), put64(&b, 44), put16(&b, 45), put16(&b, 45), put32(&b, 0), put32(&b, 0);
        put64(&b, (uint64_t)n), put64(&b, (uint64_t)n), put64(&b, cd_size), put64(&b, cd);
        put32(&b, 0x07064b50), put32(&b, 0), put64(&b, rec), put32(&b, 1);
    }
    put32(&b, 0x06054b50), put16(&b, 0), put16(&b, 0);
    put16(&b, zip64 ? 0xFFFF : (unsigned)n), put16(&b, zip64 ? 0xFFFF : (unsigned)n);
    put32(&b, zip64 ? 0xFFFFFFFFu : (uint32_t)cd_size), put32(&b, zip64 ? 0xFFFFFFFFu : (uint32_t)cd);
    put16(&b, 0);
    return b;
}

/* Pickle pieces in the shape torch.save writes. */
static void p_str(bytes *b, const char *s) { put8(b, 'X'), put32(b, (uint32_t)strlen(s)), put(b, s, strlen(s)); }
static void p_int(bytes *b, int64_t v) {
    if (v >= 0 && v < 256) put8(b, 'K'), put8(b, (unsigned)v);
    else put8(b, 0x8a), put8(b, 8), put64(b, (uint64_t)v);
}
static void p_global(bytes *b, const char *mod, const char *name) {
    put8(b, 'c'), put(b, mod, strlen(mod)), put8(b, '\n'), put(b, name, strlen(name)), put8(b, '\n');
}
static void p_tuple(bytes *b, const int64_t *v, int n) {
    put8(b, '(');
    for (int i = 0; i < n; i++) p_int(b, v[i]);
    put8(b, 't');
}

typedef struct {
    const char *storage;      /* e.g. "FloatStorage" */
    int64_t numel, offset;
    int ndim;
    int64_t size[9], stride[9];
} tspec;

/* {"mean": tensor} as a protocol-2 pickle. */
static bytes build_pickle(const tspec *t) {
    bytes b = {0};
    put8(&b, 0x80), put8(&b, 2), put8(&b, '}'), put8(&b, 'q'), put8(&b, 0), put8(&b, '(');
    p_str(&b, "mean");
    p_global(&b, "torch._utils", "_rebuild_tensor_v2");
    put8(&b, '('), put8(&b, '(');
    p_str(&b, "storage"), p_global(&b, "torch", t->storage), p_str(&b, "0"), p_str(&b, "cpu"), p_int(&b, t->numel);
    put8(&b, 't'), put8(&b, 'Q');
    p_int(&b, t->offset);
    p_tuple(&b, t->size, t->ndim);
    p_tuple(&b, t->stride, t->ndim);
    put8(&b, 0x89);
    p_global(&b, "collections", "OrderedDict"), put8(&b, ')'), put8(&b, 'R');
    put8(&b, 't'), put8(&b, 'R');
    put8(&b, 'u'), put8(&b, '.');
    return b;
}

static const float STORE[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};

/* Loads (pickle, STORE as data/0) through the archive builder. */
static int load_parts(pt_dict *d, const bytes *pkl, const void *data, size_t dlen, bool zip64, int method0) {
    zentry e[] = {
        {"archive/data.pkl", pkl->p, pkl->n, 0},
        {"archive/byteorder", "little", 6, 0},
        {"archive/data/0", data, dlen, method0},
        {"archive/version", "3\n", 2, 0},
    };
    bytes z = build_zip(e, 4, zip64);
    int rc = pt_load_dict_mem(d, z.p, z.n, "hostile.pt");
    free(z.p);
    return rc;
}

static int load_spec(pt_dict *d, const tspec *t, bool zip64) {
    bytes p = build_pickle(t);
    int rc = load_parts(d, &p, STORE, sizeof STORE, zip64, 0);
    free(p.p);
    return rc;
}

static void spec_fails(const tspec *t, const char *needle) {
    pt_dict d;
    int rc = load_spec(&d, t, false);
    if (rc != -1 || !strstr(ms_geterr(), "hostile.pt") || !strstr(ms_geterr(), needle)) {
        fprintf(stderr, "# rc %d, message '%s' lacks '%s'\n", rc, ms_geterr(), needle);
        fail();
    }
    assert_int_equal(d.n, 0);
}

/* ------------------------------------------------------------- tests ----- */

static void test_built_views(void **st) {
    (void)st;
    for (int z64 = 0; z64 < 2; z64++) {
        /* a [3,2] column-major view starting at element 1: [[1,4],[2,5],[3,6]] */
        tspec t = {"FloatStorage", 12, 1, 2, {3, 2}, {1, 3}};
        pt_dict d;
        assert_int_equal(load_spec(&d, &t, z64), 0);
        const pt_tensor *m = pt_get(&d, "mean");
        float want[6] = {1, 4, 2, 5, 3, 6};
        assert_int_equal(m->numel, 6);
        assert_memory_equal(m->data, want, sizeof want);
        pt_free(&d);
    }
    /* f64 storage: 12 floats are 6 doubles' worth of bytes */
    tspec t = {"DoubleStorage", 6, 0, 1, {6}, {1}};
    pt_dict d;
    assert_int_equal(load_spec(&d, &t, false), 0);
    pt_free(&d);
}

static void test_bad_tensors(void **st) {
    (void)st;
    spec_fails(&(tspec){"FloatStorage", 12, 12, 1, {1}, {1}}, "reaches element 12");             /* offset out of range */
    spec_fails(&(tspec){"FloatStorage", 12, 0, 2, {4, 4}, {4, 1}}, "reaches element 15");         /* size x stride */
    spec_fails(&(tspec){"FloatStorage", 12, 0, 1, {1LL << 40}, {1}}, "storage");                  /* huge size */
    spec_fails(&(tspec){"FloatStorage", 12, 0, 2, {1LL << 40, 1LL << 40}, {1LL << 40, 1}}, "too large");
    spec_fails(&(tspec){"FloatStorage", 12, 0, 1, {5}, {1LL << 62}}, "overflows");
    spec_fails(&(tspec){"FloatStorage", 12, 0, 1, {100}, {0}}, "broadcast");                     /* stride 0 */
    spec_fails(&(tspec){"FloatStorage", 13, 0, 1, {1}, {1}}, "declares 13 elements");             /* storage > data */
    spec_fails(&(tspec){"FloatStorage", 1LL << 60, 0, 1, {1}, {1}}, "declares");
    spec_fails(&(tspec){"DoubleStorage", 7, 0, 1, {1}, {1}}, "declares 7");
    spec_fails(&(tspec){"IntStorage", 12, 0, 1, {1}, {1}}, "'torch IntStorage' is not allowed");
    spec_fails(&(tspec){"FloatStorage", 12, 0, 9, {1, 1, 1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1, 1, 1, 1}}, "bad tensor size");
}

/* Replaces the first occurrence of `from` in the pickle bytes with `to` (same length). */
static void patchn(bytes *b, const char *from, const char *to, size_t n) {
    for (size_t i = 0; i + n <= b->n; i++)
        if (!memcmp(b->p + i, from, n)) {
            memcpy(b->p + i, to, n);
            return;
        }
    fail_msg("pattern %s not in pickle", from);
}
static void patch(bytes *b, const char *from, const char *to) { patchn(b, from, to, strlen(from)); }

static void pickle_fails(bytes *p, const char *needle) {
    pt_dict d;
    int rc = load_parts(&d, p, STORE, sizeof STORE, false, 0);
    if (rc != -1 || !strstr(ms_geterr(), "hostile.pt") || !strstr(ms_geterr(), needle)) {
        fprintf(stderr, "# rc %d, message '%s' lacks '%s'\n", rc, ms_geterr(), needle);
        fail();
    }
    free(p->p);
}

static void test_bad_pickles(void **st) {
    (void)st;
    tspec ok = {"FloatStorage", 12, 0, 1, {12}, {1}};
    bytes p = build_pickle(&ok);
    p.p[2] = 'p'; /* PUT (text memo) is not in the supported set */
    pickle_fails(&p, "unsupported pickle opcode 0x70 at byte 2");

    p = build_pickle(&ok);
    patch(&p, "torch._utils\n_rebuild_tensor_v2\n", "os\nsystem\n_rebuild_tensor_v2xxxxx\n");
    pickle_fails(&p, "GLOBAL 'os system' is not allowed");

    bytes q = {0}; /* GLOBAL outside the list, then REDUCE: must stop at GLOBAL */
    put8(&q, 0x80), put8(&q, 2), p_global(&q, "os", "system"), p_str(&q, "echo hi"), put8(&q, 0x85), put8(&q, 'R'), put8(&q, '.');
    pickle_fails(&q, "GLOBAL 'os system'");

    q = (bytes){0}; /* deep nesting */
    put8(&q, 0x80), put8(&q, 2);
    for (int i = 0; i < 5000; i++) put8(&q, '(');
    pickle_fails(&q, "nesting too deep");

    q = (bytes){0}; /* deep tuple chain: fine for the VM, not a dict at the end */
    put8(&q, 0x80), put8(&q, 2), put8(&q, ')');
    for (int i = 0; i < 100000; i++) put8(&q, 0x85);
    put8(&q, '.');
    pickle_fails(&q, "not a dict");

    q = (bytes){0}; /* stack flood */
    put8(&q, 0x80), put8(&q, 2);
    for (int i = 0; i < 70000; i++) put8(&q, 'N');
    pickle_fails(&q, "stack too deep");

    q = (bytes){0};
    put8(&q, 0x80), put8(&q, 2), put8(&q, 'N'), put8(&q, 'r'), put32(&q, 0xFFFFFFFFu), put8(&q, '.');
    pickle_fails(&q, "memo index too large");

    q = (bytes){0};
    put8(&q, 0x80), put8(&q, 2), put8(&q, 'h'), put8(&q, 3), put8(&q, '.');
    pickle_fails(&q, "unset index");

    q = (bytes){0};
    put8(&q, 0x80), put8(&q, 2), put8(&q, 'X'), put32(&q, 0x7FFFFFFF), put8(&q, '.');
    pickle_fails(&q, "truncated");

    q = (bytes){0};
    put8(&q, 0x80), put8(&q, 2), put8(&q, '}');
    pickle_fails(&q, "without STOP");

    q = (bytes){0};
    put8(&q, 0x80), put8(&q, 2), put8(&q, 'R'), put8(&q, '.');
    pickle_fails(&q, "underflow");

    q = (bytes){0}; /* items under a MARK cannot be popped by REDUCE */
    put8(&q, 0x80), put8(&q, 2), p_global(&q, "collections", "OrderedDict"), put8(&q, '('), put8(&q, ')'), put8(&q, 'R'), put8(&q, '.');
    pickle_fails(&q, "underflow");

    q = (bytes){0}; /* dict of a non-tensor */
    put8(&q, 0x80), put8(&q, 2), put8(&q, '}'), p_str(&q, "mean"), p_int(&q, 5), put8(&q, 's'), put8(&q, '.');
    pickle_fails(&q, "not a tensor");

    q = (bytes){0};
    put8(&q, 0x80), put8(&q, 2), put8(&q, 0x8a), put8(&q, 9), put64(&q, 1), put8(&q, 0), put8(&q, '.');
    pickle_fails(&q, "LONG1");

    p = build_pickle(&ok);
    patch(&p, "storage", "storag!"); /* persistent id that is not a storage */
    pickle_fails(&p, "not a storage");

    p = build_pickle(&ok);
    patchn(&p, "X\x01\0\0\0" "0", "X\x01\0\0\0" "7", 6); /* storage key 7: no such entry */
    pickle_fails(&p, "'archive/data/7' not found");
}

static void test_bad_zips(void **st) {
    (void)st;
    tspec ok = {"FloatStorage", 12, 0, 1, {12}, {1}};
    bytes p = build_pickle(&ok);
    pt_dict d;
    assert_int_equal(load_parts(&d, &p, STORE, sizeof STORE, false, 0), 0);
    assert_memory_equal(pt_get(&d, "mean")->data, STORE, sizeof STORE);
    pt_free(&d);
    assert_int_equal(load_parts(&d, &p, STORE, sizeof STORE, false, 8), -1);
    assert_non_null(strstr(ms_geterr(), "compressed"));
    assert_non_null(strstr(ms_geterr(), "hostile.pt"));

    zentry e[] = {
        {"archive/data.pkl", p.p, p.n, 0},
        {"archive/data/0", STORE, sizeof STORE, 0},
        {"archive/byteorder", "big", 3, 0},
    };
    for (int z64 = 0; z64 < 2; z64++) {
        bytes z = build_zip(e, 2, z64);
        size_t eocd = z.n - 22;
        uint32_t cd = z64 ? 0 : (uint32_t)(z.p[eocd + 16] | z.p[eocd + 17] << 8 | z.p[eocd + 18] << 16 | (uint32_t)z.p[eocd + 19] << 24);
        struct { size_t at; uint8_t v; const char *needle; } bad[] = {
            {eocd, 'Q', "end-of-central-directory"},
            {0, 'Q', "local header"},
            {z64 ? eocd - 20 : cd, 'Q', z64 ? "locator" : "central directory entry"},
            {eocd + 4, 1, "multi-disk"},
            {eocd + 21, 1, "end-of-central-directory"}, /* comment length past the end */
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            uint8_t old = z.p[bad[i].at];
            z.p[bad[i].at] = bad[i].v;
            expect_fail_mem(z.p, z.n, bad[i].needle);
            z.p[bad[i].at] = old;
        }
        assert_int_equal(pt_load_dict_mem(&d, z.p, z.n, "hostile.pt"), 0);
        pt_free(&d);
        free(z.p);
    }
    bytes z = build_zip(e, 3, false);
    expect_fail_mem(z.p, z.n, "byteorder");
    free(z.p);
    zentry two[] = {{"a/data.pkl", p.p, p.n, 0}, {"b/data.pkl", p.p, p.n, 0}};
    z = build_zip(two, 2, false);
    expect_fail_mem(z.p, z.n, "more than one");
    free(z.p);
    zentry none[] = {{"data.pkl", p.p, p.n, 0}};
    z = build_zip(none, 1, false);
    expect_fail_mem(z.p, z.n, "not a torch.save file");
    free(z.p);
    /* Huge declared entry count and directory beyond the file. */
    z = build_zip(e, 2, false);
    z.p[z.n - 22 + 10] = 0xff, z.p[z.n - 22 + 11] = 0xfe;
    expect_fail_mem(z.p, z.n, "entries");
    z.p[z.n - 22 + 10] = 2, z.p[z.n - 22 + 11] = 0;
    z.p[z.n - 22 + 19] = 0x7f;
    expect_fail_mem(z.p, z.n, "outside the file");
    free(z.p);
    expect_fail_mem((const uint8_t *)"", 0, "not a ZIP");
    free(p.p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),   cmocka_unit_test(test_truncated), cmocka_unit_test(test_built_views),
        cmocka_unit_test(test_bad_tensors), cmocka_unit_test(test_bad_pickles), cmocka_unit_test(test_bad_zips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
