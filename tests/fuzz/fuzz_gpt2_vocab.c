/* fuzz_gpt2_vocab.c — libFuzzer harness: a GPT-2 style tokenizer (vocab.json
 * + merges.txt; see folder.h). What loads must encode and decode any bytes. */
#include "folder.h"
#include "tokenizer.h"

static const char *const names[] = {"vocab.json", "merges.txt"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *dir = fuzz_folder(data, size, names, 2);
    char *vj = ms_path_join(dir, names[0]), *mt = ms_path_join(dir, names[1]);
    tokenizer *t = tok_load_gpt2(vj, mt);
    free(vj), free(mt);
    if (!t) {
        fuzz_check_error(names, 2);
        return 0;
    }
    static const char text[] = "Hello, world! \xf0\x9f\x99\x82 \xff\xfe end\n";
    int *ids, n;
    if (tok_encode(t, text, sizeof text - 1, &ids, &n) == 0) {
        for (int i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= tok_vocab_size(t)) abort();
        char *out;
        size_t len;
        if (tok_decode(t, ids, n, &out, &len) == 0) free(out);
        free(ids);
    }
    tok_free(t);
    return 0;
}
