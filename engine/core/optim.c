/* optim.c — AdamW, clipping and the learning-rate schedule. */
#include "optim.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>

void adamw_init(adamw_state *s, size_t n) {
    s->m = xcalloc(n, sizeof(float));
    s->v = xcalloc(n, sizeof(float));
    s->n = n;
    s->step = 0;
}

void adamw_free(adamw_state *s) {
    free(s->m);
    free(s->v);
    s->m = s->v = NULL;
}

void adamw_step(adamw_state *s, float *p, const float *g, const adamw_cfg *c, float lr,
                const adamw_range *ranges, int nranges) {
    s->step++;
    double bc1 = 1.0 - pow(c->beta1, (double)s->step), bc2 = 1.0 - pow(c->beta2, (double)s->step);
    float step_size = (float)(lr / bc1), sqrt_bc2 = (float)sqrt(bc2);
    float b1 = c->beta1, b2 = c->beta2, eps = c->eps;
    for (int r = 0; r < nranges; r++) {
        float decay = ranges[r].decay ? 1.0f - lr * c->weight_decay : 1.0f;
        size_t end = ranges[r].offset + ranges[r].size;
        for (size_t i = ranges[r].offset; i < end; i++) {
            float gi = g[i];
            float m = s->m[i] = b1 * s->m[i] + (1 - b1) * gi;
            float v = s->v[i] = b2 * s->v[i] + (1 - b2) * gi * gi;
            p[i] = p[i] * decay - step_size * m / (sqrtf(v) / sqrt_bc2 + eps);
        }
    }
}

double clip_grad_norm(float *g, size_t n, double max_norm) {
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)g[i] * g[i];
    double norm = sqrt(ss), coef = max_norm / (norm + 1e-6);
    if (coef < 1)
        for (size_t i = 0; i < n; i++) g[i] *= (float)coef;
    return norm;
}

float lr_cosine(long step, long total, long warmup, float lr, float warm_start, float final) {
    if (step < warmup) return lr * (warm_start + (1 - warm_start) * (float)step / (float)warmup);
    if (step >= total) return lr * final;
    double t = (double)(step - warmup) / (double)(total - warmup);
    return (float)(lr * (final + (1 - final) * 0.5 * (1 + cos(M_PI * t))));
}
