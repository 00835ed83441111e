/* hfconfig.c — config.json → tf_config with validation of every size. */
#include "hfconfig.h"
#include "jsonutil.h"
#include "util.h"

#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DIM (1 << 20)

static json_object *get(json_object *o, const char *k) {
    json_object *v;
    return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

/* Integer field; missing → def (def < 0 means required). */
static int get_int(json_object *o, const char *k, int def, int *out, const char *name) {
    json_object *v = get(o, k);
    if (!v || json_object_is_type(v, json_type_null)) {
        if (def < 0) return ms_seterr("config lacks '%s' (%s)", k, name);
        *out = def;
        return 0;
    }
    if (!json_object_is_type(v, json_type_int))
        return ms_seterr("config '%s' is not an integer (%s)", k, name);
    int64_t x = json_object_get_int64(v);
    if (x < 1 || x > MAX_DIM) return ms_seterr("config '%s' = %lld out of range (%s)", k, (long long)x, name);
    *out = (int)x;
    return 0;
}

static int get_num(json_object *o, const char *k, double def, double *out, const char *name) {
    json_object *v = get(o, k);
    if (!v || json_object_is_type(v, json_type_null)) {
        *out = def;
        return 0;
    }
    if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
        return ms_seterr("config '%s' is not a number (%s)", k, name);
    *out = json_object_get_double(v);
    if (!isfinite(*out)) return ms_seterr("config '%s' is not finite (%s)", k, name);
    return 0;
}

/* bos/eos may be an int or a list of ints (first taken); absent or null
 * leaves *id at -1. An id outside the vocabulary is an error, not ignored:
 * generation would silently run without its stop token. */
static int token_id(json_object *o, const char *k, int vocab, int *id, const char *name) {
    json_object *v = get(o, k);
    *id = -1;
    if (v && json_object_is_type(v, json_type_array)) v = json_object_array_get_idx(v, 0); /* NULL when empty */
    if (!v || json_object_is_type(v, json_type_null)) return 0;
    if (!json_object_is_type(v, json_type_int)) return ms_seterr("config '%s' is not an integer (%s)", k, name);
    int64_t x = json_object_get_int64(v);
    if (x < 0 || x >= vocab)
        return ms_seterr("config %s %lld is outside the vocabulary of %d tokens (%s)", k, (long long)x, vocab, name);
    *id = (int)x;
    return 0;
}

static int parse_rope(tf_config *c, json_object *root, const char *name) {
    json_object *rp = get(root, "rope_parameters"), *rs = get(root, "rope_scaling");
    if (rp && !json_object_is_type(rp, json_type_object)) rp = NULL;
    if (rs && !json_object_is_type(rs, json_type_object)) rs = NULL;
    if (get_num(root, "rope_theta", 10000.0, &c->rope_theta, name)) return -1;
    if (rp && get_num(rp, "rope_theta", c->rope_theta, &c->rope_theta, name)) return -1;
    if (c->rope_theta <= 1.0) return ms_seterr("config rope_theta must exceed 1 (%s)", name);
    json_object *sc = rs ? rs : rp;
    if (!sc) return 0;
    json_object *ty = get(sc, "rope_type");
    if (!ty) ty = get(sc, "type");
    const char *t = ty && json_object_is_type(ty, json_type_string) ? json_object_get_string(ty) : "default";
    if (strcmp(t, "default") == 0) return 0;
    if (strcmp(t, "llama3") != 0)
        return ms_seterr("unsupported rope scaling type '%s' (%s)", t, name);
    c->rope_llama3 = true;
    if (get_num(sc, "factor", 8.0, &c->rs_factor, name) ||
        get_num(sc, "low_freq_factor", 1.0, &c->rs_low, name) ||
        get_num(sc, "high_freq_factor", 4.0, &c->rs_high, name) ||
        get_int(sc, "original_max_position_embeddings", 8192, &c->rs_orig_max, name))
        return -1;
    if (c->rs_factor <= 0 || c->rs_low <= 0 || c->rs_high <= c->rs_low)
        return ms_seterr("config llama3 rope scaling factors are invalid (%s)", name);
    return 0;
}

static int parse_llama(tf_config *c, json_object *root, const char *name) {
    c->arch = ARCH_LLAMA;
    if (get_int(root, "hidden_size", -1, &c->d_model, name) ||
        get_int(root, "intermediate_size", -1, &c->d_ff, name) ||
        get_int(root, "num_hidden_layers", -1, &c->n_layers, name) ||
        get_int(root, "num_attention_heads", -1, &c->n_heads, name) ||
        get_int(root, "num_key_value_heads", c->n_heads, &c->n_kv_heads, name) ||
        get_int(root, "vocab_size", -1, &c->vocab, name) ||
        get_int(root, "max_position_embeddings", 2048, &c->max_seq, name))
        return -1;
    if (c->d_model % c->n_heads && !get(root, "head_dim"))
        return ms_seterr("config hidden_size is not a multiple of num_attention_heads (%s)", name);
    if (get_int(root, "head_dim", c->d_model / c->n_heads, &c->head_dim, name)) return -1;
    double eps;
    if (get_num(root, "rms_norm_eps", 1e-6, &eps, name)) return -1;
    if (eps < 0 || eps > 1) return ms_seterr("config rms_norm_eps %g outside 0..1 (%s)", eps, name);
    c->norm_eps = (float)eps;
    json_object *ab = get(root, "attention_bias"), *mb = get(root, "mlp_bias");
    if ((ab && json_object_get_boolean(ab)) || (mb && json_object_get_boolean(mb)))
        return ms_seterr("Llama attention/MLP biases are not supported (%s)", name);
    json_object *tie = get(root, "tie_word_embeddings");
    c->tied = tie && json_object_get_boolean(tie);
    return parse_rope(c, root, name);
}

static int parse_gpt2(tf_config *c, json_object *root, const char *name) {
    c->arch = ARCH_GPT2;
    if (get_int(root, "n_embd", -1, &c->d_model, name) || get_int(root, "n_layer", -1, &c->n_layers, name) ||
        get_int(root, "n_head", -1, &c->n_heads, name) || get_int(root, "vocab_size", -1, &c->vocab, name) ||
        get_int(root, "n_positions", 1024, &c->max_seq, name))
        return -1;
    if (get_int(root, "n_inner", 4 * c->d_model, &c->d_ff, name)) return -1;
    if (c->d_model % c->n_heads)
        return ms_seterr("config n_embd is not a multiple of n_head (%s)", name);
    c->n_kv_heads = c->n_heads;
    c->head_dim = c->d_model / c->n_heads;
    double eps;
    if (get_num(root, "layer_norm_epsilon", 1e-5, &eps, name)) return -1;
    if (eps < 0 || eps > 1) return ms_seterr("config layer_norm_epsilon %g outside 0..1 (%s)", eps, name);
    c->norm_eps = (float)eps;
    c->tied = true;
    json_object *act = get(root, "activation_function");
    const char *a = act && json_object_is_type(act, json_type_string) ? json_object_get_string(act) : "gelu_new";
    if (strcmp(a, "gelu_new") && strcmp(a, "gelu_pytorch_tanh") && strcmp(a, "gelu_fast"))
        return ms_seterr("unsupported GPT-2 activation '%s' (tanh GELU only) (%s)", a, name);
    return 0;
}

int hf_config_parse(tf_config *c, const char *json, size_t len, const char *name) {
    memset(c, 0, sizeof *c);
    json_object *root = ms_json_parse(json, len, name);
    int rc;
    if (!root) return -1;
    if (!json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        return ms_seterr("config is not a JSON object (%s)", name);
    }
    json_object *mt = get(root, "model_type");
    const char *type = mt && json_object_is_type(mt, json_type_string) ? json_object_get_string(mt) : "";
    if (strcmp(type, "llama") == 0) rc = parse_llama(c, root, name);
    else if (strcmp(type, "gpt2") == 0) rc = parse_gpt2(c, root, name);
    else rc = ms_seterr("unsupported model_type '%s' (llama and gpt2 are) (%s)", type, name);
    if (!rc && c->n_heads % c->n_kv_heads)
        rc = ms_seterr("config num_attention_heads is not a multiple of num_key_value_heads (%s)", name);
    if (!rc && c->head_dim > 1024) rc = ms_seterr("config head_dim %d exceeds 1024 (%s)", c->head_dim, name);
    if (!rc && c->head_dim % 2) rc = ms_seterr("config head_dim must be even (%s)", name);
    if (!rc && (double)c->n_heads * c->head_dim > MAX_DIM) rc = ms_seterr("config attention too wide (%s)", name);
    if (!rc) rc = token_id(root, "bos_token_id", c->vocab, &c->bos_id, name);
    if (!rc) rc = token_id(root, "eos_token_id", c->vocab, &c->eos_id, name);
    json_object_put(root);
    return rc;
}

int hf_config_load(tf_config *c, const char *path) {
    uint8_t *buf;
    size_t n;
    if (ms_read_file(path, &buf, &n)) return -1;
    int rc = hf_config_parse(c, (const char *)buf, n, path);
    free(buf);
    return rc;
}
