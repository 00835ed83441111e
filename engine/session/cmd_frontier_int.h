/* cmd_frontier_int.h — what cmd_frontier.c and cmd_frontier_out.c share. */
#ifndef MS_CMD_FRONTIER_INT_H
#define MS_CMD_FRONTIER_INT_H

#include "cmd_frontier.h"

typedef struct {
    int *ids, n;
} fr_prefix;

/* Continuations of every prefix for one point. */
typedef struct {
    char **text;
    size_t *len;
    double *fl;
    bool ready;
} fr_cache;

typedef struct {
    session *S;
    const frontier_opts *o;
    const char *cmd;
    frontier_result *res;
    int layer;
    bool sae_ok;          /* an SAE of the steering layer is loaded */
    fr_prefix *pre;
    int n_pre;
    int *gen;             /* [tokens] */
    fr_cache zero[FR_MAX_METHODS], scratch;
    int done, total, generations;
    frontier_progress_fn progress;
    void *progress_ctx;
} fr_run;

/* cmd_frontier_out.c */
void frontier_print(session *S, const frontier_result *r);
int frontier_make_dir(const char *dir);
/* OUT/frontier.csv (points) and OUT/frontier_area.csv. */
int frontier_write_csv(const frontier_result *r, const char *cmd);

#endif
