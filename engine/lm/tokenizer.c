/* tokenizer.c — byte-level BPE: GPT-2 / HF tokenizer.json loading and saving,
 * PCRE2 pre-tokenization, encoding and decoding. See tokenizer.h. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer.h"
#include "jsonutil.h"
#include "tokenizer_internal.h"
#include "util.h"

#include <json-c/json.h>
#include <limits.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *TOK_GPT2_REGEX =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

#define MAX_IDS (1 << 22)      /* far above any real vocabulary; bounds allocations */
#define CACHE_SLOTS (1u << 16) /* pre-token cache: slots, key bytes and ids */
#define CACHE_KEY_MAX 64
#define CACHE_KEYS_CAP (CACHE_SLOTS * 12)
#define CACHE_IDS_CAP (CACHE_SLOTS * 4)

/* ------------------------------------------------------------------------ */
/* GPT-2 byte <-> unicode table and UTF-8                                    */

/* Bytes that GPT-2 keeps as their own (Latin-1) character. */
static bool byte_printable(int b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

/* The others get 256, 257, ... in byte order: 0x00-0x20, 0x7F-0xA0, 0xAD. */
int tok_byte_cp(uint8_t b) {
    if (byte_printable(b)) return b;
    if (b <= 0x20) return 256 + b;
    if (b <= 0xA0) return 256 + 33 + (b - 0x7F);
    return 256 + 67;
}

static int cp_byte(uint32_t c) {
    if (c < 256) return byte_printable((int)c) ? (int)c : -1;
    if (c <= 288) return (int)c - 256;
    if (c <= 322) return (int)c - 289 + 0x7F;
    return c == 323 ? 0xAD : -1;
}

char *tok_bytes_to_piece(const char *s, size_t n, size_t *outlen) {
    char *p = xmalloc(xmul(n, 2) + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int c = tok_byte_cp((uint8_t)s[i]);
        if (c < 0x80) {
            p[k++] = (char)c;
        } else {
            p[k++] = (char)(0xC0 | c >> 6);
            p[k++] = (char)(0x80 | (c & 0x3F));
        }
    }
    p[k] = 0;
    if (outlen) *outlen = k;
    return p;
}


/* Bytes a vocabulary piece stands for. A piece with a character outside the
 * table stands for its own UTF-8 bytes (what HF's ByteLevel decoder does). */
static char *piece_to_bytes(const char *p, size_t n, uint32_t *outlen) {
    char *b = xmalloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        const uint8_t *u = (const uint8_t *)p + i;
        size_t l = ms_utf8_len(u, n - i);
        int byte = -1;
        if (l == 1) byte = cp_byte(u[0]);
        if (l == 2) byte = cp_byte((uint32_t)(u[0] & 0x1F) << 6 | (u[1] & 0x3F));
        if (byte < 0) {
            memcpy(b, p, n);
            k = n;
            break;
        }
        b[k++] = (char)byte;
        i += l;
    }
    b[k] = 0;
    *outlen = (uint32_t)k;
    return b;
}

static uint64_t mix64(uint64_t x) {
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static size_t um_find(const u64map *m, uint64_t key) {
    size_t mask = m->cap - 1;
    for (size_t i = mix64(key) & mask;; i = (i + 1) & mask)
        if (m->key[i] == key || m->key[i] == UINT64_MAX) return i;
}

int *u64map_get(const u64map *m, uint64_t key) {
    if (!m->cap) return NULL;
    size_t i = um_find(m, key);
    return m->key[i] == key ? &m->val[i] : NULL;
}

static void u64map_grow(u64map *m) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    u64map g = {xmalloc(xmul(cap, sizeof(uint64_t))), xmalloc(xmul(cap, sizeof(int))), cap, m->n};
    memset(g.key, 0xFF, cap * sizeof(uint64_t));
    for (size_t i = 0; i < m->cap; i++) {
        if (m->key[i] == UINT64_MAX) continue;
        size_t j = um_find(&g, m->key[i]);
        g.key[j] = m->key[i];
        g.val[j] = m->val[i];
    }
    u64map_free(m);
    *m = g;
}

int *u64map_put(u64map *m, uint64_t key, int val, bool *added) {
    if (2 * (m->n + 1) > m->cap) u64map_grow(m);
    size_t i = um_find(m, key);
    *added = m->key[i] == UINT64_MAX;
    if (*added) {
        m->key[i] = key;
        m->val[i] = val;
        m->n++;
    }
    return &m->val[i];
}

void u64map_free(u64map *m) {
    free(m->key);
    free(m->val);
    *m = (u64map){0};
}

/* ------------------------------------------------------------------------ */
/* Pre-tokenizer                                                             */

int pretok_init(pretok *p, const char *regex, const char *where) {
    p->re = NULL;
    if (!regex) return 0;
    int err;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_UCP, &err, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return ms_seterr("bad pre-tokenizer regex at offset %zu: %s (%s)", (size_t)off,
                         (const char *)msg, where);
    }
    /* Without JIT (unsupported CPU, or an error) the interpreter runs instead. */
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    p->re = re;
    return 0;
}

void pretok_free(pretok *p) {
    pcre2_code_free(p->re);
    p->re = NULL;
}

/* Regex matches of one valid UTF-8 segment, plus the gaps between them. */
static void split_valid(const pretok *p, pcre2_match_data *md, const char *s, size_t n,
                        pretok_fn fn, void *ctx) {
    size_t pos = 0, done = 0;
    while (pos < n) {
        int rc = pcre2_match(p->re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK, md, NULL);
        /* JIT stack exhausted (huge inputs): the interpreter keeps its frames on the heap. */
        if (rc < PCRE2_ERROR_NOMATCH)
            rc = pcre2_match(p->re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT,
                             md, NULL);
        if (rc < 0) break; /* no more matches (or a regex error): the rest is a gap */
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (ms < done || me < ms || me > n) break;
        if (ms > done) fn(ctx, s + done, ms - done);
        if (me > ms) {
            fn(ctx, s + ms, me - ms);
            done = pos = me;
        } else { /* empty match: step over one character; it joins the next gap */
            done = ms;
            pos = ms + ms_utf8_len((const uint8_t *)s + ms, n - ms);
        }
    }
    if (done < n) fn(ctx, s + done, n - done);
}

void pretok_run(const pretok *p, const char *text, size_t len, pretok_fn fn, void *ctx) {
    const uint8_t *u = (const uint8_t *)text;
    pcre2_match_data *md = p->re ? pcre2_match_data_create_from_pattern(p->re, NULL) : NULL;
    for (size_t i = 0; i < len;) {
        size_t j = i, k;
        while (j < len && (k = ms_utf8_len(u + j, len - j))) j += k;
        if (j > i) {
            if (md) split_valid(p, md, text + i, j - i, fn, ctx);
            else fn(ctx, text + i, j - i);
            i = j;
            continue;
        }
        while (j < len && !ms_utf8_len(u + j, len - j)) j++;
        fn(ctx, text + i, j - i); /* a run of invalid bytes is one pre-token */
        i = j;
    }
    pcre2_match_data_free(md);
}

/* ------------------------------------------------------------------------ */
/* The tokenizer                                                             */

typedef struct {
    char *s;
    size_t len;
    int id;
    bool special;
} added_tok;

typedef struct {
    uint64_t hash;
    uint32_t koff, klen, ioff, nids; /* klen == 0: empty */
} cslot;

/* Pre-token -> ids, shared by concurrent encoders; cleared when full. */
typedef struct {
    pthread_mutex_t mu;
    cslot *slot;
    char *keys;
    int *ids;
    size_t n, nkeys, nids;
} tcache;

enum { ID_NONE, ID_VOCAB, ID_ADDED };

struct tokenizer {
    int n;          /* ids are 0..n-1; some may be holes */
    char **piece;   /* model vocabulary string per id, or NULL */
    char **bytes;   /* what each id decodes to, or NULL for a hole */
    uint32_t *blen;
    uint8_t *kind;  /* ID_* */
    strmap vocab;   /* piece -> id */
    u64map merges;  /* (a,b) -> rank; a later duplicate wins, as in GPT-2 */
    int *mrg;       /* per rank: a, b, merged id */
    int n_merges, cap_merges;
    added_tok *added; /* in the order given */
    int n_added, cap_added;
    int *amatch;      /* added indices by (first byte, longest first) */
    int afirst[257];  /* amatch range per first byte */
    int byte_id[256]; /* id of each single-byte token, -1 if missing */
    bool ignore_merges;
    char *regex;
    pretok pt;
    int bos, eos;
    tcache cache;
};

tokenizer *tok_new(int n, const char *regex, bool ignore_merges, const char *where) {
    if (n < 0 || n > MAX_IDS) {
        ms_seterr("vocabulary of %d ids is out of range (%s)", n, where);
        return NULL;
    }
    tokenizer *t = xcalloc(1, sizeof *t);
    if (pretok_init(&t->pt, regex, where)) {
        free(t);
        return NULL;
    }
    t->n = n;
    t->piece = xcalloc((size_t)n, sizeof(char *));
    t->bytes = xcalloc((size_t)n, sizeof(char *));
    t->blen = xcalloc((size_t)n, sizeof(uint32_t));
    t->kind = xcalloc((size_t)n, 1);
    t->ignore_merges = ignore_merges;
    t->regex = regex ? xstrdup(regex) : NULL;
    t->bos = t->eos = -1;
    pthread_mutex_init(&t->cache.mu, NULL);
    return t;
}

void tok_free(tokenizer *t) {
    if (!t) return;
    for (int i = 0; i < t->n; i++) {
        free(t->piece[i]);
        free(t->bytes[i]);
    }
    for (int i = 0; i < t->n_added; i++) free(t->added[i].s);
    free(t->piece);
    free(t->bytes);
    free(t->blen);
    free(t->kind);
    strmap_free(&t->vocab);
    u64map_free(&t->merges);
    free(t->mrg);
    free(t->added);
    free(t->amatch);
    free(t->regex);
    pretok_free(&t->pt);
    pthread_mutex_destroy(&t->cache.mu);
    free(t->cache.slot);
    free(t->cache.keys);
    free(t->cache.ids);
    free(t);
}

int tok_set_piece(tokenizer *t, int id, const char *piece, size_t len, const char *where) {
    if (id < 0 || id >= t->n) return ms_seterr("token id %d out of range (%s)", id, where);
    if (t->piece[id])
        return ms_seterr("token id %d used twice ('%.60s' and '%.60s') (%s)", id, t->piece[id],
                         piece, where);
    if (memchr(piece, 0, len)) return ms_seterr("token %d contains a NUL character (%s)", id, where);
    char *p = xstrndup(piece, len);
    bool added;
    strmap_put(&t->vocab, p, len, id, &added);
    if (!added) {
        free(p);
        return ms_seterr("duplicate vocabulary entry '%.60s' (%s)", piece, where);
    }
    t->piece[id] = p;
    t->bytes[id] = piece_to_bytes(p, len, &t->blen[id]);
    t->kind[id] = ID_VOCAB;
    return 0;
}

int tok_add_merge(tokenizer *t, int a, int b) {
    size_t la = strlen(t->piece[a]), lb = strlen(t->piece[b]);
    char *ab = xmalloc(la + lb + 1);
    memcpy(ab, t->piece[a], la);
    memcpy(ab + la, t->piece[b], lb);
    const int *out = strmap_get(&t->vocab, ab, la + lb);
    free(ab);
    if (!out) return -1;
    if (t->n_merges == t->cap_merges) {
        t->cap_merges = t->cap_merges ? 2 * t->cap_merges : 256;
        t->mrg = xrealloc(t->mrg, xmul((size_t)t->cap_merges, 3 * sizeof(int)));
    }
    int r = t->n_merges++;
    t->mrg[3 * r] = a;
    t->mrg[3 * r + 1] = b;
    t->mrg[3 * r + 2] = *out;
    bool added;
    *u64map_put(&t->merges, pair_key(a, b), r, &added) = r;
    return *out;
}

int tok_add_added(tokenizer *t, int id, const char *content, size_t len, bool special,
                  const char *where) {
    if (id < 0 || id >= t->n) return ms_seterr("added token id %d out of range (%s)", id, where);
    if (!len) return ms_seterr("added token %d is empty (%s)", id, where);
    if (t->kind[id] == ID_ADDED) return ms_seterr("added token id %d used twice (%s)", id, where);
    /* An id whose vocabulary piece stands for other bytes would encode one
     * text and decode another (HF decodes the added content too). */
    if (t->kind[id] == ID_VOCAB && (t->blen[id] != len || memcmp(t->bytes[id], content, len)))
        return ms_seterr("added token %d '%.60s' has the id of the vocabulary piece '%.60s', another text (%s)", id,
                         content, t->piece[id], where);
    if (t->n_added == t->cap_added) {
        t->cap_added = t->cap_added ? 2 * t->cap_added : 16;
        t->added = xrealloc(t->added, xmul((size_t)t->cap_added, sizeof(added_tok)));
    }
    t->added[t->n_added++] = (added_tok){xstrndup(content, len), len, id, special};
    free(t->bytes[id]);
    t->bytes[id] = xstrndup(content, len);
    t->blen[id] = (uint32_t)len;
    t->kind[id] = ID_ADDED;
    return 0;
}

static _Thread_local const tokenizer *sort_ctx; /* qsort has no context argument */

static int cmp_added(const void *x, const void *y) {
    const added_tok *a = &sort_ctx->added[*(const int *)x], *b = &sort_ctx->added[*(const int *)y];
    uint8_t ca = (uint8_t)a->s[0], cb = (uint8_t)b->s[0];
    if (ca != cb) return ca < cb ? -1 : 1;
    if (a->len != b->len) return a->len > b->len ? -1 : 1;
    return a->id - b->id;
}

/* Only added tokens: "<s>" may well be an ordinary piece learned from HTML. */
static int find_named(const tokenizer *t, const char *name) {
    for (int i = 0; i < t->n_added; i++)
        if (strcmp(t->added[i].s, name) == 0) return t->added[i].id;
    return -1;
}

static int find_first(const tokenizer *t, const char *const *names) {
    for (; *names; names++) {
        int id = find_named(t, *names);
        if (id >= 0) return id;
    }
    return -1;
}

void tok_finish(tokenizer *t) {
    for (int b = 0; b < 256; b++) {
        size_t n;
        char *p = tok_bytes_to_piece((const char *)&(uint8_t){(uint8_t)b}, 1, &n);
        const int *v = strmap_get(&t->vocab, p, n);
        t->byte_id[b] = v ? *v : -1; /* a missing byte is dropped, as HF does without unk */
        free(p);
    }
    free(t->amatch);
    t->amatch = xmalloc(xmul((size_t)t->n_added + 1, sizeof(int)));
    for (int i = 0; i < t->n_added; i++) t->amatch[i] = i;
    sort_ctx = t;
    qsort(t->amatch, (size_t)t->n_added, sizeof(int), cmp_added);
    int k = 0;
    for (int c = 0; c <= 256; c++) {
        while (k < t->n_added && (uint8_t)t->added[t->amatch[k]].s[0] < c) k++;
        t->afirst[c] = k;
    }
    static const char *const bos_names[] = {"<|begin_of_text|>", "<s>", "<|startoftext|>",
                                            "<|endoftext|>", "<bos>", NULL};
    static const char *const eos_names[] = {"<|end_of_text|>", "</s>", "<|endoftext|>", "<eos>",
                                            NULL};
    if (t->bos < 0) t->bos = find_first(t, bos_names);
    if (t->eos < 0) t->eos = find_first(t, eos_names);
    if (t->bos < 0 && t->eos < 0) { /* e.g. our trainer's specials: the first is both */
        for (int i = 0; i < t->n_added; i++)
            if (t->added[i].special && (t->bos < 0 || t->added[i].id < t->bos))
                t->bos = t->eos = t->added[i].id;
    }
}

void tok_set_bos_eos(tokenizer *t, int bos, int eos) {
    t->bos = bos;
    t->eos = eos;
}

int tok_vocab_size(const tokenizer *t) { return t->n; }
int tok_bos(const tokenizer *t) { return t->bos; }
int tok_eos(const tokenizer *t) { return t->eos; }

const char *tok_bytes(const tokenizer *t, int id, size_t *len) {
    if (id < 0 || id >= t->n || !t->bytes[id]) return NULL;
    if (len) *len = t->blen[id];
    return t->bytes[id];
}

int tok_lookup(const tokenizer *t, const char *piece) {
    const int *v = strmap_get(&t->vocab, piece, strlen(piece));
    if (v) return *v;
    for (int i = 0; i < t->n_added; i++)
        if (strcmp(t->added[i].s, piece) == 0) return t->added[i].id;
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Encoding                                                                  */

typedef struct {
    int *v;
    size_t n, cap;
} ivec;

static void ivec_push(ivec *a, int x) {
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 256;
        a->v = xrealloc(a->v, xmul(a->cap, sizeof(int)));
    }
    a->v[a->n++] = x;
}

typedef struct {
    int rank, pos, a, b;
} hent;

typedef struct {
    hent *v;
    size_t n, cap;
} heap;

static bool hless(const hent *x, const hent *y) {
    return x->rank != y->rank ? x->rank < y->rank : x->pos < y->pos;
}

static void heap_push(heap *h, hent e) {
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 64;
        h->v = xrealloc(h->v, xmul(h->cap, sizeof(hent)));
    }
    size_t i = h->n++;
    for (; i && hless(&e, &h->v[(i - 1) / 2]); i = (i - 1) / 2) h->v[i] = h->v[(i - 1) / 2];
    h->v[i] = e;
}

static hent heap_pop(heap *h) {
    hent top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && hless(&h->v[c + 1], &h->v[c])) c++;
        if (!hless(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n) h->v[i] = last;
    return top;
}

typedef struct {
    const tokenizer *t;
    ivec out;
    int *sym, *nxt, *prv;
    size_t cap;
    heap h, defer;
    char *pbuf;
} enc;

static void enc_free(enc *e) {
    free(e->sym);
    free(e->nxt);
    free(e->prv);
    free(e->h.v);
    free(e->defer.v);
    free(e->pbuf);
}

/* Queue the pair starting at symbol i. GPT-2 merges every occurrence of the
 * best pair in the word as it stood, so a pair created mid-sweep that ranks
 * below the current one waits until the sweep ends. */
static void queue_pair(enc *e, int i, int cur) {
    int a = e->sym[i], b = e->sym[e->nxt[i]];
    const int *r = u64map_get(&e->t->merges, pair_key(a, b));
    if (!r) return;
    hent x = {*r, i, a, b};
    heap_push(*r < cur ? &e->defer : &e->h, x);
}

static void bpe(enc *e, const char *s, size_t n) {
    const tokenizer *t = e->t;
    if (t->ignore_merges) { /* a whole pre-token in the vocabulary is used as is */
        free(e->pbuf);
        size_t pl;
        e->pbuf = tok_bytes_to_piece(s, n, &pl);
        const int *v = strmap_get(&t->vocab, e->pbuf, pl);
        if (v) {
            ivec_push(&e->out, *v);
            return;
        }
    }
    if (n > e->cap) {
        e->cap = n;
        e->sym = xrealloc(e->sym, xmul(n, sizeof(int)));
        e->nxt = xrealloc(e->nxt, xmul(n, sizeof(int)));
        e->prv = xrealloc(e->prv, xmul(n, sizeof(int)));
    }
    int m = 0;
    for (size_t i = 0; i < n; i++) {
        int id = t->byte_id[(uint8_t)s[i]];
        if (id >= 0) e->sym[m++] = id;
    }
    for (int i = 0; i < m; i++) {
        e->prv[i] = i - 1;
        e->nxt[i] = i + 1 < m ? i + 1 : -1;
    }
    e->h.n = e->defer.n = 0;
    for (int i = 0; i + 1 < m; i++) queue_pair(e, i, -1);
    int cur = -1;
    for (;;) {
        if (e->defer.n && (!e->h.n || e->h.v[0].rank > cur)) {
            for (size_t i = 0; i < e->defer.n; i++) heap_push(&e->h, e->defer.v[i]);
            e->defer.n = 0;
        }
        if (!e->h.n) break;
        hent x = heap_pop(&e->h);
        int j = e->nxt[x.pos];
        if (e->sym[x.pos] != x.a || j < 0 || e->sym[j] != x.b) continue; /* stale */
        cur = x.rank;
        e->sym[x.pos] = t->mrg[3 * x.rank + 2];
        e->sym[j] = -1;
        e->nxt[x.pos] = e->nxt[j];
        if (e->nxt[j] >= 0) e->prv[e->nxt[j]] = x.pos;
        if (e->prv[x.pos] >= 0) queue_pair(e, e->prv[x.pos], cur);
        if (e->nxt[x.pos] >= 0) queue_pair(e, x.pos, cur);
    }
    for (int i = m ? 0 : -1; i >= 0; i = e->nxt[i]) ivec_push(&e->out, e->sym[i]);
}

static bool cache_get(tcache *c, const char *s, size_t n, uint64_t h, ivec *out) {
    bool hit = false;
    pthread_mutex_lock(&c->mu);
    if (c->slot) {
        for (size_t i = h & (CACHE_SLOTS - 1); c->slot[i].klen; i = (i + 1) & (CACHE_SLOTS - 1)) {
            const cslot *x = &c->slot[i];
            if (x->hash == h && x->klen == n && memcmp(c->keys + x->koff, s, n) == 0) {
                for (uint32_t k = 0; k < x->nids; k++) ivec_push(out, c->ids[x->ioff + k]);
                hit = true;
                break;
            }
        }
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

static void cache_put(tcache *c, const char *s, size_t n, uint64_t h, const int *ids, size_t k) {
    if (k > CACHE_KEY_MAX) return;
    pthread_mutex_lock(&c->mu);
    if (!c->slot) {
        c->slot = xcalloc(CACHE_SLOTS, sizeof(cslot));
        c->keys = xmalloc(CACHE_KEYS_CAP);
        c->ids = xmalloc(CACHE_IDS_CAP * sizeof(int));
    }
    if (2 * (c->n + 1) > CACHE_SLOTS || c->nkeys + n > CACHE_KEYS_CAP ||
        c->nids + k > CACHE_IDS_CAP) {
        memset(c->slot, 0, CACHE_SLOTS * sizeof(cslot));
        c->n = c->nkeys = c->nids = 0;
    }
    size_t i = h & (CACHE_SLOTS - 1);
    while (c->slot[i].klen && !(c->slot[i].hash == h && c->slot[i].klen == n &&
                                memcmp(c->keys + c->slot[i].koff, s, n) == 0))
        i = (i + 1) & (CACHE_SLOTS - 1);
    if (!c->slot[i].klen) { /* another thread may have put it meanwhile */
        c->slot[i] = (cslot){h, (uint32_t)c->nkeys, (uint32_t)n, (uint32_t)c->nids, (uint32_t)k};
        memcpy(c->keys + c->nkeys, s, n);
        if (k) memcpy(c->ids + c->nids, ids, k * sizeof(int));
        c->nkeys += n;
        c->nids += k;
        c->n++;
    }
    pthread_mutex_unlock(&c->mu);
}

static void on_pretoken(void *ctx, const char *s, size_t n) {
    enc *e = ctx;
    tcache *c = (tcache *)&e->t->cache; /* the cache is mutable state behind a lock */
    uint64_t h = n <= CACHE_KEY_MAX ? strmap_hash(s, n) : 0;
    if (n <= CACHE_KEY_MAX && cache_get(c, s, n, h, &e->out)) return;
    size_t start = e->out.n;
    bpe(e, s, n);
    /* out.v is still NULL when nothing has been emitted (a fuzzer's
     * tokenizer can map a pretoken to no ids): no pointer arithmetic on it. */
    const int *ids = e->out.v ? e->out.v + start : NULL;
    if (n <= CACHE_KEY_MAX) cache_put(c, s, n, h, ids, e->out.n - start);
}

/* Longest added token starting at s, or NULL. */
static const added_tok *match_added(const tokenizer *t, const char *s, size_t n) {
    uint8_t c = (uint8_t)s[0];
    for (int k = t->afirst[c]; k < t->afirst[c + 1]; k++) {
        const added_tok *a = &t->added[t->amatch[k]];
        if (a->len <= n && memcmp(a->s, s, a->len) == 0) return a;
    }
    return NULL;
}

int tok_encode(const tokenizer *t, const char *text, size_t len, int **ids, int *n) {
    enc e = {.t = t};
    size_t start = 0;
    for (size_t i = 0; t->n_added && i < len;) {
        const added_tok *a = match_added(t, text + i, len - i);
        if (!a) {
            i++;
            continue;
        }
        pretok_run(&t->pt, text + start, i - start, on_pretoken, &e);
        ivec_push(&e.out, a->id);
        i += a->len;
        start = i;
    }
    pretok_run(&t->pt, text + start, len - start, on_pretoken, &e);
    enc_free(&e);
    if (e.out.n > INT_MAX) {
        free(e.out.v);
        return ms_seterr("text of %zu bytes gives too many tokens (tok_encode)", len);
    }
    *ids = e.out.v ? e.out.v : xmalloc(sizeof(int));
    *n = (int)e.out.n;
    return 0;
}

int tok_decode(const tokenizer *t, const int *ids, int n, char **out, size_t *len) {
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n || !t->bytes[ids[i]])
            return ms_seterr("unknown token id %d at position %d (tok_decode)", ids[i], i);
        total += t->blen[ids[i]];
    }
    char *s = xmalloc(total + 1);
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        memcpy(s + k, t->bytes[ids[i]], t->blen[ids[i]]);
        k += t->blen[ids[i]];
    }
    s[k] = 0;
    *out = s;
    *len = k;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* JSON helpers                                                              */

/* Member k of object o, NULL when o is not an object, k is absent or null. */
static json_object *jget(json_object *o, const char *k) {
    json_object *v = NULL;
    if (!o || !json_object_is_type(o, json_type_object)) return NULL;
    return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static const char *jstr(json_object *o, const char *k) {
    json_object *v = jget(o, k);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int jbool(json_object *o, const char *k, bool def, bool *out, const char *where) {
    json_object *v = jget(o, k);
    *out = def;
    if (!v) return 0;
    if (!json_object_is_type(v, json_type_boolean))
        return ms_seterr("'%s' is not true or false (%s)", k, where);
    *out = json_object_get_boolean(v);
    return 0;
}

static int jid(json_object *v, const char *what, const char *where, int *out) {
    if (!v || !json_object_is_type(v, json_type_int))
        return ms_seterr("%s is not an integer id (%s)", what, where);
    int64_t x = json_object_get_int64(v);
    if (x < 0 || x >= MAX_IDS) return ms_seterr("%s has id %lld out of range (%s)", what, (long long)x, where);
    *out = (int)x;
    return 0;
}

/* Largest id in a {piece: id} object, checking every entry. */
static int vocab_max_id(json_object *v, const char *where, int *max) {
    struct json_object_iterator it = json_object_iter_begin(v), end = json_object_iter_end(v);
    for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
        char what[96];
        snprintf(what, sizeof what, "vocab entry '%.60s'", json_object_iter_peek_name(&it));
        int id = 0;
        if (jid(json_object_iter_peek_value(&it), what, where, &id)) return -1;
        if (id > *max) *max = id;
    }
    return 0;
}

static int vocab_fill(tokenizer *t, json_object *v, const char *where) {
    struct json_object_iterator it = json_object_iter_begin(v), end = json_object_iter_end(v);
    for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
        const char *k = json_object_iter_peek_name(&it);
        int id = (int)json_object_get_int64(json_object_iter_peek_value(&it));
        if (tok_set_piece(t, id, k, strlen(k), where)) return -1;
    }
    return 0;
}

static int lookup_merge_part(const tokenizer *t, const char *s, size_t n, size_t rank,
                             const char *where) {
    const int *v = strmap_get(&t->vocab, s, n);
    if (!v)
        return ms_seterr("merge %zu refers to unknown token '%.*s' (%s)", rank,
                         (int)(n > 60 ? 60 : n), s, where);
    return *v;
}

static int add_merge_str(tokenizer *t, const char *a, size_t la, const char *b, size_t lb,
                         size_t rank, const char *where) {
    int ia = lookup_merge_part(t, a, la, rank, where);
    if (ia < 0) return -1;
    int ib = lookup_merge_part(t, b, lb, rank, where);
    if (ib < 0) return -1;
    if (tok_add_merge(t, ia, ib) < 0)
        return ms_seterr("merge %zu: '%.60s%.60s' is not in the vocabulary (%s)", rank,
                         t->piece[ia], t->piece[ib], where);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* HF tokenizer.json                                                         */

/* Escapes a literal string for PCRE2 (Split with a String pattern). */
static char *regex_escape(const char *s, size_t n) {
    char *r = xmalloc(xmul(n, 2) + 1), *p = r;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80 && !(c >= '0' && c <= '9') && !((c | 32) >= 'a' && (c | 32) <= 'z'))
            *p++ = '\\';
        *p++ = (char)c;
    }
    *p = 0;
    return r;
}

static int parse_split(json_object *st, char **regex, const char *where) {
    json_object *pat = jget(st, "pattern");
    const char *behavior = jstr(st, "behavior");
    bool invert;
    if (jbool(st, "invert", false, &invert, where)) return -1;
    if (!behavior || strcmp(behavior, "Isolated") != 0 || invert)
        return ms_seterr("unsupported Split pre-tokenizer: behavior '%s'%s (%s)",
                         behavior ? behavior : "?", invert ? ", inverted" : "", where);
    json_object *re = jget(pat, "Regex"), *lit = jget(pat, "String");
    json_object *v = re ? re : lit;
    if (!v || !json_object_is_type(v, json_type_string))
        return ms_seterr("Split pre-tokenizer has no Regex or String pattern (%s)", where);
    const char *s = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);
    if (strlen(s) != n) return ms_seterr("Split pattern contains a NUL character (%s)", where);
    *regex = re ? xstrdup(s) : regex_escape(s, n);
    return 0;
}

/* The regex a pre_tokenizer amounts to: ByteLevel (GPT-2 regex unless
 * use_regex is false), optionally after one Isolated Split. */
static int parse_pretok(json_object *pt, char **regex, const char *where) {
    *regex = NULL;
    json_object *steps[8];
    size_t n = 1;
    const char *type = jstr(pt, "type");
    steps[0] = pt;
    if (type && strcmp(type, "Sequence") == 0) {
        json_object *arr = jget(pt, "pretokenizers");
        if (!arr || !json_object_is_type(arr, json_type_array))
            return ms_seterr("Sequence pre-tokenizer without a pretokenizers list (%s)", where);
        n = json_object_array_length(arr);
        if (n > 8) return ms_seterr("pre-tokenizer Sequence of %zu steps is unsupported (%s)", n, where);
        for (size_t i = 0; i < n; i++) steps[i] = json_object_array_get_idx(arr, i);
    }
    bool bytelevel = false;
    for (size_t i = 0; i < n; i++) {
        const char *ty = jstr(steps[i], "type");
        if (!ty) {
            free(*regex);
            *regex = NULL;
            return ms_seterr("pre_tokenizer %s (%s)", pt ? "step without a type" : "is null; only ByteLevel is supported", where);
        }
        if (strcmp(ty, "ByteLevel") == 0 && !bytelevel) {
            bool prefix, use_regex;
            if (jbool(steps[i], "add_prefix_space", true, &prefix, where) ||
                jbool(steps[i], "use_regex", true, &use_regex, where))
                goto fail;
            if (prefix) {
                ms_seterr("ByteLevel add_prefix_space true is unsupported (%s)", where);
                goto fail;
            }
            if (use_regex && *regex) {
                ms_seterr("Split followed by a regex ByteLevel is unsupported (%s)", where);
                goto fail;
            }
            if (use_regex) *regex = xstrdup(TOK_GPT2_REGEX);
            bytelevel = true;
        } else if (strcmp(ty, "Split") == 0 && !bytelevel && !*regex) {
            if (parse_split(steps[i], regex, where)) goto fail;
        } else {
            ms_seterr("unsupported pre_tokenizer step '%.40s' at position %zu (%s)", ty, i, where);
            goto fail;
        }
    }
    if (bytelevel) return 0;
    ms_seterr("pre_tokenizer has no ByteLevel step (%s)", where);
fail:
    free(*regex);
    *regex = NULL;
    return -1;
}

static int check_model(json_object *root, json_object *model, const char *where) {
    if (!json_object_is_type(root, json_type_object))
        return ms_seterr("top level is not a JSON object (%s)", where);
    if (!model || !json_object_is_type(model, json_type_object))
        return ms_seterr("no model object (%s)", where);
    json_object *ty = jget(model, "type");
    if (ty && !json_object_is_type(ty, json_type_string))
        return ms_seterr("model.type is not a string (%s)", where);
    if (ty && strcmp(json_object_get_string(ty), "BPE") != 0)
        return ms_seterr("unsupported model type '%.40s', only BPE (%s)", json_object_get_string(ty), where);
    if (!jget(model, "merges")) return ms_seterr("model has no merges (%s)", where);
    json_object *vocab = jget(model, "vocab");
    if (!vocab || !json_object_is_type(vocab, json_type_object))
        return ms_seterr("model.vocab is missing or not an object (%s)", where);
    static const char *const affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        json_object *a = jget(model, affixes[i]);
        if (a && (!json_object_is_type(a, json_type_string) || json_object_get_string_len(a)))
            return ms_seterr("model.%s is unsupported (%s)", affixes[i], where);
    }
    json_object *norm = jget(root, "normalizer");
    if (norm) {
        const char *nt = jstr(norm, "type");
        return ms_seterr("unsupported normalizer '%.40s' (%s)", nt ? nt : "?", where);
    }
    return 0;
}

static int hf_added_scan(json_object *at, const char *where, int *max) {
    if (!at) return 0;
    if (!json_object_is_type(at, json_type_array))
        return ms_seterr("added_tokens is not a list (%s)", where);
    for (size_t i = 0; i < json_object_array_length(at); i++) {
        json_object *a = json_object_array_get_idx(at, i);
        json_object *c = jget(a, "content");
        char what[48];
        snprintf(what, sizeof what, "added token %zu", i);
        int id = 0;
        if (jid(jget(a, "id"), what, where, &id)) return -1;
        if (!c || !json_object_is_type(c, json_type_string))
            return ms_seterr("added token %zu has no content string (%s)", i, where);
        if (id > *max) *max = id;
    }
    return 0;
}

static int hf_added_fill(tokenizer *t, json_object *at, const char *where) {
    for (size_t i = 0; at && i < json_object_array_length(at); i++) {
        json_object *a = json_object_array_get_idx(at, i), *c = jget(a, "content");
        bool special;
        if (jbool(a, "special", false, &special, where)) return -1;
        int id = (int)json_object_get_int64(jget(a, "id"));
        if (tok_add_added(t, id, json_object_get_string(c), (size_t)json_object_get_string_len(c),
                          special, where))
            return -1;
    }
    return 0;
}

static int hf_merges_fill(tokenizer *t, json_object *m, const char *where) {
    if (!json_object_is_type(m, json_type_array))
        return ms_seterr("model.merges is not a list (%s)", where);
    for (size_t i = 0; i < json_object_array_length(m); i++) {
        json_object *e = json_object_array_get_idx(m, i);
        if (e && json_object_is_type(e, json_type_string)) {
            const char *s = json_object_get_string(e);
            size_t n = (size_t)json_object_get_string_len(e);
            const char *sp = memchr(s, ' ', n);
            if (!sp || sp == s || sp + 1 == s + n || memchr(sp + 1, ' ', (size_t)(s + n - sp - 1)))
                return ms_seterr("merge %zu is not two tokens separated by a space: '%.60s' (%s)",
                                 i, s, where);
            if (add_merge_str(t, s, (size_t)(sp - s), sp + 1, (size_t)(s + n - sp - 1), i, where))
                return -1;
            continue;
        }
        json_object *a = NULL, *b = NULL;
        if (e && json_object_is_type(e, json_type_array) && json_object_array_length(e) == 2) {
            a = json_object_array_get_idx(e, 0);
            b = json_object_array_get_idx(e, 1);
        }
        if (!a || !b || !json_object_is_type(a, json_type_string) ||
            !json_object_is_type(b, json_type_string))
            return ms_seterr("merge %zu is neither \"a b\" nor [a, b] (%s)", i, where);
        if (add_merge_str(t, json_object_get_string(a), (size_t)json_object_get_string_len(a),
                          json_object_get_string(b), (size_t)json_object_get_string_len(b), i, where))
            return -1;
    }
    return 0;
}

/* BOS from a TemplateProcessing post-processor ("<bos> $A"), or -1. */
static int template_bos(const tokenizer *t, json_object *pp, int depth) {
    const char *ty = jstr(pp, "type");
    if (!ty || depth > 4) return -1;
    if (strcmp(ty, "Sequence") == 0) {
        json_object *ps = jget(pp, "processors");
        for (size_t i = 0; ps && json_object_is_type(ps, json_type_array) &&
                           i < json_object_array_length(ps); i++) {
            int id = template_bos(t, json_object_array_get_idx(ps, i), depth + 1);
            if (id >= 0) return id;
        }
        return -1;
    }
    json_object *single = jget(pp, "single");
    if (strcmp(ty, "TemplateProcessing") != 0 || !single ||
        !json_object_is_type(single, json_type_array) || !json_object_array_length(single))
        return -1;
    const char *name = jstr(jget(json_object_array_get_idx(single, 0), "SpecialToken"), "id");
    if (!name) return -1;
    json_object *ids = jget(jget(jget(pp, "special_tokens"), name), "ids");
    json_object *first = ids && json_object_is_type(ids, json_type_array)
                             ? json_object_array_get_idx(ids, 0) : NULL;
    if (first && json_object_is_type(first, json_type_int)) {
        int64_t id = json_object_get_int64(first);
        if (id >= 0 && id < t->n && t->bytes[id]) return (int)id;
    }
    return find_named(t, name);
}

static tokenizer *load_hf(json_object *root, const char *where) {
    json_object *model = jget(root, "model");
    if (check_model(root, model, where)) return NULL;
    json_object *vocab = jget(model, "vocab"), *added = jget(root, "added_tokens");
    int max = -1;
    bool ignore;
    if (jbool(model, "ignore_merges", false, &ignore, where) ||
        vocab_max_id(vocab, where, &max) || hf_added_scan(added, where, &max))
        return NULL;
    char *regex;
    if (parse_pretok(jget(root, "pre_tokenizer"), &regex, where)) return NULL;
    tokenizer *t = tok_new(max + 1, regex, ignore, where);
    free(regex);
    if (!t) return NULL;
    if (vocab_fill(t, vocab, where) || hf_merges_fill(t, jget(model, "merges"), where) ||
        hf_added_fill(t, added, where)) {
        tok_free(t);
        return NULL;
    }
    t->bos = template_bos(t, jget(root, "post_processor"), 0);
    tok_finish(t);
    return t;
}

tokenizer *tok_load_hf_json_mem(const char *json, size_t len, const char *name) {
    if (!name) name = "tokenizer.json";
    json_object *root = ms_json_parse(json, len, name);
    if (!root) return NULL;
    tokenizer *t = load_hf(root, name);
    json_object_put(root);
    return t;
}

tokenizer *tok_load_hf_json(const char *path) {
    json_object *root = ms_json_read(path);
    if (!root) return NULL;
    tokenizer *t = load_hf(root, path);
    json_object_put(root);
    return t;
}

/* ------------------------------------------------------------------------ */
/* GPT-2 vocab.json + merges.txt                                             */

static int gpt2_merges(tokenizer *t, const char *buf, size_t len, const char *where) {
    size_t line = 0;
    for (const char *p = buf, *end = buf + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        line++;
        if (e > p && e[-1] == '\r') e--;
        const char *f[3];
        size_t fl[3], nf = 0;
        for (const char *q = p; q < e && nf < 3;) {
            while (q < e && (*q == ' ' || *q == '\t')) q++;
            if (q == e) break;
            f[nf] = q;
            while (q < e && *q != ' ' && *q != '\t') q++;
            fl[nf] = (size_t)(q - f[nf]);
            nf++;
        }
        bool header = line == 1 && (size_t)(e - p) >= 8 && memcmp(p, "#version", 8) == 0;
        p = nl ? nl + 1 : end;
        if (header || nf == 0) continue;
        if (nf != 2)
            return ms_seterr("line %zu is not two tokens separated by a space (%s)", line, where);
        const int *ia = strmap_get(&t->vocab, f[0], fl[0]), *ib = strmap_get(&t->vocab, f[1], fl[1]);
        if (!ia || !ib) {
            size_t k = ia ? 1 : 0;
            return ms_seterr("line %zu refers to unknown token '%.*s' (%s)", line,
                             (int)(fl[k] > 60 ? 60 : fl[k]), f[k], where);
        }
        if (tok_add_merge(t, *ia, *ib) < 0)
            return ms_seterr("line %zu: '%.60s%.60s' is not in the vocabulary (%s)", line,
                             t->piece[*ia], t->piece[*ib], where);
    }
    return 0;
}

/* Vocabulary entries that neither a byte nor a merge produces (GPT-2's
 * <|endoftext|>, RoBERTa's <s> <pad> ...) can only be special tokens. */
static int gpt2_specials(tokenizer *t, const char *where) {
    bool *reach = xcalloc((size_t)t->n + 1, 1);
    for (int b = 0; b < 256; b++) {
        size_t n;
        char *p = tok_bytes_to_piece((const char *)&(uint8_t){(uint8_t)b}, 1, &n);
        const int *v = strmap_get(&t->vocab, p, n);
        if (v) reach[*v] = true;
        free(p);
    }
    for (int r = 0; r < t->n_merges; r++) reach[t->mrg[3 * r + 2]] = true;
    int rc = 0;
    for (int id = 0; id < t->n && !rc; id++)
        if (t->piece[id] && !reach[id])
            rc = tok_add_added(t, id, t->piece[id], strlen(t->piece[id]), true, where);
    free(reach);
    return rc;
}

tokenizer *tok_load_gpt2(const char *vocab_path, const char *merges_path) {
    json_object *v = ms_json_read(vocab_path);
    if (!v) return NULL;
    tokenizer *t = NULL;
    int max = -1;
    uint8_t *buf = NULL;
    size_t len;
    if (!json_object_is_type(v, json_type_object)) {
        ms_seterr("vocabulary is not a JSON object (%s)", vocab_path);
        goto done;
    }
    if (vocab_max_id(v, vocab_path, &max) || ms_read_file(merges_path, &buf, &len)) goto done;
    t = tok_new(max + 1, TOK_GPT2_REGEX, false, vocab_path);
    if (t && (vocab_fill(t, v, vocab_path) || gpt2_merges(t, (const char *)buf, len, merges_path) ||
              gpt2_specials(t, vocab_path))) {
        tok_free(t);
        t = NULL;
    }
    if (t) tok_finish(t);
done:
    json_object_put(v);
    free(buf);
    return t;
}

tokenizer *tok_load_dir(const char *dir) {
    if (!ms_is_dir(dir)) {
        ms_seterr("not a directory (%s)", dir);
        return NULL;
    }
    char *tj = ms_find_file(dir, "tokenizer.json");
    if (tj) {
        tokenizer *t = tok_load_hf_json(tj);
        free(tj);
        return t;
    }
    char *vj = ms_find_file(dir, "vocab.json"), *mt = ms_find_file(dir, "merges.txt");
    tokenizer *t = NULL;
    if (vj && mt) t = tok_load_gpt2(vj, mt);
    else ms_seterr("no tokenizer.json or vocab.json + merges.txt (%s)", dir);
    free(vj);
    free(mt);
    return t;
}

/* ------------------------------------------------------------------------ */
/* Saving                                                                    */

static json_object *jbytelevel(bool prefix, bool trim, bool use_regex) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string("ByteLevel"));
    json_object_object_add(o, "add_prefix_space", json_object_new_boolean(prefix));
    json_object_object_add(o, "trim_offsets", json_object_new_boolean(trim));
    json_object_object_add(o, "use_regex", json_object_new_boolean(use_regex));
    return o;
}

static json_object *jpretok(const tokenizer *t) {
    if (!t->regex) return jbytelevel(false, true, false);
    if (strcmp(t->regex, TOK_GPT2_REGEX) == 0) return jbytelevel(false, true, true);
    json_object *pat = json_object_new_object(), *split = json_object_new_object();
    json_object_object_add(pat, "Regex", json_object_new_string(t->regex));
    json_object_object_add(split, "type", json_object_new_string("Split"));
    json_object_object_add(split, "pattern", pat);
    json_object_object_add(split, "behavior", json_object_new_string("Isolated"));
    json_object_object_add(split, "invert", json_object_new_boolean(false));
    json_object *steps = json_object_new_array(), *seq = json_object_new_object();
    json_object_array_add(steps, split);
    json_object_array_add(steps, jbytelevel(false, true, false));
    json_object_object_add(seq, "type", json_object_new_string("Sequence"));
    json_object_object_add(seq, "pretokenizers", steps);
    return seq;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static json_object *jadded(const tokenizer *t) {
    json_object *arr = json_object_new_array();
    int64_t *order = xmalloc(xmul((size_t)t->n_added + 1, sizeof(int64_t)));
    for (int i = 0; i < t->n_added; i++) order[i] = (int64_t)t->added[i].id << 32 | i;
    qsort(order, (size_t)t->n_added, sizeof(int64_t), cmp_i64); /* by id */
    for (int k = 0; k < t->n_added; k++) {
        const added_tok *a = &t->added[order[k] & 0xFFFFFFFF];
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_int(a->id));
        json_object_object_add(o, "content", json_object_new_string_len(a->s, (int)a->len));
        json_object_object_add(o, "single_word", json_object_new_boolean(false));
        json_object_object_add(o, "lstrip", json_object_new_boolean(false));
        json_object_object_add(o, "rstrip", json_object_new_boolean(false));
        json_object_object_add(o, "normalized", json_object_new_boolean(false));
        json_object_object_add(o, "special", json_object_new_boolean(a->special));
        json_object_array_add(arr, o);
    }
    free(order);
    return arr;
}

static json_object *jvocab(const tokenizer *t, bool with_added) {
    json_object *v = json_object_new_object();
    for (int id = 0; id < t->n; id++)
        if (t->piece[id]) json_object_object_add(v, t->piece[id], json_object_new_int(id));
    for (int i = 0; with_added && i < t->n_added; i++) {
        const added_tok *a = &t->added[i];
        /* Only where it fits: no vocabulary piece at that id or with that text. */
        if (!t->piece[a->id] && strlen(a->s) == a->len && !strmap_get(&t->vocab, a->s, a->len))
            json_object_object_add(v, a->s, json_object_new_int(a->id));
    }
    return v;
}

static json_object *jmodel(const tokenizer *t) {
    json_object *m = json_object_new_object(), *merges = json_object_new_array();
    for (int r = 0; r < t->n_merges; r++) {
        const char *a = t->piece[t->mrg[3 * r]], *b = t->piece[t->mrg[3 * r + 1]];
        if (strchr(a, ' ') || strchr(b, ' ')) { /* "a b" would be ambiguous */
            json_object *pair = json_object_new_array();
            json_object_array_add(pair, json_object_new_string(a));
            json_object_array_add(pair, json_object_new_string(b));
            json_object_array_add(merges, pair);
            continue;
        }
        size_t la = strlen(a), lb = strlen(b);
        char *s = xmalloc(la + lb + 2);
        memcpy(s, a, la);
        s[la] = ' ';
        memcpy(s + la + 1, b, lb + 1);
        json_object_array_add(merges, json_object_new_string(s));
        free(s);
    }
    json_object_object_add(m, "type", json_object_new_string("BPE"));
    json_object_object_add(m, "dropout", NULL);
    json_object_object_add(m, "unk_token", NULL);
    json_object_object_add(m, "continuing_subword_prefix", NULL);
    json_object_object_add(m, "end_of_word_suffix", NULL);
    json_object_object_add(m, "fuse_unk", json_object_new_boolean(false));
    json_object_object_add(m, "byte_fallback", json_object_new_boolean(false));
    json_object_object_add(m, "ignore_merges", json_object_new_boolean(t->ignore_merges));
    json_object_object_add(m, "vocab", jvocab(t, false));
    json_object_object_add(m, "merges", merges);
    return m;
}

static int write_json(json_object *o, const char *path) {
    size_t n;
    const char *s = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    int rc = ms_write_file_atomic(path, s, n);
    json_object_put(o);
    return rc;
}

int tok_save_hf_json(const tokenizer *t, const char *path) {
    json_object *root = json_object_new_object();
    json_object_object_add(root, "version", json_object_new_string("1.0"));
    json_object_object_add(root, "truncation", NULL);
    json_object_object_add(root, "padding", NULL);
    json_object_object_add(root, "added_tokens", jadded(t));
    json_object_object_add(root, "normalizer", NULL);
    json_object_object_add(root, "pre_tokenizer", jpretok(t));
    json_object_object_add(root, "post_processor", jbytelevel(true, false, true));
    json_object_object_add(root, "decoder", jbytelevel(true, true, true));
    json_object_object_add(root, "model", jmodel(t));
    return write_json(root, path);
}

int tok_save_gpt2(const tokenizer *t, const char *vocab_path, const char *merges_path) {
    if (t->regex && strcmp(t->regex, TOK_GPT2_REGEX) != 0)
        return ms_seterr("the GPT-2 layout cannot hold a custom pre-tokenizer regex (%s)", vocab_path);
    if (t->ignore_merges)
        return ms_seterr("the GPT-2 layout cannot hold ignore_merges (%s)", vocab_path);
    size_t cap = 64, n = 0;
    char *buf = xmalloc(cap);
    n += (size_t)snprintf(buf, cap, "#version: 0.2\n");
    for (int r = 0; r < t->n_merges; r++) {
        const char *a = t->piece[t->mrg[3 * r]], *b = t->piece[t->mrg[3 * r + 1]];
        size_t la = strlen(a), lb = strlen(b);
        if (strpbrk(a, " \t\n") || strpbrk(b, " \t\n")) {
            free(buf);
            return ms_seterr("merge %d has a token with white space, which merges.txt cannot hold (%s)",
                             r, merges_path);
        }
        while (n + la + lb + 3 > cap) buf = xrealloc(buf, cap *= 2);
        memcpy(buf + n, a, la);
        buf[n + la] = ' ';
        memcpy(buf + n + la + 1, b, lb);
        buf[n + la + lb + 1] = '\n';
        n += la + lb + 2;
    }
    int rc = write_json(jvocab(t, true), vocab_path);
    if (!rc) rc = ms_write_file_atomic(merges_path, buf, n);
    free(buf);
    return rc;
}

int tok_encode_into(const tokenizer *t, int bos, const char *text, size_t len, int *buf, int cap) {
    int *raw, nr, b = bos >= 0 && cap > 0;
    if (tok_encode(t, text, len, &raw, &nr)) return -1;
    if (b) buf[0] = bos;
    int n = nr + b < cap ? nr + b : cap;
    if (n > b) memcpy(buf + b, raw, sizeof(int) * (size_t)(n - b));
    free(raw);
    return n;
}
