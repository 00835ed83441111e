/* test_transformer.c — the C engine against the plain-PyTorch reference
 * (tools/gen_model_fixtures.py, float64) on three small random models: Llama
 * with llama3 RoPE scaling, GQA and tied embeddings; Llama in BF16, sharded,
 * untied, transformers-5 config; GPT-2 with Conv1D weights. Also hooks,
 * chunked prefill, KV-cache decoding, NLL and loader errors. */
#include "testutil.h"

#include "safetensors.h"
#include "sampler.h"
#include "transformer.h"
#include "util.h"
#include "wmat.h"

#include <sys/stat.h>
#include <unistd.h>

#define TOL 1e-4

typedef struct {
    tf_model m;
    st_file exp;
    int T, V, d, L, ff;
    int *tokens;
} fx;

static int *load_ids(const st_file *f, const char *name, int *n) {
    const st_tensor *t = st_find(f, name);
    assert_non_null(t);
    assert_int_equal(t->dtype, ST_I32);
    int *ids = malloc(t->nbytes + 4);
    memcpy(ids, t->data, t->nbytes);
    *n = (int)t->numel;
    return ids;
}

static float *load_f(const st_file *f, const char *name, size_t *n) {
    const st_tensor *t = st_find(f, name);
    if (!t) fprintf(stderr, "# missing %s\n", name);
    assert_non_null(t);
    float *p = malloc(t->numel * sizeof(float) + 4);
    assert_int_equal(st_to_f32(f, t, p, t->numel), 0);
    if (n) *n = t->numel;
    return p;
}

/* ||a-b||inf / ||b||inf: relative error at the scale of the values. */
static double rel_inf(const float *a, const float *b, size_t n) {
    double dm = 0, bm = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > dm || d != d) dm = d != d ? INFINITY : d;
        if (fabs(b[i]) > bm) bm = fabs(b[i]);
    }
    return dm / (bm > 0 ? bm : 1);
}

static void open_fx(fx *f, const char *name) {
    char dir[256], exp[300];
    snprintf(dir, sizeof dir, FIXTURES "/models/%s", name);
    snprintf(exp, sizeof exp, "%s/expected.safetensors", dir);
    if (tf_load(&f->m, dir)) fprintf(stderr, "# %s\n", ms_geterr());
    assert_non_null(f->m.tok_embed.data);
    assert_int_equal(st_open(&f->exp, exp), 0);
    f->tokens = load_ids(&f->exp, "tokens", &f->T);
    f->V = f->m.c.vocab;
    f->d = f->m.c.d_model;
    f->L = f->m.c.n_layers;
    f->ff = f->m.c.d_ff;
}

static void close_fx(fx *f) {
    free(f->tokens);
    st_close(&f->exp);
    tf_free(&f->m);
}

typedef struct {
    float *buf;
    int width;
} cap_t;

static void cap_hook(void *ctx, int layer, int pos0, int n, float *x, int dim) {
    cap_t *c = ctx;
    memcpy(c->buf + ((size_t)layer * 64 + pos0) * c->width, x, sizeof(float) * (size_t)n * dim);
}

typedef struct {
    const float *vec;
    const int *pos;
    int npos;
} add_t;

static void add_hook(void *ctx, int layer, int pos0, int n, float *x, int dim) {
    add_t *a = ctx;
    for (int i = 0; i < a->npos; i++)
        if (a->pos[i] >= pos0 && a->pos[i] < pos0 + n)
            for (int j = 0; j < dim; j++) x[(size_t)(a->pos[i] - pos0) * dim + j] += a->vec[j];
}

static void check_model(const char *name, int chunk) {
    fx f;
    open_fx(&f, name);
    tf_state s;
    tf_state_init(&s, &f.m, 0);
    if (chunk) s.cap = chunk; /* smaller chunks than allocated exercise the chunked prefill */
    /* Full-sequence logits, block outputs and MLP neurons, all in one pass. */
    cap_t rc = {calloc((size_t)f.L * 64 * f.d, sizeof(float)), f.d};
    cap_t mc = {calloc((size_t)f.L * 64 * f.ff, sizeof(float)), f.ff};
    for (int l = 0; l < f.L; l++) {
        tf_add_hook(&s, (tf_hook){HOOK_RESID, l, cap_hook, &rc});
        tf_add_hook(&s, (tf_hook){HOOK_MLP, l, cap_hook, &mc});
    }
    float *logits = malloc(sizeof(float) * (size_t)f.T * f.V);
    assert_int_equal(tf_forward(&f.m, &s, f.tokens, f.T, LOGITS_ALL, logits), 0);
    float *want = load_f(&f.exp, "logits", NULL);
    double e = rel_inf(logits, want, (size_t)f.T * f.V);
    fprintf(stderr, "# %s logits rel err %.2e\n", name, e);
    assert_true(e < TOL);
    float *resid = load_f(&f.exp, "resid", NULL), *mlp = load_f(&f.exp, "mlp", NULL);
    for (int l = 0; l < f.L; l++) {
        assert_true(rel_inf(rc.buf + (size_t)l * 64 * f.d, resid + (size_t)l * f.T * f.d, (size_t)f.T * f.d) < TOL);
        assert_true(rel_inf(mc.buf + (size_t)l * 64 * f.ff, mlp + (size_t)l * f.T * f.ff, (size_t)f.T * f.ff) < TOL);
    }
    tf_clear_hooks(&s);

    /* KV-cache decoding one token at a time reproduces each full-pass row. */
    tf_state_reset(&s);
    for (int t = 0; t < f.T; t++) {
        assert_int_equal(tf_forward(&f.m, &s, &f.tokens[t], 1, LOGITS_LAST, NULL), 0);
        assert_true(rel_inf(s.logits, want + (size_t)t * f.V, (size_t)f.V) < TOL);
    }
    /* Context overflow is an error, not a crash. */
    tf_state small;
    tf_state_init(&small, &f.m, 4);
    assert_int_equal(tf_forward(&f.m, &small, f.tokens, 5, LOGITS_LAST, NULL), -1);
    assert_non_null(strstr(ms_geterr(), "context full"));
    int bad = f.V;
    assert_int_equal(tf_forward(&f.m, &small, &bad, 1, LOGITS_LAST, NULL), -1);
    tf_state_free(&small);

    /* Per-token NLL. */
    float *nll = malloc(sizeof(float) * (size_t)f.T), *wn = load_f(&f.exp, "nll", NULL);
    assert_int_equal(tf_nll(&f.m, &s, f.tokens, f.T, nll), 0);
    assert_true(rel_inf(nll, wn, (size_t)f.T - 1) < TOL);

    /* Steering: add a vector to one block's output at chosen positions. */
    int nl, np;
    int *sl = load_ids(&f.exp, "steer_layer", &nl), *sp = load_ids(&f.exp, "steer_pos", &np);
    float *vec = load_f(&f.exp, "steer_vec", NULL), *ws = load_f(&f.exp, "logits_steer", NULL);
    add_t add = {vec, sp, np};
    tf_add_hook(&s, (tf_hook){HOOK_RESID, sl[0], add_hook, &add});
    tf_state_reset(&s);
    assert_int_equal(tf_forward(&f.m, &s, f.tokens, f.T, LOGITS_ALL, logits), 0);
    assert_true(rel_inf(logits, ws, (size_t)f.T * f.V) < TOL);
    assert_true(rel_inf(logits, want, (size_t)f.T * f.V) > 1e-3); /* the hook did something */
    tf_clear_hooks(&s);

    /* Greedy generation with the cache. */
    int pn, gn;
    int *prompt = load_ids(&f.exp, "gen_prompt", &pn), *greedy = load_ids(&f.exp, "gen_greedy", &gn);
    tf_state_reset(&s);
    assert_int_equal(tf_forward(&f.m, &s, prompt, pn, LOGITS_LAST, NULL), 0);
    for (int i = 0; i < gn; i++) {
        int next = argmax(s.logits, f.V);
        assert_int_equal(next, greedy[i]);
        assert_int_equal(tf_forward(&f.m, &s, &next, 1, LOGITS_LAST, NULL), 0);
    }

    /* The folder's tokenizer encodes the sample text as the reference does. */
    const st_tensor *tt = st_find(&f.exp, "text");
    int tn, *tids = load_ids(&f.exp, "text_ids", &tn), *got, gotn;
    assert_non_null(f.m.tok);
    assert_int_equal(tok_encode(f.m.tok, (const char *)tt->data, tt->numel, &got, &gotn), 0);
    assert_int_equal(gotn, tn);
    assert_memory_equal(got, tids, sizeof(int) * (size_t)tn);

    free(got), free(tids), free(prompt), free(greedy), free(sl), free(sp), free(vec), free(ws);
    free(nll), free(wn), free(resid), free(mlp), free(want), free(logits), free(rc.buf), free(mc.buf);
    tf_state_free(&s);
    close_fx(&f);
}

static void test_llama_tiny(void **st) { (void)st; check_model("llama_tiny", 0); }
static void test_llama_tiny_chunked(void **st) { (void)st; check_model("llama_tiny", 5); }
static void test_llama_bf16(void **st) { (void)st; check_model("llama_bf16", 0); }
static void test_gpt2_tiny(void **st) { (void)st; check_model("gpt2_tiny", 7); }

/* Matmul precision "medium": the BF16 Llama's per-token NLL against the
 * reference's (f32 activations) moves by the rounding of the activations to
 * BF16, within the stated tolerance MEDIUM_NLL (relative, mean over tokens);
 * under "highest" the same run is within TOL (check_model). */
#define MEDIUM_NLL 1e-3 /* measured 1.4e-4; worst single token 1.4e-3 */
static void test_llama_bf16_medium(void **st) {
    (void)st;
    fx f;
    open_fx(&f, "llama_bf16");
    tf_state s;
    tf_state_init(&s, &f.m, 0);
    float *nll = malloc(sizeof(float) * (size_t)f.T), *wn = load_f(&f.exp, "nll", NULL);
    wmat_set_precision(WM_PREC_MEDIUM);
    assert_int_equal(tf_nll(&f.m, &s, f.tokens, f.T, nll), 0);
    wmat_set_precision(WM_PREC_HIGHEST);
    double a = 0, b = 0, worst = rel_inf(nll, wn, (size_t)f.T - 1);
    for (int t = 0; t < f.T - 1; t++) a += nll[t], b += wn[t];
    double rel = fabs(a - b) / b;
    fprintf(stderr, "# llama_bf16 medium: mean NLL %.6f vs %.6f (rel %.2e), worst token rel %.2e%s\n", a / (f.T - 1),
            b / (f.T - 1), rel, worst, wmat_bf16_dot_available() ? "" : " (no AVX-512 BF16: exact path)");
    assert_true(rel < MEDIUM_NLL);
    if (wmat_bf16_dot_available()) assert_true(worst > 0); /* the mode did something */
    free(nll), free(wn);
    tf_state_free(&s);
    close_fx(&f);
}

static void test_config_flavours(void **st) {
    (void)st;
    tf_model m;
    assert_int_equal(tf_load(&m, FIXTURES "/models/llama_tiny"), 0);
    assert_true(m.c.rope_llama3);
    assert_true(m.c.tied);
    assert_int_equal(m.c.n_kv_heads, 2);
    assert_true(m.head.data == m.tok_embed.data);
    tf_free(&m);
    assert_int_equal(tf_load(&m, FIXTURES "/models/llama_bf16"), 0);
    assert_false(m.c.tied);
    assert_int_equal(m.c.head_dim, 32);
    assert_true(fabs(m.c.rope_theta - 10000.0) < 1e-9);
    tf_free(&m);
}

/* Copies a fixture folder into a temp dir so a test can break one file. */
static char *copy_fixture(const char *name) {
    char *dir = strdup("/tmp/ms_tf_XXXXXX"), cmd[512];
    assert_non_null(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "cp " FIXTURES "/models/%s/* %s/", name, dir);
    assert_int_equal(system(cmd), 0);
    return dir;
}

static void put(const char *dir, const char *file, const char *text) {
    char *p = ms_path_join(dir, file);
    assert_int_equal(ms_write_file_atomic(p, text, strlen(text)), 0);
    free(p);
}

static void expect_load_error(const char *dir, const char *needle) {
    tf_model m;
    assert_int_equal(tf_load(&m, dir), -1);
    if (!strstr(ms_geterr(), needle)) {
        fprintf(stderr, "# '%s' lacks '%s'\n", ms_geterr(), needle);
        fail();
    }
}

static void test_load_errors(void **st) {
    (void)st;
    expect_load_error("/nonexistent/model", "not a model folder");
    char *dir = copy_fixture("gpt2_tiny"), cmd[600];
    put(dir, "config.json", "{\"model_type\": \"gpt2\", \"n_embd\": 64,");
    expect_load_error(dir, "truncated JSON");
    put(dir, "config.json", "{\"model_type\": \"bert\"}");
    expect_load_error(dir, "unsupported model_type 'bert'");
    put(dir, "config.json", "{\"model_type\":\"gpt2\",\"n_embd\":80,\"n_layer\":3,\"n_head\":4,\"vocab_size\":300,\"n_positions\":128}");
    expect_load_error(dir, "config needs");
    put(dir, "config.json", "{\"model_type\":\"gpt2\",\"n_embd\":64,\"n_layer\":4,\"n_head\":4,\"vocab_size\":300,\"n_positions\":128}");
    expect_load_error(dir, "missing tensor 'h.3.ln_1.weight'");
    put(dir, "config.json", "{\"model_type\":\"gpt2\",\"n_embd\":64,\"n_layer\":-3,\"n_head\":4,\"vocab_size\":300}");
    expect_load_error(dir, "out of range");
    put(dir, "config.json", "{\"model_type\":\"gpt2\",\"n_embd\":64,\"n_layer\":3,\"n_head\":5,\"vocab_size\":300}");
    expect_load_error(dir, "multiple");
    snprintf(cmd, sizeof cmd, "cp " FIXTURES "/models/gpt2_tiny/config.json %s/ && head -c 5000 " FIXTURES
             "/models/gpt2_tiny/model.safetensors > %s/model.safetensors", dir, dir);
    assert_int_equal(system(cmd), 0);
    expect_load_error(dir, "model.safetensors");
    snprintf(cmd, sizeof cmd, "rm %s/model.safetensors", dir);
    assert_int_equal(system(cmd), 0);
    expect_load_error(dir, "no model.safetensors");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
    /* A broken tokenizer is reported, not ignored. */
    dir = copy_fixture("llama_tiny");
    put(dir, "tokenizer.json", "{\"model\": {\"type\": \"Unigram\"}}");
    expect_load_error(dir, "tokenizer.json");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

/* Saving (f32 and f16, plain and lz4) and loading again keeps the model. */
static void test_save_roundtrip(void **st) {
    (void)st;
    tf_model a, b;
    assert_int_equal(tf_load(&a, FIXTURES "/models/llama_bf16"), 0);
    char dir[] = "/tmp/ms_save_XXXXXX", cmd[128];
    assert_non_null(mkdtemp(dir));
    int toks[6] = {5, 17, 200, 3, 99, 42};
    tf_state s;
    tf_state_init(&s, &a, 16);
    float *la = malloc(sizeof(float) * 6 * a.c.vocab), *lb = malloc(sizeof(float) * 6 * a.c.vocab);
    assert_int_equal(tf_forward(&a, &s, toks, 6, LOGITS_ALL, la), 0);
    tf_state_free(&s);
    for (int mode = 0; mode < 3; mode++) {
        bool half = mode == 2, lz4 = mode >= 1;
        assert_int_equal(tf_save_hf(&a, dir, half, lz4), 0);
        assert_int_equal(tf_load(&b, dir), 0);
        assert_int_equal(b.c.n_kv_heads, a.c.n_kv_heads);
        assert_int_equal(b.c.head_dim, a.c.head_dim);
        assert_int_equal(b.c.bos_id, a.c.bos_id);
        assert_false(b.c.tied);
        tf_state_init(&s, &b, 16);
        assert_int_equal(tf_forward(&b, &s, toks, 6, LOGITS_ALL, lb), 0);
        double e = rel_inf(lb, la, (size_t)6 * a.c.vocab);
        if (half) assert_true(e < 1e-2); /* bf16 weights rounded to f16 */
        else assert_true(e < 1e-6);      /* the same values; BF16 and F32 products add in other orders */
        int *ia, *ib, na, nb;
        assert_int_equal(tok_encode(a.tok, "It's 42!", 8, &ia, &na), 0);
        assert_int_equal(tok_encode(b.tok, "It's 42!", 8, &ib, &nb), 0);
        assert_int_equal(na, nb);
        assert_memory_equal(ia, ib, sizeof(int) * (size_t)na);
        free(ia), free(ib);
        tf_state_free(&s);
        tf_free(&b);
        snprintf(cmd, sizeof cmd, "rm -f %s/*", dir);
        assert_int_equal(system(cmd), 0);
    }
    rmdir(dir);
    free(la), free(lb);
    tf_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama_tiny),  cmocka_unit_test(test_llama_tiny_chunked),
        cmocka_unit_test(test_llama_bf16),  cmocka_unit_test(test_llama_bf16_medium),  cmocka_unit_test(test_gpt2_tiny),
        cmocka_unit_test(test_config_flavours), cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_save_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
