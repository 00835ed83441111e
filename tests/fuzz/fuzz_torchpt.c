/* fuzz_torchpt.c — libFuzzer harness: arbitrary bytes as a torch.save .pt file
 * (ZIP directory, pickle VM, strided tensor gather); when it loads, every
 * tensor is read end to end. */
#include "torchpt.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pt_dict d;
    if (pt_load_dict_mem(&d, data, size, "fuzz.pt")) return 0;
    volatile float sink = 0;
    for (int i = 0; i < d.n; i++)
        for (size_t k = 0; k < d.t[i].numel; k++) sink += d.t[i].data[k];
    (void)sink;
    pt_free(&d);
    return 0;
}
