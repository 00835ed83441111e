/* glp_ode.h — solvers for the GLP's flow-matching ODE dx/dsigma = v(x, sigma).
 *
 * With x_s = (1-s) x0 + s eps and v = eps - x0 (the denoiser's output),
 * x0 = x - s v. A schedule is sigma[0] > sigma[1] > ... > sigma[k] (k steps);
 * the last point is usually 0.
 *   euler     x += h v(x, s0)                    1 evaluation per step (the reference)
 *   heun      v1 = v(x, s0), v2 = v(x + h v1, s1), x += h (v1 + v2)/2
 *   midpoint  v1 = v(x, s0), x += h v(x + h/2 v1, s0 + h/2)
 *             heun and midpoint: 2 evaluations per step, but the step to
 *             sigma = 0 stays Euler (1): 2k - 1 in all
 *   dpm2m     DPM-Solver++(2M) in x0-prediction form: the exact linear part plus
 *             x0 extrapolated from this and the previous step's estimate
 *             (first order on the first step and the step to 0);
 *             1 evaluation per step, second order
 * Costs are counted in denoiser evaluations (the cost of one steered token);
 * a budget of E evaluations buys glp_solver_steps(s, E) steps. */
#ifndef MS_GLP_ODE_H
#define MS_GLP_ODE_H

#include "glp.h"

typedef enum { GLP_EULER, GLP_HEUN, GLP_MIDPOINT, GLP_DPM2M, GLP_N_SOLVERS } glp_solver;

/* What the on-manifold projection (steering, eval-recon, --delta-lm) uses
 * unless told: Euler on the even grid, the published reference, which kept
 * the lowest ΔLM at the reference's 10 evaluations (docs/glp-quality.md
 * section 8: dpm2m and rho < 1 move rows further and cost the LM more). */
#define GLP_SOLVER_DEFAULT GLP_EULER
#define GLP_RHO_DEFAULT 1.0f
/* What sampling from noise (sample, eval-glp) uses unless told: dpm2m on a
 * rho 0.6 grid, 20 evaluations, chosen on the valid split (section 8); on
 * the test split its FD is lower than Euler's at 100 evaluations. */
#define GLP_SAMPLE_SOLVER GLP_DPM2M
#define GLP_SAMPLE_RHO 0.6f
#define GLP_SAMPLE_EVALS 20

/* How the ODE is solved. evals <= 0: the reference's budget (sampling: the
 * caller's step count; projection: n - floor(u n) of its grid). rho spaces
 * the grid: sigma_j = (a + (b - a) j/(k-1))^rho with a = sigma_start^(1/rho),
 * b = 0.001^(1/rho); rho 1 (or <= 0, unset) is the reference's evenly spaced
 * grid, bit for bit; rho < 1 puts more steps near sigma = 1
 * (docs/glp-quality.md sections 6 and 8 measure it). */
typedef struct {
    glp_solver solver;
    int evals;
    float rho;
} glp_ode;

#define GLP_RHO_MIN 0.1f
#define GLP_RHO_MAX 4.0f

const char *glp_solver_name(glp_solver s);
/* "euler", "heun", "midpoint", "dpm2m"; -1 with a message naming where. */
int glp_solver_parse(const char *name, glp_solver *s, const char *where);
/* Evaluations of k steps ending at sigma = 0; the most steps (>= 1) whose
 * cost fits a budget of E evaluations. */
int glp_solver_evals(glp_solver s, int k);
int glp_solver_steps(glp_solver s, int evals);

/* Integrates x[N, d_input] (normalized space) over sig[0..k] with solver s. */
int glp_ode_solve(const glp_model *m, glp_work *w, float *x, int N, glp_solver s, const float *sig, int k,
                  int layer);

/* The reference schedule resampled to k steps: grid_n from index start to
 * n-1 (linspace(1, 0.001, n)) taken at k evenly spaced fractional indices,
 * then 0, into sig[k + 1]. With k = n - start it is grid_n exactly. */
void glp_ode_schedule(float *sig, int n, int start, int k);
/* The same from sigma_start = grid_n[start] to 0.001 spaced by rho (see
 * glp_ode); rho 1 or <= 0 is glp_ode_schedule. */
void glp_ode_schedule_rho(float *sig, int n, int start, int k, float rho);
/* rho from text, in [GLP_RHO_MIN, GLP_RHO_MAX]; -1 with a message naming where. */
int glp_rho_parse(const char *text, float *rho, const char *where);
/* Sampling's settings from what a command was told: GLP_SAMPLE_* for the
 * solver, rho and budget it was not given, except that a step count alone
 * (reference) is the published sampler, Euler on the even grid. */
void glp_sample_defaults(glp_ode *o, bool have_solver, bool have_rho, bool reference);

/* The published reference, Euler: sampling in normalized space, x[N, d_input]
 * holds the starting noise and receives the sample (n steps over
 * linspace(1, 0.001, n), then 0); the on-manifold projection (SDEdit) of raw
 * activations h[N, d_input], in place: normalize, noise to sigma =
 * grid_n[floor(u n)] with eps (or fresh normals from r when eps is NULL),
 * Euler over the rest of grid_n (n - floor(u n) evaluations), denormalize. */
int glp_sample(const glp_model *m, glp_work *w, float *x, int N, int n, int layer);
int glp_project(const glp_model *m, glp_work *w, float *h, int N, float u, int n, int layer, const float *eps,
                rng_t *r);

/* Sampling from the noise in x with o (evals <= 0: n, i.e. Euler's n steps). */
int glp_sample_ode(const glp_model *m, glp_work *w, float *x, int N, int n, const glp_ode *o, int layer);
/* The projection of glp_project (sigma_start = grid_n[floor(u n)] whatever
 * the budget), solved with o over glp_ode_schedule(n, floor(u n), k). */
int glp_project_ode(const glp_model *m, glp_work *w, float *h, int N, float u, int n, const glp_ode *o, int layer,
                    const float *eps, rng_t *r);
/* The noise level a projection at u on the n-point grid starts from
 * (grid_n[floor(u n)]; 0 when that is past the grid). */
float glp_project_sigma(float u, int n);
/* Evaluations a sample / projection with o actually spends. */
int glp_sample_evals(int n, const glp_ode *o);
int glp_project_evals(float u, int n, const glp_ode *o);

#endif
