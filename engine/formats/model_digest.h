/* model_digest.h — a model folder's identity, cheap yet sound enough to key
 * cached statistics (statcache.h) on.
 *
 * Hashed, in file-name order: every regular file whose name ends in .json,
 * .txt or .safetensors (each optionally .lz4): its name and size, then
 *  - an uncompressed .safetensors file larger than 64 MiB: its tensor table
 *    (names, dtypes, shapes) and, per tensor, all of its bytes when it has at
 *    most 4 KiB, else 16 chunks of 64 bytes spread evenly from its first to
 *    its last byte (so every tensor is sampled, the smallest in full, and any
 *    training update, which moves nearly every value, changes the digest);
 *  - any other file (config, tokenizer, small or lz4-packed weights): all of
 *    its bytes.
 * Not hashed: modification times or paths (a copied folder is the same model;
 * a touched file is not a new one). A change confined to a few values of a
 * large tensor between sampled chunks goes unseen: disable the cache (`set
 * cache off`) when editing weights by hand. On the 1B shape (2.5 GB, 147
 * tensors) this touches ~2300 pages (~9 MB from a cold disk: the mapping is
 * read at random, without read-around). */
#ifndef MS_MODEL_DIGEST_H
#define MS_MODEL_DIGEST_H

#include <stdint.h>

#define DIGEST_FULL_MAX (64u << 20) /* files up to this size are hashed whole */

/* The digest of the model folder dir. Returns 0, or -1 with the error set. */
int model_digest(const char *dir, uint64_t *out);
/* The digest of one file by the rules above, chained onto h. */
int model_digest_file(const char *path, uint64_t h, uint64_t *out);

#endif
