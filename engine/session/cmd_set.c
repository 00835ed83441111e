/* cmd_set.c — `set KEY VALUE`. Each setting checks its value's type and
 * range and, with a model loaded, whether the model can honour it; a refusal
 * names the reason and changes nothing. The echo says what will happen when
 * that differs from what was typed (the GLP's evaluation budget). */
#include "cmd.h"
#include "ops.h"
#include "pool.h"
#include "statcache.h"
#include "util.h"
#include "wmat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEYS "temperature, top_k, top_p, seed, gen, threads, ctx, bos, eos, json, glp_sampler, glp_evals, glp_rho, glp_dtype, cache, matmul_precision"

/* A setter reads val, refuses (-1 with the reason) or applies it; note gets
 * what the echo adds in parentheses after the value, if anything. */
typedef int (*setter)(session *S, const char *val, char *note, size_t cap);

static int set_temperature(session *S, const char *val, char *note, size_t cap) {
    double f;
    if (cmd_parse_float(val, 0, 100, &f, "set temperature")) return -1;
    S->scfg.temperature = (float)f;
    return 0;
}

static int set_top_k(session *S, const char *val, char *note, size_t cap) {
    long i;
    if (cmd_parse_int(val, 0, 1 << 24, &i, "set top_k")) return -1;
    if (S->has_model && i > S->model.c.vocab)
        return ms_seterr("top_k %ld exceeds the model's vocabulary of %d tokens; 0 turns top-k off (set top_k)", i,
                         S->model.c.vocab);
    S->scfg.top_k = (int)i;
    return 0;
}

static int set_top_p(session *S, const char *val, char *note, size_t cap) {
    char *end;
    errno = 0;
    double f = strtod(val, &end);
    if (errno || *end || end == val || !(f > 0 && f <= 1))
        return ms_seterr("'%s' is not a number in (0, 1]: top_p keeps the likeliest tokens whose probabilities "
                         "add up to it, 1 keeps all (set top_p)", val);
    S->scfg.top_p = (float)f;
    return 0;
}

static int set_seed(session *S, const char *val, char *note, size_t cap) {
    char *end;
    errno = 0;
    unsigned long long s = strtoull(val, &end, 10);
    if (errno || *end || end == val || val[0] == '-' || val[0] == '+')
        return ms_seterr("'%s' is not a seed: an integer in 0..18446744073709551615 (set seed)", val);
    S->seed = s;
    rng_seed(&S->rng, s);
    return 0;
}

static int set_gen(session *S, const char *val, char *note, size_t cap) {
    long i;
    if (cmd_parse_int(val, 1, 1000000, &i, "set gen")) return -1;
    S->gen_tokens = (int)i;
    return 0;
}

static int set_threads(session *S, const char *val, char *note, size_t cap) {
    long i;
    if (cmd_parse_int(val, 1, 1 << 20, &i, "set threads")) return -1;
    if (i > POOL_MAX_THREADS) /* the pool's products would still run on POOL_MAX_THREADS */
        return ms_seterr("threads %ld: metascope runs at most %d threads (set threads)", i, POOL_MAX_THREADS);
    ms_set_threads((int)i);
    S->threads = (int)i;
    return 0;
}

static int set_ctx(session *S, const char *val, char *note, size_t cap) {
    long i;
    if (cmd_parse_int(val, 1, 1 << 20, &i, "set ctx")) return -1;
    if (S->has_model && i > S->model.c.max_seq) /* positions past it were never trained (or have no embedding) */
        return ms_seterr("the model's context is %d tokens; ctx %ld cannot be honoured (set ctx)", S->model.c.max_seq, i);
    if (S->has_model && S->n_prompt > i)
        return ms_seterr("the prompt has %d tokens; ctx %ld cannot hold them (set ctx)", S->n_prompt, i);
    if (S->has_model) { /* the old cache stays if the new one cannot be had */
        tf_state st;
        if (tf_state_init(&st, &S->model, (int)i)) return ms_seterr("%s (set ctx)", ms_geterr());
        for (int h = 0; h < S->st.nhooks; h++) tf_add_hook(&st, S->st.hooks[h]);
        tf_state_free(&S->st);
        S->st = st;
    }
    S->ctx = (int)i;
    return 0;
}

static int set_bos(session *S, const char *val, char *note, size_t cap) {
    int bos = !strcmp(val, "on") ? 1 : !strcmp(val, "off") ? 0 : !strcmp(val, "auto") ? -1 : -2;
    if (bos == -2) return ms_seterr("bos takes on, off or auto, not '%s' (set bos)", val);
    if (bos == 1 && S->has_model && S->model.c.bos_id < 0)
        return ms_seterr("the model has no beginning-of-text token; bos on cannot be honoured (set bos)");
    int was = S->bos;
    S->bos = bos;
    S->models_gen++; /* classifiers learned rows computed with the old setting */
    if (S->has_model && S->model.tok && S->prompt) { /* the prompt's tokens change */
        char *text = xstrdup(S->prompt);
        int rc = sess_set_prompt(S, text, "set bos");
        free(text);
        if (rc) return S->bos = was, -1;
    }
    return 0;
}

static int set_eos(session *S, const char *val, char *note, size_t cap) {
    if (strcmp(val, "stop") && strcmp(val, "ignore")) return ms_seterr("eos takes stop or ignore, not '%s' (set eos)", val);
    bool stop = !strcmp(val, "stop");
    if (stop && S->has_model && S->model.c.eos_id < 0)
        return ms_seterr("the model has no end-of-text token; gen always runs its N tokens (set eos)");
    S->stop_at_eos = stop;
    return 0;
}

static int set_json(session *S, const char *val, char *note, size_t cap) {
    if (strcmp(val, "on") && strcmp(val, "off")) return ms_seterr("json takes on or off, not '%s' (set json)", val);
    S->json = !strcmp(val, "on");
    return 0;
}

/* What a projection at the default u 0.5 spends with the session's solver
 * and budget, when that is not simply the budget (or always, for 0). */
static void evals_note(const session *S, bool always, char *note, size_t cap) {
    const glp_ode ref = {GLP_EULER, 0, 1};
    int budget = S->glp_ode.evals ? S->glp_ode.evals : glp_project_evals(0.5f, 20, &ref);
    int spent = glp_project_evals(0.5f, 20, &S->glp_ode), o = 0;
    if (always) o = snprintf(note, cap, "the reference budget of %d denoiser evaluations per steered token", budget);
    if (spent != budget && o >= 0 && (size_t)o < cap)
        snprintf(note + o, cap - (size_t)o, "%s%s spends %d%s: whole steps only", o ? "; " : "",
                 glp_solver_name(S->glp_ode.solver), spent, o ? "" : " denoiser evaluations per steered token");
}

static int set_glp_sampler(session *S, const char *val, char *note, size_t cap) {
    if (glp_solver_parse(val, &S->glp_ode.solver, "set glp_sampler")) return -1;
    evals_note(S, false, note, cap);
    return 0;
}

static int set_glp_evals(session *S, const char *val, char *note, size_t cap) {
    long i;
    if (cmd_parse_int(val, 0, 10000, &i, "set glp_evals")) return -1;
    S->glp_ode.evals = (int)i;
    evals_note(S, i == 0, note, cap);
    return 0;
}

static int set_glp_rho(session *S, const char *val, char *note, size_t cap) {
    (void)note, (void)cap;
    return glp_rho_parse(val, &S->glp_ode.rho, "set glp_rho");
}

static int set_glp_dtype(session *S, const char *val, char *note, size_t cap) {
    if (strcmp(val, "bf16") && strcmp(val, "f32")) return ms_seterr("glp_dtype takes bf16 or f32, not '%s' (set glp_dtype)", val);
    bool bf16 = !strcmp(val, "bf16"), was = S->glp_bf16;
    S->glp_bf16 = bf16;
    if (S->has_glp && bf16 && glp_hold_bf16(&S->glp)) return S->glp_bf16 = was, -1;
    if (S->has_glp && !bf16 && S->glp.half) { /* the f32 weights were released: reload them */
        char *path = xstrdup(S->glp_path);
        int rc = sess_load_glp(S, path);
        free(path);
        if (rc) return S->glp_bf16 = was, -1;
    }
    return 0;
}

static int set_cache(session *S, const char *val, char *note, size_t cap) {
    if (strcmp(val, "on") && strcmp(val, "off")) return ms_seterr("cache takes on or off, not '%s' (set cache)", val);
    char dir[4096];
    const char *env = getenv("METASCOPE_CACHE");
    if (!strcmp(val, "on") && !statcache_dir(dir, sizeof dir)) {
        if (env && (!strcmp(env, "off") || !strcmp(env, "0")))
            return ms_seterr("METASCOPE_CACHE=%s keeps the cache off for this process (set cache)", env);
        return ms_seterr("neither $XDG_CACHE_HOME nor $HOME names a folder for the cache (set cache)");
    }
    S->cache_off = !strcmp(val, "on") ? false : true;
    return 0;
}

static int set_matmul_precision(session *S, const char *val, char *note, size_t cap) {
    (void)S;
    wm_precision p;
    if (wm_precision_parse(val, &p))
        return ms_seterr("matmul_precision takes highest or medium, not '%s' (set matmul_precision)", val);
    wmat_set_precision(p);
    if (p == WM_PREC_MEDIUM && !wmat_bf16_dot_available())
        snprintf(note, cap, "this CPU has no AVX-512 BF16 dot product: products stay exact");
    return 0;
}

static const struct {
    const char *key;
    setter fn;
} SETTERS[] = {
    {"temperature", set_temperature}, {"top_k", set_top_k},   {"top_p", set_top_p},
    {"seed", set_seed},               {"gen", set_gen},       {"threads", set_threads},
    {"ctx", set_ctx},                 {"bos", set_bos},       {"eos", set_eos},
    {"json", set_json},               {"glp_sampler", set_glp_sampler}, {"glp_evals", set_glp_evals},
    {"glp_rho", set_glp_rho},
    {"glp_dtype", set_glp_dtype},     {"cache", set_cache},   {"matmul_precision", set_matmul_precision},
};

int cmd_set(session *S, words *w) {
    if (w->argc != 3) return ms_seterr("usage: set KEY VALUE; keys: " KEYS " (set)");
    const char *key = w->argv[1], *val = w->argv[2];
    setter fn = NULL;
    for (size_t i = 0; i < sizeof SETTERS / sizeof *SETTERS; i++)
        if (!strcmp(key, SETTERS[i].key)) fn = SETTERS[i].fn;
    if (!fn) return ms_seterr("unknown setting '%s'; the keys are " KEYS " (set)", key);
    char note[160] = "";
    if (fn(S, val, note, sizeof note)) return -1;
    if (S->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "cmd", json_object_new_string("set"));
        json_object_object_add(o, "key", json_object_new_string(key));
        json_object_object_add(o, "value", json_object_new_string(val));
        if (note[0]) json_object_object_add(o, "note", json_object_new_string(note));
        cmd_emit_json(S, o);
    } else sess_printf(S, "%s = %s%s%s%s\n", key, val, note[0] ? " (" : "", note, note[0] ? ")" : "");
    return 0;
}
