/* corpus.c — reading the JSON-lines corpus and turning it into tokens. */
#include "corpus.h"
#include "util.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str_field(json_object *o, const char *k) {
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string)) return NULL;
    return json_object_get_string(v);
}

int corpus_load(corpus_split *s, const char *dir, const char *split) {
    memset(s, 0, sizeof *s);
    char name[64];
    snprintf(name, sizeof name, "%s.jsonl", split);
    char *path = ms_find_file(dir, name);
    if (!path) return ms_seterr("no %s or %s.lz4 in the corpus folder (%s)", name, name, dir);
    uint8_t *buf;
    size_t n;
    if (ms_read_file(path, &buf, &n)) {
        free(path);
        return -1;
    }
    int cap = 1024, line = 0, rc = 0;
    s->docs = xmalloc(sizeof(corpus_doc) * (size_t)cap);
    json_tokener *tok = json_tokener_new();
    for (char *p = (char *)buf, *end = (char *)buf + n; p < end && !rc;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        line++;
        if (len > 0) {
            json_tokener_reset(tok);
            json_object *o = json_tokener_parse_ex(tok, p, (int)len);
            const char *text = o ? str_field(o, "text") : NULL;
            if (!text) rc = ms_seterr("line %d is not a JSON object with a \"text\" string (%s)", line, path);
            else {
                if (s->n == cap) s->docs = xrealloc(s->docs, sizeof(corpus_doc) * (size_t)(cap *= 2));
                corpus_doc *d = &s->docs[s->n++];
                d->len = (size_t)json_object_get_string_len(json_object_object_get(o, "text"));
                d->text = xstrndup(text, d->len);
                const char *src = str_field(o, "source"), *cat = str_field(o, "category");
                d->source = xstrdup(src ? src : "");
                d->category = xstrdup(cat ? cat : "");
                s->bytes += d->len;
            }
            json_object_put(o);
        }
        p += len + 1;
    }
    json_tokener_free(tok);
    free(buf);
    free(path);
    if (rc) corpus_free(s);
    return rc;
}

void corpus_free(corpus_split *s) {
    for (int i = 0; i < s->n; i++) {
        free(s->docs[i].text);
        free(s->docs[i].source);
        free(s->docs[i].category);
    }
    free(s->docs);
    memset(s, 0, sizeof *s);
}

int corpus_tokenize(const corpus_split *s, const tokenizer *t, int sep, int **ids, size_t *n) {
    size_t cap = s->bytes / 2 + (size_t)s->n + 16, len = 0;
    int *out = xmalloc(sizeof(int) * cap);
    for (int i = 0; i < s->n; i++) {
        int *d, k;
        if (tok_encode(t, s->docs[i].text, s->docs[i].len, &d, &k)) {
            free(out);
            return -1;
        }
        if (len + (size_t)k + 1 > cap) {
            cap = 2 * (len + (size_t)k + 1);
            out = xrealloc(out, sizeof(int) * cap);
        }
        memcpy(out + len, d, sizeof(int) * (size_t)k);
        len += (size_t)k;
        if (sep >= 0) out[len++] = sep;
        free(d);
    }
    *ids = out;
    *n = len;
    return 0;
}

int corpus_split_ids(const char *dir, const char *split, const tokenizer *t, int sep, int **ids, size_t *n) {
    corpus_split cs;
    if (corpus_load(&cs, dir, split)) return -1;
    int rc = corpus_tokenize(&cs, t, sep, ids, n);
    corpus_free(&cs);
    return rc;
}
