/* test_labels.c — token labels and the distilled classifier:
 * 1. the logistic loss's gradient against central finite differences;
 * 2. the fitted classifier (weights, standardization, loss, probabilities)
 *    against the numpy reference of tools/gen_label_fixture.py;
 * 3. precision / recall / F1, the Youden threshold and the AUC against it;
 * 4. labels (no expansion, window:1, word) of hand-made documents against it;
 * 5. parsing concepts, and the sibling prefix of a category. */
#include "testutil.h"
#include "gradcheck.h"
#include "refcheck.h"

#include "logreg.h"
#include "rng.h"
#include "tlabel.h"

#define LAB_FIX FIXTURES "/labels/ref.safetensors"

typedef struct {
    const float *Z;
    int n, d;
    const uint8_t *y;
    float *w, *b;
} lr_ctx;

static double lr_loss(void *ctx) {
    lr_ctx *c = ctx;
    return logreg_loss_grad(c->Z, c->n, c->d, c->y, c->w, *c->b, 0.01f, 2.5f, NULL, NULL);
}

static void test_gradient(void **state) {
    (void)state;
    rng_t r;
    rng_seed(&r, 7);
    int n = 30, d = 5;
    float *Z = vec((size_t)n * d), *w = vec((size_t)d), *gw = vec((size_t)d), b = 0.3f, gb;
    uint8_t y[30];
    fill(Z, (size_t)n * d, 1, &r), fill(w, (size_t)d, 0.5f, &r);
    for (int i = 0; i < n; i++) y[i] = rng_below(&r, 3) == 0;
    logreg_loss_grad(Z, n, d, y, w, b, 0.01f, 2.5f, gw, &gb);
    lr_ctx c = {Z, n, d, y, w, &b};
    assert_true(fd_check("logreg dL/dw", w, gw, (size_t)d, 0, 1e-2f, 1e-3, lr_loss, &c, &r) < 1e-2);
    assert_true(fd_check("logreg dL/db", &b, &gb, 1, 0, 1e-2f, 1e-3, lr_loss, &c, &r) < 1e-2);
    free(Z), free(w), free(gw);
}

static uint8_t *bytes_of(st_file *f, const char *name, size_t *n) {
    float *v = ref_get(f, name, n);
    uint8_t *u = malloc(*n + 1);
    for (size_t i = 0; i < *n; i++) u[i] = v[i] != 0;
    free(v);
    return u;
}

static void test_fit_reference(void **state) {
    (void)state;
    st_file f;
    assert_int_equal(st_open(&f, LAB_FIX), 0);
    size_t nx, ny;
    float *X = ref_get(&f, "X", &nx);
    uint8_t *y = bytes_of(&f, "y", &ny);
    int n = (int)ny, d = (int)(nx / ny);
    logreg m;
    logreg_opts o = logreg_defaults();
    double loss;
    assert_int_equal(logreg_fit(&m, X, n, d, y, &o, &loss), 0);
    assert_true(check("logreg weights", m.w, &f, "w", (size_t)d) < 1e-4);
    assert_true(check("logreg mean", m.mu, &f, "mu", (size_t)d) < 1e-5);
    assert_true(check("logreg sd", m.sd, &f, "sd", (size_t)d) < 1e-5);
    assert_true(check("logreg bias", &m.b, &f, "b", 1) < 1e-4);
    float l = (float)loss, *p = vec((size_t)n);
    assert_true(check("logreg loss", &l, &f, "loss", 1) < 1e-5);
    logreg_score(&m, X, n, p);
    assert_true(check("logreg probabilities", p, &f, "prob", (size_t)n) < 1e-4);
    /* metrics of p > 0.5 */
    uint8_t *pred = malloc((size_t)n);
    for (int i = 0; i < n; i++) pred[i] = p[i] > 0.5f;
    double pr, re, f1;
    tl_prf(pred, y, n, &pr, &re, &f1);
    float got[3] = {(float)pr, (float)re, (float)f1};
    assert_true(check("precision, recall, F1", got, &f, "prf", 3) < 1e-6);
    size_t nv;
    float *v = ref_get(&f, "v", &nv);
    double J;
    float thr[2];
    thr[0] = tl_best_threshold(v, y, n, &J), thr[1] = (float)J;
    assert_true(check("Youden threshold, J", thr, &f, "thr", 2) < 1e-6);
    float a = (float)probe_auc(v, y, n);
    assert_true(check("AUC", &a, &f, "auc", 1) < 1e-6);
    logreg_free(&m);
    free(X), free(y), free(p), free(pred), free(v);
    st_close(&f);
}

static void test_labels_reference(void **state) {
    (void)state;
    static const char *toks[2][8] = {{"The", " ban", "ana", " is", " ripe", ".", " Eat", " it"},
                                     {"Apple", "s", " and", " pe", "ars", "!", " ok", NULL}};
    char text[2][64];
    corpus_doc docs[2];
    tl_pool p = {0};
    int start[3] = {0}, doc[2] = {0, 1}, off[16], end[16], ids[16] = {0}, pos[16];
    for (int di = 0, t = 0; di < 2; di++) {
        size_t at = 0;
        for (int k = 0; k < 8 && toks[di][k]; k++, t++) {
            size_t m = strlen(toks[di][k]);
            memcpy(text[di] + at, toks[di][k], m);
            off[t] = (int)at, end[t] = (int)(at + m), pos[t] = k, at += m;
            start[di + 1] = t + 1;
        }
        text[di][at] = 0;
        docs[di] = (corpus_doc){text[di], at, NULL, NULL};
    }
    corpus_split s = {docs, 2, 0};
    p.n_docs = 2, p.n_tok = start[2], p.doc = doc, p.start = start, p.off = off, p.end = end, p.ids = ids, p.pos = pos;
    st_file f;
    assert_int_equal(st_open(&f, LAB_FIX), 0);
    size_t nV, nt;
    float *V = ref_get(&f, "V", &nV), *thr = ref_get(&f, "unit_thr", &nt);
    assert_int_equal(nV, (size_t)p.n_tok * 2);
    tl_concept c = {.n = 2};
    c.u[0] = (tl_unit){PF_SAE, 1, -1, thr[0]}, c.u[1] = (tl_unit){PF_SAE, 2, -1, thr[1]};
    static const char *names[3] = {"lab_none", "lab_window", "lab_word"};
    static const int modes[3] = {TL_EXPAND_NONE, TL_EXPAND_WINDOW, TL_EXPAND_WORD};
    uint8_t lab[16];
    for (int k = 0; k < 3; k++) {
        size_t n;
        uint8_t *ref = bytes_of(&f, names[k], &n);
        assert_int_equal(n, (size_t)p.n_tok);
        tl_label(&c, V, &p, &s, modes[k], 1, lab);
        printf("# labels %-10s", names[k] + 4);
        for (int t = 0; t < p.n_tok; t++) printf("%d", lab[t]);
        printf("\n");
        assert_memory_equal(lab, ref, n);
        free(ref);
    }
    free(V), free(thr);
    st_close(&f);
}

static void test_parse(void **state) {
    (void)state;
    tl_concept c;
    assert_int_equal(tl_parse_concept("sae:18,meta:1:7>0.5,mlp:3:40,resid:5>-1", &c, "t"), 0);
    assert_int_equal(c.n, 4);
    assert_int_equal(c.u[0].fam, PF_SAE), assert_int_equal(c.u[0].a, 18);
    assert_int_equal(c.u[1].fam, PF_META), assert_int_equal(c.u[1].b, 7);
    assert_true(c.u[1].thr == 0.5f && c.u[3].thr == -1.0f);
    char buf[256];
    tl_concept_str(&c, buf, sizeof buf);
    assert_string_equal(buf, "sae:18>0,meta:1:7>0.5,mlp:3:40>0,resid:5>-1");
    assert_int_equal(tl_parse_concept("sae:1:2", &c, "t"), -1);
    assert_int_equal(tl_parse_concept("meta:1", &c, "t"), -1);
    assert_int_equal(tl_parse_concept("foo:1", &c, "t"), -1);
    assert_int_equal(tl_parse_concept("sae:1>x", &c, "t"), -1);
    assert_int_equal(tl_parse_concept("", &c, "t"), -1);
    char sib[32];
    tl_siblings("noun.food", sib, sizeof sib), assert_string_equal(sib, "noun.");
    tl_siblings("fortunes/science", sib, sizeof sib), assert_string_equal(sib, "fortunes/");
    tl_siblings("misc", sib, sizeof sib), assert_string_equal(sib, "");
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_gradient), cmocka_unit_test(test_fit_reference),
                                       cmocka_unit_test(test_labels_reference), cmocka_unit_test(test_parse)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
