/* bench.h — throughput of the transformer on a model folder: prefill of P
 * pseudo-random tokens from an empty cache, then D single-token decode steps
 * (greedy), best of R repetitions. Same protocol as bench/torch_bench.py. */
#ifndef MS_BENCH_H
#define MS_BENCH_H

typedef struct {
    double prefill_tok_s, decode_tok_s;
} bench_result;

int bench_lm(const char *dir, int prefill, int decode, int reps, bench_result *r);

#endif
