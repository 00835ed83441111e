/* test_core.c — f16/bf16 conversion, RNG reproducibility, lz4 files, atomic
 * writes, sampling. */
#include "testutil.h"

#include "half.h"
#include "lz4file.h"
#include "ops.h"
#include "rng.h"
#include "sampler.h"
#include "util.h"

#include <unistd.h>

static void test_f16_exact_values(void **st) {
    (void)st;
    /* Reference bit patterns from the IEEE 754 binary16 definition. */
    struct { float f; uint16_t h; } cases[] = {
        {0.0f, 0x0000}, {-0.0f, 0x8000}, {1.0f, 0x3c00}, {-2.0f, 0xc000}, {65504.0f, 0x7bff},
        {6.103515625e-05f, 0x0400}, {5.960464477539063e-08f, 0x0001}, {0.333251953125f, 0x3555},
        {INFINITY, 0x7c00}, {-INFINITY, 0xfc00},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal(f32_to_f16(cases[i].f), cases[i].h);
        assert_true(f16_to_f32(cases[i].h) == cases[i].f);
    }
    assert_int_equal(f32_to_f16(65520.0f), 0x7c00);           /* rounds to inf */
    assert_int_equal(f32_to_f16(1.0f + 1.0f / 2048), 0x3c00); /* tie to even */
    assert_int_equal(f32_to_f16(1.0f + 3.0f / 2048), 0x3c02);
    assert_true(isnan(f16_to_f32(f32_to_f16(NAN))));
}

static void test_f16_roundtrip_all(void **st) {
    (void)st;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = f16_to_f32((uint16_t)h);
        if (isnan(f)) continue;
        assert_int_equal(f32_to_f16(f), h);
    }
}

static void test_bf16(void **st) {
    (void)st;
    assert_int_equal(f32_to_bf16(1.0f), 0x3f80);
    assert_true(bf16_to_f32(0x3f80) == 1.0f);
    assert_int_equal(f32_to_bf16(1.00390625f), 0x3f80); /* tie → even */
    assert_int_equal(f32_to_bf16(1.01171875f), 0x3f82); /* tie → even (up) */
    for (uint32_t b = 0; b < 65536; b++) {
        float f = bf16_to_f32((uint16_t)b);
        if (!isnan(f)) assert_int_equal(f32_to_bf16(f), b);
    }
}

static void test_rng_reproducible(void **st) {
    (void)st;
    rng_t a, b;
    rng_seed(&a, 7);
    rng_seed(&b, 7);
    for (int i = 0; i < 1000; i++) assert_true(rng_u64(&a) == rng_u64(&b));
    rng_seed(&a, 8);
    assert_true(rng_u64(&a) != rng_u64(&b));
    /* Normal moments over 200k draws. */
    double s = 0, s2 = 0;
    int n = 200000;
    for (int i = 0; i < n; i++) {
        double x = rng_normal(&a);
        s += x;
        s2 += x * x;
    }
    assert_true(fabs(s / n) < 0.01);
    assert_true(fabs(s2 / n - 1) < 0.02);
    for (int i = 0; i < 1000; i++) {
        float u = rng_uniform(&a);
        assert_true(u >= 0 && u < 1);
        assert_true(rng_below(&a, 10) < 10);
    }
}

static void test_lz4_roundtrip(void **st) {
    (void)st;
    size_t n = 300000;
    uint8_t *src = malloc(n);
    for (size_t i = 0; i < n; i++) src[i] = (uint8_t)((i * 7) ^ (i >> 5));
    uint8_t *c, *d;
    size_t cn, dn;
    assert_int_equal(lz4_compress_buf(src, n, &c, &cn, 1), 0);
    assert_int_equal(lz4_decompress_buf(c, cn, &d, &dn, "mem"), 0);
    assert_int_equal(dn, n);
    assert_memory_equal(src, d, n);
    free(d);
    /* Truncated and corrupted frames fail with a message naming the file. */
    assert_int_equal(lz4_decompress_buf(c, cn / 2, &d, &dn, "half.lz4"), -1);
    assert_non_null(strstr(ms_geterr(), "half.lz4"));
    assert_int_equal(lz4_decompress_buf((const uint8_t *)"garbage!", 8, &d, &dn, "junk.lz4"), -1);
    assert_non_null(strstr(ms_geterr(), "junk.lz4"));
    free(c);
    free(src);
}

static void test_atomic_write_and_lz4_file(void **st) {
    (void)st;
    char dir[] = "/tmp/ms_test_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *p = ms_path_join(dir, "x.bin.lz4");
    const char *msg = "hello, hello, hello, hello, lz4 world";
    assert_int_equal(ms_write_file_atomic(p, msg, strlen(msg)), 0);
    uint8_t *data;
    size_t n;
    assert_int_equal(ms_read_file(p, &data, &n), 0);
    assert_int_equal(n, strlen(msg));
    assert_memory_equal(data, msg, n);
    free(data);
    /* ms_find_file finds the .lz4 variant of a plain name. */
    char *found = ms_find_file(dir, "x.bin");
    assert_non_null(found);
    assert_true(ms_ends_with(found, "x.bin.lz4"));
    free(found);
    /* Writing into a missing directory fails cleanly and leaves no temp file. */
    char *bad = ms_path_join(dir, "nodir/x.bin");
    assert_int_equal(ms_write_file_atomic(bad, "a", 1), -1);
    assert_non_null(strstr(ms_geterr(), "nodir"));
    assert_int_equal(ms_read_file(bad, &data, &n), -1);
    free(bad);
    unlink(p);
    rmdir(dir);
    free(p);
}

/* A message wrapped with its own text as the argument (the usual
 * "ms_seterr("%s (cmd)", ms_geterr())") keeps the text. */
static void test_error_wrap(void **st) {
    (void)st;
    ms_seterr("bad thing (%s)", "file.json");
    ms_seterr("%s (probe)", ms_geterr());
    assert_string_equal(ms_geterr(), "bad thing (file.json) (probe)");
    ms_seterr("two\nlines");
    assert_string_equal(ms_geterr(), "two lines");
}

static void test_sampler(void **st) {
    (void)st;
    float logits[6] = {1, 5, 2, 4.9f, -3, 0};
    sampler s;
    sampler_init(&s, 6);
    rng_t r;
    rng_seed(&r, 1);
    sampler_cfg greedy = {0, 0, 1};
    assert_int_equal(sample_next(&s, logits, &greedy, &r), 1);
    sampler_cfg k2 = {1.0f, 2, 1};
    int counts[6] = {0};
    for (int i = 0; i < 4000; i++) counts[sample_next(&s, logits, &k2, &r)]++;
    assert_int_equal(counts[0] + counts[2] + counts[4] + counts[5], 0); /* only the top 2 */
    assert_true(counts[1] > 1700 && counts[3] > 1700);                /* ~52% / 48% */
    sampler_cfg p = {1.0f, 0, 0.5f}; /* top token alone has p ≈ 0.51 */
    for (int i = 0; i < 200; i++) assert_int_equal(sample_next(&s, logits, &p, &r), 1);
    sampler_cfg full = {1.0f, 0, 1};
    memset(counts, 0, sizeof counts);
    for (int i = 0; i < 20000; i++) counts[sample_next(&s, logits, &full, &r)]++;
    float probs[6];
    memcpy(probs, logits, sizeof probs);
    softmax(probs, 6);
    for (int i = 0; i < 6; i++) assert_true(fabs(counts[i] / 20000.0 - probs[i]) < 0.015);
    /* Top-p applies to the distribution renormalised after top-k: with
     * k = 2 the top token holds ~51% of the pair, so p 0.5 keeps it alone. */
    float flat[6] = {3, 3.04f, 0, 0, 0, 0};
    sampler_cfg kp = {1.0f, 2, 0.5f};
    for (int i = 0; i < 200; i++) assert_int_equal(sample_next(&s, flat, &kp, &r), 1);
    /* Non-finite logits never read outside the buffers (ASan) and fall back. */
    float bad[6] = {NAN, NAN, NAN, NAN, NAN, NAN}, inf[6] = {0, INFINITY, 0, 0, 0, 0};
    int got = sample_next(&s, bad, &kp, &r);
    assert_true(got >= 0 && got < 6);
    assert_int_equal(sample_next(&s, inf, &full, &r), 1);
    /* Same seed, same sequence. */
    rng_t a, b;
    rng_seed(&a, 99);
    rng_seed(&b, 99);
    for (int i = 0; i < 50; i++) assert_int_equal(sample_next(&s, logits, &full, &a), sample_next(&s, logits, &full, &b));
    sampler_free(&s);
}

static void test_kernels(void **st) {
    (void)st;
    /* linear() against a naive triple loop, for the sgemv and sgemm paths. */
    rng_t r;
    rng_seed(&r, 3);
    int T = 5, in = 37, out = 23;
    float x[5 * 37], w[23 * 37], b[23], y[5 * 23], ref[5 * 23], y1[23];
    for (int i = 0; i < T * in; i++) x[i] = rng_normal(&r);
    for (int i = 0; i < out * in; i++) w[i] = rng_normal(&r);
    for (int i = 0; i < out; i++) b[i] = rng_normal(&r);
    for (int t = 0; t < T; t++)
        for (int o = 0; o < out; o++) {
            double s = b[o];
            for (int i = 0; i < in; i++) s += (double)x[t * in + i] * w[o * in + i];
            ref[t * out + o] = (float)s;
        }
    linear(y, x, w, b, T, in, out);
    assert_true(max_rel_err(y, ref, (size_t)T * out, 1e-3) < 1e-5);
    linear(y1, x + 2 * in, w, b, 1, in, out);
    assert_true(max_rel_err(y1, ref + 2 * out, (size_t)out, 1e-3) < 1e-5);
    /* Norms: rmsnorm output has unit RMS with w = 1; layernorm zero mean. */
    float ones[37], zeros[37], yn[37];
    for (int i = 0; i < 37; i++) ones[i] = 1, zeros[i] = 0;
    rmsnorm(yn, x, ones, 1, in, 0);
    double ss = 0;
    for (int i = 0; i < in; i++) ss += yn[i] * yn[i];
    assert_true(fabs(ss / in - 1) < 1e-5);
    layernorm(yn, x, ones, zeros, 1, in, 0);
    double m = 0;
    for (int i = 0; i < in; i++) m += yn[i];
    assert_true(fabs(m / in) < 1e-6);
    assert_true(fabsf(gelu_tanh(1.0f) - 0.8411920f) < 1e-6f);
    /* The vectorised forms agree with libm-based ones over a wide range. */
    enum { N = 20001 };
    static float xs[N], g[N], up[N], yv[N];
    for (int i = 0; i < N; i++) xs[i] = -50.0f + 100.0f * i / (N - 1), up[i] = 1.5f;
    gelu_tanh_vec(yv, xs, N);
    for (int i = 0; i < N; i++) g[i] = gelu_tanh(xs[i]);
    assert_true(max_rel_err(yv, g, N, 0.1) < 2e-6);
    swiglu_vec(yv, xs, up, N);
    for (int i = 0; i < N; i++) g[i] = silu(xs[i]) * 1.5f;
    assert_true(max_rel_err(yv, g, N, 0.1) < 2e-6);
    assert_true(fabsf(silu(1.0f) - 0.7310586f) < 1e-6f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_exact_values), cmocka_unit_test(test_f16_roundtrip_all),
        cmocka_unit_test(test_bf16),             cmocka_unit_test(test_rng_reproducible),
        cmocka_unit_test(test_lz4_roundtrip),    cmocka_unit_test(test_atomic_write_and_lz4_file),
        cmocka_unit_test(test_sampler),          cmocka_unit_test(test_kernels),
        cmocka_unit_test(test_error_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
