/* repl.c — interactive command prompt over GNU readline: history, Tab
 * completion (rlshared.c), Ctrl-C cancels the running command. */
#include "clierr.h"
#include "frontend.h"
#include "rlshared.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <readline/history.h>
#include <readline/readline.h>

static volatile sig_atomic_t g_cancel;

static void on_sigint(int sig) {
    (void)sig;
    g_cancel = 1;
}

/* Ctrl-C at the prompt: drop the line being edited and start a fresh one,
 * as shells do. Runs from readline's event loop, not the signal handler. */
static int on_rl_signal(void) {
    if (g_cancel) {
        g_cancel = 0;
        rl_replace_line("", 0);
        printf("\n");
        rl_on_new_line();
        rl_redisplay();
    }
    return 0;
}

int repl_run(session *S) {
    char *hist = rls_history_load();
    rls_completion_init(S, NULL);
    rl_signal_event_hook = on_rl_signal;
    struct sigaction sa = {0};
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESTART; /* a write to the terminal must not fail with EINTR */
    sigaction(SIGINT, &sa, NULL);
    S->cancel = &g_cancel;
    /* with --json, stdout carries only JSON objects: the greeting goes to stderr */
    FILE *say = S->json ? stderr : stdout;
    fprintf(say, "metascope %s — type 'help' for commands, 'quit' or Ctrl-D to leave.\n", MS_VERSION);
    if (!S->has_model) fprintf(say, "No model loaded: use 'load model PATH'.\n");
    char *line;
    while (!S->quit && (line = readline("metascope> "))) {
        /* readline may leave its own SIGINT handler in place between calls
         * (it only records the signal until the next call): commands need
         * ours, so Ctrl-C reaches a running generation at once. */
        sigaction(SIGINT, &sa, NULL);
        g_cancel = 0;
        if (*line) {
            add_history(line);
            int rc = sess_exec_multi(S, line);
            progress_clear();
            bool cancelled = g_cancel || (rc && !strncmp(ms_geterr(), "cancelled", 9)); /* not an error */
            if (cancelled && S->json) cli_cancelled(rc && !strncmp(ms_geterr(), "cancelled", 9) ? ms_geterr() : line, true, stdout);
            else if (cancelled) printf("(cancelled)\n");
            else if (rc && S->json) cli_json = true, cli_error_at(ms_geterr(), NULL, 0);
            else if (rc) fprintf(stdout, "error: %s\n", ms_geterr());
        }
        free(line);
        fflush(stdout);
    }
    if (!S->quit) printf("\n");
    rls_history_save(hist);
    return 0;
}
