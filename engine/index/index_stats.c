/* index_stats.c — per-unit streaming statistics of an index build: counts,
 * an exact histogram, a min-heap of the top K positions and a reservoir
 * (Vitter's algorithm L, so skipped items cost one comparison) of positive
 * positions for the quantile examples. Each kept example carries its window
 * of values, copied when it is taken: the batch holds its whole segment then,
 * so no second pass over the corpus is needed. */
#include "index_stats.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ix_stats_init(ix_stats *s, int U, int K, int R, int before, int after, uint64_t seed) {
    memset(s, 0, sizeof *s);
    s->U = U, s->K = K, s->R = R, s->before = before, s->after = after, s->W = before + after + 1;
    size_t u = (size_t)U;
    s->n_pos = xcalloc(u, 8), s->seen = xcalloc(u, 8), s->next = xcalloc(u, 8);
    s->sum_pos = xcalloc(u, 8), s->res_w = xcalloc(u, 8);
    s->max = xmalloc(sizeof(float) * u);
    for (int i = 0; i < U; i++) s->max[i] = -INFINITY;
    s->hist = xcalloc(xmul(u, INDEX_HIST_BINS), 4);
    s->heap = xcalloc(xmul(u, (size_t)K), sizeof(ix_slot));
    s->heap_n = xcalloc(u, sizeof(int));
    s->res = xcalloc(xmul(u, (size_t)R), sizeof(ix_slot));
    s->heap_win = xcalloc(xmul(xmul(u, (size_t)K), (size_t)s->W), sizeof(float));
    s->res_win = xcalloc(xmul(xmul(u, (size_t)R), (size_t)s->W), sizeof(float));
    rng_seed(&s->rng, seed ^ 0x7265736572766f69ull);
}

void ix_stats_free(ix_stats *s) {
    free(s->n_pos), free(s->seen), free(s->next), free(s->sum_pos), free(s->res_w), free(s->max);
    free(s->hist), free(s->heap), free(s->heap_n), free(s->res), free(s->heap_win), free(s->res_win);
    memset(s, 0, sizeof *s);
}

int index_hist_bin(float v) {
    int e;
    frexpf(v, &e); /* v = m 2^e, m in [0.5, 1): floor(log2 v) = e - 1 */
    int b = e - 1 - INDEX_HIST_EMIN;
    return b < 0 ? 0 : b >= INDEX_HIST_BINS ? INDEX_HIST_BINS - 1 : b;
}

/* The unit's value at batch row r. */
static float value_at(const ix_values *x, int col, int r) {
    if (x->X) return x->X[(size_t)r * x->width + col];
    for (int j = 0; j < x->k; j++)
        if (x->idx[(size_t)r * x->k + j] == col) return x->val[(size_t)r * x->k + j] > 0 ? x->val[(size_t)r * x->k + j] : 0;
    return 0;
}

/* Fills slot and window for the example at w (window clipped to its segment). */
static void take_example(const ix_stats *s, ix_slot *sl, float *win, float v, int col, const ix_where *w,
                         const ix_values *x) {
    int w0 = w->pos - s->before < 0 ? 0 : w->pos - s->before;
    int w1 = w->pos + s->after + 1 > w->seg_len ? w->seg_len : w->pos + s->after + 1;
    sl->v = v, sl->seg = w->seg, sl->pos = w->pos, sl->w0 = w0, sl->n = w1 - w0;
    for (int p = w0; p < w1; p++) win[p - w0] = value_at(x, col, w->seg_row0 + p);
}

static void heap_down(ix_slot *h, int n, int i) {
    for (;;) {
        int m = i, l = 2 * i + 1, r = l + 1;
        if (l < n && h[l].v < h[m].v) m = l;
        if (r < n && h[r].v < h[m].v) m = r;
        if (m == i) return;
        ix_slot t = h[i];
        h[i] = h[m], h[m] = t, i = m;
    }
}

static void heap_up(ix_slot *h, int i) {
    while (i > 0 && h[(i - 1) / 2].v > h[i].v) {
        ix_slot t = h[i];
        h[i] = h[(i - 1) / 2], h[(i - 1) / 2] = t, i = (i - 1) / 2;
    }
}

static void offer_top(ix_stats *s, int u, int col, float v, const ix_where *w, const ix_values *x) {
    ix_slot *h = s->heap + (size_t)u * s->K;
    int *n = &s->heap_n[u], at, win;
    if (*n < s->K) at = (*n)++, win = at;
    else if (v > h[0].v) at = 0, win = h[0].win; /* ties keep the earlier example */
    else return;
    take_example(s, &h[at], s->heap_win + ((size_t)u * s->K + (size_t)win) * s->W, v, col, w, x);
    h[at].win = win;
    if (at) heap_up(h, at);
    else heap_down(h, *n, 0);
}

/* A uniform in (0, 1), never 0 (it goes into a log). */
static double open_uniform(rng_t *r) { return ((double)(rng_u64(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

/* Algorithm L: items to pass over before the next replacement. */
static uint64_t next_gap(rng_t *r, double W) {
    double g = floor(log(open_uniform(r)) / log1p(-W)) + 1;
    return g > 1e18 ? (uint64_t)1e18 : (uint64_t)g;
}

static void offer_reservoir(ix_stats *s, int u, int col, float v, const ix_where *w, const ix_values *x) {
    uint64_t seen = ++s->seen[u];
    int R = s->R, slot;
    if (seen <= (uint64_t)R) slot = (int)seen - 1;
    else if (seen == s->next[u]) {
        slot = (int)rng_below(&s->rng, (uint64_t)R);
        s->res_w[u] *= exp(log(open_uniform(&s->rng)) / R);
        s->next[u] = seen + next_gap(&s->rng, s->res_w[u]);
    } else return;
    ix_slot *sl = s->res + (size_t)u * R + slot;
    take_example(s, sl, s->res_win + ((size_t)u * R + (size_t)slot) * s->W, v, col, w, x);
    sl->win = slot;
    if (seen == (uint64_t)R) {
        s->res_w[u] = exp(log(open_uniform(&s->rng)) / R);
        s->next[u] = seen + next_gap(&s->rng, s->res_w[u]);
    }
}

void ix_stats_offer(ix_stats *s, int u, int col, float v, const ix_where *w, const ix_values *x) {
    if (v > s->max[u]) s->max[u] = v;
    if (v > 0) {
        s->n_pos[u]++;
        s->sum_pos[u] += v;
        s->hist[(size_t)u * INDEX_HIST_BINS + index_hist_bin(v)]++;
        if (s->R) offer_reservoir(s, u, col, v, w, x);
    }
    offer_top(s, u, col, v, w, x);
}

/* ------------------------------------------------------------ records */

static int by_value_desc(const void *a, const void *b) {
    const ix_slot *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? 1 : -1;
    return x->seg != y->seg ? (x->seg > y->seg) - (x->seg < y->seg) : (x->pos > y->pos) - (x->pos < y->pos);
}

static void to_example(ix_example *e, const ix_slot *sl, const float *win, int band) {
    *e = (ix_example){sl->seg, sl->pos, sl->v, band, sl->w0, sl->n, xmalloc(sizeof(float) * (size_t)sl->n)};
    memcpy(e->vals, win, sizeof(float) * (size_t)sl->n);
}

/* per_band examples spread evenly over each of `bands` quantile bands of the
 * reservoir (sorted ascending); band 1 is the lowest. */
static int quantile_examples(const ix_stats *s, int u, int bands, int per_band, ix_example *out) {
    int m = s->seen[u] < (uint64_t)s->R ? (int)s->seen[u] : s->R, n = 0;
    if (!m || !bands) return 0;
    ix_slot *r = xmalloc(sizeof(ix_slot) * (size_t)m);
    memcpy(r, s->res + (size_t)u * s->R, sizeof(ix_slot) * (size_t)m);
    qsort(r, (size_t)m, sizeof *r, by_value_desc);
    for (int b = 0; b < bands; b++) {
        /* band b+1 spans ascending ranks [lo, hi) = descending [m-hi, m-lo) */
        int lo = b * m / bands, hi = (b + 1) * m / bands, take = hi - lo < per_band ? hi - lo : per_band;
        for (int j = 0; j < take; j++) {
            int rank = lo + (int)((j + 0.5) * (hi - lo) / take);
            const ix_slot *sl = &r[m - 1 - rank];
            to_example(&out[n++], sl, s->res_win + ((size_t)u * s->R + (size_t)sl->win) * s->W, b + 1);
        }
    }
    free(r);
    return n;
}

void ix_stats_record(const ix_stats *s, int u, int bands, int per_band, ix_record *rec) {
    memset(rec, 0, sizeof *rec);
    rec->unit = u;
    rec->n_pos = s->n_pos[u];
    rec->max = isfinite(s->max[u]) ? s->max[u] : 0;
    rec->mean_pos = s->n_pos[u] ? (float)(s->sum_pos[u] / (double)s->n_pos[u]) : 0;
    memcpy(rec->hist, s->hist + (size_t)u * INDEX_HIST_BINS, sizeof rec->hist);
    int n = s->heap_n[u];
    ix_slot *h = xmalloc(sizeof(ix_slot) * ((size_t)n + 1));
    memcpy(h, s->heap + (size_t)u * s->K, sizeof(ix_slot) * (size_t)n);
    qsort(h, (size_t)n, sizeof *h, by_value_desc);
    rec->ex = xcalloc((size_t)n + (size_t)bands * per_band + 1, sizeof(ix_example));
    for (int i = 0; i < n; i++) to_example(&rec->ex[i], &h[i], s->heap_win + ((size_t)u * s->K + (size_t)h[i].win) * s->W, 0);
    rec->n_top = n;
    rec->n_quant = quantile_examples(s, u, bands, per_band, rec->ex + n);
    free(h);
}
