/* bench_glp.c — GLP train step, one-token projection and sampling timings
 * for `metascope bench --glp` (see bench_glp.h). */
#include "bench_glp.h"
#include "glp.h"
#include "glp_ode.h"
#include "glp_train.h"
#include "optim.h"
#include "rng.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int or_default(int v, int d) { return v > 0 ? v : d; }

static void fill_normal(float *x, size_t n, rng_t *r) {
    for (size_t i = 0; i < n; i++) x[i] = rng_normal(r);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* AdamW ranges as engine/glp_train.c builds them (decay on weight matrices). */
static adamw_range *make_ranges(const glp_config *c, int *n) {
    *n = glp_tensors(c, NULL, 0);
    glp_tensor *t = xmalloc(sizeof(glp_tensor) * (size_t)*n);
    glp_tensors(c, t, *n);
    adamw_range *ra = xmalloc(sizeof(adamw_range) * (size_t)*n);
    for (int i = 0; i < *n; i++) ra[i] = (adamw_range){t[i].offset, t[i].size, t[i].decay};
    free(t);
    return ra;
}

/* Warm-up step, then the best of reps steps. The batch is drawn once, outside
 * the timing, as the PyTorch side does: only the step itself is measured. */
static int bench_train(glp_model *m, int B, int reps, rng_t *rng, bench_glp_result *r) {
    int di = m->c.d_input, nr;
    size_t n = (size_t)B * di;
    float *x = xmalloc(sizeof(float) * n), *eps = xmalloc(sizeof(float) * n), *u = xmalloc(sizeof(float) * B);
    fill_normal(x, n, rng);
    fill_normal(eps, n, rng);
    for (int i = 0; i < B; i++) u[i] = rng_uniform(rng);
    glp_work *w = glp_work_new(&m->c, B);
    adamw_range *ra = make_ranges(&m->c, &nr);
    adamw_state st;
    adamw_init(&st, m->n_params);
    glp_train_cfg tc;
    glp_train_defaults(&tc); /* the trainer's AdamW and clip settings */
    adamw_cfg ac = {tc.beta1, tc.beta2, tc.eps, tc.weight_decay};
    double best = INFINITY;
    int rc = 0;
    for (int i = 0; i <= reps && !rc; i++) {
        double t0 = ms_now();
        glp_zero_grad(m);
        double loss = glp_fm_loss(m, w, x, eps, u, B, -1, true);
        clip_grad_norm(m->grad, m->n_params, tc.clip);
        adamw_step(&st, m->flat, m->grad, &ac, tc.lr, ra, nr);
        double dt = ms_now() - t0;
        if (isnan(loss)) rc = -1;
        if (i && dt < best) best = dt;
        r->loss = loss;
    }
    r->train_step_s = best;
    r->train_acts_s = B / best;
    adamw_free(&st);
    free(ra), free(x), free(eps), free(u);
    glp_work_free(w);
    return rc;
}

/* One row through glp_project, calls times (plus one warm-up), on a one-row
 * workspace as a steering call would use. */
static int bench_project(const glp_model *m, int calls, rng_t *rng, bench_glp_result *r) {
    int di = m->c.d_input;
    float *h0 = xmalloc(sizeof(float) * di), *h = xmalloc(sizeof(float) * di);
    double *t = xmalloc(sizeof(double) * (size_t)calls);
    fill_normal(h0, (size_t)di, rng);
    glp_work *w = glp_work_new(&m->c, 1);
    glp_work_cache(w, true); /* fixed weights, as in a steering session */
    int rc = 0;
    for (int i = -1; i < calls && !rc; i++) {
        memcpy(h, h0, sizeof(float) * di);
        double t0 = ms_now();
        rc = glp_project(m, w, h, 1, 0.5f, 20, -1, NULL, rng);
        if (i >= 0) t[i] = (ms_now() - t0) * 1e3;
    }
    qsort(t, (size_t)calls, sizeof(double), cmp_double);
    r->project_ms = t[calls / 2];
    r->project_best_ms = t[0];
    free(h0), free(h), free(t);
    glp_work_free(w);
    return rc;
}

/* Best of reps samplings of N rows (after a warm-up), rows/s. */
static int bench_sample(const glp_model *m, int N, int steps, int reps, rng_t *rng, bench_glp_result *r) {
    size_t n = (size_t)N * m->c.d_input;
    float *z = xmalloc(sizeof(float) * n), *x = xmalloc(sizeof(float) * n);
    fill_normal(z, n, rng);
    glp_work *w = glp_work_new(&m->c, N);
    glp_work_cache(w, true);
    double best = INFINITY;
    int rc = 0;
    for (int i = 0; i <= reps && !rc; i++) {
        memcpy(x, z, sizeof(float) * n);
        double t0 = ms_now();
        rc = glp_sample(m, w, x, N, steps, -1);
        double dt = ms_now() - t0;
        if (i && dt < best) best = dt;
    }
    r->sample_rows_s = N / best;
    free(z), free(x);
    glp_work_free(w);
    return rc;
}

int bench_glp(const bench_glp_opts *o, bench_glp_result *r) {
    glp_config c = {or_default(o->d_input, 256), or_default(o->d_model, 512), or_default(o->d_mlp, 1024),
                    or_default(o->n_layers, 3), 0};
    int reps = or_default(o->reps, 3);
    memset(r, 0, sizeof *r);
    glp_model m;
    if (glp_init(&m, &c)) return -1;
    rng_t rng;
    rng_seed(&rng, o->seed ? o->seed : 42);
    glp_init_random(&m, &rng);
    /* projection and sampling first, on the initial weights (training moves them) */
    int rc = bench_project(&m, or_default(o->project_calls, 200), &rng, r);
    if (!rc) rc = bench_sample(&m, or_default(o->sample_rows, 1024), or_default(o->sample_steps, 20), reps, &rng, r);
    if (!rc) rc = bench_train(&m, or_default(o->batch, 4096), reps, &rng, r);
    glp_free(&m);
    return rc;
}
