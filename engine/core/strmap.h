/* strmap.h — a string-keyed hash map to int: open addressing, linear
 * probing, load factor <= 1/2. Keys are not copied: each must outlive the
 * map (callers keep them in their own tables). */
#ifndef MS_STRMAP_H
#define MS_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *key;
    uint32_t len;
    uint32_t hash; /* low bits of the full hash, to skip most memcmp */
    int val;
} sm_slot;

typedef struct {
    sm_slot *slot; /* key == NULL: empty */
    size_t cap, n;
} strmap;

uint64_t strmap_hash(const char *s, size_t n);
/* Pointer to the value, or NULL. */
int *strmap_get(const strmap *m, const char *key, size_t len);
/* Inserts with val if absent; returns the value slot and sets *added. */
int *strmap_put(strmap *m, const char *key, size_t len, int val, bool *added);
void strmap_free(strmap *m);

#endif
