/* fuzz_hfconfig.c — libFuzzer harness: arbitrary bytes as a Hugging Face
 * config.json. What parses must be a shape the transformer can allocate. */
#include "hfconfig.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tf_config c;
    if (hf_config_parse(&c, (const char *)data, size, "fuzz.json")) {
        if (!strstr(ms_geterr(), "fuzz.json")) abort();
        return 0;
    }
    if (c.n_layers < 1 || c.d_model < 1 || c.n_heads < 1 || c.n_kv_heads < 1 || c.vocab < 1 || c.max_seq < 1) abort();
    if (c.n_heads % c.n_kv_heads || c.head_dim < 1 || c.head_dim % 2) abort();
    if (c.bos_id < -1 || c.bos_id >= c.vocab || c.eos_id < -1 || c.eos_id >= c.vocab) abort();
    return 0;
}
