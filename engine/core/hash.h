/* hash.h — FNV-1a, 64-bit: the one non-cryptographic hash for keys and
 * fingerprints (cache keys, model digests, the training checkpoints' checksum).
 * Chain calls to hash pieces. Not a cryptographic hash. */
#ifndef MS_HASH_H
#define MS_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH64_INIT 0xcbf29ce484222325ull

uint64_t hash64(uint64_t h, const void *data, size_t n);
/* The same over a string's bytes and its terminating NUL (so "ab","c" and
 * "a","bc" differ). */
uint64_t hash64_str(uint64_t h, const char *s);

#endif
