/* hash.c — FNV-1a, 64-bit. */
#include "hash.h"

#include <string.h>

uint64_t hash64(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

uint64_t hash64_str(uint64_t h, const char *s) { return hash64(h, s, strlen(s) + 1); }
