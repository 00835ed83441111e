/* cmd_label.c — the command layer of token labels (see cmd_label.h and
 * tlabel.h / distill.h for what is computed). */
#include "cmd_label.h"
#include "distill.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

tl_models sess_label_models(session *S) {
    tl_models M = {.m = &S->model, .st = &S->st, .layer = S->layer,
                   .bos = sess_use_bos(S) ? S->model.c.bos_id : -1, .cancel = S->cancel};
    if (S->has_glp) M.glp = &S->glp, M.glp_work = S->glp_work, M.glp_layer = sess_glp_layer(S);
    if (S->has_sae) M.sae = &S->sae, M.sae_work = S->sae_work;
    return M;
}

/* ------------------------------------------------------------ options */

typedef struct {
    const char *concept, *auto_cat, *category, *split, *out, *categories;
    int family, k, docs, expand, window, radius, layer;
    unsigned families;
} label_args;

static const char *DEFAULT_CATS = "noun.food,noun.animal,noun.plant,noun.person,noun.body,noun.time,verb.motion,"
                                  "verb.communication,fortunes/science,fortunes/computers";

int label_parse_expand(const char *s, int *expand, int *window, const char *cmd) {
    if (!strcmp(s, "none")) return *expand = TL_EXPAND_NONE, 0;
    if (!strcmp(s, "word")) return *expand = TL_EXPAND_WORD, 0;
    long w;
    if (!strncmp(s, "window:", 7) && !cmd_parse_int(s + 7, 1, 16, &w, cmd))
        return *expand = TL_EXPAND_WINDOW, *window = (int)w, 0;
    return ms_seterr("--expand takes none, word or window:N (%s)", cmd);
}

static int parse_args(session *S, int argc, char **argv, label_args *a) {
    const char *cmd = argv[0];
    *a = (label_args){.split = "test", .family = PF_SAE, .k = 1, .docs = 150, .radius = 1, .layer = S->layer,
                      .families = 0xf};
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (i + 1 >= argc) return ms_seterr("option '%s' needs a value or is unknown (%s)", o, cmd);
        const char *v = argv[++i];
        long x;
        unsigned mask;
        if (!strcmp(o, "--concept")) a->concept = v;
        else if (!strcmp(o, "--auto")) a->auto_cat = v;
        else if (!strcmp(o, "--category")) a->category = v;
        else if (!strcmp(o, "--split")) a->split = v;
        else if (!strcmp(o, "--out")) a->out = v;
        else if (!strcmp(o, "--categories")) a->categories = v;
        else if (!strcmp(o, "--expand")) {
            if (label_parse_expand(v, &a->expand, &a->window, cmd)) return -1;
        } else if (!strcmp(o, "--family") || !strcmp(o, "--units")) {
            if (probe_parse_units(v, &mask, cmd)) return -1;
            a->families = mask;
            for (int f = PF_N - 1; f >= 0; f--)
                if (mask >> f & 1) a->family = f;
        } else if (!strcmp(o, "--k") || !strcmp(o, "--docs") || !strcmp(o, "--radius") || !strcmp(o, "--layer")) {
            bool lay = !strcmp(o, "--layer");
            if (cmd_parse_int(v, lay ? 0 : 1, lay ? S->model.c.n_layers - 1 : 100000, &x, cmd)) return -1;
            *(!strcmp(o, "--k") ? &a->k : !strcmp(o, "--docs") ? &a->docs : !strcmp(o, "--radius") ? &a->radius : &a->layer) = (int)x;
        } else return ms_seterr("unknown option '%s' (%s)", o, cmd);
    }
    if (strcmp(a->split, "train") && strcmp(a->split, "valid") && strcmp(a->split, "test"))
        return ms_seterr("--split takes train, valid or test (%s)", cmd);
    if (a->k > TL_MAX_UNITS) return ms_seterr("--k is at most %d (%s)", TL_MAX_UNITS, cmd);
    return 0;
}

static int load_split(corpus_split *c, const char *split) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/corpus", ms_assets_dir());
    return corpus_load(c, dir, split);
}

/* The concept: given units (checked), or found on the train split for a
 * category with one family. */
static int get_concept(session *S, const tl_models *M, const label_args *a, const corpus_split *train, tl_concept *c,
                       const char *cmd) {
    if (!!a->concept == !!a->auto_cat) return ms_seterr("give --concept UNITS or --auto CATEGORY (%s)", cmd);
    if (a->concept) return tl_parse_concept(a->concept, c, cmd) || tl_models_check(M, c, cmd) ? -1 : 0;
    const char *cat = lex_resolve_category(train, a->auto_cat, cmd);
    if (!cat) return -1;
    return tl_auto_concept(M, train, cat, a->family, a->k, a->docs, S->seed, c, cmd);
}

/* The category the metrics use: --category, else the --auto one. */
static const char *truth_category(const label_args *a, const corpus_split *s, const char *cmd, int *rc) {
    const char *name = a->category ? a->category : a->auto_cat;
    *rc = 0;
    if (!name) return NULL;
    const char *cat = lex_resolve_category(s, name, cmd);
    if (!cat) *rc = -1;
    return cat;
}

/* ------------------------------------------------------------ label-corpus */

static void print_concept(session *S, const tl_concept *c) {
    char buf[1024];
    tl_concept_str(c, buf, sizeof buf);
    sess_printf(S, "concept   %s\n", buf);
}

static int label_corpus(session *S, const label_args *a) {
    const char *cmd = "label-corpus";
    tl_models M = sess_label_models(S);
    corpus_split train = {0}, target = {0};
    tl_concept c;
    tl_pool p = {0};
    int rc = load_split(&train, "train") || load_split(&target, a->split) ? -1 : 0;
    if (!rc) rc = get_concept(S, &M, a, &train, &c, cmd);
    const char *cat = rc ? NULL : truth_category(a, &train, cmd, &rc);
    if (!rc) rc = tl_pool_make(&p, &target, M.m->tok, cat, cat ? a->docs : 0, cat ? a->docs : 2 * a->docs,
                               S->seed + 1, cmd);
    float *V = rc ? NULL : tl_concept_values(&M, &p, &c);
    if (!rc && !V) rc = -1;
    uint8_t *lab = xmalloc((size_t)p.n_tok + 1);
    if (!rc) tl_label(&c, V, &p, &target, a->expand, a->window, lab);
    if (!rc && a->out) rc = tl_write_labels(a->out, &p, &target, lab);
    if (!rc) {
        long pos = 0;
        for (int t = 0; t < p.n_tok; t++) pos += lab[t];
        print_concept(S, &c);
        sess_printf(S, "split     %s: %d documents, %d tokens, %ld labelled positive (%.1f%%)\n", a->split, p.n_docs,
                    p.n_tok, pos, 100.0 * pos / p.n_tok);
        if (cat) {
            double pr, re, f1;
            long tp = 0;
            for (int t = 0; t < p.n_tok; t++) tp += p.truth[t];
            tl_prf(lab, p.truth, p.n_tok, &pr, &re, &f1);
            sess_printf(S, "truth     %s: %ld tokens in its documents; siblings %s*\n", cat, tp, "");
            sess_printf(S, "precision %.3f  recall %.3f  F1 %.3f\n", pr, re, f1);
        }
        if (a->out) sess_printf(S, "labels written to %s\n", a->out);
    }
    free(V), free(lab);
    tl_pool_free(&p);
    corpus_free(&train), corpus_free(&target);
    return rc;
}

/* ------------------------------------------------------------ distill */

static int write_weights(const char *dir, const char *name, const logreg *m, const tl_concept *c, int layer,
                         int radius) {
    json_object *o = json_object_new_object(), *w = json_object_new_array(), *mu = json_object_new_array(),
                *sd = json_object_new_array();
    char units[1024];
    tl_concept_str(c, units, sizeof units);
    for (int j = 0; j < m->d; j++) {
        json_object_array_add(w, json_object_new_double(m->w[j]));
        json_object_array_add(mu, json_object_new_double(m->mu[j]));
        json_object_array_add(sd, json_object_new_double(m->sd[j]));
    }
    json_object_object_add(o, "format", json_object_new_string("metascope-token-classifier-1"));
    json_object_object_add(o, "features", json_object_new_string(name));
    if (!strcmp(name, "resid")) json_object_object_add(o, "layer", json_object_new_int(layer));
    else json_object_object_add(o, "radius", json_object_new_int(radius));
    json_object_object_add(o, "concept", json_object_new_string(units));
    json_object_object_add(o, "bias", json_object_new_double(m->b));
    json_object_object_add(o, "mean", mu);
    json_object_object_add(o, "sd", sd);
    json_object_object_add(o, "weight", w);
    char file[64];
    snprintf(file, sizeof file, "classifier-%s.json", name);
    char *path = ms_path_join(dir, file);
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    int rc = ms_write_file_atomic(path, s, strlen(s));
    free(path);
    json_object_put(o);
    /* the same as safetensors, as the explorer's 'concept export' writes */
    char where[16];
    snprintf(where, sizeof where, "%d", !strcmp(name, "resid") ? layer : radius);
    const char *meta[] = {"format", "metascope-token-classifier-1", "features", name,
                          !strcmp(name, "resid") ? "layer" : "radius", where, "concept", units, "threshold", "0.5"};
    snprintf(file, sizeof file, "classifier-%s.safetensors", name);
    path = ms_path_join(dir, file);
    if (!rc) rc = tl_clf_write(path, m, meta, 5);
    free(path);
    return rc;
}

static void print_distill(session *S, const tl_distill_result *r, const tl_concept *c, int layer, int radius,
                          bool truth) {
    print_concept(S, c);
    sess_printf(S, "train     %d tokens, %d labelled positive; test %d tokens, %d positive\n", r->train_tok,
                r->train_pos, r->test_tok, r->test_pos);
    if (truth)
        sess_printf(S, "labels vs truth (test): precision %.3f recall %.3f F1 %.3f accuracy %.3f (majority %.3f)\n",
                    r->lab_prec, r->lab_rec, r->lab_f1, r->lab_acc, r->base_acc);
    sess_printf(S, "%-26s %8s %8s %10s %9s %12s %8s\n", "labeller", "AUC(lab)", "F1(lab)", "acc(truth)", "F1(truth)",
                "us/token", "x cost");
    sess_printf(S, "%-26s %8s %8s %10.3f %9.3f %12.2f %8.2f\n", "concept (forward+units)", "-", "-", r->lab_acc,
                r->lab_f1, r->label_us_per_token, 1.0);
    for (int k = 0; k < TL_CLF_N; k++) {
        char name[40];
        if (k == TL_CLF_RESID) snprintf(name, sizeof name, "logreg resid@%d", layer);
        else snprintf(name, sizeof name, "logreg embed window %d", 2 * radius + 1);
        const tl_clf_stats *s = &r->clf[k];
        sess_printf(S, "%-26s %8.3f %8.3f %10.3f %9.3f %12.2f %8.4f\n", name, s->auc_lab, s->f1_lab, s->acc_truth,
                    s->f1_truth, s->us_per_token, s->us_per_token / r->label_us_per_token);
    }
}

static int distill(session *S, const label_args *a) {
    const char *cmd = "distill";
    tl_models M = sess_label_models(S);
    M.layer = a->layer;
    corpus_split train = {0}, test = {0};
    tl_concept c;
    tl_pool ptr = {0}, pte = {0};
    int rc = load_split(&train, "train") || load_split(&test, a->split) ? -1 : 0;
    if (!rc) rc = get_concept(S, &M, a, &train, &c, cmd);
    const char *cat = rc ? NULL : truth_category(a, &train, cmd, &rc);
    int np = cat ? a->docs : 0, nn = cat ? a->docs : 2 * a->docs;
    if (!rc) rc = tl_pool_make(&ptr, &train, M.m->tok, cat, np, nn, S->seed + 2, cmd);
    if (!rc) rc = tl_pool_make(&pte, &test, M.m->tok, cat, np, nn, S->seed + 1, cmd);
    tl_distill_opts o = {.expand = a->expand, .window = a->window, .radius = a->radius, .lr = logreg_defaults()};
    tl_distill_result r;
    logreg clf[TL_CLF_N] = {{0}};
    if (!rc) rc = tl_distill(&M, &ptr, &train, &pte, &test, &c, &o, &r, clf);
    if (!rc && a->out && !ms_is_dir(a->out) && mkdir(a->out, 0755))
        rc = ms_seterr("cannot create folder: %s (%s)", strerror(errno), a->out);
    if (!rc && a->out) {
        for (int k = 0; k < TL_CLF_N && !rc; k++) rc = write_weights(a->out, TL_CLF_NAME[k], &clf[k], &c, a->layer, a->radius);
    }
    if (!rc) {
        print_distill(S, &r, &c, a->layer, a->radius, cat != NULL);
        if (a->out) sess_printf(S, "classifiers written to %s/classifier-{resid,embed}.{json,safetensors}\n", a->out);
    }
    for (int k = 0; k < TL_CLF_N; k++) logreg_free(&clf[k]);
    tl_pool_free(&ptr), tl_pool_free(&pte);
    corpus_free(&train), corpus_free(&test);
    return rc;
}

/* ------------------------------------------------------------ label-compare */

static int label_compare(session *S, const label_args *a, void (*progress)(void *, const char *), void *ctx) {
    const char *cmd = "label-compare";
    tl_models M = sess_label_models(S);
    corpus_split train = {0}, test = {0};
    char *list = xstrdup(a->categories ? a->categories : DEFAULT_CATS), *cats[64];
    int n = 0, rc = load_split(&train, "train") || load_split(&test, a->split) ? -1 : 0;
    for (char *t = strtok(list, ","); t && n < 64 && !rc; t = strtok(NULL, ",")) {
        const char *cat = lex_resolve_category(&train, t, cmd);
        if (!cat) rc = -1;
        else cats[n++] = (char *)cat;
    }
    unsigned fam = a->families;
    if (!S->has_glp) fam &= ~(1u << PF_META);
    if (!S->has_sae) fam &= ~(1u << PF_SAE);
    tl_cmp_result r = {0};
    if (!rc) rc = tl_compare(&M, &train, &test, cats, n, fam, a->k, a->docs, S->seed, progress, ctx, &r);
    if (!rc && a->out) {
        char *txt = tl_cmp_text(&r), *csv = tl_cmp_csv(&r), *p1, *p2;
        rc = !ms_is_dir(a->out) && mkdir(a->out, 0755) ? ms_seterr("cannot create folder: %s (%s)", strerror(errno), a->out) : 0;
        p1 = ms_path_join(a->out, "labels.txt"), p2 = ms_path_join(a->out, "labels.csv");
        if (!rc) rc = ms_write_file_atomic(p1, txt, strlen(txt)) || ms_write_file_atomic(p2, csv, strlen(csv)) ? -1 : 0;
        free(txt), free(csv), free(p1), free(p2);
    }
    if (!rc) {
        char *t = tl_cmp_text(&r);
        sess_printf(S, "labellers on %s split, %d docs per class per category, k = %d unit(s), layer %d\n%s", a->split,
                    a->docs, a->k, S->layer, t);
        free(t);
    }
    tl_cmp_free(&r);
    free(list);
    corpus_free(&train), corpus_free(&test);
    return rc;
}

int label_exec(session *S, int argc, char **argv, void (*progress)(void *, const char *), void *ctx) {
    if (cmd_need_model(S, argv[0])) return -1;
    label_args a;
    if (parse_args(S, argc, argv, &a)) return -1;
    if (!strcmp(argv[0], "label-corpus")) return label_corpus(S, &a);
    if (!strcmp(argv[0], "distill")) return distill(S, &a);
    return label_compare(S, &a, progress, ctx);
}
