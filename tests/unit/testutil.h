/* testutil.h — shared includes for the cmocka unit tests. Tests run from the
 * repository root, so fixtures are at tests/fixtures/. */
#ifndef MS_TESTUTIL_H
#define MS_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIXTURES "tests/fixtures"

/* Largest |a-b| / max(|b|, floor) over n floats. */
static inline double max_rel_err(const float *a, const float *b, size_t n, double floor) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double s = fabs((double)b[i]);
        double r = d / (s > floor ? s : floor);
        if (r > worst || r != r) worst = r != r ? INFINITY : r;
    }
    return worst;
}

#endif
