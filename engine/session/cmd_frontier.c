/* cmd_frontier.c — the steering frontier sweep (see cmd_frontier.h): options,
 * prefixes, steering directions, the continuations and their statistics
 * (eval/frontier.c). Printing and the CSV are in cmd_frontier_out.c. */
#include "cmd_frontier.h"
#include "cmd.h"
#include "cmd_frontier_int.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DM_DOCS 256    /* documents per side of a DiffMean, as 'vec' */
#define DM_TOKENS 128  /* tokens kept per document, as 'vec' */
#define BOOT_SEED 0x626f6f74ull

/* ------------------------------------------------------------ options */

/* Comma-separated numbers into x[cap]; returns the count or -1. */
static int parse_list(const char *s, double *x, int cap, double lo, double hi, const char *cmd) {
    char *copy = xstrdup(s), *save = NULL;
    int n = 0, rc = 0;
    for (char *t = strtok_r(copy, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
        if (n == cap) rc = ms_seterr("at most %d alphas (%s)", cap, cmd);
        else rc = cmd_parse_float(t, lo, hi, &x[n++], cmd);
    }
    free(copy);
    return rc ? -1 : n;
}

static int parse_concepts(const char *s, frontier_opts *o, const char *cmd) {
    char *copy = xstrdup(s), *save = NULL;
    int rc = 0;
    o->n_concepts = 0;
    for (char *t = strtok_r(copy, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
        if (o->n_concepts == FR_MAX_CONCEPTS) rc = ms_seterr("at most %d concepts (%s)", FR_MAX_CONCEPTS, cmd);
        else snprintf(o->concepts[o->n_concepts++], sizeof o->concepts[0], "%s", t);
    }
    free(copy);
    if (!rc && !o->n_concepts) rc = ms_seterr("--concepts needs at least one category (%s)", cmd);
    return rc;
}

static int parse_opt(const char *name, const char *val, frontier_opts *o, const char *cmd) {
    long x;
    if (!strcmp(name, "--concepts")) return parse_concepts(val, o, cmd);
    if (!strcmp(name, "--alphas")) return (o->n_alphas = parse_list(val, o->alphas, FR_MAX_ALPHAS, -1000, 1000, cmd)) < 0;
    if (!strcmp(name, "--out")) {
        if (strlen(val) >= sizeof o->out) return ms_seterr("--out path too long (%s)", cmd);
        snprintf(o->out, sizeof o->out, "%s", val);
        return 0;
    }
    int *dst = !strcmp(name, "--prefixes") ? &o->prefixes : !strcmp(name, "--tokens") ? &o->tokens
             : !strcmp(name, "--prefix-tokens") ? &o->prefix_tokens : !strcmp(name, "--boot") ? &o->boot : NULL;
    if (!dst) return ms_seterr("unknown option '%s' (%s)", name, cmd);
    if (cmd_parse_int(val, dst == &o->boot ? 0 : 1, 100000, &x, cmd)) return -1;
    *dst = (int)x;
    return 0;
}

static int parse_opts(int argc, char **argv, frontier_opts *o) {
    *o = (frontier_opts){.prefixes = 16, .tokens = 24, .prefix_tokens = 8, .boot = 1000};
    static const double ALPHAS[] = {0, 0.25, 0.5, 0.75, 1, 1.5};
    o->n_alphas = (int)(sizeof ALPHAS / sizeof *ALPHAS);
    memcpy(o->alphas, ALPHAS, sizeof ALPHAS);
    parse_concepts("noun.food,noun.animal,noun.artifact", o, argv[0]);
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc) return ms_seterr("%s needs a value (%s)", argv[i], argv[0]);
        if (parse_opt(argv[i], argv[i + 1], o, argv[0])) return -1;
    }
    if (!o->n_alphas) return ms_seterr("--alphas needs at least one number (%s)", argv[0]);
    return 0;
}

/* ------------------------------------------------------------ prefixes */

static bool is_concept(const char *cat, char cats[][64], int n) {
    for (int i = 0; i < n; i++)
        if (cat && !strcmp(cat, cats[i])) return true;
    return false;
}

/* N prefixes from the test split (documents outside the concepts' categories,
 * seeded order, long enough), BOS first when the session uses it. */
static int pick_prefixes(fr_run *R, char cats[][64], int ncat) {
    session *S = R->S;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/corpus", ms_assets_dir());
    corpus_split test;
    if (corpus_load(&test, dir, "test")) return ms_seterr("%s (%s)", ms_geterr(), R->cmd);
    int *cand = xmalloc(sizeof(int) * (size_t)(test.n + 1)), n = 0, P = R->o->prefix_tokens, rc = 0;
    for (int i = 0; i < test.n; i++)
        if (!is_concept(test.docs[i].category, cats, ncat)) cand[n++] = i;
    rng_t r;
    rng_seed(&r, S->seed ^ 0x707265666978ull);
    R->pre = xcalloc((size_t)R->o->prefixes, sizeof *R->pre);
    for (int i = 0; i < n && R->n_pre < R->o->prefixes && !rc; i++) {
        int j = i + (int)rng_below(&r, (uint64_t)(n - i)), t = cand[i], *ids, k;
        cand[i] = cand[j], cand[j] = t;
        const corpus_doc *d = &test.docs[cand[i]];
        if ((rc = tok_encode(S->model.tok, d->text, d->len, &ids, &k))) break;
        if (k >= P) {
            int b = sess_use_bos(S) ? 1 : 0, *p = xmalloc(sizeof(int) * (size_t)(P + b));
            if (b) p[0] = S->model.c.bos_id;
            memcpy(p + b, ids, sizeof(int) * (size_t)P);
            R->pre[R->n_pre++] = (fr_prefix){p, P + b};
        }
        free(ids);
    }
    free(cand);
    corpus_free(&test);
    if (rc) return ms_seterr("%s (%s)", ms_geterr(), R->cmd);
    if (R->n_pre < R->o->prefixes)
        return ms_seterr("only %d test documents outside the concepts have %d tokens (%s)", R->n_pre, P, R->cmd);
    return 0;
}

/* ------------------------------------------------------------ directions */

/* The concept's DiffMean at R->layer (same documents and seeds as 'vec'). */
static int diffmean(fr_run *R, const corpus_split *c, const char *cat, steer_vec *v) {
    session *S = R->S;
    steer_runner r = {&S->model, &S->st, R->layer, sess_use_bos(S) ? S->model.c.bos_id : -1, DM_TOKENS, S->cancel};
    int d = S->model.c.d_model;
    double *a = xmalloc(sizeof(double) * (size_t)d), *b = xmalloc(sizeof(double) * (size_t)d);
    int rc = steer_side_mean(&r, c, cat, true, NULL, DM_DOCS, S->seed ^ 0x706f73ull, a, &v->pos_docs, R->cmd) ||
             steer_side_mean(&r, c, cat, false, NULL, DM_DOCS, S->seed ^ 0x6e6567ull, b, &v->neg_docs, R->cmd) ||
             steer_set_direction(v, a, b, d);
    free(a), free(b);
    v->layer = R->layer;
    snprintf(v->kind, sizeof v->kind, "diffmean");
    snprintf(v->pos, sizeof v->pos, "%.63s", cat);
    snprintf(v->concept, sizeof v->concept, "%.63s", cat);
    return rc;
}

/* The SAE latent whose decoder row has the largest cosine with dir; its unit
 * row into v. */
static int sae_latent(const sae_model *m, const float *dir, steer_vec *v, double *cosine) {
    int d = m->c.d_in, best = -1;
    double bc = -2;
    for (int j = 0; j < m->c.n_latents; j++) {
        const float *w = m->p.W_dec + (size_t)j * d;
        double dot = 0, ss = 0;
        for (int i = 0; i < d; i++) dot += (double)w[i] * dir[i], ss += (double)w[i] * w[i];
        if (ss > 0 && dot / sqrt(ss) > bc) bc = dot / sqrt(ss), best = j;
    }
    if (best < 0) return ms_seterr("the SAE has no nonzero decoder row (frontier)");
    const float *w = m->p.W_dec + (size_t)best * d;
    double ss = 0;
    for (int i = 0; i < d; i++) ss += (double)w[i] * w[i];
    v->d = d;
    v->v = xmalloc(sizeof(float) * (size_t)d);
    for (int i = 0; i < d; i++) v->v[i] = (float)(w[i] / sqrt(ss));
    v->raw_norm = sqrt(ss);
    snprintf(v->kind, sizeof v->kind, "sae");
    *cosine = bc;
    return best;
}

/* ------------------------------------------------------------ points */

/* One continuation of prefix p: fluency and decoded text (*text malloc'd). */
static int continuation(fr_run *R, int p, const sess_steer *sp, double *fl, char **text, size_t *len) {
    session *S = R->S;
    int k = 0;
    S->prompt_ids = R->pre[p].ids, S->n_prompt = R->pre[p].n;
    if (cmd_cancelled(S)) return ms_seterr("cancelled (%s)", R->cmd);
    if (sess_generate_steered(S, R->o->tokens, R->gen, &k, false, sp, NULL, NULL) ||
        tok_decode(S->model.tok, R->gen, k, text, len) || cmd_fluency(S, R->gen, k, fl))
        return ms_seterr("%s (%s)", ms_geterr(), R->cmd);
    if (R->progress) R->progress(R->progress_ctx, ++R->done, R->total);
    R->generations++;
    return 0;
}

/* Continuations of every prefix for one (vector, alpha, method) into the
 * run's scratch texts; alpha 0 steers nothing, so its continuations are
 * shared by every concept and source (cached per method). */
static int point_texts(fr_run *R, int vec, double alpha, int m, char ***texts, size_t **lens, double **fl) {
    fr_cache *z = &R->zero[m];
    if (alpha == 0 && z->ready) {
        *texts = z->text, *lens = z->len, *fl = z->fl;
        R->done += R->n_pre;
        if (R->progress) R->progress(R->progress_ctx, R->done, R->total);
        return 0;
    }
    fr_cache *c = alpha == 0 ? z : &R->scratch;
    for (int p = 0; p < R->n_pre; p++) free(c->text[p]), c->text[p] = NULL;
    float u;
    frontier_method(m, &u);
    sess_steer sp = {vec, alpha, m > 0, u, 20};
    for (int p = 0; p < R->n_pre; p++)
        if (continuation(R, p, &sp, &c->fl[p], &c->text[p], &c->len[p])) return -1;
    c->ready = alpha == 0;
    *texts = c->text, *lens = c->len, *fl = c->fl;
    return 0;
}

static int run_point(fr_run *R, frontier_block *B, int vec, const lexicon *lex, int a, int m) {
    char **texts;
    size_t *lens;
    double *fl, *co = xmalloc(sizeof(double) * (size_t)R->n_pre);
    if (point_texts(R, vec, R->o->alphas[a], m, &texts, &lens, &fl)) return free(co), -1;
    for (int p = 0; p < R->n_pre; p++) co[p] = lex_score(lex, texts[p], lens[p], NULL);
    int i = a * R->res->n_methods + m;
    /* One bootstrap seed for every point: the same resampled prefix sets. */
    fr_bootstrap_mean(fl, R->n_pre, R->o->boot, BOOT_SEED, 0.95, &B->fl[i].mean, &B->fl[i].lo, &B->fl[i].hi);
    fr_bootstrap_mean(co, R->n_pre, R->o->boot, BOOT_SEED, 0.95, &B->co[i].mean, &B->co[i].lo, &B->co[i].hi);
    free(co);
    return 0;
}

/* Pareto marks over the whole block; each method's area over its span. */
static void block_stats(frontier_block *B, int na, int nm) {
    int n = na * nm;
    double *f = xmalloc(sizeof(double) * (size_t)n), *c = xmalloc(sizeof(double) * (size_t)n);
    B->f_lo = INFINITY, B->f_hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        f[i] = B->fl[i].mean, c[i] = B->co[i].mean;
        if (isfinite(f[i])) B->f_lo = fmin(B->f_lo, f[i]), B->f_hi = fmax(B->f_hi, f[i]);
    }
    fr_pareto(f, c, n, B->pareto);
    double *fm = xmalloc(sizeof(double) * (size_t)na), *cm = xmalloc(sizeof(double) * (size_t)na);
    for (int m = 0; m < nm; m++) {
        for (int a = 0; a < na; a++) fm[a] = f[a * nm + m], cm[a] = c[a * nm + m];
        B->area[m] = fr_area(fm, cm, na, B->f_lo, B->f_hi);
    }
    free(f), free(c), free(fm), free(cm);
}

static int run_block(fr_run *R, frontier_block *B, int vec, const lexicon *lex) {
    int na = R->o->n_alphas, nm = R->res->n_methods;
    B->fl = xcalloc((size_t)(na * nm), sizeof *B->fl);
    B->co = xcalloc((size_t)(na * nm), sizeof *B->co);
    B->pareto = xcalloc((size_t)(na * nm), sizeof *B->pareto);
    B->lex_words = lex->words.n;
    for (int a = 0; a < na; a++)
        for (int m = 0; m < nm; m++)
            if (run_point(R, B, vec, lex, a, m)) return -1;
    block_stats(B, na, nm);
    return 0;
}

/* ------------------------------------------------------------ the sweep */

static frontier_block *new_block(fr_run *R, const char *cat, const char *source) {
    frontier_result *r = R->res;
    r->blocks = xrealloc(r->blocks, sizeof *r->blocks * (size_t)(r->n_blocks + 1));
    frontier_block *B = &r->blocks[r->n_blocks++];
    memset(B, 0, sizeof *B);
    snprintf(B->concept, sizeof B->concept, "%s", cat);
    snprintf(B->source, sizeof B->source, "%s", source);
    return B;
}

/* Both sources of one concept; the vectors live in the session's list only
 * while they are used (a name with ':' no user vector can have). */
static int run_concept(fr_run *R, const corpus_split *c, const char *cat) {
    session *S = R->S;
    const lexicon *lex = sess_lexicon(S, cat, NULL, R->cmd);
    if (!lex) return -1;
    steer_vec v = {0};
    snprintf(v.name, sizeof v.name, "frontier:dm");
    if (diffmean(R, c, cat, &v)) return free(v.v), -1;
    int base = S->n_vecs, vi = (int)(sess_put_vec(S, &v) - S->vecs), rc = run_block(R, new_block(R, cat, "diffmean"), vi, lex);
    if (!rc && R->sae_ok) {
        steer_vec s = {.layer = R->layer};
        snprintf(s.name, sizeof s.name, "frontier:sae");
        double cosine = NAN;
        int j = sae_latent(&S->sae, S->vecs[vi].v, &s, &cosine);
        char src[32];
        snprintf(src, sizeof src, "sae:%d", j);
        rc = j < 0;
        if (!rc) {
            int si = (int)(sess_put_vec(S, &s) - S->vecs);
            frontier_block *B = new_block(R, cat, src);
            B->cosine = cosine;
            rc = run_block(R, B, si, lex);
        }
    }
    for (int i = base; i < S->n_vecs; i++) free(S->vecs[i].v);
    S->n_vecs = base;
    return rc;
}

static void free_cache(fr_cache *c, int n) {
    for (int p = 0; p < n; p++) free(c->text[p]);
    free(c->text), free(c->len), free(c->fl);
}

static void init_cache(fr_cache *c, int n) {
    *c = (fr_cache){xcalloc((size_t)n, sizeof(char *)), xcalloc((size_t)n, sizeof(size_t)),
                    xcalloc((size_t)n, sizeof(double)), false};
}

/* Resolves the concepts, sets the layer and methods, counts the work. */
static int plan(fr_run *R, const corpus_split *c, char cats[][64]) {
    session *S = R->S;
    frontier_result *r = R->res;
    for (int i = 0; i < R->o->n_concepts; i++) {
        const char *cat = lex_resolve_category(c, R->o->concepts[i], R->cmd);
        if (!cat) return -1;
        snprintf(cats[i], 64, "%s", cat);
    }
    r->layer = R->layer = S->has_glp ? sess_glp_layer(S) : S->layer;
    r->n_methods = S->has_glp ? FR_MAX_METHODS : 1;
    R->sae_ok = S->has_sae && S->sae.layer == R->layer;
    if (!S->has_glp) snprintf(r->note, sizeof r->note, "no GLP loaded: the +GLP methods are skipped");
    if (!S->has_sae) snprintf(r->note + strlen(r->note), sizeof r->note - strlen(r->note), "%sno SAE loaded: DiffMean only",
                              r->note[0] ? "; " : "");
    else if (!R->sae_ok)
        snprintf(r->note + strlen(r->note), sizeof r->note - strlen(r->note), "%sthe SAE reads layer %d, not %d: DiffMean only",
                 r->note[0] ? "; " : "", S->sae.layer, R->layer);
    R->total = R->o->n_concepts * (R->sae_ok ? 2 : 1) * R->o->n_alphas * r->n_methods * R->o->prefixes;
    return 0;
}

static int sweep(fr_run *R) {
    session *S = R->S;
    corpus_split *c;
    char cats[FR_MAX_CONCEPTS][64];
    double norm;
    if (sess_corpus(S, &c, R->cmd) || plan(R, c, cats) || sess_mean_norm(S, R->layer, &norm, R->cmd) ||
        pick_prefixes(R, cats, R->o->n_concepts))
        return -1;
    for (int i = 0; i < R->o->n_concepts; i++)
        if (run_concept(R, c, cats[i])) return -1;
    return 0;
}

/* Runs the sweep with greedy, full-length decoding and restores the
 * session's prompt, sampling settings and random stream afterwards. */
static int frontier_run(session *S, const frontier_opts *o, const char *cmd, frontier_result *res,
                        frontier_progress_fn progress, void *ctx) {
    fr_run R = {.S = S, .o = o, .cmd = cmd, .res = res, .progress = progress, .progress_ctx = ctx};
    R.gen = xmalloc(sizeof(int) * (size_t)o->tokens);
    for (int m = 0; m < FR_MAX_METHODS; m++) init_cache(&R.zero[m], o->prefixes);
    init_cache(&R.scratch, o->prefixes);
    int *ids = S->prompt_ids, n = S->n_prompt;
    sampler_cfg scfg = S->scfg;
    rng_t rng = S->rng;
    bool eos = S->stop_at_eos;
    S->scfg.temperature = 0, S->stop_at_eos = false;
    double t0 = ms_now();
    int rc = sweep(&R);
    res->seconds = ms_now() - t0;
    res->generations = R.generations;
    S->prompt_ids = ids, S->n_prompt = n, S->scfg = scfg, S->rng = rng, S->stop_at_eos = eos;
    for (int m = 0; m < FR_MAX_METHODS; m++) free_cache(&R.zero[m], o->prefixes);
    free_cache(&R.scratch, o->prefixes);
    for (int p = 0; p < R.n_pre; p++) free(R.pre[p].ids);
    free(R.pre), free(R.gen);
    return rc;
}

int frontier_exec(session *S, int argc, char **argv, frontier_progress_fn progress, void *ctx) {
    const char *cmd = argv[0];
    if (cmd_need_model(S, cmd)) return -1;
    frontier_result *r = xcalloc(1, sizeof *r);
    /* The output folder is made first: a long run must not fail at the end. */
    if (parse_opts(argc, argv, &r->o) || (r->o.out[0] && frontier_make_dir(r->o.out)) ||
        frontier_run(S, &r->o, cmd, r, progress, ctx) || (r->o.out[0] && frontier_write_csv(r, cmd))) {
        frontier_free(r);
        return -1;
    }
    frontier_print(S, r);
    frontier_free(S->frontier_last);
    S->frontier_last = r;
    return 0;
}

/* The session's progress hook, as lines. */
static void progress_line(void *ctx, int done, int total) {
    session *S = ctx;
    char line[64];
    snprintf(line, sizeof line, "frontier: %d/%d continuations", done, total);
    S->progress(S->progress_ctx, line);
}

int cmd_frontier(session *S, words *w) { return frontier_exec(S, w->argc, w->argv, S->progress ? progress_line : NULL, S); }
