/* test_index.c — the top-activating examples index (engine/index*.c).
 *
 * One index is built over the tiny corpus with the tiny Llama, a random GLP
 * and a random TopK SAE, then checked against a brute-force recomputation
 * that runs every segment on its own: each unit's max equals its top-1
 * example, density and histogram counts are exact, windows hold the unit's
 * values, SAE logits and correlation partners agree with direct formulas.
 * Then: the reader's round trip and labels, and corrupted, truncated or
 * inconsistent files failing with one-line errors naming the file. */
#include "testutil.h"

#include "index.h"
#include "ops.h"
#include "util.h"

#include <unistd.h>

#define MODEL FIXTURES "/models/llama_tiny"
#define CORPUS FIXTURES "/corpus_tiny"
#define LAYER 1
#define TOKENS 1500

typedef struct {
    char dir[64], ix[128];
    tf_model m;
    glp_model g;
    sae_model s;
} fixture;

static fixture F;

static int setup(void **st) {
    (void)st;
    snprintf(F.dir, sizeof F.dir, "/tmp/ms_index_XXXXXX");
    if (!mkdtemp(F.dir) || tf_load(&F.m, MODEL)) return -1;
    snprintf(F.ix, sizeof F.ix, "%s/ix", F.dir);
    rng_t r;
    rng_seed(&r, 7);
    glp_config gc = {.d_input = 64, .d_model = 96, .d_mlp = 80, .n_layers = 2};
    sae_config sc = {.d_in = 64, .n_latents = 256, .k = 8, .arch = SAE_TOPK, .apply_b_dec_to_input = true};
    if (glp_init(&F.g, &gc) || sae_init(&F.s, &sc)) return -1;
    glp_init_random(&F.g, &r);
    sae_init_random(&F.s, &r);
    for (int j = 0; j < 256; j++) F.s.p.b_enc[j] = 0.05f; /* more latents fire */
    sae_set_layer(&F.s, LAYER);
    index_opts o;
    index_opts_default(&o);
    o.model = &F.m, o.bos = true, o.glp = &F.g, o.glp_layer = LAYER, o.sae = &F.s, o.mlp_layer = LAYER;
    o.corpus = CORPUS, o.tokens = TOKENS, o.K = 6, o.before = 3, o.after = 2, o.bands = 3, o.per_band = 2;
    o.out = F.ix, o.model_path = MODEL;
    index_result res;
    if (index_build(&o, &res)) return fprintf(stderr, "build: %s\n", ms_geterr()), -1;
    return res.tokens == TOKENS && res.units == 256 + 160 + F.m.c.d_ff && res.cross ? 0 : -1;
}

static int teardown(void **st) {
    (void)st;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", F.dir);
    if (system(cmd)) return -1;
    tf_free(&F.m), glp_free(&F.g), sae_free(&F.s);
    return 0;
}

/* ---------------------------------------------------------------- brute force */

typedef struct {
    float *dst;
    int w;
} grab;
static void grab_fn(void *ctx, int layer, int pos0, int n, float *x, int dim) {
    grab *g = ctx;
    memcpy(g->dst + (size_t)pos0 * g->w, x, sizeof(float) * (size_t)n * dim);
}

/* All units' values over one segment: vals[len][U] (SAE, meta, MLP). */
static void segment_values(const ms_index *ix, int s, float *vals) {
    int n = ix->seg_len[s], d = 64, ff = F.m.c.d_ff, dm = F.g.c.d_mlp, U = ix->n_units, L = F.s.c.n_latents;
    float *h = malloc(sizeof(float) * n * d), *mlp = malloc(sizeof(float) * n * ff), *eps = malloc(sizeof(float) * n * d);
    float *meta = malloc(sizeof(float) * 2 * n * dm), *z = malloc(sizeof(float) * n * L), *xn = malloc(sizeof(float) * n * d);
    tf_state st;
    assert_int_equal(tf_state_init(&st, &F.m, 256), 0);
    grab gh = {h, d}, gm = {mlp, ff};
    tf_add_hook(&st, (tf_hook){HOOK_RESID, LAYER, grab_fn, &gh});
    tf_add_hook(&st, (tf_hook){HOOK_MLP, LAYER, grab_fn, &gm});
    assert_int_equal(tf_forward(&F.m, &st, ix->stream + ix->seg_start[s], n, LOGITS_NONE, NULL), 0);
    for (int p = 0; p < n; p++) index_meta_noise(ix->seed, s, p, eps + (size_t)p * d, d);
    glp_work *gw = glp_work_new(&F.g.c, 64);
    sae_work *sw = sae_work_new(&F.s, 64);
    glp_normalize(&F.g, xn, h, n);
    assert_int_equal(glp_meta_neurons(&F.g, gw, meta, xn, eps, n, -1), 0);
    assert_int_equal(sae_encode_dense(&F.s, sw, h, n, z), 0);
    for (int p = 0; p < n; p++) {
        float *v = vals + (size_t)p * U;
        memcpy(v, z + (size_t)p * L, sizeof(float) * L);
        for (int b = 0; b < 2; b++) memcpy(v + L + b * dm, meta + ((size_t)b * n + p) * dm, sizeof(float) * dm);
        memcpy(v + L + 2 * dm, mlp + (size_t)p * ff, sizeof(float) * ff);
    }
    glp_work_free(gw), sae_work_free(sw), tf_state_free(&st);
    free(h), free(mlp), free(eps), free(meta), free(z), free(xn);
}

typedef struct {
    int U;
    float *max;
    uint64_t *npos;
    uint32_t *hist;
    float **seg_vals; /* per segment [len][U] */
} brute;

static void brute_force(const ms_index *ix, brute *b) {
    int U = b->U = ix->n_units;
    b->max = malloc(sizeof(float) * U), b->npos = calloc(U, 8), b->hist = calloc((size_t)U * INDEX_HIST_BINS, 4);
    b->seg_vals = calloc(ix->n_seg, sizeof(float *));
    for (int u = 0; u < U; u++) b->max[u] = -INFINITY;
    for (int s = 0; s < ix->n_seg; s++) {
        b->seg_vals[s] = malloc(sizeof(float) * ix->seg_len[s] * U);
        segment_values(ix, s, b->seg_vals[s]);
        for (int p = 1; p < ix->seg_len[s]; p++)
            for (int u = 0; u < U; u++) {
                float v = b->seg_vals[s][(size_t)p * U + u];
                if (v > b->max[u]) b->max[u] = v;
                if (v > 0) b->npos[u]++, b->hist[(size_t)u * INDEX_HIST_BINS + index_hist_bin(v)]++;
            }
    }
}

static void brute_free(const ms_index *ix, brute *b) {
    for (int s = 0; s < ix->n_seg; s++) free(b->seg_vals[s]);
    free(b->seg_vals), free(b->max), free(b->npos), free(b->hist);
}

static void check_unit(const ms_index *ix, const brute *b, int u) {
    ix_record r;
    assert_int_equal(index_read(ix, u, &r), 0);
    assert_int_equal(r.unit, u);
    assert_true(r.n_pos == b->npos[u]);
    /* Counts are exact but for values within rounding of a bin edge (a power
     * of two): the brute force runs the GLP and SAE one segment at a time,
     * the builder a whole batch, so their products round differently, and a
     * tiny meta-neuron value near 2^-15 can land on either side. Allow one
     * count to move to a neighbouring bin. */
    const uint32_t *bh = b->hist + (size_t)u * INDEX_HIST_BINS;
    int moved = 0, first = -1;
    for (int i = 0; i < INDEX_HIST_BINS; i++)
        if (r.hist[i] != bh[i]) {
            assert_true(abs((int)r.hist[i] - (int)bh[i]) == 1 && (first < 0 || i == first + 1));
            first = first < 0 ? i : first, moved++;
        }
    assert_true(moved == 0 || moved == 2);
    bool sae = u < F.s.c.n_latents;
    if (!sae || b->npos[u]) { /* a latent that never fires has no examples */
        assert_true(r.n_top >= 1);
        assert_float_equal(r.ex[0].value, b->max[u], 1e-5 * fabsf(b->max[u]) + 1e-7);
        assert_float_equal(r.max, b->max[u], 1e-5 * fabsf(b->max[u]) + 1e-7);
    }
    assert_float_equal(ix->table[u].density, (double)b->npos[u] / ix->tokens, 1e-6);
    for (int i = 0; i < r.n_top + r.n_quant; i++) {
        const ix_example *e = &r.ex[i];
        if (i && i < r.n_top) assert_true(e->value <= r.ex[i - 1].value);
        assert_true(e->pos >= 1 && e->value <= r.max);
        const float *sv = b->seg_vals[e->seg];
        assert_float_equal(sv[(size_t)e->pos * ix->n_units + u], e->value, 1e-5 * fabsf(e->value) + 1e-7);
        for (int j = 0; j < e->n; j++) { /* the window, stored as f16 */
            float want = sv[(size_t)(e->w0 + j) * ix->n_units + u];
            if (sae && want < 0) want = 0;
            assert_float_equal(e->vals[j], want, 2e-3 * fabsf(want) + 1e-6);
        }
        if (i >= r.n_top) assert_true(e->value > 0 && e->band >= 1 && e->band <= ix->bands);
    }
    index_record_free(&r);
}

/* Whether token v can read as output alone (the index skips lone control
 * bytes, partial UTF-8 bytes and ids without bytes). */
static bool readable(int v) {
    size_t n;
    const char *b = tok_bytes(F.m.tok, v, &n);
    unsigned char c = b && n == 1 ? (unsigned char)b[0] : 0;
    return b && !(n == 1 && ((c < 0x20 && c != '\n' && c != '\t') || c >= 0x7f));
}

/* The first positive logit of latent l: max over readable tokens of
 * W_dec[l] . lm_head[v]. */
static void check_logits(const ms_index *ix, int l) {
    ix_record r;
    assert_int_equal(index_read(ix, l, &r), 0);
    assert_int_equal(r.n_plus, INDEX_LOGITS);
    float best = -INFINITY, worst = INFINITY, head[64];
    for (int v = 0; v < F.m.c.vocab; v++) {
        if (!readable(v)) continue;
        wmat_row(&F.m.head, v, head);
        float x = dot(F.s.p.W_dec + (size_t)l * 64, head, 64);
        best = x > best ? x : best, worst = x < worst ? x : worst;
    }
    assert_float_equal(r.logits[0].value, best, 1e-4);
    assert_float_equal(r.logits[r.n_plus].value, worst, 1e-4);
    index_record_free(&r);
}

/* Meta unit m's strongest partner has the largest |Pearson r| over all latents. */
static void check_cross(const ms_index *ix, const brute *b, int m) {
    int L = F.s.c.n_latents, U = ix->n_units;
    double best = 0;
    for (int l = 0; l < L; l++) {
        double N = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
        for (int s = 0; s < ix->n_seg; s++)
            for (int p = 1; p < ix->seg_len[s]; p++) {
                double x = b->seg_vals[s][(size_t)p * U + m], y = b->seg_vals[s][(size_t)p * U + l];
                y = y > 0 ? y : 0;
                N++, sx += x, sy += y, sxx += x * x, syy += y * y, sxy += x * y;
            }
        double vx = sxx - sx * sx / N, vy = syy - sy * sy / N;
        double r = vx > 0 && vy > 0 ? (sxy - sx * sy / N) / sqrt(vx * vy) : 0;
        if (fabs(r) > fabs(best)) best = r;
    }
    ix_record r;
    assert_int_equal(index_read(ix, m, &r), 0);
    assert_true(r.n_cross >= 1);
    assert_true(r.cross[0].unit < L);
    assert_float_equal(r.cross[0].r, best, 2e-3);
    index_record_free(&r);
}

static void test_build_matches_brute_force(void **st) {
    (void)st;
    ms_index ix;
    assert_int_equal(index_open(&ix, F.ix), 0);
    assert_int_equal(ix.n_groups, 4);
    assert_int_equal(ix.tokens, TOKENS);
    brute b;
    brute_force(&ix, &b);
    int fired = 0;
    for (int u = 0; u < ix.n_units; u++) check_unit(&ix, &b, u), fired += u < 256 && b.npos[u] > 0;
    assert_true(fired > 10);
    for (int l = 0; l < 256; l += 37) check_logits(&ix, l);
    for (int m = 256; m < 256 + 160; m += 23) check_cross(&ix, &b, m);
    brute_free(&ix, &b);
    index_close(&ix);
}

/* ---------------------------------------------------------------- round trip */

static void test_units_and_labels(void **st) {
    (void)st;
    ms_index ix;
    assert_int_equal(index_open(&ix, F.ix), 0);
    assert_int_equal(index_unit_id(ix.groups, ix.n_groups, "sae:3", "t"), 3);
    assert_int_equal(index_unit_id(ix.groups, ix.n_groups, "meta:1:2", "t"), 256 + 80 + 2);
    assert_int_equal(index_unit_id(ix.groups, ix.n_groups, "mlp:1:0", "t"), 256 + 160);
    assert_int_equal(index_unit_id(ix.groups, ix.n_groups, "mlp:2:0", "t"), -1);
    assert_non_null(strstr(ms_geterr(), "no mlp:2:0 units"));
    assert_int_equal(index_unit_id(ix.groups, ix.n_groups, "sae:256", "t"), -1);
    assert_int_equal(index_unit_id(ix.groups, ix.n_groups, "meta:x", "t"), -1);
    char name[32];
    index_unit_name(ix.groups, ix.n_groups, 256 + 80 + 2, name, sizeof name);
    assert_string_equal(name, "meta:1:2");
    assert_int_equal(index_set_label(&ix, 5, "cats and dogs"), 0);
    assert_int_equal(index_set_label(&ix, 300, "second"), 0);
    assert_int_equal(index_set_label(&ix, 300, "bad\tlabel"), -1);
    index_close(&ix);
    assert_int_equal(index_open(&ix, F.ix), 0);
    assert_string_equal(ix.labels[5], "cats and dogs");
    assert_string_equal(ix.labels[300], "second");
    assert_null(ix.labels[6]);
    assert_int_equal(index_set_label(&ix, 5, NULL), 0);
    assert_int_equal(index_set_label(&ix, 300, ""), 0);
    index_close(&ix);
    assert_int_equal(index_open(&ix, F.ix), 0);
    assert_null(ix.labels[5]);
    assert_null(ix.labels[300]);
    ix_record r; /* every record also carries an automatic label */
    assert_int_equal(index_read(&ix, 256, &r), 0);
    assert_non_null(r.auto_label);
    bool is_auto = false;
    assert_string_equal(index_label(&ix, 256, &r, &is_auto), r.auto_label);
    assert_true(is_auto);
    assert_int_equal(index_set_label(&ix, 256, "mine"), 0);
    assert_string_equal(index_label(&ix, 256, &r, &is_auto), "mine");
    assert_false(is_auto);
    assert_int_equal(index_set_label(&ix, 256, NULL), 0);
    index_record_free(&r);
    index_close(&ix);
}

/* The accessors the explorer's panes use: groups by kind, units as text. */
static void test_group_accessors(void **st) {
    (void)st;
    ms_index ix;
    assert_int_equal(index_open(&ix, F.ix), 0);
    const ix_group *g = index_find_group(ix.groups, ix.n_groups, IX_META);
    assert_non_null(g);
    assert_int_equal(g->first, 256);
    assert_int_equal(g->block, 0);
    assert_int_equal(index_find_group(ix.groups, ix.n_groups, IX_SAE)->count, 256);
    assert_null(index_find_group(ix.groups, 1, IX_MLP));
    char text[256], want[256];
    index_units_text(ix.groups, ix.n_groups, text, sizeof text);
    snprintf(want, sizeof want, "sae:0..255, meta:0:0..79, meta:1:0..79, mlp:1:0..%d", F.m.c.d_ff - 1);
    assert_string_equal(text, want);
    index_units_text(ix.groups, ix.n_groups, text, 12); /* truncated, still a string */
    assert_int_equal(strlen(text), 11);
    index_close(&ix);
}

static void test_record_round_trip(void **st) {
    (void)st;
    float vals[3] = {0.5f, 1.25f, -2};
    ix_example ex = {4, 6, 1.25f, 0, 5, 3, vals};
    ix_logit lg[2] = {{7, 3.5f}, {9, -1}};
    ix_partner cp = {11, -0.75f};
    ix_record r = {.unit = 2, .n_pos = 41, .max = 1.25f, .mean_pos = 0.5f, .n_top = 1, .ex = &ex, .n_plus = 1,
                   .n_minus = 1, .logits = lg, .n_cross = 1, .cross = &cp, .auto_label = "words"};
    r.hist[3] = 17;
    ix_buf b = {0};
    index_encode_record(&b, &r);
    ix_record d;
    assert_int_equal(index_decode_record(b.buf, b.len, &d, "mem"), 0);
    assert_true(d.unit == 2 && d.n_pos == 41 && d.max == 1.25f && d.hist[3] == 17 && d.n_top == 1);
    assert_true(d.ex[0].seg == 4 && d.ex[0].pos == 6 && d.ex[0].n == 3 && d.ex[0].vals[2] == -2);
    assert_true(d.logits[1].token == 9 && d.cross[0].unit == 11 && d.cross[0].r == -0.75f);
    assert_string_equal(d.auto_label, "words");
    index_record_free(&d);
    for (size_t n = 0; n < b.len; n += 7) { /* every truncation fails cleanly */
        assert_int_equal(index_decode_record(b.buf, n, &d, "mem"), -1);
        index_record_free(&d);
    }
    free(b.buf);
}

/* ---------------------------------------------------------------- corruption */

static char *copy_index(const char *name) {
    static char dst[160];
    char cmd[800];
    snprintf(dst, sizeof dst, "%s/%s", F.dir, name);
    snprintf(cmd, sizeof cmd, "rm -rf %s && cp -r %s %s && rm -f %s/labels.tsv", dst, F.ix, dst, dst);
    assert_int_equal(system(cmd), 0);
    return dst;
}

/* Overwrites n bytes at off (off < 0: from the end) of dir/name, or truncates
 * it to `cut` bytes when bytes is NULL. */
static void patch(const char *dir, const char *name, long off, const void *bytes, size_t n, long cut) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!bytes) {
        assert_int_equal(truncate(path, cut), 0);
        return;
    }
    FILE *f = fopen(path, "r+b");
    if (!f) f = fopen(path, "wb");
    assert_non_null(f);
    fseek(f, off, off < 0 ? SEEK_END : SEEK_SET);
    fwrite(bytes, 1, n, f);
    fclose(f);
}

static void expect_open_error(const char *dir, const char *file, const char *what) {
    ms_index ix;
    assert_int_equal(index_open(&ix, dir), -1);
    const char *e = ms_geterr();
    if (!strstr(e, file) || !strstr(e, what) || strchr(e, '\n')) fail_msg("unexpected error: %s", e);
}

static void test_corrupt_records(void **st) {
    (void)st;
    char *d = copy_index("trunc");
    patch(d, "records.bin", 0, NULL, 0, 1000);
    expect_open_error(d, "records.bin", "truncated");
    d = copy_index("magic");
    patch(d, "records.bin", 0, "XXXX", 4, 0);
    expect_open_error(d, "records.bin", "not an index records file");
    d = copy_index("offset");
    uint64_t far = 1ull << 40;
    patch(d, "records.bin", 24 + 24 * 7, &far, 8, 0); /* unit 7's offset */
    expect_open_error(d, "records.bin", "unit 7's record lies outside the file");
    d = copy_index("len");
    uint32_t big = 1u << 30;
    patch(d, "records.bin", 24 + 24 * 3 + 8, &big, 4, 0); /* unit 3's compressed length */
    expect_open_error(d, "records.bin", "outside the file");
    d = copy_index("units");
    uint32_t n = 5;
    patch(d, "records.bin", 12, &n, 4, 0);
    expect_open_error(d, "records.bin", "records hold 5 units");
    /* A damaged block: the index opens, reading that unit fails (lz4 checksum). */
    d = copy_index("block");
    patch(d, "records.bin", -40, "garbage!garbage!", 16, 0);
    ms_index ix;
    assert_int_equal(index_open(&ix, d), 0);
    ix_record r;
    assert_int_equal(index_read(&ix, ix.n_units - 1, &r), -1);
    assert_non_null(strstr(ms_geterr(), "records.bin"));
    assert_int_equal(index_read(&ix, 0, &r), 0); /* the others still read */
    index_record_free(&r);
    index_close(&ix);
}

static void test_corrupt_other_files(void **st) {
    (void)st;
    char *d = copy_index("tokens");
    patch(d, "tokens.safetensors.lz4", 0, NULL, 0, 100);
    expect_open_error(d, "tokens.safetensors.lz4", "");
    d = copy_index("manifest");
    patch(d, "manifest.json", 0, "{\"format\": \"metascope-index\", \"version\": 1}\n", 44, 0);
    patch(d, "manifest.json", 0, NULL, 0, 44);
    expect_open_error(d, "manifest.json", "'units'");
    d = copy_index("manifest2");
    patch(d, "manifest.json", 0, NULL, 0, 50);
    expect_open_error(d, "manifest.json", "JSON");
    d = copy_index("labels");
    patch(d, "labels.tsv", 0, "sae:999999\tx\n", 13, 0);
    expect_open_error(d, "labels.tsv", "sae:999999");
    expect_open_error(F.dir, "manifest.json", "");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_matches_brute_force), cmocka_unit_test(test_units_and_labels),
        cmocka_unit_test(test_record_round_trip),         cmocka_unit_test(test_corrupt_records),
        cmocka_unit_test(test_corrupt_other_files),       cmocka_unit_test(test_group_accessors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
