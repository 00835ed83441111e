/* cmd_steer.c — steering commands: vec (make and list vectors), steer
 * (steer gen), compare (plain vs +GLP continuations over an alpha sweep,
 * with fluency and concept scores). */
#include "cmd.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VEC_DOCS 256    /* documents per side of a DiffMean (seeded sample) */
#define VEC_TOKENS 128  /* tokens kept per document */

static steer_runner runner(session *S) {
    return (steer_runner){&S->model, &S->st, S->layer, sess_use_bos(S) ? S->model.c.bos_id : -1, VEC_TOKENS,
                          S->cancel};
}

/* Mean over documents (cap, seeded) on one side into mean[d]; *used docs. */
static int side_mean(session *S, const corpus_split *c, const char *cat, bool want, const char *other, int cap,
                     double *mean, int *used) {
    steer_runner r = runner(S);
    return steer_side_mean(&r, c, cat, want, other, cap, S->seed ^ (want ? 0x706f73ull : 0x6e6567ull), mean, used,
                           "vec");
}

static int vec_diffmean(session *S, words *w, steer_vec *v) {
    long cap = VEC_DOCS;
    int argc = w->argc;
    if (argc >= 5 && !strcmp(w->argv[argc - 2], "--docs")) {
        if (cmd_parse_int(w->argv[argc - 1], 1, 1000000, &cap, "vec")) return -1;
        argc -= 2;
    }
    if (argc != 4 && argc != 5) return ms_seterr("usage: vec NAME diffmean POS [NEG] [--docs N] (vec)");
    corpus_split *c;
    if (sess_corpus(S, &c, "vec")) return -1;
    const char *pos = lex_resolve_category(c, w->argv[3], "vec"), *neg = NULL;
    if (!pos || (argc == 5 && !(neg = lex_resolve_category(c, w->argv[4], "vec")))) return -1;
    if (neg && !strcmp(pos, neg)) return ms_seterr("POS and NEG are the same category (vec)");
    int d = S->model.c.d_model;
    double *a = xmalloc(sizeof(double) * (size_t)d), *b = xmalloc(sizeof(double) * (size_t)d);
    int rc = side_mean(S, c, pos, true, NULL, (int)cap, a, &v->pos_docs) ||
             side_mean(S, c, pos, false, neg, (int)cap, b, &v->neg_docs) || steer_set_direction(v, a, b, d);
    free(a), free(b);
    snprintf(v->kind, sizeof v->kind, "diffmean");
    snprintf(v->pos, sizeof v->pos, "%s", pos);
    snprintf(v->neg, sizeof v->neg, "%s", neg ? neg : "");
    snprintf(v->concept, sizeof v->concept, "%s", pos);
    return rc;
}

static int vec_prompt(session *S, words *w, steer_vec *v) {
    if (w->argc != 5) return ms_seterr("usage: vec NAME prompt \"A\" \"B\" (vec)");
    int d = S->model.c.d_model, rc = 0;
    double *m[2] = {xmalloc(sizeof(double) * (size_t)d), xmalloc(sizeof(double) * (size_t)d)};
    steer_runner r = runner(S);
    for (int s = 0; s < 2 && !rc; s++) {
        int *ids, n;
        if ((rc = sess_encode(S, w->argv[3 + s], &ids, &n))) break;
        if (n < 2) rc = ms_seterr("prompt \"%s\" needs at least 2 tokens (vec)", w->argv[3 + s]);
        else if ((rc = steer_seq_mean(&r, ids, n, m[s]))) ms_seterr("%s (vec)", ms_geterr());
        free(ids);
    }
    if (!rc) rc = steer_set_direction(v, m[0], m[1], d);
    free(m[0]), free(m[1]);
    snprintf(v->kind, sizeof v->kind, "prompt");
    snprintf(v->pos, sizeof v->pos, "%.63s", w->argv[3]);
    snprintf(v->neg, sizeof v->neg, "%.63s", w->argv[4]);
    return rc;
}

static void vec_describe(session *S, const steer_vec *v, double norm) {
    char sides[200];
    if (!strcmp(v->kind, "diffmean"))
        snprintf(sides, sizeof sides, "diffmean %s (%d docs) - %s (%d docs)", v->pos, v->pos_docs,
                 v->neg[0] ? v->neg : "rest", v->neg_docs);
    else snprintf(sides, sizeof sides, "prompt \"%s\" - \"%s\"", v->pos, v->neg);
    if (isnan(norm)) /* vec itself never runs the corpus sample: steer and compare do */
        sess_printf(S, "%-12s layer %d  %s  |diff| %.3f (mean |h| not measured yet)\n", v->name, v->layer, sides,
                    v->raw_norm);
    else
        sess_printf(S, "%-12s layer %d  %s  |diff| %.3f = %.3f x mean |h| %.3f\n", v->name, v->layer, sides,
                    v->raw_norm, v->raw_norm / norm, norm);
}

/* The layer's mean residual norm when known without running the model, else NaN. */
static double known_norm(session *S, int layer) {
    double norm;
    return sess_known_norm(S, layer, &norm) ? norm : NAN;
}

static json_object *vec_json(const steer_vec *v, double norm) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(v->name));
    json_object_object_add(o, "layer", json_object_new_int(v->layer));
    json_object_object_add(o, "kind", json_object_new_string(v->kind));
    json_object_object_add(o, "pos", json_object_new_string(v->pos));
    json_object_object_add(o, "neg", json_object_new_string(v->neg));
    json_object_object_add(o, "raw_norm", cmd_jdouble(v->raw_norm));
    json_object_object_add(o, "mean_resid_norm", cmd_jdouble(norm));
    if (v->concept[0]) json_object_object_add(o, "concept", json_object_new_string(v->concept));
    return o;
}

static int vec_list(session *S) {
    json_object *arr = S->json ? json_object_new_array() : NULL;
    if (!S->n_vecs && !arr) sess_printf(S, "no steering vectors; make one with 'vec NAME diffmean CATEGORY'\n");
    for (int i = 0; i < S->n_vecs; i++) {
        double norm = known_norm(S, S->vecs[i].layer);
        if (arr) json_object_array_add(arr, vec_json(&S->vecs[i], norm));
        else vec_describe(S, &S->vecs[i], norm);
    }
    if (arr) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "cmd", json_object_new_string("vec"));
        json_object_object_add(o, "vectors", arr);
        cmd_emit_json(S, o);
    }
    return 0;
}

int cmd_vec(session *S, words *w) {
    if (cmd_need_model(S, "vec")) return -1;
    if (w->argc == 1) return vec_list(S);
    if (w->argc < 3) return ms_seterr("usage: vec NAME diffmean POS [NEG] | vec NAME prompt \"A\" \"B\" (vec)");
    const char *name = w->argv[1];
    if (strlen(name) >= sizeof ((steer_vec *)0)->name || !name[0] || strchr(name, ':'))
        return ms_seterr("'%s' is not a vector name (up to 31 bytes, no ':') (vec)", name);
    steer_vec v = {.layer = S->layer};
    snprintf(v.name, sizeof v.name, "%s", name);
    int rc;
    if (!strcmp(w->argv[2], "diffmean")) rc = vec_diffmean(S, w, &v);
    else if (!strcmp(w->argv[2], "prompt")) rc = vec_prompt(S, w, &v);
    else rc = ms_seterr("unknown vector kind '%s': diffmean or prompt (vec)", w->argv[2]);
    if (rc) {
        free(v.v);
        return -1;
    }
    const steer_vec *p = sess_put_vec(S, &v);
    double norm = known_norm(S, p->layer);
    if (S->json) {
        json_object *o = vec_json(p, norm);
        json_object_object_add(o, "cmd", json_object_new_string("vec"));
        cmd_emit_json(S, o);
    } else vec_describe(S, p, norm);
    return 0;
}

/* ------------------------------------------------------------ steer */

static int steer_show(session *S) {
    const sess_steer *s = &S->steer;
    const char *name = s->vec >= 0 ? S->vecs[s->vec].name : NULL;
    double norm = NAN; /* alpha's unit: measured (or read from the cache) now, not at vec time */
    if (name && sess_mean_norm(S, S->vecs[s->vec].layer, &norm, "steer")) return -1;
    if (S->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "cmd", json_object_new_string("steer"));
        json_object_object_add(o, "vec", name ? json_object_new_string(name) : NULL);
        if (name) {
            json_object_object_add(o, "alpha", cmd_jdouble(s->ratio));
            json_object_object_add(o, "mean_resid_norm", cmd_jdouble(norm));
            json_object_object_add(o, "glp", json_object_new_boolean(s->glp));
            if (s->glp) {
                json_object_object_add(o, "u", cmd_jdouble(s->u));
                json_object_object_add(o, "sampler", json_object_new_string(glp_solver_name(S->glp_ode.solver)));
                json_object_object_add(o, "rho", cmd_jdouble(S->glp_ode.rho));
                json_object_object_add(o, "evals", json_object_new_int(glp_project_evals(s->u, s->steps, &S->glp_ode)));
            }
        }
        cmd_emit_json(S, o);
    } else if (!name) sess_printf(S, "steering off\n");
    else {
        sess_printf(S, "steering gen with %s at alpha %g (|alpha v| = %.3f) at layer %d", name, s->ratio,
                    fabs(s->ratio) * norm, S->vecs[s->vec].layer);
        if (s->glp)
            sess_printf(S, ", then GLP projection (u %g, %s%s, %d denoiser evaluations)", s->u,
                        glp_solver_name(S->glp_ode.solver), S->glp_ode.rho != 1 ? " on a rho-spaced grid" : "",
                        glp_project_evals(s->u, s->steps, &S->glp_ode));
        sess_printf(S, "\n");
    }
    return 0;
}

/* Parses "[glp [U]]" at argv[i..]: sets glp and u; checks the GLP fits v. */
static int parse_glp_opt(session *S, words *w, int i, const steer_vec *v, bool *glp, float *u, const char *cmd) {
    *glp = false, *u = 0.5f;
    if (i >= w->argc) return 0;
    if (strcmp(w->argv[i], "glp") || w->argc > i + 2) return ms_seterr("usage: steer NAME ALPHA [glp [U]] (%s)", cmd);
    double x = 0.5;
    if (w->argc == i + 2 && cmd_parse_float(w->argv[i + 1], 0, 1, &x, cmd)) return -1;
    if (!S->has_glp) return ms_seterr("no GLP loaded; use 'load glp PATH' (%s)", cmd);
    if (sess_glp_layer(S) != v->layer)
        return ms_seterr("the GLP models layer %d, the vector lives at layer %d (%s)", sess_glp_layer(S), v->layer, cmd);
    *glp = true, *u = (float)x;
    return 0;
}

int cmd_steer(session *S, words *w) {
    if (cmd_need_model(S, "steer")) return -1;
    if (w->argc == 1) return steer_show(S);
    if (w->argc == 2 && !strcmp(w->argv[1], "off")) {
        S->steer.vec = -1;
        return steer_show(S);
    }
    if (w->argc < 3) return ms_seterr("usage: steer NAME ALPHA [glp [U]] | steer off (steer)");
    const steer_vec *v = sess_find_vec(S, w->argv[1]);
    if (!v) return ms_seterr("no vector '%s'; make one with 'vec' (steer)", w->argv[1]);
    double r;
    bool glp;
    float u;
    if (cmd_parse_float(w->argv[2], -1000, 1000, &r, "steer") || parse_glp_opt(S, w, 3, v, &glp, &u, "steer"))
        return -1;
    S->steer = (sess_steer){(int)(v - S->vecs), r, glp, u, 20};
    return steer_show(S);
}

/* ------------------------------------------------------------ compare */

typedef struct {
    double fluency, concept; /* means over samples */
    char *text;              /* the first sample's continuation */
    size_t len;
    int tokens;
} compare_point;

int cmd_fluency(session *S, const int *gen, int k, double *out) {
    int n = S->n_prompt + k, keep = n < S->st.max_seq ? n : S->st.max_seq;
    int *ids = xmalloc(sizeof(int) * (size_t)n);
    memcpy(ids, S->prompt_ids, sizeof(int) * (size_t)S->n_prompt);
    memcpy(ids + S->n_prompt, gen, sizeof(int) * (size_t)k);
    float *nll = xmalloc(sizeof(float) * (size_t)keep);
    int rc = tf_nll(&S->model, &S->st, ids + (n - keep), keep, nll);
    double sum = 0;
    int m = k < keep - 1 ? k : keep - 1;
    for (int i = keep - 1 - m; i < keep - 1; i++) sum += nll[i];
    *out = m > 0 ? sum / m : NAN;
    free(ids), free(nll);
    return rc;
}

/* One point of the sweep: `samples` continuations with seeds seed + j. */
static int compare_run(session *S, const sess_steer *sp, int ntok, int samples, const lexicon *lex,
                       compare_point *pt) {
    int *gen = xmalloc(sizeof(int) * (size_t)ntok), k = 0, rc = 0;
    double fl = 0, co = 0;
    int nfl = 0;
    for (int j = 0; j < samples && !rc; j++) {
        if (cmd_cancelled(S)) {
            rc = ms_seterr("cancelled (compare)");
            break;
        }
        rng_seed(&S->rng, S->seed + (unsigned long long)j);
        if ((rc = sess_generate_steered(S, ntok, gen, &k, false, sp, NULL, NULL))) break;
        char *text;
        size_t len;
        double f;
        if ((rc = tok_decode(S->model.tok, gen, k, &text, &len)) || (rc = cmd_fluency(S, gen, k, &f))) break;
        if (isfinite(f)) fl += f, nfl++;
        co += lex ? lex_score(lex, text, len, NULL) : NAN;
        if (j == 0) pt->text = text, pt->len = len, pt->tokens = k;
        else free(text);
    }
    free(gen);
    pt->fluency = nfl ? fl / nfl : NAN;
    pt->concept = co / samples;
    return rc;
}

typedef struct {
    double alpha[64];
    int n, tokens, samples;
    double u;
    const char *concept;
} compare_args;

static int parse_compare(session *S, words *w, compare_args *a) {
    *a = (compare_args){.tokens = S->gen_tokens, .samples = 1, .u = 0.5};
    long x;
    for (int i = 2; i < w->argc; i++) {
        const char *o = w->argv[i];
        bool opt = !strcmp(o, "--tokens") || !strcmp(o, "--samples") || !strcmp(o, "--u") || !strcmp(o, "--concept");
        if (opt && i + 1 >= w->argc) return ms_seterr("%s needs a value (compare)", o);
        if (!strcmp(o, "--tokens")) {
            if (cmd_parse_int(w->argv[++i], 1, 4096, &x, "compare")) return -1;
            a->tokens = (int)x;
        } else if (!strcmp(o, "--samples")) {
            if (cmd_parse_int(w->argv[++i], 1, 1000, &x, "compare")) return -1;
            a->samples = (int)x;
        } else if (!strcmp(o, "--u")) {
            if (cmd_parse_float(w->argv[++i], 0, 1, &a->u, "compare")) return -1;
        } else if (!strcmp(o, "--concept")) {
            a->concept = w->argv[++i];
        } else {
            if (a->n == 64) return ms_seterr("at most 64 alphas (compare)");
            if (cmd_parse_float(o, -1000, 1000, &a->alpha[a->n++], "compare")) return -1;
        }
    }
    if (!a->n) return ms_seterr("usage: compare NAME ALPHA... [--tokens N] [--samples K] [--u U] [--concept CAT] (compare)");
    return 0;
}

static void print_point(session *S, json_object *rows, double alpha, const char *method, const compare_point *p) {
    if (rows) {
        json_object *e = json_object_new_object();
        json_object_object_add(e, "alpha", cmd_jdouble(alpha));
        json_object_object_add(e, "method", json_object_new_string(method));
        json_object_object_add(e, "fluency", cmd_jdouble(p->fluency));
        json_object_object_add(e, "concept", cmd_jdouble(p->concept));
        json_object_object_add(e, "tokens", json_object_new_int(p->tokens));
        json_object_object_add(e, "text", cmd_json_text(p->text, p->len));
        json_object_array_add(rows, e);
        return;
    }
    char *shown = xmalloc(4 * p->len + 8);
    cmd_escape_bytes(p->text, p->len, shown, 4 * p->len + 8);
    char co[16];
    if (isfinite(p->concept)) snprintf(co, sizeof co, "%7.3f", p->concept);
    else snprintf(co, sizeof co, "%7s", "-");
    sess_printf(S, "%7.2f  %-6s %8.3f %s  \"%s\"\n", alpha, method, p->fluency, co, shown);
    free(shown);
}

int cmd_compare(session *S, words *w) {
    if (cmd_need_model(S, "compare")) return -1;
    if (!S->n_prompt) return ms_seterr("no prompt; use 'prompt TEXT' (compare)");
    if (w->argc < 3) return ms_seterr("usage: compare NAME ALPHA... [--tokens N] [--samples K] [--u U] [--concept CAT] (compare)");
    const steer_vec *v = sess_find_vec(S, w->argv[1]);
    if (!v) return ms_seterr("no vector '%s'; make one with 'vec' (compare)", w->argv[1]);
    compare_args a;
    if (parse_compare(S, w, &a)) return -1;
    const char *cat = a.concept ? a.concept : v->concept[0] ? v->concept : NULL;
    const lexicon *lex = NULL;
    corpus_split *c;
    if (cat && (sess_corpus(S, &c, "compare") || !(cat = lex_resolve_category(c, cat, "compare")) ||
                !(lex = sess_lexicon(S, cat, NULL, "compare"))))
        return -1;
    bool glp = S->has_glp && sess_glp_layer(S) == v->layer;
    double norm;
    if (sess_mean_norm(S, v->layer, &norm, "compare")) return -1;
    json_object *rows = S->json ? json_object_new_array() : NULL;
    if (!rows) {
        sess_printf(S, "compare %s at layer %d: %d tokens x %d sample%s, mean |h| %.3f, concept = %s\n", v->name,
                    v->layer, a.tokens, a.samples, a.samples > 1 ? "s" : "", norm,
                    lex ? "fraction of words in the lexicon" : "- (no category)");
        if (lex) sess_printf(S, "lexicon %s vs the rest: %d words\n", lex->category, lex->words.n);
        if (!glp) sess_printf(S, "(no GLP for layer %d loaded: plain steering only)\n", v->layer);
        else
            sess_printf(S, "+GLP: projection from u %g, %s, %d denoiser evaluations per steered token\n", a.u,
                        glp_solver_name(S->glp_ode.solver), glp_project_evals((float)a.u, 20, &S->glp_ode));
        sess_printf(S, "  alpha  method  fluency concept  continuation\n");
    }
    rng_t saved = S->rng; /* compare leaves gen's random stream as it was */
    bool eos = S->stop_at_eos;
    S->stop_at_eos = false; /* equal lengths keep the fluency numbers comparable */
    int rc = 0, idx = (int)(v - S->vecs);
    for (int i = 0; i < a.n && !rc; i++)
        for (int g = 0; g <= (glp ? 1 : 0) && !rc; g++) {
            sess_steer sp = {idx, a.alpha[i], g == 1, (float)a.u, 20};
            compare_point p = {0};
            rc = compare_run(S, &sp, a.tokens, a.samples, lex, &p);
            if (!rc) print_point(S, rows, a.alpha[i], g ? "+GLP" : "plain", &p);
            if (!rc && S->compare_row)
                S->compare_row(S->compare_ctx, &(sess_compare_row){i * (glp ? 2 : 1) + g, a.n * (glp ? 2 : 1),
                                                                   a.alpha[i], g == 1, p.fluency, p.concept, p.text,
                                                                   p.len, v->name});
            free(p.text);
        }
    S->rng = saved;
    S->stop_at_eos = eos;
    if (rows && !rc) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "cmd", json_object_new_string("compare"));
        json_object_object_add(o, "vec", json_object_new_string(v->name));
        json_object_object_add(o, "layer", json_object_new_int(v->layer));
        json_object_object_add(o, "mean_resid_norm", cmd_jdouble(norm));
        json_object_object_add(o, "concept", cat ? json_object_new_string(cat) : NULL);
        json_object_object_add(o, "samples", json_object_new_int(a.samples));
        json_object_object_add(o, "u", cmd_jdouble(a.u));
        json_object_object_add(o, "rows", rows);
        if (glp) {
            json_object_object_add(o, "sampler", json_object_new_string(glp_solver_name(S->glp_ode.solver)));
            json_object_object_add(o, "rho", cmd_jdouble(S->glp_ode.rho));
            json_object_object_add(o, "evals", json_object_new_int(glp_project_evals((float)a.u, 20, &S->glp_ode)));
        }
        cmd_emit_json(S, o);
    } else if (rows) json_object_put(rows);
    return rc;
}
