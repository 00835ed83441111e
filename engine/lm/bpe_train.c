/* bpe_train.c — byte-level BPE training.
 *
 * The text is cut by the GPT-2 pre-tokenizer (special tokens are cut out first
 * and not learned from); equal pre-tokens are counted once with their
 * frequency. Each pair of adjacent symbols keeps a count and the list of words
 * it occurs in, so a merge only visits the words that hold it. A max-heap
 * orders pairs by count, ties by the smaller (bytes of a, bytes of b). Counts
 * only fall for existing pairs, so heap entries may be stale-high: a popped
 * entry whose count is out of date is pushed again with the true count. */
#include "tokenizer.h"
#include "tokenizer_internal.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    int *w;
    int n, cap;
} occ_list;

typedef struct {
    int64_t c;
    int p;
} pent;

typedef struct {
    /* unique pre-tokens ("words") */
    strmap wmap;
    const char **wkey;
    size_t *wlen;
    int64_t *freq;
    int nw, capw;
    int *sym;     /* all words' symbols back to back */
    size_t *off;  /* word w starts at sym[off[w]] */
    int *len;     /* and currently has len[w] symbols */
    int *wstamp;  /* last merge step that visited the word */
    /* tokens */
    char **tb;
    int *tl;
    int ntok, captok;
    strmap tmap;  /* token bytes -> id */
    /* pairs */
    u64map pmap;  /* (a,b) -> pair index */
    int *pa, *pb, *pstamp;
    int64_t *cnt;
    occ_list *occ;
    int np, capp;
    pent *heap;
    size_t nh, caph;
    int *touched; /* pairs whose count rose in this step */
    int ntouched;
    /* merges */
    int *mrg;
    int nm, capm;
} trainer;

static void grow(void **p, int *cap, int need, size_t elem) {
    if (need <= *cap) return;
    *cap = *cap ? *cap * 2 : 1024;
    if (*cap < need) *cap = need;
    *p = xrealloc(*p, xmul((size_t)*cap, elem));
}

/* ---- words ---- */

static void count_word(void *ctx, const char *s, size_t n) {
    trainer *tr = ctx;
    bool added;
    int *v = strmap_put(&tr->wmap, s, n, tr->nw, &added);
    if (added) {
        int cap = tr->capw;
        grow((void **)&tr->wkey, &cap, tr->nw + 1, sizeof(char *));
        cap = tr->capw;
        grow((void **)&tr->wlen, &cap, tr->nw + 1, sizeof(size_t));
        grow((void **)&tr->freq, &tr->capw, tr->nw + 1, sizeof(int64_t));
        tr->wkey[tr->nw] = s;
        tr->wlen[tr->nw] = n;
        tr->freq[tr->nw++] = 0;
    }
    tr->freq[*v]++;
}

/* Pre-tokens of text, skipping occurrences of the special tokens. */
static void count_words(trainer *tr, const pretok *pt, const char *text, size_t len,
                        const char *const *special, int nspecial) {
    size_t start = 0;
    for (size_t i = 0; nspecial && i < len;) {
        size_t best = 0;
        for (int k = 0; k < nspecial; k++) {
            if (text[i] != special[k][0]) continue;
            size_t l = strlen(special[k]);
            if (l > best && l <= len - i && memcmp(text + i, special[k], l) == 0) best = l;
        }
        if (!best) {
            i++;
            continue;
        }
        pretok_run(pt, text + start, i - start, count_word, tr);
        i += best;
        start = i;
    }
    pretok_run(pt, text + start, len - start, count_word, tr);
}

/* ---- tokens ---- */

static int token_id(trainer *tr, const char *s, size_t n) {
    const int *v = strmap_get(&tr->tmap, s, n);
    if (v) return *v;
    int cap = tr->captok;
    grow((void **)&tr->tb, &cap, tr->ntok + 1, sizeof(char *));
    grow((void **)&tr->tl, &tr->captok, tr->ntok + 1, sizeof(int));
    tr->tb[tr->ntok] = xstrndup(s, n);
    tr->tl[tr->ntok] = (int)n;
    bool added;
    strmap_put(&tr->tmap, tr->tb[tr->ntok], n, tr->ntok, &added);
    return tr->ntok++;
}

static int cmp_bytes(const trainer *tr, int a, int b) {
    int la = tr->tl[a], lb = tr->tl[b];
    int c = memcmp(tr->tb[a], tr->tb[b], (size_t)(la < lb ? la : lb));
    return c ? c : (la > lb) - (la < lb);
}

/* ---- pairs ---- */

static int pair_index(trainer *tr, int a, int b) {
    bool added;
    int *v = u64map_put(&tr->pmap, pair_key(a, b), tr->np, &added);
    if (!added) return *v;
    int need = tr->np + 1, cap;
    cap = tr->capp, grow((void **)&tr->pa, &cap, need, sizeof(int));
    cap = tr->capp, grow((void **)&tr->pb, &cap, need, sizeof(int));
    cap = tr->capp, grow((void **)&tr->pstamp, &cap, need, sizeof(int));
    cap = tr->capp, grow((void **)&tr->touched, &cap, need, sizeof(int));
    cap = tr->capp, grow((void **)&tr->cnt, &cap, need, sizeof(int64_t));
    grow((void **)&tr->occ, &tr->capp, need, sizeof(occ_list));
    tr->pa[tr->np] = a;
    tr->pb[tr->np] = b;
    tr->pstamp[tr->np] = 0;
    tr->cnt[tr->np] = 0;
    tr->occ[tr->np] = (occ_list){0};
    return tr->np++;
}

static void occ_add(occ_list *o, int w) {
    if (o->n && o->w[o->n - 1] == w) return;
    grow((void **)&o->w, &o->cap, o->n + 1, sizeof(int));
    o->w[o->n++] = w;
}

/* x ranks above y: higher count, then smaller (bytes a, bytes b). */
static bool pbetter(const trainer *tr, pent x, pent y) {
    if (x.c != y.c) return x.c > y.c;
    int c = cmp_bytes(tr, tr->pa[x.p], tr->pa[y.p]);
    return c ? c < 0 : cmp_bytes(tr, tr->pb[x.p], tr->pb[y.p]) < 0;
}

static void hpush(trainer *tr, pent e) {
    if (tr->nh == tr->caph) {
        tr->caph = tr->caph ? 2 * tr->caph : 4096;
        tr->heap = xrealloc(tr->heap, xmul(tr->caph, sizeof(pent)));
    }
    size_t i = tr->nh++;
    for (; i && pbetter(tr, e, tr->heap[(i - 1) / 2]); i = (i - 1) / 2)
        tr->heap[i] = tr->heap[(i - 1) / 2];
    tr->heap[i] = e;
}

static pent hpop(trainer *tr) {
    pent top = tr->heap[0], last = tr->heap[--tr->nh];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= tr->nh) break;
        if (c + 1 < tr->nh && pbetter(tr, tr->heap[c + 1], tr->heap[c])) c++;
        if (!pbetter(tr, tr->heap[c], last)) break;
        tr->heap[i] = tr->heap[c];
        i = c;
    }
    if (tr->nh) tr->heap[i] = last;
    return top;
}

static void pair_dec(trainer *tr, int a, int b, int64_t f) {
    tr->cnt[*u64map_get(&tr->pmap, pair_key(a, b))] -= f;
}

static void pair_inc(trainer *tr, int a, int b, int64_t f, int w, int step) {
    int p = pair_index(tr, a, b);
    tr->cnt[p] += f;
    occ_add(&tr->occ[p], w);
    if (tr->pstamp[p] != step) {
        tr->pstamp[p] = step;
        tr->touched[tr->ntouched++] = p;
    }
}

/* Merges every (a,b) in word w left to right into x, updating only the pairs
 * around each merge site (the left neighbour is already the merged symbol). */
static void merge_word(trainer *tr, int w, int a, int b, int x, int step) {
    int *s = tr->sym + tr->off[w], n = tr->len[w], out = 0;
    int64_t f = tr->freq[w];
    for (int i = 0; i < n;) {
        if (i + 1 < n && s[i] == a && s[i + 1] == b) {
            if (out) {
                pair_dec(tr, s[out - 1], a, f);
                pair_inc(tr, s[out - 1], x, f, w, step);
            }
            pair_dec(tr, a, b, f);
            if (i + 2 < n) {
                pair_dec(tr, b, s[i + 2], f);
                pair_inc(tr, x, s[i + 2], f, w, step);
            }
            s[out++] = x;
            i += 2;
        } else {
            s[out++] = s[i++];
        }
    }
    tr->len[w] = out;
}

static void merge_pair(trainer *tr, int p, int step) {
    int a = tr->pa[p], b = tr->pb[p];
    size_t la = (size_t)tr->tl[a], lb = (size_t)tr->tl[b];
    char *ab = xmalloc(la + lb);
    memcpy(ab, tr->tb[a], la);
    memcpy(ab + la, tr->tb[b], lb);
    int x = token_id(tr, ab, la + lb); /* may already exist via another pair */
    free(ab);
    grow((void **)&tr->mrg, &tr->capm, 3 * (tr->nm + 1), sizeof(int));
    tr->mrg[3 * tr->nm] = a;
    tr->mrg[3 * tr->nm + 1] = b;
    tr->mrg[3 * tr->nm++ + 2] = x;
    tr->ntouched = 0;
    /* (a,b) itself is never re-created (x is longer than a and b), so its
     * list does not grow while we walk it; tr->occ may move, though. */
    for (int k = 0; k < tr->occ[p].n; k++) {
        int w = tr->occ[p].w[k];
        if (tr->wstamp[w] == step) continue;
        tr->wstamp[w] = step;
        merge_word(tr, w, a, b, x, step);
    }
    free(tr->occ[p].w);
    tr->occ[p] = (occ_list){0};
    for (int k = 0; k < tr->ntouched; k++) {
        int q = tr->touched[k];
        if (tr->cnt[q] > 0) hpush(tr, (pent){tr->cnt[q], q});
    }
}

static void init_pairs(trainer *tr) {
    size_t total = 0;
    for (int w = 0; w < tr->nw; w++) total += tr->wlen[w];
    tr->sym = xmalloc(xmul(total + 1, sizeof(int)));
    tr->off = xmalloc(xmul((size_t)tr->nw + 1, sizeof(size_t)));
    tr->len = xmalloc(xmul((size_t)tr->nw + 1, sizeof(int)));
    tr->wstamp = xcalloc((size_t)tr->nw + 1, sizeof(int));
    size_t o = 0;
    for (int w = 0; w < tr->nw; w++) {
        tr->off[w] = o;
        tr->len[w] = (int)tr->wlen[w];
        for (size_t i = 0; i < tr->wlen[w]; i++) tr->sym[o + i] = (uint8_t)tr->wkey[w][i];
        for (size_t i = 0; i + 1 < tr->wlen[w]; i++) {
            int p = pair_index(tr, tr->sym[o + i], tr->sym[o + i + 1]);
            tr->cnt[p] += tr->freq[w];
            occ_add(&tr->occ[p], w);
        }
        o += tr->wlen[w];
    }
    for (int p = 0; p < tr->np; p++) hpush(tr, (pent){tr->cnt[p], p});
}

static void trainer_free(trainer *tr) {
    strmap_free(&tr->wmap);
    strmap_free(&tr->tmap);
    u64map_free(&tr->pmap);
    for (int i = 0; i < tr->ntok; i++) free(tr->tb[i]);
    for (int p = 0; p < tr->np; p++) free(tr->occ[p].w);
    void *bufs[] = {tr->wkey, tr->wlen, tr->freq, tr->sym, tr->off, tr->len, tr->wstamp,
                    tr->tb, tr->tl, tr->pa, tr->pb, tr->pstamp, tr->cnt, tr->occ,
                    tr->heap, tr->touched, tr->mrg};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
}

static tokenizer *build(const trainer *tr, const char *const *special, int nspecial) {
    const char *where = "bpe_train";
    tokenizer *t = tok_new(tr->ntok + nspecial, TOK_GPT2_REGEX, false, where);
    if (!t) return NULL;
    int rc = 0;
    for (int id = 0; id < tr->ntok && !rc; id++) {
        size_t n;
        char *p = tok_bytes_to_piece(tr->tb[id], (size_t)tr->tl[id], &n);
        rc = tok_set_piece(t, id, p, n, where);
        free(p);
    }
    for (int k = 0; k < tr->nm && !rc; k++)
        if (tok_add_merge(t, tr->mrg[3 * k], tr->mrg[3 * k + 1]) != tr->mrg[3 * k + 2])
            rc = ms_seterr("merge %d does not rebuild (%s)", k, where);
    for (int i = 0; i < nspecial && !rc; i++)
        rc = tok_add_added(t, tr->ntok + i, special[i], strlen(special[i]), true, where);
    if (rc) {
        tok_free(t);
        return NULL;
    }
    tok_finish(t);
    tok_set_bos_eos(t, nspecial ? tr->ntok : -1, nspecial ? tr->ntok : -1);
    return t;
}

static int check_args(int vocab_size, const char *const *special, int nspecial) {
    if (nspecial < 0 || (nspecial && !special))
        return ms_seterr("bad special token list (bpe_train)");
    for (int i = 0; i < nspecial; i++) {
        if (!special[i] || !special[i][0]) return ms_seterr("special token %d is empty (bpe_train)", i);
        for (int j = 0; j < i; j++)
            if (strcmp(special[i], special[j]) == 0)
                return ms_seterr("special token '%.60s' given twice (bpe_train)", special[i]);
    }
    if (vocab_size < 256 + nspecial || vocab_size > (1 << 22))
        return ms_seterr("vocab_size %d must be between 256 + %d specials and 4194304 (bpe_train)",
                         vocab_size, nspecial);
    return 0;
}

tokenizer *bpe_train(const char *text, size_t len, int vocab_size,
                     const char *const *special, int nspecial) {
    if (check_args(vocab_size, special, nspecial)) return NULL;
    pretok pt;
    if (pretok_init(&pt, TOK_GPT2_REGEX, "bpe_train")) return NULL;
    trainer tr = {0};
    count_words(&tr, &pt, text, len, special, nspecial);
    pretok_free(&pt);
    for (int b = 0; b < 256; b++) token_id(&tr, (const char *)&(uint8_t){(uint8_t)b}, 1);
    init_pairs(&tr);
    int target = vocab_size - nspecial, step = 0;
    while (tr.ntok < target && tr.nh) {
        pent top = hpop(&tr);
        if (top.c != tr.cnt[top.p]) { /* stale: counts only fell since it was pushed */
            if (tr.cnt[top.p] > 0) hpush(&tr, (pent){tr.cnt[top.p], top.p});
            continue;
        }
        if (top.c > 0) merge_pair(&tr, top.p, ++step);
    }
    tokenizer *t = build(&tr, special, nspecial);
    trainer_free(&tr);
    return t;
}
