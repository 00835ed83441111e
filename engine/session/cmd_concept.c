/* cmd_concept.c — named token-label concepts, the active one and its
 * classifier (see cmd_concept.h; the computing is in tlabel.h and
 * tconcept.h). */
#include "cmd_concept.h"
#include "cmd_label.h"
#include "tconcept.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_DOCS 32 /* per pool: documents of the category and as many siblings, or twice as many of any */
#define DEFAULT_TOP 20

typedef struct sess_concept {
    char name[32];
    tl_concept c;
    int layer;          /* its resid units and residual classifier */
    tc_opts o;          /* o.category unused: category[] */
    char category[64];  /* the truth (--auto or --category), "" for none */
    tc_model m;         /* valid when trained */
    bool trained;
    unsigned gen;       /* S->models_gen when trained */
    char why[256];      /* why training failed, until it is asked again */
} named_concept;

static const char *const RESERVED[] = {"off", "top", "export", NULL};

static named_concept *find(session *S, const char *name) {
    for (int i = 0; i < S->n_concepts; i++)
        if (!strcmp(S->concepts[i].name, name)) return &S->concepts[i];
    return NULL;
}

/* The active concept; a classifier trained for other models is dropped. */
static named_concept *active(session *S) {
    if (S->concept_on < 0 || S->concept_on >= S->n_concepts) return NULL;
    named_concept *nc = &S->concepts[S->concept_on];
    if (nc->trained && nc->gen != S->models_gen) tc_free(&nc->m), nc->trained = false, nc->why[0] = 0;
    return nc;
}

static tl_models models_at(session *S, int layer) {
    tl_models M = sess_label_models(S);
    M.layer = layer;
    return M;
}

void sess_free_concepts(session *S) {
    for (int i = 0; i < S->n_concepts; i++)
        if (S->concepts[i].trained) tc_free(&S->concepts[i].m);
    free(S->concepts);
    S->concepts = NULL, S->n_concepts = 0, S->concept_on = -1;
}

/* ------------------------------------------------------------ training */

typedef struct {
    session *S;
    const char *name;
} say_ctx;

static void say(void *ctx, const char *line) {
    say_ctx *c = ctx;
    if (!c->S->progress) return;
    char buf[300];
    snprintf(buf, sizeof buf, "concept %s: %s", c->name, line);
    c->S->progress(c->S->progress_ctx, buf);
}

int concept_train(session *S, const char *cmd) {
    named_concept *nc = active(S);
    if (!nc || nc->trained) return 0;
    corpus_split *tr, *te;
    tl_models M = models_at(S, nc->layer);
    tc_opts o = nc->o;
    o.category = nc->category[0] ? nc->category : NULL, o.seed = S->seed;
    say_ctx sc = {S, nc->name};
    int rc = cmd_need_model(S, cmd) || sess_corpus(S, &tr, cmd) || sess_corpus_test(S, &te, cmd) ||
             tl_models_check(&M, &nc->c, cmd) || tc_train(&nc->m, &M, tr, te, &nc->c, &o, say, &sc) ? -1 : 0;
    if (rc && cmd_cancelled(S)) {
        snprintf(nc->why, sizeof nc->why, "training cancelled; 'concept %s' trains it", nc->name);
        return ms_seterr("cancelled (%s)", cmd);
    }
    if (rc) snprintf(nc->why, sizeof nc->why, "%s", ms_geterr());
    else nc->trained = true, nc->gen = S->models_gen, nc->why[0] = 0;
    return rc;
}

/* ------------------------------------------------------------ front ends */

const char *concept_name(const session *S, int i) {
    return i >= 0 && i < S->n_concepts ? S->concepts[i].name : NULL;
}

bool concept_active(session *S, concept_info *ci) {
    named_concept *nc = active(S);
    if (!nc) return false;
    memset(ci, 0, sizeof *ci);
    snprintf(ci->name, sizeof ci->name, "%s", nc->name);
    snprintf(ci->category, sizeof ci->category, "%s", nc->category);
    tl_concept_str(&nc->c, ci->units, sizeof ci->units);
    snprintf(ci->why, sizeof ci->why, "%s", nc->why);
    ci->trained = nc->trained;
    if (!nc->trained) return true;
    const tc_model *m = &nc->m;
    tc_clf_name(m, m->o.features, ci->clf, sizeof ci->clf);
    ci->auc = m->auc[m->o.features], ci->f1 = m->f1[m->o.features];
    ci->train_tok = m->pool[TC_TRAIN].n_tok, ci->train_pos = m->n_pos[TC_TRAIN];
    ci->test_tok = m->pool[TC_TEST].n_tok, ci->test_pos = m->n_pos[TC_TEST];
    ci->seconds = m->seconds;
    return true;
}

/* The prompt as a one-document split and pool (all its tokens). */
typedef struct {
    corpus_doc d;
    corpus_split s;
    tl_pool p;
} prompt_pool;

static int make_prompt_pool(session *S, prompt_pool *pp, const char *cmd) {
    if (!S->prompt || !S->n_prompt) return ms_seterr("no prompt; use 'prompt TEXT' (%s)", cmd);
    pp->d = (corpus_doc){S->prompt, strlen(S->prompt), NULL, NULL};
    pp->s = (corpus_split){&pp->d, 1, pp->d.len};
    return tl_pool_text(&pp->p, &pp->d, S->model.tok, S->n_prompt, cmd);
}

/* Labels (and scores when trained) of the prompt pool's tokens. */
static int prompt_labels(session *S, named_concept *nc, prompt_pool *pp, uint8_t *lab, float *score) {
    tl_models M = models_at(S, nc->layer);
    if (nc->trained) return tc_score_pool(&nc->m, &M, &pp->p, &pp->s, lab, score);
    float *V = tl_concept_values(&M, &pp->p, &nc->c);
    if (!V) return -1;
    tl_label(&nc->c, V, &pp->p, &pp->s, nc->o.expand, nc->o.window, lab);
    for (int t = 0; t < pp->p.n_tok; t++) score[t] = NAN;
    free(V);
    return 0;
}

int concept_prompt(session *S, int8_t *lab, float *score, const char *cmd) {
    named_concept *nc = active(S);
    for (int t = 0; t < S->n_prompt; t++) lab[t] = -1, score[t] = NAN;
    if (!nc) return ms_seterr("no active concept (%s)", cmd);
    prompt_pool pp;
    if (cmd_need_model(S, cmd) || make_prompt_pool(S, &pp, cmd)) return -1;
    tl_models M = models_at(S, nc->layer);
    int n = pp.p.n_tok, b = sess_use_bos(S) ? 1 : 0, rc = tl_models_check(&M, &nc->c, cmd);
    uint8_t *l = xmalloc((size_t)n + 1);
    float *s = xmalloc(sizeof(float) * (size_t)n + 1);
    if (!rc) rc = prompt_labels(S, nc, &pp, l, s);
    for (int t = 0; !rc && t < n && b + t < S->n_prompt; t++) lab[b + t] = (int8_t)l[t], score[b + t] = s[t];
    free(l), free(s);
    tl_pool_free(&pp.p);
    return rc;
}

int concept_n_hits(session *S) {
    named_concept *nc = active(S);
    return nc && nc->trained ? tc_n_hits(&nc->m) : 0;
}

int concept_hit_get(session *S, int i, concept_hit *h) {
    named_concept *nc = active(S);
    tc_hit x;
    if (!nc || !nc->trained || tc_hit_at(&nc->m, i, CONCEPT_BEFORE, CONCEPT_AFTER, &x)) return -1;
    const tc_model *m = &nc->m;
    const tl_pool *p = &m->pool[TC_TEST];
    h->doc = p->doc[x.di], h->pos = p->pos[x.t];
    h->score = m->score[m->o.features][x.t], h->label = m->lab[TC_TEST][x.t];
    h->n = x.w1 - x.w0, h->peak = x.t - x.w0;
    for (int k = 0; k < h->n; k++) {
        h->ids[k] = p->ids[x.w0 + k];
        h->scores[k] = m->score[m->o.features][x.w0 + k];
        h->labels[k] = m->lab[TC_TEST][x.w0 + k];
    }
    return 0;
}

char *concept_hit_text(session *S, int i, int *pos) {
    named_concept *nc = active(S);
    tc_hit x;
    if (!nc || !nc->trained || !S->corpus_test || tc_hit_at(&nc->m, i, CONCEPT_BEFORE, CONCEPT_AFTER, &x)) return NULL;
    const tl_pool *p = &nc->m.pool[TC_TEST];
    *pos = p->pos[x.t];
    return xstrndup(S->corpus_test->docs[p->doc[x.di]].text, (size_t)p->end[x.w1 - 1]);
}

/* ------------------------------------------------------------ printing */

static void summary_text(session *S, const named_concept *nc) {
    const tc_model *m = &nc->m;
    char name[2][32];
    for (int k = 0; k < TL_CLF_N; k++) tc_clf_name(m, k, name[k], sizeof name[k]);
    int f = m->o.features, g = 1 - f;
    sess_printf(S, "classifier %s: AUC %.3f, F1 %.3f against the labels of %d held-out tokens (%d positive); %s: "
                "AUC %.3f, F1 %.3f\n", name[f], m->auc[f], m->f1[f], m->pool[TC_TEST].n_tok, m->n_pos[TC_TEST], name[g],
                m->auc[g], m->f1[g]);
    sess_printf(S, "trained on %d tokens (%d positive) of %d train-split documents (%s), held out %d test-split "
                "documents; %.1f s\n", m->pool[TC_TRAIN].n_tok, m->n_pos[TC_TRAIN], m->pool[TC_TRAIN].n_docs,
                nc->category[0] ? nc->category : "any category", m->pool[TC_TEST].n_docs, m->seconds);
    if (nc->category[0])
        sess_printf(S, "against %s documents (held out): labels F1 %.3f, classifier accuracy %.3f\n", nc->category,
                    m->lab_f1_truth, m->acc_truth[f]);
}

static json_object *summary_json(const named_concept *nc) {
    const tc_model *m = &nc->m;
    json_object *o = json_object_new_object();
    char name[32];
    tc_clf_name(m, m->o.features, name, sizeof name);
    json_object_object_add(o, "shown", json_object_new_string(name));
    for (int k = 0; k < TL_CLF_N; k++) {
        json_object *c = json_object_new_object();
        tc_clf_name(m, k, name, sizeof name);
        json_object_object_add(c, "name", json_object_new_string(name));
        json_object_object_add(c, "auc", cmd_jdouble(m->auc[k]));
        json_object_object_add(c, "f1", cmd_jdouble(m->f1[k]));
        json_object_object_add(c, "acc_truth", cmd_jdouble(m->acc_truth[k]));
        json_object_object_add(o, TL_CLF_NAME[k], c);
    }
    json_object_object_add(o, "train_tokens", json_object_new_int(m->pool[TC_TRAIN].n_tok));
    json_object_object_add(o, "train_positive", json_object_new_int(m->n_pos[TC_TRAIN]));
    json_object_object_add(o, "train_docs", json_object_new_int(m->pool[TC_TRAIN].n_docs));
    json_object_object_add(o, "heldout_tokens", json_object_new_int(m->pool[TC_TEST].n_tok));
    json_object_object_add(o, "heldout_positive", json_object_new_int(m->n_pos[TC_TEST]));
    json_object_object_add(o, "heldout_docs", json_object_new_int(m->pool[TC_TEST].n_docs));
    json_object_object_add(o, "labels_f1_truth", cmd_jdouble(m->lab_f1_truth));
    json_object_object_add(o, "seconds", cmd_jdouble(m->seconds));
    return o;
}

static json_object *concept_json(const named_concept *nc, const char *what) {
    char units[1024], ex[32];
    tl_concept_str(&nc->c, units, sizeof units);
    tc_expand_str(nc->o.expand, nc->o.window, ex, sizeof ex);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "cmd", json_object_new_string("concept"));
    if (what) json_object_object_add(o, "what", json_object_new_string(what));
    json_object_object_add(o, "name", json_object_new_string(nc->name));
    json_object_object_add(o, "units", json_object_new_string(units));
    json_object_object_add(o, "layer", json_object_new_int(nc->layer));
    json_object_object_add(o, "expand", json_object_new_string(ex));
    json_object_object_add(o, "category", nc->category[0] ? json_object_new_string(nc->category) : NULL);
    json_object_object_add(o, "trained", json_object_new_boolean(nc->trained));
    return o;
}

/* ------------------------------------------------------------ list, off */

static int list(session *S) {
    named_concept *on = active(S);
    if (S->json) {
        json_object *o = json_object_new_object(), *arr = json_object_new_array();
        json_object_object_add(o, "cmd", json_object_new_string("concept"));
        for (int i = 0; i < S->n_concepts; i++) {
            json_object *e = concept_json(&S->concepts[i], NULL);
            json_object_object_del(e, "cmd");
            json_object_object_add(e, "active", json_object_new_boolean(&S->concepts[i] == on));
            json_object_array_add(arr, e);
        }
        json_object_object_add(o, "concepts", arr);
        json_object_object_add(o, "active", on ? json_object_new_string(on->name) : NULL);
        cmd_emit_json(S, o);
        return 0;
    }
    for (int i = 0; i < S->n_concepts; i++) {
        const named_concept *nc = &S->concepts[i];
        char units[1024], st[96] = "";
        tl_concept_str(&nc->c, units, sizeof units);
        if (nc->trained) {
            char clf[32];
            tc_clf_name(&nc->m, nc->m.o.features, clf, sizeof clf);
            snprintf(st, sizeof st, "  [%s AUC %.3f]", clf, nc->m.auc[nc->m.o.features]);
        }
        sess_printf(S, "%c %-16s %s%s%s%s\n", nc == on ? '*' : ' ', nc->name, units, nc->category[0] ? "  truth " : "",
                    nc->category, st);
    }
    if (!S->n_concepts) sess_printf(S, "no concepts; define one with 'concept NAME sae:18,meta:1:7>0.5'\n");
    else if (!on) sess_printf(S, "no active concept; 'concept NAME' activates one\n");
    return 0;
}

static int off(session *S) {
    S->concept_on = -1;
    if (!S->json) return sess_printf(S, "no active concept\n"), 0;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "cmd", json_object_new_string("concept"));
    json_object_object_add(o, "active", NULL);
    cmd_emit_json(S, o);
    return 0;
}

/* ------------------------------------------------------------ define */

typedef struct {
    const char *units, *auto_cat, *category;
    int family, k, docs, expand, window, radius, layer, features;
} concept_args;

static int parse_int_opt(session *S, const char *o, const char *v, concept_args *a) {
    long x;
    int hi = !strcmp(o, "--k") ? TL_MAX_UNITS : !strcmp(o, "--docs") ? 2000 : !strcmp(o, "--radius") ? 8
           : S->model.c.n_layers - 1;
    if (cmd_parse_int(v, !strcmp(o, "--k") || !strcmp(o, "--docs") ? 1 : 0, hi, &x, "concept")) return -1;
    *(!strcmp(o, "--k") ? &a->k : !strcmp(o, "--docs") ? &a->docs : !strcmp(o, "--radius") ? &a->radius : &a->layer) = (int)x;
    return 0;
}

static int parse_define(session *S, words *w, int first, concept_args *a) {
    *a = (concept_args){.family = PF_SAE, .k = 1, .docs = DEFAULT_DOCS, .radius = 1, .layer = S->layer,
                        .features = TL_CLF_RESID};
    for (int i = first; i < w->argc; i++) {
        const char *o = w->argv[i];
        if (o[0] != '-' || o[1] != '-') {
            if (a->units) return ms_seterr("unexpected '%s'; options start with -- (concept)", o);
            a->units = o;
            continue;
        }
        if (i + 1 >= w->argc) return ms_seterr("option '%s' needs a value (concept)", o);
        const char *v = w->argv[++i];
        unsigned mask;
        if (!strcmp(o, "--auto")) a->auto_cat = v;
        else if (!strcmp(o, "--category")) a->category = v;
        else if (!strcmp(o, "--expand")) {
            if (label_parse_expand(v, &a->expand, &a->window, "concept")) return -1;
        } else if (!strcmp(o, "--family")) {
            if (probe_parse_units(v, &mask, "concept")) return -1;
            if (mask & (mask - 1)) return ms_seterr("--family takes one of meta, sae, resid, mlp (concept)");
            for (int f = 0; f < PF_N; f++)
                if (mask >> f & 1) a->family = f;
        } else if (!strcmp(o, "--features")) {
            if (strcmp(v, "resid") && strcmp(v, "embed")) return ms_seterr("--features takes resid or embed (concept)");
            a->features = !strcmp(v, "resid") ? TL_CLF_RESID : TL_CLF_EMBED;
        } else if (!strcmp(o, "--k") || !strcmp(o, "--docs") || !strcmp(o, "--radius") || !strcmp(o, "--layer")) {
            if (parse_int_opt(S, o, v, a)) return -1;
        } else return ms_seterr("unknown option '%s' (concept)", o);
    }
    if (!!a->units == !!a->auto_cat)
        return ms_seterr("give UNITS or --auto CATEGORY%s (concept)", a->units ? ", not both" : "");
    return 0;
}

static int check_name(const char *name, bool from_units) {
    if (strlen(name) >= sizeof(((named_concept *)0)->name))
        return ms_seterr("concept name '%.40s...' too long; name it: concept NAME UNITS (concept)", name);
    if (!from_units && (strpbrk(name, ":,>") || name[0] == '-'))
        return ms_seterr("a concept name has no ':', ',' or '>' (those are units) and does not start with '-' "
                         "(concept)");
    return 0;
}

static void say_finding(session *S, const char *name, const concept_args *a, const char *cat) {
    if (!S->progress) return;
    char line[256];
    snprintf(line, sizeof line, "concept %s: finding %s units for %s on %d+%d train documents", name,
             PROBE_FAMILY[a->family], cat, a->docs, a->docs);
    S->progress(S->progress_ctx, line);
}

/* Units given, or found for a category; the truth category (--auto's, or
 * --category) into cat[64]. */
static int define_units(session *S, const char *name, const concept_args *a, tl_concept *c, char *cat) {
    tl_models M = models_at(S, a->layer);
    cat[0] = 0;
    if (a->units && (tl_parse_concept(a->units, c, "concept") || tl_models_check(&M, c, "concept"))) return -1;
    const char *want = a->auto_cat ? a->auto_cat : a->category;
    if (!want) return 0;
    corpus_split *train;
    if (sess_corpus(S, &train, "concept")) return -1;
    const char *r = lex_resolve_category(train, want, "concept");
    if (!r) return -1;
    snprintf(cat, 64, "%s", r);
    if (!a->auto_cat) return 0;
    say_finding(S, name, a, cat);
    return tl_auto_concept(&M, train, cat, a->family, a->k, a->docs, S->seed, c, "concept");
}

static int define(session *S, const char *name, words *w, int first, bool from_units) {
    concept_args a;
    tl_concept c;
    char cat[64];
    bool unnamed = !name; /* 'concept --auto CAT': named after its category */
    if ((!unnamed && check_name(name, from_units)) || parse_define(S, w, first, &a)) return -1;
    if (define_units(S, unnamed ? (a.auto_cat ? a.auto_cat : a.units) : name, &a, &c, cat)) return -1;
    if (unnamed) name = a.auto_cat ? cat : a.units; /* or by its units */
    if (unnamed && check_name(name, true)) return -1;
    named_concept *nc = find(S, name);
    if (!nc) {
        S->concepts = xrealloc(S->concepts, sizeof(named_concept) * (size_t)(S->n_concepts + 1));
        nc = &S->concepts[S->n_concepts++];
    } else if (nc->trained) tc_free(&nc->m);
    memset(nc, 0, sizeof *nc);
    snprintf(nc->name, sizeof nc->name, "%s", name);
    snprintf(nc->category, sizeof nc->category, "%s", cat);
    nc->c = c, nc->layer = a.layer;
    nc->o = (tc_opts){.features = a.features, .expand = a.expand, .window = a.window, .radius = a.radius,
                      .docs = a.docs};
    S->concept_on = (int)(nc - S->concepts);
    char units[1024];
    tl_concept_str(&c, units, sizeof units);
    if (S->json) cmd_emit_json(S, concept_json(nc, "define"));
    else sess_printf(S, "concept %s = %s%s%s (active)\n", name, units, cat[0] ? "  truth " : "", cat);
    return 0;
}

/* ------------------------------------------------------------ show */

static void show_rows(session *S, const named_concept *nc, const prompt_pool *pp, const float *V, const uint8_t *lab,
                      const float *score) {
    json_object *arr = S->json ? json_object_new_array() : NULL;
    if (!arr) {
        sess_printf(S, "pos %-16s label  score", "token");
        for (int i = 0; i < nc->c.n; i++) {
            char u[32];
            tl_concept one = {.n = 1, .u = {nc->c.u[i]}};
            tl_concept_str(&one, u, sizeof u);
            *strchr(u, '>') = 0;
            sess_printf(S, " %9s", u);
        }
        sess_printf(S, "\n");
    }
    for (int t = 0; t < pp->p.n_tok; t++) {
        char tok[64];
        cmd_token_text(S, pp->p.ids[t], tok, sizeof tok);
        if (arr) {
            json_object *e = json_object_new_object(), *v = json_object_new_array();
            json_object_object_add(e, "pos", json_object_new_int(t));
            json_object_object_add(e, "token", json_object_new_string(tok));
            json_object_object_add(e, "label", json_object_new_boolean(lab[t]));
            json_object_object_add(e, "score", cmd_jdouble(score[t]));
            for (int i = 0; i < nc->c.n; i++) json_object_array_add(v, cmd_jdouble(V[(size_t)t * nc->c.n + i]));
            json_object_object_add(e, "values", v);
            json_object_array_add(arr, e);
            continue;
        }
        sess_printf(S, "%3d %-16s %s      %5.3f", t, tok, lab[t] ? "+" : ".", score[t]);
        for (int i = 0; i < nc->c.n; i++) sess_printf(S, " %9.3f", V[(size_t)t * nc->c.n + i]);
        sess_printf(S, "\n");
    }
    if (!arr) return;
    json_object *o = concept_json(nc, "show");
    json_object_object_add(o, "classifier", summary_json(nc));
    json_object_object_add(o, "tokens", arr);
    cmd_emit_json(S, o);
}

/* Activates nc, trains it when needed, labels the prompt's tokens. */
static int show(session *S, named_concept *nc) {
    S->concept_on = (int)(nc - S->concepts);
    nc->why[0] = 0; /* asked again: try again */
    if (concept_train(S, "concept")) return -1;
    char units[1024];
    tl_concept_str(&nc->c, units, sizeof units);
    if (!S->json) {
        sess_printf(S, "concept %s = %s (active)\n", nc->name, units);
        summary_text(S, nc);
    }
    prompt_pool pp;
    if (!S->prompt) {
        if (!S->json) sess_printf(S, "no prompt: 'prompt TEXT' to label its tokens\n");
        else {
            json_object *o = concept_json(nc, "show");
            json_object_object_add(o, "classifier", summary_json(nc));
            cmd_emit_json(S, o);
        }
        return 0;
    }
    if (make_prompt_pool(S, &pp, "concept")) return -1;
    tl_models M = models_at(S, nc->layer);
    int n = pp.p.n_tok;
    uint8_t *lab = xmalloc((size_t)n + 1);
    float *score = xmalloc(sizeof(float) * (size_t)n + 1), *V = tl_concept_values(&M, &pp.p, &nc->c);
    int rc = !V || prompt_labels(S, nc, &pp, lab, score) ? -1 : 0;
    if (!rc) show_rows(S, nc, &pp, V, lab, score);
    free(V), free(lab), free(score);
    tl_pool_free(&pp.p);
    return rc;
}

/* ------------------------------------------------------------ top, export */

static named_concept *need_trained(session *S, const char *cmd) {
    named_concept *nc = active(S);
    if (!nc) return ms_seterr("no active concept; 'concept NAME' activates one (%s)", cmd), NULL;
    nc->why[0] = 0;
    return concept_train(S, cmd) ? NULL : nc;
}

static void context_text(session *S, const concept_hit *h, char *out, size_t cap) {
    size_t o = 0;
    out[0] = 0;
    for (int k = 0; k < h->n && o + 1 < cap; k++) {
        char tok[64];
        cmd_token_text(S, h->ids[k], tok, sizeof tok);
        o += (size_t)snprintf(out + o, cap - o, k == h->peak ? "[%s]" : "%s", tok);
    }
}

static int top(session *S, words *w) {
    long k = DEFAULT_TOP;
    if (w->argc > 3) return ms_seterr("usage: concept top [K] (concept)");
    if (w->argc == 3 && cmd_parse_int(w->argv[2], 1, 100000, &k, "concept top")) return -1;
    named_concept *nc = need_trained(S, "concept top");
    if (!nc) return -1;
    int n = concept_n_hits(S);
    k = k < n ? k : n;
    char clf[32];
    tc_clf_name(&nc->m, nc->m.o.features, clf, sizeof clf);
    json_object *arr = S->json ? json_object_new_array() : NULL;
    if (!arr)
        sess_printf(S, "concept %s: the %ld highest-scoring of %d held-out tokens (a test-split sample), by %s\n"
                    "rank  score label   doc  pos  context\n", nc->name, k, n, clf);
    for (int i = 0; i < k; i++) {
        concept_hit h;
        char ctx[1024], tok[64];
        concept_hit_get(S, i, &h);
        context_text(S, &h, ctx, sizeof ctx);
        cmd_token_text(S, h.ids[h.peak], tok, sizeof tok);
        if (!arr) {
            sess_printf(S, "%4d  %5.3f  %s   %5d %4d  %s\n", i + 1, h.score, h.label ? "+" : ".", h.doc, h.pos, ctx);
            continue;
        }
        json_object *e = json_object_new_object(), *ct = json_object_new_array(), *sc = json_object_new_array();
        json_object_object_add(e, "rank", json_object_new_int(i + 1));
        json_object_object_add(e, "doc", json_object_new_int(h.doc));
        json_object_object_add(e, "pos", json_object_new_int(h.pos));
        json_object_object_add(e, "token", json_object_new_string(tok));
        json_object_object_add(e, "score", cmd_jdouble(h.score));
        json_object_object_add(e, "label", json_object_new_boolean(h.label));
        for (int j = 0; j < h.n; j++) {
            cmd_token_text(S, h.ids[j], tok, sizeof tok);
            json_object_array_add(ct, json_object_new_string(tok));
            json_object_array_add(sc, cmd_jdouble(h.scores[j]));
        }
        json_object_object_add(e, "context", ct);
        json_object_object_add(e, "scores", sc);
        json_object_object_add(e, "peak", json_object_new_int(h.peak));
        json_object_array_add(arr, e);
    }
    if (!arr) return 0;
    json_object *o = concept_json(nc, "top");
    json_object_object_add(o, "classifier", json_object_new_string(clf));
    json_object_object_add(o, "heldout_tokens", json_object_new_int(n));
    json_object_object_add(o, "top", arr);
    cmd_emit_json(S, o);
    return 0;
}

static int export(session *S, words *w) {
    if (w->argc != 3) return ms_seterr("usage: concept export DIR (concept)");
    named_concept *nc = need_trained(S, "concept export");
    if (!nc) return -1;
    const char *dir = w->argv[2];
    bool sae = false, meta = false;
    for (int i = 0; i < nc->c.n; i++) sae |= nc->c.u[i].fam == PF_SAE, meta |= nc->c.u[i].fam == PF_META;
    if (tc_export(&nc->m, dir, S->corpus, S->corpus_test, S->model.path, meta ? S->glp_path : NULL,
                  sae ? S->sae_path : NULL))
        return -1;
    static const char *const files[] = {"classifier-resid.safetensors", "classifier-embed.safetensors",
                                        "labels-train.jsonl.lz4", "labels-test.jsonl.lz4"};
    if (S->json) {
        json_object *o = concept_json(nc, "export"), *arr = json_object_new_array();
        json_object_object_add(o, "dir", json_object_new_string(dir));
        for (int i = 0; i < 4; i++) json_object_array_add(arr, json_object_new_string(files[i]));
        json_object_object_add(o, "files", arr);
        cmd_emit_json(S, o);
        return 0;
    }
    sess_printf(S, "concept %s exported to %s:\n", nc->name, dir);
    sess_printf(S, "  %s, %s (weights, mean, sd, bias; metadata: features, layer, concept, thresholds)\n", files[0],
                files[1]);
    sess_printf(S, "  %s (%d documents of the train split), %s (%d of the test split): byte spans of positive "
                "tokens\n", files[2], nc->m.pool[TC_TRAIN].n_docs, files[3], nc->m.pool[TC_TEST].n_docs);
    return 0;
}

/* ------------------------------------------------------------ the word */

int cmd_concept(session *S, words *w) {
    if (w->argc == 1) return list(S);
    const char *a1 = w->argv[1];
    for (int i = 0; RESERVED[i] && w->argc > 2; i++) /* 'concept top sae:1': a name it cannot have */
        if (!strcmp(a1, RESERVED[i]) && strchr(w->argv[2], ':'))
            return ms_seterr("'%s' is a concept subcommand, not a name (concept)", a1);
    if (!strcmp(a1, "off")) return w->argc == 2 ? off(S) : ms_seterr("usage: concept off (concept)");
    if (cmd_need_model(S, "concept")) return -1;
    if (!strcmp(a1, "top")) return top(S, w);
    if (!strcmp(a1, "export")) return export(S, w);
    if (!strncmp(a1, "--", 2)) return define(S, NULL, w, 1, false); /* unnamed: --auto's category names it */
    bool units = strchr(a1, ':') != NULL; /* 'concept sae:18,sae:720': named by its units */
    named_concept *nc = find(S, a1);
    if (w->argc == 2 && nc) return show(S, nc);
    if (w->argc == 2 && !units) return ms_seterr("no concept '%s'; 'concept' lists them (concept)", a1);
    return define(S, a1, w, units ? 1 : 2, units);
}
