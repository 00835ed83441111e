/* fuzz_index.c — libFuzzer harness: an index folder (manifest.json,
 * tokens.safetensors.lz4, records.bin, labels.tsv; see folder.h) opened and
 * every unit's record read (at most 64). Records that read must point inside
 * the token stream: index_read checks that, and we read the tokens back. */
#include "folder.h"
#include "index.h"

static const char *const names[] = {"manifest.json", "tokens.safetensors.lz4", "records.bin", "labels.tsv"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *dir = fuzz_folder(data, size, names, 4);
    ms_index ix;
    if (index_open(&ix, dir)) {
        fuzz_check_error(names, 4);
        return 0;
    }
    for (int u = 0; u < ix.n_units && u < 64; u++) {
        ix_record r;
        if (index_read(&ix, u, &r)) {
            fuzz_check_error(names, 4);
            continue;
        }
        volatile int sink = 0;
        for (int i = 0; i < r.n_top + r.n_quant; i++) {
            const ix_example *e = &r.ex[i];
            for (int k = 0; k < e->n; k++) sink += ix.stream[ix.seg_start[e->seg] + e->w0 + k];
        }
        if (sink < 0 && ix.vocab > 0) sink = 0;
        index_record_free(&r);
    }
    index_close(&ix);
    return 0;
}
