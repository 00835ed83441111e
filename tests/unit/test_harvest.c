/* test_harvest.c — harvested rows against a direct forward pass with a
 * residual hook: same values (to f16 rounding), tokens, documents and
 * positions, shard boundaries inside windows, the EOS rows left out unless
 * asked for, and the statistics file. */
#include "testutil.h"

#include "corpus.h"
#include "half.h"
#include "harvest.h"
#include "safetensors.h"
#include "transformer.h"
#include "util.h"

#include <unistd.h>

#define MODEL FIXTURES "/models/llama_tiny"
#define CORPUS FIXTURES "/corpus_tiny"

typedef struct {
    float *buf;
    int d;
} cap;

static void hook(void *ctx, int layer, int pos0, int n, float *x, int dim) {
    cap *c = ctx;
    memcpy(c->buf + (size_t)pos0 * c->d, x, sizeof(float) * (size_t)n * dim);
}

static void rm_tree(const char *dir, long shards) {
    for (long k = 0; k < shards; k++) {
        char *p = harvest_shard_path(dir, k);
        unlink(p);
        free(p);
    }
    const char *names[] = {"stats.safetensors", "manifest.json"};
    for (int i = 0; i < 2; i++) {
        char *p = ms_path_join(dir, names[i]);
        unlink(p);
        free(p);
    }
    rmdir(dir);
}

static void rows_match_forward(bool keep_eos) {
    char dir[] = "/tmp/ms-harvest-XXXXXX";
    assert_non_null(mkdtemp(dir));
    enum { ROWS = 600, SHARD = 250, LAYER = 1 };
    FILE *quiet = fopen("/dev/null", "w");
    assert_non_null(quiet);
    harvest_opts o = {MODEL, CORPUS, "valid", dir, LAYER, ROWS, SHARD, true, quiet, false, NULL, keep_eos};
    harvest_result r;
    assert_int_equal(harvest(&o, &r), 0);
    assert_int_equal(r.rows, ROWS);
    assert_int_equal(r.shards, 3);

    tf_model m;
    assert_int_equal(tf_load(&m, MODEL), 0);
    int d = m.c.d_model, T = m.c.max_seq;
    corpus_split s;
    assert_int_equal(corpus_load(&s, CORPUS, "valid"), 0);
    int *ids;
    size_t n;
    assert_int_equal(corpus_tokenize(&s, m.tok, m.c.eos_id, &ids, &n), 0);
    corpus_free(&s);
    tf_state st;
    assert_int_equal(tf_state_init(&st, &m, T), 0);
    cap c = {malloc(sizeof(float) * (size_t)T * d), d};
    tf_add_hook(&st, (tf_hook){HOOK_RESID, LAYER, hook, &c});

    /* The expected stream position of every row, written out plainly. */
    size_t *want_at = malloc(sizeof(size_t) * ROWS);
    long nwant = 0, eos_seen = 0;
    for (size_t i = 0; i < n && nwant < ROWS; i++) {
        if (i % (size_t)T == 0) continue;
        if (ids[i] == m.c.eos_id) {
            eos_seen++;
            if (!keep_eos) continue;
        }
        want_at[nwant++] = i;
    }
    assert_int_equal(nwant, ROWS);
    assert_true(eos_seen > 0); /* the split has documents to separate */

    double *sum = calloc((size_t)d * 2, sizeof(double)), *sq = sum + d;
    float *row = malloc(sizeof(float) * d);
    long w_have = -1, at = 0, eos_rows = 0;
    for (long k = 0; k < r.shards; k++) {
        char *p = harvest_shard_path(dir, k);
        st_file f;
        assert_int_equal(st_open(&f, p), 0);
        free(p);
        const st_tensor *A = st_find(&f, "acts"), *tk = st_find(&f, "tokens"), *ps = st_find(&f, "pos");
        const st_tensor *dc = st_find(&f, "doc");
        assert_true(A && tk && ps && dc && A->dtype == ST_F16 && tk->dtype == ST_I32);
        for (long j = 0; j < A->shape[0]; j++, at++) {
            long w = (long)(want_at[at] / (size_t)T);
            int pos = (int)(want_at[at] % (size_t)T);
            if (w != w_have) { /* a fresh full window, run once */
                tf_state_reset(&st);
                assert_int_equal(tf_forward(&m, &st, ids + (size_t)w * T, T, LOGITS_NONE, NULL), 0);
                w_have = w;
            }
            f16_to_f32_n(A->data + (size_t)j * d * 2, row, (size_t)d);
            for (int i = 0; i < d; i++) {
                float want = f16_to_f32(f32_to_f16(c.buf[(size_t)pos * d + i]));
                assert_true(fabsf(row[i] - want) <= 2e-3f * fabsf(want) + 1e-4f);
                sum[i] += row[i], sq[i] += (double)row[i] * row[i];
            }
            int32_t tok, ps_, doc;
            memcpy(&tok, tk->data + 4 * j, 4), memcpy(&ps_, ps->data + 4 * j, 4), memcpy(&doc, dc->data + 4 * j, 4);
            assert_int_equal(tok, ids[(size_t)w * T + pos]);
            eos_rows += tok == m.c.eos_id;
            assert_int_equal(ps_, pos);
            int want_doc = 0;
            for (size_t q = 0; q < (size_t)w * T + pos; q++) want_doc += ids[q] == m.c.eos_id;
            assert_int_equal(doc, want_doc);
        }
        st_close(&f);
    }
    assert_int_equal(at, ROWS);
    if (keep_eos) assert_true(eos_rows > 0);
    else assert_int_equal(eos_rows, 0);

    harvest_info h;
    assert_int_equal(harvest_info_load(&h, dir), 0);
    assert_int_equal(h.d, d);
    assert_int_equal(h.layer, LAYER);
    assert_int_equal(h.rows, ROWS);
    for (int i = 0; i < d; i++) {
        double mu = sum[i] / ROWS, var = sq[i] / ROWS - mu * mu;
        assert_true(fabs(h.mean[i] - mu) <= 1e-5 * (1 + fabs(mu)));
        assert_true(fabs(h.var[i] - var) <= 1e-4 * (1 + var));
    }
    harvest_info_free(&h);

    /* A resumed run keeps finished shards and refuses a different layer. */
    o.layer = 2;
    assert_int_not_equal(harvest(&o, &r), 0);
    assert_non_null(strstr(ms_geterr(), "another model, layer or corpus"));
    o.layer = LAYER, o.resume = false;
    assert_int_not_equal(harvest(&o, &r), 0);
    assert_non_null(strstr(ms_geterr(), "use --resume"));

    free(sum), free(row), free(c.buf), free(ids), free(want_at);
    tf_state_free(&st);
    tf_free(&m);
    rm_tree(dir, 3);
    fclose(quiet);
}

static void test_rows_match_forward(void **state) {
    (void)state;
    rows_match_forward(false);
}

static void test_rows_match_forward_keep_eos(void **state) {
    (void)state;
    rows_match_forward(true);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_match_forward),
        cmocka_unit_test(test_rows_match_forward_keep_eos),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
