/* glp_train.c — the GLP training loop, its checkpoints and the exported folder. */
#include "glp_train.h"
#include "checkpoint.h"
#include "glp.h"
#include "glp_folder.h"
#include "half.h"
#include "hash.h"
#include "harvest.h"
#include "jsonutil.h"
#include "optim.h"
#include "rng.h"
#include "safetensors.h"
#include "util.h"

#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void glp_train_defaults(glp_train_cfg *c) {
    memset(c, 0, sizeof *c);
    c->n_layers = 3, c->batch = 4096, c->steps = 5000;
    c->lr = 5e-5f, c->warmup = 0.01f, c->warm_start = 0.01f, c->final_lr = 0.1f;
    c->weight_decay = 0.01f, c->clip = 1.0f, c->beta1 = 0.9f, c->beta2 = 0.999f, c->eps = 1e-8f; /* torch AdamW */
    c->seed = 1, c->ckpt_minutes = 3, c->heldout = 0.02;
    c->eval_every = 250, c->eval_rows = 16384, c->log_every = 50;
}

/* ------------------------------------------------------------ config */

static const char *const KNOWN[] = {"d_model", "d_mlp", "n_layers", "batch", "steps", "lr", "warmup",
                                  "warm_start", "final_lr", "weight_decay", "clip", "beta1", "beta2", "eps",
                                  "seed", "checkpoint_minutes", "heldout", "eval_every", "eval_rows",
                                  "log_every", "model_name", "ema", NULL};

int glp_train_cfg_load(glp_train_cfg *c, const char *path) {
    glp_train_defaults(c);
    json_object *o = ms_json_read(path), *v;
    if (!o) return -1;
    if (!json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return ms_seterr("config is not a JSON object (%s)", path);
    }
    long dm = 0, dh = 0, L = c->n_layers, B = c->batch, S = c->steps, seed = (long)c->seed;
    long ev = c->eval_every, er = c->eval_rows, lg = c->log_every;
    double lr = c->lr, wu = c->warmup, ws = c->warm_start, fl = c->final_lr, wd = c->weight_decay;
    double clip = c->clip, b1 = c->beta1, b2 = c->beta2, eps = c->eps, ck = c->ckpt_minutes, ho = c->heldout;
    double ema = c->ema;
    int rc = ms_json_known_keys(o, KNOWN, path) || ms_json_int(o, "d_model", 1, 65536, &dm, path) || ms_json_int(o, "d_mlp", 1, 262144, &dh, path) ||
             ms_json_int(o, "n_layers", 1, 256, &L, path) || ms_json_int(o, "batch", 1, 1 << 20, &B, path) ||
             ms_json_int(o, "steps", 1, 1000000000, &S, path) || ms_json_int(o, "seed", 0, 1L << 62, &seed, path) ||
             ms_json_int(o, "eval_every", 0, 1000000000, &ev, path) || ms_json_int(o, "eval_rows", 1, 1 << 24, &er, path) ||
             ms_json_int(o, "log_every", 1, 1000000000, &lg, path) || ms_json_num(o, "lr", 0, 10, &lr, path) ||
             ms_json_num(o, "warmup", 0, 1, &wu, path) || ms_json_num(o, "warm_start", 0, 1, &ws, path) ||
             ms_json_num(o, "final_lr", 0, 1, &fl, path) || ms_json_num(o, "weight_decay", 0, 10, &wd, path) ||
             ms_json_num(o, "clip", 0, 1e9, &clip, path) || ms_json_num(o, "beta1", 0, 1, &b1, path) ||
             ms_json_num(o, "beta2", 0, 1, &b2, path) || ms_json_num(o, "eps", 0, 1, &eps, path) ||
             ms_json_num(o, "checkpoint_minutes", 0.0001, 1e6, &ck, path) || ms_json_num(o, "heldout", 0, 0.5, &ho, path) || ms_json_num(o, "ema", 0, 0.999999, &ema, path);
    if (!rc && json_object_object_get_ex(o, "model_name", &v)) {
        if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) >= (int)sizeof c->model_name)
            rc = ms_seterr("'model_name' must be a string shorter than %zu bytes (%s)", sizeof c->model_name, path);
        else snprintf(c->model_name, sizeof c->model_name, "%s", json_object_get_string(v));
    }
    json_object_put(o);
    if (rc) return -1;
    c->d_model = (int)dm, c->d_mlp = (int)dh, c->n_layers = (int)L, c->batch = (int)B, c->steps = S;
    c->seed = (uint64_t)seed, c->eval_every = (int)ev, c->eval_rows = (int)er, c->log_every = (int)lg;
    c->lr = (float)lr, c->warmup = (float)wu, c->warm_start = (float)ws, c->final_lr = (float)fl;
    c->weight_decay = (float)wd, c->clip = (float)clip, c->beta1 = (float)b1, c->beta2 = (float)b2;
    c->eps = (float)eps, c->ckpt_minutes = ck, c->heldout = ho, c->ema = (float)ema;
    return 0;
}

/* ------------------------------------------------------------ state */

typedef struct {
    glp_train_cfg cfg;
    harvest_info info;
    glp_config gc;
    glp_model m;
    glp_work *w;
    float *data; /* [rows, d] normalized; the last nheld rows are held out */
    long rows, ntrain, nheld;
    float *xb, *eps, *u; /* one batch */
    adamw_state opt;
    adamw_range *ranges;
    int nranges;
    float *ema; /* moving average of m.flat (cfg.ema > 0) */
    rng_t rng;
    long warmup;
    char signature[768];
    double elapsed;
} gtrainer;

static void gtrainer_free(gtrainer *t) {
    if (t->w) glp_work_free(t->w);
    if (t->m.flat) glp_free(&t->m);
    harvest_info_free(&t->info);
    adamw_free(&t->opt);
    free(t->data), free(t->xb), free(t->eps), free(t->u), free(t->ranges), free(t->ema);
}

/* The GLP folder a run starts from: its widths must be the config's (left
 * at 0 they take the folder's), its input the harvest's width, and it may
 * have fewer blocks than the config (glp_grow adds them). *hash covers
 * weights and normalizer, for the checkpoint's signature. */
static int load_init(glp_model *im, glp_config *gc, const glp_train_cfg *cfg, const char *dir, uint64_t *hash) {
    glp_file_config fc;
    if (glp_load_folder(im, &fc, dir, -1)) return -1;
    const glp_config *c = &im->c;
    int rc = 0;
    if (c->multi_layer_n_layers > 1) rc = ms_seterr("a multi-layer GLP cannot start a single-layer run (%s)", dir);
    else if (c->d_input != gc->d_input)
        rc = ms_seterr("GLP has d_input %d, the harvest has rows of %d (%s)", c->d_input, gc->d_input, dir);
    else if (c->n_layers > cfg->n_layers || (cfg->d_model && c->d_model != cfg->d_model) ||
             (cfg->d_mlp && c->d_mlp != cfg->d_mlp))
        rc = ms_seterr("GLP is %d x %d/%d, the config asks for %d x %d/%d: only blocks can be added (%s)",
                       c->n_layers, c->d_model, c->d_mlp, cfg->n_layers, cfg->d_model ? cfg->d_model : c->d_model,
                       cfg->d_mlp ? cfg->d_mlp : c->d_mlp, dir);
    if (rc) {
        glp_free(im);
        return -1;
    }
    uint64_t h = hash64(HASH64_INIT, im->flat, sizeof(float) * im->n_params);
    h = hash64(h, im->mean, sizeof(float) * (size_t)c->d_input);
    *hash = hash64(h, im->var, sizeof(float) * (size_t)c->d_input);
    if (im->basis) *hash = hash64(*hash, im->basis, sizeof(float) * (size_t)c->d_input * c->d_input);
    *gc = *c;
    gc->n_layers = cfg->n_layers;
    return 0;
}

/* The checkpoint's key for the data: the harvest's source (harvest.h), which
 * a re-harvest on another CPU keeps, so a carried checkpoint resumes there.
 * Harvests made before it was recorded stand in their statistics (hashing
 * every row would cost a pass over gigabytes), with the offset basis their
 * checkpoints were made with. */
static uint64_t data_key(const harvest_info *info) {
    if (info->source[0]) return strtoull(info->source, NULL, 16);
    uint64_t h = hash64(1469598103934665603ull, info->mean, sizeof(float) * (size_t)info->d);
    return hash64(h, info->var, sizeof(float) * (size_t)info->d);
}

static int gtrainer_init(gtrainer *t, const glp_train_cfg *cfg, const char *acts) {
    memset(t, 0, sizeof *t);
    t->cfg = *cfg;
    if (cfg->init[0] && cfg->normalizer[0])
        return ms_seterr("a run started from a GLP keeps its normalizer: give --init or --normalizer, not both");
    if (harvest_info_load(&t->info, acts) || harvest_load_rows(acts, &t->info, &t->data)) return -1;
    t->rows = t->info.rows;
    int d = t->info.d;
    t->gc = (glp_config){d, cfg->d_model ? cfg->d_model : 2 * d, cfg->d_mlp ? cfg->d_mlp : 4 * d, cfg->n_layers, 0};
    glp_model im = {0};
    uint64_t init_hash = 0;
    if (cfg->init[0] && load_init(&im, &t->gc, cfg, cfg->init, &init_hash)) return -1;
    t->nheld = cfg->heldout > 0 ? (long)ceil(cfg->heldout * (double)t->rows) : 0;
    t->ntrain = t->rows - t->nheld;
    if (t->ntrain < 1) ms_seterr("no training rows left after the held-out fraction (%s)", acts);
    if (t->ntrain < 1 || glp_init(&t->m, &t->gc)) {
        if (im.flat) glp_free(&im);
        return -1;
    }
    /* Random first, so blocks an init lacks get the usual start; glp_grow
     * then overwrites every tensor the init has. */
    rng_t init;
    rng_seed(&init, cfg->seed ^ 0x61b5eed);
    glp_init_random(&t->m, &init);
    if (im.flat) { /* the weights and the normalizer they were trained with; added blocks start as identity */
        int rc = glp_grow(&t->m, &im);
        glp_set_stats(&t->m, im.mean, im.var);
        glp_set_basis(&t->m, im.basis, im.basis_inv);
        glp_free(&im);
        if (rc) return -1;
    } else if (cfg->normalizer[0]) {
        if (glp_normalizer_load(&t->m, cfg->normalizer)) return -1;
    } else glp_set_stats(&t->m, t->info.mean, t->info.var);
    glp_normalize(&t->m, t->data, t->data, (int)t->rows);
    if (cfg->ema > 0) {
        t->ema = xmalloc(sizeof(float) * t->m.n_params);
        memcpy(t->ema, t->m.flat, sizeof(float) * t->m.n_params);
    }
    rng_seed(&t->rng, cfg->seed);
    if (!(t->w = glp_work_new(&t->gc, cfg->batch))) return -1;
    size_t B = (size_t)cfg->batch;
    t->xb = xmalloc(xmul(sizeof(float) * B, (size_t)d));
    t->eps = xmalloc(xmul(sizeof(float) * B, (size_t)d));
    t->u = xmalloc(sizeof(float) * B);
    adamw_init(&t->opt, t->m.n_params);
    int nt = glp_tensors(&t->gc, NULL, 0);
    glp_tensor *gt = xmalloc(sizeof(glp_tensor) * (size_t)nt);
    glp_tensors(&t->gc, gt, nt);
    t->ranges = xmalloc(sizeof(adamw_range) * (size_t)nt);
    for (int i = 0; i < nt; i++) t->ranges[i] = (adamw_range){gt[i].offset, gt[i].size, gt[i].decay};
    t->nranges = nt;
    free(gt);
    t->warmup = (long)lround(cfg->warmup * (double)cfg->steps);
    uint64_t h = data_key(&t->info);
    snprintf(t->signature, sizeof t->signature,
             "d=%d dm=%d mlp=%d L=%d B=%d steps=%ld warm=%ld lr=%g ws=%g fl=%g wd=%g clip=%g b1=%g b2=%g eps=%g "
             "seed=%llu heldout=%g data=%ld:%016llx",
             d, t->gc.d_model, t->gc.d_mlp, t->gc.n_layers, cfg->batch, cfg->steps, t->warmup, cfg->lr,
             cfg->warm_start, cfg->final_lr, cfg->weight_decay, cfg->clip, cfg->beta1, cfg->beta2, cfg->eps,
             (unsigned long long)cfg->seed, cfg->heldout, t->rows, (unsigned long long)h);
    /* Appended only when used, so earlier runs' checkpoints still resume. */
    size_t k = strlen(t->signature);
    if (cfg->ema > 0) k += (size_t)snprintf(t->signature + k, sizeof t->signature - k, " ema=%g", cfg->ema);
    if (cfg->init[0] && k < sizeof t->signature)
        k += (size_t)snprintf(t->signature + k, sizeof t->signature - k, " init=%016llx", (unsigned long long)init_hash);
    if (cfg->normalizer[0] && k < sizeof t->signature) {
        snprintf(t->signature + k, sizeof t->signature - k, " norm=%016llx",
                 (unsigned long long)glp_normalizer_hash(&t->m));
    }
    return 0;
}

/* ------------------------------------------------------------ checkpoints */

static void shape_string(const gtrainer *t, char *buf, size_t n) {
    snprintf(buf, n, "%d,%d,%d,%d", t->gc.d_input, t->gc.d_model, t->gc.d_mlp, t->gc.n_layers);
}

static ckpt_view ckpt_of(gtrainer *t, char *shape, size_t cap) {
    shape_string(t, shape, cap);
    return (ckpt_view){t->m.flat, &t->opt, &t->rng, &t->elapsed, shape, t->signature, "GLP", NULL, 0, t->ema};
}

/* ------------------------------------------------------------ loop */

/* Rows drawn with replacement from the training part; then u and ε, all from
 * the run's RNG so a resume continues the same sequence. */
static void draw_batch(gtrainer *t, rng_t *r, long first, long span, bool random_rows) {
    int d = t->info.d, B = t->cfg.batch;
    for (int b = 0; b < B; b++) {
        long row = random_rows ? (long)rng_below(r, (uint64_t)span) : first + b;
        memcpy(t->xb + (size_t)b * d, t->data + (size_t)row * d, sizeof(float) * (size_t)d);
    }
    for (int b = 0; b < B; b++) t->u[b] = rng_uniform(r);
    for (size_t i = 0; i < (size_t)B * d; i++) t->eps[i] = rng_normal(r);
}

/* Held-out loss with u and ε from a fixed seed: the same draws every time,
 * so the curve moves only with the weights. */
static double held_loss_of_params(gtrainer *t) {
    long n = t->nheld < t->cfg.eval_rows ? t->nheld : t->cfg.eval_rows;
    if (n < 1) return NAN;
    int d = t->info.d, B = t->cfg.batch;
    rng_t r;
    rng_seed(&r, 0xe7a1ull);
    double sum = 0;
    for (long at = 0; at < n; at += B) {
        int m = (int)(n - at < B ? n - at : B);
        long first = t->ntrain + at;
        memcpy(t->xb, t->data + (size_t)first * d, sizeof(float) * (size_t)m * d);
        for (int b = 0; b < m; b++) t->u[b] = rng_uniform(&r);
        for (size_t i = 0; i < (size_t)m * d; i++) t->eps[i] = rng_normal(&r);
        sum += glp_fm_loss(&t->m, t->w, t->xb, t->eps, t->u, m, -1, false) * m;
    }
    return sum / (double)n;
}

/* Swaps the moving average into the model and back (both n_params). */
static void swap_ema(gtrainer *t) {
    float *p = t->m.flat, *e = t->ema;
    for (size_t i = 0; i < t->m.n_params; i++) {
        float x = p[i];
        p[i] = e[i], e[i] = x;
    }
}

/* The held-out loss of the weights that will be exported. */
static double held_loss(gtrainer *t) {
    if (!t->ema) return held_loss_of_params(t);
    swap_ema(t);
    double l = held_loss_of_params(t);
    swap_ema(t);
    return l;
}

/* ema = d·ema + (1-d)·params after step s, with the usual warm-up of the
 * decay, d = min(ema, (1+s)/(10+s)), so early weights fade fast. */
static void ema_update(gtrainer *t, long s) {
    float d = t->cfg.ema, w = (float)(1 + s) / (float)(10 + s);
    if (w < d) d = w;
    const float *p = t->m.flat;
    for (size_t i = 0; i < t->m.n_params; i++) t->ema[i] += (1 - d) * (p[i] - t->ema[i]);
}

static void yaml_string(char *dst, size_t cap, const char *s) {
    size_t k = 0;
    dst[k++] = '"';
    for (; *s && k + 3 < cap; s++) {
        if (*s == '"' || *s == '\\') dst[k++] = '\\';
        dst[k++] = (unsigned char)*s < 0x20 ? ' ' : *s;
    }
    dst[k++] = '"';
    dst[k] = 0;
}

/* out/glp/: final.safetensors, config.yaml (published layout) and the
 * normalizer as rep_statistics.safetensors: the reference's rep_statistics.pt
 * is a torch pickle, which metascope only reads (engine/torchpt.h). */
static int export_glp(gtrainer *t, const char *out, const char *folder) {
    char *dir = ms_path_join(out, folder);
    int rc = 0;
    if (!ms_is_dir(dir) && mkdir(dir, 0755)) rc = ms_seterr("cannot create folder (%s)", dir);
    char *p = ms_path_join(dir, "final.safetensors");
    if (!rc) rc = glp_save(&t->m, p);
    free(p);
    char name[600], yaml[2048];
    yaml_string(name, sizeof name, t->cfg.model_name[0] ? t->cfg.model_name : t->info.model);
    int len = snprintf(yaml, sizeof yaml,
                       "model_name: %s\n"
                       "glp_kwargs:\n"
                       "  denoiser_config:\n"
                       "    d_input: %d\n    d_model: %d\n    d_mlp: %d\n    n_layers: %d\n"
                       "    multi_layer_n_layers: null\n"
                       "  tracedict_config:\n"
                       "    layer_prefix: model.layers\n    layers: [%d]\n    retain: output\n",
                       name, t->gc.d_input, t->gc.d_model, t->gc.d_mlp, t->gc.n_layers, t->info.layer);
    p = ms_path_join(dir, "config.yaml");
    if (!rc) rc = ms_write_file_atomic(p, yaml, (size_t)len);
    free(p);
    p = ms_path_join(dir, "rep_statistics.safetensors");
    if (!rc) rc = glp_normalizer_save(&t->m, p); /* the one the weights were trained with */
    free(p);
    free(dir);
    return rc;
}

/* One optimizer step; returns the batch loss (NaN on error). */
static double train_step(gtrainer *t, float lr, double *gn) {
    const glp_train_cfg *c = &t->cfg;
    adamw_cfg ac = {c->beta1, c->beta2, c->eps, c->weight_decay};
    glp_zero_grad(&t->m);
    draw_batch(t, &t->rng, 0, t->ntrain, true);
    double loss = glp_fm_loss(&t->m, t->w, t->xb, t->eps, t->u, c->batch, -1, true);
    *gn = c->clip > 0 ? clip_grad_norm(t->m.grad, t->m.n_params, c->clip) : 0;
    adamw_step(&t->opt, t->m.flat, t->m.grad, &ac, lr, t->ranges, t->nranges);
    return loss;
}

static void progress(gtrainer *t, const train_opts *o, long s, long step0, double el0, double loss, double gn,
                     double vl, float lr) {
    const glp_train_cfg *c = &t->cfg;
    double rate = (double)(s - step0) * c->batch / (t->elapsed - el0 + 1e-9);
    double eta = (c->steps - s) * (t->elapsed - el0) / (double)(s - step0);
    char e[16], tot[16];
    ms_fmt_minutes(e, sizeof e, eta);
    ms_fmt_minutes(tot, sizeof tot, t->elapsed);
    if (o->tty)
        fprintf(o->log, "\r\033[Kstep %ld/%ld  loss %.4f  lr %.2e  %.0f rows/s  %s elapsed  ETA %s", s, c->steps, loss,
                lr, rate, tot, e);
    if (!isnan(vl) || (!o->tty && s % c->log_every == 0))
        fprintf(o->log, "%sstep %ld/%ld  loss %.4f  %s %.4f  lr %.2e  %.0f rows/s  %s elapsed  ETA %s\n",
                o->tty ? "\r\033[K" : "", s, c->steps, loss, isnan(vl) ? "gnorm" : "val", isnan(vl) ? gn : vl, lr,
                rate, tot, e);
    fflush(o->log);
}

int glp_train(const glp_train_cfg *cfg, const char *acts, const char *out, bool resume, const train_opts *o) {
    if (!ms_is_dir(out) && mkdir(out, 0755)) return ms_seterr("cannot create folder (%s)", out);
    gtrainer t;
    if (gtrainer_init(&t, cfg, acts)) {
        gtrainer_free(&t);
        return -1;
    }
    char shape[128];
    ckpt_view view = ckpt_of(&t, shape, sizeof shape);
    FILE *log = ckpt_start(&view, out, "step,lr,train_loss,grad_norm,val_loss,rows,seconds\n", resume);
    if (!log) {
        gtrainer_free(&t);
        return -1;
    }
    fprintf(o->log, "train-glp: %.2fM params (d %d, %d x %d/%d), %ld train / %ld held-out rows, %ld steps of %d%s%s%s\n",
            t.m.n_params / 1e6, t.gc.d_input, t.gc.n_layers, t.gc.d_model, t.gc.d_mlp, t.ntrain, t.nheld,
            cfg->steps, cfg->batch, cfg->init[0] ? " from " : "", cfg->init, t.opt.step ? " (resumed)" : "");
    double last_ckpt = ms_now(), el0 = t.elapsed;
    long run_steps = 0, step0 = t.opt.step;
    int rc = 0;
    while (t.opt.step < cfg->steps) {
        double t0 = ms_now(), gn;
        float lr = lr_cosine(t.opt.step, cfg->steps, t.warmup, cfg->lr, cfg->warm_start, cfg->final_lr);
        double loss = train_step(&t, lr, &gn);
        if (t.ema) ema_update(&t, t.opt.step);
        t.elapsed += ms_now() - t0;
        run_steps++;
        long s = t.opt.step;
        if (!isfinite(loss)) {
            rc = ms_seterr("loss is not finite at step %ld; lower lr (train-glp)", s);
            break;
        }
        double vl = NAN;
        if ((cfg->eval_every && s % cfg->eval_every == 0) || s == cfg->steps) vl = held_loss(&t);
        char vbuf[32] = "";
        if (!isnan(vl)) snprintf(vbuf, sizeof vbuf, "%.6f", vl);
        fprintf(log, "%ld,%.6g,%.6f,%.4f,%s,%ld,%.1f\n", s, lr, loss, gn, vbuf, s * cfg->batch, t.elapsed);
        fflush(log);
        progress(&t, o, s, step0, el0, loss, gn, vl, lr);
        bool stop = train_should_stop(o, run_steps);
        if ((rc = ckpt_after_step(&view, out, stop, s == cfg->steps, cfg->ckpt_minutes, &last_ckpt))) break;
        if (stop) break;
    }
    if (o->tty) fprintf(o->log, "\n");
    fclose(log);
    if (!rc && t.opt.step == cfg->steps) {
        if (t.ema) { /* the last step's weights beside the average, for comparison */
            rc = export_glp(&t, out, "glp-raw");
            swap_ema(&t);
        }
        if (!rc) rc = export_glp(&t, out, "glp");
        if (!rc)
            fprintf(o->log, "train-glp: done in %.1f min of training, %.0f rows/s this run; GLP in %s/glp\n",
                    t.elapsed / 60, run_steps ? (double)run_steps * cfg->batch / (t.elapsed - el0 + 1e-9) : 0.0,
                    out);
    }
    gtrainer_free(&t);
    return rc;
}
