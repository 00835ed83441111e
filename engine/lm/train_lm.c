/* train_lm.c — the language-model training loop and its checkpoints. */
#include "train_lm.h"
#include "checkpoint.h"
#include "corpus.h"
#include "hash.h"
#include "jsonutil.h"
#include "optim.h"
#include "rng.h"
#include "safetensors.h"
#include "transformer_train.h"
#include "util.h"

#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void train_cfg_defaults(train_cfg *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->corpus, sizeof c->corpus, "assets/corpus");
    snprintf(c->tokenizer, sizeof c->tokenizer, "assets/tokenizer.json");
    tf_config *m = &c->model;
    m->arch = ARCH_LLAMA;
    m->d_model = 256, m->n_layers = 6, m->n_heads = 8, m->n_kv_heads = 4, m->head_dim = 32;
    m->d_ff = 768, m->max_seq = 256, m->norm_eps = 1e-5f, m->rope_theta = 10000, m->tied = true;
    m->bos_id = m->eos_id = -1;
    c->batch = 16, c->accum = 1, c->steps = 2000, c->warmup = 100;
    c->lr = 2e-3f, c->warm_start = 0.01f, c->final_lr = 0.1f, c->weight_decay = 0.1f, c->clip = 1.0f;
    c->beta1 = 0.9f, c->beta2 = 0.95f, c->eps = 1e-8f, c->init_std = 0.02f;
    c->seed = 1;
    c->ckpt_minutes = 3;
    c->eval_every = 250, c->eval_batches = 8, c->log_every = 50;
}

static int jstr(json_object *o, const char *k, char *dst, size_t cap, const char *path) {
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v)) return 0;
    if (!json_object_is_type(v, json_type_string) || (size_t)json_object_get_string_len(v) >= cap)
        return ms_seterr("'%s' must be a string shorter than %zu bytes (%s)", k, cap, path);
    snprintf(dst, cap, "%s", json_object_get_string(v));
    return 0;
}

int train_cfg_load(train_cfg *c, const char *path) {
    train_cfg_defaults(c);
    json_object *o = ms_json_read(path);
    if (!o) return -1;
    if (!json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return ms_seterr("config is not a JSON object (%s)", path);
    }
    tf_config *m = &c->model;
    long d = m->d_model, L = m->n_layers, H = m->n_heads, KV = m->n_kv_heads, ff = m->d_ff, T = m->max_seq;
    long B = c->batch, A = c->accum, S = c->steps, W = c->warmup, ev = c->eval_every, eb = c->eval_batches;
    long lg = c->log_every, seed = (long)c->seed;
    double lr = c->lr, ws = c->warm_start, fl = c->final_lr, wd = c->weight_decay, clip = c->clip;
    double b1 = c->beta1, b2 = c->beta2, eps = c->eps, std = c->init_std, ck = c->ckpt_minutes;
    double theta = m->rope_theta;
    int rc = jstr(o, "corpus", c->corpus, sizeof c->corpus, path) ||
             jstr(o, "tokenizer", c->tokenizer, sizeof c->tokenizer, path) ||
             ms_json_int(o, "d_model", 8, 8192, &d, path) || ms_json_int(o, "n_layers", 1, 256, &L, path) ||
             ms_json_int(o, "n_heads", 1, 256, &H, path) || ms_json_int(o, "n_kv_heads", 1, 256, &KV, path) ||
             ms_json_int(o, "d_ff", 8, 65536, &ff, path) || ms_json_int(o, "ctx", 2, 65536, &T, path) ||
             ms_json_int(o, "batch", 1, 4096, &B, path) || ms_json_int(o, "accum", 1, 4096, &A, path) ||
             ms_json_int(o, "steps", 1, 100000000, &S, path) || ms_json_int(o, "warmup", 0, 100000000, &W, path) ||
             ms_json_int(o, "eval_every", 0, 100000000, &ev, path) || ms_json_int(o, "eval_batches", 1, 100000, &eb, path) ||
             ms_json_int(o, "log_every", 1, 100000000, &lg, path) || ms_json_int(o, "seed", 0, 1L << 62, &seed, path) ||
             ms_json_num(o, "lr", 0, 10, &lr, path) || ms_json_num(o, "warm_start", 0, 1, &ws, path) ||
             ms_json_num(o, "final_lr", 0, 1, &fl, path) || ms_json_num(o, "weight_decay", 0, 10, &wd, path) ||
             ms_json_num(o, "clip", 0, 1e9, &clip, path) || ms_json_num(o, "beta1", 0, 1, &b1, path) ||
             ms_json_num(o, "beta2", 0, 1, &b2, path) || ms_json_num(o, "eps", 0, 1, &eps, path) ||
             ms_json_num(o, "init_std", 0, 10, &std, path) || ms_json_num(o, "checkpoint_minutes", 0.0001, 1e6, &ck, path) ||
             ms_json_num(o, "rope_theta", 2, 1e9, &theta, path);
    json_object_put(o);
    if (rc) return -1;
    if (d % H || H % KV) return ms_seterr("d_model must divide by n_heads and n_heads by n_kv_heads (%s)", path);
    if ((d / H) % 2) return ms_seterr("head dimension must be even (%s)", path);
    m->d_model = (int)d, m->n_layers = (int)L, m->n_heads = (int)H, m->n_kv_heads = (int)KV;
    m->head_dim = (int)(d / H), m->d_ff = (int)ff, m->max_seq = (int)T, m->rope_theta = theta;
    c->batch = (int)B, c->accum = (int)A, c->steps = S, c->warmup = W, c->eval_every = (int)ev;
    c->eval_batches = (int)eb, c->log_every = (int)lg, c->seed = (uint64_t)seed;
    c->lr = (float)lr, c->warm_start = (float)ws, c->final_lr = (float)fl, c->weight_decay = (float)wd;
    c->clip = (float)clip, c->beta1 = (float)b1, c->beta2 = (float)b2, c->eps = (float)eps;
    c->init_std = (float)std, c->ckpt_minutes = ck;
    return 0;
}

/* ------------------------------------------------------------ state */

typedef struct {
    train_cfg cfg;
    tokenizer *tok;
    int *train, *valid;
    size_t ntrain, nvalid;
    float *params, *grads;
    size_t n;
    tf_model m, g;
    adamw_state opt;
    adamw_range *ranges;
    int nranges;
    rng_t rng;
    char signature[512]; /* everything that shapes the run: a resume must match */
    double elapsed; /* training seconds over all runs */
    tf_train_ws *ws;
    int *batch;
} trainer;

static void init_params(trainer *t) {
    const tf_config *c = &t->cfg.model;
    rng_t r;
    rng_seed(&r, t->cfg.seed ^ 0x5eed);
    int ns = tf_flat_segments(c, NULL, 0);
    tf_segment *seg = xmalloc(sizeof(tf_segment) * (size_t)ns);
    tf_flat_segments(c, seg, ns);
    /* Normal(0, std) matrices; residual-output projections scaled by
     * 1/sqrt(2 layers) (GPT-2); norm weights 1. */
    float proj = t->cfg.init_std / sqrtf(2.0f * c->n_layers);
    for (int i = 0; i < ns; i++) {
        float *p = t->params + seg[i].offset;
        bool is_norm = !seg[i].decay, out = strstr(seg[i].name, ".wo") || strstr(seg[i].name, "w_down");
        for (size_t j = 0; j < seg[i].size; j++)
            p[j] = is_norm ? 1.0f : rng_normal(&r) * (out ? proj : t->cfg.init_std);
    }
    free(seg);
}

/* The weights of the model folder a second stage starts from: it must have
 * the config's shape and the tokenizer's vocabulary. *hash covers the
 * weights, for the checkpoint's signature. */
static int load_init(trainer *t, const char *dir, uint64_t *hash) {
    tf_model im;
    if (tf_load(&im, dir)) return -1;
    const tf_config *a = &im.c, *c = &t->cfg.model;
    int rc = 0;
    if (a->arch != ARCH_LLAMA) rc = ms_seterr("only a Llama-family model can start a stage (%s)", dir);
    else if (!tf_same_shape(a, c) || a->max_seq < c->max_seq || a->tied != c->tied ||
             fabs(a->rope_theta - c->rope_theta) > 1e-6 * c->rope_theta)
        rc = ms_seterr("model is not the config's shape: it has vocab %d, d %d, %d layers, %d/%d heads, ff %d, "
                       "ctx %d, theta %g, the config %d, %d, %d, %d/%d, %d, %d, %g (%s)",
                       a->vocab, a->d_model, a->n_layers, a->n_heads, a->n_kv_heads, a->d_ff, a->max_seq,
                       a->rope_theta, c->vocab, c->d_model, c->n_layers, c->n_heads, c->n_kv_heads, c->d_ff,
                       c->max_seq, c->rope_theta, dir);
    else rc = tf_flatten(&im, t->params);
    tf_free(&im);
    if (rc) return -1;
    *hash = hash64(HASH64_INIT, t->params, sizeof(float) * t->n);
    return 0;
}

static int trainer_init(trainer *t, const train_cfg *cfg) {
    memset(t, 0, sizeof *t);
    t->cfg = *cfg;
    tf_config *c = &t->cfg.model;
    if (!(t->tok = tok_load_hf_json(cfg->tokenizer))) return -1;
    c->vocab = tok_vocab_size(t->tok);
    c->bos_id = tok_bos(t->tok);
    c->eos_id = tok_eos(t->tok);
    corpus_split tr, va;
    if (corpus_load(&tr, cfg->corpus, "train")) return -1;
    int rc = corpus_tokenize(&tr, t->tok, c->eos_id, &t->train, &t->ntrain);
    corpus_free(&tr);
    if (rc || corpus_load(&va, cfg->corpus, "valid")) return -1;
    rc = corpus_tokenize(&va, t->tok, c->eos_id, &t->valid, &t->nvalid);
    corpus_free(&va);
    if (rc) return -1;
    size_t need = (size_t)c->max_seq + 1;
    if (t->ntrain < need * 2 || t->nvalid < need)
        return ms_seterr("corpus too small for context %d (%s)", c->max_seq, cfg->corpus);
    t->n = tf_flat_size(c);
    t->params = xmalloc(sizeof(float) * t->n);
    t->grads = xmalloc(sizeof(float) * t->n);
    tf_bind_flat(&t->m, c, t->params);
    tf_bind_flat(&t->g, c, t->grads);
    adamw_init(&t->opt, t->n);
    int ns = tf_flat_segments(c, NULL, 0);
    tf_segment *seg = xmalloc(sizeof(tf_segment) * (size_t)ns);
    tf_flat_segments(c, seg, ns);
    t->ranges = xmalloc(sizeof(adamw_range) * (size_t)ns);
    for (int i = 0; i < ns; i++) t->ranges[i] = (adamw_range){seg[i].offset, seg[i].size, seg[i].decay};
    t->nranges = ns;
    free(seg);
    rng_seed(&t->rng, cfg->seed);
    init_params(t);
    uint64_t init_hash = 0;
    if (cfg->init[0] && load_init(t, cfg->init, &init_hash)) return -1;
    uint64_t h = 1469598103934665603ull; /* FNV-1a over the training tokens */
    for (size_t i = 0; i < t->ntrain; i++) h = (h ^ (uint64_t)(uint32_t)t->train[i]) * 1099511628211ull;
    snprintf(t->signature, sizeof t->signature,
             "v=%d d=%d L=%d H=%d KV=%d ff=%d T=%d theta=%g B=%d A=%d steps=%ld warm=%ld lr=%g ws=%g fl=%g "
             "wd=%g clip=%g b1=%g b2=%g eps=%g std=%g seed=%llu data=%zu:%016llx",
             c->vocab, c->d_model, c->n_layers, c->n_heads, c->n_kv_heads, c->d_ff, c->max_seq, c->rope_theta,
             cfg->batch, cfg->accum, cfg->steps, cfg->warmup, cfg->lr, cfg->warm_start, cfg->final_lr,
             cfg->weight_decay, cfg->clip, cfg->beta1, cfg->beta2, cfg->eps, cfg->init_std,
             (unsigned long long)cfg->seed, t->ntrain, (unsigned long long)h);
    size_t k = strlen(t->signature); /* appended only when used: earlier checkpoints still resume */
    if (cfg->init[0] && k < sizeof t->signature)
        snprintf(t->signature + k, sizeof t->signature - k, " init=%016llx", (unsigned long long)init_hash);
    t->ws = tf_train_ws_new(c, cfg->batch, c->max_seq);
    t->batch = xmalloc(sizeof(int) * (size_t)cfg->batch * (need));
    return 0;
}

static void trainer_free(trainer *t) {
    if (t->ws) tf_train_ws_free(t->ws);
    tf_free(&t->m);
    tf_free(&t->g);
    adamw_free(&t->opt);
    if (t->tok) tok_free(t->tok);
    free(t->train), free(t->valid), free(t->params), free(t->grads), free(t->ranges), free(t->batch);
}

/* ------------------------------------------------------------ checkpoints */

/* The checkpoint view of a trainer; shape is caller storage. */
static ckpt_view ckpt_of(trainer *t, char *shape, size_t cap) {
    const tf_config *c = &t->cfg.model;
    snprintf(shape, cap, "%d,%d,%d,%d,%d,%d,%d", c->vocab, c->d_model, c->n_layers, c->n_heads, c->n_kv_heads,
             c->d_ff, c->max_seq);
    return (ckpt_view){t->params, &t->opt, &t->rng, &t->elapsed, shape, t->signature, "model", NULL, 0, NULL};
}

/* ------------------------------------------------------------ loop */

static void sample_batch(trainer *t) {
    int T = t->cfg.model.max_seq;
    for (int b = 0; b < t->cfg.batch; b++) {
        size_t start = (size_t)rng_below(&t->rng, t->ntrain - (size_t)T - 1);
        memcpy(t->batch + (size_t)b * (T + 1), t->train + start, sizeof(int) * (size_t)(T + 1));
    }
}

/* Held-out loss over fixed, evenly spaced windows of the validation stream. */
static float val_loss(trainer *t) {
    int T = t->cfg.model.max_seq, B = t->cfg.batch;
    size_t span = t->nvalid - (size_t)T - 1;
    int total = t->cfg.eval_batches * B;
    double sum = 0;
    for (int e = 0; e < t->cfg.eval_batches; e++) {
        for (int b = 0; b < B; b++) {
            size_t start = span * (size_t)(e * B + b) / (size_t)total;
            memcpy(t->batch + (size_t)b * (T + 1), t->valid + start, sizeof(int) * (size_t)(T + 1));
        }
        sum += tf_train_loss(&t->m, t->ws, t->batch, B, T);
    }
    return (float)(sum / t->cfg.eval_batches);
}

static int export_model(trainer *t, const char *out) {
    char *dir = ms_path_join(out, "model");
    t->m.tok = t->tok;
    int rc = tf_save_hf(&t->m, dir, false, false);
    t->m.tok = NULL;
    free(dir);
    return rc;
}

int train_lm(const train_cfg *cfg, const char *out, bool resume, const train_opts *o) {
    if (!ms_is_dir(out) && mkdir(out, 0755)) return ms_seterr("cannot create folder (%s)", out);
    trainer t;
    if (trainer_init(&t, cfg)) {
        trainer_free(&t);
        return -1;
    }
    char shape[128];
    ckpt_view view = ckpt_of(&t, shape, sizeof shape);
    FILE *log = ckpt_start(&view, out, "step,lr,train_loss,grad_norm,val_loss,tokens,seconds\n", resume);
    if (!log) {
        trainer_free(&t);
        return -1;
    }
    const tf_config *c = &t.cfg.model;
    int T = c->max_seq, B = cfg->batch;
    adamw_cfg ac = {cfg->beta1, cfg->beta2, cfg->eps, cfg->weight_decay};
    fprintf(o->log, "train-lm: %.2fM params, %zu train / %zu valid tokens, %ld steps of %d x %d x %d tokens%s\n",
            t.n / 1e6, t.ntrain, t.nvalid, cfg->steps, cfg->accum, B, T,
            t.opt.step ? " (resumed)" : "");
    double last_ckpt = ms_now(), run_start = ms_now(), el0 = t.elapsed;
    long run_steps = 0, step0 = t.opt.step;
    int rc = 0;
    while (t.opt.step < cfg->steps) {
        double t0 = ms_now();
        float lr = lr_cosine(t.opt.step, cfg->steps, cfg->warmup, cfg->lr, cfg->warm_start, cfg->final_lr);
        memset(t.grads, 0, sizeof(float) * t.n);
        double loss = 0;
        for (int a = 0; a < cfg->accum; a++) {
            sample_batch(&t);
            loss += tf_train_fwd_bwd(&t.m, &t.g, t.ws, t.batch, B, T, 1.0f / cfg->accum);
        }
        loss /= cfg->accum;
        double gn = cfg->clip > 0 ? clip_grad_norm(t.grads, t.n, cfg->clip) : 0;
        adamw_step(&t.opt, t.params, t.grads, &ac, lr, t.ranges, t.nranges);
        t.elapsed += ms_now() - t0;
        run_steps++;
        long s = t.opt.step;
        float vl = NAN;
        if ((cfg->eval_every && s % cfg->eval_every == 0) || s == cfg->steps) vl = val_loss(&t);
        char vbuf[32] = "";
        if (!isnan(vl)) snprintf(vbuf, sizeof vbuf, "%.6f", vl);
        fprintf(log, "%ld,%.6g,%.6f,%.4f,%s,%ld,%.1f\n", s, lr, loss, gn, vbuf, (long)s * cfg->accum * B * T,
                t.elapsed);
        fflush(log);
        if (!isfinite(loss)) {
            rc = ms_seterr("loss is not finite at step %ld; lower lr (train-lm)", s);
            break;
        }
        double rate = (double)(s - step0) * cfg->accum * B * T / (t.elapsed - el0 + 1e-9);
        double eta = (cfg->steps - s) * (t.elapsed - el0) / (double)(s - step0);
        char e[16], tot[16];
        ms_fmt_minutes(e, sizeof e, eta);
        ms_fmt_minutes(tot, sizeof tot, t.elapsed);
        if (o->tty)
            fprintf(o->log, "\r\033[Kstep %ld/%ld  loss %.4f  lr %.2e  %.0f tok/s  %s elapsed  ETA %s", s, cfg->steps,
                    loss, lr, rate, tot, e);
        if (!isnan(vl) || (!o->tty && s % cfg->log_every == 0))
            fprintf(o->log, "%sstep %ld/%ld  loss %.4f  %s %.4f  lr %.2e  %.0f tok/s  %s elapsed  ETA %s\n",
                    o->tty ? "\r\033[K" : "", s, cfg->steps, loss, isnan(vl) ? "gnorm" : "val", isnan(vl) ? gn : vl,
                    lr, rate, tot, e);
        fflush(o->log);
        bool stop = train_should_stop(o, run_steps);
        if ((rc = ckpt_after_step(&view, out, stop, s == cfg->steps, cfg->ckpt_minutes, &last_ckpt))) break;
        if (stop) break;
    }
    if (o->tty) fprintf(o->log, "\n");
    fclose(log);
    if (!rc && t.opt.step == cfg->steps) {
        rc = export_model(&t, out);
        if (!rc) fprintf(o->log, "train-lm: done in %.1f min of training (%.1f min this run); model in %s/model\n",
                         t.elapsed / 60, (ms_now() - run_start) / 60, out);
    }
    trainer_free(&t);
    return rc;
}

/* ------------------------------------------------------------ evaluation */

int eval_lm(const tf_model *m, const char *corpus_dir, const char *split, lm_eval *r) {
    memset(r, 0, sizeof *r);
    if (!m->tok) return ms_seterr("the model has no tokenizer (eval-lm)");
    corpus_split s;
    if (corpus_load(&s, corpus_dir, split)) return -1;
    int *ids;
    size_t n;
    int eos = m->c.eos_id;
    int rc = corpus_tokenize(&s, m->tok, eos, &ids, &n);
    /* Bytes as in "\n\n".join(texts): the separators stand for the EOS tokens. */
    r->bytes = s.bytes + (eos >= 0 && s.n > 1 ? 2 * (size_t)(s.n - 1) : 0);
    corpus_free(&s);
    if (rc) return -1;
    if (n > 0 && eos >= 0) n--; /* the final separator predicts nothing */
    if (n < 2) {
        free(ids);
        return ms_seterr("the %s split has fewer than 2 tokens (eval-lm)", split);
    }
    int T = m->c.max_seq < 1024 ? m->c.max_seq : 1024;
    tf_state st;
    if (tf_state_init(&st, m, T)) {
        free(ids);
        return -1;
    }
    float *nll = xmalloc(sizeof(float) * (size_t)T);
    double sum = 0;
    /* Windows of T tokens overlapping by one: every token but the first is
     * predicted exactly once. */
    for (size_t at = 0; at + 1 < n && !rc; at += (size_t)T - 1) {
        int len = (int)((n - at) < (size_t)T ? (n - at) : (size_t)T);
        if (len < 2) break;
        rc = tf_nll(m, &st, ids + at, len, nll);
        for (int i = 0; i < len - 1; i++) sum += nll[i];
        r->tokens += (size_t)len - 1;
    }
    free(nll);
    free(ids);
    tf_state_free(&st);
    if (rc) return -1;
    r->loss = sum / (double)r->tokens;
    r->ppl = exp(r->loss);
    r->bits_per_byte = sum / log(2.0) / (double)r->bytes;
    return 0;
}
