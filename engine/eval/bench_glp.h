/* bench_glp.h — throughput of the GLP denoiser on random weights (seeded
 * glp_init_random), same protocol as bench/torch_glp_bench.py:
 *   train:   one flow-matching step (loss + gradient, clip 1.0, AdamW) on a
 *            batch of random normalized rows; best of reps after a warm-up;
 *   project: glp_project of one row (u 0.5, 20 steps: 10 evaluations), the
 *            median and best of project_calls calls after a warm-up;
 *   sample:  glp_sample of sample_rows rows in sample_steps Euler steps,
 *            best of reps. */
#ifndef MS_BENCH_GLP_H
#define MS_BENCH_GLP_H

#include <stdint.h>

typedef struct {
    int d_input, d_model, d_mlp, n_layers; /* 0: 256, 512, 1024, 3 */
    int batch, reps;                      /* 0: 4096, 3 */
    int project_calls;                    /* 0: 200 */
    int sample_rows, sample_steps;        /* 0: 1024, 20 */
    uint64_t seed;
} bench_glp_opts;

typedef struct {
    double train_acts_s, train_step_s, loss; /* loss of the last step (sanity) */
    double project_ms, project_best_ms;      /* median, best */
    double sample_rows_s;
} bench_glp_result;

int bench_glp(const bench_glp_opts *o, bench_glp_result *r);

#endif
