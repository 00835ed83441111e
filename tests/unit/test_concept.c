/* test_concept.c — a concept's interactive classifier (tconcept.c) and the
 * session word over it (cmd_concept.c), on the tiny Llama, a random TopK SAE
 * of another layer and the tiny corpus:
 * 1. tc_train's single forward pass per pool gives the same labels, fitted
 *    weights and held-out scores as the pieces computed one by one (labels
 *    from tl_concept_values, residual rows from tl_acts_run, embedding
 *    windows), and the AUC of those scores;
 * 2. the ranking is a descending permutation; hit windows stay inside their
 *    document, centred as asked;
 * 3. a hit's document prefix scored as a prompt gives the hit the same score
 *    and label (what the explorer's Enter relies on);
 * 4. a pool of one text longer than TL_MAX_TOKENS;
 * 5. export: safetensors weights and metadata read back, label files;
 * 6. a concept firing nowhere is refused with a one-line error;
 * 7. the session: define / activate / off, prompt labels aligned with the
 *    prompt's tokens (BOS row empty), staleness after a model load, the
 *    hit text and JSON output. */
#include "testutil.h"

#include "cmd_concept.h"
#include "safetensors.h"
#include "tconcept.h"
#include "util.h"

#include <sys/stat.h>
#include <unistd.h>

#define MODEL FIXTURES "/models/llama_tiny"
#define CORPUS FIXTURES "/corpus_tiny"
#define LAYER 1
#define SAE_LAYER 2

static struct {
    tf_model m;
    tf_state st;
    sae_model s;
    sae_work *sw;
    corpus_split train, test;
    tl_models M;
    tl_concept c;
    tc_opts o;
    tc_model tc; /* trained once in setup */
} F;

static int setup(void **st) {
    (void)st;
    if (tf_load(&F.m, MODEL) || tf_state_init(&F.st, &F.m, 256)) return -1;
    rng_t r;
    rng_seed(&r, 11);
    sae_config sc = {.d_in = 64, .n_latents = 128, .k = 8, .arch = SAE_TOPK, .apply_b_dec_to_input = true};
    if (sae_init(&F.s, &sc)) return -1;
    sae_init_random(&F.s, &r);
    sae_set_layer(&F.s, SAE_LAYER);
    F.sw = sae_work_new(&F.s, 64);
    if (corpus_load(&F.train, CORPUS, "train") || corpus_load(&F.test, CORPUS, "test")) return -1;
    F.M = (tl_models){.m = &F.m, .st = &F.st, .layer = LAYER, .bos = F.m.c.bos_id, .sae = &F.s, .sae_work = F.sw};
    /* resid:0 at its median over the train pool (about half positive), or an SAE latent */
    F.o = (tc_opts){.features = TL_CLF_RESID, .radius = 1, .docs = 6, .seed = 5};
    tl_pool p;
    if (tl_pool_make(&p, &F.train, F.m.tok, NULL, 0, 12, F.o.seed + 2, "test")) return -1;
    tl_concept one = {.n = 1, .u = {{PF_RESID, 0, -1, 0}}};
    float *V = tl_concept_values(&F.M, &p, &one);
    if (!V) return -1;
    float *s = malloc(sizeof(float) * (size_t)p.n_tok);
    memcpy(s, V, sizeof(float) * (size_t)p.n_tok);
    for (int i = 0; i < p.n_tok; i++) /* a partial selection sort to the median is enough here */
        for (int j = i + 1; j < p.n_tok && i <= p.n_tok / 2; j++)
            if (s[j] < s[i]) { float t = s[i]; s[i] = s[j], s[j] = t; }
    F.c = (tl_concept){.n = 2, .u = {{PF_RESID, 0, -1, s[p.n_tok / 2]}, {PF_SAE, 3, -1, 1e9f}}};
    free(V), free(s);
    tl_pool_free(&p);
    if (tc_train(&F.tc, &F.M, &F.train, &F.test, &F.c, &F.o, NULL, NULL))
        return fprintf(stderr, "train: %s\n", ms_geterr()), -1;
    return 0;
}

static int teardown(void **st) {
    (void)st;
    tc_free(&F.tc);
    corpus_free(&F.train), corpus_free(&F.test);
    sae_work_free(F.sw), sae_free(&F.s);
    tf_state_free(&F.st), tf_free(&F.m);
    return 0;
}

static double max_abs(const float *a, const float *b, int n) {
    double w = 0;
    for (int i = 0; i < n; i++) w = fmax(w, fabs((double)a[i] - (double)b[i]));
    return w;
}

/* 1. */
static void test_train_matches_pieces(void **state) {
    (void)state;
    const tc_model *m = &F.tc;
    const corpus_split *split[2] = {&F.train, &F.test};
    uint8_t *lab[2];
    for (int i = 0; i < 2; i++) {
        tl_pool p;
        assert_int_equal(tl_pool_make(&p, split[i], F.m.tok, NULL, 0, 12, F.o.seed + (i ? 1 : 2), "test"), 0);
        assert_int_equal(p.n_tok, m->pool[i].n_tok);
        assert_memory_equal(p.ids, m->pool[i].ids, sizeof(int) * (size_t)p.n_tok);
        float *V = tl_concept_values(&F.M, &p, &F.c);
        assert_non_null(V);
        lab[i] = malloc((size_t)p.n_tok);
        tl_label(&F.c, V, &p, split[i], TL_EXPAND_NONE, 0, lab[i]);
        assert_memory_equal(lab[i], m->lab[i], (size_t)p.n_tok);
        int pos = 0;
        for (int t = 0; t < p.n_tok; t++) pos += lab[i][t];
        assert_int_equal(pos, m->n_pos[i]);
        assert_true(pos > 0 && pos < p.n_tok);
        free(V);
        tl_pool_free(&p);
    }
    /* the residual classifier from rows captured on their own */
    const tl_pool *tr = &m->pool[TC_TRAIN], *te = &m->pool[TC_TEST];
    tl_acts a, b;
    assert_int_equal(tl_acts_run(&F.M, tr, (int[]){LAYER}, 1, -1, &a), 0);
    assert_int_equal(tl_acts_run(&F.M, te, (int[]){LAYER}, 1, -1, &b), 0);
    logreg ref;
    logreg_opts lo = logreg_defaults();
    assert_int_equal(logreg_fit(&ref, a.resid[0], tr->n_tok, 64, lab[0], &lo, NULL), 0);
    assert_true(max_abs(ref.w, m->clf[TL_CLF_RESID].w, 64) < 1e-5);
    assert_true(fabsf(ref.b - m->clf[TL_CLF_RESID].b) < 1e-5);
    float *p = malloc(sizeof(float) * (size_t)te->n_tok);
    logreg_score(&ref, b.resid[0], te->n_tok, p);
    assert_true(max_abs(p, m->score[TL_CLF_RESID], te->n_tok) < 1e-5);
    assert_true(fabs(probe_auc(m->score[TL_CLF_RESID], lab[1], te->n_tok) - m->auc[TL_CLF_RESID]) < 1e-12);
    /* the embedding-window classifier */
    float *E = tl_embed_features(&F.m, te, 1);
    logreg_score(&m->clf[TL_CLF_EMBED], E, te->n_tok, p);
    assert_true(max_abs(p, m->score[TL_CLF_EMBED], te->n_tok) < 1e-6);
    assert_int_equal(m->clf[TL_CLF_EMBED].d, 3 * 64);
    assert_true(isnan(m->acc_truth[0]) && isnan(m->lab_f1_truth)); /* no category */
    logreg_free(&ref);
    tl_acts_free(&a), tl_acts_free(&b);
    free(E), free(p), free(lab[0]), free(lab[1]);
}

/* 2. */
static void test_rank_and_hits(void **state) {
    (void)state;
    const tc_model *m = &F.tc;
    const tl_pool *te = &m->pool[TC_TEST];
    int n = tc_n_hits(m);
    assert_int_equal(n, te->n_tok);
    char *seen = calloc((size_t)n, 1);
    const float *s = m->score[m->o.features];
    for (int i = 0; i < n; i++) {
        assert_false(seen[m->rank[i]]);
        seen[m->rank[i]] = 1;
        if (i) assert_true(s[m->rank[i - 1]] >= s[m->rank[i]]);
        tc_hit h;
        assert_int_equal(tc_hit_at(m, i, 3, 2, &h), 0);
        assert_int_equal(h.t, m->rank[i]);
        int a = te->start[h.di], b = te->start[h.di + 1];
        assert_true(h.t >= a && h.t < b);
        assert_int_equal(h.w0, h.t - 3 > a ? h.t - 3 : a);
        assert_int_equal(h.w1, h.t + 3 < b ? h.t + 3 : b);
    }
    tc_hit h;
    assert_int_equal(tc_hit_at(m, n, 3, 2, &h), -1);
    assert_int_equal(tc_hit_at(m, -1, 3, 2, &h), -1);
    free(seen);
}

/* 3. */
static void test_prefix_scores_as_pool(void **state) {
    (void)state;
    const tc_model *m = &F.tc;
    const tl_pool *te = &m->pool[TC_TEST];
    for (int i = 0; i < 8; i++) {
        tc_hit h;
        assert_int_equal(tc_hit_at(m, i, 12, 4, &h), 0);
        const corpus_doc *d = &F.test.docs[te->doc[h.di]];
        corpus_doc pre = {d->text, (size_t)te->end[h.w1 - 1], NULL, NULL};
        corpus_split one = {&pre, 1, pre.len};
        tl_pool p;
        assert_int_equal(tl_pool_text(&p, &pre, F.m.tok, 256, "test"), 0);
        int k = te->pos[h.t];
        assert_true(k < p.n_tok);
        assert_int_equal(p.ids[k], te->ids[h.t]);
        uint8_t *lab = malloc((size_t)p.n_tok);
        float *sc = malloc(sizeof(float) * (size_t)p.n_tok);
        assert_int_equal(tc_score_pool(m, &F.M, &p, &one, lab, sc), 0);
        assert_true(fabsf(sc[k] - m->score[m->o.features][h.t]) < 1e-5);
        assert_int_equal(lab[k], m->lab[TC_TEST][h.t]);
        free(lab), free(sc);
        tl_pool_free(&p);
    }
}

/* 4. */
static void test_long_text_pool(void **state) {
    (void)state;
    char text[4096] = "";
    for (int i = 0; i < 40; i++) strcat(text, "the quick brown fox jumps; ");
    corpus_doc d = {text, strlen(text), NULL, NULL};
    tl_pool p, q;
    assert_int_equal(tl_pool_text(&p, &d, F.m.tok, 250, "test"), 0);
    assert_true(p.n_tok > TL_MAX_TOKENS && p.n_tok <= 250);
    assert_int_equal(p.n_docs, 1);
    assert_int_equal(p.start[1], p.n_tok);
    assert_int_equal(p.off[0], 0);
    for (int t = 1; t < p.n_tok; t++) assert_int_equal(p.off[t], p.end[t - 1]);
    assert_int_equal(tl_pool_text(&q, &d, F.m.tok, TL_MAX_TOKENS, "test"), 0);
    float *V = tl_concept_values(&F.M, &p, &F.c), *W = tl_concept_values(&F.M, &q, &F.c);
    assert_non_null(V), assert_non_null(W);
    assert_true(max_abs(V, W, TL_MAX_TOKENS * F.c.n) < 1e-4); /* causal: the first 128 agree */
    free(V), free(W);
    tl_pool_free(&p), tl_pool_free(&q);
    assert_int_equal(tl_pool_text(&p, &(corpus_doc){"", 0, NULL, NULL}, F.m.tok, 10, "test"), -1);
    assert_non_null(strstr(ms_geterr(), "no tokens"));
}

static int count_lines(const char *path) {
    uint8_t *b;
    size_t n;
    if (ms_read_file(path, &b, &n)) return -1;
    int k = 0;
    for (size_t i = 0; i < n; i++) k += b[i] == '\n';
    free(b);
    return k;
}

/* 5. */
static void test_export(void **state) {
    (void)state;
    char dir[64] = "/tmp/ms_concept_XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    char sub[96];
    snprintf(sub, sizeof sub, "%s/out", dir);
    assert_int_equal(tc_export(&F.tc, sub, &F.train, &F.test, MODEL, NULL, "some/sae"), 0);
    for (int k = 0; k < TL_CLF_N; k++) {
        snprintf(path, sizeof path, "%s/classifier-%s.safetensors", sub, TL_CLF_NAME[k]);
        logreg r;
        assert_int_equal(tl_clf_read(path, &r), 0);
        assert_int_equal(r.d, F.tc.clf[k].d);
        assert_memory_equal(r.w, F.tc.clf[k].w, sizeof(float) * (size_t)r.d);
        assert_memory_equal(r.mu, F.tc.clf[k].mu, sizeof(float) * (size_t)r.d);
        assert_memory_equal(r.sd, F.tc.clf[k].sd, sizeof(float) * (size_t)r.d);
        assert_true(r.b == F.tc.clf[k].b);
        logreg_free(&r);
        st_file f;
        assert_int_equal(st_open(&f, path), 0);
        assert_string_equal(st_meta(&f, "format"), "metascope-token-classifier-1");
        assert_string_equal(st_meta(&f, "features"), TL_CLF_NAME[k]);
        assert_string_equal(st_meta(&f, "layer"), k == TL_CLF_RESID ? "1" : "embed");
        assert_string_equal(st_meta(&f, "unit_families"), "resid,sae");
        assert_string_equal(st_meta(&f, "threshold"), "0.5");
        assert_string_equal(st_meta(&f, "sae"), "some/sae");
        assert_null(st_meta(&f, "glp"));
        char units[256];
        tl_concept_str(&F.c, units, sizeof units);
        assert_string_equal(st_meta(&f, "concept"), units);
        assert_non_null(strstr(st_meta(&f, "unit_thresholds"), ",1e+09"));
        st_close(&f);
    }
    snprintf(path, sizeof path, "%s/labels-train.jsonl.lz4", sub);
    assert_int_equal(count_lines(path), F.tc.pool[TC_TRAIN].n_docs);
    snprintf(path, sizeof path, "%s/labels-test.jsonl.lz4", sub);
    assert_int_equal(count_lines(path), F.tc.pool[TC_TEST].n_docs);
    assert_int_equal(tl_clf_read("/nonexistent/classifier.safetensors", &(logreg){0}), -1);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* 6. */
static void test_refuses_no_positive(void **state) {
    (void)state;
    tl_concept c = {.n = 1, .u = {{PF_RESID, 0, -1, 1e9f}}};
    tc_model m;
    assert_int_equal(tc_train(&m, &F.M, &F.train, &F.test, &c, &F.o, NULL, NULL), -1);
    assert_non_null(strstr(ms_geterr(), "labels none of the"));
    assert_null(m.rank);
    assert_null(m.lab[0]);
}

/* 7. the session word, with the tiny corpus as the assets' corpus */
static char g_out[1 << 16];
static size_t g_len;
static void sink(void *ctx, const char *text, size_t len) {
    (void)ctx;
    if (g_len + len < sizeof g_out) memcpy(g_out + g_len, text, len), g_len += len, g_out[g_len] = 0;
}
static int run(session *S, const char *cmd) {
    g_len = 0, g_out[0] = 0;
    int rc = sess_exec(S, cmd);
    if (rc) fprintf(stderr, "%s: %s\n", cmd, ms_geterr());
    return rc;
}

static void test_session(void **state) {
    (void)state;
    char dir[64] = "/tmp/ms_concept_XXXXXX", cwd[512], corpus[640], sub[128], cmd[256];
    assert_non_null(mkdtemp(dir));
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(corpus, sizeof corpus, "%s/%s", cwd, CORPUS);
    snprintf(sub, sizeof sub, "%s/corpus", dir);
    assert_int_equal(symlink(corpus, sub), 0);
    setenv("METASCOPE_ASSETS", dir, 1);
    session S;
    sess_init(&S, sink, NULL);
    assert_int_equal(sess_load_model(&S, MODEL), 0);
    S.layer = LAYER;
    concept_info ci;
    assert_false(concept_active(&S, &ci));
    snprintf(cmd, sizeof cmd, "concept half resid:0>%g --docs 6", F.c.u[0].thr);
    assert_int_equal(run(&S, cmd), 0);
    assert_non_null(strstr(g_out, "concept half = resid:0>"));
    assert_true(concept_active(&S, &ci));
    assert_string_equal(ci.name, "half");
    assert_false(ci.trained);
    assert_int_equal(concept_n_hits(&S), 0);
    /* a prompt: labels without scores until trained; BOS is no token of the concept's */
    assert_int_equal(run(&S, "prompt the quick brown fox jumps over the lazy dog"), 0);
    int n = S.n_prompt, b = sess_use_bos(&S) ? 1 : 0;
    int8_t *lab = malloc((size_t)n);
    float *score = malloc(sizeof(float) * (size_t)n);
    assert_int_equal(concept_prompt(&S, lab, score, "test"), 0);
    if (b) assert_int_equal(lab[0], -1);
    for (int t = b; t < n; t++) assert_true(lab[t] == 0 || lab[t] == 1), assert_true(isnan(score[t]));
    assert_int_equal(concept_train(&S, "test"), 0);
    assert_true(concept_active(&S, &ci) && ci.trained);
    assert_true(ci.test_tok > 0 && ci.train_pos > 0);
    assert_string_equal(ci.clf, "resid@1");
    assert_int_equal(concept_prompt(&S, lab, score, "test"), 0);
    for (int t = b; t < n; t++) assert_true(score[t] >= 0 && score[t] <= 1);
    /* the hit text as a prompt puts the hit at the position it names */
    concept_hit h;
    int pos;
    assert_int_equal(concept_hit_get(&S, 0, &h), 0);
    char *text = concept_hit_text(&S, 0, &pos);
    assert_non_null(text);
    assert_int_equal(pos, h.pos);
    assert_int_equal(sess_set_prompt(&S, text, "test"), 0);
    assert_int_equal(S.prompt_ids[b + pos], h.ids[h.peak]);
    free(text);
    /* listing, JSON, top, off */
    assert_int_equal(run(&S, "concept"), 0);
    assert_non_null(strstr(g_out, "* half "));
    S.json = true;
    assert_int_equal(run(&S, "concept top 3"), 0);
    assert_non_null(strstr(g_out, "\"what\":\"top\""));
    assert_non_null(strstr(g_out, "\"rank\":3"));
    assert_null(strstr(g_out, "\"rank\":4"));
    S.json = false;
    assert_int_equal(run(&S, "concept off"), 0);
    assert_false(concept_active(&S, &ci));
    assert_int_equal(run(&S, "concept top"), -1);
    assert_non_null(strstr(ms_geterr(), "no active concept"));
    /* activation again; a model load makes the classifier stale */
    assert_int_equal(run(&S, "concept half"), 0);
    assert_non_null(strstr(g_out, "classifier resid@1: AUC"));
    assert_int_equal(sess_load_model(&S, MODEL), 0);
    assert_true(concept_active(&S, &ci));
    assert_false(ci.trained);
    /* names and options */
    assert_int_equal(run(&S, "concept top resid:1"), -1);
    assert_int_equal(run(&S, "concept a,b resid:1"), -1);
    assert_non_null(strstr(ms_geterr(), "no ':', ','"));
    assert_int_equal(run(&S, "concept a:b resid:1"), -1); /* a1 is read as units */
    assert_non_null(strstr(ms_geterr(), "unexpected 'resid:1'"));
    assert_int_equal(run(&S, "concept x resid:1 --features nope"), -1);
    assert_non_null(strstr(ms_geterr(), "--features takes resid or embed"));
    assert_int_equal(run(&S, "concept x resid:1 --auto noun.act"), -1);
    assert_non_null(strstr(ms_geterr(), "not both"));
    assert_int_equal(run(&S, "concept resid:2>0.5"), 0);
    assert_non_null(strstr(g_out, "concept resid:2>0.5 = resid:2>0.5 (active)"));
    sess_free(&S);
    free(lab), free(score);
    unsetenv("METASCOPE_ASSETS");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_matches_pieces), cmocka_unit_test(test_rank_and_hits),
        cmocka_unit_test(test_prefix_scores_as_pool), cmocka_unit_test(test_long_text_pool),
        cmocka_unit_test(test_export),                cmocka_unit_test(test_refuses_no_positive),
        cmocka_unit_test(test_session),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
