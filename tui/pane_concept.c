/* pane_concept.c — the adapter between the active concept (cmd_concept.h)
 * and the examples pane: its highest-scoring held-out tokens as rows shaped
 * like a unit's top examples, the token centred in its context. */
#include "cmd.h"
#include "panes.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONCEPT_ROWS 200 /* the list's length: the best of a few thousand held-out tokens */

int cxa_examples(session *S, ixa_example **ex, int *n, char *why, size_t cap) {
    concept_info ci;
    *ex = NULL, *n = 0;
    if (!concept_active(S, &ci))
        return snprintf(why, cap, "no active concept — concept NAME UNITS (e.g. concept flower mlp:3:661>2) or concept "
                        "NAME --auto CATEGORY; c shows the selected unit's examples"), -1;
    if (!ci.trained)
        return snprintf(why, cap, "concept %s: %s", ci.name,
                        ci.why[0] ? ci.why : "its classifier is not trained yet ('concept NAME' trains it)"), -1;
    int m = concept_n_hits(S);
    m = m < CONCEPT_ROWS ? m : CONCEPT_ROWS;
    ixa_example *x = xcalloc((size_t)(m ? m : 1), sizeof *x);
    for (int i = 0; i < m; i++) {
        concept_hit h;
        if (concept_hit_get(S, i, &h)) break;
        x[i].ntok = h.n, x[i].peak = h.peak, x[i].max = 1, x[i].mark = h.label;
        x[i].tok = xmalloc(sizeof *x[i].tok * (size_t)h.n);
        x[i].val = xmalloc(sizeof(float) * (size_t)h.n);
        for (int k = 0; k < h.n; k++) {
            cmd_token_text(S, h.ids[k], x[i].tok[k], sizeof x[i].tok[k]);
            x[i].val[k] = h.scores[k];
        }
        *n = i + 1;
    }
    *ex = x;
    if (!*n) return free(x), *ex = NULL, snprintf(why, cap, "concept %s: no held-out tokens", ci.name), -1;
    return 0;
}
