/* sae_train.c — TopK SAE training and evaluation (see sae_train.h). */
#include "sae_train.h"
#include "checkpoint.h"
#include "harvest.h"
#include "jsonutil.h"
#include "optim.h"
#include "util.h"

#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STAT_ROWS 65536 /* rows that set b_dec and the MSE scale */

void sae_train_defaults(sae_train_cfg *c) {
    memset(c, 0, sizeof *c);
    c->latents = 4096, c->k = 32, c->batch = 4096, c->steps = 3000;
    c->lr = 4e-4f, c->warmup = 0.01f, c->final_lr = 0.1f, c->clip = 1.0f;
    c->beta1 = 0.9f, c->beta2 = 0.999f, c->eps = 6.25e-10f; /* the reference's Adam eps */
    c->aux_coef = 1.0f / 32, c->dead_tokens = 1000000, c->seed = 1;
    c->ckpt_minutes = 3, c->heldout = 0.02, c->eval_every = 250, c->eval_rows = 16384, c->log_every = 50;
    c->half = true;
}

static const char *const KNOWN[] = {"latents", "k", "batch", "steps", "lr", "warmup", "final_lr", "clip", "beta1",
                                  "beta2", "eps", "aux_coef", "dead_tokens", "seed", "checkpoint_minutes",
                                  "heldout", "eval_every", "eval_rows", "log_every", "half", NULL};

int sae_train_cfg_load(sae_train_cfg *c, const char *path) {
    json_object *o = ms_json_read(path), *v;
    if (!o) return -1;
    if (!json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return ms_seterr("config is not a JSON object (%s)", path);
    }
    long M = c->latents, K = c->k, B = c->batch, S = c->steps, dt = c->dead_tokens, seed = (long)c->seed;
    long ev = c->eval_every, er = c->eval_rows, lg = c->log_every;
    double lr = c->lr, wu = c->warmup, fl = c->final_lr, clip = c->clip, b1 = c->beta1, b2 = c->beta2;
    double eps = c->eps, ax = c->aux_coef, ck = c->ckpt_minutes, ho = c->heldout;
    int rc = ms_json_known_keys(o, KNOWN, path) || ms_json_int(o, "latents", 1, 1 << 22, &M, path) ||
             ms_json_int(o, "k", 1, 4096, &K, path) || ms_json_int(o, "batch", 1, 1 << 16, &B, path) ||
             ms_json_int(o, "steps", 1, 1000000000, &S, path) || ms_json_int(o, "dead_tokens", 1, 1L << 40, &dt, path) ||
             ms_json_int(o, "seed", 0, 1L << 62, &seed, path) || ms_json_int(o, "eval_every", 0, 1000000000, &ev, path) ||
             ms_json_int(o, "eval_rows", 1, 1 << 24, &er, path) || ms_json_int(o, "log_every", 1, 1000000000, &lg, path) ||
             ms_json_num(o, "lr", 0, 10, &lr, path) || ms_json_num(o, "warmup", 0, 1, &wu, path) ||
             ms_json_num(o, "final_lr", 0, 1, &fl, path) || ms_json_num(o, "clip", 0, 1e9, &clip, path) ||
             ms_json_num(o, "beta1", 0, 1, &b1, path) || ms_json_num(o, "beta2", 0, 1, &b2, path) ||
             ms_json_num(o, "eps", 0, 1, &eps, path) || ms_json_num(o, "aux_coef", 0, 100, &ax, path) ||
             ms_json_num(o, "checkpoint_minutes", 0.0001, 1e6, &ck, path) || ms_json_num(o, "heldout", 0, 0.5, &ho, path);
    if (!rc && json_object_object_get_ex(o, "half", &v)) {
        if (!json_object_is_type(v, json_type_boolean)) rc = ms_seterr("'half' must be true or false (%s)", path);
        else c->half = json_object_get_boolean(v);
    }
    json_object_put(o);
    if (rc) return -1;
    if (K > M) return ms_seterr("k %ld exceeds latents %ld (%s)", K, M, path);
    c->latents = (int)M, c->k = (int)K, c->batch = (int)B, c->steps = S, c->dead_tokens = dt;
    c->seed = (uint64_t)seed, c->eval_every = (int)ev, c->eval_rows = (int)er, c->log_every = (int)lg;
    c->lr = (float)lr, c->warmup = (float)wu, c->final_lr = (float)fl, c->clip = (float)clip;
    c->beta1 = (float)b1, c->beta2 = (float)b2, c->eps = (float)eps, c->aux_coef = (float)ax;
    c->ckpt_minutes = ck, c->heldout = ho;
    return 0;
}

/* ------------------------------------------------------------ state */

typedef struct {
    sae_train_cfg cfg;
    harvest_info info;
    sae_model m;
    sae_work *w;
    float *data; /* [rows, d] raw activations; the last nheld rows are held out */
    long rows, ntrain, nheld;
    float *xb;
    adamw_state opt;
    adamw_range range;
    rng_t rng;
    long warmup;
    char signature[512];
    double elapsed;
} strainer;

static void strainer_free(strainer *t) {
    if (t->w) sae_work_free(t->w);
    if (t->m.flat) sae_free(&t->m);
    harvest_info_free(&t->info);
    adamw_free(&t->opt);
    free(t->data), free(t->xb);
}

static int strainer_init(strainer *t, const sae_train_cfg *cfg, const char *acts) {
    memset(t, 0, sizeof *t);
    t->cfg = *cfg;
    if (harvest_info_load(&t->info, acts) || harvest_load_rows(acts, &t->info, &t->data)) return -1;
    int d = t->info.d;
    t->rows = t->info.rows;
    t->nheld = cfg->heldout > 0 ? (long)ceil(cfg->heldout * (double)t->rows) : 0;
    t->ntrain = t->rows - t->nheld;
    if (t->ntrain < 1) return ms_seterr("no training rows left after the held-out fraction (%s)", acts);
    sae_config sc = {d, cfg->latents, cfg->k, SAE_TOPK, true};
    if (sae_init(&t->m, &sc)) return -1;
    rng_t init;
    rng_seed(&init, cfg->seed ^ 0x5ae1);
    sae_init_random(&t->m, &init);
    int ns = t->ntrain < STAT_ROWS ? (int)t->ntrain : STAT_ROWS;
    sae_data_mean(t->data, ns, d, t->m.p.b_dec); /* the reference starts b_dec at the data's center */
    if (sae_set_mse_scale(&t->m, t->data, ns)) return -1;
    t->m.aux_coef = cfg->aux_coef;
    t->m.dead_tokens = (uint64_t)cfg->dead_tokens;
    sae_set_layer(&t->m, t->info.layer);
    rng_seed(&t->rng, cfg->seed);
    if (!(t->w = sae_work_new(&t->m, cfg->batch))) return -1;
    t->xb = xmalloc(xmul(sizeof(float) * (size_t)cfg->batch, (size_t)d));
    adamw_init(&t->opt, t->m.n_params);
    t->range = (adamw_range){0, t->m.n_params, false}; /* no weight decay, as the reference */
    t->warmup = (long)lround(cfg->warmup * (double)cfg->steps);
    snprintf(t->signature, sizeof t->signature,
             "d=%d M=%d k=%d B=%d steps=%ld warm=%ld lr=%g fl=%g clip=%g b1=%g b2=%g eps=%g aux=%g dead=%ld "
             "seed=%llu heldout=%g rows=%ld layer=%d",
             d, cfg->latents, cfg->k, cfg->batch, cfg->steps, t->warmup, cfg->lr, cfg->final_lr, cfg->clip,
             cfg->beta1, cfg->beta2, cfg->eps, cfg->aux_coef, cfg->dead_tokens, (unsigned long long)cfg->seed,
             cfg->heldout, t->rows, t->info.layer);
    return 0;
}

static ckpt_view ckpt_of(strainer *t, char *shape, size_t cap) {
    snprintf(shape, cap, "%d,%d,%d", t->m.c.d_in, t->m.c.n_latents, t->m.c.k);
    return (ckpt_view){t->m.flat, &t->opt, &t->rng, &t->elapsed, shape, t->signature, "SAE", t->m.since_fired,
                       (size_t)t->m.c.n_latents, NULL};
}

/* ------------------------------------------------------------ metrics */

typedef struct {
    double se, var, l0; /* sums */
    long rows;
    uint8_t *fired;     /* [latents] */
} sae_sums;

/* Adds rows h[N] to the sums: squared error, variance around `mean`, L0,
 * latents that fired. */
static int sums_add(const sae_model *m, sae_work *w, const float *h, int N, const float *mean, float *rec, int *idx,
                    float *val, sae_sums *s) {
    int d = m->c.d_in, k = m->c.k;
    if (sae_encode(m, w, h, N, idx, val, NULL)) return -1;
    sae_decode_sparse(m, idx, val, N, k, rec);
    for (int r = 0; r < N; r++) {
        const float *x = h + (size_t)r * d, *y = rec + (size_t)r * d;
        for (int i = 0; i < d; i++) {
            s->se += (double)(x[i] - y[i]) * (x[i] - y[i]);
            s->var += (double)(x[i] - mean[i]) * (x[i] - mean[i]);
        }
        for (int j = 0; j < k; j++)
            if (val[(size_t)r * k + j] > 0) s->l0++, s->fired[idx[(size_t)r * k + j]] = 1;
    }
    s->rows += N;
    return 0;
}

/* Sums over rows [first, first + n) of data, in chunks of the workspace. */
static int sums_over(const sae_model *m, const float *data, long first, long n, const float *mean, sae_sums *s) {
    int d = m->c.d_in, k = m->c.k, C = 1024, rc = 0;
    sae_work *w = sae_work_new(m, C);
    float *rec = xmalloc(sizeof(float) * (size_t)C * d), *val = xmalloc(sizeof(float) * (size_t)C * k);
    int *idx = xmalloc(sizeof(int) * (size_t)C * k);
    for (long at = 0; at < n && !rc; at += C) {
        int b = (int)(n - at < C ? n - at : C);
        rc = sums_add(m, w, data + (size_t)(first + at) * d, b, mean, rec, idx, val, s);
    }
    sae_work_free(w);
    free(rec), free(val), free(idx);
    return rc;
}

static int held_metrics(strainer *t, double *fvu, double *l0, double *dead) {
    long n = t->nheld < t->cfg.eval_rows ? t->nheld : t->cfg.eval_rows;
    if (n < 1) return *fvu = *l0 = *dead = NAN, 0;
    sae_sums s = {.fired = xcalloc((size_t)t->m.c.n_latents, 1)};
    float *mean = xmalloc(sizeof(float) * (size_t)t->info.d);
    sae_data_mean(t->data + (size_t)t->ntrain * t->info.d, (int)n, t->info.d, mean);
    int rc = sums_over(&t->m, t->data, t->ntrain, n, mean, &s);
    long nf = 0;
    for (int j = 0; j < t->m.c.n_latents; j++) nf += s.fired[j];
    *fvu = s.se / s.var, *l0 = s.l0 / (double)s.rows, *dead = 1.0 - (double)nf / t->m.c.n_latents;
    free(s.fired), free(mean);
    return rc;
}

/* ------------------------------------------------------------ loop */

static double train_step(strainer *t, float lr, double *gn, int *n_dead) {
    const sae_train_cfg *c = &t->cfg;
    int d = t->info.d, B = c->batch;
    for (int b = 0; b < B; b++) {
        long row = (long)rng_below(&t->rng, (uint64_t)t->ntrain);
        memcpy(t->xb + (size_t)b * d, t->data + (size_t)row * d, sizeof(float) * (size_t)d);
    }
    sae_zero_grad(&t->m);
    sae_loss_opts lo = {NULL, true, true, NULL};
    sae_loss_parts parts;
    double loss = sae_loss(&t->m, t->w, t->xb, B, &lo, &parts);
    sae_project_decoder_grad(&t->m); /* only the part that keeps rows at unit norm */
    *gn = c->clip > 0 ? clip_grad_norm(t->m.grad, t->m.n_params, c->clip) : 0;
    adamw_cfg ac = {c->beta1, c->beta2, c->eps, 0};
    adamw_step(&t->opt, t->m.flat, t->m.grad, &ac, lr, &t->range, 1);
    sae_normalize_decoder(&t->m);
    *n_dead = parts.n_dead;
    return loss;
}

static int export_sae(strainer *t, const char *out) {
    char *dir = ms_path_join(out, "sae");
    int rc = sae_save_folder(&t->m, dir, t->cfg.half ? SAE_SAVE_F16 | SAE_SAVE_LZ4 : 0);
    free(dir);
    return rc;
}

int sae_train(const sae_train_cfg *cfg, const char *acts, const char *out, bool resume, const train_opts *o) {
    if (!ms_is_dir(out) && mkdir(out, 0755)) return ms_seterr("cannot create folder (%s)", out);
    strainer t;
    if (strainer_init(&t, cfg, acts)) {
        strainer_free(&t);
        return -1;
    }
    char shape[64];
    ckpt_view view = ckpt_of(&t, shape, sizeof shape);
    FILE *log = ckpt_start(&view, out, "step,lr,train_loss,grad_norm,dead,val_fvu,val_l0,val_dead,rows,seconds\n",
                           resume);
    if (!log) {
        strainer_free(&t);
        return -1;
    }
    fprintf(o->log, "train-sae: %d latents (k %d) over d %d (layer %d), %ld train / %ld held-out rows, %ld steps of %d%s\n",
            cfg->latents, cfg->k, t.info.d, t.info.layer, t.ntrain, t.nheld, cfg->steps, cfg->batch,
            t.opt.step ? " (resumed)" : "");
    double last_ckpt = ms_now(), el0 = t.elapsed;
    long run_steps = 0, step0 = t.opt.step;
    int rc = 0;
    while (t.opt.step < cfg->steps) {
        double t0 = ms_now(), gn, fvu = NAN, l0 = NAN, dead = NAN;
        int nd;
        float lr = lr_cosine(t.opt.step, cfg->steps, t.warmup, cfg->lr, 0.01f, cfg->final_lr);
        double loss = train_step(&t, lr, &gn, &nd);
        t.elapsed += ms_now() - t0;
        run_steps++;
        long s = t.opt.step;
        if (!isfinite(loss)) {
            rc = ms_seterr("loss is not finite at step %ld; lower lr (train-sae)", s);
            break;
        }
        bool ev = (cfg->eval_every && s % cfg->eval_every == 0) || s == cfg->steps;
        if (ev && (rc = held_metrics(&t, &fvu, &l0, &dead))) break;
        char vb[96] = ",,";
        if (ev) snprintf(vb, sizeof vb, "%.6f,%.2f,%.4f", fvu, l0, dead);
        fprintf(log, "%ld,%.6g,%.6f,%.4f,%d,%s,%ld,%.1f\n", s, lr, loss, gn, nd, vb, s * cfg->batch, t.elapsed);
        fflush(log);
        double rate = (double)(s - step0) * cfg->batch / (t.elapsed - el0 + 1e-9);
        if (o->tty) fprintf(o->log, "\r\033[Kstep %ld/%ld  loss %.4f  dead %d  %.0f rows/s", s, cfg->steps, loss, nd, rate);
        if (ev || (!o->tty && s % cfg->log_every == 0)) {
            fprintf(o->log, "%sstep %ld/%ld  loss %.4f  dead %d  lr %.2e  %.0f rows/s", o->tty ? "\r\033[K" : "", s,
                    cfg->steps, loss, nd, lr, rate);
            if (ev) fprintf(o->log, "  held-out FVU %.4f  L0 %.1f  dead %.1f%%", fvu, l0, 100 * dead);
            fprintf(o->log, "\n");
        }
        fflush(o->log);
        bool stop = train_should_stop(o, run_steps);
        if ((rc = ckpt_after_step(&view, out, stop, s == cfg->steps, cfg->ckpt_minutes, &last_ckpt))) break;
        if (stop) break;
    }
    if (o->tty) fprintf(o->log, "\n");
    fclose(log);
    if (!rc && t.opt.step == cfg->steps && !(rc = export_sae(&t, out)))
        fprintf(o->log, "train-sae: done in %.1f min of training; SAE in %s/sae\n", t.elapsed / 60, out);
    strainer_free(&t);
    return rc;
}

/* ------------------------------------------------------------ evaluation */

int sae_eval(const sae_model *m, const char *acts, long rows, long dead_rows, sae_eval_result *r) {
    memset(r, 0, sizeof *r);
    harvest_info h;
    if (harvest_info_load(&h, acts)) return -1;
    int d = h.d, rc = 0;
    if (d != m->c.d_in) rc = ms_seterr("harvest width %d differs from the SAE's d_in %d (%s)", d, m->c.d_in, acts);
    long n = rows < h.rows ? rows : h.rows, nd = dead_rows < h.rows ? dead_rows : h.rows, all = nd > n ? nd : n;
    /* only the last rows: the metrics' n, and before them the rest of the dead-latent scan */
    float *data = rc ? NULL : xmalloc(xmul(sizeof(float) * (size_t)all, (size_t)d));
    if (!rc) rc = harvest_last_rows(acts, &h, all, data);
    harvest_info_free(&h);
    if (rc) return free(data), -1;
    float *mean = xmalloc(sizeof(float) * (size_t)d);
    sae_data_mean(data + (size_t)(all - n) * d, (int)n, d, mean);
    sae_sums s = {.fired = xcalloc((size_t)m->c.n_latents, 1)};
    rc = sums_over(m, data, all - n, n, mean, &s);
    r->fvu = s.se / s.var, r->mse = s.se / ((double)n * d), r->l0 = s.l0 / (double)n, r->rows = n;
    if (!rc && all > n) rc = sums_over(m, data, 0, all - n, mean, &s); /* more rows for the dead count */
    long nf = 0;
    for (int j = 0; j < m->c.n_latents; j++) nf += s.fired[j];
    r->dead_fraction = 1.0 - (double)nf / m->c.n_latents;
    r->dead_rows = all;
    free(s.fired), free(mean), free(data);
    return rc;
}
