/* fuzz_tokenizer_json.c — libFuzzer harness: arbitrary bytes as an HF
 * tokenizer.json; when it loads, a fixed text must round-trip. */
#include "tokenizer.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tokenizer *t = tok_load_hf_json_mem((const char *)data, size, "fuzz.json");
    if (!t) return 0;
    static const char text[] = "Hello, world! It's 2026 \xf0\x9f\x99\x82 \xff\xfe  end\n";
    /* Exact round trips need a token for every byte of the text (a vocabulary
     * may lack some, as HF's may: such bytes are dropped). */
    bool complete = true;
    for (size_t i = 0; i < sizeof text - 1 && complete; i++) {
        int *one, k;
        if (tok_encode(t, text + i, 1, &one, &k) == 0) {
            complete = k > 0;
            free(one);
        }
    }
    int *ids, n;
    if (tok_encode(t, text, sizeof text - 1, &ids, &n) == 0) {
        char *out;
        size_t len;
        if (tok_decode(t, ids, n, &out, &len) == 0) {
            if (complete && (len != sizeof text - 1 || memcmp(out, text, len))) abort(); /* round trip broken */
            free(out);
        }
        free(ids);
    }
    tok_free(t);
    return 0;
}
