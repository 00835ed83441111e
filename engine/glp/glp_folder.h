/* glp_folder.h — a GLP checkpoint folder as published: config.yaml,
 * final.safetensors (reference tensor names, "denoiser." prefix optional) and
 * the normalizer in rep_statistics.pt (torch.save) or, as metascope writes it,
 * rep_statistics.safetensors. Any file may carry a .lz4 suffix. */
#ifndef MS_GLP_FOLDER_H
#define MS_GLP_FOLDER_H

#include "glp.h"
#include "glpconfig.h"

/* Loads dir into m (and its config into fc). d_model / d_mlp missing from
 * config.yaml are read from the weight shapes. Statistics of shape [L, d]
 * (multi-layer checkpoints) use row stats_row (-1: refuse, naming L). */
int glp_load_folder(glp_model *m, glp_file_config *fc, const char *dir, int stats_row);
/* The same, held in BF16 when bf16 (glp_load_as). */
int glp_load_folder_as(glp_model *m, glp_file_config *fc, const char *dir, int stats_row, bool bf16);

/* The normalizer of a rep_statistics.pt held in buf[n] (name for messages):
 * 'mean' and 'var' of shape [d], or row `row` of [L, d]; no NaN or negative
 * variance. What glp_load_folder reads from the file, in memory (fuzzed). */
int glp_stats_pt_mem(const uint8_t *buf, size_t n, const char *name, int d, int row, float *mean, float *var);

/* A rep_statistics.safetensors file (mean and var of shape [d], and
 * optionally basis and basis_inv [d, d]) into m's normalizer, d = m's
 * d_input: what `metascope fisher` writes and `train-glp --normalizer` reads. */
int glp_normalizer_load(glp_model *m, const char *path);
/* Writes m's normalizer (with its basis when it has one) to path, atomically. */
int glp_normalizer_save(const glp_model *m, const char *path);

#endif
