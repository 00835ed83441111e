/* fuzz_sae.c — libFuzzer harness: an SAE folder (cfg.json and
 * sae_weights.safetensors, SAELens style, or sae.safetensors, sparsify
 * style; see folder.h). What loads must encode a row without reading out of
 * bounds. */
#include "folder.h"
#include "sae.h"

static const char *const names[] = {"cfg.json", "sae_weights.safetensors", "sae.safetensors"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *dir = fuzz_folder(data, size, names, 3);
    sae_model m;
    if (sae_load_folder(&m, dir, -1)) {
        fuzz_check_error(names, 3);
        return 0;
    }
    if (m.c.d_in < 1 || m.c.n_latents < 1 || m.c.k < 0 || m.c.k > m.c.n_latents) abort();
    if ((size_t)m.c.d_in * (size_t)m.c.n_latents <= (1u << 22)) {
        float *x = xcalloc((size_t)m.c.d_in, sizeof(float)), *z = xcalloc((size_t)m.c.n_latents, sizeof(float));
        sae_work *w = sae_work_new(&m, 1);
        sae_encode_dense(&m, w, x, 1, z);
        sae_work_free(w);
        free(x), free(z);
    }
    sae_free(&m);
    return 0;
}
