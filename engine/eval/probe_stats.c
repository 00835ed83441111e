/* probe_stats.c — the statistics of 1-D probing: AUC by rank sum, stratified
 * folds, mean-difference ranking, cross-validated AUC, bootstrap intervals. */
#include "probe.h"
#include "frontier.h"
#include "rng.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    float v;
    int i;
} vi;

static int by_v(const void *a, const void *b) {
    const vi *x = a, *y = b;
    return x->v < y->v ? -1 : x->v > y->v ? 1 : x->i - y->i;
}

double probe_auc(const float *score, const uint8_t *y, int n) {
    vi *s = xmalloc(sizeof(vi) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) s[i] = (vi){score[i], i};
    qsort(s, (size_t)n, sizeof *s, by_v);
    double rank_sum = 0;
    long npos = 0;
    for (int a = 0; a < n;) { /* a tie group [a, b) shares the mean of its ranks a+1..b */
        int b = a + 1;
        while (b < n && s[b].v == s[a].v) b++;
        double rank = 0.5 * (a + 1 + b);
        for (int j = a; j < b; j++)
            if (y[s[j].i]) rank_sum += rank, npos++;
        a = b;
    }
    free(s);
    long nneg = n - npos;
    if (!npos || !nneg) return NAN;
    return (rank_sum - 0.5 * (double)npos * (double)(npos + 1)) / ((double)npos * (double)nneg);
}

void probe_folds(const uint8_t *y, int n, int k, uint64_t seed, int *fold) {
    rng_t r;
    rng_seed(&r, seed);
    int *idx = xmalloc(sizeof(int) * (size_t)(n ? n : 1));
    for (int cls = 0; cls < 2; cls++) {
        int m = 0;
        for (int i = 0; i < n; i++)
            if ((y[i] != 0) == cls) idx[m++] = i;
        for (int i = m - 1; i > 0; i--) {
            int j = (int)rng_below(&r, (uint64_t)i + 1), t = idx[i];
            idx[i] = idx[j], idx[j] = t;
        }
        for (int i = 0; i < m; i++) fold[idx[i]] = i % k;
    }
    free(idx);
}

void probe_mean_diff(const float *X, int n, int units, const uint8_t *y, const uint8_t *use, double *diff) {
    double *s1 = xcalloc((size_t)units, sizeof(double)), *s0 = xcalloc((size_t)units, sizeof(double));
    long n1 = 0, n0 = 0;
    for (int r = 0; r < n; r++) {
        if (use && !use[r]) continue;
        double *s = y[r] ? s1 : s0;
        y[r] ? n1++ : n0++;
        const float *x = X + (size_t)r * units;
        for (int j = 0; j < units; j++) s[j] += x[j];
    }
    for (int j = 0; j < units; j++) diff[j] = (n1 ? s1[j] / n1 : 0) - (n0 ? s0[j] / n0 : 0);
    free(s1), free(s0);
}

typedef struct {
    double a;
    int i;
} di;

static int by_abs_desc(const void *a, const void *b) {
    const di *x = a, *y = b;
    return x->a > y->a ? -1 : x->a < y->a ? 1 : x->i - y->i;
}

int probe_top_units(const double *diff, int units, int keep, int *idx) {
    di *s = xmalloc(sizeof(di) * (size_t)(units ? units : 1));
    for (int j = 0; j < units; j++) s[j] = (di){isfinite(diff[j]) ? fabs(diff[j]) : -1, j};
    qsort(s, (size_t)units, sizeof *s, by_abs_desc);
    int m = keep < units ? keep : units;
    for (int j = 0; j < m; j++) idx[j] = s[j].i;
    free(s);
    return m;
}

/* The AUC of sign·v equals 1 - AUC(v) for a negative sign (ties stay half). */
static double signed_auc(const float *v, const uint8_t *y, int n, double sign) {
    double a = probe_auc(v, y, n);
    return sign < 0 ? 1 - a : a;
}

double probe_cv_auc(const float *v, const uint8_t *y, const int *fold, int n, int k) {
    float *fv = xmalloc(sizeof(float) * (size_t)(n ? n : 1));
    uint8_t *fy = xmalloc((size_t)(n ? n : 1));
    double sum = 0;
    int used = 0;
    for (int f = 0; f < k; f++) {
        double s1 = 0, s0 = 0;
        long n1 = 0, n0 = 0;
        int m = 0;
        for (int i = 0; i < n; i++) {
            if (fold[i] == f) {
                fv[m] = v[i], fy[m++] = y[i];
                continue;
            }
            if (y[i]) s1 += v[i], n1++;
            else s0 += v[i], n0++;
        }
        double diff = (n1 ? s1 / n1 : 0) - (n0 ? s0 / n0 : 0);
        double a = signed_auc(fv, fy, m, diff < 0 ? -1 : 1);
        if (isfinite(a)) sum += a, used++;
    }
    free(fv), free(fy);
    return used ? sum / used : NAN;
}

void probe_bootstrap(const double *x, int n, int B, uint64_t seed, double *lo, double *hi) {
    double mean; /* the same percentile bootstrap as the steering frontier's */
    fr_bootstrap_mean(x, n, B, seed, 0.95, &mean, lo, hi);
}
