/* cmd_label.h — token labels over a session: the batch subcommands
 * `label-corpus`, `distill` and `label-compare` (argv[0] names which), and
 * the session word `concept` (define, list, show a concept on the prompt). */
#ifndef MS_CMD_LABEL_H
#define MS_CMD_LABEL_H

#include "cmd.h"

int label_exec(session *S, int argc, char **argv, void (*progress)(void *, const char *), void *ctx);
int cmd_concept(session *S, words *w);

#endif
