/* pane_index.c — adapters between the top-activating examples index
 * (engine/index*.c, cmd_index.c) and the explorer's two index panes. Each
 * returns 0 with malloc'd rows, or -1 with why[] telling the user what to do.
 * They are the only place the explorer reads the index.
 * TODO(index): fill ixa_latents and ixa_examples in from ms_index once its
 * reading API settles; the panes, sorting and filtering already work. */
#include "panes.h"

#include <stdio.h>
#include <stdlib.h>

#define NO_INDEX "no index loaded — metascope index --out DIR ..., then load index DIR"

/* Every SAE latent: id, automatic or user label, density, max activation. */
int ixa_latents(session *S, ixa_latent **rows, int *n, char *why, size_t cap) {
    *rows = NULL, *n = 0;
    if (!S->index) return snprintf(why, cap, "%s", NO_INDEX), -1;
    snprintf(why, cap, "index loaded; the latents list is not wired to it yet");
    return -1;
}

/* The top examples of `unit`: tokens of each context with per-token values
 * (max is the example's activating value, for highlighting by strength). */
int ixa_examples(session *S, const char *unit, ixa_example **ex, int *n, char *why, size_t cap) {
    *ex = NULL, *n = 0;
    if (!S->index) return snprintf(why, cap, "%s", NO_INDEX), -1;
    snprintf(why, cap, "index loaded; top examples of %s are not wired to it yet", unit);
    return -1;
}

void ixa_free_examples(ixa_example *ex, int n) {
    for (int i = 0; i < n; i++) free(ex[i].tok), free(ex[i].val);
    free(ex);
}
