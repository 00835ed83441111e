/* fuzz_lz4.c — libFuzzer harness: arbitrary bytes as an lz4 frame (every
 * bundled asset is one). A frame that decodes must survive a round trip. */
#include "lz4file.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *out, *z, *back;
    size_t n, zn, bn;
    if (lz4_decompress_buf(data, size, &out, &n, "fuzz.lz4")) {
        if (!strstr(ms_geterr(), "fuzz.lz4")) abort();
        return 0;
    }
    if (out[n] != 0) abort(); /* the promised NUL after the data */
    if (lz4_compress_buf(out, n, &z, &zn, 1) || lz4_decompress_buf(z, zn, &back, &bn, "again.lz4")) abort();
    if (bn != n || memcmp(back, out, n)) abort();
    free(out), free(z), free(back);
    return 0;
}
