/* bench_sae.h — throughput of the TopK SAE on random weights (seeded
 * sae_init_random: unit-norm decoder rows, tied encoder), same protocol as
 * bench/torch_sae_bench.py, on one batch of random normal rows:
 *   encode: sae_encode (pre-activations sgemm, TopK, ReLU) in chunks of
 *           chunk rows, as the index builder calls it;
 *   decode: sae_decode_sparse of those codes (b_dec + the k active rows);
 * each the best of reps after a warm-up. */
#ifndef MS_BENCH_SAE_H
#define MS_BENCH_SAE_H

#include <stdint.h>

typedef struct {
    int d_in, n_latents, k; /* 0: 256, 4096, 32 */
    int rows, chunk, reps;  /* 0: 4096, 1024, 3 */
    uint64_t seed;
} bench_sae_opts;

typedef struct {
    double encode_rows_s, decode_rows_s;
    double fvu; /* of the reconstruction (sanity: the same on the PyTorch side) */
} bench_sae_result;

int bench_sae(const bench_sae_opts *o, bench_sae_result *r);

#endif
