/* hfconfig.h — reads a Hugging Face config.json into a tf_config, accepting
 * both the classic spelling (rope_theta, rope_scaling, torch_dtype) and the
 * transformers-5 one (rope_parameters, dtype). */
#ifndef MS_HFCONFIG_H
#define MS_HFCONFIG_H

#include "transformer.h"

int hf_config_load(tf_config *c, const char *path);
int hf_config_parse(tf_config *c, const char *json, size_t len, const char *name);

#endif
