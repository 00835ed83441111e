/* glpconfig.h — the fields metascope needs from a GLP checkpoint folder's
 * config.yaml (read with libyaml; no OmegaConf interpolation).
 *
 *   model_name                                  (optional, top level)
 *   glp_kwargs.denoiser_config.d_input          (required)
 *   glp_kwargs.denoiser_config.d_model          (optional: 0 when absent)
 *   glp_kwargs.denoiser_config.d_mlp            (optional: 0 when absent)
 *   glp_kwargs.denoiser_config.n_layers         (required)
 *   glp_kwargs.denoiser_config.multi_layer_n_layers (optional / null: 0)
 *   glp_kwargs.tracedict_config.layers          (required: list of ints, or one int)
 *   glp_kwargs.tracedict_config.layer_prefix, retain (optional strings)
 *
 * d_model / d_mlp of 0 mean "not in the file": the caller takes them from the
 * weight shapes in final.safetensors rather than from guessed defaults. */
#ifndef MS_GLPCONFIG_H
#define MS_GLPCONFIG_H

#include <stddef.h>

#define GLP_MAX_HOOK_LAYERS 64
/* Stated limits on the sizes a config.yaml may declare (published GLPs have
 * d_input <= 8192, d_model <= 8192, d_mlp <= 32768, n_layers <= 12). The
 * loader also checks the parameter count against final.safetensors' size. */
#define GLP_MAX_WIDTH (1 << 16)
#define GLP_MAX_LAYERS 1024

typedef struct {
    int d_input, d_model, d_mlp, n_layers, multi_layer_n_layers;
    int layers[GLP_MAX_HOOK_LAYERS];
    int n_hook_layers;
    char model_name[256];   /* "" when absent */
    char layer_prefix[128]; /* "" when absent */
    char retain[32];        /* "" when absent */
} glp_file_config;

/* Reads path (a config.yaml; ".lz4" is decompressed). Bad YAML, missing or
 * mistyped keys, and ${...} interpolations in the fields above give -1 and a
 * one-line message naming the file. */
int glp_config_load(glp_file_config *c, const char *path);
/* Same from memory; `name` is used in messages. */
int glp_config_load_mem(glp_file_config *c, const char *text, size_t n, const char *name);

#endif
