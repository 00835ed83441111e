/* test_statcache.c — the disk cache of corpus statistics (statcache.h) and
 * the model identity it is keyed on (model_digest.h). */
#include "testutil.h"

#include "hash.h"
#include "model_digest.h"
#include "safetensors.h"
#include "statcache.h"
#include "util.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const NAMES[] = {"mean_norm", "tokens"};

static char *tmpdir(void) {
    char t[] = "/tmp/ms_statcache_XXXXXX";
    assert_non_null(mkdtemp(t));
    return xstrdup(t);
}

static void rm_rf(const char *dir) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static int count_files(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_miss_put_hit(void **state) {
    char *root = tmpdir(), dir[600], note[4200] = "";
    snprintf(dir, sizeof dir, "%s/a/b/metascope", root); /* parents are created */
    double v[2] = {54.437506407926278, 1396}, r[2] = {0, 0};
    assert_int_equal(statcache_get(dir, "k1", NAMES, r, 2, note, sizeof note), 0);
    assert_int_equal(statcache_put(dir, "k1", NAMES, v, 2), 0);
    assert_int_equal(statcache_get(dir, "k1", NAMES, r, 2, note, sizeof note), 1);
    assert_memory_equal(r, v, sizeof v); /* %.17g reads back bit for bit */
    assert_int_equal(count_files(dir), 1); /* no temp file left behind */
    rm_rf(root);
    free(root);
}

static void test_key_change(void **state) {
    char *dir = tmpdir(), note[4200] = "";
    double v[2] = {1.5, 10}, r[2];
    assert_int_equal(statcache_put(dir, "model=1 layer=3", NAMES, v, 2), 0);
    assert_int_equal(statcache_get(dir, "model=1 layer=4", NAMES, r, 2, note, sizeof note), 0);
    assert_int_equal(statcache_get(dir, "model=2 layer=3", NAMES, r, 2, note, sizeof note), 0);
    /* An entry under the right file name made for another key (a hash
     * collision, or a hand-copied file) is a mismatch, not a hit. */
    char path[4200];
    statcache_path(dir, "model=2 layer=3", path, sizeof path);
    write_text(path, "metascope statcache 1\nkey model=1 layer=3\nmean_norm 1.5\ntokens 10\n");
    assert_int_equal(statcache_get(dir, "model=2 layer=3", NAMES, r, 2, note, sizeof note), -1);
    assert_non_null(strstr(note, "another key"));
    assert_non_null(strstr(note, path));
    /* A key that is a prefix of the stored one does not match either. */
    assert_int_equal(statcache_get(dir, "model=1 layer=", NAMES, r, 2, note, sizeof note), 0);
    rm_rf(dir);
    free(dir);
}

static void test_corrupt(void **state) {
    char *dir = tmpdir(), note[4200], path[4200];
    double r[2];
    statcache_path(dir, "k", path, sizeof path);
    static const char *const bad[] = {
        "",                                                            /* empty */
        "garbage\n",                                                   /* no magic */
        "metascope statcache 1\nkey k\nmean_norm 1.5\n",               /* a value missing */
        "metascope statcache 1\nkey k\nmean_norm 1.5x\ntokens 3\n",    /* trailing junk */
        "metascope statcache 1\nkey k\nmean_norm nan\ntokens 3\n",     /* not finite */
        "metascope statcache 1\nkey k\nmean_norm 1.5\ntokens",         /* truncated */
        "metascope statcache 2\nkey k\nmean_norm 1.5\ntokens 3\n",     /* another version */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_text(path, bad[i]);
        note[0] = 0;
        assert_int_equal(statcache_get(dir, "k", NAMES, r, 2, note, sizeof note), -1);
        assert_non_null(strstr(note, "ignoring cache entry"));
    }
    /* Rewriting repairs it. */
    double v[2] = {2.25, 7};
    assert_int_equal(statcache_put(dir, "k", NAMES, v, 2), 0);
    assert_int_equal(statcache_get(dir, "k", NAMES, r, 2, note, sizeof note), 1);
    assert_true(r[0] == 2.25 && r[1] == 7);
    rm_rf(dir);
    free(dir);
}

static void test_atomic_write(void **state) {
    char *dir = tmpdir(), path[4200], note[64];
    double v[2] = {3, 4}, r[2];
    assert_int_equal(statcache_put(dir, "k", NAMES, v, 2), 0);
    statcache_path(dir, "k", path, sizeof path);
    struct stat a, b;
    assert_int_equal(stat(path, &a), 0);
    /* The replacement is a new file renamed over the old one: a reader that
     * opened the old entry keeps reading it whole. */
    FILE *old = fopen(path, "rb");
    assert_non_null(old);
    v[0] = 5;
    assert_int_equal(statcache_put(dir, "k", NAMES, v, 2), 0);
    assert_int_equal(stat(path, &b), 0);
    assert_true(a.st_ino != b.st_ino);
    char text[256] = "";
    assert_true(fread(text, 1, sizeof text - 1, old) > 0);
    fclose(old);
    assert_non_null(strstr(text, "mean_norm 3\n"));
    assert_int_equal(statcache_get(dir, "k", NAMES, r, 2, note, sizeof note), 1);
    assert_true(r[0] == 5);
    assert_int_equal(count_files(dir), 1);
    /* A folder that cannot be made: an error, nothing written. */
    char file[600], sub[700];
    snprintf(file, sizeof file, "%s/plainfile", dir);
    write_text(file, "x");
    snprintf(sub, sizeof sub, "%s/metascope", file);
    assert_int_equal(statcache_put(sub, "k", NAMES, v, 2), -1);
    assert_non_null(strstr(ms_geterr(), "plainfile"));
    ms_clearerr();
    /* A key with a newline would break the one-line key. */
    assert_int_equal(statcache_put(dir, "a\nb", NAMES, v, 2), -1);
    ms_clearerr();
    rm_rf(dir);
    free(dir);
}

static void test_dir_from_env(void **state) {
    char buf[4096];
    setenv("HOME", "/home/u", 1);
    setenv("XDG_CACHE_HOME", "/x/cache", 1);
    unsetenv("METASCOPE_CACHE");
    assert_string_equal(statcache_dir(buf, sizeof buf), "/x/cache/metascope");
    setenv("XDG_CACHE_HOME", "relative", 1); /* ignored, as the XDG spec says */
    assert_string_equal(statcache_dir(buf, sizeof buf), "/home/u/.cache/metascope");
    unsetenv("XDG_CACHE_HOME");
    assert_string_equal(statcache_dir(buf, sizeof buf), "/home/u/.cache/metascope");
    setenv("METASCOPE_CACHE", "off", 1);
    assert_null(statcache_dir(buf, sizeof buf));
    unsetenv("METASCOPE_CACHE");
    unsetenv("HOME");
    assert_null(statcache_dir(buf, sizeof buf));
}

static void copy_dir(const char *from, const char *to) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp -r '%s/.' '%s/'", from, to);
    assert_int_equal(system(cmd), 0);
}

/* Same content = same digest wherever it lives and whatever its times; a
 * changed config, tokenizer or weight byte = another digest. */
static void test_model_digest(void **state) {
    char *a = tmpdir(), *b = tmpdir();
    copy_dir(FIXTURES "/models/llama_tiny", a);
    copy_dir(FIXTURES "/models/llama_tiny", b);
    uint64_t da, db;
    assert_int_equal(model_digest(a, &da), 0);
    assert_int_equal(model_digest(b, &db), 0);
    assert_true(da == db);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "touch -d '2001-01-01' '%s'/*", b); /* times are not identity */
    assert_int_equal(system(cmd), 0);
    assert_int_equal(model_digest(b, &db), 0);
    assert_true(da == db);
    snprintf(cmd, sizeof cmd, "cd '%s' && for f in *.safetensors*; do printf 'x' | dd of=\"$f\" bs=1 seek=$(($(stat -c %%s \"$f\") - 3)) conv=notrunc 2>/dev/null; done", b);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(model_digest(b, &db), 0);
    assert_true(da != db);
    assert_int_equal(model_digest("/nonexistent/folder", &db), -1);
    ms_clearerr();
    rm_rf(a), rm_rf(b);
    free(a), free(b);
}

/* A weights file over DIGEST_FULL_MAX is sampled per tensor: a small tensor
 * in full, a large one at 16 chunks; the tensor table always. */
static void test_digest_sampled(void **state) {
    char *dir = tmpdir(), path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    size_t big = (DIGEST_FULL_MAX >> 2) + 1024;
    float *w = xcalloc(big, sizeof(float)), small[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    st_wtensor t[2] = {{"big", ST_F32, 1, {(int64_t)big}, w}, {"norm", ST_F32, 1, {8}, small}};
    uint64_t d0, d1;
    assert_int_equal(st_write(path, t, 2, NULL, 0), 0);
    assert_int_equal(model_digest_file(path, HASH64_INIT, &d0), 0);
    small[7] = 9; /* a small tensor is hashed whole */
    assert_int_equal(st_write(path, t, 2, NULL, 0), 0);
    assert_int_equal(model_digest_file(path, HASH64_INIT, &d1), 0);
    assert_true(d0 != d1);
    w[big - 1] = 1; /* the last bytes of a large tensor are sampled */
    assert_int_equal(st_write(path, t, 2, NULL, 0), 0);
    assert_int_equal(model_digest_file(path, HASH64_INIT, &d0), 0);
    assert_true(d0 != d1);
    for (size_t i = 0; i < big; i++) w[i] = 0.5f; /* an update moving every value */
    assert_int_equal(st_write(path, t, 2, NULL, 0), 0);
    assert_int_equal(model_digest_file(path, HASH64_INIT, &d1), 0);
    assert_true(d0 != d1);
    w[big / 32 + 5] = 7; /* the documented blind spot: one value between chunks */
    assert_int_equal(st_write(path, t, 2, NULL, 0), 0);
    assert_int_equal(model_digest_file(path, HASH64_INIT, &d0), 0);
    assert_true(d0 == d1);
    free(w);
    rm_rf(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_miss_put_hit), cmocka_unit_test(test_key_change),
        cmocka_unit_test(test_corrupt),      cmocka_unit_test(test_atomic_write),
        cmocka_unit_test(test_dir_from_env), cmocka_unit_test(test_model_digest),
        cmocka_unit_test(test_digest_sampled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
