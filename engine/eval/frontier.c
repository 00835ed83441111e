/* frontier.c — Pareto set, staircase area and bootstrap intervals (see
 * frontier.h for the definitions). */
#include "frontier.h"
#include "rng.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>

static bool finite2(double a, double b) { return isfinite(a) && isfinite(b); }

int fr_pareto(const double *f, const double *c, int n, bool *on) {
    int count = 0;
    for (int i = 0; i < n; i++) {
        on[i] = finite2(f[i], c[i]);
        for (int j = 0; j < n && on[i]; j++)
            if (j != i && finite2(f[j], c[j]) && f[j] <= f[i] && c[j] >= c[i] && (f[j] < f[i] || c[j] > c[i]))
                on[i] = false;
        count += on[i];
    }
    return count;
}

/* S(x): the best concept among points at most x in fluency (0: none). */
static double stair(const double *f, const double *c, int n, double x) {
    double s = 0;
    for (int i = 0; i < n; i++)
        if (finite2(f[i], c[i]) && f[i] <= x && c[i] > s) s = c[i];
    return s;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double fr_area(const double *f, const double *c, int n, double f_lo, double f_hi) {
    if (!(f_hi > f_lo)) return 0;
    /* S is constant between consecutive breakpoints (the points' fluencies
     * inside the range), so the integral is a sum of rectangles. */
    double *x = xmalloc(sizeof(double) * (size_t)(n + 2));
    int m = 0;
    x[m++] = f_lo, x[m++] = f_hi;
    for (int i = 0; i < n; i++)
        if (isfinite(f[i]) && f[i] > f_lo && f[i] < f_hi) x[m++] = f[i];
    qsort(x, (size_t)m, sizeof *x, cmp_double);
    double area = 0;
    for (int k = 0; k + 1 < m; k++) area += (x[k + 1] - x[k]) * stair(f, c, n, x[k]);
    free(x);
    return area;
}

/* Quantile q of sorted v[n] (linear interpolation, "type 7"). */
static double quantile(const double *v, int n, double q) {
    double h = (n - 1) * q;
    int i = (int)floor(h);
    if (i >= n - 1) return v[n - 1];
    return v[i] + (h - i) * (v[i + 1] - v[i]);
}

void fr_bootstrap_mean(const double *x, int n, int B, uint64_t seed, double level, double *mean, double *lo,
                       double *hi) {
    double *v = xmalloc(sizeof(double) * (size_t)(n > 0 ? n : 1)), sum = 0;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) v[m++] = x[i], sum += x[i];
    *mean = *lo = *hi = m ? sum / m : NAN;
    if (m < 2 || B < 1) {
        free(v);
        return;
    }
    double *means = xmalloc(sizeof(double) * (size_t)B);
    rng_t r;
    rng_seed(&r, seed);
    for (int b = 0; b < B; b++) {
        double s = 0;
        for (int i = 0; i < m; i++) s += v[rng_below(&r, (uint64_t)m)];
        means[b] = s / m;
    }
    qsort(means, (size_t)B, sizeof *means, cmp_double);
    *lo = quantile(means, B, (1 - level) / 2);
    *hi = quantile(means, B, (1 + level) / 2);
    free(v), free(means);
}

static const char *const METHOD[FR_MAX_METHODS] = {"plain", "glp@0.3", "glp@0.5", "glp@0.7"};
static const float METHOD_U[FR_MAX_METHODS] = {0, 0.3f, 0.5f, 0.7f};

const char *frontier_method(int m, float *u) {
    if (u) *u = METHOD_U[m];
    return METHOD[m];
}

void frontier_free(frontier_result *r) {
    if (!r) return;
    for (int i = 0; i < r->n_blocks; i++) free(r->blocks[i].fl), free(r->blocks[i].co), free(r->blocks[i].pareto);
    free(r->blocks);
    free(r);
}
