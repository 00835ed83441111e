/* session.c — session state: model loading, the prompt, output helpers. The
 * command handlers live in commands.c. */
#include "session.h"
#include "frontier.h"
#include "glp_folder.h"
#include "index.h"
#include "ops.h"
#include "probe.h"
#include "util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sess_init(session *S, sess_out_fn out, void *out_ctx) {
    memset(S, 0, sizeof *S);
    S->out = out;
    S->out_ctx = out_ctx;
    S->scfg = (sampler_cfg){.temperature = 0.8f, .top_k = 40, .top_p = 0.95f};
    S->seed = 1234;
    rng_seed(&S->rng, S->seed);
    S->gen_tokens = 32;
    S->bos = -1;
    S->stop_at_eos = true;
    S->threads = ms_get_threads();
    S->steer.vec = -1;
    S->glp_ode = (glp_ode){GLP_SOLVER_DEFAULT, 0, GLP_RHO_DEFAULT};
    S->concept_on = -1;
}

static void unload(session *S) {
    if (!S->has_model) return;
    sess_clear_steering(S); /* vectors live in this model's residual space */
    tf_state_free(&S->st);
    sampler_free(&S->smp);
    tf_free(&S->model);
    free(S->unsampleable);
    S->unsampleable = NULL;
    S->has_model = false;
    free(S->prompt_ids);
    S->prompt_ids = NULL;
    S->n_prompt = 0;
}

static void unload_glp(session *S) {
    if (!S->has_glp) return;
    glp_free(&S->glp);
    glp_work_free(S->glp_work);
    S->glp_work = NULL;
    free(S->glp_path);
    S->glp_path = NULL;
    S->has_glp = false;
}

static void unload_sae(session *S) {
    if (!S->has_sae) return;
    sae_free(&S->sae);
    sae_work_free(S->sae_work);
    S->sae_work = NULL;
    free(S->sae_path);
    S->sae_path = NULL;
    S->has_sae = false;
}

int sess_load_sae(session *S, const char *dir) {
    if (!S->has_model) return ms_seterr("load a model first (%s)", dir);
    sae_model m;
    if (sae_load_folder(&m, dir, S->layer)) return -1;
    if (m.layer < 0) m.layer = S->layer;
    const char *why = NULL;
    if (m.c.d_in != S->model.c.d_model) why = "its d_in differs from the model's d_model";
    else if (m.layer >= S->model.c.n_layers) why = "its hook layer is not one of the model's";
    if (why) {
        ms_seterr("SAE (d_in %d, layer %d) does not fit: %s (%s)", m.c.d_in, m.layer, why, dir);
        sae_free(&m);
        return -1;
    }
    unload_sae(S);
    S->sae = m;
    S->sae_work = sae_work_new(&S->sae, 256);
    S->sae_path = xstrdup(dir);
    S->has_sae = true;
    S->models_gen++;
    return 0;
}

/* ---- index */
static void unload_index(session *S) {
    if (!S->index) return;
    index_close(S->index);
    free(S->index);
    S->index = NULL;
}

int sess_load_index(session *S, const char *dir) {
    if (!S->has_model) return ms_seterr("load a model first (%s)", dir);
    ms_index *ix = xmalloc(sizeof *ix);
    if (index_open(ix, dir)) return free(ix), -1;
    if (ix->vocab != S->model.c.vocab || ix->d_model != S->model.c.d_model) {
        ms_seterr("index was built for a model with vocab %d, d_model %d; this one has %d, %d (%s)", ix->vocab,
                  ix->d_model, S->model.c.vocab, S->model.c.d_model, dir);
        index_close(ix);
        free(ix);
        return -1;
    }
    unload_index(S);
    S->index = ix;
    S->index_gen++;
    return 0;
}

int sess_glp_layer(const session *S) { return S->glp_cfg.n_hook_layers > 0 ? S->glp_cfg.layers[0] : -1; }

int sess_load_glp(session *S, const char *dir) {
    glp_model g;
    glp_file_config fc;
    if (glp_load_folder_as(&g, &fc, dir, -1, S->glp_bf16)) return -1;
    int layer = fc.n_hook_layers > 0 ? fc.layers[0] : -1;
    const char *why = NULL;
    if (!S->has_model) why = "load a model first";
    else if (fc.d_input != S->model.c.d_model) why = "its d_input differs from the model's d_model";
    else if (layer < 0 || layer >= S->model.c.n_layers) why = "its layer is not one of the model's";
    else if (fc.multi_layer_n_layers > 1) why = "multi-layer GLPs are not supported yet";
    if (why) {
        ms_seterr("GLP (d_input %d, layer %d) does not fit: %s (%s)", fc.d_input, layer, why, dir);
        glp_free(&g);
        return -1;
    }
    unload_glp(S);
    S->glp = g;
    S->glp_cfg = fc;
    S->glp_work = glp_work_new(&g.c, 256);
    glp_work_cache(S->glp_work, true); /* a loaded GLP never changes */
    S->glp_path = xstrdup(dir);
    S->has_glp = true;
    S->layer = layer;
    S->models_gen++;
    return 0;
}

void sess_free(session *S) {
    unload_index(S);
    unload_glp(S);
    unload_sae(S);
    unload(S);
    if (S->probe_last) probe_result_free(S->probe_last);
    free(S->probe_last);
    for (int i = 0; i < S->n_lex; i++) lex_free(&S->lex[i]);
    free(S->lex);
    if (S->corpus) corpus_free(S->corpus);
    if (S->corpus_test) corpus_free(S->corpus_test);
    free(S->corpus), free(S->corpus_test);
    frontier_free(S->frontier_last);
    S->frontier_last = NULL;
    sess_free_concepts(S);
    free(S->prompt);
    S->prompt = NULL;
}

void sess_printf(session *S, const char *fmt, ...) {
    char small[512], *buf = small;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof small) {
        buf = xmalloc((size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(buf, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    if (S->out) S->out(S->out_ctx, buf, (size_t)n);
    if (buf != small) free(buf);
}

int sess_load_model(session *S, const char *dir) {
    tf_model m;
    if (tf_load(&m, dir)) return -1; /* the old model stays loaded on failure */
    unload_glp(S); /* a GLP, an SAE or an index belongs to one model */
    unload_sae(S);
    unload_index(S);
    unload(S);
    S->model = m;
    S->has_model = true;
    S->models_gen++;
    int ctx = S->ctx > 0 ? S->ctx : (m.c.max_seq < 2048 ? m.c.max_seq : 2048);
    if (tf_state_init(&S->st, &S->model, ctx)) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", ms_geterr());
        tf_free(&S->model);
        S->has_model = false;
        return ms_seterr("%s", msg);
    }
    sampler_init(&S->smp, m.c.vocab);
    S->layer = m.c.n_layers / 2;
    /* Embedding tables are often padded past the tokenizer: never sample
     * an id that cannot be decoded. */
    S->unsampleable = xcalloc((size_t)m.c.vocab, sizeof(bool));
    for (int i = 0; i < m.c.vocab && m.tok; i++) {
        size_t len;
        S->unsampleable[i] = !tok_bytes(m.tok, i, &len);
    }
    /* Re-tokenize the prompt for the new vocabulary (dropped if it no longer fits). */
    free(S->prompt_ids);
    S->prompt_ids = NULL;
    S->n_prompt = 0;
    if (S->prompt && m.tok) {
        char *text = S->prompt;
        S->prompt = NULL;
        if (sess_set_prompt(S, text, "load")) ms_clearerr();
        free(text);
    }
    return 0;
}

bool sess_use_bos(const session *S) {
    if (S->model.c.bos_id < 0) return false;
    return S->bos == 1 || (S->bos == -1 && S->model.c.arch == ARCH_LLAMA);
}

int sess_encode(session *S, const char *text, int **ids, int *n) {
    int *raw, nr;
    if (tok_encode(S->model.tok, text, strlen(text), &raw, &nr)) return -1;
    int b = sess_use_bos(S) ? 1 : 0;
    *ids = xmalloc(sizeof(int) * (size_t)(nr + b + 1));
    if (b) (*ids)[0] = S->model.c.bos_id;
    memcpy(*ids + b, raw, sizeof(int) * (size_t)nr);
    *n = nr + b;
    free(raw);
    return 0;
}

int sess_set_prompt(session *S, const char *text, const char *cmd) {
    int *ids, n;
    if (sess_encode(S, text, &ids, &n)) return -1;
    if (n == 0 || n > S->st.max_seq) {
        free(ids);
        if (n == 0) return ms_seterr("empty prompt (%s)", cmd);
        return ms_seterr("prompt has %d tokens, the context holds %d; see 'set ctx' (%s)", n, S->st.max_seq, cmd);
    }
    char *copy = xstrdup(text);
    free(S->prompt);
    free(S->prompt_ids);
    S->prompt = copy;
    S->prompt_ids = ids;
    S->n_prompt = n;
    return 0;
}

int sess_run_prompt(session *S, const char *cmd) {
    if (!S->n_prompt) return ms_seterr("no prompt; use 'prompt TEXT' (%s)", cmd);
    tf_state_reset(&S->st);
    if (tf_forward(&S->model, &S->st, S->prompt_ids, S->n_prompt, LOGITS_LAST, NULL))
        return ms_seterr("%s (%s)", ms_geterr(), cmd);
    return 0;
}

int sess_capture_prompt(session *S, tf_hook_kind kind, int layer, float *buf, int width, const char *cmd) {
    tf_rows cap = {buf, width};
    int saved = S->st.nhooks;
    int rc = tf_add_hook(&S->st, (tf_hook){kind, layer, tf_rows_hook, &cap});
    if (!rc) rc = sess_run_prompt(S, cmd);
    S->st.nhooks = saved;
    return rc;
}

/* Re-runs the latest half-context of prompt + generated tokens (BOS kept
 * first when the prompt has it) so generation can go on past the context. */
static int slide_context(session *S, const int *gen, int k) {
    int total = S->n_prompt + k, bos = sess_use_bos(S) ? 1 : 0;
    int keep = S->st.max_seq / 2 > bos + 1 ? S->st.max_seq / 2 : bos + 1;
    if (keep > total) keep = total;
    int *buf = xmalloc(sizeof(int) * (size_t)keep);
    if (bos) buf[0] = S->prompt_ids[0];
    for (int i = bos; i < keep; i++) {
        int j = total - keep + i;
        buf[i] = j < S->n_prompt ? S->prompt_ids[j] : gen[j - S->n_prompt];
    }
    tf_state_reset(&S->st);
    int rc = tf_forward(&S->model, &S->st, buf, keep, LOGITS_LAST, NULL);
    free(buf);
    return rc;
}

static int generate(session *S, int n, int *out, int *k, bool stream, double *prefill_s, double *decode_s);

int sess_generate(session *S, int n, int *out, int *k, bool stream, double *prefill_s, double *decode_s) {
    return sess_generate_steered(S, n, out, k, stream, &S->steer, prefill_s, decode_s);
}

/* Installs the steering hook described by sp on S->st (h must outlive the
 * generation). Returns 1 when a hook was added, 0 when none is needed. */
static int add_steer_hook(session *S, const sess_steer *sp, steer_hook *h) {
    if (!sp || sp->vec < 0) return 0;
    if (sp->vec >= S->n_vecs) return ms_seterr("no such steering vector (gen)");
    const steer_vec *v = &S->vecs[sp->vec];
    double norm;
    if (sess_mean_norm(S, v->layer, &norm, "gen")) return -1;
    if (sp->glp && !S->has_glp) return ms_seterr("no GLP loaded for +GLP steering (gen)");
    *h = (steer_hook){.v = v->v, .layer = v->layer, .d = v->d, .alpha = (float)(sp->ratio * norm),
                      .glp = sp->glp ? &S->glp : NULL, .work = S->glp_work, .u = sp->u, .steps = sp->steps,
                      .ode = S->glp_ode,
                      .st = &S->st};
    rng_seed(&h->rng, S->seed ^ 0x676c7070726f6aull); /* the same projection noise for every run */
    if (tf_add_hook(&S->st, (tf_hook){HOOK_RESID, v->layer, steer_hook_fn, h})) return -1;
    return 1;
}

int sess_generate_steered(session *S, int n, int *out, int *k, bool stream, const sess_steer *sp, double *prefill_s,
                          double *decode_s) {
    *k = 0;
    steer_hook hook;
    int saved = S->st.nhooks, added = add_steer_hook(S, sp, &hook);
    if (added < 0) return -1;
    int rc = generate(S, n, out, k, stream, prefill_s, decode_s);
    S->st.nhooks = saved;
    if (!rc && added && hook.failed) rc = ms_seterr("%s (gen)", ms_geterr());
    return rc;
}

static int generate(session *S, int n, int *out, int *k, bool stream, double *prefill_s, double *decode_s) {
    double t0 = ms_now();
    if (sess_run_prompt(S, "gen")) return -1;
    double t1 = ms_now();
    int rc = 0, V = S->model.c.vocab;
    while (*k < n && !(S->cancel && *S->cancel)) {
        float *lg = S->st.logits;
        for (int i = 0; i < V; i++)
            if (S->unsampleable[i]) lg[i] = -INFINITY;
        int id = sample_next(&S->smp, lg, &S->scfg, &S->rng);
        out[(*k)++] = id;
        if (S->stop_at_eos && id == S->model.c.eos_id) break;
        if (stream && S->out) {
            size_t len;
            const char *b = tok_bytes(S->model.tok, id, &len);
            if (b) S->out(S->out_ctx, b, len);
        }
        if (*k == n) break;
        if (S->st.pos >= S->st.max_seq) rc = slide_context(S, out, *k);
        else rc = tf_forward(&S->model, &S->st, &id, 1, LOGITS_LAST, NULL);
        if (rc) break;
    }
    if (prefill_s) *prefill_s = t1 - t0;
    if (decode_s) *decode_s = ms_now() - t1;
    return rc ? ms_seterr("%s (gen)", ms_geterr()) : 0;
}
