/* test_jsonnum.c — --json numbers: the shortest text that reads back as the
 * same value (as a float for values that are exactly floats, else as a
 * double), checked against strtod over fixed and random values. */
#include "testutil.h"

#include "cmd.h"

#include <stdint.h>

static void test_known(void **state) {
    char b[40];
    cmd_fmt_num(0.8f, b, sizeof b), assert_string_equal(b, "0.8");
    cmd_fmt_num(0.95f, b, sizeof b), assert_string_equal(b, "0.95");
    cmd_fmt_num(13.152413f, b, sizeof b), assert_string_equal(b, "13.152413");
    cmd_fmt_num(2.0, b, sizeof b), assert_string_equal(b, "2.0"); /* stays a JSON double */
    cmd_fmt_num(0.1, b, sizeof b), assert_string_equal(b, "0.1");
    cmd_fmt_num(1.0 / 3, b, sizeof b), assert_string_equal(b, "0.3333333333333333");
    cmd_fmt_num(-1e-30f, b, sizeof b), assert_string_equal(b, "-1e-30");
}

/* Random bit patterns: every float round-trips through float, every double
 * through double (shortness: the fixed cases above). */
static void test_round_trip(void **state) {
    uint64_t s = 0x9e3779b97f4a7c15u;
    char b[40];
    for (int i = 0; i < 20000; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        uint32_t u = (uint32_t)s;
        float f;
        memcpy(&f, &u, 4);
        double d;
        memcpy(&d, &s, 8);
        if (isfinite(f)) {
            cmd_fmt_num(f, b, sizeof b);
            assert_true((float)strtod(b, NULL) == f);
            assert_true(strlen(b) <= 15); /* at most 9 digits, sign, point, exponent */
        }
        if (isfinite(d) && (double)(float)d != d) {
            cmd_fmt_num(d, b, sizeof b);
            assert_true(strtod(b, NULL) == d);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_known), cmocka_unit_test(test_round_trip)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
