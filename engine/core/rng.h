/* rng.h — seeded, reproducible random numbers (xoshiro256**, seeded by
 * splitmix64). The state is a plain struct so checkpoints can save it. */
#ifndef MS_RNG_H
#define MS_RNG_H

#include <stdint.h>

typedef struct { uint64_t s[4]; } rng_t;

void rng_seed(rng_t *r, uint64_t seed);
uint64_t rng_u64(rng_t *r);
/* Uniform in [0, 1) with 24 random bits (exactly representable in float). */
float rng_uniform(rng_t *r);
/* Uniform integer in [0, n). */
uint64_t rng_below(rng_t *r, uint64_t n);
/* Standard normal (Box-Muller, no cached second value so state is the whole story). */
float rng_normal(rng_t *r);

#endif
