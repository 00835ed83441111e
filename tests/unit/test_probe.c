/* test_probe.c — 1-D probing: the AUC against a brute-force pair count, the
 * bootstrap's determinism, fold assignment, the mean-difference ranking, and
 * a small end-to-end run (tasks built from the tiny corpus, the tiny Llama,
 * a random GLP and SAE), and the probe command's progress hook in a session. */
#include "testutil.h"

#include "probe.h"
#include "rng.h"
#include "session.h"
#include "util.h"

#include <sys/stat.h>
#include <unistd.h>

#define MODEL FIXTURES "/models/llama_tiny"
#define CORPUS FIXTURES "/corpus_tiny"

/* P(score of a positive > score of a negative) + half the ties, by pairs. */
static double brute_auc(const float *s, const uint8_t *y, int n) {
    double hits = 0, pairs = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (y[i] && !y[j]) pairs++, hits += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0;
    return hits / pairs;
}

static void test_auc_brute_force(void **st) {
    (void)st;
    rng_t r;
    rng_seed(&r, 11);
    for (int trial = 0; trial < 50; trial++) {
        int n = 2 + (int)rng_below(&r, 200);
        float *s = malloc(sizeof(float) * (size_t)n);
        uint8_t *y = malloc((size_t)n);
        for (int i = 0; i < n; i++) {
            s[i] = (float)rng_below(&r, trial % 2 ? 5 : 1000); /* few distinct values: many ties */
            y[i] = rng_below(&r, 3) == 0;
        }
        y[0] = 1, y[1] = 0;
        assert_float_equal(probe_auc(s, y, n), brute_auc(s, y, n), 1e-12);
        free(s), free(y);
    }
    float s[3] = {1, 2, 3};
    uint8_t all[3] = {1, 1, 1}, sep[3] = {0, 1, 1};
    assert_true(isnan(probe_auc(s, all, 3)));
    assert_float_equal(probe_auc(s, sep, 3), 1.0, 0);
}

static void test_bootstrap_seeded(void **st) {
    (void)st;
    double x[40], lo1, hi1, lo2, hi2, lo3, hi3;
    for (int i = 0; i < 40; i++) x[i] = 0.5 + 0.01 * (i % 17);
    probe_bootstrap(x, 40, 1000, 5, &lo1, &hi1);
    probe_bootstrap(x, 40, 1000, 5, &lo2, &hi2);
    probe_bootstrap(x, 40, 1000, 6, &lo3, &hi3);
    assert_true(lo1 == lo2 && hi1 == hi2);
    assert_true(lo1 != lo3 || hi1 != hi3);
    double mean = 0;
    for (int i = 0; i < 40; i++) mean += x[i] / 40;
    assert_true(lo1 < mean && mean < hi1 && hi1 - lo1 < 0.05);
    double c = 0.7;
    probe_bootstrap(&c, 1, 100, 1, &lo1, &hi1);
    assert_true(lo1 == 0.7 && hi1 == 0.7);
}

static void test_folds(void **st) {
    (void)st;
    enum { N = 103 };
    uint8_t y[N];
    int f1[N], f2[N], count[5][2] = {{0}};
    for (int i = 0; i < N; i++) y[i] = i % 3 == 0;
    probe_folds(y, N, 5, 9, f1);
    probe_folds(y, N, 5, 9, f2);
    assert_memory_equal(f1, f2, sizeof f1);
    for (int i = 0; i < N; i++) {
        assert_true(f1[i] >= 0 && f1[i] < 5);
        count[f1[i]][y[i]]++;
    }
    for (int c = 0; c < 2; c++) /* stratified: each class spread evenly */
        for (int k = 1; k < 5; k++) assert_true(abs(count[k][c] - count[0][c]) <= 1);
    probe_folds(y, N, 5, 10, f2);
    assert_true(memcmp(f1, f2, sizeof f1) != 0);
}

/* Column j has mean difference ±j (alternating sign); the top units by
 * |difference| are the last columns, ordered. */
static void test_ranking(void **st) {
    (void)st;
    enum { N = 20, U = 30 };
    float X[N * U];
    uint8_t y[N], use[N];
    for (int r = 0; r < N; r++) {
        y[r] = r % 2, use[r] = r < 16;
        for (int j = 0; j < U; j++) X[r * U + j] = (float)((y[r] ? 1 : -1) * (j % 2 ? -j : j) * 0.5 + (r / 2) % 2);
    }
    X[17 * U + 0] = 1e6; /* a row outside `use` does not count */
    double diff[U];
    probe_mean_diff(X, N, U, y, use, diff);
    for (int j = 0; j < U; j++) assert_float_equal(diff[j], (j % 2 ? -j : j), 1e-9);
    int idx[5];
    assert_int_equal(probe_top_units(diff, U, 5, idx), 5);
    for (int k = 0; k < 5; k++) assert_int_equal(idx[k], U - 1 - k);
    assert_int_equal(probe_top_units(diff, U, 100, (int[U]){0}), U);
}

/* A unit that separates perfectly gets CV AUC 1 whatever its sign. */
static void test_cv_auc(void **st) {
    (void)st;
    enum { N = 50 };
    float v[N];
    uint8_t y[N];
    int fold[N];
    for (int i = 0; i < N; i++) y[i] = i % 2, v[i] = y[i] ? -1.0f - i : (float)i;
    probe_folds(y, N, 5, 1, fold);
    assert_float_equal(probe_cv_auc(v, y, fold, N, 5), 1.0, 1e-12);
    for (int i = 0; i < N; i++) v[i] = 3;
    assert_float_equal(probe_cv_auc(v, y, fold, N, 5), 0.5, 1e-12);
}

static void test_parse_units(void **st) {
    (void)st;
    unsigned m;
    assert_int_equal(probe_parse_units("resid,meta", &m, "t"), 0);
    assert_int_equal(m, (1u << PF_RESID) | (1u << PF_META));
    assert_int_equal(probe_parse_units("resid,bogus", &m, "t"), -1);
    assert_non_null(strstr(ms_geterr(), "bogus"));
}

/* ---------------------------------------------------------------- end to end */

static char DIR_[64];

static void write_text(const char *path, const char *s) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(s, f);
    fclose(f);
}

static void run_once(const tf_model *m, glp_model *g, sae_model *s, const probe_taskset *ts, probe_result *r) {
    corpus_split c[3];
    const char *names[3] = {"train", "valid", "test"};
    for (int i = 0; i < 3; i++) assert_int_equal(corpus_load(&c[i], CORPUS, names[i]), 0);
    tf_state stt;
    assert_int_equal(tf_state_init(&stt, m, 256), 0);
    glp_work *gw = glp_work_new(&g->c, 64);
    sae_work *sw = sae_work_new(s, 64);
    probe_opts o = {.m = m, .st = &stt, .layer = 1, .bos = m->c.bos_id, .glp = g, .glp_work = gw, .glp_layer = 1,
                    .sae = s, .sae_work = sw, .families = 15, .max_per_class = 6, .seed = 3};
    for (int i = 0; i < 3; i++) o.split[i] = &c[i];
    int sel[64], n = 0;
    for (int i = 0; i < ts->n && n < 64; i++) sel[n++] = i;
    int rc = probe_run(&o, ts, sel, n, r);
    if (rc) fprintf(stderr, "probe_run: %s\n", ms_geterr());
    assert_int_equal(rc, 0);
    glp_work_free(gw), sae_work_free(sw), tf_state_free(&stt);
    for (int i = 0; i < 3; i++) corpus_free(&c[i]);
}

static void check_result(const probe_result *r, const glp_model *g, const sae_model *s, const tf_model *m) {
    for (int i = 0; i < r->n; i++)
        for (int f = 0; f < PF_N; f++) {
            const probe_win *w = &r->rows[i].win[f];
            const int *c = r->rows[i].n;
            if (!(r->families >> f & 1) || !c[0] || !c[1] || !c[2] || !c[3]) continue; /* AUC undefined */
            assert_true(w->test_auc >= 0 && w->test_auc <= 1);
            int lim = f == PF_META ? PROBE_SIGMAS * g->c.n_layers * g->c.d_mlp
                      : f == PF_SAE ? s->c.n_latents : f == PF_RESID ? m->c.d_model : m->c.d_ff;
            assert_true(w->unit >= 0 && w->unit < lim);
            if (f == PF_META) assert_true(w->block >= 0 && w->block < g->c.n_layers && strchr(w->name, '@'));
        }
    for (int f = 0; f < PF_N; f++) assert_true(r->lo[f] <= r->mean[f] + 1e-12 && r->mean[f] <= r->hi[f] + 1e-12);
}

static void test_end_to_end(void **st) {
    (void)st;
    snprintf(DIR_, sizeof DIR_, "/tmp/ms_probe_XXXXXX");
    assert_non_null(mkdtemp(DIR_));
    tf_model m;
    assert_int_equal(tf_load(&m, MODEL), 0);
    assert_int_equal(probe_tasks_build(CORPUS, m.tok, 8, 1, DIR_, NULL, NULL), 0);
    char pos[128], neg[128], *where = NULL;
    snprintf(pos, sizeof pos, "%s/pos.txt", DIR_), snprintf(neg, sizeof neg, "%s/neg.txt", DIR_);
    write_text(pos, "the cat sat\na dog ran\nthe bird flew\na fish swam\n");
    write_text(neg, "one two\nthree four\n\nfive six\n");
    assert_int_equal(probe_task_add(DIR_, "animals", pos, neg, 1, &where), 0);
    assert_non_null(strstr(where, "/user/animals.json"));
    free(where);
    assert_int_equal(probe_task_add(DIR_, "bad name", pos, neg, 1, &where), -1);
    assert_int_equal(probe_task_add(DIR_, "noun.food", pos, neg, 1, &where), -1);
    probe_taskset ts;
    assert_int_equal(probe_tasks_load(&ts, DIR_), 0);
    assert_true(ts.n >= 30);
    const probe_task *u = &ts.t[ts.n - 1];
    int c[4];
    probe_task_counts(u, c);
    assert_string_equal(u->name, "animals");
    assert_true(u->user && u->n_texts == 7 && c[1] == 2 && c[3] == 2 && c[0] == 2 && c[2] == 1);
    for (int i = 0; i < ts.n; i++) { /* balanced sides */
        probe_task_counts(&ts.t[i], c);
        if (!ts.t[i].user) assert_true(c[0] == c[1] && c[2] == c[3]);
    }
    rng_t r;
    rng_seed(&r, 4);
    glp_model g;
    sae_model s;
    glp_config gc = {.d_input = 64, .d_model = 96, .d_mlp = 80, .n_layers = 2};
    sae_config sc = {.d_in = 64, .n_latents = 256, .k = 8, .arch = SAE_TOPK, .apply_b_dec_to_input = true};
    assert_int_equal(glp_init(&g, &gc), 0);
    assert_int_equal(sae_init(&s, &sc), 0);
    glp_init_random(&g, &r), sae_init_random(&s, &r);
    sae_set_layer(&s, 1);
    probe_result r1, r2;
    run_once(&m, &g, &s, &ts, &r1);
    run_once(&m, &g, &s, &ts, &r2);
    assert_int_equal(r1.n, ts.n);
    check_result(&r1, &g, &s, &m);
    for (int i = 0; i < r1.n; i++) /* deterministic: same winners, same AUCs */
        for (int f = 0; f < PF_N; f++) {
            assert_string_equal(r1.rows[i].win[f].name, r2.rows[i].win[f].name);
            assert_true(r1.rows[i].win[f].test_auc == r2.rows[i].win[f].test_auc ||
                        (isnan(r1.rows[i].win[f].test_auc) && isnan(r2.rows[i].win[f].test_auc)));
        }
    char *csv = probe_table_csv(&r1), *txt = probe_table_text(&r1);
    assert_non_null(strstr(csv, "task,kind,n_train_pos"));
    assert_non_null(strstr(csv, "\nmean,,,,,,meta,"));
    assert_non_null(strstr(txt, "mean test AUC [95% CI]"));
    free(csv), free(txt);
    probe_result_free(&r1), probe_result_free(&r2);
    probe_tasks_free(&ts);
    glp_free(&g), sae_free(&s), tf_free(&m);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", DIR_);
    assert_int_equal(system(cmd), 0);
}

/* ---------------------------------------------------------------- session hook */

static void sink(void *ctx, const char *text, size_t len) { (void)ctx, (void)text, (void)len; }

static void count_line(void *ctx, const char *line) {
    if (!strncmp(line, "probe: ", 7)) (*(int *)ctx)++;
}

/* The probe command in a session reports progress lines through
 * S->progress and keeps its table in S->probe_last. */
static void test_session_progress(void **st) {
    (void)st;
    char dir[64] = "/tmp/ms_probe_sess_XXXXXX", sub[128], cwd[4096], corpus[8192];
    assert_non_null(mkdtemp(dir));
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(corpus, sizeof corpus, "%s/%s", cwd, CORPUS);
    snprintf(sub, sizeof sub, "%s/corpus", dir);
    assert_int_equal(symlink(corpus, sub), 0);
    snprintf(sub, sizeof sub, "%s/probe", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    tf_model m;
    assert_int_equal(tf_load(&m, MODEL), 0);
    assert_int_equal(probe_tasks_build(CORPUS, m.tok, 8, 1, sub, NULL, NULL), 0);
    tf_free(&m);
    setenv("METASCOPE_ASSETS", dir, 1);
    session S;
    int lines = 0;
    sess_init(&S, sink, NULL);
    assert_int_equal(sess_load_model(&S, MODEL), 0);
    S.progress = count_line, S.progress_ctx = &lines;
    int rc = sess_exec(&S, "probe all --tasks 2 --per-class 4 --units resid,mlp");
    if (rc) fprintf(stderr, "probe: %s\n", ms_geterr());
    assert_int_equal(rc, 0);
    assert_true(lines >= 2);
    assert_non_null(S.probe_last);
    assert_int_equal(S.probe_last->n, 2);
    sess_free(&S);
    unsetenv("METASCOPE_ASSETS");
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auc_brute_force), cmocka_unit_test(test_bootstrap_seeded), cmocka_unit_test(test_folds),
        cmocka_unit_test(test_ranking),         cmocka_unit_test(test_cv_auc),           cmocka_unit_test(test_parse_units),
        cmocka_unit_test(test_end_to_end),      cmocka_unit_test(test_session_progress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
