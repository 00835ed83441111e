/* frontend.h — the interactive front end entry point. */
#ifndef MS_FRONTEND_H
#define MS_FRONTEND_H

#include "session.h"

/* Interactive command loop on a terminal (GNU readline, history in
 * $XDG_STATE_HOME/metascope/history). Returns the process exit status. */
int repl_run(session *S);

/* The curses explorer (explorer.c): panes over the session, a readline
 * prompt line. Returns the process exit status. */
typedef struct {
    bool no_color;      /* monochrome whatever the terminal can do */
    bool bench_startup; /* exit after the first frame, printing the time since t0 */
    double t0;          /* ms_now() when main started */
} explorer_opts;
int explorer_run(session *S, const explorer_opts *o);

#endif
