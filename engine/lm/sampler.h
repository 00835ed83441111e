/* sampler.h — next-token choice from logits: greedy, temperature, top-k, top-p. */
#ifndef MS_SAMPLER_H
#define MS_SAMPLER_H

#include "rng.h"

typedef struct {
    float temperature; /* 0 = greedy */
    int top_k;         /* 0 = off */
    float top_p;       /* 1 = off */
} sampler_cfg;

typedef struct {
    int *idx;   /* scratch [vocab] */
    float *p;   /* scratch [vocab] */
    int vocab;
} sampler;

void sampler_init(sampler *s, int vocab);
void sampler_free(sampler *s);
int argmax(const float *x, int n);
/* Temperature softmax, then top-k, then top-p on the distribution
 * renormalised after top-k (as Hugging Face does), then one draw. Non-finite
 * logits fall back to the argmax. logits are not modified. */
int sample_next(sampler *s, const float *logits, const sampler_cfg *cfg, rng_t *rng);

#endif
