/* main.c — metascope entry point: options, batch mode (-c, script file,
 * commands on stdin), subcommands, and the interactive front end. */
#include "clierr.h"
#include "frontend.h"
#include "ops.h"
#include "pool.h"
#include "session.h"
#include "subcommands.h"
#include "util.h"
#include "wmat.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const MS_USAGE =
    "usage: metascope [OPTIONS] [SCRIPT]\n"
    "       metascope bench --model DIR [--prefill N] [--decode N] [--reps N] [--threads N] [--bandwidth]\n"
    "                       [--matmul-precision highest|medium]\n"
    "       metascope bench --train CONFIG [--steps N] [--threads N]\n"
    "       metascope bench --glp [--d-in N] [--batch N] [--reps N] [--calls N] [--rows N] [--threads N]\n"
    "       metascope bench --sae [--d-in N] [--latents M] [--k K] [--rows N] [--reps N] [--threads N]\n"
    "       metascope train-bpe [--corpus DIR] [--vocab N] --out tokenizer.json\n"
    "       metascope train-lm --config FILE --out DIR [--init MODEL] [--resume] [--max-steps N] [--threads N]\n"
    "       metascope harvest --model DIR --out DIR [--layer L] [--tokens N] [--split S] [--corpus DIR]\n"
    "                         [--shard-tokens N] [--keep-eos] [--resume] [--threads N]\n"
    "       metascope train-glp --acts DIR --config FILE --out DIR [--init GLP | --normalizer FILE] [--resume]\n"
    "                           [--max-steps N] [--threads N]\n"
    "       metascope fisher --acts DIR --out FILE [--model DIR] [--corpus DIR] [--split S] [--windows N] [--rows N]\n"
    "                        [--power P] [--seed N] [--threads N]\n"
    "       metascope eval-lm DIR [--split train|valid|test] [--corpus DIR] [--json]\n"
    "       metascope pack-model SRC --out DST [--f16] [--no-lz4]\n"
    "       metascope pack-glp SRC --out DST [--f16]\n"
    "       metascope eval-glp [--acts DIR] [--glp DIR] [--model DIR] [--n N] [--evals E] [--sampler S] [--rho R] [--json]\n"
    "       metascope eval-glp --delta-lm [--glp DIR] [--model DIR] [--corpus DIR] [--windows N] [--evals E]\n"
    "                          [--sampler euler|heun|midpoint|dpm2m] [--rho R]\n"
    "       metascope train-sae --acts DIR --out DIR [--config FILE] [--latents M] [--k K] [--steps N] [--resume]\n"
    "       metascope eval-sae [--sae DIR] [--acts DIR] [--rows N] [--delta-lm [--glp DIR] [--model DIR]]\n"
    "                          [--sampler S] [--evals E] [--rho R] [--json]\n"
    "       metascope scaling --acts DIR --out DIR [--budgets DIR] [--with-default] [--eval-rows N] [--eval-acts DIR]\n"
    "                         [--normalizer FILE]\n"
    "       metascope eval-recon [--acts DIR] [--glp DIR] [--sae DIR] [--model DIR] [--n N] [--windows N]\n"
    "                            [--sampler S] [--evals E] [--rho R] [--u U] [--draws K] [--fisher [--power P]]\n"
    "                            [--token-prior ACTS [--shrink K]] [--json]\n"
    "       metascope sample N [--evals E] [--sampler S] [--rho R] [--out FILE]\n"
    "       metascope eval-steer [--concepts C,...] [--alphas A,...] [--prefixes N] [--tokens T] [--out DIR]\n"
    "                            [--sampler S] [--evals E] [--rho R]\n"
    "       metascope index --out DIR [--units sae,meta,mlp] [--tokens N] [--model DIR] [--glp DIR] [--sae DIR]\n"
    "                       [--layer L] [--k K] [--before N] [--after N] [--split S] [--corpus DIR] [--threads N]\n"
    "       metascope probe [TASK|PREFIX*|all|list] [--units meta,sae,resid,mlp] [--out DIR] [--tasks N]\n"
    "                       [--per-class N] [--model DIR] [--glp DIR|none] [--sae DIR|none] [--json] [--threads N]\n"
    "       metascope probe add NAME POS_FILE NEG_FILE\n"
    "       metascope probe-tasks --out DIR [--corpus DIR] [--model DIR] [--per-class N] [--seed N]\n"
    "       metascope label-corpus|distill --concept UNITS|--auto CATEGORY [--family F] [--k K] [--category C]\n"
    "                       [--split S] [--docs N] [--expand none|word|window:N] [--layer L] [--radius R] [--out PATH]\n"
    "       metascope label-compare [--categories C,...] [--units meta,sae,resid,mlp] [--k K] [--docs N] [--out DIR]\n"
    "\n"
    "Explore a language model's activations. With no SCRIPT and no -c, commands are\n"
    "read interactively on a terminal, or from standard input otherwise.\n"
    "\n"
    "options:\n"
    "  -c CMDS         run ';'-separated commands, then exit\n"
    "  --json          print one JSON object per command\n"
    "  --model DIR     load this model folder at start (default: the bundled model)\n"
    "  --no-model      start without a model\n"
    "  --threads N     threads, 1..16 (default: all cores)\n"
    "  --matmul-precision highest|medium\n"
    "                  medium: prefill with BF16 weights on the CPU's BF16 dot product\n"
    "                  (activations rounded to BF16; see 'help set')\n"
    "  --plain         on a terminal, a plain readline prompt instead of the explorer\n"
    "  --no-color      monochrome explorer (also when NO_COLOR is set)\n"
    "  --demo NAME     play a teaching demo in the explorer (an unknown NAME lists them)\n"
    "  -h, --help      this help\n"
    "  -V, --version   print the version\n"
    "\n"
    "Type 'help' inside metascope for the commands. Errors print one line\n"
    "'error: ...' and make batch mode exit with status 2.\n";

/* Batch mode and the plain prompt on a terminal: long work (corpus
 * statistics, probe, frontier) shows one progress line on stderr, rewritten
 * in place and erased before the next output. */
static bool g_progress_shown;

static void progress_stderr(void *ctx, const char *line) {
    (void)ctx;
    fprintf(stderr, "\r%s\033[K", line);
    g_progress_shown = true;
}

void progress_clear(void) {
    if (g_progress_shown) fputs("\r\033[K", stderr);
    g_progress_shown = false;
}

static void out_stdout(void *ctx, const char *text, size_t len) {
    (void)ctx;
    progress_clear();
    fwrite(text, 1, len, stdout);
}

/* On a terminal, generated text must not drive it: a model can emit ESC
 * sequences or other control bytes that would move the cursor, switch
 * character sets or hide later output. They are shown as \xHH instead;
 * newlines and tabs pass. Pipes and files get the exact bytes. */
static void out_terminal(void *ctx, const char *text, size_t len) {
    (void)ctx;
    progress_clear();
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i], c1 = i + 1 < len ? (unsigned char)text[i + 1] : 0;
        bool c0 = c < 0x20 && c != '\n' && c != '\t';
        bool c1ctl = c == 0xc2 && c1 >= 0x80 && c1 <= 0x9f; /* U+0080..U+009F, e.g. CSI */
        if (!c0 && c != 0x7f && !c1ctl) continue;
        fwrite(text + start, 1, i - start, stdout);
        if (c1ctl) fprintf(stdout, "\\u%04x", c1), i++;
        else fprintf(stdout, "\\x%02x", c);
        start = i + 1;
    }
    fwrite(text + start, 1, len - start, stdout);
}

/* One error, after any progress line is gone (clierr.c: plain on stderr, or
 * {"error": ...} on stdout under --json). Status 2. */
static int fail_at(const char *what, const char *file, int line) {
    progress_clear();
    return cli_error_at(what, file, line);
}

static int fail(const char *what) { return fail_at(what, NULL, 0); }

/* Batch mode: the first Ctrl-C stops the running command (long ones notice
 * within a step) and the batch after it; a second one kills as usual. */
static volatile sig_atomic_t g_cancel;

static void on_sigint(int sig) {
    (void)sig;
    g_cancel = 1;
}

static void batch_signals(session *S) {
    struct sigaction sa = {0};
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESTART | SA_RESETHAND;
    sigaction(SIGINT, &sa, NULL);
    S->cancel = &g_cancel;
}

/* One line of ';'-separated commands; stops at the first error (reported,
 * naming the script's line when name is given) or after a cancel (reported
 * as cancelled, not as an error). Returns the exit status: 0, 2 or 130. */
static int exec_line(session *S, const char *line, const char *name, int lineno) {
    char *cmd;
    while (!S->quit && !g_cancel && (cmd = sess_next_command(&line))) {
        char w0[32] = "";
        sscanf(cmd, " %31s", w0);
        int rc = sess_exec(S, cmd);
        free(cmd);
        fflush(stdout);
        cli_json = S->json; /* 'set json on' turns the errors into objects too */
        if (g_cancel) {
            progress_clear();
            cli_cancelled(rc && !strncmp(ms_geterr(), "cancelled", 9) ? ms_geterr() : w0, S->json, stderr);
            return 130;
        }
        if (rc) return fail_at(ms_geterr(), name, lineno);
    }
    return 0;
}

/* Before the explorer's first frame: what is loading, on the terminal's
 * normal screen (the explorer's alternate screen then covers it). */
static void loading(bool on, const char *what) {
    if (!on) return;
    fprintf(stderr, "\r\033[Kmetascope: loading %s...", what);
    fflush(stderr);
}

/* The bundled GLP, SAE and index are optional: one that does not load (a
 * damaged file, too little memory) costs a one-line warning on stderr (and
 * in the explorer's status line: the first one, in warn) and the session
 * goes on with what it has. */
static void load_optional(session *S, bool say, const char *what, const char *dir,
                          int (*fn)(session *, const char *), char *warn, size_t cap) {
    loading(say, what);
    if (!ms_is_dir(dir) || !fn(S, dir)) return;
    progress_clear();
    if (say) fprintf(stderr, "\r\033[K");
    char line[1024];
    snprintf(line, sizeof line, "warning: %s was not loaded, going on without it: %s", what, ms_geterr());
    fprintf(stderr, "%s\n", line);
    if (!warn[0]) snprintf(warn, cap, "%s", line);
}

/* Runs commands from a stream, one line each; stops at the first error or
 * a cancel. */
static int run_stream(session *S, FILE *f, const char *name) {
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0;
    while (!rc && !S->quit && !g_cancel && getline(&line, &cap, f) >= 0) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        rc = exec_line(S, line, name, lineno);
    }
    free(line);
    return rc;
}

static const char *default_model(void) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/model", ms_assets_dir());
    return ms_is_dir(path) ? path : NULL;
}

/* --demo NAME: its path, or an error listing the demos. */
static int demo_check(const char *name, bool other, char *path, size_t cap) {
    if (other) return fail("--demo plays on its own, without -c or a script (options)");
    if (!demo_path(name, path, cap)) return 0;
    cli_errorf("no demo '%s' (options)", name);
    demo_list(stderr);
    return 2;
}

static int int_arg(const char *s, int lo, int hi, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || end == s || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

/* "metascope sample N [--evals E] [--sampler S] [--out FILE]" is the batch command
 * `sample` on the bundled assets: joins argv[1..] into one command line. */
static char *sample_line(int argc, char **argv) {
    size_t n = 1;
    for (int i = 1; i < argc; i++) n += strlen(argv[i]) + 3;
    char *line = xmalloc(n), *p = line;
    for (int i = 1; i < argc; i++) p += sprintf(p, i > 1 ? " \"%s\"" : "%s", argv[i]);
    return line;
}

int main(int argc, char **argv) {
    cli_json_args(argc, argv); /* before anything can fail */
    int sub = run_subcommand(argc, argv);
    if (sub >= 0) return sub;
    const char *cmds = NULL, *script = NULL, *model = NULL, *demo = NULL;
    char *sample = argc > 1 && !strcmp(argv[1], "sample") ? sample_line(argc, argv) : NULL;
    if (sample) cmds = sample, argc = 1; /* no further options */
    explorer_opts xo = {.t0 = ms_now()};
    bool json = false, no_model = false, plain = false;
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-c")) {
            if (i + 1 >= argc) return fail("-c needs a value (options)");
            cmds = argv[++i];
        }
        else if (!strcmp(a, "--json")) json = true;
        else if (!strcmp(a, "--demo")) {
            if (i + 1 >= argc) return fail("--demo needs a name (options)");
            demo = argv[++i];
        }
        else if (!strcmp(a, "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(a, "--no-model")) no_model = true;
        else if (!strcmp(a, "--plain")) plain = true;
        else if (!strcmp(a, "--no-color")) xo.no_color = true;
        else if (!strcmp(a, "--bench-startup")) xo.bench_startup = true; /* bench/explorer.sh */
        else if (!strcmp(a, "--threads") && i + 1 < argc) {
            if (int_arg(argv[++i], 1, POOL_MAX_THREADS, &threads)) return cli_errorf("--threads takes 1..%d (options)", POOL_MAX_THREADS);
        } else if (!strcmp(a, "--matmul-precision") && i + 1 < argc) {
            wm_precision p;
            if (wm_precision_parse(argv[++i], &p)) return cli_errorf("--matmul-precision takes highest or medium (options)");
            wmat_set_precision(p);
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(MS_USAGE, stdout);
            return 0;
        } else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
            printf("metascope %s\n", MS_VERSION);
            return 0;
        } else if (a[0] == '-' && a[1]) {
            return cli_errorf("unknown option '%s' (see metascope --help)", a);
        } else if (!script) script = a;
        else return fail("more than one script given (options)");
    }
    if (cmds && script) return fail("give either -c CMDS or a script, not both (options)");
    char demo_file[4096];
    if (demo && demo_check(demo, cmds || script, demo_file, sizeof demo_file)) return 2;
    const char *term = getenv("TERM"); /* curses needs a real terminal description */
    bool tty = isatty(0) && isatty(1), curses = tty && !plain && term && *term && strcmp(term, "dumb");
    if (demo && curses) xo.demo = demo_file;
    else if (demo) script = demo_file; /* no explorer: its commands as a batch script */
    if (threads) ms_set_threads(threads);
    session S;
    sess_init(&S, isatty(1) ? out_terminal : out_stdout, NULL);
    S.json = json;
    if (isatty(2)) S.progress = progress_stderr; /* the explorer installs its own */
    bool bundled = !model && !no_model;
    if (bundled) model = default_model();
    int rc = 0;
    char glp[4096], sae[4096], index[4096];
    snprintf(glp, sizeof glp, "%s/glp", ms_assets_dir());
    snprintf(sae, sizeof sae, "%s/sae", ms_assets_dir());
    snprintf(index, sizeof index, "%s/index", ms_assets_dir());
    bool say = curses && !cmds && !script;
    if (model) loading(say, "the model");
    if (model && sess_load_model(&S, model)) {
        rc = fail(ms_geterr());
        goto out;
    }
    static char warn[1024];
    if (model && bundled) {
        load_optional(&S, say, "the GLP", glp, sess_load_glp, warn, sizeof warn);
        load_optional(&S, say, "the SAE", sae, sess_load_sae, warn, sizeof warn);
        load_optional(&S, say, "the index", index, sess_load_index, warn, sizeof warn);
    }
    if (warn[0]) xo.warning = warn;
    if (cmds) {
        batch_signals(&S);
        rc = exec_line(&S, cmds, NULL, 0);
    } else if (script) {
        FILE *f = fopen(script, "r");
        if (!f) {
            char why[4200];
            snprintf(why, sizeof why, "cannot open script (%s)", script);
            rc = fail(why);
        } else {
            batch_signals(&S);
            rc = run_stream(&S, f, script);
            fclose(f);
        }
    } else if (tty) {
        if (say) fprintf(stderr, "\r\033[K");
        rc = curses ? explorer_run(&S, &xo) : repl_run(&S);
    }
    else {
        batch_signals(&S);
        rc = run_stream(&S, stdin, "stdin");
    }
out:
    fflush(stdout);
    sess_free(&S);
    free(sample);
    return rc;
}
