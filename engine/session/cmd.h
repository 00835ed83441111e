/* cmd.h — what the command handlers share (engine-internal): the parsed
 * words of a line, argument parsing, JSON and token-text helpers, and units.
 * The handlers live in commands.c (core), cmd_steer.c (steering vectors,
 * steer, compare), cmd_glp.c (sample, meta top), cmd_set.c (settings) and
 * the other cmd_*.c files. */
#ifndef MS_CMD_H
#define MS_CMD_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "session.h"

typedef struct {
    int argc, cap;
    char **argv;
    const char *rest; /* raw text after the command word */
} words;

/* The text argument of prompt/nll/tokens: one quoted word is unquoted,
 * anything else is taken verbatim (trailing blanks trimmed). malloc'd. */
char *cmd_text_arg(const words *w);
/* Strict numbers in [lo, hi]; errors name the command. */
int cmd_parse_int(const char *s, long lo, long hi, long *out, const char *cmd);
int cmd_parse_float(const char *s, double lo, double hi, double *out, const char *cmd);
int cmd_need_model(session *S, const char *cmd);
/* A JSON number, or null when not finite. */
json_object *cmd_jdouble(double x);
void cmd_fmt_num(double x, char *out, size_t cap);
/* Prints o as one line and releases it. */
void cmd_emit_json(session *S, json_object *o);
/* Printable form of bytes (control bytes and invalid UTF-8 escaped). */
void cmd_escape_bytes(const char *b, size_t n, char *out, size_t cap);
/* A JSON string of bytes that may not be valid UTF-8 (invalid → U+FFFD). */
json_object *cmd_json_text(const char *b, size_t n);
void cmd_token_text(const session *S, int id, char *out, size_t cap);
bool cmd_cancelled(session *S);
/* Top-k indices of x (by value or |value|), descending; returns the count. */
int cmd_top_indices(const float *x, int n, int k, int *idx, bool by_abs);

/* A unit: resid:I (residual dimension at the current layer), mlp:L:I (MLP
 * neuron of block L), meta:B:I (GLP meta-neuron of denoiser block B),
 * sae:I (latent I of the loaded SAE). */
typedef enum { UNIT_RESID, UNIT_MLP, UNIT_META, UNIT_SAE } unit_kind;
typedef struct {
    unit_kind kind;
    int a, b;
} unit;

int cmd_parse_unit(session *S, const char *text, unit *u, const char *cmd);
/* The layer a unit's values come from: the session's for resid, L for
 * mlp:L:I, the GLP's for meta-neurons, the SAE's for latents. */
int cmd_unit_layer(const session *S, const unit *u);
/* Per-token values of a unit over the prompt, into vals[n_prompt]. */
int cmd_unit_values(session *S, const unit *u, float *vals, const char *cmd);
/* The prompt's residuals at the GLP's layer (rows[n_prompt, d], malloc'd)
 * turned into meta-neurons [n_layers][n_prompt][d_mlp] (malloc'd), with the
 * fixed-seed noise every meta-neuron display uses. */
int cmd_prompt_meta(session *S, float **meta, const char *cmd);

/* Mean NLL (nats) of the k continuation tokens gen[] after the prompt under
 * the unsteered model (the last max_seq tokens when longer); NaN when k = 0. */
int cmd_fluency(session *S, const int *gen, int k, double *out);

/* Handlers outside commands.c. */
int cmd_vec(session *S, words *w);
int cmd_steer(session *S, words *w);
int cmd_compare(session *S, words *w);
int cmd_frontier(session *S, words *w); /* cmd_frontier.c */
int cmd_sample(session *S, words *w);
int cmd_meta(session *S, words *w);
/* cmd_index.c: the top-activating examples index */
int cmd_load_index(session *S, const char *dir);
int cmd_top(session *S, words *w);
int cmd_latents(session *S, words *w);
int cmd_latent(session *S, words *w);
int cmd_export(session *S, words *w);
int cmd_label(session *S, words *w);
int cmd_cross(session *S, words *w);
/* cmd_probe.c: 1-D probing tasks */
int cmd_probe(session *S, words *w);
/* cmd_set.c: the settings, each refused with a reason when it cannot be honoured */
int cmd_set(session *S, words *w);

#endif
