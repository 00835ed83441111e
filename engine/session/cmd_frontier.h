/* cmd_frontier.h — the steering frontier sweep (the `frontier` command and
 * `metascope eval-steer`) (DESIGN.md "Evaluations"): for each
 * concept (a corpus category) and steering source, each alpha and each
 * method (plain addition, +GLP projection at u = 0.3, 0.5, 0.7), greedy
 * continuations of the same N held-out neutral prefixes; fluency and
 * concept score per point with bootstrap intervals, the Pareto-optimal
 * points and each method's frontier area (frontier.h).
 *
 * Prefixes: the first prefix_tokens tokens (BOS first when used) of N
 * documents of the corpus' test split, drawn (seeded) from documents whose
 * category is none of the concepts'.
 * Sources: "diffmean", the concept's DiffMean direction at the GLP's layer
 * (exactly what 'vec NAME diffmean CAT' makes); and, when an SAE of that
 * layer is loaded, "sae:I", the unit-norm decoder row of the latent whose
 * direction has the largest cosine with the DiffMean direction.
 * Alpha is a multiple of the layer's mean residual norm, as in 'steer'.
 * Fluency: mean NLL of the continuation under the unsteered model; concept:
 * fraction of its words in the category's lexicon (lexicon.h). End-of-text
 * does not stop a continuation. */
#ifndef MS_CMD_FRONTIER_H
#define MS_CMD_FRONTIER_H

#include "frontier.h"
#include "session.h"

typedef void (*frontier_progress_fn)(void *ctx, int done, int total);

/* Parses the options (argv[0] names the command in errors), runs the sweep,
 * prints the tables and plots through the session, writes OUT/frontier.csv
 * when --out is given, and keeps the result in S->frontier_last. */
int frontier_exec(session *S, int argc, char **argv, frontier_progress_fn progress, void *ctx);

#endif
