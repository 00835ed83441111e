/* pane_index.c — adapters between the top-activating examples index
 * (engine/index*.c) and the explorer's two index panes, through the index's
 * reader API (never printed text). Each returns 0 with malloc'd rows, or -1
 * with why[] telling the user what to do. They are the only place the
 * explorer reads the index. */
#include "cmd.h"
#include "index.h"
#include "panes.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_INDEX "no index loaded — metascope index --out DIR ..., then load index DIR"

/* What each latent's record says and never changes for a loaded index: the
 * automatic label and the top output tokens. Reading every record takes tens
 * of ms, so it is done once per index (user labels are read fresh). */
typedef struct {
    char label[64], top[160];
} lat_text;
static struct {
    const ms_index *ix;
    const tokenizer *tok;
    unsigned gen;
    lat_text *t;
    int n;
} g_lat;

static void top_tokens(session *S, const ix_record *r, char *out, size_t cap) {
    size_t o = 0;
    out[0] = 0;
    for (int i = 0; i < r->n_plus && o < cap; i++) {
        char piece[48];
        cmd_token_text(S, r->logits[i].token, piece, sizeof piece);
        o += (size_t)snprintf(out + o, cap - o, "%s\"%s\"", i ? " " : "", piece);
    }
}

static int lat_cache(session *S, const ix_group *g, char *why, size_t cap) {
    if (g_lat.ix == S->index && g_lat.gen == S->index_gen && g_lat.tok == S->model.tok && g_lat.n == g->count)
        return 0;
    free(g_lat.t);
    g_lat.ix = NULL, g_lat.n = 0;
    g_lat.t = xcalloc((size_t)g->count, sizeof *g_lat.t);
    for (int i = 0; i < g->count; i++) {
        ix_record r;
        if (index_read(S->index, g->first + i, &r)) return snprintf(why, cap, "%s", ms_geterr()), -1;
        snprintf(g_lat.t[i].label, sizeof g_lat.t[i].label, "%s", r.auto_label ? r.auto_label : "");
        top_tokens(S, &r, g_lat.t[i].top, sizeof g_lat.t[i].top);
        index_record_free(&r);
    }
    g_lat.ix = S->index, g_lat.gen = S->index_gen, g_lat.tok = S->model.tok, g_lat.n = g->count;
    return 0;
}

/* Every SAE latent: id, user or automatic label, density, max, top output
 * tokens (view.c sorts and filters them as the latents command does). */
int ixa_latents(session *S, ixa_latent **rows, int *n, char *why, size_t cap) {
    *rows = NULL, *n = 0;
    if (!S->index) return snprintf(why, cap, "%s", NO_INDEX), -1;
    const ms_index *ix = S->index;
    const ix_group *g = index_find_group(ix->groups, ix->n_groups, IX_SAE);
    if (!g) return snprintf(why, cap, "the index holds no SAE latents (metascope index --units sae ...)"), -1;
    if (lat_cache(S, g, why, cap)) return -1;
    ixa_latent *l = xcalloc((size_t)g->count, sizeof *l);
    for (int i = 0; i < g->count; i++) {
        const char *user = ix->labels[g->first + i];
        l[i].id = i;
        l[i].density = ix->table[g->first + i].density, l[i].max = ix->table[g->first + i].max;
        l[i].auto_label = !user;
        snprintf(l[i].label, sizeof l[i].label, "%s", user ? user : g_lat.t[i].label);
        memcpy(l[i].top, g_lat.t[i].top, sizeof l[i].top);
    }
    *rows = l, *n = g->count;
    return 0;
}

/* The unit's index id, or -1 with a message naming what the index holds. */
static int example_unit(const ms_index *ix, const char *name, char *why, size_t cap) {
    int u = index_unit_id(ix->groups, ix->n_groups, name, "examples");
    if (u >= 0) return u;
    char held[256];
    index_units_text(ix->groups, ix->n_groups, held, sizeof held);
    snprintf(why, cap, "%s is not in the index, which holds %s — select one of those (Enter on a latents row, "
             "or select UNIT)", name, held);
    return -1;
}

static void fill_example(session *S, const ix_example *e, ixa_example *x) {
    const ms_index *ix = S->index;
    x->ntok = e->n, x->max = e->value, x->peak = e->pos - e->w0, x->mark = -1;
    x->tok = xmalloc(sizeof *x->tok * (size_t)e->n);
    x->val = xmalloc(sizeof(float) * (size_t)e->n);
    for (int j = 0; j < e->n; j++) {
        cmd_token_text(S, ix->stream[ix->seg_start[e->seg] + e->w0 + j], x->tok[j], sizeof x->tok[j]);
        x->val[j] = e->vals[j];
    }
}

/* The top examples of unit `name`: tokens of each context with per-token values
 * (max is the example's activating value, for highlighting by strength). */
int ixa_examples(session *S, const char *name, ixa_example **ex, int *n, char *why, size_t cap) {
    *ex = NULL, *n = 0;
    if (!S->index) return snprintf(why, cap, "%s", NO_INDEX), -1;
    int u = example_unit(S->index, name, why, cap);
    ix_record r;
    if (u < 0) return -1;
    if (index_read(S->index, u, &r)) return snprintf(why, cap, "%s", ms_geterr()), -1;
    ixa_example *x = xcalloc((size_t)(r.n_top ? r.n_top : 1), sizeof *x);
    for (int i = 0; i < r.n_top; i++) fill_example(S, &r.ex[i], &x[i]);
    *ex = x, *n = r.n_top;
    if (!r.n_top) snprintf(why, cap, "%s never fired on the index's %ld tokens", name, S->index->tokens);
    index_record_free(&r);
    if (!*n) return free(x), *ex = NULL, -1;
    return 0;
}

void ixa_free_examples(ixa_example *ex, int n) {
    for (int i = 0; i < n; i++) free(ex[i].tok), free(ex[i].val);
    free(ex);
}
