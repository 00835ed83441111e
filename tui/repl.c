/* repl.c — interactive command prompt over GNU readline: history, Tab
 * completion of command names and paths, Ctrl-C cancels the running command. */
#include "frontend.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

static char *history_path(void) {
    const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    char *base;
    if (state && *state) base = xstrdup(state);
    else if (home && *home) base = ms_path_join(home, ".local/state");
    else return NULL;
    char *dir = ms_path_join(base, "metascope");
    free(base);
    for (char *p = dir + 1; *p; p++) /* mkdir -p: a fresh home lacks ~/.local */
        if (*p == '/') {
            *p = 0;
            mkdir(dir, 0755);
            *p = '/';
        }
    mkdir(dir, 0700);
    char *path = ms_path_join(dir, "history");
    free(dir);
    return path;
}

static char *command_generator(const char *text, int state) {
    static int i, n;
    static const sess_cmd_info *cmds;
    if (!state) {
        i = 0;
        cmds = sess_commands(&n);
    }
    while (i < n) {
        const char *name = cmds[i++].name;
        if (strncmp(name, text, strlen(text)) == 0) return xstrdup(name);
    }
    return NULL;
}

static char **complete(const char *text, int start, int end) {
    (void)end;
    if (start == 0) return rl_completion_matches(text, command_generator);
    return NULL; /* fall back to file names */
}

int repl_run(session *S) {
    char *hist = history_path();
    using_history();
    if (hist) read_history(hist);
    rl_readline_name = "metascope";
    rl_attempted_completion_function = complete;
    rl_signal_event_hook = on_rl_signal;
    struct sigaction sa = {0};
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESTART; /* a write to the terminal must not fail with EINTR */
    sigaction(SIGINT, &sa, NULL);
    S->cancel = &g_cancel;
    printf("metascope %s — type 'help' for commands, 'quit' or Ctrl-D to leave.\n", MS_VERSION);
    if (!S->has_model) printf("No model loaded: use 'load model PATH'.\n");
    char *line;
    while (!S->quit && (line = readline("metascope> "))) {
        /* readline may leave its own SIGINT handler in place between calls
         * (it only records the signal until the next call): commands need
         * ours, so Ctrl-C reaches a running generation at once. */
        sigaction(SIGINT, &sa, NULL);
        g_cancel = 0;
        if (*line) {
            add_history(line);
            if (sess_exec_multi(S, line)) fprintf(stdout, "error: %s\n", ms_geterr());
            if (g_cancel) printf("(cancelled)\n");
        }
        free(line);
        fflush(stdout);
    }
    if (!S->quit) printf("\n");
    if (hist) {
        if (write_history(hist) == 0) history_truncate_file(hist, 2000);
        free(hist);
    }
    return 0;
}
