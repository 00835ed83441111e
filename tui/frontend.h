/* frontend.h — the interactive front end entry point. */
#ifndef MS_FRONTEND_H
#define MS_FRONTEND_H

#include "session.h"

#include <stdio.h>

/* Interactive command loop on a terminal (GNU readline, history in
 * $XDG_STATE_HOME/metascope/history). Returns the process exit status. */
int repl_run(session *S);
/* Erases the progress line main.c shows on a terminal's stderr, if any. */
void progress_clear(void);

/* The curses explorer (explorer.c): panes over the session, a readline
 * prompt line. Returns the process exit status. */
typedef struct {
    bool no_color;      /* monochrome whatever the terminal can do */
    bool bench_startup; /* exit after the first frame, printing the time since t0 */
    double t0;          /* ms_now() when main started */
    const char *demo;   /* a demo script to play first (demo.c), or NULL */
    const char *warning; /* for the status line at start (a bundled asset that did not load), or NULL */
} explorer_opts;
int explorer_run(session *S, const explorer_opts *o);

/* Teaching demos (demo.c): $METASCOPE_ASSETS/demos/NAME.ms, one command per
 * line, "#:" lines are captions. demo_path: 0 when NAME exists (its path in
 * out); demo_list prints the names with their first captions; demo_read gives
 * the captions and commands (blank lines and other comments dropped). */
int demo_path(const char *name, char *out, size_t cap);
void demo_list(FILE *f);
int demo_read(const char *path, char ***lines, int *n);

#endif
