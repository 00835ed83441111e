/* cmd_probe.c — the probe command: `probe list`, `probe add NAME POS NEG`,
 * `probe TASK|PREFIX*|all [--units LIST] [--tasks N] [--per-class N]
 * [--out DIR]`, over the session's model, GLP and SAE. The subcommand
 * `metascope probe` runs the same through probe_exec. */
#include "cmd.h"
#include "probe.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *what, *out;
    unsigned families;
    long tasks, per_class;
} probe_args;

static char *tasks_dir(void) { return ms_path_join(ms_assets_dir(), "probe"); }

static int parse_args(session *S, int argc, char **argv, probe_args *a) {
    *a = (probe_args){argv[1], NULL, 0, 0, 0};
    for (int i = 2; i < argc; i += 2) {
        if (i + 1 >= argc) return ms_seterr("%s needs a value (probe)", argv[i]);
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--units")) {
            if (probe_parse_units(v, &a->families, "probe")) return -1;
        } else if (!strcmp(k, "--out")) a->out = v;
        else if (!strcmp(k, "--tasks")) {
            if (cmd_parse_int(v, 1, 100000, &a->tasks, "probe")) return -1;
        } else if (!strcmp(k, "--per-class")) {
            if (cmd_parse_int(v, 2, 100000, &a->per_class, "probe")) return -1;
        } else return ms_seterr("unknown option '%s' (probe)", k);
    }
    if (!a->families) /* default: every family the session can compute */
        a->families = (S->has_glp ? 1u << PF_META : 0) | (S->has_sae ? 1u << PF_SAE : 0) | 1u << PF_RESID | 1u << PF_MLP;
    return 0;
}

/* Token-level tasks need the tokenizer their positions were made with. */
static bool usable(session *S, const probe_taskset *ts, const probe_task *t) {
    return strcmp(t->kind, "token") || probe_tok_hash(S->model.tok) == ts->tok_hash;
}

static bool name_match(const char *name, const char *what) {
    size_t n = strlen(what);
    if (!strcmp(what, "all")) return true;
    return n && what[n - 1] == '*' ? !strncmp(name, what, n - 1) : !strcmp(name, what);
}

static int select_tasks(session *S, const probe_taskset *ts, const probe_args *a, int **sel) {
    int n = 0;
    *sel = xmalloc(sizeof(int) * (size_t)(ts->n + 1));
    for (int i = 0; i < ts->n && (!a->tasks || n < a->tasks); i++) {
        int c[4];
        probe_task_counts(&ts->t[i], c);
        if (!name_match(ts->t[i].name, a->what) || (!c[0] || !c[1] || !c[2] || !c[3])) continue; /* no AUC */
        if (usable(S, ts, &ts->t[i])) (*sel)[n++] = i;
        else if (strcmp(a->what, "all"))
            return free(*sel), ms_seterr("task '%s' was built for another tokenizer; rebuild with probe-tasks (probe)",
                                         ts->t[i].name);
    }
    if (!n) free(*sel);
    if (!n) return ms_seterr("no task '%s'; see 'probe list' (probe)", a->what);
    return n;
}

/* The held-out splits (valid, test), loaded per run: they are small. */
static int load_corpus(session *S, const probe_taskset *ts, corpus_split *held, probe_opts *o) {
    corpus_split *train;
    char *dir = ms_path_join(ms_assets_dir(), "corpus");
    int rc = sess_corpus(S, &train, "probe");
    if (!rc) rc = corpus_load(&held[0], dir, "valid");
    if (!rc && (rc = corpus_load(&held[1], dir, "test"))) corpus_free(&held[0]);
    free(dir);
    if (rc) return -1;
    o->split[0] = train, o->split[1] = &held[0], o->split[2] = &held[1];
    if (ts->n_train && (train->n != ts->n_train || held[0].n != ts->n_valid || held[1].n != ts->n_test)) {
        corpus_free(&held[0]), corpus_free(&held[1]);
        return ms_seterr("tasks.json was built for another corpus; rebuild with probe-tasks (probe)");
    }
    return 0;
}

static void emit_json(session *S, const probe_result *r) {
    json_object *o = json_object_new_object(), *rows = json_object_new_array(), *mean = json_object_new_object();
    json_object_object_add(o, "cmd", json_object_new_string("probe"));
    for (int i = 0; i < r->n; i++) {
        const probe_row *w = &r->rows[i];
        json_object *e = json_object_new_object(), *n = json_object_new_array(), *u = json_object_new_object();
        json_object_object_add(e, "task", json_object_new_string(w->name));
        json_object_object_add(e, "kind", json_object_new_string(w->kind));
        for (int k = 0; k < 4; k++) json_object_array_add(n, json_object_new_int(w->n[k]));
        json_object_object_add(e, "n", n); /* train neg, train pos, test neg, test pos */
        for (int f = 0; f < PF_N; f++) {
            if (!((r->families >> f) & 1u)) continue;
            json_object *x = json_object_new_object();
            json_object_object_add(x, "unit", json_object_new_string(w->win[f].jump));
            json_object_object_add(x, "test_auc", cmd_jdouble(w->win[f].test_auc));
            json_object_object_add(x, "cv_auc", cmd_jdouble(w->win[f].cv_auc));
            if (w->win[f].block >= 0) {
                json_object_object_add(x, "block", json_object_new_int(w->win[f].block));
                json_object_object_add(x, "sigma", cmd_jdouble(glp_grid(PROBE_SIGMA_INDEX[w->win[f].sigma_i], 1000)));
            }
            json_object_object_add(u, PROBE_FAMILY[f], x);
        }
        json_object_object_add(e, "units", u);
        json_object_array_add(rows, e);
    }
    for (int f = 0; f < PF_N; f++) {
        if (!((r->families >> f) & 1u)) continue;
        json_object *x = json_object_new_object();
        json_object_object_add(x, "test_auc", cmd_jdouble(r->mean[f]));
        json_object_object_add(x, "ci_lo", cmd_jdouble(r->lo[f]));
        json_object_object_add(x, "ci_hi", cmd_jdouble(r->hi[f]));
        json_object_object_add(mean, PROBE_FAMILY[f], x);
    }
    json_object_object_add(o, "tasks", rows);
    json_object_object_add(o, "mean", mean);
    json_object_object_add(o, "seconds", cmd_jdouble(r->seconds));
    cmd_emit_json(S, o);
}

static void keep_result(session *S, probe_result *r) {
    if (S->probe_last) probe_result_free(S->probe_last);
    else S->probe_last = xmalloc(sizeof *S->probe_last);
    *S->probe_last = *r;
}

static int run_probe(session *S, const probe_taskset *ts, const probe_args *a, const int *sel, int n,
                     void (*progress)(void *, const char *), void *ctx) {
    corpus_split held[2];
    probe_opts o = {.m = &S->model, .st = &S->st, .layer = S->layer, .bos = sess_use_bos(S) ? S->model.c.bos_id : -1};
    o.glp = S->has_glp ? &S->glp : NULL, o.glp_work = S->glp_work, o.glp_layer = sess_glp_layer(S);
    o.sae = S->has_sae ? &S->sae : NULL, o.sae_work = S->sae_work;
    o.families = a->families, o.max_per_class = (int)a->per_class, o.seed = S->seed;
    o.cancel = S->cancel, o.progress = progress, o.progress_ctx = ctx;
    if (load_corpus(S, ts, held, &o)) return -1;
    probe_result r;
    int rc = probe_run(&o, ts, sel, n, &r);
    corpus_free(&held[0]), corpus_free(&held[1]);
    if (!rc && a->out && probe_write(&r, a->out)) rc = ms_seterr("%s (probe)", ms_geterr());
    if (rc) return probe_result_free(&r), -1;
    if (S->json) emit_json(S, &r);
    else {
        char *t = probe_table_text(&r);
        sess_printf(S, "%s", t);
        if (a->out) sess_printf(S, "written to %s/probe.txt and %s/probe.csv\n", a->out, a->out);
        free(t);
    }
    keep_result(S, &r);
    return 0;
}

static int probe_list(session *S, const probe_taskset *ts) {
    json_object *arr = S->json ? json_object_new_array() : NULL;
    if (!arr) sess_printf(S, "%-24s %-5s %9s %9s  %s\n", "task", "kind", "train", "test", "description");
    for (int i = 0; i < ts->n; i++) {
        const probe_task *t = &ts->t[i];
        int c[4];
        probe_task_counts(t, c);
        if (arr) {
            json_object *e = json_object_new_object(), *n = json_object_new_array();
            json_object_object_add(e, "task", json_object_new_string(t->name));
            json_object_object_add(e, "kind", json_object_new_string(t->kind));
            for (int k = 0; k < 4; k++) json_object_array_add(n, json_object_new_int(c[k]));
            json_object_object_add(e, "n", n);
            json_object_object_add(e, "user", json_object_new_boolean(t->user));
            json_object_array_add(arr, e);
            continue;
        }
        char tr[16], te[16];
        snprintf(tr, sizeof tr, "%d+%d", c[1], c[0]);
        snprintf(te, sizeof te, "%d+%d", c[3], c[2]);
        sess_printf(S, "%-24s %-5s %9s %9s  %s%s%s\n", t->name, t->kind, tr, te, t->user ? "(user) " : "", t->desc,
                    usable(S, ts, t) ? "" : " [other tokenizer]");
    }
    if (arr) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "cmd", json_object_new_string("probe"));
        json_object_object_add(o, "tasks", arr);
        cmd_emit_json(S, o);
    } else sess_printf(S, "%d tasks (train/test as positives+negatives)\n", ts->n);
    return 0;
}

static int probe_add(session *S, int argc, char **argv) {
    if (argc != 5) return ms_seterr("usage: probe add NAME POS_FILE NEG_FILE (probe)");
    char *dir = tasks_dir(), *where = NULL;
    int rc = probe_task_add(dir, argv[2], argv[3], argv[4], S->seed, &where);
    free(dir);
    if (rc) return -1;
    if (S->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "cmd", json_object_new_string("probe"));
        json_object_object_add(o, "added", json_object_new_string(argv[2]));
        json_object_object_add(o, "path", json_object_new_string(where));
        cmd_emit_json(S, o);
    } else sess_printf(S, "task '%s' saved to %s\n", argv[2], where);
    free(where);
    return 0;
}

int probe_exec(session *S, int argc, char **argv, void (*progress)(void *, const char *), void *ctx) {
    if (argc < 2) return ms_seterr("usage: probe TASK|all|list|add ... (probe)");
    if (cmd_need_model(S, "probe")) return -1;
    if (!strcmp(argv[1], "add")) return probe_add(S, argc, argv);
    probe_args a;
    if (parse_args(S, argc, argv, &a)) return -1;
    probe_taskset ts;
    char *dir = tasks_dir();
    int rc = probe_tasks_load(&ts, dir), *sel = NULL, n = 0;
    free(dir);
    if (rc) return ms_seterr("%s (probe)", ms_geterr());
    if (!strcmp(argv[1], "list")) rc = argc > 2 ? ms_seterr("usage: probe list (probe)") : probe_list(S, &ts);
    else if ((n = select_tasks(S, &ts, &a, &sel)) < 0) rc = -1;
    else rc = run_probe(S, &ts, &a, sel, n, progress, ctx);
    if (n > 0) free(sel);
    probe_tasks_free(&ts);
    return rc;
}

int cmd_probe(session *S, words *w) { return probe_exec(S, w->argc, w->argv, S->progress, S->progress_ctx); }
