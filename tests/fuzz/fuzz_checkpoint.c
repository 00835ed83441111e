/* fuzz_checkpoint.c — libFuzzer harness: a training checkpoint
 * (ckpt.safetensors). The view is sized from the file itself (its shape,
 * signature and params length, bounded), so resumes get past the settings
 * checks and reach the checksum and the copies. */
#include "checkpoint.h"
#include "folder.h"
#include "safetensors.h"

static const char *const names[] = {"ckpt.safetensors"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    st_file f;
    size_t n = 16, nc = 0;
    bool ema = false;
    char shape[256] = "", sig[256] = "";
    if (st_open_mem(&f, data, size, "ckpt.safetensors") == 0) {
        const st_tensor *p = st_find(&f, "params"), *k = st_find(&f, "counters");
        ema = st_find(&f, "ema") != NULL;
        if (p && p->numel <= (1u << 16)) n = p->numel;
        if (k && k->numel <= (1u << 16)) nc = k->numel;
        const char *a = st_meta(&f, "shape"), *b = st_meta(&f, "signature");
        snprintf(shape, sizeof shape, "%s", a ? a : "");
        snprintf(sig, sizeof sig, "%s", b ? b : "");
        st_close(&f);
    }
    const char *dir = fuzz_folder(data, size, names, 1);
    float *params = xcalloc(n + 1, sizeof(float));
    adamw_state opt;
    adamw_init(&opt, n);
    rng_t r = {{0}};
    double el = 0;
    uint64_t *counters = xcalloc(nc + 1, sizeof(uint64_t));
    float *avg = xcalloc(n + 1, sizeof(float));
    ckpt_view v = {params, &opt, &r, &el, shape, sig, "model", nc ? counters : NULL, nc, ema ? avg : NULL};
    if (ckpt_load(&v, dir)) fuzz_check_error(names, 1);
    free(params), free(counters), free(avg);
    adamw_free(&opt);
    return 0;
}
