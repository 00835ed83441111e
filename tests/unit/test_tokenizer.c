/* test_tokenizer.c — byte-level BPE against tools/ref_bpe.py fixtures, round
 * trips, malformed files, the trainer, and saving/loading both layouts. */
#include "testutil.h"

#include "tokenizer.h"
#include "util.h"

#include <json-c/json.h>
#include <unistd.h>

#define TOKDIR FIXTURES "/tokenizer"

typedef struct {
    char *name;
    uint8_t *text;
    size_t len;
    int *ids[2]; /* gpt2, llama3 */
    int n[2];
} tcase;

static tcase *cases;
static int ncases;

static uint64_t rng_state = 0x853C49E6748FEA9Bull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static int hexval(char c) { return c <= '9' ? c - '0' : (c | 32) - 'a' + 10; }

static int *json_ints(json_object *a, int *n) {
    *n = (int)json_object_array_length(a);
    int *v = malloc(sizeof(int) * (size_t)(*n + 1));
    for (int i = 0; i < *n; i++) v[i] = json_object_get_int(json_object_array_get_idx(a, (size_t)i));
    return v;
}

static int load_cases(void **state) {
    (void)state;
    json_object *root = json_object_from_file(TOKDIR "/cases.json"), *arr;
    if (!root || !json_object_object_get_ex(root, "cases", &arr)) return -1;
    ncases = (int)json_object_array_length(arr);
    cases = calloc((size_t)ncases, sizeof(tcase));
    for (int i = 0; i < ncases; i++) {
        json_object *c = json_object_array_get_idx(arr, (size_t)i), *v;
        tcase *t = &cases[i];
        json_object_object_get_ex(c, "name", &v);
        t->name = strdup(json_object_get_string(v));
        json_object_object_get_ex(c, "hex", &v);
        const char *h = json_object_get_string(v);
        t->len = strlen(h) / 2;
        t->text = malloc(t->len + 1);
        for (size_t k = 0; k < t->len; k++) t->text[k] = (uint8_t)(hexval(h[2 * k]) << 4 | hexval(h[2 * k + 1]));
        json_object_object_get_ex(c, "gpt2", &v);
        t->ids[0] = json_ints(v, &t->n[0]);
        json_object_object_get_ex(c, "llama3", &v);
        t->ids[1] = json_ints(v, &t->n[1]);
    }
    json_object_put(root);
    return 0;
}

static int free_cases(void **state) {
    (void)state;
    for (int i = 0; i < ncases; i++) {
        free(cases[i].name);
        free(cases[i].text);
        free(cases[i].ids[0]);
        free(cases[i].ids[1]);
    }
    free(cases);
    return 0;
}

static tokenizer *must_load_dir(const char *dir) {
    tokenizer *t = tok_load_dir(dir);
    if (!t) fail_msg("%s", ms_geterr());
    return t;
}

static void assert_roundtrip(const tokenizer *t, const uint8_t *s, size_t n) {
    int *ids, k;
    char *back;
    size_t bl;
    assert_int_equal(tok_encode(t, (const char *)s, n, &ids, &k), 0);
    assert_int_equal(tok_decode(t, ids, k, &back, &bl), 0);
    assert_int_equal(bl, n);
    assert_memory_equal(back, s, n);
    assert_int_equal(back[bl], 0);
    free(ids);
    free(back);
}

/* Every fixture string gives the reference ids (layout 0 = GPT-2, 1 = Llama-3). */
static void check_cases(const tokenizer *t, int layout) {
    for (int i = 0; i < ncases; i++) {
        const tcase *c = &cases[i];
        int *ids, n;
        assert_int_equal(tok_encode(t, (const char *)c->text, c->len, &ids, &n), 0);
        int bad = n != c->n[layout];
        for (int k = 0; !bad && k < n; k++) bad = ids[k] != c->ids[layout][k];
        if (bad) {
            int k = 0;
            while (k < n && k < c->n[layout] && ids[k] == c->ids[layout][k]) k++;
            print_error("case %s: %d ids, expected %d; first difference at %d (%d vs %d)\n",
                        c->name, n, c->n[layout], k, k < n ? ids[k] : -1,
                        k < c->n[layout] ? c->ids[layout][k] : -1);
        }
        free(ids);
        assert_false(bad);
        assert_roundtrip(t, c->text, c->len);
    }
}

static void test_gpt2_files(void **state) {
    (void)state;
    tokenizer *t = tok_load_gpt2(TOKDIR "/gpt2/vocab.json", TOKDIR "/gpt2/merges.txt");
    if (!t) fail_msg("%s", ms_geterr());
    assert_int_equal(tok_vocab_size(t), 600);
    assert_int_equal(tok_bos(t), 599);
    assert_int_equal(tok_eos(t), 599);
    check_cases(t, 0);
    tok_free(t);
}

static void test_gpt2_json(void **state) {
    (void)state;
    tokenizer *t = must_load_dir(TOKDIR "/gpt2_json");
    assert_int_equal(tok_vocab_size(t), 600);
    assert_int_equal(tok_bos(t), 599);
    check_cases(t, 0);
    tok_free(t);
}

static void test_llama3_json(void **state) {
    (void)state;
    tokenizer *t = must_load_dir(TOKDIR "/llama3");
    assert_int_equal(tok_vocab_size(t), 605);
    assert_int_equal(tok_bos(t), 601); /* from the TemplateProcessing post-processor */
    assert_int_equal(tok_eos(t), 602);
    check_cases(t, 1);
    tok_free(t);
}

/* Merge ranks that contradict build order: GPT-2 finishes merging the best
 * pair everywhere before a lower-ranked pair made meanwhile gets its turn. */
static void test_inconsistent_ranks(void **state) {
    (void)state;
    tokenizer *t = must_load_dir(TOKDIR "/odd");
    json_object *root = json_object_from_file(TOKDIR "/cases.json"), *arr;
    assert_true(json_object_object_get_ex(root, "odd_cases", &arr));
    assert_true(json_object_array_length(arr) > 100);
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *c = json_object_array_get_idx(arr, i), *h, *v;
        json_object_object_get_ex(c, "hex", &h);
        json_object_object_get_ex(c, "ids", &v);
        const char *hex = json_object_get_string(h);
        size_t len = strlen(hex) / 2;
        char text[128];
        assert_true(len < sizeof text);
        for (size_t k = 0; k < len; k++) text[k] = (char)(hexval(hex[2 * k]) << 4 | hexval(hex[2 * k + 1]));
        int ne, n, *want = json_ints(v, &ne), *ids;
        tok_encode(t, text, len, &ids, &n);
        assert_int_equal(n, ne);
        assert_memory_equal(ids, want, sizeof(int) * (size_t)n);
        free(ids);
        free(want);
    }
    json_object_put(root);
    tok_free(t);
}

static void test_load_dir_gpt2(void **state) {
    (void)state;
    tokenizer *t = must_load_dir(TOKDIR "/gpt2");
    check_cases(t, 0);
    tok_free(t);
}

static void test_lookup_bytes_decode(void **state) {
    (void)state;
    tokenizer *t = must_load_dir(TOKDIR "/llama3");
    assert_int_equal(tok_lookup(t, "<|eot_id|>"), 603);
    assert_int_equal(tok_lookup(t, "\xc4\xa0supercalifragilisticexpialidocious"), 599); /* Ġsuper... */
    assert_int_equal(tok_lookup(t, "no such piece at all"), -1);
    int sp = tok_lookup(t, "\xc4\xa0"); /* Ġ = the space byte */
    size_t n;
    const char *b = tok_bytes(t, sp, &n);
    assert_non_null(b);
    assert_int_equal(n, 1);
    assert_int_equal(b[0], ' ');
    assert_null(tok_bytes(t, -1, &n));
    assert_null(tok_bytes(t, 605, &n));
    int bad[] = {1, 2, 9999};
    char *out;
    size_t len;
    assert_int_equal(tok_decode(t, bad, 3, &out, &len), -1);
    assert_non_null(strstr(ms_geterr(), "9999"));
    assert_int_equal(tok_decode(t, bad, 0, &out, &len), 0);
    assert_int_equal(len, 0);
    free(out);
    tok_free(t);
}

/* Random byte strings: raw bytes, UTF-8 fragments, added-token pieces. */
static size_t random_text(uint8_t *buf, size_t cap) {
    static const char *frags[] = {"the", " ", "  ", "\n", "\r\n", "\t", "'s", "'S", "123",
                                  "4567", "caf\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac",
                                  "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9", "\xe2\x82",
                                  "\xed\xa0\x80", "\xc0\x80", "\xff", "\x80", "<|endoftext|>",
                                  "<|eot_id|>", "<|", "|>", "!!", "token", " ization", "\xc3"};
    size_t n = 0, target = rnd() % cap;
    int mode = rnd() % 3;
    while (n < target) {
        if (mode == 0 || (mode == 2 && rnd() % 2)) {
            buf[n++] = (uint8_t)rnd();
        } else {
            const char *f = frags[rnd() % (sizeof frags / sizeof *frags)];
            size_t l = strlen(f);
            if (n + l > cap) break;
            memcpy(buf + n, f, l);
            n += l;
        }
    }
    return n;
}

static void test_random_roundtrip(void **state) {
    (void)state;
    tokenizer *t[3] = {must_load_dir(TOKDIR "/gpt2"), must_load_dir(TOKDIR "/gpt2_json"),
                       must_load_dir(TOKDIR "/llama3")};
    uint8_t buf[512];
    for (int i = 0; i < 1500; i++) {
        size_t n = random_text(buf, sizeof buf);
        for (int k = 0; k < 3; k++) assert_roundtrip(t[k], buf, n);
        /* the two GPT-2 layouts are the same tokenizer */
        int *a, *b, na, nb;
        tok_encode(t[0], (const char *)buf, n, &a, &na);
        tok_encode(t[1], (const char *)buf, n, &b, &nb);
        assert_int_equal(na, nb);
        assert_memory_equal(a, b, sizeof(int) * (size_t)na);
        free(a);
        free(b);
    }
    for (int k = 0; k < 3; k++) tok_free(t[k]);
}

/* Long runs: the regex must not run out of stack, nor BPE take quadratic time. */
static void test_long_runs(void **state) {
    (void)state;
    tokenizer *t[2] = {must_load_dir(TOKDIR "/gpt2"), must_load_dir(TOKDIR "/llama3")};
    size_t n = 1 << 20;
    uint8_t *buf = malloc(n);
    const char *fills[] = {" ", "a", "\xff", "\xe6\x97\xa5", "\n", "1", "!"};
    for (size_t f = 0; f < sizeof fills / sizeof *fills; f++) {
        size_t l = strlen(fills[f]), k = 0;
        for (; k + l <= n; k += l) memcpy(buf + k, fills[f], l);
        for (int i = 0; i < 2; i++) assert_roundtrip(t[i], buf, k);
    }
    free(buf);
    for (int i = 0; i < 2; i++) tok_free(t[i]);
}

/* ---- malformed files ---- */

static char tmpdir[64];

static char *tmp_write(const char *name, const void *data, size_t len) {
    char *p = ms_path_join(tmpdir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    return p;
}

static char *slurp(const char *path, size_t *len) {
    uint8_t *d;
    assert_int_equal(ms_read_file(path, &d, len), 0);
    return (char *)d;
}

/* Loading must fail, with a message naming the file and containing `what`. */
static void expect_json_error(const char *name, const char *json, const char *what) {
    char *p = tmp_write(name, json, strlen(json));
    ms_clearerr();
    tokenizer *t = tok_load_hf_json(p);
    if (t || !strstr(ms_geterr(), name) || !strstr(ms_geterr(), what))
        fail_msg("%s: got '%s', wanted '%s'", name, t ? "success" : ms_geterr(), what);
    unlink(p);
    free(p);
}

/* A minimal tokenizer.json; MODEL_REST lacks the opening brace, to prepend keys. */
#define MODEL_REST(v, m) "\"model\":{\"type\":\"BPE\",\"vocab\":" v ",\"merges\":" m "}," \
                         "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false}}"
#define MODEL(v, m) "{" MODEL_REST(v, m)

static void test_bad_inputs(void **state) {
    (void)state;
    strcpy(tmpdir, "/tmp/ms_tok_XXXXXX");
    assert_non_null(mkdtemp(tmpdir));

    ms_clearerr();
    assert_null(tok_load_hf_json("/nonexistent/tokenizer.json"));
    assert_non_null(strstr(ms_geterr(), "/nonexistent/tokenizer.json"));
    assert_null(tok_load_gpt2("/nonexistent/vocab.json", "/nonexistent/merges.txt"));
    assert_non_null(strstr(ms_geterr(), "vocab.json"));
    assert_null(tok_load_dir(tmpdir));
    assert_non_null(strstr(ms_geterr(), tmpdir));

    expect_json_error("empty.json", "", "empty");
    expect_json_error("bad.json", "{\"model\": [1, 2,, 3]}", "bad JSON");
    expect_json_error("trail.json", MODEL("{}", "[]") " x", "trailing");
    expect_json_error("notobj.json", "[1, 2]", "not a JSON object");
    expect_json_error("nomodel.json", "{\"version\": \"1.0\"}", "no model");
    expect_json_error("wordpiece.json", "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{}}}",
                      "unsupported model type 'WordPiece'");
    expect_json_error("unknown.json", MODEL("{\"a\":0,\"b\":1,\"ab\":2}", "[\"a b\",\"x b\"]"),
                      "merge 1 refers to unknown token 'x'");
    expect_json_error("notinvocab.json", MODEL("{\"a\":0,\"b\":1}", "[[\"a\",\"b\"]]"),
                      "'ab' is not in the vocabulary");
    expect_json_error("badmerge.json", MODEL("{\"a\":0,\"b\":1,\"ab\":2}", "[\"ab\"]"),
                      "merge 0 is not two tokens");
    expect_json_error("badmerge2.json", MODEL("{\"a\":0,\"b\":1,\"ab\":2}", "[[\"a\"]]"),
                      "merge 0 is neither");
    expect_json_error("badid.json", MODEL("{\"a\":-3}", "[]"), "out of range");
    expect_json_error("floatid.json", MODEL("{\"a\":1.5}", "[]"), "not an integer");
    expect_json_error("dupid.json", MODEL("{\"a\":0,\"b\":0}", "[]"), "used twice");
    expect_json_error("prefix.json", "{\"model\":{\"type\":\"BPE\",\"vocab\":{},\"merges\":[]},"
                      "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true}}",
                      "add_prefix_space");
    expect_json_error("nopretok.json", "{\"model\":{\"type\":\"BPE\",\"vocab\":{},\"merges\":[]}}",
                      "pre_tokenizer");
    expect_json_error("regex.json", "{\"model\":{\"type\":\"BPE\",\"vocab\":{},\"merges\":[]},"
                      "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":["
                      "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(\"},\"behavior\":\"Isolated\"},"
                      "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":false}]}}",
                      "regex");
    expect_json_error("norm.json", "{\"normalizer\":{\"type\":\"NFC\"}," MODEL_REST("{}", "[]"),
                      "normalizer 'NFC'");
    expect_json_error("added.json", "{\"added_tokens\":[{\"id\":0}]," MODEL_REST("{}", "[]"),
                      "content");
    /* an added token on the id of a vocabulary piece for other text (found by fuzzing) */
    expect_json_error("addedvocab.json", "{\"added_tokens\":[{\"id\":1,\"content\":\"<s>\"}]," MODEL_REST("{\"a\":0,\"b\":1}", "[]"),
                      "added token 1 '<s>' has the id of the vocabulary piece 'b', another text");
    /* ... the same text is fine (GPT-2's <|endoftext|> is both) */
    char *same = tmp_write("addedsame.json", "{\"added_tokens\":[{\"id\":1,\"content\":\"b\"}]," MODEL_REST("{\"a\":0,\"b\":1}", "[]"),
                           strlen("{\"added_tokens\":[{\"id\":1,\"content\":\"b\"}]," MODEL_REST("{\"a\":0,\"b\":1}", "[]")));
    tokenizer *ts = tok_load_hf_json(same);
    assert_non_null(ts);
    tok_free(ts);
    unlink(same);
    free(same);

    /* Truncated copies of the real files. */
    size_t len;
    char *full = slurp(TOKDIR "/llama3/tokenizer.json", &len);
    for (size_t cut = 1; cut < len; cut += len / 7) {
        char *p = tmp_write("cut.json", full, cut);
        assert_null(tok_load_hf_json(p));
        assert_non_null(strstr(ms_geterr(), "cut.json"));
        unlink(p);
        free(p);
    }
    char *p = tmp_write("tokenizer.json.lz4", full, len / 2); /* not lz4 at all */
    assert_null(tok_load_dir(tmpdir));
    assert_non_null(strstr(ms_geterr(), "tokenizer.json.lz4"));
    unlink(p);
    free(p);
    free(full);

    full = slurp(TOKDIR "/gpt2/vocab.json", &len);
    char *vp = tmp_write("vocab.json", full, len / 2);
    assert_null(tok_load_gpt2(vp, TOKDIR "/gpt2/merges.txt"));
    assert_non_null(strstr(ms_geterr(), "vocab.json"));
    free(vp);
    vp = tmp_write("vocab.json", full, len);
    free(full);
    full = slurp(TOKDIR "/gpt2/merges.txt", &len);
    const char *cut = full;
    for (int i = 0; i < 10; i++) cut = strchr(cut, '\n') + 1;
    char *mp = tmp_write("merges.txt", full, (size_t)(strchr(cut, ' ') - full)); /* "a" alone */
    assert_null(tok_load_gpt2(vp, mp));
    assert_non_null(strstr(ms_geterr(), "merges.txt"));
    free(mp);
    const char *bad = "#version: 0.2\n\n\xc4\xa0 t\r\nq zz\n";
    mp = tmp_write("merges.txt", bad, strlen(bad));
    assert_null(tok_load_gpt2(vp, mp));
    assert_non_null(strstr(ms_geterr(), "line 4 refers to unknown token 'zz'"));
    assert_non_null(strstr(ms_geterr(), "merges.txt"));
    unlink(mp);
    unlink(vp);
    free(mp);
    free(vp);
    free(full);
    rmdir(tmpdir);
}

/* Arbitrary bytes into the in-memory loader: errors, never crashes or leaks. */
static void test_mem_loader_garbage(void **state) {
    (void)state;
    size_t len;
    char *full = slurp(TOKDIR "/gpt2_json/tokenizer.json", &len);
    char *buf = malloc(len);
    for (int i = 0; i < 300; i++) {
        memcpy(buf, full, len);
        size_t n = len - (i % 3 == 0 ? rnd() % len : 0);
        for (int k = 0; k < 1 + i % 8; k++) buf[rnd() % n] = (char)rnd();
        tokenizer *t = tok_load_hf_json_mem(buf, n, "fuzz");
        if (t) {
            assert_roundtrip(t, (const uint8_t *)"fuzzed <|endoftext|> text \xff", 27);
            tok_free(t);
        } else {
            assert_non_null(strstr(ms_geterr(), "fuzz"));
        }
    }
    for (int i = 0; i < 300; i++) {
        size_t n = rnd() % 64;
        for (size_t k = 0; k < n; k++) buf[k] = "{}[]\":,0a \\u"[rnd() % 12];
        tok_free(tok_load_hf_json_mem(buf, n, "fuzz"));
    }
    free(buf);
    free(full);
}

/* ---- saving ---- */

static void assert_same_encoding(const tokenizer *a, const tokenizer *b, const uint8_t *s, size_t n) {
    int *x, *y, nx, ny;
    tok_encode(a, (const char *)s, n, &x, &nx);
    tok_encode(b, (const char *)s, n, &y, &ny);
    assert_int_equal(nx, ny);
    assert_memory_equal(x, y, sizeof(int) * (size_t)nx);
    free(x);
    free(y);
}

static void assert_same_on_cases(const tokenizer *a, const tokenizer *b) {
    assert_int_equal(tok_vocab_size(a), tok_vocab_size(b));
    assert_int_equal(tok_bos(a), tok_bos(b));
    assert_int_equal(tok_eos(a), tok_eos(b));
    for (int i = 0; i < ncases; i++) assert_same_encoding(a, b, cases[i].text, cases[i].len);
    uint8_t buf[256];
    for (int i = 0; i < 200; i++) {
        size_t n = random_text(buf, sizeof buf);
        assert_same_encoding(a, b, buf, n);
    }
    for (int id = 0; id < tok_vocab_size(a); id++) {
        size_t la, lb;
        const char *x = tok_bytes(a, id, &la), *y = tok_bytes(b, id, &lb);
        assert_true((x == NULL) == (y == NULL));
        if (x) {
            assert_int_equal(la, lb);
            assert_memory_equal(x, y, la);
        }
    }
}

static void test_save_reload(void **state) {
    (void)state;
    char dir[] = "/tmp/ms_toksave_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *js = ms_path_join(dir, "tokenizer.json"), *vj = ms_path_join(dir, "vocab.json"),
         *mt = ms_path_join(dir, "merges.txt"), *lz = ms_path_join(dir, "t.json.lz4");
    const char *srcs[] = {TOKDIR "/llama3", TOKDIR "/gpt2", TOKDIR "/gpt2_json"};
    for (int s = 0; s < 3; s++) {
        tokenizer *t = must_load_dir(srcs[s]);
        if (tok_save_hf_json(t, js)) fail_msg("%s", ms_geterr());
        tokenizer *u = tok_load_hf_json(js);
        if (!u) fail_msg("%s", ms_geterr());
        assert_same_on_cases(t, u);
        check_cases(u, s == 0);
        tok_free(u);
        assert_int_equal(tok_save_hf_json(t, lz), 0);
        u = tok_load_hf_json(lz);
        assert_non_null(u);
        assert_same_on_cases(t, u);
        tok_free(u);
        if (s > 0) {
            if (tok_save_gpt2(t, vj, mt)) fail_msg("%s", ms_geterr());
            u = tok_load_gpt2(vj, mt);
            if (!u) fail_msg("%s", ms_geterr());
            assert_same_on_cases(t, u);
            tok_free(u);
        } else {
            assert_int_equal(tok_save_gpt2(t, vj, mt), -1); /* custom regex does not fit */
        }
        tok_free(t);
    }
    unlink(js), unlink(vj), unlink(mt), unlink(lz);
    rmdir(dir);
    free(js), free(vj), free(mt), free(lz);
}

/* ---- trainer ---- */

static char *train_text(size_t *len) {
    static const char *words[] = {"the", "of", "and", "a", "to", "in", "is", "you", "that",
                                  "it", "he", "was", "for", "on", "are", "as", "with", "his",
                                  "they", "I", "at", "be", "this", "have", "from", "or", "one",
                                  "had", "by", "word", "but", "not", "what", "all", "were",
                                  "when", "we", "there", "can", "an", "your", "which", "their",
                                  "said", "if", "do", "will", "each", "about", "how", "up",
                                  "caf\xc3\xa9", "na\xc3\xafve", "\xe6\x97\xa5\xe6\x9c\xac",
                                  "don't", "it's", "42", "2024", "\xf0\x9f\x98\x80"};
    size_t cap = 1 << 16, n = 0;
    char *s = malloc(cap);
    rng_state = 12345;
    while (n < 6000) {
        const char *w = words[rnd() % (sizeof words / sizeof *words)];
        n += (size_t)snprintf(s + n, cap - n, "%s%s", w, rnd() % 9 ? " " : rnd() % 2 ? ".\n" : ", ");
    }
    for (int i = 0; i < ncases; i++) { /* and every odd fixture string */
        memcpy(s + n, cases[i].text, cases[i].len);
        n += cases[i].len;
    }
    n += (size_t)snprintf(s + n, cap - n, "<|endoftext|>the end<|endoftext|>");
    *len = n;
    return s;
}

static void test_train(void **state) {
    (void)state;
    size_t len;
    char *text = train_text(&len);
    const char *special[] = {"<|endoftext|>", "<|pad|>"};
    tokenizer *a = bpe_train(text, len, 700, special, 2);
    if (!a) fail_msg("%s", ms_geterr());
    tokenizer *b = bpe_train(text, len, 700, special, 2);
    assert_non_null(b);
    assert_int_equal(tok_vocab_size(a), 700);
    assert_int_equal(tok_bos(a), 698);
    assert_int_equal(tok_eos(a), 698);
    assert_int_equal(tok_lookup(a, "<|pad|>"), 699);
    for (int id = 0; id < 256; id++) { /* id == byte */
        size_t n;
        const char *p = tok_bytes(a, id, &n);
        assert_int_equal(n, 1);
        assert_int_equal((uint8_t)p[0], id);
    }
    assert_same_on_cases(a, b); /* deterministic */
    assert_roundtrip(a, (const uint8_t *)text, len);
    int *ids, n;
    tok_encode(a, text, len, &ids, &n);
    assert_true(n < (int)len / 2); /* it learned something */
    int eot = 0, want = 0;
    for (int i = 0; i < n; i++) eot += ids[i] == 698;
    for (const char *q = text; (q = memmem(q, len - (size_t)(q - text), "<|endoftext|>", 13)); q++)
        want++;
    assert_int_equal(eot, want); /* specials are split out, not learned */
    assert_true(want >= 2);
    free(ids);

    char dir[] = "/tmp/ms_toktrain_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *js = ms_path_join(dir, "tokenizer.json"), *vj = ms_path_join(dir, "vocab.json"),
         *mt = ms_path_join(dir, "merges.txt");
    assert_int_equal(tok_save_hf_json(a, js), 0);
    assert_int_equal(tok_save_gpt2(a, vj, mt), 0);
    tokenizer *h = tok_load_hf_json(js), *g = tok_load_gpt2(vj, mt);
    if (!h || !g) fail_msg("%s", ms_geterr());
    assert_same_on_cases(a, h);
    assert_same_on_cases(a, g);
    assert_same_encoding(a, h, (const uint8_t *)text, len);
    assert_same_encoding(a, g, (const uint8_t *)text, len);
    tok_free(h), tok_free(g);
    unlink(js), unlink(vj), unlink(mt);
    rmdir(dir);
    free(js), free(vj), free(mt);
    tok_free(a), tok_free(b);
    free(text);
}

static void test_train_ties_and_limits(void **state) {
    (void)state;
    /* pairs (' ','a') (a,b) (x,y) all occur twice: the smallest bytes win */
    const char *s = "xy xy ab ab";
    tokenizer *t = bpe_train(s, strlen(s), 257, NULL, 0);
    assert_non_null(t);
    size_t n;
    const char *p = tok_bytes(t, 256, &n);
    assert_int_equal(n, 2);
    assert_memory_equal(p, " a", 2);
    assert_int_equal(tok_bos(t), -1);
    tok_free(t);
    /* too little text to fill the vocabulary: it stops early */
    t = bpe_train("aaaa", 4, 1000, NULL, 0);
    assert_non_null(t);
    assert_true(tok_vocab_size(t) < 1000);
    assert_roundtrip(t, (const uint8_t *)"aaaaaaa", 7);
    tok_free(t);
    t = bpe_train("", 0, 300, NULL, 0);
    assert_non_null(t);
    assert_int_equal(tok_vocab_size(t), 256);
    tok_free(t);
    assert_null(bpe_train("abc", 3, 200, NULL, 0));
    assert_non_null(strstr(ms_geterr(), "bpe_train"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpt2_files),
        cmocka_unit_test(test_gpt2_json),
        cmocka_unit_test(test_llama3_json),
        cmocka_unit_test(test_load_dir_gpt2),
        cmocka_unit_test(test_inconsistent_ranks),
        cmocka_unit_test(test_lookup_bytes_decode),
        cmocka_unit_test(test_random_roundtrip),
        cmocka_unit_test(test_long_runs),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_mem_loader_garbage),
        cmocka_unit_test(test_save_reload),
        cmocka_unit_test(test_train),
        cmocka_unit_test(test_train_ties_and_limits),
    };
    return cmocka_run_group_tests(tests, load_cases, free_cases);
}
