/* tokenizer_internal.h — pieces shared by tokenizer.c and bpe_train.c: the
 * pre-tokenizer, two small open-addressing hash maps, and the builder the
 * loaders and the trainer use to assemble a tokenizer. */
#ifndef MS_TOKENIZER_INTERNAL_H
#define MS_TOKENIZER_INTERNAL_H

#include "strmap.h"
#include "tokenizer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- GPT-2 byte <-> unicode table ---- */

/* Code point standing for byte b (printable bytes stand for themselves). */
int tok_byte_cp(uint8_t b);
/* Piece string (UTF-8 of the byte symbols) of n bytes; malloc'd, NUL-terminated. */
char *tok_bytes_to_piece(const char *s, size_t n, size_t *outlen);
/* Length of the well-formed UTF-8 character at s (1..4), 0 if none starts there. */

/* ---- Pre-tokenizer: invalid-UTF-8 runs, then the regex on valid segments ---- */

typedef struct pretok {
    void *re; /* pcre2_code_8, NULL = no regex split */
} pretok;

typedef void (*pretok_fn)(void *ctx, const char *s, size_t n);

int pretok_init(pretok *p, const char *regex, const char *where);
void pretok_free(pretok *p);
/* Calls fn once per pre-token of text, in order; pre-tokens cover text exactly. */
void pretok_run(const pretok *p, const char *text, size_t len, pretok_fn fn, void *ctx);

/* ---- Hash maps (keys are borrowed: they must outlive the map) ---- */

typedef struct {
    uint64_t *key; /* UINT64_MAX: empty */
    int *val;
    size_t cap, n;
} u64map;

static inline uint64_t pair_key(int a, int b) { return (uint64_t)(uint32_t)a << 32 | (uint32_t)b; }
int *u64map_get(const u64map *m, uint64_t key);
int *u64map_put(u64map *m, uint64_t key, int val, bool *added);
void u64map_free(u64map *m);

/* ---- Builder ---- */

/* A tokenizer with ids 0..n-1 and no tokens yet. regex NULL: no regex split. */
tokenizer *tok_new(int n, const char *regex, bool ignore_merges, const char *where);
/* Model vocabulary entry (byte-unicode piece) for id. */
int tok_set_piece(tokenizer *t, int id, const char *piece, size_t len, const char *where);
/* Merge of ids a and b with the next rank; the id of piece(a)+piece(b) or -1. */
int tok_add_merge(tokenizer *t, int a, int b);
/* Added token: content matched on raw text before BPE. */
int tok_add_added(tokenizer *t, int id, const char *content, size_t len, bool special,
                  const char *where);
/* Call once all tokens are in: byte tokens, added-token index, BOS/EOS guesses. */
void tok_finish(tokenizer *t);
void tok_set_bos_eos(tokenizer *t, int bos, int eos);

#endif
