/* strmap.c — string-keyed hash map (see strmap.h). */
#include "strmap.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

uint64_t strmap_hash(const char *s, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xFF51AFD7ED558CCDull);
    for (; n >= 8; s += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
    }
    uint64_t w = 0;
    if (n) memcpy(&w, s, n);
    h = (h ^ w) * 0x94D049BB133111EBull;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 32);
}

static size_t sm_find(const strmap *m, const char *key, size_t len, uint64_t h) {
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const sm_slot *s = &m->slot[i];
        if (!s->key || (s->hash == (uint32_t)(h >> 32) && s->len == len &&
                        memcmp(s->key, key, len) == 0))
            return i;
    }
}

int *strmap_get(const strmap *m, const char *key, size_t len) {
    if (!m->cap) return NULL;
    sm_slot *s = &m->slot[sm_find(m, key, len, strmap_hash(key, len))];
    return s->key ? &s->val : NULL;
}

static void strmap_grow(strmap *m) {
    strmap g = {xcalloc(m->cap ? m->cap * 2 : 64, sizeof(sm_slot)), m->cap ? m->cap * 2 : 64, m->n};
    for (size_t i = 0; i < m->cap; i++) {
        sm_slot *s = &m->slot[i];
        if (!s->key) continue;
        uint64_t h = strmap_hash(s->key, s->len);
        g.slot[sm_find(&g, s->key, s->len, h)] = *s;
    }
    free(m->slot);
    *m = g;
}

int *strmap_put(strmap *m, const char *key, size_t len, int val, bool *added) {
    if (2 * (m->n + 1) > m->cap) strmap_grow(m);
    uint64_t h = strmap_hash(key, len);
    sm_slot *s = &m->slot[sm_find(m, key, len, h)];
    *added = !s->key;
    if (*added) {
        *s = (sm_slot){key, len, (uint32_t)(h >> 32), val};
        m->n++;
    }
    return &s->val;
}

void strmap_free(strmap *m) {
    free(m->slot);
    *m = (strmap){0};
}
