/* hfconfig.h — a transformer's configuration (tf_config), and the reader of
 * a Hugging Face config.json into one, accepting both the classic spelling (rope_theta, rope_scaling, torch_dtype) and the
 * transformers-5 one (rope_parameters, dtype). */
#ifndef MS_HFCONFIG_H
#define MS_HFCONFIG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { ARCH_LLAMA, ARCH_GPT2 } tf_arch;

typedef struct {
    tf_arch arch;
    int d_model, n_layers, n_heads, n_kv_heads, head_dim, d_ff, vocab, max_seq;
    float norm_eps;
    double rope_theta;
    bool tied;
    /* rope_scaling type llama3 */
    bool rope_llama3;
    double rs_factor, rs_low, rs_high;
    int rs_orig_max;
    int bos_id, eos_id; /* -1 when unknown */
} tf_config;

int hf_config_load(tf_config *c, const char *path);
int hf_config_parse(tf_config *c, const char *json, size_t len, const char *name);

#endif
