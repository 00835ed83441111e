/* probe_gen.c — builds the built-in probing tasks from the labelled corpus:
 * document-level tasks (a category set against a sibling set, the feature at
 * the document's last token) and token-level syntactic tasks (a per-token
 * predicate). Examples are taken along seeded permutations of each side
 * (train split; valid+test), so one-vs-rest tasks of the same family share
 * most negatives and the feature run stays small. */
#include "probe.h"
#include "lexicon.h"
#include "rng.h"
#include "util.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    const char *name, *pos, *neg;
} doc_def;

/* Patterns: comma-separated categories, "x*" matching a prefix; a negative
 * never matches the positive set. */
static const doc_def DOC_TASKS[] = {
    {"noun.food", "noun.food", "noun.*"}, {"noun.animal", "noun.animal", "noun.*"},
    {"noun.plant", "noun.plant", "noun.*"}, {"noun.person", "noun.person", "noun.*"},
    {"noun.artifact", "noun.artifact", "noun.*"}, {"noun.location", "noun.location", "noun.*"},
    {"noun.body", "noun.body", "noun.*"}, {"noun.substance", "noun.substance", "noun.*"},
    {"noun.time", "noun.time", "noun.*"}, {"noun.cognition", "noun.cognition", "noun.*"},
    {"noun.communication", "noun.communication", "noun.*"}, {"noun.state", "noun.state", "noun.*"},
    {"noun.act", "noun.act", "noun.*"}, {"noun.quantity", "noun.quantity", "noun.*"},
    {"noun.group", "noun.group", "noun.*"}, {"noun.attribute", "noun.attribute", "noun.*"},
    {"verb.motion", "verb.motion", "verb.*"}, {"verb.communication", "verb.communication", "verb.*"},
    {"verb.change", "verb.change", "verb.*"}, {"verb.contact", "verb.contact", "verb.*"},
    {"verb.social", "verb.social", "verb.*"},
    {"wn.noun-vs-verb", "noun.*", "verb.*"}, {"wn.adj-vs-adv", "adj.*", "adv.*"},
    {"fortunes/science", "fortunes/science", "fortunes/*"}, {"fortunes/computers", "fortunes/computers", "fortunes/*"},
    {"fortunes/politics", "fortunes/politics", "fortunes/*"}, {"fortunes/people", "fortunes/people", "fortunes/*"},
    {"fortunes/songs-poems", "fortunes/songs-poems", "fortunes/*"},
    {"fortunes/definitions", "fortunes/definitions", "fortunes/*"},
    {"fortunes/men-women", "fortunes/men-women", "fortunes/*"}, {"fortunes/work", "fortunes/work", "fortunes/*"},
    {"foldoc/networking", "foldoc/networking", "foldoc/*"}, {"foldoc/language", "foldoc/language", "foldoc/*"},
    {"foldoc/programming", "foldoc/programming", "foldoc/*"},
    {"src.fortune-vs-foldoc", "fortunes/*", "foldoc/*"}, {"src.jargon-vs-foldoc", "jargon", "foldoc/*"},
};
#define N_DOC_TASKS (int)(sizeof DOC_TASKS / sizeof *DOC_TASKS)

/* ------------------------------------------------------------ the corpus side */

typedef struct {
    const corpus_split *a, *b; /* b: NULL, or the second half of the side (test after valid) */
    int n;
    int *perm;
} side;

static const corpus_doc *side_doc(const side *s, int i) {
    return i < s->a->n ? &s->a->docs[i] : &s->b->docs[i - s->a->n];
}

static void side_init(side *s, const corpus_split *a, const corpus_split *b, uint64_t seed) {
    s->a = a, s->b = b, s->n = a->n + (b ? b->n : 0);
    s->perm = xmalloc(sizeof(int) * (size_t)(s->n ? s->n : 1));
    for (int i = 0; i < s->n; i++) s->perm[i] = i;
    rng_t r;
    rng_seed(&r, seed);
    for (int i = s->n - 1; i > 0; i--) {
        int j = (int)rng_below(&r, (uint64_t)i + 1), t = s->perm[i];
        s->perm[i] = s->perm[j], s->perm[j] = t;
    }
}

static bool match1(const char *cat, const char *p, size_t n) {
    if (n && p[n - 1] == '*') return strncmp(cat, p, n - 1) == 0;
    return strlen(cat) == n && strncmp(cat, p, n) == 0;
}

static bool matches(const char *cat, const char *pattern) {
    for (const char *p = pattern; *p;) {
        size_t n = strcspn(p, ",");
        if (match1(cat, p, n)) return true;
        p += n + (p[n] == ',');
    }
    return false;
}

/* A growing int list. */
typedef struct {
    int *v;
    int n, cap;
} ilist;

static void ipush(ilist *l, int x) {
    if (l->n == l->cap) l->cap = l->cap ? 2 * l->cap : 64, l->v = xrealloc(l->v, sizeof(int) * (size_t)l->cap);
    l->v[l->n++] = x;
}

/* One side of a generated task: positives and negatives, stride 1 (docs) or
 * 2 (doc, position). */
typedef struct {
    ilist pos, neg;
} gen_side;

static void pick_docs(const side *s, const doc_def *d, int cap, gen_side *g) {
    for (int k = 0; k < s->n && (g->pos.n < cap || g->neg.n < cap); k++) {
        const char *cat = side_doc(s, s->perm[k])->category;
        if (!cat) continue;
        if (matches(cat, d->pos)) {
            if (g->pos.n < cap) ipush(&g->pos, s->perm[k]);
        } else if (matches(cat, d->neg) && g->neg.n < cap) ipush(&g->neg, s->perm[k]);
    }
}

/* ------------------------------------------------------------ token predicates */

typedef struct {
    const char *t; /* the text */
    size_t len;
    const int *off; /* [n+1] byte offsets of the tokens */
    int n;
    const wordset *heads; /* single-word WordNet noun headwords */
    uint8_t *flag;        /* [len] per-byte state (inside quotes / parentheses) */
} tok_view;

typedef int (*tok_pred)(const tok_view *v, int i); /* 1 positive, 0 negative, -1 neither */

static bool alpha(char c) { return isalpha((unsigned char)c) != 0; }

static bool has(const tok_view *v, int i, int (*cls)(int)) {
    for (int p = v->off[i]; p < v->off[i + 1]; p++)
        if (cls((unsigned char)v->t[p])) return true;
    return false;
}

static bool has_char(const tok_view *v, int i, const char *set) {
    for (int p = v->off[i]; p < v->off[i + 1]; p++)
        if (strchr(set, v->t[p])) return true;
    return false;
}

static bool head(const tok_view *v, const char *w, size_t n) {
    return n > 1 && ws_find((wordset *)v->heads, w, n, 0) >= 0;
}

/* The last token of a word: a plural (ends in s/es over a noun headword) or
 * a singular headword. */
static int p_plural(const tok_view *v, int i) {
    int b = v->off[i + 1], a = b;
    if (!alpha(v->t[b - 1]) || ((size_t)b < v->len && alpha(v->t[b]))) return -1;
    while (a > 0 && alpha(v->t[a - 1])) a--;
    char w[64];
    size_t n = (size_t)(b - a);
    if (n < 3 || n >= sizeof w) return -1;
    for (size_t k = 0; k < n; k++) w[k] = (char)tolower((unsigned char)v->t[a + (int)k]);
    if (head(v, w, n)) return w[n - 1] == 's' ? -1 : 0;
    if (w[n - 1] != 's' || w[n - 2] == 's') return -1;
    return head(v, w, n - 1) || (w[n - 2] == 'e' && head(v, w, n - 2)) ? 1 : -1;
}

static int p_flagged(const tok_view *v, int i, const char *marks) {
    if (!has(v, i, isalpha) || has_char(v, i, marks)) return -1;
    return v->flag[v->off[i]] != 0;
}

static int p_quote(const tok_view *v, int i) { return p_flagged(v, i, "\""); }
static int p_paren(const tok_view *v, int i) { return p_flagged(v, i, "()"); }

/* A word-initial token mid-sentence: capitalized or not. */
static int p_capital(const tok_view *v, int i) {
    int a = v->off[i], c = v->t[a] == ' ' ? a + 1 : a;
    if (c >= v->off[i + 1] || !alpha(v->t[c]) || (c > 0 && alpha(v->t[c - 1]))) return -1;
    int p = c - 1;
    while (p >= 0 && v->t[p] == ' ') p--;
    if (p < 0 || strchr(".!?:;\n\"'-", v->t[p])) return -1;
    return isupper((unsigned char)v->t[c]) ? 1 : 0;
}

static int p_digit(const tok_view *v, int i) {
    if (has(v, i, isdigit)) return 1;
    return has(v, i, isalpha) ? 0 : -1;
}

static int p_newline(const tok_view *v, int i) {
    int a = v->off[i];
    if (a == 0 || has_char(v, i, "\n") || !has(v, i, isalnum)) return -1;
    return v->t[a - 1] == '\n';
}

/* A token opening a word (" word") or continuing one. */
static int p_wordstart(const tok_view *v, int i) {
    int a = v->off[i];
    if (v->t[a] == ' ' && a + 1 < v->off[i + 1] && alpha(v->t[a + 1])) return 1;
    return a > 0 && alpha(v->t[a]) && alpha(v->t[a - 1]) ? 0 : -1;
}

/* Per-byte flags: inside a "..." pair (quotes paired in order, an unpaired
 * last one opening nothing), or inside parentheses. */
static void set_flags(tok_view *v, bool quotes) {
    int depth = 0;
    size_t last_quote = 0;
    for (size_t p = 0; p < v->len; p++)
        if (v->t[p] == '"') last_quote = p + 1;
    bool in = false;
    for (size_t p = 0; p < v->len; p++) {
        char c = v->t[p];
        if (quotes) {
            if (c == '"') in = !in && p + 1 < last_quote;
            v->flag[p] = in;
        } else {
            depth += c == '(' ? 1 : c == ')' && depth > 0 ? -1 : 0;
            v->flag[p] = depth > 0;
        }
    }
}

typedef struct {
    const char *name, *desc;
    tok_pred pred;
    int flags; /* 1: quote flags, 2: parenthesis flags */
} tok_def;

static const tok_def TOK_TASKS[] = {
    {"tok.plural-noun", "last token of a plural noun (s/es over a WordNet headword) vs a singular headword",
     p_plural, 0},
    {"tok.in-quotes", "word token inside \"...\" vs outside", p_quote, 1},
    {"tok.in-parens", "word token inside (...) vs outside", p_paren, 2},
    {"tok.capitalized", "capitalized word start mid-sentence vs lowercase word start", p_capital, 0},
    {"tok.digit", "token with a digit vs a word token", p_digit, 0},
    {"tok.after-newline", "first token of a line vs other tokens", p_newline, 0},
    {"tok.word-start", "token opening a word (\" w\") vs continuing one", p_wordstart, 0},
};
#define N_TOK_TASKS (int)(sizeof TOK_TASKS / sizeof *TOK_TASKS)

/* Token byte offsets of a text (first max tokens); -1 when the tokens do not
 * spell the text byte for byte. */
static int tok_offsets(const tokenizer *tok, const corpus_doc *d, int max, int **off, int *n) {
    int *ids, m;
    if (tok_encode(tok, d->text, d->len, &ids, &m)) return -1;
    if (m > max) m = max;
    *off = xmalloc(sizeof(int) * (size_t)(m + 1));
    (*off)[0] = 0;
    int rc = 0;
    for (int i = 0; i < m && !rc; i++) {
        size_t len;
        const char *b = tok_bytes(tok, ids[i], &len);
        int a = (*off)[i];
        if (!b || (size_t)a + len > d->len || memcmp(d->text + a, b, len)) rc = -1;
        else (*off)[i + 1] = a + (int)len;
    }
    free(ids);
    if (rc) free(*off), *off = NULL;
    *n = m;
    return rc;
}

/* Up to 2 random positions of each class from one document. */
static void take_positions(const tok_view *v, tok_pred pred, int doc, int cap, rng_t *r, gen_side *g) {
    int *c[2], m[2] = {0, 0};
    c[0] = xmalloc(sizeof(int) * (size_t)(v->n + 1)), c[1] = xmalloc(sizeof(int) * (size_t)(v->n + 1));
    for (int i = 0; i < v->n; i++) {
        int y = pred(v, i);
        if (y >= 0) c[y][m[y]++] = i;
    }
    for (int y = 0; y < 2; y++) {
        ilist *l = y ? &g->pos : &g->neg;
        for (int k = 0; k < 2 && m[y] && l->n < 2 * cap; k++) {
            int j = (int)rng_below(r, (uint64_t)m[y]);
            ipush(l, doc), ipush(l, c[y][j]);
            c[y][j] = c[y][--m[y]];
        }
    }
    free(c[0]), free(c[1]);
}

static void pick_tokens(const side *s, const tok_def *d, const tokenizer *tok, const wordset *heads, int cap,
                        uint64_t seed, gen_side *g) {
    rng_t r;
    rng_seed(&r, seed);
    for (int k = 0; k < s->n && (g->pos.n < 2 * cap || g->neg.n < 2 * cap); k++) {
        const corpus_doc *doc = side_doc(s, s->perm[k]);
        int *off, n;
        if (tok_offsets(tok, doc, PROBE_MAX_TOKENS - 1, &off, &n)) continue;
        tok_view v = {doc->text, (size_t)off[n], off, n, heads, xcalloc((size_t)off[n] + 1, 1)};
        if (d->flags) set_flags(&v, d->flags == 1);
        take_positions(&v, d->pred, s->perm[k], cap, &r, g);
        free(v.flag), free(off);
    }
}

/* Single-word lowercase headwords of WordNet noun glosses ("word, word: gloss"). */
static void noun_heads(const corpus_split *c, wordset *ws) {
    ws_init(ws);
    for (int i = 0; i < c->n; i++) {
        const corpus_doc *d = &c->docs[i];
        if (!d->category || strncmp(d->category, "noun.", 5)) continue;
        const char *p = d->text, *end = strchr(p, ':');
        while (end && p < end) {
            while (p < end && (*p == ' ' || *p == ',')) p++;
            const char *q = p;
            while (q < end && *q != ',') q++;
            bool ok = q > p;
            for (const char *x = p; x < q && ok; x++) ok = islower((unsigned char)*x) != 0;
            if (ok) ws_find(ws, p, (size_t)(q - p), 1);
            p = q;
        }
    }
}

/* ------------------------------------------------------------ writing */

static json_object *jints(const ilist *l, int n) {
    json_object *a = json_object_new_array();
    for (int i = 0; i < n; i++) json_object_array_add(a, json_object_new_int(l->v[i]));
    return a;
}

/* Balances a side (the lists are already in random order: keep the heads). */
static void balance(gen_side *g, int stride) {
    int m = g->pos.n < g->neg.n ? g->pos.n : g->neg.n;
    m -= m % stride;
    g->pos.n = g->neg.n = m;
}

static json_object *task_json(const char *name, const char *kind, const char *desc, gen_side sides[2], int stride) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(name));
    json_object_object_add(o, "kind", json_object_new_string(kind));
    json_object_object_add(o, "desc", json_object_new_string(desc));
    static const char *keys[2][2] = {{"train_pos", "train_neg"}, {"test_pos", "test_neg"}};
    for (int s = 0; s < 2; s++) {
        balance(&sides[s], stride);
        json_object_object_add(o, keys[s][0], jints(&sides[s].pos, sides[s].pos.n));
        json_object_object_add(o, keys[s][1], jints(&sides[s].neg, sides[s].neg.n));
    }
    return o;
}

typedef struct {
    void (*log)(void *ctx, const char *line);
    void *ctx;
} logger;

static void log_task(const logger *lg, const char *name, const char *kind, gen_side s[2], int stride) {
    if (!lg->log) return;
    char line[256];
    snprintf(line, sizeof line, "%-24s %-5s train %4d+%-4d test %4d+%-4d", name, kind, s[0].pos.n / stride,
             s[0].neg.n / stride, s[1].pos.n / stride, s[1].neg.n / stride);
    lg->log(lg->ctx, line);
}

static void free_sides(gen_side s[2]) {
    for (int i = 0; i < 2; i++) free(s[i].pos.v), free(s[i].neg.v);
}

static void build_doc_tasks(side sd[2], int cap, json_object *arr, const logger *lg) {
    for (int t = 0; t < N_DOC_TASKS; t++) {
        const doc_def *d = &DOC_TASKS[t];
        gen_side s[2] = {0};
        for (int k = 0; k < 2; k++) pick_docs(&sd[k], d, cap, &s[k]);
        char desc[128];
        snprintf(desc, sizeof desc, "%s vs the rest of %s (last token of the document)", d->pos, d->neg);
        json_object_array_add(arr, task_json(d->name, "doc", desc, s, 1));
        log_task(lg, d->name, "doc", s, 1);
        free_sides(s);
    }
}

static void build_tok_tasks(side sd[2], const tokenizer *tok, const wordset *heads, int cap, uint64_t seed,
                            json_object *arr, const logger *lg) {
    for (int t = 0; t < N_TOK_TASKS; t++) {
        const tok_def *d = &TOK_TASKS[t];
        gen_side s[2] = {0};
        for (int k = 0; k < 2; k++) pick_tokens(&sd[k], d, tok, heads, cap, seed + 17 * (uint64_t)t + k, &s[k]);
        json_object_array_add(arr, task_json(d->name, "token", d->desc, s, 2));
        log_task(lg, d->name, "token", s, 2);
        free_sides(s);
    }
}

static int write_tasks(const char *dir, json_object *root) {
    if (!ms_is_dir(dir) && mkdir(dir, 0755)) return ms_seterr("cannot create folder (%s)", dir);
    /* one task per line: diffable, and small without the texts */
    json_object *arr = json_object_object_get(root, "tasks");
    json_object_get(arr);
    json_object_object_del(root, "tasks");
    const char *head = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
    size_t cap = strlen(head) + 64, n = 0;
    char *buf = xmalloc(cap);
    n += (size_t)snprintf(buf, cap, "%.*s,\n\"tasks\": [\n", (int)strlen(head) - 1, head);
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        const char *t = json_object_to_json_string_ext(json_object_array_get_idx(arr, i), JSON_C_TO_STRING_PLAIN);
        size_t m = strlen(t);
        buf = xrealloc(buf, cap = n + m + 8);
        n += (size_t)snprintf(buf + n, cap - n, "%s%s\n", t, i + 1 < json_object_array_length(arr) ? "," : "");
    }
    buf = xrealloc(buf, n + 4);
    memcpy(buf + n, "]}\n", 4);
    json_object_put(arr);
    char *path = ms_path_join(dir, "tasks.json");
    int rc = ms_write_file_atomic(path, buf, n + 3);
    free(path), free(buf);
    return rc;
}

int probe_tasks_build(const char *corpus_dir, const tokenizer *tok, int per_class, uint64_t seed, const char *dir,
                      void (*log)(void *ctx, const char *line), void *log_ctx) {
    corpus_split c[3] = {{0}};
    static const char *names[3] = {"train", "valid", "test"};
    for (int i = 0; i < 3; i++)
        if (corpus_load(&c[i], corpus_dir, names[i])) {
            for (int j = 0; j < i; j++) corpus_free(&c[j]);
            return -1;
        }
    side sd[2];
    side_init(&sd[0], &c[0], NULL, seed);
    side_init(&sd[1], &c[1], &c[2], seed ^ 0x68656c64ull); /* "held" */
    wordset heads;
    noun_heads(&c[0], &heads);
    json_object *root = json_object_new_object(), *arr = json_object_new_array(), *cs = json_object_new_object();
    json_object_object_add(root, "format", json_object_new_string("metascope-probe-tasks-1"));
    json_object_object_add(root, "seed", json_object_new_int64((int64_t)seed));
    json_object_object_add(root, "per_class", json_object_new_int(per_class));
    json_object_object_add(root, "max_tokens", json_object_new_int(PROBE_MAX_TOKENS));
    char hash[16];
    snprintf(hash, sizeof hash, "%08x", probe_tok_hash(tok));
    json_object_object_add(root, "tokenizer", json_object_new_string(hash));
    for (int i = 0; i < 3; i++) json_object_object_add(cs, names[i], json_object_new_int(c[i].n));
    json_object_object_add(root, "corpus", cs);
    json_object_object_add(root, "tasks", arr);
    logger lg = {log, log_ctx};
    build_doc_tasks(sd, per_class, arr, &lg);
    build_tok_tasks(sd, tok, &heads, per_class, seed, arr, &lg);
    int rc = write_tasks(dir, root);
    json_object_put(root);
    ws_free(&heads);
    free(sd[0].perm), free(sd[1].perm);
    for (int i = 0; i < 3; i++) corpus_free(&c[i]);
    return rc;
}
