/* scaling.c — compute budgets of the GLP and the fit L(C) = E + A·C^-alpha. */
#include "scaling.h"
#include "eval_glp.h"
#include "glp_folder.h"
#include "glp_train.h"
#include "harvest.h"
#include "util.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------ the fit */

/* Best E, A >= 0 for a fixed alpha (x = (C/C0)^-alpha); returns the SSE. */
static double fit_linear(const double *x, const double *L, int n, double *E, double *A) {
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < n; i++) sx += x[i], sy += L[i], sxx += x[i] * x[i], sxy += x[i] * L[i];
    double det = n * sxx - sx * sx;
    *A = det > 0 ? (n * sxy - sx * sy) / det : 0;
    *E = (sy - *A * sx) / n;
    if (*A < 0) *A = 0, *E = sy / n;                   /* loss must not rise with compute */
    if (*E < 0) *E = 0, *A = sxx > 0 ? sxy / sxx : 0; /* an irreducible loss is not negative */
    if (*A < 0) *A = 0;
    double sse = 0;
    for (int i = 0; i < n; i++) sse += (L[i] - *E - *A * x[i]) * (L[i] - *E - *A * x[i]);
    return sse;
}

static double sse_at(const double *C, const double *L, int n, double C0, double alpha, double *E, double *A) {
    double x[64];
    for (int i = 0; i < n; i++) x[i] = pow(C[i] / C0, -alpha);
    return fit_linear(x, L, n, E, A);
}

int scaling_fit_power(const double *C, const double *L, int n, scaling_fit *f) {
    if (n < 3 || n > 64) return ms_seterr("a fit needs 3 to 64 points, not %d (scaling)", n);
    double C0 = INFINITY;
    for (int i = 0; i < n; i++) {
        if (!(C[i] > 0) || !isfinite(L[i])) return ms_seterr("point %d has no positive compute or loss (scaling)", i);
        C0 = C[i] < C0 ? C[i] : C0;
    }
    double best = INFINITY, ba = 0, E, A;
    for (int k = 0; k <= 300; k++) { /* alpha from 0.001 to 3 on a log grid */
        double a = 0.001 * pow(3000.0, k / 300.0), s = sse_at(C, L, n, C0, a, &E, &A);
        if (s < best) best = s, ba = a;
    }
    double lo = ba / pow(3000.0, 1 / 300.0), hi = ba * pow(3000.0, 1 / 300.0), g = (sqrt(5.0) - 1) / 2;
    for (int it = 0; it < 100; it++) { /* golden section around the grid minimum */
        double a1 = hi - g * (hi - lo), a2 = lo + g * (hi - lo);
        if (sse_at(C, L, n, C0, a1, &E, &A) < sse_at(C, L, n, C0, a2, &E, &A)) hi = a2;
        else lo = a1;
    }
    f->alpha = (lo + hi) / 2;
    double sse = sse_at(C, L, n, C0, f->alpha, &E, &A);
    f->E = E;
    f->A = A * pow(C0, f->alpha); /* back to raw compute units */
    f->rmse = sqrt(sse / n);
    return 0;
}

/* ------------------------------------------------------------ the runs */

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }
static int is_json(const struct dirent *e) {
    size_t n = strlen(e->d_name);
    return n > 5 && !strcmp(e->d_name + n - 5, ".json") && e->d_name[0] != '.';
}

/* Seconds of training recorded on loss.csv's last line (0 when absent). */
static double trained_seconds(const char *dir) {
    char path[4096], line[256], last[256] = "";
    snprintf(path, sizeof path, "%s/loss.csv", dir);
    FILE *f = ms_fopen_regular(path);
    if (!f) return 0;
    while (fgets(line, sizeof line, f)) memcpy(last, line, sizeof last);
    fclose(f);
    const char *c = strrchr(last, ',');
    return c ? atof(c + 1) : 0;
}

/* Parameters of the model a stage of config c trains: p's widths (blocks
 * are all a later stage may add), the stage's own block count. */
static double stage_params(const glp_train_cfg *c, const scaling_point *p) {
    glp_config g = {p->d_input, p->d_model, p->d_mlp, c->n_layers, 0};
    return (double)glp_param_count(&g);
}

/* Evaluates the GLP folder glp_dir as point p (config cfg gives rows). */

static int eval_point(const scaling_opts *o, const glp_train_cfg *cfg, const char *glp_dir, scaling_point *p) {
    glp_model m;
    glp_file_config fc;
    if (glp_load_folder(&m, &fc, glp_dir, -1)) return -1;
    eval_glp_opts eo = {o->eval_rows, 1, {GLP_EULER, o->fd_steps, 1}};
    eval_glp_result r;
    int rc = eval_glp(&m, o->eval_acts, &eo, &r);
    p->d_input = m.c.d_input, p->d_model = m.c.d_model, p->d_mlp = m.c.d_mlp, p->n_layers = m.c.n_layers;
    p->params = (double)m.n_params;
    p->rows = (double)cfg->steps * cfg->batch;
    p->compute = 6 * stage_params(cfg, p) * p->rows;
    p->heldout_loss = r.heldout_loss, p->fd = r.fd_glp;
    p->fd_floor = r.fd_floor, p->fd_gauss = r.fd_gauss;
    p->space = glp_normalizer_hash(&m);
    glp_free(&m);
    return rc;
}

static int run_budget(const scaling_opts *o, const char *file, const char *name, scaling_point *p) {
    char cfgpath[4096], dir[4096], glpdir[4200], done[4300];
    snprintf(cfgpath, sizeof cfgpath, "%s/%s", o->budgets, file);
    snprintf(dir, sizeof dir, "%s/%s", o->out, name);
    snprintf(glpdir, sizeof glpdir, "%s/glp", dir);
    snprintf(done, sizeof done, "%s/final.safetensors", glpdir);
    glp_train_cfg cfg;
    glp_train_defaults(&cfg);
    if (glp_train_cfg_load(&cfg, cfgpath)) return -1;
    struct stat st;
    double before = trained_seconds(dir);
    char ck[4300];
    snprintf(ck, sizeof ck, "%s/ckpt.safetensors", dir);
    bool finished = stat(done, &st) == 0, resume = stat(ck, &st) == 0;
    if (!finished || resume) { /* a finished run resumes too: its checkpoint checks the settings, normalizer included */
        if (o->normalizer && strlen(o->normalizer) >= sizeof cfg.normalizer)
            return ms_seterr("--normalizer path is too long (scaling)");
        if (o->normalizer) snprintf(cfg.normalizer, sizeof cfg.normalizer, "%s", o->normalizer);
        fprintf(o->log, "scaling: %s: %s\n", name, finished ? "checking" : resume ? "resuming" : "training");
        train_opts to = {o->log, o->tty, o->stop, 0};
        if (glp_train(&cfg, o->acts, dir, resume, &to)) {
            char e[1024];
            snprintf(e, sizeof e, "%s", ms_geterr()); /* named by budget: the message lives in the error slot */
            return ms_seterr("budget %s: %s", name, e);
        }
        if (o->stop && *o->stop) return ms_seterr("stopped; run again to resume (scaling)");
    }
    snprintf(p->name, sizeof p->name, "%s", name);
    p->minutes = (trained_seconds(dir) - before) / 60;
    return eval_point(o, &cfg, glpdir, p);
}

static int write_results(const scaling_opts *o, const scaling_point *p, int n, const scaling_fit *f, bool fitted) {
    size_t cap = 4096 + (size_t)n * 256, k = 0;
    char *csv = xmalloc(cap), path[4096];
    k += (size_t)snprintf(csv + k, cap - k, "name,d_model,d_mlp,n_layers,params,rows,compute,heldout_loss,fd,fit,fd_floor,fd_gauss\n");
    for (int i = 0; i < n; i++) {
        double fit = fitted ? f->E + f->A * pow(p[i].compute, -f->alpha) : NAN;
        k += (size_t)snprintf(csv + k, cap - k, "%s,%d,%d,%d,%.0f,%.0f,%.4e,%.6f,%.4f,%.6f,%.4f,%.4f\n", p[i].name,
                              p[i].d_model, p[i].d_mlp, p[i].n_layers, p[i].params, p[i].rows, p[i].compute,
                              p[i].heldout_loss, p[i].fd, fit, p[i].fd_floor, p[i].fd_gauss);
    }
    snprintf(path, sizeof path, "%s/scaling.csv", o->out);
    int rc = ms_write_file_atomic(path, csv, k);
    if (!rc && fitted) {
        k = (size_t)snprintf(csv, cap, "L(C) = E + A * C^-alpha\nE %.6f\nA %.6g\nalpha %.6f\nrmse %.6f\npoints %d\n",
                             f->E, f->A, f->alpha, f->rmse, n);
        snprintf(path, sizeof path, "%s/fit.txt", o->out);
        rc = ms_write_file_atomic(path, csv, k);
    }
    free(csv);
    return rc;
}

/* out/test-acts: 2·eval_rows test-split rows of the training harvest's model
 * and layer (resumed when present). */
static int harvest_eval_rows(const scaling_opts *o, char *dir, size_t cap) {
    harvest_info h;
    if (harvest_info_load(&h, o->acts)) return -1;
    char corpus[4096];
    snprintf(corpus, sizeof corpus, "%s/corpus", ms_assets_dir());
    snprintf(dir, cap, "%s/test-acts", o->out);
    harvest_opts ho = {h.model, o->corpus ? o->corpus : corpus, "test", dir, h.layer, 2 * o->eval_rows, 262144,
                       true, o->log, false, o->stop, false};
    harvest_result r;
    int rc = harvest(&ho, &r);
    harvest_info_free(&h);
    if (!rc && r.rows < 2 * o->eval_rows)
        rc = ms_seterr("the test split holds %ld rows, fewer than the %ld needed (scaling)", r.rows, 2 * o->eval_rows);
    return rc;
}

int scaling_run(const scaling_opts *o_in, scaling_point **pts, int *npts, scaling_fit *fit) {
    struct dirent **ents;
    scaling_opts o_eval = *o_in, *o = &o_eval;
    int ne = scandir(o->budgets, &ents, is_json, by_name), rc = 0, n = 0;
    if (ne < 0) return ms_seterr("cannot read the budgets folder (%s)", o->budgets);
    if (!ms_is_dir(o->out) && mkdir(o->out, 0755)) rc = ms_seterr("cannot create folder (%s)", o->out);
    char test_dir[4200];
    if (!rc && !o->eval_acts && !(rc = harvest_eval_rows(o, test_dir, sizeof test_dir))) o->eval_acts = test_dir;
    scaling_point *p = xcalloc((size_t)ne + 1, sizeof *p);
    for (int i = 0; i < ne && !rc; i++) {
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)strlen(ents[i]->d_name) - 5, ents[i]->d_name);
        rc = run_budget(o, ents[i]->d_name, name, &p[n]);
        if (!rc) n++;
    }
    for (int i = 0; i < ne; i++) free(ents[i]);
    free(ents);
    if (!rc && o->extra_config && o->extra_glp) {
        glp_train_cfg cfg;
        glp_train_defaults(&cfg);
        rc = glp_train_cfg_load(&cfg, o->extra_config) || eval_point(o, &cfg, o->extra_glp, &p[n]);
        for (int k = 0; !rc && k < o->n_extra_stages; k++) { /* later stages: their rows were seen too */
            glp_train_cfg c;
            glp_train_defaults(&c);
            if (!(rc = glp_train_cfg_load(&c, o->extra_stages[k]))) {
                double rows = (double)c.steps * c.batch;
                p[n].rows += rows;
                p[n].compute += 6 * stage_params(&c, &p[n]) * rows;
            }
        }
        snprintf(p[n].name, sizeof p[n].name, "%s", o->extra_name ? o->extra_name : "extra");
        if (!rc) n++;
    }
    for (int i = 1; i < n && !rc; i++)
        if (p[i].space != p[0].space)
            rc = ms_seterr("%s was trained with another normalizer than %s: their losses do not compare (scaling)",
                           p[i].name, p[0].name);
    bool fitted = false;
    *fit = (scaling_fit){NAN, NAN, NAN, NAN};
    if (!rc && n >= 3) {
        double C[64], L[64];
        for (int i = 0; i < n && i < 64; i++) C[i] = p[i].compute, L[i] = p[i].heldout_loss;
        fitted = scaling_fit_power(C, L, n < 64 ? n : 64, fit) == 0;
        if (!fitted) rc = -1;
    }
    if (!rc) rc = write_results(o, p, n, fit, fitted);
    *pts = p, *npts = n;
    return rc;
}
