/* lexicon.c — concept lexicons from category labels (see lexicon.h). */
#include "lexicon.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ word set */

void ws_init(wordset *s) { memset(s, 0, sizeof *s); }

void ws_free(wordset *s) {
    for (int i = 0; i < s->n; i++) free(s->word[i]);
    free(s->word);
    strmap_free(&s->map);
    memset(s, 0, sizeof *s);
}

int ws_find(wordset *s, const char *w, size_t len, int add) {
    const int *v = strmap_get(&s->map, w, len);
    if (v || !add) return v ? *v : -1;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->word = xrealloc(s->word, sizeof(char *) * (size_t)s->cap);
    }
    s->word[s->n] = xstrndup(w, len); /* the map keeps a pointer to this copy */
    bool added;
    strmap_put(&s->map, s->word[s->n], len, s->n, &added);
    return s->n++;
}

/* ------------------------------------------------------------ words */

static int letter(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80; }

void lex_words(const char *text, size_t n, word_fn fn, void *ctx) {
    char buf[64];
    for (size_t i = 0; i < n;) {
        if (!letter((unsigned char)text[i])) {
            i++;
            continue;
        }
        size_t j = i, k = 0;
        for (; j < n && letter((unsigned char)text[j]); j++)
            if (k < sizeof buf) buf[k++] = (char)((text[j] >= 'A' && text[j] <= 'Z') ? text[j] + 32 : text[j]);
        if (j - i >= 2 && j - i <= sizeof buf) fn(ctx, buf, k); /* longer runs are not words */
        i = j;
    }
}

/* ------------------------------------------------------------ lexicon */

const char *lex_resolve_category(const corpus_split *s, const char *name, const char *where) {
    const char *hit[8];
    int hits = 0;
    size_t ln = strlen(name);
    for (int i = 0; i < s->n; i++) {
        const char *c = s->docs[i].category;
        if (!c) continue;
        if (!strcmp(c, name)) return c;
        size_t lc = strlen(c);
        if (lc <= ln || (c[lc - ln - 1] != '.' && c[lc - ln - 1] != '/') || strcmp(c + lc - ln, name)) continue;
        int seen = 0;
        for (int j = 0; j < hits; j++) seen |= !strcmp(hit[j], c);
        if (!seen && hits < 8) hit[hits++] = c;
    }
    if (hits == 1) return hit[0];
    if (!hits) return ms_seterr("no corpus category '%s'; see assets/corpus/categories.tsv (%s)", name, where), NULL;
    char list[512] = "";
    for (int j = 0; j < hits; j++) {
        size_t at = strlen(list);
        snprintf(list + at, sizeof list - at, "%s%s", j ? ", " : "", hit[j]);
    }
    return ms_seterr("category '%s' is ambiguous: %s (%s)", name, list, where), NULL;
}

typedef struct {
    wordset all;
    int *df_pos, *df_neg, *last; /* per word of `all` */
    int cap, doc, side;          /* side: 1 pos, 0 neg */
} df_count;

static void count_word(void *ctx, const char *w, size_t len) {
    df_count *c = ctx;
    int k = ws_find(&c->all, w, len, 1);
    if (k >= c->cap) {
        int cap = c->cap ? 2 * c->cap : 4096;
        c->df_pos = xrealloc(c->df_pos, sizeof(int) * (size_t)cap);
        c->df_neg = xrealloc(c->df_neg, sizeof(int) * (size_t)cap);
        c->last = xrealloc(c->last, sizeof(int) * (size_t)cap);
        for (int i = c->cap; i < cap; i++) c->df_pos[i] = c->df_neg[i] = 0, c->last[i] = -1;
        c->cap = cap;
    }
    if (c->last[k] == c->doc) return; /* document frequency: once per document */
    c->last[k] = c->doc;
    (c->side ? c->df_pos : c->df_neg)[k]++;
}

int lex_build(lexicon *L, const corpus_split *s, const char *category, const char *against) {
    memset(L, 0, sizeof *L);
    snprintf(L->category, sizeof L->category, "%s", category);
    snprintf(L->against, sizeof L->against, "%s", against ? against : "");
    df_count c = {.cap = 0};
    ws_init(&c.all);
    for (int i = 0; i < s->n; i++) {
        const char *cat = s->docs[i].category ? s->docs[i].category : "";
        int pos = !strcmp(cat, category);
        if (!pos && L->against[0] && strcmp(cat, L->against)) continue;
        c.doc = i, c.side = pos;
        lex_words(s->docs[i].text, s->docs[i].len, count_word, &c);
        *(pos ? &L->pos_docs : &L->neg_docs) += 1;
    }
    ws_init(&L->words);
    for (int k = 0; k < c.all.n && L->pos_docs && L->neg_docs; k++) {
        double fp = c.df_pos[k] / (double)L->pos_docs, fn = (c.df_neg[k] + 1.0) / (L->neg_docs + 1.0);
        if (c.df_pos[k] >= LEX_MIN_DOCS && fp >= LEX_MIN_RATIO * fn)
            ws_find(&L->words, c.all.word[k], strlen(c.all.word[k]), 1);
    }
    ws_free(&c.all);
    free(c.df_pos), free(c.df_neg), free(c.last);
    if (!L->pos_docs) return ms_seterr("category '%s' has no documents (lexicon)", category);
    if (!L->neg_docs) return ms_seterr("nothing to contrast '%s' with (lexicon)", category);
    return 0;
}

void lex_free(lexicon *L) { ws_free(&L->words); }

typedef struct {
    const lexicon *L;
    int n, hit;
} score_ctx;

static void score_word(void *ctx, const char *w, size_t len) {
    score_ctx *c = ctx;
    c->n++;
    c->hit += ws_find((wordset *)&c->L->words, w, len, 0) >= 0;
}

double lex_score(const lexicon *L, const char *text, size_t n, int *n_words) {
    score_ctx c = {L, 0, 0};
    lex_words(text, n, score_word, &c);
    if (n_words) *n_words = c.n;
    return c.n ? (double)c.hit / c.n : 0.0;
}
