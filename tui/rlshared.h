/* rlshared.h — what both readline front ends share (the plain REPL in
 * repl.c and the curses explorer's prompt in rlcurses.c): the history file
 * and Tab completion of commands, units, vector names, settings and paths. */
#ifndef MS_RLSHARED_H
#define MS_RLSHARED_H

#include "session.h"

/* Reads $XDG_STATE_HOME/metascope/history (creating the folder); returns
 * the malloc'd path to save to later, or NULL when there is no home. */
char *rls_history_load(void);
/* Writes the history back (kept to the last 2000 lines) and frees path. */
void rls_history_save(char *path);
/* Installs the completion function over S; extra (NULL-terminated, may be
 * NULL) names front-end-only commands such as the explorer's 'select'. */
void rls_completion_init(session *S, const char *const *extra);

#endif
