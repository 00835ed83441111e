/* test_steer.c — steering vectors, the steering hook and concept lexicons.
 * The hook is checked against an independent recomputation: the clean
 * residual of the same prompt plus alpha·v (plain), or passed through
 * glp_project with the same noise (+GLP), at the last position only. */
#include "testutil.h"

#include "glp.h"
#include "glp_ode.h"
#include "util.h"
#include "lexicon.h"
#include "steer.h"
#include "transformer.h"

#define LAYER 1

typedef struct {
    float *rows; /* [max_seq, d] by position */
    int d;
} grab;

static void grab_hook(void *ctx, int layer, int pos0, int n, float *x, int dim) {
    grab *g = ctx;
    memcpy(g->rows + (size_t)pos0 * dim, x, sizeof(float) * (size_t)n * dim);
}

static const int IDS[] = {318, 5, 17, 42, 99, 7, 250};
#define NIDS 7

/* Residuals of layer LAYER for IDS then one more token, with an optional
 * steering hook in front of the grabbing hook. */
static void run(const tf_model *m, steer_hook *h, float *rows) {
    tf_state st;
    assert_int_equal(tf_state_init(&st, m, 64), 0);
    grab g = {rows, m->c.d_model};
    if (h) {
        h->st = &st;
        assert_int_equal(tf_add_hook(&st, (tf_hook){HOOK_RESID, LAYER, steer_hook_fn, h}), 0);
    }
    assert_int_equal(tf_add_hook(&st, (tf_hook){HOOK_RESID, LAYER, grab_hook, &g}), 0);
    assert_int_equal(tf_forward(m, &st, IDS, NIDS, LOGITS_LAST, NULL), 0);
    int next = 11;
    assert_int_equal(tf_forward(m, &st, &next, 1, LOGITS_LAST, NULL), 0);
    tf_state_free(&st);
}

static float *unit_vec(int d, unsigned seed) {
    float *v = malloc(sizeof(float) * (size_t)d);
    double ss = 0;
    for (int i = 0; i < d; i++) v[i] = (float)sin(seed + 1.7 * i), ss += (double)v[i] * v[i];
    for (int i = 0; i < d; i++) v[i] /= (float)sqrt(ss);
    return v;
}

/* Plain steering adds alpha·v at the last prompt position and at the
 * decoded token; every other position matches the clean run (positions
 * before the last are computed before the hook, so they cannot differ). */
static void test_plain_hook(void **state) {
    tf_model m;
    assert_int_equal(tf_load(&m, FIXTURES "/models/llama_tiny"), 0);
    int d = m.c.d_model;
    float *clean = calloc((size_t)(NIDS + 1) * d, sizeof(float)), *steered = calloc((size_t)(NIDS + 1) * d, sizeof(float));
    float *v = unit_vec(d, 3);
    run(&m, NULL, clean);
    steer_hook h = {.v = v, .layer = LAYER, .d = d, .alpha = 2.5f};
    run(&m, &h, steered);
    assert_int_equal(h.calls, 2);
    for (int t = 0; t < NIDS - 1; t++) assert_true(max_rel_err(steered + t * d, clean + t * d, (size_t)d, 1e-6) == 0);
    for (int i = 0; i < d; i++) assert_float_equal(steered[(NIDS - 1) * d + i], clean[(NIDS - 1) * d + i] + 2.5f * v[i], 1e-5);
    /* the decoded token saw a steered past, so only its own delta is exactly known: it differs from clean */
    double diff = 0;
    for (int i = 0; i < d; i++) diff += fabs(steered[NIDS * d + i] - clean[NIDS * d + i]);
    assert_true(diff > 1e-3);
    free(clean), free(steered), free(v);
    tf_free(&m);
}

/* +GLP: the last prompt row equals glp_project(clean + alpha·v) with the
 * same noise stream. */
static void test_glp_hook(void **state) {
    tf_model m;
    assert_int_equal(tf_load(&m, FIXTURES "/models/llama_tiny"), 0);
    int d = m.c.d_model;
    glp_config c = {d, 2 * d, 4 * d, 2, 0};
    glp_model g;
    assert_int_equal(glp_init(&g, &c), 0);
    rng_t r;
    rng_seed(&r, 7);
    glp_init_random(&g, &r);
    glp_work *w = glp_work_new(&c, 16);
    float *clean = calloc((size_t)(NIDS + 1) * d, sizeof(float)), *steered = calloc((size_t)(NIDS + 1) * d, sizeof(float));
    float *v = unit_vec(d, 5);
    run(&m, NULL, clean);
    steer_hook h = {.v = v, .layer = LAYER, .d = d, .alpha = -1.5f, .glp = &g, .work = w, .u = 0.5f, .steps = 20};
    rng_seed(&h.rng, 99);
    run(&m, &h, steered);
    assert_int_equal(h.failed, 0);
    float *want = malloc(sizeof(float) * (size_t)d);
    for (int i = 0; i < d; i++) want[i] = clean[(NIDS - 1) * d + i] - 1.5f * v[i];
    rng_t r2;
    rng_seed(&r2, 99);
    assert_int_equal(glp_project(&g, w, want, 1, 0.5f, 20, -1, NULL, &r2), 0);
    assert_true(max_rel_err(steered + (NIDS - 1) * d, want, (size_t)d, 1e-3) < 1e-5);
    double moved = 0;
    for (int i = 0; i < d; i++) moved += fabs(want[i] - (clean[(NIDS - 1) * d + i] - 1.5f * v[i]));
    assert_true(moved > 1e-3); /* the projection did something */
    free(want), free(clean), free(steered), free(v);
    glp_work_free(w);
    glp_free(&g);
    tf_free(&m);
}

/* A hook for another layer or width leaves rows alone. */
static void test_hook_ignores_other_layers(void **state) {
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, v[4] = {1, 0, 0, 0};
    tf_state st = {.call_end = 2};
    steer_hook h = {.v = v, .layer = 2, .d = 4, .alpha = 1, .st = &st};
    steer_hook_fn(&h, 1, 0, 2, x, 4);
    steer_hook_fn(&h, 2, 0, 2, x, 3);
    assert_int_equal(h.calls, 0);
    steer_hook_fn(&h, 2, 0, 2, x, 4);
    assert_int_equal(h.calls, 1);
    assert_float_equal(x[4], 6, 0);
    assert_float_equal(x[0], 1, 0);
    st.call_end = 9; /* the last position is in a later chunk */
    steer_hook_fn(&h, 2, 0, 2, x, 4);
    assert_int_equal(h.calls, 1);
}

static void test_direction(void **state) {
    double a[3] = {1, 2, 3}, b[3] = {1, 0, 3};
    steer_vec v = {0};
    assert_int_equal(steer_set_direction(&v, a, b, 3), 0);
    assert_float_equal(v.v[1], 1, 1e-7);
    assert_float_equal(v.raw_norm, 2, 1e-12);
    assert_int_equal(steer_set_direction(&v, a, a, 3), -1);
    free(v.v);
}

/* ---- a small labelled corpus */

static corpus_split toy(void) {
    static const char *T[][2] = {
        {"The soup and the bread were warm.", "noun.food"}, {"Bread with butter, soup, cheese.", "noun.food"},
        {"SOUP! Soup; soup; cheese.", "noun.food"},          {"Cheese bread and apples.", "noun.food"},
        {"The car and the truck drove on.", "noun.artifact"}, {"A truck, a car and a bus.", "noun.artifact"},
        {"The bus was late and the car broke.", "noun.artifact"}, {"The dog barked at the bus.", "noun.animal"},
        {"Cheese for the dog.", "noun.animal"},              {"Food for thought.", "fortunes/food"},
    };
    corpus_split s = {0};
    s.n = (int)(sizeof T / sizeof *T);
    s.docs = calloc((size_t)s.n, sizeof(corpus_doc));
    for (int i = 0; i < s.n; i++) {
        s.docs[i].text = strdup(T[i][0]);
        s.docs[i].len = strlen(T[i][0]);
        s.docs[i].category = strdup(T[i][1]);
        s.docs[i].source = strdup("toy");
    }
    return s;
}

static void test_lexicon(void **state) {
    corpus_split s = toy();
    lexicon L;
    assert_int_equal(lex_build(&L, &s, "noun.food", NULL), 0);
    assert_int_equal(L.pos_docs, 4);
    assert_int_equal(L.neg_docs, 6);
    /* soup: 3 of 4 food docs, 0 of 6 others; bread: 3 of 4; cheese: 3 of 4 food docs but also 1 of 6 others:
     * 0.75 >= 4 * 2/7 = 1.14? no. "the": 1 of 4, too rare. */
    assert_true(ws_find(&L.words, "soup", 4, 0) >= 0);
    assert_true(ws_find(&L.words, "bread", 5, 0) >= 0);
    assert_true(ws_find(&L.words, "cheese", 6, 0) < 0);
    assert_true(ws_find(&L.words, "the", 3, 0) < 0);
    int n;
    assert_float_equal(lex_score(&L, "Soup, BREAD and cars", 20, &n), 0.5, 1e-12);
    assert_int_equal(n, 4);
    assert_float_equal(lex_score(&L, "", 0, &n), 0, 0);
    lex_free(&L);
    /* against one category only */
    assert_int_equal(lex_build(&L, &s, "noun.food", "noun.artifact"), 0);
    assert_int_equal(L.neg_docs, 3);
    /* add-one smoothing: 3 of 4 against 0 of 3 is a ratio of 3, below 4 */
    assert_int_equal(L.words.n, 0);
    lex_free(&L);
    assert_int_equal(lex_build(&L, &s, "noun.nothing", NULL), -1);
    lex_free(&L);
    corpus_free(&s);
}

static void test_resolve(void **state) {
    corpus_split s = toy();
    assert_string_equal(lex_resolve_category(&s, "noun.food", "t"), "noun.food");
    assert_string_equal(lex_resolve_category(&s, "artifact", "t"), "noun.artifact");
    assert_null(lex_resolve_category(&s, "food", "t")); /* noun.food and fortunes/food */
    assert_non_null(strstr(ms_geterr(), "ambiguous"));
    assert_null(lex_resolve_category(&s, "plant", "t"));
    assert_null(lex_resolve_category(&s, "od", "t")); /* suffixes match whole name parts only */
    corpus_free(&s);
}

static void test_pick_docs(void **state) {
    corpus_split s = toy();
    int *a, *b, na = steer_pick_docs(&s, "noun.food", true, NULL, 100, 1, &a);
    assert_int_equal(na, 4);
    free(a);
    na = steer_pick_docs(&s, "noun.food", false, NULL, 3, 42, &a);
    int nb = steer_pick_docs(&s, "noun.food", false, NULL, 3, 42, &b);
    assert_int_equal(na, 3);
    assert_int_equal(nb, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(a[i], b[i]); /* seeded */
        assert_true(a[i] >= 4);       /* never a food document */
        if (i) assert_true(a[i] > a[i - 1]);
    }
    free(a), free(b);
    na = steer_pick_docs(&s, "noun.food", false, "noun.animal", 100, 1, &a);
    assert_int_equal(na, 2);
    free(a);
    corpus_free(&s);
}

static void test_words(void **state) {
    wordset w;
    ws_init(&w);
    char buf[16];
    for (int i = 0; i < 3000; i++) {
        snprintf(buf, sizeof buf, "w%d", i);
        assert_int_equal(ws_find(&w, buf, strlen(buf), 1), i);
    }
    assert_int_equal(ws_find(&w, "w1234", 5, 0), 1234);
    assert_int_equal(ws_find(&w, "w12345", 6, 0), -1);
    assert_int_equal(ws_find(&w, "w1", 2, 1), 1);
    ws_free(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_hook),  cmocka_unit_test(test_glp_hook), cmocka_unit_test(test_hook_ignores_other_layers),
        cmocka_unit_test(test_direction),   cmocka_unit_test(test_lexicon),  cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_pick_docs),   cmocka_unit_test(test_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
