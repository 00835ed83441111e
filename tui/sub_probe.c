/* sub_probe.c — `metascope probe` (the probe command over the bundled or
 * given model, GLP and SAE, with progress on stderr) and `metascope
 * probe-tasks` (rebuilds assets/probe/tasks.json from the corpus). */
#include "clierr.h"
#include "subcommands.h"
#include "ops.h"
#include "probe.h"
#include "session.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(const char *what) { return cli_error_at(what, NULL, 0); }

static void out_stdout(void *ctx, const char *text, size_t len) {
    (void)ctx;
    fwrite(text, 1, len, stdout);
}

static void to_stderr(void *ctx, const char *line) {
    (void)ctx;
    fprintf(stderr, "%s\n", line);
}

static int load_all(session *S, const char *model, const char *glp, const char *sae) {
    char dm[4096], dg[4096], ds[4096];
    snprintf(dm, sizeof dm, "%s/model", ms_assets_dir());
    snprintf(dg, sizeof dg, "%s/glp", ms_assets_dir());
    snprintf(ds, sizeof ds, "%s/sae", ms_assets_dir());
    if (sess_load_model(S, model ? model : dm)) return -1;
    if ((glp || ms_is_dir(dg)) && strcmp(glp ? glp : "", "none") && sess_load_glp(S, glp ? glp : dg)) return -1;
    if ((sae || ms_is_dir(ds)) && strcmp(sae ? sae : "", "none") && sess_load_sae(S, sae ? sae : ds)) return -1;
    return 0;
}

/* Options for loading are taken out; the rest goes to the probe command. */
int sub_probe(int argc, char **argv) {
    const char *model = NULL, *glp = NULL, *sae = NULL;
    char **rest = calloc((size_t)argc + 1, sizeof(char *));
    int nr = 0, json = 0;
    rest[nr++] = "probe";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], **dst = !strcmp(a, "--model") ? &model : !strcmp(a, "--glp") ? &glp
                                        : !strcmp(a, "--sae") ? &sae : NULL;
        if (dst || !strcmp(a, "--threads")) {
            if (i + 1 >= argc) return free(rest), fail("an option needs a value (probe)");
            if (dst) *dst = argv[++i];
            else ms_set_threads(atoi(argv[++i]));
        } else if (!strcmp(a, "--json")) json = 1;
        else rest[nr++] = argv[i];
    }
    if (nr < 2) rest[nr++] = "all";
    session S;
    sess_init(&S, out_stdout, NULL);
    S.json = json;
    int rc = load_all(&S, model, glp, sae) || probe_exec(&S, nr, rest, to_stderr, NULL);
    if (rc) fail(ms_geterr());
    fflush(stdout);
    sess_free(&S);
    free(rest);
    return rc ? 2 : 0;
}

static void log_line(void *ctx, const char *line) {
    (void)ctx;
    printf("%s\n", line);
}

int sub_probe_tasks(int argc, char **argv) {
    const char *out = NULL, *corpus = NULL, *model = NULL;
    long per_class = 200, seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) return fail("usage: probe-tasks --out DIR [--corpus DIR] [--model DIR] [--per-class N] "
                                       "[--seed N] (probe-tasks)");
        const char *v = argv[++i];
        char *end;
        if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--corpus")) corpus = v;
        else if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--per-class") || !strcmp(a, "--seed")) {
            long x = strtol(v, &end, 10);
            if (*end || end == v || x < 1 || x > 1000000) return fail("--per-class and --seed need a positive integer (probe-tasks)");
            *(!strcmp(a, "--seed") ? &seed : &per_class) = x;
        } else {
            return cli_errorf("unknown option '%s' (probe-tasks; see metascope --help)", a);
        }
    }
    if (!out) return fail("probe-tasks needs --out DIR (probe-tasks)");
    char dc[4096], dm[4096];
    snprintf(dc, sizeof dc, "%s/corpus", ms_assets_dir());
    snprintf(dm, sizeof dm, "%s/model", ms_assets_dir());
    tokenizer *tok = tok_load_dir(model ? model : dm);
    if (!tok) return fail(ms_geterr());
    double t0 = ms_now();
    int rc = probe_tasks_build(corpus ? corpus : dc, tok, (int)per_class, (uint64_t)seed, out, log_line, NULL);
    tok_free(tok);
    if (rc) return fail(ms_geterr());
    printf("wrote %s/tasks.json (%.1f s)\n", out, ms_now() - t0);
    return 0;
}
