/* subcommands.c — bench, train-bpe, train-lm, harvest, train-glp, eval-lm: option parsing and
 * printing around the engine calls. */
#include "clierr.h"
#include "subcommands.h"
#include "bench.h"
#include "bench_glp.h"
#include "bench_sae.h"
#include "corpus.h"
#include "safetensors.h"
#include "eval_glp.h"
#include "frechet.h"
#include "glp_folder.h"
#include "glp_train.h"
#include "sae_train.h"
#include "scaling.h"
#include "harvest.h"
#include "lm_fisher.h"
#include "ops.h"
#include "tokenizer.h"
#include "train_lm.h"
#include "transformer_train.h"
#include "transformer.h"
#include "util.h"

#include "wmat.h"

#include <signal.h>
#include <math.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(const char *what) { return cli_error_at(what, NULL, 0); }

/* Tiny option table: --name VALUE pairs and --flag switches. */
typedef struct {
    const char *name;
    const char **str; /* string value */
    int *num;         /* integer value */
    int *flag;        /* switch */
} opt;

/* Whether the command word w (up to a space; "a|b" lists alternatives) names cmd. */
static bool names_cmd(const char *w, const char *cmd) {
    size_t cl = strlen(cmd);
    for (;;) {
        size_t n = strcspn(w, "| \n");
        if (n == cl && !strncmp(w, cmd, cl)) return true;
        if (w[n] != '|') return false;
        w += n + 1;
    }
}

void usage_of(const char *cmd, FILE *out) {
    bool in = false;
    for (const char *l = MS_USAGE; *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        const char *t = l + strspn(l, " ");
        if (!strncmp(t, "usage: ", 7)) t += 7;
        if (!strncmp(t, "metascope ", 10)) in = names_cmd(t + 10, cmd);
        else if (t == l + n || *l != ' ') in = false; /* a blank or unindented line ends a command */
        if (in) fprintf(out, "%.*s\n", (int)n, l);
        l += n + (e != NULL);
    }
}

static int parse_opts(int argc, char **argv, opt *o, const char **positional, const char *cmd) {
    for (int i = 1; i < argc; i++) {
        opt *hit = NULL;
        for (opt *p = o; p->name; p++)
            if (!strcmp(argv[i], p->name)) hit = p;
        if (!hit) {
            if (positional && !*positional && argv[i][0] != '-') {
                *positional = argv[i];
                continue;
            }
            return cli_errorf("unknown option '%s' (%s; see metascope --help)", argv[i], cmd), -1;
        }
        if (hit->flag) {
            *hit->flag = 1;
            continue;
        }
        if (i + 1 >= argc) {
            return cli_errorf("%s needs a value (%s)", argv[i], cmd), -1;
        }
        const char *v = argv[++i];
        if (hit->str) *hit->str = v;
        else {
            char *end;
            long x = strtol(v, &end, 10);
            if (*end || end == v || x < 0 || x > (1L << 30)) {
                return cli_errorf("%s needs a non-negative integer, not '%s' (%s)", argv[i - 1], v, cmd), -1;
            }
            *hit->num = (int)x;
        }
    }
    return 0;
}

static int cmd_bench(int argc, char **argv) {
    const char *model = NULL, *train = NULL, *precision = "highest";
    int prefill = 128, decode = 64, reps = 3, threads = 0, steps = 5, glp = 0, batch = 4096, d_in = 256;
    int calls = 200, rows = 0, sae = 0, latents = 4096, k = 32; /* rows 0: 1024 (--glp), 4096 (--sae) */
    int bandwidth = 0;
    opt o[] = {{"--model", &model, 0, 0}, {"--train", &train, 0, 0}, {"--prefill", 0, &prefill, 0},
               {"--decode", 0, &decode, 0}, {"--reps", 0, &reps, 0}, {"--threads", 0, &threads, 0},
               {"--steps", 0, &steps, 0}, {"--glp", 0, 0, &glp}, {"--batch", 0, &batch, 0},
               {"--d-in", 0, &d_in, 0}, {"--calls", 0, &calls, 0}, {"--rows", 0, &rows, 0},
               {"--sae", 0, 0, &sae}, {"--latents", 0, &latents, 0}, {"--k", 0, &k, 0},
               {"--bandwidth", 0, 0, &bandwidth}, {"--matmul-precision", &precision, 0, 0}, {0}};
    if (parse_opts(argc, argv, o, NULL, "bench")) return 2;
    wm_precision prec;
    if (wm_precision_parse(precision, &prec)) return fail("--matmul-precision takes highest or medium (bench)");
    wmat_set_precision(prec);
    ms_set_threads(threads);
    if (sae) { /* encode chunks of 1024 rows, as the index builder */
        if (d_in < 1 || latents < 1 || k < 1 || k > latents || rows < 0)
            return fail("--d-in, --latents and --k must be positive, k <= latents (bench)");
        bench_sae_opts so = {d_in, latents, k, rows ? rows : 4096, 1024, reps, 42};
        bench_sae_result r;
        if (bench_sae(&so, &r)) return fail(ms_geterr());
        printf("{\"encode_rows_s\": %.1f, \"decode_rows_s\": %.1f, \"fvu\": %.4f, \"d_in\": %d, \"latents\": %d, "
               "\"k\": %d, \"rows\": %d, \"threads\": %d}\n",
               r.encode_rows_s, r.decode_rows_s, r.fvu, d_in, latents, k, so.rows, ms_get_threads());
        return 0;
    }
    if (!rows) rows = 1024;
    if (glp) { /* reference widths 2·d_in, 4·d_in, 3 blocks; --reps repeats train and sample */
        if (d_in < 2 || batch < 1 || calls < 1 || rows < 1)
            return fail("--d-in, --batch, --calls and --rows must be positive (bench)");
        bench_glp_opts go = {d_in, 2 * d_in, 4 * d_in, 3, batch, reps, calls, rows, 20, 42};
        bench_glp_result r;
        if (bench_glp(&go, &r)) return fail(ms_geterr());
        printf("{\"train_acts_s\": %.1f, \"project_ms\": %.4f, \"project_best_ms\": %.4f, \"sample_rows_s\": %.1f, "
               "\"loss\": %.4f, \"d_in\": %d, \"batch\": %d, \"threads\": %d}\n",
               r.train_acts_s, r.project_ms, r.project_best_ms, r.sample_rows_s, r.loss, d_in, batch,
               ms_get_threads());
        return 0;
    }
    if (train) {
        train_cfg c;
        tf_train_bench_result r;
        if (train_cfg_load(&c, train)) return fail(ms_geterr());
        if (c.model.vocab <= 0) c.model.vocab = 4096; /* the tokenizer is not read */
        if (tf_train_bench(&c.model, c.batch, c.model.max_seq, steps, &r)) return fail(ms_geterr());
        printf("{\"train_tok_s\": %.2f, \"fwd_bwd_tok_s\": %.2f, \"gemm_gflops\": %.1f, \"dense_gflops\": %.1f, "
               "\"attn_gflops\": %.1f, \"peak_gflops\": %.1f, \"gemm_share\": %.3f, \"threads\": %d}\n",
               c.batch * c.model.max_seq / (r.step_s + r.opt_s), r.tok_s, r.gemm_gflops, r.dense_gflops,
               r.attn_gflops, r.peak_gflops, r.gemm_share, ms_get_threads());
        return 0;
    }
    if (!model) return fail("bench needs --model DIR or --train CONFIG (bench)");
    bench_result r;
    if (bench_lm(model, prefill, decode, reps, bandwidth, &r)) return fail(ms_geterr());
    printf("{\"prefill_tok_s\": %.2f, \"decode_tok_s\": %.2f, \"load_s\": %.3f, \"rss_mb\": %.0f, "
           "\"peak_rss_mb\": %.0f, \"token_mb\": %.1f", r.prefill_tok_s, r.decode_tok_s, r.load_s, r.rss_mb,
           r.hwm_mb, r.token_bytes / 1e6);
    if (bandwidth)
        printf(", \"read_gb_s\": %.2f, \"decode_limit_tok_s\": %.2f, \"decode_share\": %.3f", r.read_gb_s,
               r.read_gb_s * 1e9 / r.token_bytes, r.decode_tok_s * r.token_bytes / (r.read_gb_s * 1e9));
    printf(", \"matmul_precision\": \"%s\", \"bf16_dot\": %s, \"threads\": %d}\n", precision,
           prec == WM_PREC_MEDIUM && wmat_bf16_dot_available() ? "true" : "false", ms_get_threads());
    return 0;
}

static int cmd_train_bpe(int argc, char **argv) {
    static char def[4096];
    snprintf(def, sizeof def, "%s/corpus", ms_assets_dir());
    const char *corpus = def, *out = NULL;
    int vocab = 4096;
    opt o[] = {{"--corpus", &corpus, 0, 0}, {"--out", &out, 0, 0}, {"--vocab", 0, &vocab, 0}, {0}};
    if (parse_opts(argc, argv, o, NULL, "train-bpe")) return 2;
    if (!out) return fail("train-bpe needs --out FILE (train-bpe)");
    if (vocab < 257) return fail("--vocab must exceed 256 (train-bpe)");
    corpus_split s;
    if (corpus_load(&s, corpus, "train")) return fail(ms_geterr());
    /* Documents joined by blank lines, as the model sees them apart. */
    size_t len = 0;
    char *text = xmalloc(s.bytes + 2 * (size_t)s.n + 1);
    for (int i = 0; i < s.n; i++) {
        memcpy(text + len, s.docs[i].text, s.docs[i].len);
        len += s.docs[i].len;
        text[len++] = '\n';
        text[len++] = '\n';
    }
    corpus_free(&s);
    double t0 = ms_now();
    const char *special[] = {"<|endoftext|>"};
    tokenizer *t = bpe_train(text, len, vocab, special, 1);
    free(text);
    if (!t) return fail(ms_geterr());
    int rc = tok_save_hf_json(t, out);
    if (!rc) printf("train-bpe: %d tokens from %zu bytes in %.1f s -> %s\n", tok_vocab_size(t), len, ms_now() - t0, out);
    tok_free(t);
    return rc ? fail(ms_geterr()) : 0;
}

static volatile sig_atomic_t g_stop;
static void on_stop(int sig) {
    (void)sig;
    g_stop = 1;
}

static int cmd_train_lm(int argc, char **argv) {
    const char *config = NULL, *out = NULL, *init = NULL;
    int resume = 0, max_steps = 0, threads = 0;
    opt o[] = {{"--config", &config, 0, 0}, {"--out", &out, 0, 0}, {"--resume", 0, 0, &resume},
               {"--max-steps", 0, &max_steps, 0}, {"--threads", 0, &threads, 0}, {"--init", &init, 0, 0}, {0}};
    if (parse_opts(argc, argv, o, NULL, "train-lm")) return 2;
    if (!config || !out) return fail("train-lm needs --config FILE and --out DIR (train-lm)");
    ms_set_threads(threads);
    train_cfg c;
    if (train_cfg_load(&c, config)) return fail(ms_geterr());
    if (init && strlen(init) >= sizeof c.init) return fail("--init path is too long (train-lm)");
    if (init) snprintf(c.init, sizeof c.init, "%s", init);
    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    train_opts to = {stderr, isatty(2), &g_stop, max_steps};
    if (train_lm(&c, out, resume, &to)) return fail(ms_geterr());
    if (g_stop) { /* not success: scripts (make assets) must not go on to pack a stale model */
        fprintf(stderr, "train-lm: stopped; checkpoint saved, continue with --resume\n");
        return 130;
    }
    return 0;
}

static int cmd_harvest(int argc, char **argv) {
    static char def[4096];
    snprintf(def, sizeof def, "%s/corpus", ms_assets_dir());
    const char *model = NULL, *out = NULL, *split = "train", *corpus = def;
    int layer = -1, tokens = 0, shard = 262144, resume = 0, threads = 0, keep_eos = 0;
    opt o[] = {{"--model", &model, 0, 0}, {"--out", &out, 0, 0}, {"--split", &split, 0, 0},
               {"--corpus", &corpus, 0, 0}, {"--layer", 0, &layer, 0}, {"--tokens", 0, &tokens, 0},
               {"--shard-tokens", 0, &shard, 0}, {"--resume", 0, 0, &resume}, {"--threads", 0, &threads, 0},
               {"--keep-eos", 0, 0, &keep_eos}, {0}};
    if (parse_opts(argc, argv, o, NULL, "harvest")) return 2;
    if (!model || !out) return fail("harvest needs --model DIR and --out DIR (harvest)");
    if (shard < 1) return fail("--shard-tokens must be positive (harvest)");
    ms_set_threads(threads);
    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    harvest_opts ho = {model, corpus, split, out, layer, tokens, shard, resume, stderr, isatty(2), &g_stop, keep_eos};
    harvest_result r;
    if (harvest(&ho, &r)) return g_stop ? (fail(ms_geterr()), 130) : fail(ms_geterr());
    fprintf(stderr, "harvest: %ld rows of layer %d (d %d) in %ld shards; %ld computed in %.1f s (%.0f rows/s) -> %s\n",
            r.rows, r.layer, r.d, r.shards, r.computed_rows, r.seconds, r.computed_rows / (r.seconds + 1e-9), out);
    return 0;
}

static int cmd_train_glp(int argc, char **argv) {
    const char *config = NULL, *out = NULL, *acts = NULL, *init = NULL, *norm = NULL;
    int resume = 0, max_steps = 0, threads = 0;
    opt o[] = {{"--acts", &acts, 0, 0},         {"--config", &config, 0, 0},     {"--out", &out, 0, 0},
               {"--init", &init, 0, 0},         {"--resume", 0, 0, &resume},     {"--max-steps", 0, &max_steps, 0},
               {"--threads", 0, &threads, 0},   {"--normalizer", &norm, 0, 0},   {0}};
    if (parse_opts(argc, argv, o, NULL, "train-glp")) return 2;
    if (!acts || !config || !out) return fail("train-glp needs --acts DIR, --config FILE and --out DIR (train-glp)");
    ms_set_threads(threads);
    glp_train_cfg c;
    if (glp_train_cfg_load(&c, config)) return fail(ms_geterr());
    if (init && strlen(init) >= sizeof c.init) return fail("--init path is too long (train-glp)");
    if (init) snprintf(c.init, sizeof c.init, "%s", init);
    if (norm && strlen(norm) >= sizeof c.normalizer) return fail("--normalizer path is too long (train-glp)");
    if (norm) snprintf(c.normalizer, sizeof c.normalizer, "%s", norm);
    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    train_opts to = {stderr, isatty(2), &g_stop, max_steps};
    if (glp_train(&c, acts, out, resume, &to)) return fail(ms_geterr());
    if (g_stop) {
        fprintf(stderr, "train-glp: stopped; checkpoint saved, continue with --resume\n");
        return 130;
    }
    return 0;
}

static int cmd_eval_lm(int argc, char **argv) {
    const char *dir = NULL, *split = "test", *corpus = NULL;
    int json = 0, threads = 0;
    opt o[] = {{"--split", &split, 0, 0}, {"--corpus", &corpus, 0, 0}, {"--json", 0, 0, &json},
               {"--threads", 0, &threads, 0}, {0}};
    if (parse_opts(argc, argv, o, &dir, "eval-lm")) return 2;
    if (!dir) return fail("eval-lm needs a model folder (eval-lm)");
    ms_set_threads(threads);
    static char def[4096];
    if (!corpus) {
        snprintf(def, sizeof def, "%s/corpus", ms_assets_dir());
        corpus = def;
    }
    tf_model m;
    if (tf_load(&m, dir)) return fail(ms_geterr());
    lm_eval r;
    int rc = eval_lm(&m, corpus, split, &r);
    tf_free(&m);
    if (rc) return fail(ms_geterr());
    if (json)
        printf("{\"split\": \"%s\", \"loss\": %.6f, \"bits_per_byte\": %.6f, \"perplexity\": %.4f, \"tokens\": %zu, "
               "\"bytes\": %zu}\n", split, r.loss, r.bits_per_byte, r.ppl, r.tokens, r.bytes);
    else
        printf("%s split: loss %.4f nats/token, %.4f bits/byte, perplexity %.3f (%zu tokens, %zu bytes)\n", split,
               r.loss, r.bits_per_byte, r.ppl, r.tokens, r.bytes);
    return 0;
}

static int cmd_pack_model(int argc, char **argv) {
    const char *src = NULL, *dst = NULL;
    int f16 = 0, plain = 0;
    opt o[] = {{"--out", &dst, 0, 0}, {"--f16", 0, 0, &f16}, {"--no-lz4", 0, 0, &plain}, {0}};
    if (parse_opts(argc, argv, o, &src, "pack-model")) return 2;
    if (!src || !dst) return fail("usage: pack-model SRC --out DST [--f16] [--no-lz4] (pack-model)");
    tf_model m;
    if (tf_load(&m, src)) return fail(ms_geterr());
    int rc = tf_save_hf(&m, dst, f16, !plain);
    tf_free(&m);
    if (rc) return fail(ms_geterr());
    printf("pack-model: %s -> %s (%s%s)\n", src, dst, f16 ? "f16" : "f32", plain ? "" : ", lz4");
    return 0;
}

static int cmd_pack_glp(int argc, char **argv) {
    const char *src = NULL, *dst = NULL;
    int f16 = 0;
    opt o[] = {{"--out", &dst, 0, 0}, {"--f16", 0, 0, &f16}, {0}};
    if (parse_opts(argc, argv, o, &src, "pack-glp")) return 2;
    if (!src || !dst) return fail("usage: pack-glp SRC --out DST [--f16] (pack-glp)");
    glp_model m;
    glp_file_config fc;
    if (glp_load_folder(&m, &fc, src, -1)) return fail(ms_geterr());
    if (!ms_is_dir(dst) && mkdir(dst, 0755)) {
        glp_free(&m);
        return fail("cannot create the output folder (pack-glp)");
    }
    /* Weights (lz4, f16 on request) and the normalizer (with its basis); config.yaml copied as is. */
    char *w = ms_path_join(dst, "final.safetensors.lz4"), *st = ms_path_join(dst, "rep_statistics.safetensors");
    char *cy = ms_find_file(src, "config.yaml"), *cd = ms_path_join(dst, "config.yaml");
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc = glp_save_as(&m, w, f16) || glp_normalizer_save(&m, st) || ms_read_file(cy, &buf, &n) ||
             ms_write_file_atomic(cd, buf, n);
    free(buf), free(w), free(st), free(cy), free(cd);
    glp_free(&m);
    if (rc) return fail(ms_geterr());
    printf("pack-glp: %s -> %s (%s, lz4)\n", src, dst, f16 ? "f16" : "f32");
    return 0;
}

/* --sampler NAME --evals E --rho R: how the GLP's ODE is solved; E in
 * denoiser evaluations, 0 = the reference budget (sampling: --steps;
 * projection: 10); R the grid's spacing (glp_ode). */
static int ode_opts(const char *sampler, int evals, const char *rho, glp_ode *o, const char *cmd) {
    *o = (glp_ode){GLP_SOLVER_DEFAULT, evals, GLP_RHO_DEFAULT};
    if (evals < 0) return ms_seterr("--evals must be at least 1, or 0 for the reference budget (%s)", cmd);
    return (sampler && glp_solver_parse(sampler, &o->solver, cmd)) || (rho && glp_rho_parse(rho, &o->rho, cmd)) ? -1 : 0;
}

/* "GLP projection (u 0.5, euler 10 evals)": the label of the projection's rows. */
static const char *proj_label_u(const glp_ode *o, float u) {
    static char b[80];
    char r[24] = "";
    if (o->rho > 0 && o->rho != 1) snprintf(r, sizeof r, " rho %g", o->rho);
    snprintf(b, sizeof b, "GLP projection (u %g, %s%s %d evals)", u, glp_solver_name(o->solver), r,
             glp_project_evals(u, 20, o));
    return b;
}

static const char *proj_label(const glp_ode *o) { return proj_label_u(o, 0.5f); }

/* Test-split rows of `layer` for an evaluation given no --acts, harvested
 * into a temporary folder (*dir) from the default model unless one is given. */
static int test_acts(const char *model, const char *corpus, int layer, long rows, char **dir, const char *cmd) {
    char dm[4096], dc[4096];
    snprintf(dm, sizeof dm, "%s/model", ms_assets_dir());
    snprintf(dc, sizeof dc, "%s/corpus", ms_assets_dir());
    fprintf(stderr, "%s: harvesting %ld test-split rows of layer %d (give --acts DIR to use a harvest)\n", cmd, rows,
            layer);
    if (harvest_test_temp(model ? model : dm, corpus ? corpus : dc, layer, rows, NULL, dir))
        return ms_seterr("%s (%s)", ms_geterr(), cmd);
    return 0;
}

/* The split a harvest folder was made from ("unknown" if its manifest predates the field). */
static int acts_split(const char *dir, char *split, size_t cap) {
    harvest_info h;
    if (harvest_info_load(&h, dir)) return -1;
    snprintf(split, cap, "%s", h.split[0] ? h.split : "unknown");
    harvest_info_free(&h);
    return 0;
}

/* One paired difference of ΔLM over the windows: mean and 95% interval. */
static void print_paired(const char *indent, int width, const char *label, dlm_paired p) {
    printf("%s%-*s %+10.4f [%+.4f, %+.4f]\n", indent, width, label, p.mean, p.mean - p.half, p.mean + p.half);
}

/* eval-glp --delta-lm: the LM loss with the GLP's layer replaced by its
 * on-manifold projection, against Gaussian noise of the same norm. */
static int eval_glp_delta(const char *glp, const glp_ode *ode, const char *model, const char *corpus, int windows,
                          int seed, int json, int threads) {
    static char dg[4096], dm[4096], dc[4096];
    snprintf(dg, sizeof dg, "%s/glp", ms_assets_dir());
    snprintf(dm, sizeof dm, "%s/model", ms_assets_dir());
    snprintf(dc, sizeof dc, "%s/corpus", ms_assets_dir());
    ms_set_threads(threads);
    glp_model g;
    glp_file_config fc;
    tf_model m;
    if (glp_load_folder(&g, &fc, glp ? glp : dg, -1)) return fail(ms_geterr());
    if (tf_load(&m, model ? model : dm)) {
        glp_free(&g);
        return fail(ms_geterr());
    }
    delta_lm_result r;
    int layer = fc.n_hook_layers ? fc.layers[0] : -1;
    int rc = layer < 0 || layer >= m.c.n_layers
                 ? ms_seterr("the GLP's layer %d is not one of the model's (eval-glp)", layer)
                 : eval_delta_lm(&m, &g, ode, 0.5f, NULL, NULL, NULL, NULL, NULL, 0, layer, corpus ? corpus : dc, "test",
                                 windows, (uint64_t)seed, &r);
    tf_free(&m);
    glp_free(&g);
    if (rc) return fail(ms_geterr());
    if (json)
        printf("{\"clean_loss\": %.6f, \"delta_glp\": %.6f, \"delta_noise\": %.6f, \"rel_change\": %.4f, "
               "\"tokens\": %ld, \"sampler\": \"%s\", \"rho\": %g, \"evals\": %d}\n", r.clean, r.glp - r.clean,
               r.noise - r.clean, r.rel_change, r.tokens, glp_solver_name(ode->solver), ode->rho,
               glp_project_evals(0.5f, 20, ode));
    else
        printf("LM loss on %ld held-out tokens with layer %d replaced (all positions but the first and EOS):\n"
               "  clean                                    %.4f nats\n"
               "  %-40s %+.4f  (mean |P(h)-h|/|h| = %.3f)\n"
               "  Gaussian noise of the same norm          %+.4f\n",
               r.tokens, layer, r.clean, proj_label(ode), r.glp - r.clean, r.rel_change, r.noise - r.clean);
    if (!json) {
        print_paired("  ", 37, "the projection minus the noise", r.vs_noise);
        printf("  (the mean over %ld windows and its 95%% interval)\n", r.windows);
    }
    return 0;
}

static int cmd_eval_glp(int argc, char **argv) {
    const char *glp = NULL, *acts = NULL, *model = NULL, *corpus = NULL, *sampler = NULL, *rho = NULL;
    int n = 10000, steps = 0, evals = 0, json = 0, threads = 0, seed = 1, delta = 0, windows = 64;
    opt o[] = {{"--glp", &glp, 0, 0}, {"--acts", &acts, 0, 0}, {"--n", 0, &n, 0}, {"--steps", 0, &steps, 0},
               {"--evals", 0, &evals, 0}, {"--sampler", &sampler, 0, 0}, {"--rho", &rho, 0, 0},
               {"--seed", 0, &seed, 0}, {"--json", 0, 0, &json}, {"--threads", 0, &threads, 0},
               {"--delta-lm", 0, 0, &delta}, {"--model", &model, 0, 0}, {"--corpus", &corpus, 0, 0},
               {"--windows", 0, &windows, 0}, {0}};
    if (parse_opts(argc, argv, o, NULL, "eval-glp")) return 2;
    glp_ode ode;
    if (ode_opts(sampler, evals ? evals : steps, rho, &ode, "eval-glp")) return fail(ms_geterr());
    if (delta) return eval_glp_delta(glp, &ode, model, corpus, windows, seed, json, threads);
    glp_sample_defaults(&ode, sampler, rho, steps && !evals); /* --steps N alone: the reference */
    if (n < 2) return fail("--n must be at least 2 (eval-glp)");
    static char def[4096];
    if (!glp) {
        snprintf(def, sizeof def, "%s/glp", ms_assets_dir());
        glp = def;
    }
    ms_set_threads(threads);
    glp_model m;
    glp_file_config fc;
    if (glp_load_folder(&m, &fc, glp, -1)) return fail(ms_geterr());
    char *tmp = NULL, split[64];
    int rc = acts ? 0 : test_acts(model, corpus, fc.n_hook_layers ? fc.layers[0] : -1, 2L * n, &tmp, "eval-glp");
    if (!rc) rc = acts_split(acts ? acts : tmp, split, sizeof split);
    eval_glp_opts eo = {n, (uint64_t)seed, ode};
    int spent = glp_sample_evals(ode.evals, &ode);
    eval_glp_result r;
    if (!rc) rc = eval_glp(&m, acts ? acts : tmp, &eo, &r);
    glp_free(&m);
    if (tmp) harvest_remove(tmp), free(tmp);
    if (rc) return fail(ms_geterr());
    if (json)
        printf("{\"heldout_loss\": %.6f, \"fd_glp\": %.6f, \"fd_floor\": %.6f, \"fd_gaussian\": %.6f, "
               "\"n\": %ld, \"sampler\": \"%s\", \"rho\": %g, \"evals\": %d, \"split\": \"%s\"}\n",
               r.heldout_loss, r.fd_glp, r.fd_floor, r.fd_gauss, r.n, glp_solver_name(ode.solver), ode.rho, spent, split);
    else
        printf("held-out diffusion loss %.4f (2 for a model predicting zero)\n"
               "Frechet distance to %ld %s-split rows (normalized space, d %d)%s:\n"
               "  GLP samples (%-8s %3d evals)  %.4f\n"
               "  real vs real (floor)            %.4f\n"
               "  Gaussian, real mean + cov       %.4f\n",
               r.heldout_loss, r.n, split, r.d, strcmp(split, "train") ? "" : " (not held out unless train-glp held them out)",
               glp_solver_name(ode.solver), spent, r.fd_glp, r.fd_floor, r.fd_gauss);
    if (!json && ode.rho != 1) printf("  (the samples' sigma grid spaced by rho %g)\n", ode.rho);
    return 0;
}

/* Installs the stop handler long runs check between steps. */
static void catch_stop(void) {
    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int cmd_train_sae(int argc, char **argv) {
    const char *config = NULL, *out = NULL, *acts = NULL;
    int resume = 0, max_steps = 0, threads = 0, latents = 0, k = 0, steps = 0;
    opt o[] = {{"--acts", &acts, 0, 0}, {"--config", &config, 0, 0}, {"--out", &out, 0, 0},
               {"--latents", 0, &latents, 0}, {"--k", 0, &k, 0}, {"--steps", 0, &steps, 0},
               {"--resume", 0, 0, &resume}, {"--max-steps", 0, &max_steps, 0}, {"--threads", 0, &threads, 0}, {0}};
    if (parse_opts(argc, argv, o, NULL, "train-sae")) return 2;
    if (!acts || !out) return fail("train-sae needs --acts DIR and --out DIR (train-sae)");
    ms_set_threads(threads);
    sae_train_cfg c;
    sae_train_defaults(&c);
    if (config && sae_train_cfg_load(&c, config)) return fail(ms_geterr());
    if (latents) c.latents = latents;
    if (k) c.k = k;
    if (steps) c.steps = steps;
    if (c.k > c.latents) return fail("--k exceeds --latents (train-sae)");
    catch_stop();
    train_opts to = {stderr, isatty(2), &g_stop, max_steps};
    if (sae_train(&c, acts, out, resume, &to)) return fail(ms_geterr());
    if (g_stop) {
        fprintf(stderr, "train-sae: stopped; checkpoint saved, continue with --resume\n");
        return 130;
    }
    return 0;
}

/* eval-sae: reconstruction metrics on harvested rows, and (--model) ΔLM loss
 * on held-out text beside the GLP's when one is given. */
static int cmd_eval_sae(int argc, char **argv) {
    const char *sae = NULL, *acts = NULL, *model = NULL, *corpus = NULL, *glp = NULL, *sampler = NULL, *rho = NULL;
    int rows = 50000, dead_rows = 1000000, json = 0, threads = 0, windows = 64, seed = 1, delta = 0, evals = 0;
    opt o[] = {{"--sae", &sae, 0, 0}, {"--acts", &acts, 0, 0}, {"--rows", 0, &rows, 0},
               {"--dead-rows", 0, &dead_rows, 0}, {"--json", 0, 0, &json}, {"--threads", 0, &threads, 0},
               {"--delta-lm", 0, 0, &delta}, {"--model", &model, 0, 0}, {"--corpus", &corpus, 0, 0},
               {"--glp", &glp, 0, 0}, {"--windows", 0, &windows, 0}, {"--seed", 0, &seed, 0},
               {"--sampler", &sampler, 0, 0}, {"--evals", 0, &evals, 0}, {"--rho", &rho, 0, 0}, {0}};
    if (parse_opts(argc, argv, o, NULL, "eval-sae")) return 2;
    glp_ode ode;
    if (ode_opts(sampler, evals, rho, &ode, "eval-sae")) return fail(ms_geterr());
    if (!acts && !delta) return fail("eval-sae needs --acts DIR and/or --delta-lm (eval-sae)");
    ms_set_threads(threads);
    char ds[4096], dm[4096], dc[4096];
    snprintf(ds, sizeof ds, "%s/sae", ms_assets_dir());
    snprintf(dm, sizeof dm, "%s/model", ms_assets_dir());
    snprintf(dc, sizeof dc, "%s/corpus", ms_assets_dir());
    sae_model m;
    if (sae_load_folder(&m, sae ? sae : ds, -1)) return fail(ms_geterr());
    sae_eval_result r = {0};
    delta_lm_result dl = {0};
    int rc = acts ? sae_eval(&m, acts, rows, dead_rows, &r) : 0;
    if (!rc && delta) {
        tf_model lm;
        glp_model g;
        glp_file_config fc;
        rc = tf_load(&lm, model ? model : dm);
        bool has_lm = !rc, has_glp = !rc && glp && !(rc = glp_load_folder(&g, &fc, glp, -1));
        int layer = m.layer >= 0 ? m.layer : lm.c.n_layers / 2;
        if (!rc)
            rc = eval_delta_lm(&lm, has_glp ? &g : NULL, &ode, 0.5f, &m, NULL, NULL, NULL, NULL, 0, layer,
                               corpus ? corpus : dc, "test", windows, (uint64_t)seed, &dl);
        if (has_glp) glp_free(&g);
        if (has_lm) tf_free(&lm);
    }
    sae_free(&m);
    if (rc) return fail(ms_geterr());
    if (json) {
        printf("{\"fvu\": %.6f, \"mse\": %.6g, \"l0\": %.3f, \"dead_fraction\": %.6f, \"rows\": %ld, "
               "\"dead_rows\": %ld", r.fvu, r.mse, r.l0, r.dead_fraction, r.rows, r.dead_rows);
        if (delta)
            printf(", \"clean\": %.6f, \"sae\": %.6f, \"glp\": %.6f, \"noise\": %.6f, \"tokens\": %ld", dl.clean,
                   dl.sae, dl.glp, dl.noise, dl.tokens);
        printf("}\n");
        return 0;
    }
    if (acts)
        printf("on the last %ld harvested rows: FVU %.4f (normalized MSE), MSE %.4g, mean L0 %.1f\n"
               "dead latents (never active in the last %ld rows): %.2f%%\n",
               r.rows, r.fvu, r.mse, r.l0, r.dead_rows, 100 * r.dead_fraction);
    if (delta) {
        printf("LM loss on %ld held-out tokens, layer activations replaced (all positions but the first and EOS):\n"
               "  clean                                    %.4f nats\n"
               "  SAE reconstruction                       %+.4f  (mean |SAE(h)-h|/|h| = %.3f)\n",
               dl.tokens, dl.clean, dl.sae - dl.clean, dl.sae_rel_error);
        if (isfinite(dl.glp))
            printf("  %-40s %+.4f  (mean |P(h)-h|/|h| = %.3f)\n", proj_label(&ode), dl.glp - dl.clean,
                   dl.rel_change);
        printf("  Gaussian noise of the %s's norm         %+.4f\n", isfinite(dl.glp) ? "GLP" : "SAE", dl.noise - dl.clean);
        if (isfinite(dl.glp)) {
            printf("  the projection's ΔLM minus, per window (mean, 95%% interval over %ld windows):\n", dl.windows);
            print_paired("    ", 35, "SAE reconstruction", dl.vs_sae);
            print_paired("    ", 35, "Gaussian noise of its norm", dl.vs_noise);
        }
    }
    return 0;
}

/* scaling: GLPs at several compute budgets and the fit of their held-out loss. */
enum { MAX_STAGES = 8 };
static int cmd_scaling(int argc, char **argv) {
    const char *acts = NULL, *out = NULL, *budgets = NULL, *eval_acts = NULL, *corpus = NULL, *norm = NULL;
    int threads = 0, rows = 10000, steps = 20, with_default = 0;
    opt o[] = {{"--acts", &acts, 0, 0}, {"--out", &out, 0, 0}, {"--budgets", &budgets, 0, 0},
               {"--eval-acts", &eval_acts, 0, 0}, {"--corpus", &corpus, 0, 0},
               {"--eval-rows", 0, &rows, 0}, {"--fd-steps", 0, &steps, 0}, {"--with-default", 0, 0, &with_default},
               {"--threads", 0, &threads, 0}, {"--normalizer", &norm, 0, 0}, {0}};
    if (parse_opts(argc, argv, o, NULL, "scaling")) return 2;
    if (!acts || !out) return fail("scaling needs --acts DIR and --out DIR (scaling)");
    if (rows < 2 || steps < 1) return fail("--eval-rows must be at least 2 and --fd-steps at least 1 (scaling)");
    ms_set_threads(threads);
    char db[4096], dcfg[4096], dglp[4096], stage[MAX_STAGES][4096];
    const char *stages[MAX_STAGES];
    snprintf(db, sizeof db, "%s/scaling", ms_assets_dir());
    snprintf(dcfg, sizeof dcfg, "%s/train-glp.json", ms_assets_dir());
    snprintf(dglp, sizeof dglp, "%s/glp", ms_assets_dir());
    int nst = 0; /* the later stages: train-glp-2.json, -3.json, ... up to the first missing one */
    for (; with_default && nst < MAX_STAGES; nst++) {
        snprintf(stage[nst], sizeof stage[nst], "%s/train-glp-%d.json", ms_assets_dir(), nst + 2);
        if (!ms_file_exists(stage[nst])) break;
        stages[nst] = stage[nst];
    }
    catch_stop();
    scaling_opts so = {acts,   budgets ? budgets : db, out, eval_acts, corpus, with_default ? dcfg : NULL,
                       with_default ? dglp : NULL, stages, nst, "default", rows, steps, stderr, isatty(2), &g_stop, norm};
    scaling_point *p;
    int n;
    scaling_fit f;
    int rc = scaling_run(&so, &p, &n, &f);
    if (rc) {
        free(p);
        return g_stop ? (fail(ms_geterr()), 130) : fail(ms_geterr());
    }
    printf("%-8s %8s %8s %7s %10s %10s %11s %9s %8s %9s\n", "budget", "d_model", "d_mlp", "blocks", "params", "rows",
           "compute", "held-out", "FD", "fit");
    for (int i = 0; i < n; i++)
        printf("%-8s %8d %8d %7d %9.2fM %9.2fM %11.3e %9.4f %8.3f %9.4f\n", p[i].name, p[i].d_model, p[i].d_mlp,
               p[i].n_layers, p[i].params / 1e6, p[i].rows / 1e6, p[i].compute, p[i].heldout_loss, p[i].fd,
               f.E + f.A * pow(p[i].compute, -f.alpha));
    if (n >= 3)
        printf("fit: L(C) = %.4f + %.4g * C^-%.4f  (rms residual %.4f over %d budgets; C = 6 x params x rows)\n", f.E,
               f.A, f.alpha, f.rmse, n);
    printf("(held-out loss and FD (%d Euler steps) on %d rows of %s; table in %s/scaling.csv)\n", steps, rows,
           eval_acts ? eval_acts : "the test split", out);
    if (n > 0) printf("FD baselines on the same rows: real vs real (floor) %.3f, Gaussian with the real mean + cov %.3f\n",
                      p[0].fd_floor, p[0].fd_gauss);
    free(p);
    return 0;
}

/* --power P: the metric's exponent in (0, 4] (default 1). */
static int metric_power(const char *s, double *power, const char *cmd) {
    char *end = NULL;
    *power = s ? strtod(s, &end) : 1.0;
    if (s && (end == s || *end || !(*power > 0 && *power <= 4)))
        return ms_seterr("--power takes the metric's exponent, a number in (0, 4] (%s)", cmd);
    return 0;
}

/* fisher: the LM's Fisher metric at the harvest's layer, turned into a GLP
 * normalizer (the harvest's mean and var, then the basis c (D F D)^(P/2)),
 * so that a GLP trained with it (train-glp --normalizer) noises and re-draws
 * the directions the LM reads least. */
static int cmd_fisher(int argc, char **argv) {
    const char *acts = NULL, *out = NULL, *model = NULL, *corpus = NULL, *split = "train", *pw = NULL;
    int windows = 64, rows = 100000, seed = 1, threads = 0;
    opt o[] = {{"--acts", &acts, 0, 0},       {"--out", &out, 0, 0},          {"--model", &model, 0, 0},
               {"--corpus", &corpus, 0, 0},   {"--split", &split, 0, 0},      {"--windows", 0, &windows, 0},
               {"--rows", 0, &rows, 0},       {"--seed", 0, &seed, 0},        {"--threads", 0, &threads, 0},
               {"--power", &pw, 0, 0},        {0}};
    if (parse_opts(argc, argv, o, NULL, "fisher")) return 2;
    double power;
    if (metric_power(pw, &power, "fisher")) return fail(ms_geterr());
    if (!acts || !out) return fail("fisher needs --acts DIR (a harvest) and --out FILE (fisher)");
    if (windows < 1 || rows < 2) return fail("--windows must be at least 1 and --rows at least 2 (fisher)");
    ms_set_threads(threads);
    char dm[4096], dc[4096];
    snprintf(dm, sizeof dm, "%s/model", ms_assets_dir());
    snprintf(dc, sizeof dc, "%s/corpus", ms_assets_dir());
    harvest_info h;
    if (harvest_info_load(&h, acts)) return fail(ms_geterr());
    tf_model lm;
    if (tf_load(&lm, model ? model : dm)) return harvest_info_free(&h), fail(ms_geterr());
    int d = h.d, rc = d != lm.c.d_model ? ms_seterr("harvest width %d differs from the model's %d (%s)", d,
                                                    lm.c.d_model, acts) : 0;
    long n = rows < h.rows ? rows : h.rows;
    glp_model norm = {.c = {.d_input = d}, .mean = h.mean, .var = h.var};
    lm_fisher_info fi = {0};
    gauss_prior gp = {0}, q = {0};
    float *X = rc ? NULL : xmalloc(sizeof(float) * (size_t)n * d);
    double *mu = xmalloc(sizeof(double) * (size_t)d), *C = xmalloc(sizeof(double) * (size_t)d * d);
    if (!rc) rc = harvest_last_rows(acts, &h, n, X);
    if (!rc) glp_normalize(&norm, X, X, (int)n), rc = gauss_fit(X, n, d, mu, C);
    if (!rc) rc = gauss_prior_init(&gp, mu, C, d);
    if (!rc)
        rc = lm_fisher_prior(&lm, &norm, h.layer, corpus ? corpus : dc, split, windows, (uint64_t)seed, power, &gp, &q,
                             &fi, NULL);
    if (!rc) {
        norm.basis = q.A, norm.basis_inv = q.Ainv;
        rc = glp_normalizer_save(&norm, out);
    }
    if (!rc)
        printf("LM Fisher metric at layer %d: %ld positions of the %s split (%d windows), sampled-target NLL %.4f\n"
               "it predicts noise shaped like the data to cost %.2fx isotropic noise of its norm\n"
               "normalizer for train-glp --normalizer: the harvest's mean and var, then the basis c (D F D)^(%g/2)\n"
               "fitted on its last %ld rows (z's total variance %d) -> %s\n",
               h.layer, fi.rows, split, windows, fi.nll, fi.shape_ratio, power, n, d, out);
    gauss_prior_free(&gp), gauss_prior_free(&q);
    free(X), free(mu), free(C);
    harvest_info_free(&h);
    tf_free(&lm);
    return rc ? fail(ms_geterr()) : 0;
}

/* eval-recon: ΔLM loss and Fréchet distance to real activations for the GLP
 * projection, the SAE reconstruction and matched-norm Gaussian noise, with
 * the real-vs-real floor: one table for the published comparison. */
static int cmd_eval_recon(int argc, char **argv) {
    const char *acts = NULL, *glp = NULL, *sae = NULL, *model = NULL, *corpus = NULL, *sampler = NULL, *rho = NULL;
    const char *us = NULL, *pw = NULL, *tacts = NULL;
    int n = 10000, windows = 64, seed = 1, threads = 0, json = 0, evals = 0, draws = 0, fisher = 0, shrink = 16;
    opt o[] = {{"--acts", &acts, 0, 0}, {"--glp", &glp, 0, 0}, {"--sae", &sae, 0, 0}, {"--model", &model, 0, 0},
               {"--corpus", &corpus, 0, 0}, {"--n", 0, &n, 0}, {"--windows", 0, &windows, 0}, {"--seed", 0, &seed, 0},
               {"--threads", 0, &threads, 0}, {"--json", 0, 0, &json}, {"--sampler", &sampler, 0, 0},
               {"--evals", 0, &evals, 0}, {"--rho", &rho, 0, 0}, {"--u", &us, 0, 0}, {"--draws", 0, &draws, 0},
               {"--fisher", 0, 0, &fisher}, {"--power", &pw, 0, 0}, {"--token-prior", &tacts, 0, 0},
               {"--shrink", 0, &shrink, 0}, {0}};
    if (parse_opts(argc, argv, o, NULL, "eval-recon")) return 2;
    double power;
    if (pw && !fisher) return fail("--power is the Fisher metric's exponent: it needs --fisher (eval-recon)");
    if (metric_power(pw, &power, "eval-recon")) return fail(ms_geterr());
    if (draws == 1 || draws < 0 || draws > 256)
        return fail("--draws takes the projections averaged per row, 2 to 256 (eval-recon)");
    glp_ode ode;
    if (ode_opts(sampler, evals, rho, &ode, "eval-recon")) return fail(ms_geterr());
    char *end = NULL;
    float u = us ? strtof(us, &end) : 0.5f;
    if (us && (end == us || *end || !(u >= 0 && u < 1)))
        return fail("--u takes the projection's noise level, a number in [0, 1) (eval-recon)");
    if (n < 2 || windows < 1) return fail("--n must be at least 2 and --windows at least 1 (eval-recon)");
    ms_set_threads(threads);
    char dm[4096], dg[4096], ds[4096], dc[4096];
    snprintf(dm, sizeof dm, "%s/model", ms_assets_dir());
    snprintf(dg, sizeof dg, "%s/glp", ms_assets_dir());
    snprintf(ds, sizeof ds, "%s/sae", ms_assets_dir());
    snprintf(dc, sizeof dc, "%s/corpus", ms_assets_dir());
    tf_model lm;
    glp_model g;
    glp_file_config fc;
    sae_model sm;
    if (tf_load(&lm, model ? model : dm)) return fail(ms_geterr());
    if (glp_load_folder(&g, &fc, glp ? glp : dg, -1)) return tf_free(&lm), fail(ms_geterr());
    if (sae_load_folder(&sm, sae ? sae : ds, -1)) return tf_free(&lm), glp_free(&g), fail(ms_geterr());
    int layer = fc.n_hook_layers > 0 ? fc.layers[0] : lm.c.n_layers / 2;
    delta_lm_result dl;
    recon_fd_result fd;
    int rc = sm.layer >= 0 && sm.layer != layer
                 ? ms_seterr("the SAE reads layer %d, the GLP layer %d (eval-recon)", sm.layer, layer)
                 : 0;
    char *tmp = NULL, split[64];
    gauss_prior gp = {0}; /* fitted to the real rows B: what a perfect Gaussian model's projection does */
    gauss_prior gpf = {0}; /* the same prior in the LM's Fisher metric (--fisher) */
    lm_fisher_info fi = {0, NAN, NAN};
    lm_fisher fm = {0}; /* the metric itself, to predict each edit's cost from its directions */
    token_prior tp = {0}; /* --token-prior: the Gaussian prior given each row's token, fitted to that harvest */
    if (!rc && tacts) rc = token_prior_fit(&tp, tacts, &g, lm.c.vocab, shrink);
    if (!rc && !acts) rc = test_acts(model, corpus, layer, 2L * n, &tmp, "eval-recon");
    if (!rc) rc = acts_split(acts ? acts : tmp, split, sizeof split);
    if (!rc) rc = eval_recon_fd(&g, &ode, u, &sm, acts ? acts : tmp, n, (uint64_t)seed, &gp, &fd);
    if (!rc && fisher)
        rc = lm_fisher_prior(&lm, &g, layer, corpus ? corpus : dc, "train", windows, (uint64_t)seed, power, &gp, &gpf,
                             &fi, &fm);
    if (!rc)
        rc = eval_delta_lm(&lm, &g, &ode, u, &sm, &gp, fisher ? &gpf : NULL, tacts ? &tp : NULL, fisher ? &fm : NULL,
                           draws, layer, corpus ? corpus : dc, "test", windows, (uint64_t)seed, &dl);
    if (tmp) harvest_remove(tmp), free(tmp);
    gauss_prior_free(&gp), gauss_prior_free(&gpf), lm_fisher_free(&fm);
    tf_free(&lm), glp_free(&g), sae_free(&sm);
    if (rc) return token_prior_free(&tp), fail(ms_geterr());
    long trows = tp.rows;
    double twithin = tp.within;
    char tsplit[64];
    snprintf(tsplit, sizeof tsplit, "%s", tp.split[0] ? tp.split : "unknown");
    token_prior_free(&tp);
    if (json) {
        printf("{\"layer\": %d, \"clean\": %.6f, \"dlm_glp\": %.6f, \"dlm_sae\": %.6f, \"dlm_noise\": %.6f, "
               "\"fd_glp\": %.6f, \"fd_sae\": %.6f, \"fd_noise\": %.6f, \"fd_floor\": %.6f, \"tokens\": %ld, "
               "\"n\": %ld, \"split\": \"%s\", \"u\": %g, \"sampler\": \"%s\", \"rho\": %g, \"evals\": %d, "
               "\"rel_change_glp\": %.6f, \"rel_error_sae\": %.6f, \"dlm_gauss\": %.6f, \"dlm_gauss_noise\": %.6f, "
               "\"fd_gauss\": %.6f, \"fd_gauss_noise\": %.6f, \"rel_change_gauss\": %.6f, \"pull_glp\": %.6f",
               layer,
               dl.clean, dl.glp - dl.clean, dl.sae - dl.clean, dl.noise - dl.clean, fd.fd_glp, fd.fd_sae, fd.fd_noise,
               fd.fd_floor, dl.tokens, fd.n, split, u, glp_solver_name(ode.solver), ode.rho, glp_project_evals(u, 20, &ode),
               dl.rel_change, dl.sae_rel_error, dl.gauss - dl.clean, dl.gauss_noise - dl.clean, fd.fd_gauss,
               fd.fd_gauss_noise, dl.gauss_rel_change, dl.pull);
        printf(", \"dlm_shaped_noise\": %.6f, \"windows\": %ld", dl.shaped_noise - dl.clean, dl.windows);
        printf(", \"glp_minus_noise\": %.6f, \"glp_minus_noise_ci\": %.6f, \"glp_minus_sae\": %.6f, "
               "\"glp_minus_sae_ci\": %.6f, \"glp_minus_shaped\": %.6f, \"glp_minus_shaped_ci\": %.6f",
               dl.vs_noise.mean, dl.vs_noise.half, dl.vs_sae.mean, dl.vs_sae.half, dl.vs_shaped.mean, dl.vs_shaped.half);
        printf(", \"dlm_noise_antithetic\": %.6f, \"glp_minus_noise_antithetic\": %.6f, "
               "\"glp_minus_noise_antithetic_ci\": %.6f", dl.noise_anti - dl.clean, dl.vs_noise_anti.mean,
               dl.vs_noise_anti.half);
        if (draws)
            printf(", \"draws\": %d, \"dlm_mean\": %.6f, \"dlm_mean_noise\": %.6f, \"rel_change_mean\": %.6f, "
                   "\"dlm_scatter\": %.6f, \"dlm_scatter_noise\": %.6f, \"rel_change_scatter\": %.6f", draws,
                   dl.mean - dl.clean, dl.mean_noise - dl.clean, dl.mean_rel_change, dl.scat - dl.clean,
                   dl.scat_noise - dl.clean, dl.scat_rel_change);
        if (draws) printf(", \"dlm_scatter_shaped_noise\": %.6f", dl.scat_shaped_noise - dl.clean);
        if (fisher)
            printf(", \"fisher_rows\": %ld, \"fisher_power\": %g, \"fisher_shaped_over_iso\": %.6f, "
                   "\"dlm_gauss_fisher\": %.6f, \"dlm_gauss_fisher_noise\": %.6f, \"rel_change_gauss_fisher\": %.6f, "
                   "\"gauss_fisher_minus_noise\": %.6f, \"gauss_fisher_minus_noise_ci\": %.6f", fi.rows, power,
                   fi.shape_ratio, dl.fgauss - dl.clean, dl.fgauss_noise - dl.clean, dl.fgauss_rel_change,
                   dl.vs_fgauss.mean, dl.vs_fgauss.half);
        const struct {
            const char *key;
            dlm_quad q;
        } qs[] = {{"glp", dl.q_glp}, {"sae", dl.q_sae}, {"noise", dl.q_noise}, {"noise_negated", dl.q_anoise},
                  {"shaped", dl.q_shaped}, {"gauss", dl.q_gauss}, {"gauss_noise", dl.q_gnoise}, {"gauss_fisher", dl.q_fgauss},
                  {"gauss_fisher_noise", dl.q_fgnoise}, {"gauss_token", dl.q_tgauss}, {"gauss_token_noise", dl.q_tgnoise}};
        if (tacts)
            printf(", \"token_prior_rows\": %ld, \"token_prior_split\": \"%s\", \"token_prior_shrink\": %d, "
                   "\"token_prior_within\": %.6f, "
                   "\"dlm_gauss_token\": %.6f, \"dlm_gauss_token_noise\": %.6f, \"rel_change_gauss_token\": %.6f, "
                   "\"gauss_token_minus_noise\": %.6f, \"gauss_token_minus_noise_ci\": %.6f", trows, tsplit, shrink, twithin,
                   dl.tgauss - dl.clean, dl.tgauss_noise - dl.clean, dl.tgauss_rel_change, dl.vs_tgauss.mean,
                   dl.vs_tgauss.half);
        for (int i = 0; fisher && i < (tacts ? 11 : 9); i++) /* the last two: with --token-prior */
            printf(", \"first_order_%s\": %.6f, \"second_order_%s\": %.6f, \"fisher_pred_%s\": %.6f", qs[i].key,
                   qs[i].q.first, qs[i].key, qs[i].q.second, qs[i].key, qs[i].q.ratio);
        printf("}\n");
        return 0;
    }
    printf("layer %d replaced (all positions but the first and EOS); ΔLM on %ld held-out tokens (clean %.4f nats),\n"
           "FD of %ld edited %s-split rows to %ld other real rows (normalized space)\n"
           "%-46s        ΔLM         FD   |edit|/|h|%s\n", layer, dl.tokens, dl.clean, fd.n, split, fd.n, "",
           fisher ? "    g.e  e'Fe/2" : "");
    char gl[64], fl[64];
    snprintf(gl, sizeof gl, "Gaussian prior's exact projection (u %g)", u);
    if (power == 1) snprintf(fl, sizeof fl, "the same prior in the LM's Fisher metric");
    else snprintf(fl, sizeof fl, "the same prior in the Fisher metric ^%g", power);
    const struct {
        const char *name;
        double dlm, fd, change; /* fd NaN: not measured */
        dlm_quad q;             /* with --fisher: its first- and second-order terms */
        bool show;
    } rows[] = {
        {proj_label_u(&ode, u), dl.glp, fd.fd_glp, dl.rel_change, dl.q_glp, true},
        {"SAE reconstruction", dl.sae, fd.fd_sae, dl.sae_rel_error, dl.q_sae, true},
        {"Gaussian noise, GLP's norm", dl.noise, fd.fd_noise, dl.rel_change, dl.q_noise, true},
        {"... mean with that noise negated (antithetic)", dl.noise_anti, NAN, dl.rel_change,
         {(dl.q_noise.first + dl.q_anoise.first) / 2, (dl.q_noise.second + dl.q_anoise.second) / 2, NAN}, true},
        {"noise shaped like the data, GLP's norm", dl.shaped_noise, NAN, dl.rel_change, dl.q_shaped, true},
        {gl, dl.gauss, fd.fd_gauss, dl.gauss_rel_change, dl.q_gauss, true},
        {"Gaussian noise, its norm", dl.gauss_noise, fd.fd_gauss_noise, dl.gauss_rel_change, dl.q_gnoise, true},
        {fl, dl.fgauss, NAN, dl.fgauss_rel_change, dl.q_fgauss, fisher},
        {"Gaussian noise, its norm", dl.fgauss_noise, NAN, dl.fgauss_rel_change, dl.q_fgnoise, fisher},
        {"the same prior given each row's token", dl.tgauss, NAN, dl.tgauss_rel_change, dl.q_tgauss, tacts != NULL},
        {"Gaussian noise, its norm", dl.tgauss_noise, NAN, dl.tgauss_rel_change, dl.q_tgnoise, tacts != NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (!rows[i].show) continue;
        printf("%-46s %+10.4f ", rows[i].name, rows[i].dlm - dl.clean);
        if (isnan(rows[i].fd)) printf("%10s", "");
        else printf("%10.4f", rows[i].fd);
        printf(" %12.3f", rows[i].change);
        if (fisher) printf(" %+8.4f %+8.4f", rows[i].q.first, rows[i].q.second);
        printf("\n");
    }
    printf("%-46s %10s %10.4f\n", "real vs real (floor)", "", fd.fd_floor);
    if (draws) {
        char ml[64];
        snprintf(ml, sizeof ml, "its mean over %d draws (the systematic part)", draws);
        printf("%-46s %+10.4f %10s %12.3f\n", ml, dl.mean - dl.clean, "", dl.mean_rel_change);
        printf("%-46s %+10.4f %10s %12.3f\n", "Gaussian noise, its norm", dl.mean_noise - dl.clean, "", dl.mean_rel_change);
        printf("%-46s %+10.4f %10s %12.3f\n", "one draw around that mean (mean zero)", dl.scat - dl.clean, "",
               dl.scat_rel_change);
        printf("%-46s %+10.4f %10s %12.3f\n", "Gaussian noise, its norm", dl.scat_noise - dl.clean, "", dl.scat_rel_change);
        printf("%-46s %+10.4f %10s %12.3f\n", "noise shaped like the data, its norm", dl.scat_shaped_noise - dl.clean,
               "", dl.scat_rel_change);
    }
    printf("the GLP projection's ΔLM minus, per window (mean, 95%% interval over %ld windows):\n", dl.windows);
    const struct {
        const char *name;
        dlm_paired p;
    } vs[] = {{"Gaussian noise of its norm", dl.vs_noise},
              {"... its antithetic mean (odd orders cancel)", dl.vs_noise_anti},
              {"SAE reconstruction", dl.vs_sae},
              {"noise of its norm shaped like the data", dl.vs_shaped}};
    for (int i = 0; i < 4; i++) print_paired("  ", 44, vs[i].name, vs[i].p);
    if (tacts) {
        print_paired("", 46, "token-given projection minus its noise", dl.vs_tgauss);
        printf("the prior given the token: means of %ld %s-split rows (shrunk by %d pseudo-rows), leaving %.3f\n"
               "of the variance to the covariance around them\n", trows, tsplit, shrink, twithin);
    }
    if (fisher) {
        print_paired("", 46, "Fisher-metric projection minus its noise", dl.vs_fgauss);
        printf("the LM's Fisher metric at layer %d (train split, %ld positions) predicts noise shaped like the\n"
               "data to cost %.2fx isotropic noise of its norm\n", layer, fi.rows, fi.shape_ratio);
    }
    printf("pull of the projection toward the data's mean, -E[(h-mu).e]/E|e|^2: %.3f\n"
           "(1/2 for any projection that keeps the data's distribution, 0 for noise)\n", dl.pull);
    return 0;
}

/* Every subcommand once: dispatch and --help read the same table. sample
 * runs from main.c (fn NULL here) but has its usage and --help too. */
static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} SUBCOMMANDS[] = {
    {"bench", cmd_bench},           {"train-bpe", cmd_train_bpe},   {"train-lm", cmd_train_lm},
    {"eval-lm", cmd_eval_lm},       {"harvest", cmd_harvest},       {"train-glp", cmd_train_glp},
    {"pack-model", cmd_pack_model}, {"pack-glp", cmd_pack_glp},     {"eval-glp", cmd_eval_glp},
    {"index", sub_index},           {"train-sae", cmd_train_sae},   {"eval-sae", cmd_eval_sae},
    {"scaling", cmd_scaling},       {"probe", sub_probe},           {"probe-tasks", sub_probe_tasks},
    {"eval-steer", sub_eval_steer}, {"label-corpus", sub_label},    {"distill", sub_label},
    {"label-compare", sub_label},   {"eval-recon", cmd_eval_recon}, {"sample", NULL},
    {"fisher", cmd_fisher},
};

int run_subcommand(int argc, char **argv) {
    if (argc < 2) return -1;
    for (size_t k = 0; k < sizeof SUBCOMMANDS / sizeof *SUBCOMMANDS; k++) {
        if (strcmp(argv[1], SUBCOMMANDS[k].name)) continue;
        for (int i = 2; i < argc; i++) /* `metascope NAME --help` (or -h anywhere after NAME): usage, exit 0 */
            if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
                usage_of(argv[1], stdout);
                return 0;
            }
        return SUBCOMMANDS[k].fn ? SUBCOMMANDS[k].fn(argc - 1, argv + 1) : -1;
    }
    return -1;
}
