/* glpconfig.c — GLP config.yaml reader on libyaml's document API. The document
 * API keeps aliases as references to one node (no expansion), and we only walk
 * fixed key paths, so hostile YAML cannot make us loop or recurse deeply.
 * libyaml's scanner costs time proportional to the flow nesting depth for every
 * token (quadratic overall: 60 KB of '[' took ~10 s), and its loader looks up
 * every anchor and alias in a list of all anchors (700 KB of them took 13 s).
 * So a cheap event pass first rejects nesting deeper than GLP_MAX_YAML_DEPTH
 * and more than GLP_MAX_YAML_ANCHORS anchors plus aliases (real configs have
 * depth ~4 and none). */
#include "glpconfig.h"

#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct {
    yaml_document_t doc;
    const char *name;
} ydoc;

static bool scalar_is(const yaml_node_t *n, const char *s) {
    return n && n->type == YAML_SCALAR_NODE && n->data.scalar.length == strlen(s) && !memcmp(n->data.scalar.value, s, n->data.scalar.length);
}

/* Value of `key` in mapping m, or NULL (also when m is not a mapping). */
static yaml_node_t *map_get(ydoc *y, yaml_node_t *m, const char *key) {
    if (!m || m->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++)
        if (scalar_is(yaml_document_get_node(&y->doc, p->key), key)) return yaml_document_get_node(&y->doc, p->value);
    return NULL;
}

/* A plain null: ~, null, Null, NULL or empty (quoted strings are never null). */
static bool is_null(const yaml_node_t *n) {
    if (!n) return true;
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return false;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static int check_interp(ydoc *y, const yaml_node_t *n, const char *key) {
    if (n && n->type == YAML_SCALAR_NODE && strstr((const char *)n->data.scalar.value, "${"))
        return ms_seterr("%s uses an OmegaConf interpolation, which is not supported (%s)", key, y->name);
    return 0;
}

/* Non-negative decimal int from a scalar node. */
static int node_int(ydoc *y, const yaml_node_t *n, const char *key, int *out) {
    if (check_interp(y, n, key)) return -1;
    if (!n || n->type != YAML_SCALAR_NODE) return ms_seterr("%s is not an integer (%s)", key, y->name);
    const char *s = (const char *)n->data.scalar.value;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno || v < 0 || v > INT_MAX || *s == ' ')
        return ms_seterr("%s is not a non-negative integer: '%.40s' (%s)", key, s, y->name);
    *out = (int)v;
    return 0;
}

/* Optional int: absent or null leaves *out at 0. */
static int opt_int(ydoc *y, yaml_node_t *m, const char *sec, const char *k, int *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", sec, k);
    yaml_node_t *n = map_get(y, m, k);
    *out = 0;
    return is_null(n) ? 0 : node_int(y, n, key, out);
}

static int req_int(ydoc *y, yaml_node_t *m, const char *sec, const char *k, int *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", sec, k);
    yaml_node_t *n = map_get(y, m, k);
    if (is_null(n)) return ms_seterr("missing %s (%s)", key, y->name);
    return node_int(y, n, key, out);
}

/* Optional string copied into out (truncation is an error: no silent renames). */
static int opt_str(ydoc *y, yaml_node_t *n, const char *key, char *out, size_t cap) {
    out[0] = 0;
    if (is_null(n)) return 0;
    if (check_interp(y, n, key)) return -1;
    if (n->type != YAML_SCALAR_NODE) return ms_seterr("%s is not a string (%s)", key, y->name);
    if (n->data.scalar.length >= cap) return ms_seterr("%s is too long (%s)", key, y->name);
    memcpy(out, n->data.scalar.value, n->data.scalar.length + 1);
    return 0;
}

static int read_layers(ydoc *y, yaml_node_t *tc, glp_file_config *c) {
    const char *key = "glp_kwargs.tracedict_config.layers";
    yaml_node_t *n = map_get(y, tc, "layers");
    if (is_null(n)) return ms_seterr("missing %s (%s)", key, y->name);
    if (n->type == YAML_SCALAR_NODE) { /* a single layer written as an int */
        c->n_hook_layers = 1;
        return node_int(y, n, key, &c->layers[0]);
    }
    if (n->type != YAML_SEQUENCE_NODE) return ms_seterr("%s is not a list of integers (%s)", key, y->name);
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
        if (c->n_hook_layers >= GLP_MAX_HOOK_LAYERS) return ms_seterr("%s has more than %d entries (%s)", key, GLP_MAX_HOOK_LAYERS, y->name);
        if (node_int(y, yaml_document_get_node(&y->doc, *it), key, &c->layers[c->n_hook_layers++])) return -1;
    }
    if (!c->n_hook_layers) return ms_seterr("%s is empty (%s)", key, y->name);
    return 0;
}

static int read_config(ydoc *y, glp_file_config *c) {
    yaml_node_t *root = yaml_document_get_root_node(&y->doc);
    if (!root || root->type != YAML_MAPPING_NODE) return ms_seterr("top level is not a mapping (%s)", y->name);
    if (opt_str(y, map_get(y, root, "model_name"), "model_name", c->model_name, sizeof c->model_name)) return -1;
    yaml_node_t *gk = map_get(y, root, "glp_kwargs");
    if (!gk || gk->type != YAML_MAPPING_NODE) return ms_seterr("missing glp_kwargs mapping (%s)", y->name);
    const char *ds = "glp_kwargs.denoiser_config", *ts = "glp_kwargs.tracedict_config";
    yaml_node_t *dc = map_get(y, gk, "denoiser_config"), *tc = map_get(y, gk, "tracedict_config");
    if (!dc || dc->type != YAML_MAPPING_NODE) return ms_seterr("missing %s mapping (%s)", ds, y->name);
    if (!tc || tc->type != YAML_MAPPING_NODE) return ms_seterr("missing %s mapping (%s)", ts, y->name);
    if (req_int(y, dc, ds, "d_input", &c->d_input) || req_int(y, dc, ds, "n_layers", &c->n_layers) ||
        opt_int(y, dc, ds, "d_model", &c->d_model) || opt_int(y, dc, ds, "d_mlp", &c->d_mlp) ||
        opt_int(y, dc, ds, "multi_layer_n_layers", &c->multi_layer_n_layers))
        return -1;
    if (c->d_input == 0 || c->n_layers == 0) return ms_seterr("%s.d_input and n_layers must be positive (%s)", ds, y->name);
    if (c->d_input > GLP_MAX_WIDTH || c->d_model > GLP_MAX_WIDTH || c->d_mlp > 4 * GLP_MAX_WIDTH)
        return ms_seterr("%s: d_input %d, d_model %d, d_mlp %d exceed the limits %d, %d, %d (%s)", ds, c->d_input,
                         c->d_model, c->d_mlp, GLP_MAX_WIDTH, GLP_MAX_WIDTH, 4 * GLP_MAX_WIDTH, y->name);
    if (c->n_layers > GLP_MAX_LAYERS || c->multi_layer_n_layers > GLP_MAX_LAYERS)
        return ms_seterr("%s: n_layers %d or multi_layer_n_layers %d exceeds %d (%s)", ds, c->n_layers,
                         c->multi_layer_n_layers, GLP_MAX_LAYERS, y->name);
    if (read_layers(y, tc, c)) return -1;
    if (opt_str(y, map_get(y, tc, "layer_prefix"), "glp_kwargs.tracedict_config.layer_prefix", c->layer_prefix, sizeof c->layer_prefix) ||
        opt_str(y, map_get(y, tc, "retain"), "glp_kwargs.tracedict_config.retain", c->retain, sizeof c->retain))
        return -1;
    return 0;
}

#define GLP_MAX_YAML_DEPTH 64
#define GLP_MAX_YAML_ANCHORS 1024

/* Walks the first document's events and fails once collections nest deeper
 * than GLP_MAX_YAML_DEPTH or anchors plus aliases exceed GLP_MAX_YAML_ANCHORS;
 * syntax errors are left for the loader to report. */
static int check_limits(const char *text, size_t n, const char *name) {
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return ms_seterr("cannot start the YAML parser (%s)", name);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, n);
    int depth = 0, anchors = 0, rc = 0;
    for (yaml_event_t e; rc == 0 && yaml_parser_parse(&p, &e);) {
        yaml_event_type_t t = e.type;
        if ((t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) && ++depth > GLP_MAX_YAML_DEPTH)
            rc = ms_seterr("YAML nested deeper than %d levels at line %zu (%s)", GLP_MAX_YAML_DEPTH, e.start_mark.line + 1, name);
        if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) depth--;
        bool anchored = t == YAML_ALIAS_EVENT || (t == YAML_SCALAR_EVENT && e.data.scalar.anchor) ||
                        (t == YAML_SEQUENCE_START_EVENT && e.data.sequence_start.anchor) ||
                        (t == YAML_MAPPING_START_EVENT && e.data.mapping_start.anchor);
        if (!rc && anchored && ++anchors > GLP_MAX_YAML_ANCHORS)
            rc = ms_seterr("YAML has more than %d anchors and aliases at line %zu (%s)", GLP_MAX_YAML_ANCHORS, e.start_mark.line + 1, name);
        yaml_event_delete(&e);
        if (t == YAML_DOCUMENT_END_EVENT || t == YAML_STREAM_END_EVENT) break; /* the loader reads one document */
    }
    yaml_parser_delete(&p);
    return rc;
}

int glp_config_load_mem(glp_file_config *c, const char *text, size_t n, const char *name) {
    memset(c, 0, sizeof *c);
    if (check_limits(text, n, name)) return -1;
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return ms_seterr("cannot start the YAML parser (%s)", name);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, n);
    ydoc y = {.name = name};
    if (!yaml_parser_load(&p, &y.doc)) {
        const char *what = p.problem ? p.problem : "parse error";
        int rc = p.error == YAML_READER_ERROR /* encoding errors carry a byte offset, not a mark */
                     ? ms_seterr("bad YAML at byte %zu: %s (%s)", p.problem_offset, what, name)
                     : ms_seterr("bad YAML at line %zu: %s (%s)", p.problem_mark.line + 1, what, name);
        yaml_parser_delete(&p);
        return rc;
    }
    yaml_parser_delete(&p);
    int rc = read_config(&y, c);
    yaml_document_delete(&y.doc);
    if (rc) memset(c, 0, sizeof *c);
    return rc;
}

int glp_config_load(glp_file_config *c, const char *path) {
    memset(c, 0, sizeof *c);
    uint8_t *buf;
    size_t len;
    if (ms_read_file(path, &buf, &len)) return -1;
    int rc = glp_config_load_mem(c, (const char *)buf, len, ms_basename(path));
    free(buf);
    return rc;
}
