/* gradcheck.h — central finite differences for the backward-pass tests
 * (test_train_grad.c, test_glp.c). Include after testutil.h. */
#ifndef MS_GRADCHECK_H
#define MS_GRADCHECK_H

#include <stdbool.h>

#include "rng.h"

typedef double (*loss_fn)(void *ctx);

static inline void fill(float *p, size_t n, float scale, rng_t *r) {
    for (size_t i = 0; i < n; i++) p[i] = scale * rng_normal(r);
}

static inline double dot_d(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static inline float *vec(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

/* Central differences of f at `samples` random entries of p (all when
 * samples <= 0 or >= n) against the analytic gradient g; returns the worst
 * |analytic - fd| / (|fd| + floor) and prints it. */
static inline double fd_check(const char *name, float *p, const float *g, size_t n, int samples, float eps,
                              double floor, loss_fn f, void *ctx, rng_t *r) {
    double worst = 0;
    size_t worst_i = 0;
    float worst_a = 0, worst_fd = 0;
    bool all = samples <= 0 || (size_t)samples >= n;
    int count = all ? (int)n : samples;
    for (int k = 0; k < count; k++) {
        size_t i = all ? (size_t)k : (size_t)rng_below(r, n);
        float p0 = p[i], hi = p0 + eps, lo = p0 - eps;
        p[i] = hi;
        double fp = f(ctx);
        p[i] = lo;
        double fm = f(ctx);
        p[i] = p0;
        double fd = (fp - fm) / ((double)hi - lo);
        double e = fabs(g[i] - fd) / (fabs(fd) + floor);
        if (e > worst || e != e) worst = e != e ? INFINITY : e, worst_i = i, worst_a = g[i], worst_fd = (float)fd;
    }
    printf("# %-34s worst err %.2e (entry %zu: analytic %.6g, fd %.6g; %d entries)\n", name, worst, worst_i,
           worst_a, worst_fd, count);
    return worst;
}

#endif
