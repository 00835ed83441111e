/* cmd_label.h — token labels over a session: the batch subcommands
 * `label-corpus`, `distill` and `label-compare` (argv[0] names which); the
 * session word `concept` is in cmd_concept.h. */
#ifndef MS_CMD_LABEL_H
#define MS_CMD_LABEL_H

#include "cmd.h"
#include "tlabel.h"

int label_exec(session *S, int argc, char **argv, void (*progress)(void *, const char *), void *ctx);
/* The session's models for labelling, at the session's layer. */
tl_models sess_label_models(session *S);
/* --expand none | word | window:N (N in 1..16). */
int label_parse_expand(const char *s, int *expand, int *window, const char *cmd);

#endif
