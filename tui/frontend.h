/* frontend.h — the interactive front end entry point. */
#ifndef MS_FRONTEND_H
#define MS_FRONTEND_H

#include "session.h"

/* Interactive command loop on a terminal (GNU readline, history in
 * $XDG_STATE_HOME/metascope/history). Returns the process exit status. */
int repl_run(session *S);

#endif
