/* index_label.c — automatic labels of units from their top examples: the
 * corpus category most of them come from, else the words over-represented in
 * their windows against the index's own token frequencies. A guess to start
 * from, always shown as "(auto)". */
#include "index_stats.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LABEL_WORDS 3

static bool is_word(const tokenizer *tok, int id) {
    size_t n;
    const char *b = tok_bytes(tok, id, &n);
    if (!b || n < 4 || b[0] != ' ') return false; /* a whole word starts with its space */
    b++, n--;
    for (size_t i = 0; i < n; i++)
        if (!isalpha((unsigned char)b[i])) return false;
    return true;
}

void ix_labeler_init(ix_labeler *L, const ms_index *ix, const tokenizer *tok) {
    L->ix = ix, L->tok = tok;
    L->freq = xcalloc((size_t)ix->vocab, sizeof(double));
    L->word = xcalloc((size_t)ix->vocab, sizeof(bool));
    for (int v = 0; v < ix->vocab; v++) L->word[v] = is_word(tok, v);
    for (int s = 0; s < ix->n_seg; s++)
        for (int p = 1; p < ix->seg_len[s]; p++) L->freq[ix->stream[ix->seg_start[s] + p]] += 1.0 / (double)ix->tokens;
}

void ix_labeler_free(ix_labeler *L) {
    free(L->freq), free(L->word);
    memset(L, 0, sizeof *L);
}

static char *category_label(const ix_labeler *L, const ix_record *r) {
    const ms_index *ix = L->ix;
    int best = -1, best_n = 0;
    int *n = xcalloc((size_t)ix->n_cat + 1, sizeof(int));
    for (int i = 0; i < r->n_top; i++) {
        int c = ix->seg_cat[r->ex[i].seg];
        if (c >= 0 && ++n[c] > best_n) best_n = n[c], best = c;
    }
    free(n);
    if (best < 0 || 2 * best_n < r->n_top) return NULL;
    char buf[256];
    snprintf(buf, sizeof buf, "%s (%d/%d)", ix->categories[best], best_n, r->n_top);
    return xstrdup(buf);
}

typedef struct {
    int id, count;
    double score;
} word_score;

static int by_score(const void *a, const void *b) {
    const word_score *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return x->id - y->id;
}

/* Words counted once per example window; score = count / expected count. */
static char *word_label(const ix_labeler *L, const ix_record *r) {
    const ms_index *ix = L->ix;
    word_score *w = NULL;
    int nw = 0, total = 0;
    for (int i = 0; i < r->n_top; i++) {
        const ix_example *e = &r->ex[i];
        for (int p = e->w0; p < e->w0 + e->n; p++) {
            int id = ix->stream[ix->seg_start[e->seg] + p], j = 0;
            total++;
            if (!L->word[id]) continue;
            while (j < nw && w[j].id != id) j++;
            if (j == nw) w = xrealloc(w, sizeof *w * (size_t)(nw + 1)), w[nw++] = (word_score){id, 0, 0};
            w[j].count++;
        }
    }
    for (int j = 0; j < nw; j++) w[j].score = w[j].count < 2 ? 0 : w[j].count / (total * L->freq[w[j].id] + 1.0);
    if (nw) qsort(w, (size_t)nw, sizeof *w, by_score);
    char buf[256] = "";
    size_t o = 0;
    for (int j = 0; j < nw && j < LABEL_WORDS && w[j].score > 1; j++) {
        size_t n;
        const char *b = tok_bytes(L->tok, w[j].id, &n);
        if (b[0] == ' ') b++, n--;
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%.*s", j ? ", " : "", (int)n, b);
    }
    free(w);
    return o ? xstrdup(buf) : NULL;
}

char *ix_auto_label(const ix_labeler *L, const ix_record *r) {
    if (!r->n_top || !r->n_pos) return xstrdup("");
    char *c = category_label(L, r);
    if (c) return c;
    char *w = word_label(L, r);
    return w ? w : xstrdup("");
}
