/* fuzz_rep_statistics.c — libFuzzer harness: a GLP folder's
 * rep_statistics.pt (torch pickle, read by the allow-listed unpickler) next
 * to the tiny fixture's config.yaml and final.safetensors: the statistics
 * must have d_input values per row and no NaN or negative variance. */
#include "folder.h"
#include "glp_folder.h"

static const char *const names[] = {"rep_statistics.pt"};
static char *cfg, *weights;
static size_t ncfg, nweights;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *src = getenv("MS_FUZZ_GLP");
    if (!src) src = "tests/fixtures/glp_folder";
    char *a = ms_path_join(src, "config.yaml"), *b = ms_path_join(src, "final.safetensors");
    if (ms_read_file(a, (uint8_t **)&cfg, &ncfg) || ms_read_file(b, (uint8_t **)&weights, &nweights)) abort();
    free(a), free(b);
    return 0;
}

static void unput(void) {
    char *a = ms_path_join(fuzz_dir, "config.yaml"), *b = ms_path_join(fuzz_dir, "final.safetensors");
    unlink(a), unlink(b);
    free(a), free(b);
}

static void put(const char *dir, const char *name, const char *data, size_t n) {
    char *p = ms_path_join(dir, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f)) abort();
    free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *dir = fuzz_folder(data, size, names, 1);
    static bool ready;
    if (!ready) { /* the fixed files, removed at exit before the folder (atexit runs in reverse) */
        put(dir, "config.yaml", cfg, ncfg), put(dir, "final.safetensors", weights, nweights);
        atexit(unput);
        ready = true;
    }
    glp_model m;
    glp_file_config fc;
    int row = size % 3 - 1; /* -1, 0 or 1: [d] and [L, d] statistics, rows in and out of range */
    if (glp_load_folder(&m, &fc, dir, row)) {
        fuzz_check_error(names, 1);
        return 0;
    }
    for (int i = 0; i < m.c.d_input; i++)
        if (!(m.var[i] >= 0)) abort();
    glp_free(&m);
    return 0;
}
