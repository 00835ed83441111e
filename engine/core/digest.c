/* digest.c — 64-bit FNV-1a (digest.h). */
#include "digest.h"

uint64_t ms_digest(uint64_t h, const void *p, size_t n) {
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ULL;
    return h;
}
