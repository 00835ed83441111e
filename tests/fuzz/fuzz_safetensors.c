/* fuzz_safetensors.c — libFuzzer harness: arbitrary bytes as a safetensors
 * file; when it parses, every float tensor is converted. */
#include "safetensors.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    st_file f;
    if (st_open_mem(&f, data, size, "fuzz.safetensors")) return 0;
    for (int i = 0; i < f.n; i++) {
        const st_tensor *t = &f.t[i];
        if (t->numel > (1u << 20)) continue;
        float *out = malloc(t->numel * sizeof(float) + 1);
        st_to_f32(&f, t, out, t->numel);
        free(out);
    }
    st_close(&f);
    return 0;
}
