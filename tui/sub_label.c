/* sub_label.c — `metascope label-corpus`, `distill` and `label-compare`:
 * token labels from concepts, distilled classifiers and the labeller
 * comparison over the bundled (or given) model, GLP and SAE. */
#include "clierr.h"
#include "subcommands.h"
#include "cmd_label.h"
#include "ops.h"
#include "session.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void out_stdout(void *ctx, const char *text, size_t len) {
    (void)ctx;
    fwrite(text, 1, len, stdout);
}

static void to_stderr(void *ctx, const char *line) {
    (void)ctx;
    fprintf(stderr, "%s\n", line);
}

static int load(session *S, const char *dir, const char *def, int (*fn)(session *, const char *)) {
    char d[4096];
    snprintf(d, sizeof d, "%s/%s", ms_assets_dir(), def);
    if (dir && !strcmp(dir, "none")) return 0;
    if (!dir && !ms_is_dir(d)) return 0;
    return fn(S, dir ? dir : d);
}

/* argv[0] is the subcommand; loading options are taken out, the rest goes to
 * label_exec. */
int sub_label(int argc, char **argv) {
    const char *model = NULL, *glp = NULL, *sae = NULL;
    char **rest = calloc((size_t)argc + 1, sizeof(char *));
    int nr = 0;
    rest[nr++] = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], **dst = !strcmp(a, "--model") ? &model : !strcmp(a, "--glp") ? &glp
                                        : !strcmp(a, "--sae") ? &sae : NULL;
        if (dst || !strcmp(a, "--threads")) {
            if (i + 1 >= argc) return free(rest), fprintf(stderr, "error: %s needs a value (%s)\n", a, argv[0]), 2;
            if (dst) *dst = argv[++i];
            else ms_set_threads(atoi(argv[++i]));
        } else rest[nr++] = argv[i];
    }
    session S;
    sess_init(&S, out_stdout, NULL);
    int rc = load(&S, model, "model", sess_load_model) || load(&S, glp, "glp", sess_load_glp) ||
             load(&S, sae, "sae", sess_load_sae) || label_exec(&S, nr, rest, to_stderr, NULL);
    if (rc) cli_error_at(ms_geterr(), NULL, 0);
    fflush(stdout);
    sess_free(&S);
    free(rest);
    return rc ? 2 : 0;
}
