/* tokenizer.h — byte-level BPE (GPT-2 / Llama-3 style).
 *
 * Text is bytes. Encoding: (1) split out added/special tokens (longest match
 * first); (2) split the rest into maximal valid-UTF-8 segments and runs of
 * invalid bytes; each invalid run is one pre-token, each valid segment is cut
 * into pre-tokens by the pre-tokenizer regex (PCRE2, Unicode properties);
 * (3) each pre-token's bytes are mapped through the GPT-2 byte<->unicode table
 * and merged by BPE rank. Decoding concatenates token bytes, so any byte string
 * round-trips exactly. */
#ifndef MS_TOKENIZER_H
#define MS_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

typedef struct tokenizer tokenizer;

/* The GPT-2 pre-tokenizer regex (also used by our own trained tokenizers). */
extern const char *TOK_GPT2_REGEX;

/* Load from a model folder: tokenizer.json if present, else vocab.json +
 * merges.txt (each also found with a ".lz4" suffix). */
tokenizer *tok_load_dir(const char *dir);
/* HF tokenizer.json (model.type BPE; merges as "a b" strings or [a,b] pairs;
 * added_tokens; ByteLevel or Sequence[Split, ByteLevel] pre-tokenizer).
 * Anything else that would change the ids (a normalizer, add_prefix_space,
 * other pre-tokenizers) is refused with an error rather than approximated.
 * BOS comes from a TemplateProcessing post-processor or a known name
 * (<|begin_of_text|>, <s>, <|endoftext|>...), EOS from a known name; with
 * neither, the first special added token is both. */
tokenizer *tok_load_hf_json(const char *path);
tokenizer *tok_load_hf_json_mem(const char *json, size_t len, const char *name);
/* GPT-2 vocab.json + merges.txt (first line "#version..." is skipped). Vocab
 * entries that no byte and no merge produces (<|endoftext|>, <s>...) become
 * special added tokens. */
tokenizer *tok_load_gpt2(const char *vocab_path, const char *merges_path);
void tok_free(tokenizer *t);

int tok_vocab_size(const tokenizer *t);
/* Encode len bytes; *ids is malloc'd. Never fails on any input bytes. No BOS
 * is added. Safe to call from several threads on one tokenizer. */
int tok_encode(const tokenizer *t, const char *text, size_t len, int **ids, int *n);
/* The same into buf[cap]: bos first when bos >= 0, then the text's ids,
 * truncated to cap. Returns the count, or -1 on error. */
int tok_encode_into(const tokenizer *t, int bos, const char *text, size_t len, int *buf, int cap);
/* Decode to bytes (malloc'd, NUL-terminated one past *len). Unknown ids fail. */
int tok_decode(const tokenizer *t, const int *ids, int n, char **out, size_t *len);
/* The bytes one token stands for (not NUL-terminated); NULL if id invalid. */
const char *tok_bytes(const tokenizer *t, int id, size_t *len);
/* Token id of an exact vocabulary string (in byte-unicode form) or of an
 * added token's content, or -1. */
int tok_lookup(const tokenizer *t, const char *piece);
/* Special token ids, -1 when the tokenizer has none. */
int tok_bos(const tokenizer *t);
int tok_eos(const tokenizer *t);

/* Save in HF tokenizer.json layout (ByteLevel with the GPT-2 regex, or Split +
 * ByteLevel for a custom regex), atomically. */
int tok_save_hf_json(const tokenizer *t, const char *path);
/* Save as GPT-2 vocab.json + merges.txt, atomically. */
int tok_save_gpt2(const tokenizer *t, const char *vocab_path, const char *merges_path);

/* Train a byte-level BPE on text with the GPT-2 pre-tokenizer: 256 byte tokens,
 * then merges until vocab_size - nspecial, then the special tokens (e.g.
 * "<|endoftext|>"; the first is used as both BOS and EOS). Deterministic: ties
 * in pair counts break by the lexicographically smallest pair. */
tokenizer *bpe_train(const char *text, size_t len, int vocab_size,
                     const char *const *special, int nspecial);

#endif
