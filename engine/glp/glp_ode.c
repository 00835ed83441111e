/* glp_ode.c — Euler, Heun, midpoint and DPM-Solver++(2M) over a sigma
 * schedule, and the sampler and SDEdit projection built on them. Euler is
 * the published reference: its schedule and arithmetic are those of the
 * original sampler, bit for bit. Rows are solved a workspace-sized chunk at a
 * time (every step of a chunk, then the next chunk). */
#include "glp_ode.h"
#include "ops.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *NAMES[GLP_N_SOLVERS] = {"euler", "heun", "midpoint", "dpm2m"};

const char *glp_solver_name(glp_solver s) { return s >= 0 && s < GLP_N_SOLVERS ? NAMES[s] : "?"; }

int glp_solver_parse(const char *name, glp_solver *s, const char *where) {
    for (int i = 0; i < GLP_N_SOLVERS; i++)
        if (!strcmp(name, NAMES[i])) {
            *s = (glp_solver)i;
            return 0;
        }
    return ms_seterr("unknown sampler '%s'; use euler, heun, midpoint or dpm2m (%s)", name, where);
}

static bool two_evals(glp_solver s) { return s == GLP_HEUN || s == GLP_MIDPOINT; }

int glp_solver_evals(glp_solver s, int k) { return k < 1 ? 0 : two_evals(s) ? 2 * k - 1 : k; }

int glp_solver_steps(glp_solver s, int evals) {
    int k = two_evals(s) ? (evals + 1) / 2 : evals;
    return k < 1 ? 1 : k;
}

void glp_ode_schedule(float *sig, int n, int start, int k) {
    for (int j = 0; j < k; j++) {
        /* a fractional grid index; exactly start + j when k = n - start */
        double t = k == 1 ? start : start + (double)j * (n - 1 - start) / (k - 1);
        sig[j] = n == 1 ? 1.0f : (float)(1.0 + (0.001 - 1.0) * t / (n - 1)); /* as glp_grid */
    }
    sig[k] = 0;
}

static bool is_reference(float rho) { return !(rho > 0) || rho == 1.0f; }

void glp_ode_schedule_rho(float *sig, int n, int start, int k, float rho) {
    glp_ode_schedule(sig, n, start, k);
    if (is_reference(rho) || k < 2) return; /* one step: from sigma_start, the same either way */
    double a = pow(sig[0], 1.0 / rho), b = pow(0.001, 1.0 / rho);
    for (int j = 0; j < k; j++) sig[j] = (float)pow(a + (b - a) * j / (k - 1), rho);
}

int glp_rho_parse(const char *text, float *rho, const char *where) {
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || !(v >= GLP_RHO_MIN && v <= GLP_RHO_MAX))
        return ms_seterr("rho takes a number from %g to %g (1: evenly spaced, the reference), not '%s' (%s)",
                         GLP_RHO_MIN, GLP_RHO_MAX, text, where);
    *rho = (float)v;
    return 0;
}

void glp_sample_defaults(glp_ode *o, bool have_solver, bool have_rho, bool reference) {
    if (!have_solver) o->solver = reference ? GLP_EULER : GLP_SAMPLE_SOLVER;
    if (!have_rho) o->rho = reference ? 1 : GLP_SAMPLE_RHO;
    if (o->evals <= 0) o->evals = GLP_SAMPLE_EVALS;
}

/* ---------------------------------------------------------------- solvers */

/* glp_forward of no rows checks only the layer index. */
static int check_layer(const glp_model *m, int layer) { return glp_forward(m, NULL, NULL, NULL, NULL, 0, layer, NULL); }

typedef struct {
    const glp_model *m;
    glp_work *w;
    int c, di, layer;
    float *tau, *v1, *v2, *xp, *x0p; /* c rows each (tau: c) */
} ode_ctx;

static void velocity(ode_ctx *o, float *out, const float *x, float s) {
    for (int r = 0; r < o->c; r++) o->tau[r] = 1000.0f * s;
    glp_forward(o->m, o->w, out, x, o->tau, o->c, o->layer, NULL);
}

static void euler_step(ode_ctx *o, float *x, float s0, float s1) {
    velocity(o, o->v1, x, s0);
    axpy(x, s1 - s0, o->v1, o->c * o->di);
}

/* Heun (trapezoid) or midpoint; the step to sigma = 0 stays Euler, where the
 * denoiser was never trained (its grid ends at 0.001). */
static void two_stage_step(ode_ctx *o, float *x, float s0, float s1, bool heun) {
    if (s1 == 0) {
        euler_step(o, x, s0, s1);
        return;
    }
    size_t n = (size_t)o->c * o->di;
    float h = s1 - s0, s2 = heun ? s1 : s0 + 0.5f * h;
    velocity(o, o->v1, x, s0);
    memcpy(o->xp, x, sizeof(float) * n);
    axpy(o->xp, s2 - s0, o->v1, (int)n);
    velocity(o, o->v2, o->xp, s2);
    if (heun)
        for (size_t i = 0; i < n; i++) x[i] += 0.5f * h * (o->v1[i] + o->v2[i]);
    else axpy(x, h, o->v2, (int)n);
}

static double lambda(double s) { return log((1 - s) / s); } /* log SNR / 2: alpha = 1 - s */

/* DPM-Solver++(2M) step j of sig: x_t = (s1/s0) x + (a1 - a0 s1/s0) D with
 * a = 1 - s (the exact solution for a constant x0 = D), D = x0 or its
 * extrapolation (1 + 1/2r) x0 - (1/2r) x0_prev, r = h_prev / h, h = lambda
 * step. First order when there is no finite previous step, and to 0. */
static void dpm2m_step(ode_ctx *o, float *x, const float *sig, int j) {
    size_t n = (size_t)o->c * o->di;
    double s0 = sig[j], s1 = sig[j + 1];
    velocity(o, o->v1, x, (float)s0);
    float *x0 = o->v2;
    for (size_t i = 0; i < n; i++) x0[i] = x[i] - (float)s0 * o->v1[i];
    if (s1 == 0) memcpy(x, x0, sizeof(float) * n);
    else {
        double a = s1 / s0, b = (1 - s1) - (1 - s0) * s1 / s0, c = 0;
        if (j > 0 && sig[j - 1] < 1) {
            double r = (lambda(s0) - lambda(sig[j - 1])) / (lambda(s1) - lambda(s0));
            c = 1 / (2 * r);
        }
        for (size_t i = 0; i < n; i++) {
            double D = (1 + c) * x0[i] - c * o->x0p[i];
            x[i] = (float)(a * x[i] + b * D);
        }
    }
    memcpy(o->x0p, x0, sizeof(float) * n);
}

int glp_ode_solve(const glp_model *m, glp_work *w, float *x, int N, glp_solver s, const float *sig, int k,
                  int layer) {
    if (s < 0 || s >= GLP_N_SOLVERS) return ms_seterr("unknown sampler %d (glp)", (int)s);
    if (check_layer(m, layer)) return -1;
    int di = m->c.d_input, cap = glp_work_cap(w);
    ode_ctx o = {.m = m, .w = w, .di = di, .layer = layer};
    size_t nb = (size_t)cap * di;
    o.tau = xmalloc(sizeof(float) * (size_t)cap);
    o.v1 = xmalloc(sizeof(float) * nb), o.v2 = xmalloc(sizeof(float) * nb);
    o.xp = xmalloc(sizeof(float) * nb), o.x0p = xmalloc(sizeof(float) * nb);
    for (int r0 = 0; r0 < N; r0 += cap) {
        o.c = N - r0 < cap ? N - r0 : cap;
        float *xr = x + (size_t)r0 * di;
        for (int j = 0; j < k; j++) {
            if (s == GLP_EULER) euler_step(&o, xr, sig[j], sig[j + 1]);
            else if (s == GLP_DPM2M) dpm2m_step(&o, xr, sig, j);
            else two_stage_step(&o, xr, sig[j], sig[j + 1], s == GLP_HEUN);
        }
    }
    free(o.tau), free(o.v1), free(o.v2), free(o.xp), free(o.x0p);
    return 0;
}

/* ---------------------------------------------------------------- sampler, projection */

static glp_ode or_euler(const glp_ode *o) { return o ? *o : (glp_ode){GLP_EULER, 0, 1}; }

int glp_sample_evals(int n, const glp_ode *o) {
    glp_ode e = or_euler(o);
    return glp_solver_evals(e.solver, glp_solver_steps(e.solver, e.evals > 0 ? e.evals : n));
}

int glp_sample_ode(const glp_model *m, glp_work *w, float *x, int N, int n, const glp_ode *o, int layer) {
    if (check_layer(m, layer)) return -1;
    if (n < 1) return ms_seterr("sampler needs at least one step, got %d (glp)", n);
    glp_ode e = or_euler(o);
    int k = glp_solver_steps(e.solver, e.evals > 0 ? e.evals : n);
    float *sig = xmalloc(sizeof(float) * (size_t)(k + 1));
    glp_ode_schedule_rho(sig, k, 0, k, e.rho); /* linspace(1, 0.001, k) at rho 1, then 0 */
    int rc = glp_ode_solve(m, w, x, N, e.solver, sig, k, layer);
    free(sig);
    return rc;
}

int glp_sample(const glp_model *m, glp_work *w, float *x, int N, int n, int layer) {
    return glp_sample_ode(m, w, x, N, n, NULL, layer);
}

/* The projection's starting grid index: floor(u n), the reference's rule. */
static int project_start(float u, int n) { return (int)floorf(u * (float)n); }

float glp_project_sigma(float u, int n) { return glp_grid(project_start(u, n), n); }

/* Steps of a projection from grid index start (0 when start >= n). */
static int project_steps(int n, int start, const glp_ode *e) {
    if (start >= n) return 0;
    if (start == n - 1) return 1; /* sigma_start = 0.001: one step to 0 */
    return glp_solver_steps(e->solver, e->evals > 0 ? e->evals : n - start);
}

int glp_project_evals(float u, int n, const glp_ode *o) {
    glp_ode e = or_euler(o);
    return glp_solver_evals(e.solver, project_steps(n, project_start(u, n), &e));
}

int glp_project_ode(const glp_model *m, glp_work *w, float *h, int N, float u, int n, const glp_ode *o, int layer,
                    const float *eps, rng_t *r) {
    if (check_layer(m, layer)) return -1;
    if (n < 1 || !(u >= 0 && u <= 1)) return ms_seterr("projection needs n >= 1 and u in [0,1] (glp)");
    if (!eps && !r) return ms_seterr("projection needs noise or an RNG (glp)");
    glp_ode e = or_euler(o);
    int start = project_start(u, n), k = project_steps(n, start, &e);
    float *sig = xmalloc(sizeof(float) * (size_t)(k + 1));
    glp_ode_schedule_rho(sig, n, start, k, e.rho);
    float s = k ? sig[0] : 0;
    size_t tot = (size_t)N * m->c.d_input;
    glp_normalize(m, h, h, N);
    for (size_t j = 0; j < tot; j++) h[j] = (1 - s) * h[j] + s * (eps ? eps[j] : rng_normal(r));
    int rc = glp_ode_solve(m, w, h, N, e.solver, sig, k, layer);
    glp_denormalize(m, h, h, N);
    free(sig);
    return rc;
}

int glp_project(const glp_model *m, glp_work *w, float *h, int N, float u, int n, int layer, const float *eps,
                rng_t *r) {
    return glp_project_ode(m, w, h, N, u, n, NULL, layer, eps, r);
}
