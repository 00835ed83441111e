/* sub_steer.c — `metascope eval-steer`: the steering frontier (cmd_frontier.h)
 * of the default (or given) model, GLP and SAE, loaded through a session so
 * they fit together exactly as in the explorer. Loading options are taken
 * here; the rest are the 'frontier' command's. */
#include "clierr.h"
#include "cmd_frontier.h"
#include "ops.h"
#include "session.h"
#include "subcommands.h"
#include "util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t g_stop;
static void on_stop(int sig) {
    (void)sig;
    g_stop = 1;
}

static void out_stdout(void *ctx, const char *text, size_t len) {
    (void)ctx;
    fwrite(text, 1, len, stdout);
}

static void progress(void *ctx, int done, int total) {
    (void)ctx;
    fprintf(stderr, "\reval-steer: %d/%d continuations%s", done, total, done == total ? "\n" : "");
}

typedef struct {
    const char *model, *glp, *sae, *sampler, *rho;
    int no_glp, no_sae, json;
    long threads, evals;
} load_args;

/* Takes the loading options (and the GLP's --sampler, --evals) out of argv
 * (the rest stay, argv[0] first). */
static int take_load_args(int *argc, char **argv, load_args *a) {
    int k = 1;
    for (int i = 1; i < *argc; i++) {
        const char *o = argv[i], **s = !strcmp(o, "--model") ? &a->model : !strcmp(o, "--glp") ? &a->glp
                                       : !strcmp(o, "--sae") ? &a->sae : !strcmp(o, "--sampler") ? &a->sampler
                                       : !strcmp(o, "--rho") ? &a->rho : NULL;
        long *num = !strcmp(o, "--threads") ? &a->threads : !strcmp(o, "--evals") ? &a->evals : NULL;
        if (!strcmp(o, "--json")) {
            a->json = 1;
            continue;
        }
        if (!strcmp(o, "--no-glp") || !strcmp(o, "--no-sae")) {
            *(o[5] == 'g' ? &a->no_glp : &a->no_sae) = 1;
            continue;
        }
        if ((s || num) && i + 1 >= *argc) return ms_seterr("%s needs a value (eval-steer)", o);
        if (s) *s = argv[++i];
        else if (num) *num = strtol(argv[++i], NULL, 10);
        else argv[k++] = argv[i];
    }
    *argc = k;
    return 0;
}

static const char *asset(const char *name, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", ms_assets_dir(), name);
    return ms_is_dir(buf) ? buf : NULL;
}

static int load(session *S, const load_args *a) {
    static char dm[4096], dg[4096], ds[4096];
    const char *model = a->model ? a->model : asset("model", dm, sizeof dm);
    const char *glp = a->no_glp ? NULL : a->glp ? a->glp : asset("glp", dg, sizeof dg);
    const char *sae = a->no_sae ? NULL : a->sae ? a->sae : asset("sae", ds, sizeof ds);
    if (!model) return ms_seterr("no model: give --model DIR (eval-steer)");
    if (a->sampler && glp_solver_parse(a->sampler, &S->glp_ode.solver, "eval-steer")) return -1;
    if (a->rho && glp_rho_parse(a->rho, &S->glp_ode.rho, "eval-steer")) return -1;
    if (a->evals < 0 || a->evals > 10000) return ms_seterr("--evals takes 1..10000, or 0 for the reference budget (eval-steer)");
    S->glp_ode.evals = (int)a->evals;
    return sess_load_model(S, model) || (glp && sess_load_glp(S, glp)) || (sae && sess_load_sae(S, sae)) ? -1 : 0;
}

int sub_eval_steer(int argc, char **argv) {
    load_args a = {0};
    argv[0] = "eval-steer";
    if (take_load_args(&argc, argv, &a)) return cli_error_at(ms_geterr(), NULL, 0);
    ms_set_threads((int)a.threads);
    session S;
    sess_init(&S, out_stdout, NULL);
    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    S.cancel = &g_stop;
    S.json = a.json;
    int rc = load(&S, &a) || frontier_exec(&S, argc, argv, isatty(2) ? progress : NULL, NULL);
    if (rc && isatty(2)) fputc('\n', stderr); /* after the progress line */
    if (rc && g_stop) cli_cancelled("eval-steer", a.json, stderr); /* Ctrl-C: not an error */
    else if (rc) cli_error_at(ms_geterr(), NULL, 0);
    sess_free(&S);
    return rc ? (g_stop ? 130 : 2) : 0;
}
