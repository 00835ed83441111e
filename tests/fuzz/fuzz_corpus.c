/* fuzz_corpus.c — libFuzzer harness: a corpus split (train.jsonl, JSON lines
 * {"text", "source", "category"}). Loaded documents must be what they say. */
#include "corpus.h"
#include "folder.h"

static const char *const names[] = {"train.jsonl"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *dir = fuzz_folder(data, size, names, 1);
    corpus_split s;
    if (corpus_load(&s, dir, "train")) {
        fuzz_check_error(names, 1);
        return 0;
    }
    size_t total = 0;
    for (int i = 0; i < s.n; i++) {
        if (!s.docs[i].text || !s.docs[i].source || !s.docs[i].category) abort();
        if (strlen(s.docs[i].text) > s.docs[i].len) abort();
        total += s.docs[i].len;
    }
    if (total != s.bytes) abort();
    corpus_free(&s);
    return 0;
}
