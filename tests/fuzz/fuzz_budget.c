/* fuzz_budget.c — libFuzzer harness: a scaling budget / train-glp config
 * (JSON; unspecified fields keep the defaults). What loads must be a
 * trainable configuration. */
#include "folder.h"
#include "glp_train.h"

static const char *const names[] = {"budget.json"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *dir = fuzz_folder(data, size, names, 1);
    char *p = ms_path_join(dir, names[0]);
    glp_train_cfg c;
    glp_train_defaults(&c);
    if (glp_train_cfg_load(&c, p)) fuzz_check_error(names, 1);
    else if (!memchr(c.model_name, 0, sizeof c.model_name) || c.n_layers < 1 || c.batch < 1 || c.steps < 1) abort();
    free(p);
    return 0;
}
