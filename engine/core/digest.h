/* digest.h — a 64-bit FNV-1a digest, our own code, for detecting corruption
 * (flipped bits, torn writes) in files we write and read back, such as
 * training checkpoints. Not a cryptographic hash. */
#ifndef MS_DIGEST_H
#define MS_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define MS_DIGEST_INIT 0xcbf29ce484222325ULL

/* Continues digest h over n bytes at p (start with MS_DIGEST_INIT). */
uint64_t ms_digest(uint64_t h, const void *p, size_t n);

#endif
