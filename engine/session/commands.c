/* commands.c — the command language: parsing a line into words and running
 * the handlers. Every handler prints plain aligned text, or one JSON object per
 * command when the session is in JSON mode. Errors return -1 with a one-line
 * message "<what> (<command>)". */
#include "cmd.h"
#include "cmd_concept.h"
#include "cmd_label.h"
#include "ops.h"
#include "util.h"
#include "wmat.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ parsing */

/* Reads one word at *p: a "quoted string" with \" \\ \n \t \xHH escapes, or a
 * run of non-space bytes. Returns a malloc'd word, or NULL at end of line. */
static char *next_word(const char **p, int *err) {
    const char *s = *p;
    while (*s && isspace((unsigned char)*s)) s++;
    if (!*s) return *p = s, NULL;
    /* Sized by this word's extent, not the rest of the line: a line of many
     * words must cost memory linear in its length, not quadratic. */
    const char *e = s + (*s == '"');
    while (*e && (*s == '"' ? *e != '"' : !isspace((unsigned char)*e))) e += *s == '"' && *e == '\\' && e[1] ? 2 : 1;
    size_t n = 0;
    char *w = xmalloc((size_t)(e - s) + 1);
    if (*s == '"') {
        s++;
        while (*s && *s != '"') {
            if (*s == '\\' && s[1]) {
                s++;
                char c = *s++;
                if (c == 'n') w[n++] = '\n';
                else if (c == 't') w[n++] = '\t';
                else if (c == 'r') w[n++] = '\r';
                else if (c == 'x' && isxdigit((unsigned char)s[0]) && isxdigit((unsigned char)s[1])) {
                    char hex[3] = {s[0], s[1], 0};
                    w[n++] = (char)strtol(hex, NULL, 16);
                    s += 2;
                } else w[n++] = c;
            } else w[n++] = *s++;
        }
        if (*s != '"') *err = 1;
        else s++;
    } else {
        while (*s && !isspace((unsigned char)*s)) w[n++] = *s++;
    }
    w[n] = 0;
    *p = s;
    return w;
}

static int cmd_split(words *w, const char *line) {
    memset(w, 0, sizeof *w);
    const char *p = line;
    int err = 0;
    char *x;
    while ((x = next_word(&p, &err))) {
        if (w->argc == w->cap) {
            w->cap = w->cap ? 2 * w->cap : 8;
            w->argv = xrealloc(w->argv, sizeof(char *) * (size_t)w->cap);
        }
        w->argv[w->argc++] = x;
        if (w->argc == 1) {
            w->rest = p;
            while (*w->rest && isspace((unsigned char)*w->rest)) w->rest++;
        }
    }
    if (err) return ms_seterr("unterminated quote (%s)", w->argc ? w->argv[0] : "line");
    return 0;
}

static void cmd_free_words(words *w) {
    for (int i = 0; i < w->argc; i++) free(w->argv[i]);
    free(w->argv);
}

/* The text argument of prompt/nll/tokens: one quoted word is unquoted,
 * anything else is taken verbatim (trailing blanks trimmed). */
char *cmd_text_arg(const words *w) {
    if (w->argc == 2 && w->rest[0] == '"') return xstrdup(w->argv[1]);
    size_t n = strlen(w->rest);
    while (n && isspace((unsigned char)w->rest[n - 1])) n--;
    return xstrndup(w->rest, n);
}

int cmd_parse_int(const char *s, long lo, long hi, long *out, const char *cmd) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi)
        return ms_seterr("'%s' is not an integer in %ld..%ld (%s)", s, lo, hi, cmd);
    *out = v;
    return 0;
}

int cmd_parse_float(const char *s, double lo, double hi, double *out, const char *cmd) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || end == s || !(v >= lo && v <= hi))
        return ms_seterr("'%s' is not a number in %g..%g (%s)", s, lo, hi, cmd);
    *out = v;
    return 0;
}

/* ------------------------------------------------------------ helpers */

int cmd_need_model(session *S, const char *cmd) {
    if (!S->has_model) return ms_seterr("no model loaded; use 'load model PATH' (%s)", cmd);
    if (!S->model.tok && strcmp(cmd, "status")) return ms_seterr("the model folder has no tokenizer (%s)", cmd);
    return 0;
}

/* The shortest text that reads back as x: a value that is exactly a float
 * (most of ours are) as the shortest that round-trips through float, so a
 * temperature of 0.8f prints 0.8, not 0.80000001192092896; other doubles
 * with up to 17 digits. */
void cmd_fmt_num(double x, char *out, size_t cap) {
    bool f = (double)(float)x == x;
    for (int p = 1; p <= 17; p++) {
        snprintf(out, cap, "%.*g", p, x);
        double y = strtod(out, NULL);
        if (f ? (float)y == (float)x : y == x) break;
    }
    if (!strpbrk(out, ".eEni") && strlen(out) + 2 < cap) strcat(out, ".0"); /* stays a JSON double */
}

/* A JSON number, or null when not finite (json-c would print NaN, which is
 * not JSON). */
json_object *cmd_jdouble(double x) {
    if (!isfinite(x)) return NULL;
    char b[40];
    cmd_fmt_num(x, b, sizeof b);
    return json_object_new_double_s(x, b);
}

void cmd_emit_json(session *S, json_object *o) {
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    sess_printf(S, "%s\n", s);
    json_object_put(o);
}

/* Printable form of token bytes: control bytes and invalid UTF-8 as escapes. */
void cmd_escape_bytes(const char *b, size_t n, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < cap;) {
        unsigned char c = (unsigned char)b[i];
        int len = (int)ms_utf8_len((const uint8_t *)b + i, n - i);
        const char *e = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : c == '\\' ? "\\\\" : NULL;
        if (len == 1 && e) {
            o += (size_t)snprintf(out + o, cap - o, "%s", e);
        } else if (len > 1 || (len == 1 && c >= 0x20 && c != 0x7f)) {
            if (o + (size_t)len >= cap) break;
            memcpy(out + o, b + i, (size_t)len);
            o += (size_t)len;
            i += (size_t)len;
            continue;
        } else {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        }
        i++;
    }
    out[o < cap ? o : cap - 1] = 0;
}

/* A JSON string of bytes that may not be valid UTF-8 (a token can hold part of
 * a character): invalid sequences become U+FFFD so every consumer can parse it.
 * The exact bytes stay recoverable from the token ids printed beside it. */
json_object *cmd_json_text(const char *b, size_t n) {
    char *out = xmalloc(3 * n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        int len = (int)ms_utf8_len((const uint8_t *)b + i, n - i);
        if (len) {
            memcpy(out + o, b + i, (size_t)len);
            o += (size_t)len;
            i += (size_t)len;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    json_object *j = json_object_new_string_len(out, (int)o);
    free(out);
    return j;
}

void cmd_token_text(const session *S, int id, char *out, size_t cap) {
    size_t n;
    const char *b = tok_bytes(S->model.tok, id, &n);
    if (!b) snprintf(out, cap, "<%d>", id);
    else cmd_escape_bytes(b, n, out, cap);
}

bool cmd_cancelled(session *S) { return S->cancel && *S->cancel; }

/* Top-k indices of x by value (k small), descending. */
int cmd_top_indices(const float *x, int n, int k, int *idx, bool by_abs) {
    int m = 0;
    for (int i = 0; i < n; i++) {
        float v = by_abs ? fabsf(x[i]) : x[i];
        int j = m < k ? m++ : k;
        if (j == k && v <= (by_abs ? fabsf(x[idx[k - 1]]) : x[idx[k - 1]])) continue;
        if (j == k) j = k - 1;
        while (j > 0 && v > (by_abs ? fabsf(x[idx[j - 1]]) : x[idx[j - 1]])) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
    return m;
}

/* ------------------------------------------------------------ commands */

static int cmd_load(session *S, words *w) {
    if (w->argc != 3) return ms_seterr("usage: load model|glp|sae|index PATH (load)");
    if (strcmp(w->argv[1], "index") == 0) return cmd_load_index(S, w->argv[2]);
    if (strcmp(w->argv[1], "glp") == 0) {
        if (sess_load_glp(S, w->argv[2])) return -1;
        const glp_config *g = &S->glp.c;
        if (S->json) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "cmd", json_object_new_string("load"));
            json_object_object_add(o, "glp", json_object_new_string(w->argv[2]));
            json_object_object_add(o, "layer", json_object_new_int(S->layer));
            json_object_object_add(o, "blocks", json_object_new_int(g->n_layers));
            json_object_object_add(o, "d_mlp", json_object_new_int(g->d_mlp));
            cmd_emit_json(S, o);
        } else
            sess_printf(S, "loaded GLP %s: layer %d, d_input %d, d_model %d, %d blocks of %d meta-neurons, %.2fM params\n",
                        w->argv[2], S->layer, g->d_input, g->d_model, g->n_layers, g->d_mlp, S->glp.n_params / 1e6);
        return 0;
    }
    if (strcmp(w->argv[1], "sae") == 0) {
        if (sess_load_sae(S, w->argv[2])) return -1;
        const sae_config *c = &S->sae.c;
        const char *arch = c->arch == SAE_TOPK ? "topk" : c->arch == SAE_JUMPRELU ? "jumprelu" : "standard";
        if (S->json) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "cmd", json_object_new_string("load"));
            json_object_object_add(o, "sae", json_object_new_string(w->argv[2]));
            json_object_object_add(o, "layer", json_object_new_int(S->sae.layer));
            json_object_object_add(o, "latents", json_object_new_int(c->n_latents));
            json_object_object_add(o, "arch", json_object_new_string(arch));
            json_object_object_add(o, "k", json_object_new_int(c->k));
            cmd_emit_json(S, o);
        } else
            sess_printf(S, "loaded SAE %s: layer %d, %d latents, %s%s%d\n", w->argv[2], S->sae.layer, c->n_latents,
                        arch, c->arch == SAE_TOPK ? " k " : "", c->arch == SAE_TOPK ? c->k : 0);
        return 0;
    }
    if (strcmp(w->argv[1], "model") != 0)
        return ms_seterr("cannot load '%s': model, glp, sae or index (load)", w->argv[1]);
    if (sess_load_model(S, w->argv[2])) return -1;
    const tf_config *c = &S->model.c;
    if (S->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "cmd", json_object_new_string("load"));
        json_object_object_add(o, "path", json_object_new_string(w->argv[2]));
        json_object_object_add(o, "arch", json_object_new_string(c->arch == ARCH_LLAMA ? "llama" : "gpt2"));
        json_object_object_add(o, "layers", json_object_new_int(c->n_layers));
        json_object_object_add(o, "d_model", json_object_new_int(c->d_model));
        json_object_object_add(o, "vocab", json_object_new_int(c->vocab));
        json_object_object_add(o, "params", json_object_new_int64((int64_t)S->model.n_params));
        cmd_emit_json(S, o);
    } else {
        sess_printf(S, "loaded %s: %s, %d layers, d_model %d, %d heads (%d kv), vocab %d, %.2fM params\n",
                    w->argv[2], c->arch == ARCH_LLAMA ? "llama" : "gpt2", c->n_layers, c->d_model, c->n_heads,
                    c->n_kv_heads, c->vocab, S->model.n_params / 1e6);
    }
    return 0;
}

static int cmd_prompt(session *S, words *w) {
    if (cmd_need_model(S, "prompt")) return -1;
    char *text = cmd_text_arg(w);
    int rc = sess_set_prompt(S, text, "prompt");
    free(text);
    if (rc || sess_run_prompt(S, "prompt")) return -1;
    const int *ids = S->prompt_ids, n = S->n_prompt;
    int V = S->model.c.vocab, top[5];
    float *p = xmalloc(sizeof(float) * (size_t)V);
    memcpy(p, S->st.logits, sizeof(float) * (size_t)V);
    softmax(p, V);
    int k = cmd_top_indices(p, V, 5, top, false);
    char piece[128];
    if (S->json) {
        json_object *o = json_object_new_object(), *toks = json_object_new_array(), *nx = json_object_new_array();
        json_object_object_add(o, "cmd", json_object_new_string("prompt"));
        for (int i = 0; i < n; i++) json_object_array_add(toks, json_object_new_int(ids[i]));
        json_object_object_add(o, "tokens", toks);
        for (int i = 0; i < k; i++) {
            json_object *e = json_object_new_object();
            size_t len;
            const char *b = tok_bytes(S->model.tok, top[i], &len);
            json_object_object_add(e, "id", json_object_new_int(top[i]));
            json_object_object_add(e, "text", cmd_json_text(b ? b : "", b ? len : 0));
            json_object_object_add(e, "p", cmd_jdouble(p[top[i]]));
            json_object_array_add(nx, e);
        }
        json_object_object_add(o, "next", nx);
        cmd_emit_json(S, o);
    } else {
        sess_printf(S, "prompt: %d tokens; next:", n);
        for (int i = 0; i < k; i++) {
            cmd_token_text(S, top[i], piece, sizeof piece);
            sess_printf(S, " \"%s\" %.1f%%", piece, 100.0 * p[top[i]]);
        }
        sess_printf(S, "\n");
    }
    free(p);
    return 0;
}

static int cmd_tokens(session *S, words *w) {
    if (cmd_need_model(S, "tokens")) return -1;
    int *ids, n;
    if (w->argc > 1) {
        char *text = cmd_text_arg(w);
        int rc = sess_encode(S, text, &ids, &n);
        free(text);
        if (rc) return -1;
    } else {
        if (!S->n_prompt) return ms_seterr("no prompt and no text given (tokens)");
        ids = xmalloc(sizeof(int) * (size_t)S->n_prompt);
        memcpy(ids, S->prompt_ids, sizeof(int) * (size_t)S->n_prompt);
        n = S->n_prompt;
    }
    char piece[128];
    json_object *arr = S->json ? json_object_new_array() : NULL;
    for (int i = 0; i < n; i++) {
        cmd_token_text(S, ids[i], piece, sizeof piece);
        if (arr) {
            json_object *e = json_object_new_object();
            json_object_object_add(e, "pos", json_object_new_int(i));
            json_object_object_add(e, "id", json_object_new_int(ids[i]));
            json_object_object_add(e, "text", json_object_new_string(piece));
            json_object_array_add(arr, e);
        } else sess_printf(S, "%5d %7d  \"%s\"\n", i, ids[i], piece);
    }
    if (arr) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "cmd", json_object_new_string("tokens"));
        json_object_object_add(o, "tokens", arr);
        cmd_emit_json(S, o);
    }
    free(ids);
    return 0;
}

static int cmd_gen(session *S, words *w) {
    if (cmd_need_model(S, "gen")) return -1;
    long n = S->gen_tokens;
    if (w->argc > 2) return ms_seterr("usage: gen [N] (gen)");
    if (w->argc == 2 && cmd_parse_int(w->argv[1], 1, 1000000, &n, "gen")) return -1;
    int *out = xmalloc(sizeof(int) * (size_t)n), k;
    double pre, dec;
    int rc = sess_generate(S, (int)n, out, &k, !S->json, &pre, &dec);
    char *text = NULL;
    size_t len = 0;
    if (!rc && S->json && !(rc = tok_decode(S->model.tok, out, k, &text, &len))) {
        json_object *o = json_object_new_object(), *ids = json_object_new_array();
        json_object_object_add(o, "cmd", json_object_new_string("gen"));
        json_object_object_add(o, "prompt", cmd_json_text(S->prompt, strlen(S->prompt)));
        json_object_object_add(o, "text", cmd_json_text(text, len));
        for (int i = 0; i < k; i++) json_object_array_add(ids, json_object_new_int(out[i]));
        json_object_object_add(o, "tokens", ids);
        json_object_object_add(o, "prefill_ms", cmd_jdouble(1e3 * pre));
        json_object_object_add(o, "decode_tok_s", cmd_jdouble(k > 1 ? (k - 1) / dec : 0));
        json_object_object_add(o, "cancelled", json_object_new_boolean(cmd_cancelled(S)));
        cmd_emit_json(S, o);
    } else if (!rc) sess_printf(S, "\n");
    free(text);
    free(out);
    return rc;
}

static int cmd_layer(session *S, words *w) {
    if (cmd_need_model(S, "layer")) return -1;
    long l = S->layer;
    if (w->argc > 2) return ms_seterr("usage: layer [L] (layer)");
    if (w->argc == 2 && cmd_parse_int(w->argv[1], 0, S->model.c.n_layers - 1, &l, "layer")) return -1;
    S->layer = (int)l;
    if (S->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "cmd", json_object_new_string("layer"));
        json_object_object_add(o, "layer", json_object_new_int(S->layer));
        cmd_emit_json(S, o);
    } else sess_printf(S, "layer %d of %d\n", S->layer, S->model.c.n_layers);
    return 0;
}

static int cmd_acts(session *S, words *w) {
    if (cmd_need_model(S, "acts")) return -1;
    if (w->argc > 1) return ms_seterr("usage: acts (acts)");
    int d = S->model.c.d_model, n = S->n_prompt;
    if (!n) return ms_seterr("no prompt; use 'prompt TEXT' (acts)");
    tf_rows cap = {xmalloc(sizeof(float) * (size_t)n * d), d};
    int rc = sess_capture_prompt(S, HOOK_RESID, S->layer, cap.buf, d, "acts");
    if (rc) {
        free(cap.buf);
        return -1;
    }
    char piece[128];
    json_object *arr = S->json ? json_object_new_array() : NULL;
    if (!arr) sess_printf(S, "layer %d residual stream\n  pos  token                 norm  top dims (dim:value)\n", S->layer);
    for (int t = 0; t < n; t++) {
        const float *h = cap.buf + (size_t)t * d;
        int top[3], k = cmd_top_indices(h, d, 3, top, true);
        cmd_token_text(S, S->prompt_ids[t], piece, sizeof piece);
        float norm = l2norm(h, d);
        if (arr) {
            json_object *e = json_object_new_object(), *td = json_object_new_array();
            json_object_object_add(e, "pos", json_object_new_int(t));
            json_object_object_add(e, "token", json_object_new_string(piece));
            json_object_object_add(e, "norm", cmd_jdouble(norm));
            for (int i = 0; i < k; i++) {
                json_object *p = json_object_new_array();
                json_object_array_add(p, json_object_new_int(top[i]));
                json_object_array_add(p, cmd_jdouble(h[top[i]]));
                json_object_array_add(td, p);
            }
            json_object_object_add(e, "top", td);
            json_object_array_add(arr, e);
        } else {
            char quoted[160];
            snprintf(quoted, sizeof quoted, "\"%s\"", piece);
            sess_printf(S, "%5d  %-18s %8.3f ", t, quoted, norm);
            for (int i = 0; i < k; i++) sess_printf(S, " %5d:%+.3f", top[i], h[top[i]]);
            sess_printf(S, "\n");
        }
    }
    if (arr) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "cmd", json_object_new_string("acts"));
        json_object_object_add(o, "layer", json_object_new_int(S->layer));
        json_object_object_add(o, "tokens", arr);
        cmd_emit_json(S, o);
    }
    free(cap.buf);
    return 0;
}

int cmd_parse_unit(session *S, const char *text, unit *u, const char *cmd) {
    int v[2];
    const tf_config *c = &S->model.c;
    if (ms_parse_unit_name(text, "resid", 1, v)) {
        if (v[0] < 0 || v[0] >= c->d_model) return ms_seterr("%s outside resid:0..%d (%s)", text, c->d_model - 1, cmd);
        *u = (unit){UNIT_RESID, v[0], 0};
    } else if (ms_parse_unit_name(text, "mlp", 2, v)) {
        if (v[0] < 0 || v[0] >= c->n_layers || v[1] < 0 || v[1] >= c->d_ff)
            return ms_seterr("%s outside mlp:0..%d:0..%d (%s)", text, c->n_layers - 1, c->d_ff - 1, cmd);
        *u = (unit){UNIT_MLP, v[0], v[1]};
    } else if (ms_parse_unit_name(text, "meta", 2, v)) {
        if (!S->has_glp) return ms_seterr("no GLP loaded; use 'load glp PATH' (%s)", cmd);
        const glp_config *g = &S->glp.c;
        if (v[0] < 0 || v[0] >= g->n_layers || v[1] < 0 || v[1] >= g->d_mlp)
            return ms_seterr("%s outside meta:0..%d:0..%d (%s)", text, g->n_layers - 1, g->d_mlp - 1, cmd);
        *u = (unit){UNIT_META, v[0], v[1]};
    } else if (ms_parse_unit_name(text, "sae", 1, v)) {
        if (!S->has_sae) return ms_seterr("no SAE loaded; use 'load sae PATH' (%s)", cmd);
        if (v[0] < 0 || v[0] >= S->sae.c.n_latents)
            return ms_seterr("%s outside sae:0..%d (%s)", text, S->sae.c.n_latents - 1, cmd);
        *u = (unit){UNIT_SAE, v[0], 0};
    } else {
        return ms_seterr("'%s' is not a unit: resid:I, mlp:L:I, meta:B:I or sae:I (%s)", text, cmd);
    }
    return 0;
}

/* Meta-neurons see each token's residual normalized and noised to sigma 0.1
 * with noise from a fixed seed, so the same prompt always gives the same
 * values. */
int cmd_prompt_meta(session *S, float **meta, const char *cmd) {
    if (!S->has_glp) return ms_seterr("no GLP loaded; use 'load glp PATH' (%s)", cmd);
    int n = S->n_prompt, d = S->model.c.d_model;
    const glp_config *g = &S->glp.c;
    float *h = xmalloc(sizeof(float) * (size_t)n * d), *eps = xmalloc(sizeof(float) * (size_t)n * d);
    *meta = xmalloc(sizeof(float) * (size_t)g->n_layers * n * g->d_mlp);
    int rc = sess_capture_prompt(S, HOOK_RESID, sess_glp_layer(S), h, d, cmd);
    if (!rc) {
        rng_t r;
        rng_seed(&r, 0x6d657461); /* "meta" */
        for (size_t i = 0; i < (size_t)n * d; i++) eps[i] = rng_normal(&r);
        glp_normalize(&S->glp, h, h, n);
        rc = glp_meta_neurons(&S->glp, S->glp_work, *meta, h, eps, n, -1);
    }
    free(h), free(eps);
    if (rc) free(*meta), *meta = NULL;
    return rc;
}

/* Latent i of the SAE over the prompt (its exact code, dense). */
static int prompt_sae_values(session *S, int i, float *vals, const char *cmd) {
    int n = S->n_prompt, d = S->model.c.d_model, L = S->sae.c.n_latents;
    float *h = xmalloc(sizeof(float) * (size_t)n * d), *z = xmalloc(sizeof(float) * (size_t)n * L);
    int rc = sess_capture_prompt(S, HOOK_RESID, S->sae.layer, h, d, cmd) || sae_encode_dense(&S->sae, S->sae_work, h, n, z);
    for (int t = 0; !rc && t < n; t++) vals[t] = z[(size_t)t * L + i];
    free(h), free(z);
    return rc;
}

/* Per-token values of a unit over the prompt, into vals[n_prompt]. */
int cmd_unit_values(session *S, const unit *u, float *vals, const char *cmd) {
    int n = S->n_prompt;
    if (u->kind == UNIT_META) {
        float *meta;
        if (cmd_prompt_meta(S, &meta, cmd)) return -1;
        for (int t = 0; t < n; t++) vals[t] = meta[((size_t)u->a * n + t) * S->glp.c.d_mlp + u->b];
        free(meta);
        return 0;
    }
    if (u->kind == UNIT_SAE) return prompt_sae_values(S, u->a, vals, cmd);
    bool mlp = u->kind == UNIT_MLP;
    int width = mlp ? S->model.c.d_ff : S->model.c.d_model;
    float *buf = xmalloc(sizeof(float) * (size_t)n * width);
    int rc = sess_capture_prompt(S, mlp ? HOOK_MLP : HOOK_RESID, mlp ? u->a : S->layer, buf, width, cmd);
    for (int t = 0; !rc && t < n; t++) vals[t] = buf[(size_t)t * width + (mlp ? u->b : u->a)];
    free(buf);
    return rc;
}

int cmd_unit_layer(const session *S, const unit *u) {
    switch (u->kind) {
    case UNIT_MLP: return u->a;
    case UNIT_META: return sess_glp_layer(S);
    case UNIT_SAE: return S->sae.layer;
    default: return S->layer;
    }
}

static int cmd_show(session *S, words *w) {
    const char *cmd = w->argv[0];
    if (cmd_need_model(S, cmd)) return -1;
    if (w->argc != 2) return ms_seterr("usage: %s UNIT (%s)", cmd, cmd);
    if (!S->n_prompt) return ms_seterr("no prompt; use 'prompt TEXT' (%s)", cmd);
    unit u = {UNIT_RESID, 0, 0};
    if (cmd_parse_unit(S, w->argv[1], &u, cmd)) return -1;
    float *v = xmalloc(sizeof(float) * (size_t)S->n_prompt);
    if (cmd_unit_values(S, &u, v, cmd)) {
        free(v);
        return -1;
    }
    float mx = 0;
    for (int t = 0; t < S->n_prompt; t++) mx = fabsf(v[t]) > mx ? fabsf(v[t]) : mx;
    char piece[128];
    json_object *arr = S->json ? json_object_new_array() : NULL;
    int L = cmd_unit_layer(S, &u);
    if (!arr) sess_printf(S, "%s (layer %d) over the prompt (max |value| %.4g)\n", w->argv[1], L, mx);
    for (int t = 0; t < S->n_prompt; t++) {
        cmd_token_text(S, S->prompt_ids[t], piece, sizeof piece);
        if (arr) {
            json_object *e = json_object_new_object();
            json_object_object_add(e, "pos", json_object_new_int(t));
            json_object_object_add(e, "token", json_object_new_string(piece));
            json_object_object_add(e, "value", cmd_jdouble(v[t]));
            json_object_array_add(arr, e);
            continue;
        }
        char quoted[160], bar[32];
        int len = mx > 0 ? (int)lrintf(24.0f * fabsf(v[t]) / mx) : 0;
        memset(bar, v[t] < 0 ? '-' : '#', (size_t)len);
        bar[len] = 0;
        snprintf(quoted, sizeof quoted, "\"%s\"", piece);
        sess_printf(S, "%5d  %-18s %+10.4f  %s\n", t, quoted, v[t], bar);
    }
    if (arr) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "cmd", json_object_new_string("show"));
        json_object_object_add(o, "unit", json_object_new_string(w->argv[1]));
        json_object_object_add(o, "layer", json_object_new_int(L));
        json_object_object_add(o, "tokens", arr);
        cmd_emit_json(S, o);
    }
    free(v);
    return 0;
}

static int cmd_nll(session *S, words *w) {
    if (cmd_need_model(S, "nll")) return -1;
    char *text = w->argc > 1 ? cmd_text_arg(w) : xstrdup(S->prompt ? S->prompt : "");
    int *ids, n;
    int rc = sess_encode(S, text, &ids, &n);
    free(text);
    if (rc) return -1;
    if (n < 2) {
        free(ids);
        return ms_seterr("need at least 2 tokens to score (nll)");
    }
    if (n > S->st.max_seq) {
        free(ids);
        return ms_seterr("text has %d tokens, the context holds %d (nll)", n, S->st.max_seq);
    }
    float *nll = xmalloc(sizeof(float) * (size_t)n);
    if (tf_nll(&S->model, &S->st, ids, n, nll)) {
        free(ids);
        free(nll);
        return -1;
    }
    double sum = 0;
    for (int i = 0; i < n - 1; i++) sum += nll[i];
    double mean = sum / (n - 1);
    char piece[128];
    if (S->json) {
        json_object *o = json_object_new_object(), *arr = json_object_new_array();
        json_object_object_add(o, "cmd", json_object_new_string("nll"));
        for (int i = 0; i < n - 1; i++) {
            json_object *e = json_object_new_object();
            cmd_token_text(S, ids[i + 1], piece, sizeof piece);
            json_object_object_add(e, "pos", json_object_new_int(i + 1));
            json_object_object_add(e, "token", json_object_new_string(piece));
            json_object_object_add(e, "nll", cmd_jdouble(nll[i]));
            json_object_array_add(arr, e);
        }
        json_object_object_add(o, "tokens", arr);
        json_object_object_add(o, "mean_nll", cmd_jdouble(mean));
        json_object_object_add(o, "ppl", cmd_jdouble(exp(mean)));
        cmd_emit_json(S, o);
    } else {
        sess_printf(S, "  pos  token                  nll (nats)\n");
        for (int i = 0; i < n - 1; i++) {
            char quoted[160];
            cmd_token_text(S, ids[i + 1], piece, sizeof piece);
            snprintf(quoted, sizeof quoted, "\"%s\"", piece);
            sess_printf(S, "%5d  %-20s %8.4f\n", i + 1, quoted, nll[i]);
        }
        sess_printf(S, "mean nll %.4f nats over %d tokens, perplexity %.3f\n", mean, n - 1, exp(mean));
    }
    free(ids);
    free(nll);
    return 0;
}

static const char *matmul_line(void) {
    if (wmat_precision() == WM_PREC_HIGHEST) return "highest (exact f32 products)";
    if (!wmat_bf16_dot_available()) return "medium (no AVX-512 BF16 here: exact)";
    return "medium (BF16 products in prefill)";
}

static int cmd_status(session *S, words *w) {
    const tf_config *c = &S->model.c;
    const char *bos = S->bos == 1 ? "on" : S->bos == 0 ? "off" : "auto";
    char cbuf[4096];
    const char *cache = sess_cache_dir(S, cbuf, sizeof cbuf);
    if (S->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "cmd", json_object_new_string("status"));
        json_object_object_add(o, "model", S->has_model ? json_object_new_string(S->model.path) : NULL);
        if (S->has_model) {
            json_object_object_add(o, "arch", json_object_new_string(c->arch == ARCH_LLAMA ? "llama" : "gpt2"));
            json_object_object_add(o, "layers", json_object_new_int(c->n_layers));
            json_object_object_add(o, "layer", json_object_new_int(S->layer));
            json_object_object_add(o, "ctx", json_object_new_int(S->st.max_seq));
        }
        json_object_object_add(o, "glp", S->has_glp ? json_object_new_string(S->glp_path) : NULL);
        json_object_object_add(o, "sae", S->has_sae ? json_object_new_string(S->sae_path) : NULL);
        json_object_object_add(o, "glp_sampler", json_object_new_string(glp_solver_name(S->glp_ode.solver)));
        json_object_object_add(o, "glp_evals", json_object_new_int(S->glp_ode.evals));
        json_object_object_add(o, "glp_rho", cmd_jdouble(S->glp_ode.rho));
        json_object_object_add(o, "temperature", cmd_jdouble(S->scfg.temperature));
        json_object_object_add(o, "top_k", json_object_new_int(S->scfg.top_k));
        json_object_object_add(o, "top_p", cmd_jdouble(S->scfg.top_p));
        json_object_object_add(o, "seed", json_object_new_uint64(S->seed)); /* all 64 bits */
        json_object_object_add(o, "gen", json_object_new_int(S->gen_tokens));
        json_object_object_add(o, "threads", json_object_new_int(S->threads));
        json_object_object_add(o, "matmul_precision", json_object_new_string(wm_precision_name(wmat_precision())));
        json_object_object_add(o, "bos", json_object_new_string(bos));
        json_object_object_add(o, "eos", json_object_new_string(S->stop_at_eos ? "stop" : "ignore"));
        json_object_object_add(o, "cache", cache ? json_object_new_string(cache) : NULL);
        json_object *st = json_object_new_array();
        for (int i = 0; i < S->n_stats; i++) {
            const sess_stat *x = &S->stats[i];
            json_object *e = json_object_new_object();
            json_object_object_add(e, "stat", json_object_new_string("mean_resid_norm"));
            json_object_object_add(e, "layer", json_object_new_int(x->layer));
            json_object_object_add(e, "value", cmd_jdouble(x->value));
            json_object_object_add(e, "tokens", json_object_new_int64(x->tokens));
            json_object_object_add(e, "docs", json_object_new_int(x->docs));
            json_object_object_add(e, "from", json_object_new_string(x->cached ? "cache" : "measured"));
            json_object_array_add(st, e);
        }
        json_object_object_add(o, "stats", st);
        cmd_emit_json(S, o);
        return 0;
    }
    if (S->has_model)
        sess_printf(S, "model    %s (%s, %d layers, d_model %d, vocab %d, %.2fM params)\nlayer    %d\nctx      %d\n",
                    S->model.path, c->arch == ARCH_LLAMA ? "llama" : "gpt2", c->n_layers, c->d_model, c->vocab,
                    S->model.n_params / 1e6, S->layer, S->st.max_seq);
    else sess_printf(S, "model    (none)\n");
    if (S->has_glp)
        sess_printf(S, "glp      %s (layer %d, %d blocks x %d meta-neurons)\n"
                    "         sampler %s (rho %g), projection %d denoiser evaluations at u 0.5%s\n", S->glp_path,
                    sess_glp_layer(S), S->glp.c.n_layers, S->glp.c.d_mlp, glp_solver_name(S->glp_ode.solver),
                    S->glp_ode.rho,
                    glp_project_evals(0.5f, 20, &S->glp_ode), S->glp_ode.evals ? "" : " (the reference budget)");
    if (S->has_sae)
        sess_printf(S, "sae      %s (layer %d, %d latents)\n", S->sae_path, S->sae.layer, S->sae.c.n_latents);
    /* the settings stay last: a short output pane shows the tail */
    sess_printf(S, "cache    %s\n", cache ? cache : S->cache_off ? "off (set cache off)" : "off (METASCOPE_CACHE=off, or no $HOME)");
    for (int i = 0; i < S->n_stats; i++) {
        const sess_stat *x = &S->stats[i];
        sess_printf(S, "norm     layer %d: mean |h| %.4f over %ld tokens of %d documents, %s\n", x->layer, x->value,
                    x->tokens, x->docs, x->cached ? "read from the cache" : "measured in this session");
    }
    sess_printf(S, "sampling temperature %g, top_k %d, top_p %g, seed %llu\ngen      %d tokens, %s at end-of-text\n"
                "threads  %d\nmatmul   %s\nbos      %s\n", S->scfg.temperature, S->scfg.top_k, S->scfg.top_p, S->seed,
                S->gen_tokens, S->stop_at_eos ? "stop" : "go on", S->threads, matmul_line(), bos);
    if (S->prompt) sess_printf(S, "prompt   %d tokens\n", S->n_prompt);
    return 0;
}

static const sess_cmd_info CMDS[] = {
    {"load", "load model|glp|sae|index PATH",
     "Load a Hugging Face model folder (GPT-2 or Llama family), a GLP folder (config.yaml, "
     "final.safetensors, rep_statistics.pt), an SAE folder (SAELens cfg.json + sae_weights.safetensors, "
     "or EleutherAI sparsify) for the model's activations, or a top-activating examples index "
     "(made by 'metascope index')."},
    {"prompt", "prompt TEXT", "Set the prompt, run it, and show the next-token prediction."},
    {"tokens", "tokens [TEXT]", "Show how TEXT (default: the prompt) is tokenized."},
    {"gen", "gen [N]", "Continue the prompt by N tokens (default: set gen) with the sampling settings."},
    {"layer", "layer [L]", "Select (or show) the block whose residual-stream output is inspected."},
    {"acts", "acts", "Per-token residual norms and the largest dimensions at the current layer."},
    {"show", "show UNIT",
     "Per-token values over the prompt of a unit: resid:I (residual dimension at the current layer), "
     "mlp:L:I (MLP neuron of block L), meta:B:I (GLP meta-neuron of block B, input noised to sigma 0.1), "
     "sae:I (SAE latent). "
     "'neuron UNIT' is the same."},
    {"nll", "nll [TEXT]", "Per-token negative log-likelihood (nats) of TEXT (default: the prompt)."},
    {"set", "set KEY VALUE",
     "Settings: temperature (0 = greedy), top_k (0 = off), top_p, seed, gen (default tokens), "
     "threads, ctx (KV cache length), bos (on|off|auto), eos (stop|ignore: whether gen ends at "
     "end-of-text), json (on|off), glp_sampler (euler|heun|midpoint|dpm2m: the ODE solver of the GLP's "
     "on-manifold projection; euler, the default, is the published reference), glp_evals (the projection's budget in "
     "denoiser evaluations, i.e. per steered token; 0 = the reference's 10 at u 0.5; heun and midpoint "
     "spend 2 per step but 1 on the last, so E evaluations buy (E+1)/2 steps; euler and dpm2m buy E), glp_rho (0.1..4: the spacing of the ODE's sigma grid, "
     "sigma_j = (a + (b - a) j/(k-1))^rho from a = sigma_start^(1/rho) to b = 0.001^(1/rho); 1 is the "
     "reference's even grid, below 1 puts more steps near sigma 1), glp_dtype (f32|bf16: hold the GLP's matrices in BF16, half the memory "
     "traffic of a projection), cache (on|off: read and write corpus statistics such as the mean "
     "residual norm in $XDG_CACHE_HOME/metascope, default ~/.cache/metascope; the environment variable "
     "METASCOPE_CACHE=off turns it off for good), matmul_precision (highest|medium, PyTorch's names: "
     "medium lets prefill and batched products with BF16 weights round the activations to BF16 and use the "
     "CPU's BF16 dot product: 1.6x the prefill rate of highest on a Llama-3.2-1B-shaped model (2-core "
     "Zen 5), mean NLL of the BF16 Llama fixture moved by 1.4e-4 relative; decode is never affected; "
     "process-wide). A value that cannot be honoured is refused with the reason "
     "and nothing changes: ctx past the model's context or shorter than the prompt, top_k past its vocabulary, "
     "bos on / eos stop for a model without those tokens, more threads than the pool runs (16)."},
    {"vec", "vec [NAME diffmean POS [NEG] | NAME prompt \"A\" \"B\"]",
     "Make a unit-norm steering vector at the current layer: DiffMean of corpus category POS (mean over its "
     "documents of each document's mean residual) minus NEG's or the rest's (--docs N per side, default 256); "
     "or prompt A's mean residual minus prompt B's (two short forward passes, no corpus). Without arguments, "
     "list the vectors. vec never measures the mean residual norm (alpha's unit): it shows |diff| as a "
     "multiple of it only once known."},
    {"steer", "steer [NAME ALPHA [glp [U]] | off]",
     "Steer gen: h <- P(h + ALPHA*|h|*v) at the last position of every forward pass, |h| the layer's mean "
     "residual norm (measured the first time it is needed on 32 corpus documents, with progress, then read "
     "from the cache: see 'set cache' and 'status'); P is the GLP's on-manifold projection (noise to "
     "sigma_start = grid_20[floor(20 U)], U default 0.5 (sigma 0.474), then the ODE to 0: Euler over the rest "
     "of the 20-point grid, 10 evaluations, unless 'set glp_sampler' / 'set glp_evals' / 'set glp_rho' say otherwise) when "
     "'glp' is given, else the identity."},
    {"compare", "compare NAME ALPHA... [--tokens N] [--samples K] [--u U] [--concept CAT]",
     "For each ALPHA, continue the prompt steered plainly and with the GLP projection (same seeds): fluency "
     "= mean NLL of the continuation under the unsteered model (lower is better), concept = fraction of its "
     "words in the lexicon of the vector's category (or CAT). Continuations run the full N tokens "
     "(end-of-text does not stop them)."},
    {"frontier", "frontier [--concepts C,...] [--alphas A,...] [--prefixes N] [--tokens T] [--out DIR]",
     "Steering frontier: for each concept (default noun.food,noun.animal,noun.artifact), its DiffMean direction "
     "and (with an SAE of the layer) the SAE latent closest to it, each alpha (default 0,0.25,0.5,0.75,1,1.5) and "
     "method (plain, +GLP at u 0.3, 0.5, 0.7), greedy T-token (24) continuations of N (16) held-out neutral "
     "prefixes: fluency and concept score with 95% bootstrap intervals, Pareto-optimal points (*), each "
     "method's frontier area and a plot; --out writes DIR/frontier.csv."},
    {"sample", "sample N [--evals E] [--sampler S] [--rho R] [--out FILE]",
     "Draw N activations from the GLP with E denoiser evaluations (default 20) of sampler S (default dpm2m; "
     "euler and dpm2m: E steps, heun/midpoint: (E+1)/2) on a sigma grid spaced by R (default 0.6): the "
     "setting that gave the lowest FD on the valid split (--steps N alone is the published reference, "
     "Euler's N steps on the even grid). Prints norms and the tokens they predict through the final norm "
     "and unembedding; --out writes them as safetensors."},
    {"meta", "meta [top [K] [B]]",
     "The K meta-neurons (default 10; of block B or all blocks) with the largest variance over the prompt."},
    {"top", "top UNIT [K] [--quantiles]",
     "From the loaded index: the K (default 10) contexts where UNIT (sae:I, meta:B:I, mlp:L:I) fires most, the "
     "activating token as [[token]] and others reaching half its value as [token]; --quantiles shows the "
     "examples drawn from lower quantile bands instead."},
    {"latents", "latents [sort density|max|id] [filter WORD]",
     "From the loaded index: every SAE latent with its density, max, top output tokens and label, sorted; "
     "filter keeps those whose label or output tokens contain WORD."},
    {"latent", "latent I|UNIT",
     "From the loaded index: density, histogram of positive values, top and bottom output tokens (SAE), "
     "correlated units, top and quantile examples of one unit."},
    {"export", "export UNIT... [--json]",
     "From the loaded index: one JSON line per unit in a Neuronpedia-like shape (activations with tokens, "
     "values, maxValue; density, pos_str/neg_str logits, histogram, label)."},
    {"label", "label UNIT [TEXT | --auto]",
     "Show a unit's label, or set your own (saved to the index's labels.tsv); --auto returns to the automatic "
     "label (corpus category of most top examples, else over-represented words)."},
    {"cross", "cross meta:B:I|sae:I",
     "From the loaded index: the SAE latents whose activations correlate most (Pearson r over the index "
     "tokens) with a meta-neuron, or the meta-neurons for a latent."},
    {"probe", "probe TASK|PREFIX*|all [--units meta,sae,resid,mlp] [--tasks N] [--per-class N] [--out DIR] | list | "
              "add NAME POS_FILE NEG_FILE",
     "1-D probing: per binary task, the unit of each family with the best 5-fold CV AUC among the 512 of largest "
     "|mean difference| on train, and its test AUC; mean over tasks with a 95% bootstrap CI. list shows the "
     "tasks; add makes one from two files of texts (one per line, the last token)."},
    {"concept", "concept [NAME [UNITS | --auto CAT] [options] | off | top [K] | export DIR]",
     "Token-label concepts. 'concept NAME sae:18,meta:1:7>0.5,mlp:3:40,resid:5' defines one and makes it active "
     "(a token is positive when any unit exceeds its threshold, default 0; 'concept UNITS' names it by its units); "
     "'concept NAME --auto CAT [--family sae|meta|resid|mlp] [--k K]' finds the units that best separate a corpus "
     "category's tokens from its siblings'. Options: --expand none|word|window:N, --features resid|embed (the "
     "classifier shown: residual at --layer, or an embedding window of 2*--radius+1), --docs N (32), --category "
     "CAT (truth for given units). 'concept NAME' activates it, trains its classifier if needed and shows each "
     "prompt token's label, score and unit values. The classifier (logistic regression, as distill) is trained "
     "on demand on small seeded samples, not whole splits: --docs documents of the category and as many of its "
     "siblings (else twice as many of any category) from the train split, and as many held out from the test "
     "split; seconds. 'concept top [K]' lists the held-out tokens it scores highest, in context; 'concept "
     "export DIR' writes classifier-resid.safetensors and classifier-embed.safetensors (layer, features, concept, "
     "thresholds in the metadata) and the labels of both samples (labels-train.jsonl.lz4, labels-test.jsonl.lz4, "
     "byte spans as label-corpus writes). 'concept off' deactivates; 'concept' lists them. In the explorer the "
     "activations pane shows the active concept's label and score per token and the examples pane its top tokens "
     "(c toggles). Batch: metascope label-corpus, distill, label-compare."},
    {"status", "status",
     "Show the loaded model, the settings, the statistics cache folder and, per layer, the mean residual "
     "norm known so far and whether it was read from the cache or measured in this session."},
    {"time", "time CMD...", "Run one command and print how long it took (wall clock, seconds)."},
    {"help", "help [CMD]", "List the commands, or describe one."},
    {"quit", "quit", "Leave metascope."},
};

const sess_cmd_info *sess_commands(int *n) {
    *n = (int)(sizeof CMDS / sizeof *CMDS);
    return CMDS;
}

static int help_json(session *S, words *w, const sess_cmd_info *c, int n) {
    json_object *arr = json_object_new_array();
    for (int i = 0; i < n; i++) {
        if (w->argc > 1 && strcmp(w->argv[1], c[i].name)) continue;
        json_object *e = json_object_new_object();
        json_object_object_add(e, "name", json_object_new_string(c[i].name));
        json_object_object_add(e, "synopsis", json_object_new_string(c[i].synopsis));
        json_object_object_add(e, "help", json_object_new_string(c[i].help));
        json_object_array_add(arr, e);
    }
    if (!json_object_array_length(arr)) {
        json_object_put(arr);
        return ms_seterr("no such command '%s' (help)", w->argv[1]);
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "cmd", json_object_new_string("help"));
    json_object_object_add(o, "commands", arr);
    cmd_emit_json(S, o);
    return 0;
}

static int cmd_help(session *S, words *w) {
    int n;
    const sess_cmd_info *c = sess_commands(&n);
    if (S->json) return help_json(S, w, c, n);
    for (int i = 0; i < n; i++) {
        if (w->argc > 1 && strcmp(w->argv[1], c[i].name)) continue;
        if (w->argc > 1) sess_printf(S, "%s\n  %s\n", c[i].synopsis, c[i].help);
        else if (strlen(c[i].synopsis) <= 18) sess_printf(S, "  %-18s %s\n", c[i].synopsis, c[i].help);
        else sess_printf(S, "  %s\n  %-18s %s\n", c[i].synopsis, "", c[i].help); /* long synopses get a line */
        if (w->argc > 1) return 0;
    }
    if (w->argc > 1) return ms_seterr("no such command '%s' (help)", w->argv[1]);
    return 0;
}

static int cmd_time(session *S, words *w) {
    if (w->argc < 2) return ms_seterr("usage: time CMD... (time)");
    double t0 = ms_now();
    int rc = sess_exec(S, w->rest);
    double s = ms_now() - t0;
    if (rc) return rc;
    if (S->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "cmd", json_object_new_string("time"));
        json_object_object_add(o, "command", json_object_new_string(w->argv[1]));
        json_object_object_add(o, "seconds", cmd_jdouble(s));
        cmd_emit_json(S, o);
    } else sess_printf(S, "time: %.3f s (%s)\n", s, w->argv[1]);
    return 0;
}

static int cmd_quit(session *S, words *w) {
    S->quit = true;
    return 0;
}

typedef int (*handler)(session *, words *);
static const struct { const char *name; handler fn; } TABLE[] = {
    {"load", cmd_load}, {"prompt", cmd_prompt}, {"tokens", cmd_tokens}, {"gen", cmd_gen},
    {"layer", cmd_layer}, {"acts", cmd_acts}, {"nll", cmd_nll}, {"set", cmd_set},
    {"show", cmd_show}, {"neuron", cmd_show}, {"vec", cmd_vec}, {"steer", cmd_steer}, {"compare", cmd_compare},
    {"frontier", cmd_frontier},
    {"sample", cmd_sample}, {"meta", cmd_meta},
    {"top", cmd_top}, {"latents", cmd_latents}, {"latent", cmd_latent}, {"export", cmd_export},
    {"label", cmd_label}, {"cross", cmd_cross}, {"probe", cmd_probe},
    {"concept", cmd_concept},
    {"status", cmd_status}, {"help", cmd_help}, {"time", cmd_time}, {"quit", cmd_quit}, {"exit", cmd_quit},
};

int sess_exec(session *S, const char *line) {
    words w;
    int rc = cmd_split(&w, line);
    if (!rc && w.argc > 0 && w.argv[0][0] != '#') {
        rc = -2;
        for (size_t i = 0; i < sizeof TABLE / sizeof *TABLE; i++)
            if (!strcmp(w.argv[0], TABLE[i].name)) {
                rc = TABLE[i].fn(S, &w);
                break;
            }
        if (rc == -2) rc = ms_seterr("unknown command '%s'; try 'help' (command)", w.argv[0]);
    }
    cmd_free_words(&w);
    return rc;
}

char *sess_next_command(const char **line) {
    const char *s = *line, *p = s;
    if (!*s) return NULL;
    bool q = false;
    for (; *p && (q || *p != ';'); p++) {
        if (q && *p == '\\' && p[1]) p++;
        else if (*p == '"') q = !q;
    }
    *line = *p ? p + 1 : p;
    return xstrndup(s, (size_t)(p - s));
}

int sess_exec_multi(session *S, const char *line) {
    char *cmd;
    while (!S->quit && !cmd_cancelled(S) && (cmd = sess_next_command(&line))) { /* Ctrl-C stops the line */
        int rc = sess_exec(S, cmd);
        free(cmd);
        if (rc) return -1;
    }
    return 0;
}
