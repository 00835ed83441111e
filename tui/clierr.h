/* clierr.h — how the command line reports an error or a cancel: a line
 * "error: ..." on stderr or, when --json was asked for, one JSON object on
 * stdout, in order with the results (the exit status is the same either way). */
#ifndef MS_CLIERR_H
#define MS_CLIERR_H

#include <stdbool.h>
#include <stdio.h>

/* --json is among the arguments (cli_json_args), or the session says json. */
extern bool cli_json;
void cli_json_args(int argc, char **argv);

/* One error; file and line name a script's line when file is not NULL.
 * Returns 2, the batch exit status for an error. */
int cli_error_at(const char *what, const char *file, int line);
int cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Work stopped by Ctrl-C: the engine's message "cancelled (CMD)" (or the
 * command line that ran, named by its first word) as {"cmd": CMD, "cancelled": true} on stdout, or the plain
 * line "cancelled (CMD)" on f. */
void cli_cancelled(const char *msg, bool json, FILE *f);

#endif
