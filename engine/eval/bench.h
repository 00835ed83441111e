/* bench.h — throughput of the transformer on a model folder: prefill of P
 * pseudo-random tokens from an empty cache, then D single-token decode steps
 * (greedy), best of R repetitions. Same protocol as bench/torch_bench.py. */
#ifndef MS_BENCH_H
#define MS_BENCH_H

#include <stdbool.h>

typedef struct {
    double prefill_tok_s, decode_tok_s;
    double load_s;          /* tf_load of the folder */
    double rss_mb, hwm_mb;  /* resident memory after the runs, and its peak */
    double token_bytes;     /* weight bytes one decode step reads (layers + head) */
    double read_gb_s;       /* bandwidth: the same weights streamed by the pool, best of reps */
} bench_result;

/* With bandwidth, also measures read_gb_s (streaming every weight matrix once
 * per repetition on the same threads as the products: the memory-bound limit
 * of decode is read_gb_s / token_bytes tokens per second). */
int bench_lm(const char *dir, int prefill, int decode, int reps, bool bandwidth, bench_result *r);

#endif
