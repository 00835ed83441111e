/* fuzz_harvest.c — libFuzzer harness: a harvest folder (manifest.json,
 * stats.safetensors and up to two shards; see folder.h): the manifest and
 * statistics read, then every row when the manifest's size is small. */
#include "folder.h"
#include "harvest.h"

static const char *const names[] = {"manifest.json", "stats.safetensors", "shard-00000.safetensors.lz4",
                                    "shard-00001.safetensors.lz4"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *dir = fuzz_folder(data, size, names, 4);
    harvest_info h;
    if (harvest_info_load(&h, dir)) {
        fuzz_check_error(names, 4);
        return 0;
    }
    if (h.d < 1 || h.rows < 0 || h.shards < 0) abort();
    float *rows = NULL;
    if (harvest_load_rows(dir, &h, &rows)) fuzz_check_error(names, 4);
    free(rows);
    harvest_info_free(&h);
    return 0;
}
