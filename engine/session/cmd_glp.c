/* cmd_glp.c — GLP commands: sample (draw activations from the meta-model)
 * and meta top (the meta-neurons that vary most over the prompt). */
#include "cmd.h"
#include "ops.h"
#include "safetensors.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAMPLE_SHOWN 16 /* rows listed; --out keeps them all */
#define LENS_TOP 5

static int need_glp(session *S, const char *cmd) {
    if (cmd_need_model(S, cmd)) return -1;
    if (!S->has_glp) return ms_seterr("no GLP loaded; use 'load glp PATH' (%s)", cmd);
    return 0;
}

/* N samples in raw activation space, rows [N, d], from noise drawn with r. */
static float *draw_samples(session *S, int N, const glp_ode *o, rng_t *r) {
    int d = S->glp.c.d_input;
    float *x = xmalloc(sizeof(float) * (size_t)N * d);
    for (size_t i = 0; i < (size_t)N * d; i++) x[i] = rng_normal(r);
    if (glp_sample_ode(&S->glp, S->glp_work, x, N, o->evals, o, -1)) {
        free(x);
        return NULL;
    }
    glp_denormalize(&S->glp, x, x, N);
    return x;
}

static void lens_text(session *S, const float *logits, int *top, char *out, size_t cap) {
    int k = cmd_top_indices(logits, S->model.c.vocab, LENS_TOP, top, false);
    size_t o = 0;
    out[0] = 0;
    for (int i = 0; i < k && o + 1 < cap; i++) {
        char piece[64];
        cmd_token_text(S, top[i], piece, sizeof piece);
        o += (size_t)snprintf(out + o, cap - o, "%s\"%s\"", i ? " " : "", piece);
    }
}

/* The budget is in denoiser evaluations. Defaults: GLP_SAMPLE_*; --steps N
 * alone is the reference, Euler's N steps on the even grid. */
static int sample_args(session *S, words *w, long *N, glp_ode *o, const char **path) {
    long evals;
    bool solver = false, rho = false, steps = false;
    *o = (glp_ode){0}, *path = NULL;
    if (w->argc < 2) return ms_seterr("usage: sample N [--evals E] [--sampler S] [--rho R] [--out FILE] (sample)");
    if (cmd_parse_int(w->argv[1], 1, 1000000, N, "sample")) return -1;
    for (int i = 2; i < w->argc; i += 2) {
        if (i + 1 >= w->argc) return ms_seterr("%s needs a value (sample)", w->argv[i]);
        if (!strcmp(w->argv[i], "--evals") || !strcmp(w->argv[i], "--steps")) {
            if (cmd_parse_int(w->argv[i + 1], 1, 100000, &evals, "sample")) return -1;
            o->evals = (int)evals;
            steps = w->argv[i][2] == 's';
        } else if (!strcmp(w->argv[i], "--sampler")) {
            if (glp_solver_parse(w->argv[i + 1], &o->solver, "sample")) return -1;
            solver = true;
        } else if (!strcmp(w->argv[i], "--rho")) {
            if (glp_rho_parse(w->argv[i + 1], &o->rho, "sample")) return -1;
            rho = true;
        } else if (!strcmp(w->argv[i], "--out")) *path = w->argv[i + 1];
        else return ms_seterr("unknown option '%s' (sample)", w->argv[i]);
    }
    glp_sample_defaults(o, solver, rho, steps);
    return 0;
}

int cmd_sample(session *S, words *w) {
    long N;
    glp_ode ode;
    const char *path;
    if (need_glp(S, "sample") || sample_args(S, w, &N, &ode, &path)) return -1;
    int evals = glp_sample_evals(ode.evals, &ode);
    int d = S->glp.c.d_input, V = S->model.c.vocab, layer = sess_glp_layer(S);
    double real;
    if (sess_mean_norm(S, layer, &real, "sample")) return -1;
    rng_t r;
    rng_seed(&r, S->seed ^ 0x73616d70ull);
    float *x = draw_samples(S, (int)N, &ode, &r);
    if (!x) return ms_seterr("%s (sample)", ms_geterr());
    if (path) {
        st_wtensor t = {"samples", ST_F32, 2, {N, d}, x};
        if (st_write(path, &t, 1, NULL, 0)) {
            free(x);
            return ms_seterr("%s (sample)", ms_geterr());
        }
    }
    int shown = N < SAMPLE_SHOWN ? (int)N : SAMPLE_SHOWN, top[LENS_TOP];
    float *lg = xmalloc(sizeof(float) * (size_t)shown * V);
    tf_logit_lens(&S->model, x, shown, lg);
    double mean = 0;
    for (long i = 0; i < N; i++) mean += l2norm(x + (size_t)i * d, d) / (double)N;
    json_object *arr = S->json ? json_object_new_array() : NULL;
    if (!arr)
        sess_printf(S, "%ld samples of layer %d from the GLP (%s, rho %g, %d denoiser evaluations, seed %llu)\n"
                    "    #    norm  logit lens\n", N, layer, glp_solver_name(ode.solver), ode.rho, evals, S->seed);
    for (int i = 0; i < shown; i++) {
        char lens[512];
        lens_text(S, lg + (size_t)i * V, top, lens, sizeof lens);
        float nm = l2norm(x + (size_t)i * d, d);
        if (arr) {
            json_object *e = json_object_new_object(), *t = json_object_new_array();
            json_object_object_add(e, "norm", cmd_jdouble(nm));
            for (int j = 0; j < LENS_TOP; j++) json_object_array_add(t, json_object_new_int(top[j]));
            json_object_object_add(e, "lens_top", t);
            json_object_array_add(arr, e);
        } else sess_printf(S, "%5d %7.3f  %s\n", i, nm, lens);
    }
    if (arr) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "cmd", json_object_new_string("sample"));
        json_object_object_add(o, "n", json_object_new_int64(N));
        json_object_object_add(o, "sampler", json_object_new_string(glp_solver_name(ode.solver)));
        json_object_object_add(o, "rho", cmd_jdouble(ode.rho));
        json_object_object_add(o, "evals", json_object_new_int(evals));
        json_object_object_add(o, "mean_norm", cmd_jdouble(mean));
        json_object_object_add(o, "real_mean_norm", cmd_jdouble(real));
        json_object_object_add(o, "samples", arr);
        cmd_emit_json(S, o);
    } else {
        if (N > shown) sess_printf(S, "  ... %ld more\n", N - shown);
        sess_printf(S, "mean norm %.3f (real activations: %.3f)%s%s\n", mean, real, path ? "; written to " : "",
                    path ? path : "");
    }
    free(lg), free(x);
    return 0;
}

/* ------------------------------------------------------------ meta top */

typedef struct {
    int block, unit;
    double mean, var;
    float max;
    int argmax;
} meta_stat;

static int by_var(const void *a, const void *b) {
    double x = ((const meta_stat *)a)->var, y = ((const meta_stat *)b)->var;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Statistics of every unit over the prompt's tokens (the first is skipped
 * when there are others: its residual is an outlier). */
static meta_stat *meta_stats(session *S, const float *meta, int b0, int b1, int *count) {
    const glp_config *g = &S->glp.c;
    int n = S->n_prompt, t0 = n > 1 ? 1 : 0, m = 0;
    meta_stat *st = xmalloc(sizeof(meta_stat) * (size_t)(b1 - b0) * g->d_mlp);
    for (int b = b0; b < b1; b++)
        for (int i = 0; i < g->d_mlp; i++) {
            meta_stat s = {b, i, 0, 0, -INFINITY, t0};
            for (int t = t0; t < n; t++) {
                float v = meta[((size_t)b * n + t) * g->d_mlp + i];
                s.mean += v;
                s.var += (double)v * v;
                if (v > s.max) s.max = v, s.argmax = t;
            }
            s.mean /= (n - t0);
            s.var = s.var / (n - t0) - s.mean * s.mean;
            st[m++] = s;
        }
    *count = m;
    return st;
}

int cmd_meta(session *S, words *w) {
    if (need_glp(S, "meta")) return -1;
    if (!S->n_prompt) return ms_seterr("no prompt; use 'prompt TEXT' (meta)");
    long K = 10, B = -1;
    if (w->argc > 1 && strcmp(w->argv[1], "top")) return ms_seterr("usage: meta [top [K] [B]] (meta)");
    if (w->argc > 4 || (w->argc > 2 && cmd_parse_int(w->argv[2], 1, 100000, &K, "meta")) ||
        (w->argc > 3 && cmd_parse_int(w->argv[3], 0, S->glp.c.n_layers - 1, &B, "meta")))
        return w->argc > 4 ? ms_seterr("usage: meta [top [K] [B]] (meta)") : -1;
    float *meta;
    if (cmd_prompt_meta(S, &meta, "meta")) return -1;
    int m;
    meta_stat *st = meta_stats(S, meta, B < 0 ? 0 : (int)B, B < 0 ? S->glp.c.n_layers : (int)B + 1, &m);
    qsort(st, (size_t)m, sizeof *st, by_var);
    if (K > m) K = m;
    json_object *arr = S->json ? json_object_new_array() : NULL;
    if (!arr) sess_printf(S, "meta-neurons varying most over the prompt (sigma 0.1, fixed noise)\n"
                             "  unit            variance      mean       max  at token\n");
    for (int i = 0; i < K; i++) {
        char name[32], piece[128], quoted[160];
        snprintf(name, sizeof name, "meta:%d:%d", st[i].block, st[i].unit);
        cmd_token_text(S, S->prompt_ids[st[i].argmax], piece, sizeof piece);
        if (arr) {
            json_object *e = json_object_new_object();
            json_object_object_add(e, "unit", json_object_new_string(name));
            json_object_object_add(e, "var", cmd_jdouble(st[i].var));
            json_object_object_add(e, "mean", cmd_jdouble(st[i].mean));
            json_object_object_add(e, "max", cmd_jdouble(st[i].max));
            json_object_object_add(e, "argmax", json_object_new_int(st[i].argmax));
            json_object_array_add(arr, e);
            continue;
        }
        snprintf(quoted, sizeof quoted, "\"%s\"", piece);
        sess_printf(S, "  %-14s %9.4f %9.4f %9.4f  %d %s\n", name, st[i].var, st[i].mean, st[i].max, st[i].argmax,
                    quoted);
    }
    if (arr) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "cmd", json_object_new_string("meta"));
        json_object_object_add(o, "units", arr);
        cmd_emit_json(S, o);
    }
    free(st), free(meta);
    return 0;
}
