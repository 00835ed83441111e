/* sampler.c — temperature softmax, then top-k / top-p truncation of the sorted
 * distribution, then one draw. Only the candidates that can survive top-k are
 * sorted, so the cost stays near O(vocab). */
#include "sampler.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>

void sampler_init(sampler *s, int vocab) {
    s->vocab = vocab;
    s->idx = xmalloc(sizeof(int) * (size_t)vocab);
    s->p = xmalloc(sizeof(float) * (size_t)vocab);
}

void sampler_free(sampler *s) {
    free(s->idx);
    free(s->p);
    s->idx = NULL;
    s->p = NULL;
}

int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

static int by_prob_desc(const void *a, const void *b, void *ctx) {
    const float *p = ctx;
    float x = p[*(const int *)a], y = p[*(const int *)b];
    if (x != y) return x < y ? 1 : -1;
    return *(const int *)a - *(const int *)b; /* stable: lower id first */
}

/* The k most probable ids, sorted by probability (ties: lower id first), by
 * one pass with a small insertion-sorted buffer: O(V k), k small. */
static int top_k_sorted(const float *p, int V, int k, int *idx) {
    int m = 0;
    for (int i = 0; i < V; i++) {
        if (m == k && p[i] <= p[idx[k - 1]]) continue;
        int j = m < k ? m++ : k - 1;
        while (j > 0 && p[i] > p[idx[j - 1]]) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
    return m;
}

int sample_next(sampler *s, const float *logits, const sampler_cfg *cfg, rng_t *rng) {
    int V = s->vocab;
    int best = argmax(logits, V);
    float mx = logits[best];
    if (cfg->temperature <= 0 || !isfinite(mx)) return best; /* greedy, or nothing to sample from */
    double sum = 0;
    for (int i = 0; i < V; i++) sum += s->p[i] = expf((logits[i] - mx) / cfg->temperature);
    if (!(sum > 0) || !isfinite(sum)) return best; /* NaN logits: fall back to the argmax */
    for (int i = 0; i < V; i++) s->p[i] = (float)(s->p[i] / sum);
    bool top_k = cfg->top_k > 0 && cfg->top_k < V, top_p = cfg->top_p > 0 && cfg->top_p < 1;
    if (!top_k && !top_p) {
        float u = rng_uniform(rng);
        double c = 0;
        for (int i = 0; i < V; i++)
            if ((c += s->p[i]) > u) return i;
        return best;
    }
    int n = 0;
    if (top_k) n = top_k_sorted(s->p, V, cfg->top_k, s->idx);
    else {
        /* Top-p alone: a token with p < (1 - top_p) / V can never be needed
         * (all of them together weigh less than 1 - top_p), so only the rest
         * is sorted. */
        float cut = (1.0f - cfg->top_p) / (float)V;
        for (int i = 0; i < V; i++)
            if (s->p[i] >= cut) s->idx[n++] = i;
        qsort_r(s->idx, (size_t)n, sizeof(int), by_prob_desc, s->p);
    }
    /* Top-p over the distribution renormalised after top-k, as HF does. */
    double mass = 0, kept = 0;
    for (int i = 0; i < n; i++) mass += s->p[s->idx[i]];
    int keep = n;
    for (int i = 0; i < n && top_p; i++) {
        kept += s->p[s->idx[i]];
        if (kept >= cfg->top_p * mass) {
            keep = i + 1;
            break;
        }
    }
    double total = 0;
    for (int i = 0; i < keep; i++) total += s->p[s->idx[i]];
    double u = rng_uniform(rng) * total, c = 0;
    for (int i = 0; i < keep; i++)
        if ((c += s->p[s->idx[i]]) > u) return s->idx[i];
    return s->idx[keep - 1];
}
