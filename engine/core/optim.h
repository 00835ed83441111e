/* optim.h — AdamW with decoupled weight decay (as torch.optim.AdamW), global
 * gradient-norm clipping (as torch.nn.utils.clip_grad_norm_), and the cosine
 * learning-rate schedule with linear warmup. */
#ifndef MS_OPTIM_H
#define MS_OPTIM_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    float beta1, beta2, eps, weight_decay;
} adamw_cfg;

typedef struct {
    float *m, *v; /* first and second moments, n each */
    size_t n;
    long step;    /* completed steps */
} adamw_state;

void adamw_init(adamw_state *s, size_t n);
void adamw_free(adamw_state *s);
/* One step over the whole buffer: s->step is incremented first (bias
 * correction uses it), then each element of p[off, off+size) for each range is
 * updated; decay says whether that range gets weight decay. */
typedef struct {
    size_t offset, size;
    bool decay;
} adamw_range;
void adamw_step(adamw_state *s, float *p, const float *g, const adamw_cfg *c, float lr,
                const adamw_range *ranges, int nranges);
/* Scales g so its L2 norm is at most max_norm; returns the norm before. */
double clip_grad_norm(float *g, size_t n, double max_norm);
/* Linear warmup from warm_start*lr to lr over `warmup` steps, then cosine decay
 * to final*lr at step `total`. */
float lr_cosine(long step, long total, long warmup, float lr, float warm_start, float final);

#endif
