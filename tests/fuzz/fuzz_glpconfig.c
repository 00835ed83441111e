/* fuzz_glpconfig.c — libFuzzer harness: arbitrary bytes as a GLP config.yaml
 * (libyaml document API: anchors, aliases, tags, flow and block styles). When
 * it loads, the fields must satisfy what glpconfig.h promises; when it fails,
 * the message must name the file and the struct must be zeroed. */
#include "glpconfig.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_str(const char *s, size_t cap) {
    if (!memchr(s, 0, cap)) abort(); /* not NUL-terminated within its array */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    glp_file_config c;
    if (glp_config_load_mem(&c, (const char *)data, size, "fuzz.yaml")) {
        if (!strstr(ms_geterr(), "fuzz.yaml")) abort(); /* error must name the file */
        static const glp_file_config zero;
        if (memcmp(&c, &zero, sizeof c)) abort(); /* failure leaves the struct zeroed */
        return 0;
    }
    if (c.d_input <= 0 || c.n_layers <= 0) abort();
    if (c.d_model < 0 || c.d_mlp < 0 || c.multi_layer_n_layers < 0) abort();
    if (c.n_hook_layers < 1 || c.n_hook_layers > GLP_MAX_HOOK_LAYERS) abort();
    for (int i = 0; i < c.n_hook_layers; i++)
        if (c.layers[i] < 0) abort();
    check_str(c.model_name, sizeof c.model_name);
    check_str(c.layer_prefix, sizeof c.layer_prefix);
    check_str(c.retain, sizeof c.retain);
    /* Interpolations in the fields we read are rejected, never passed on. */
    if (strstr(c.model_name, "${") || strstr(c.layer_prefix, "${") || strstr(c.retain, "${")) abort();
    return 0;
}
