/* subcommands.h — long-running batch subcommands (metascope NAME ...). */
#ifndef MS_SUBCOMMANDS_H
#define MS_SUBCOMMANDS_H

#include <stdio.h>

/* Returns -1 when argv[1] names no subcommand, else the exit status. */
int run_subcommand(int argc, char **argv);
/* metascope index (sub_index.c) */
int sub_index(int argc, char **argv);
/* metascope probe, probe-tasks (sub_probe.c) */
int sub_probe(int argc, char **argv);
int sub_probe_tasks(int argc, char **argv);
/* metascope label-corpus, distill, label-compare (sub_label.c) */
int sub_label(int argc, char **argv);
/* metascope eval-steer (sub_steer.c) */
int sub_eval_steer(int argc, char **argv);

/* metascope --help's text (main.c); a subcommand's --help prints its lines. */
extern const char *const MS_USAGE;
/* Prints the usage lines of subcommand cmd (and their continuations). */
void usage_of(const char *cmd, FILE *out);

#endif
