/* refcheck.h — comparing a result with a tensor of a reference fixture
 * (safetensors written by tools/gen_*_fixture.py): the largest absolute
 * difference over the largest reference magnitude. Needs gradcheck.h's vec. */
#ifndef MS_REFCHECK_H
#define MS_REFCHECK_H

#include "safetensors.h"

static inline double inf_err(const float *a, const float *b, size_t n) {
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        d = e > d || e != e ? e : d;
        s = fmax(s, fabs((double)b[i]));
    }
    return s > 0 ? d / s : d;
}

/* The reference tensor `name` as f32 (malloc'd); *n gets its size. */
static inline float *ref_get(st_file *f, const char *name, size_t *n) {
    const st_tensor *t = st_find(f, name);
    assert_non_null(t);
    float *v = vec(t->numel);
    assert_int_equal(st_to_f32(f, t, v, t->numel), 0);
    if (n) *n = t->numel;
    return v;
}

/* Prints and returns got's error against reference tensor `name` of size n. */
static inline double check(const char *what, const float *got, st_file *f, const char *name, size_t n) {
    size_t rn;
    float *ref = ref_get(f, name, &rn);
    assert_int_equal(rn, n);
    double e = inf_err(got, ref, n);
    printf("# %-40s ||d||inf/||ref||inf %.2e\n", what, e);
    free(ref);
    return e;
}

#endif
