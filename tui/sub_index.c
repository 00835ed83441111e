/* sub_index.c — `metascope index`: builds the top-activating examples index
 * of the default (or given) model, GLP and SAE over held-out text. The
 * models are loaded through a session so they fit together exactly as they
 * do in the explorer (layers, hook names). */
#include "clierr.h"
#include "index.h"
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

typedef struct {
    const char *model, *glp, *sae, *units, *out, *corpus, *split;
    long tokens, K, before, after, layer, seed, threads;
} index_args;

static int fail(const char *what) { return cli_error_at(what, NULL, 0); }

static int parse_args(int argc, char **argv, index_args *a) {
    struct { const char *name; const char **s; long *n; } o[] = {
        {"--model", &a->model, 0},   {"--glp", &a->glp, 0},         {"--sae", &a->sae, 0},
        {"--units", &a->units, 0},   {"--out", &a->out, 0},         {"--corpus", &a->corpus, 0},
        {"--split", &a->split, 0},   {"--tokens", 0, &a->tokens},   {"--k", 0, &a->K},
        {"--before", 0, &a->before}, {"--after", 0, &a->after},     {"--layer", 0, &a->layer},
        {"--seed", 0, &a->seed},     {"--threads", 0, &a->threads},
    };
    for (int i = 1; i < argc; i += 2) {
        size_t j = 0;
        while (j < sizeof o / sizeof *o && strcmp(argv[i], o[j].name)) j++;
        if (j == sizeof o / sizeof *o) return cli_errorf("unknown option '%s' (index)", argv[i]), -1;
        if (i + 1 >= argc) return cli_errorf("%s needs a value (index)", argv[i]), -1;
        if (o[j].s) *o[j].s = argv[i + 1];
        else {
            char *end;
            *o[j].n = strtol(argv[i + 1], &end, 10);
            if (*end || end == argv[i + 1] || *o[j].n < 0)
                return cli_errorf("%s needs a non-negative integer (index)", argv[i]), -1;
        }
    }
    return 0;
}

/* A default asset folder when it exists. */
static const char *asset(const char *name, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", ms_assets_dir(), name);
    return ms_is_dir(buf) ? buf : NULL;
}

/* Which unit kinds: --units list (each must be available), else all that are. */
static int pick_units(const index_args *a, const session *S, bool *sae, bool *meta, bool *mlp) {
    if (!a->units) {
        *sae = S->has_sae, *meta = S->has_glp, *mlp = true;
        return 0;
    }
    *sae = *meta = *mlp = false;
    char *list = xstrdup(a->units), *save = NULL;
    int rc = 0;
    for (char *t = strtok_r(list, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
        if (!strcmp(t, "sae")) *sae = true, rc = S->has_sae ? 0 : ms_seterr("--units sae needs an SAE: --sae DIR (index)");
        else if (!strcmp(t, "meta")) *meta = true, rc = S->has_glp ? 0 : ms_seterr("--units meta needs a GLP: --glp DIR (index)");
        else if (!strcmp(t, "mlp")) *mlp = true;
        else rc = ms_seterr("unknown unit kind '%s': sae, meta or mlp (index)", t);
    }
    free(list);
    return rc;
}

static int load_models(session *S, const index_args *a) {
    static char dm[4096], dg[4096], ds[4096];
    const char *model = a->model ? a->model : asset("model", dm, sizeof dm);
    const char *glp = a->glp ? a->glp : asset("glp", dg, sizeof dg), *sae = a->sae ? a->sae : asset("sae", ds, sizeof ds);
    bool want_glp = !a->units || strstr(a->units, "meta"), want_sae = !a->units || strstr(a->units, "sae");
    if (!model) return ms_seterr("no model: give --model DIR (index)");
    if (sess_load_model(S, model)) return -1;
    if (glp && want_glp && sess_load_glp(S, glp)) return -1;
    if (sae && want_sae && sess_load_sae(S, sae)) return -1;
    if (!a->units && !S->has_sae) fprintf(stderr, "index: no SAE (give --sae DIR); indexing without latents\n");
    return 0;
}

static void report(const index_result *r, const index_args *a) {
    fprintf(stderr, "index: %ld tokens in %d segments, %d units%s in %.1f s (%.0f tokens/s), %.1f MB -> %s\n", r->tokens,
            r->segments, r->units, r->cross ? " with correlations" : "", r->seconds, r->tokens / (r->seconds + 1e-9),
            r->bytes / 1e6, a->out);
}

int sub_index(int argc, char **argv) {
    index_args a = {.split = "valid", .tokens = 50000, .K = 20, .before = 12, .after = 4, .layer = -1, .seed = 1};
    if (parse_args(argc, argv, &a)) return 2;
    if (!a.out) return fail("index needs --out DIR (index)");
    static char dc[4096];
    snprintf(dc, sizeof dc, "%s/corpus", ms_assets_dir());
    ms_set_threads((int)a.threads);
    session S;
    sess_init(&S, NULL, NULL);
    bool sae, meta, mlp;
    int rc = load_models(&S, &a) || pick_units(&a, &S, &sae, &meta, &mlp);
    index_opts o;
    index_opts_default(&o);
    if (!rc) {
        int base = S.has_glp ? sess_glp_layer(&S) : S.has_sae ? S.sae.layer : S.layer;
        o.model = &S.model, o.bos = sess_use_bos(&S), o.model_path = S.model.path;
        o.glp = meta ? &S.glp : NULL, o.glp_layer = sess_glp_layer(&S), o.glp_path = S.glp_path;
        o.sae = sae ? &S.sae : NULL, o.sae_path = S.sae_path;
        o.mlp_layer = mlp ? (a.layer >= 0 ? (int)a.layer : base) : -1;
        o.corpus = a.corpus ? a.corpus : dc, o.split = a.split, o.tokens = a.tokens;
        o.K = (int)a.K, o.before = (int)a.before, o.after = (int)a.after, o.seed = (uint64_t)a.seed, o.out = a.out;
        o.log = stderr, o.tty = isatty(2), o.stop = &g_stop;
        struct sigaction sa = {0};
        sa.sa_handler = on_stop;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
    }
    index_result r;
    if (!rc) rc = index_build(&o, &r);
    if (!rc) report(&r, &a);
    else if (!g_stop) fail(ms_geterr());
    else fprintf(stderr, "index: stopped by Ctrl-C\n"); /* not an error */
    sess_free(&S);
    return rc ? (g_stop ? 130 : 2) : 0;
}
