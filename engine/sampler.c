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

int sample_next(sampler *s, const float *logits, const sampler_cfg *cfg, rng_t *rng) {
    int V = s->vocab;
    if (cfg->temperature <= 0) return argmax(logits, V);
    float mx = logits[argmax(logits, V)];
    double sum = 0;
    for (int i = 0; i < V; i++) sum += s->p[i] = expf((logits[i] - mx) / cfg->temperature);
    for (int i = 0; i < V; i++) s->p[i] = (float)(s->p[i] / sum);
    int n = 0;
    bool truncate = (cfg->top_k > 0 && cfg->top_k < V) || (cfg->top_p > 0 && cfg->top_p < 1);
    if (!truncate) {
        float u = rng_uniform(rng);
        double c = 0;
        for (int i = 0; i < V; i++)
            if ((c += s->p[i]) > u) return i;
        return V - 1;
    }
    /* Keep tokens that could be in the nucleus: with top-p alone a token with
     * p < (1 - top_p) / V can still be needed, so the cut-off is that bound. */
    float cut = cfg->top_p < 1 ? (1.0f - cfg->top_p) / (float)V : 0;
    for (int i = 0; i < V; i++)
        if (s->p[i] >= cut) s->idx[n++] = i;
    qsort_r(s->idx, (size_t)n, sizeof(int), by_prob_desc, s->p);
    if (cfg->top_k > 0 && cfg->top_k < n) n = cfg->top_k;
    double mass = 0;
    int keep = n;
    for (int i = 0; i < n; i++) {
        mass += s->p[s->idx[i]];
        if (cfg->top_p < 1 && mass >= cfg->top_p) {
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
