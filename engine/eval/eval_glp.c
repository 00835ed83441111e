/* eval_glp.c — held-out diffusion loss and Fréchet distances of a GLP. */
#include "eval_glp.h"
#include "corpus.h"
#include "frechet.h"
#include "harvest.h"
#include "rng.h"
#include "safetensors.h"
#include "util.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double fd_of(const float *X, const double *muA, const double *covA, long n, int d) {
    double *mu = xmalloc(sizeof(double) * (size_t)d), *cov = xmalloc(sizeof(double) * (size_t)d * d);
    double fd = gauss_fit(X, n, d, mu, cov) ? -1 : frechet_distance(mu, cov, muA, covA, d);
    free(mu), free(cov);
    return fd;
}

int eval_glp(const glp_model *m, const char *acts_dir, const eval_glp_opts *o, eval_glp_result *r) {
    memset(r, 0, sizeof *r);
    harvest_info h;
    if (harvest_info_load(&h, acts_dir)) return -1;
    int d = m->c.d_input;
    long n = o->n;
    int rc = 0;
    if (h.d != d) rc = ms_seterr("harvest width %d differs from the GLP's d_input %d (%s)", h.d, d, acts_dir);
    size_t nd = (size_t)n * d;
    float *raw = rc ? NULL : xmalloc(sizeof(float) * 2 * nd), *X = rc ? NULL : xmalloc(sizeof(float) * 3 * nd);
    if (!rc) rc = harvest_last_rows(acts_dir, &h, 2 * n, raw);
    harvest_info_free(&h);
    if (rc) {
        free(raw), free(X);
        return -1;
    }
    float *B = X, *A = X + nd, *G = X + 2 * nd;
    glp_normalize(m, X, raw, (int)(2 * n)); /* B then A */
    free(raw);
    rng_t rng;
    rng_seed(&rng, o->seed);
    /* Held-out loss on A with fixed uniforms and noise, in workspace-sized chunks. */
    glp_work *w = glp_work_new(&m->c, 1024);
    glp_work_cache(w, true); /* the weights stay fixed here */
    float *eps = xmalloc(sizeof(float) * 1024 * (size_t)d), *u = xmalloc(sizeof(float) * 1024);
    double sum = 0;
    for (long r0 = 0; r0 < n && !rc; r0 += 1024) {
        int k = (int)(n - r0 < 1024 ? n - r0 : 1024);
        for (size_t i = 0; i < (size_t)k * d; i++) eps[i] = rng_normal(&rng);
        for (int i = 0; i < k; i++) u[i] = rng_uniform(&rng);
        double l = glp_fm_loss((glp_model *)m, w, A + (size_t)r0 * d, eps, u, k, -1, false);
        if (isnan(l)) rc = -1;
        sum += l * k;
    }
    free(eps), free(u);
    r->heldout_loss = sum / (double)n;
    /* Samples from pure noise. */
    for (size_t i = 0; !rc && i < nd; i++) G[i] = rng_normal(&rng);
    if (!rc) rc = glp_sample_ode(m, w, G, (int)n, o->ode.evals, &o->ode, -1);
    glp_work_free(w);
    double *muA = xmalloc(sizeof(double) * (size_t)d), *covA = xmalloc(sizeof(double) * (size_t)d * d);
    double *muB = xmalloc(sizeof(double) * (size_t)d), *covB = xmalloc(sizeof(double) * (size_t)d * d);
    if (!rc) rc = gauss_fit(A, n, d, muA, covA) || gauss_fit(B, n, d, muB, covB) ? -1 : 0;
    if (!rc) {
        r->fd_glp = fd_of(G, muA, covA, n, d);
        r->fd_floor = frechet_distance(muB, covB, muA, covA, d);
        rc = gauss_sample(G, n, d, muB, covB, &rng); /* the baseline reuses G's memory */
        if (!rc) r->fd_gauss = fd_of(G, muA, covA, n, d);
        if (r->fd_glp < 0 || r->fd_floor < 0 || r->fd_gauss < 0) rc = -1;
    }
    free(muA), free(covA), free(muB), free(covB), free(X);
    r->n = n;
    r->d = d;
    return rc;
}

/* ---- ΔLM loss ---- */

typedef enum {
    DLM_CLEAN, DLM_GLP, DLM_NOISE, DLM_SAE, DLM_GAUSS, DLM_GNOISE, DLM_DNOISE,
    DLM_ANOISE, /* DLM_NOISE's edits negated: their mean cancels the odd orders of its cost */
    DLM_MEAN, DLM_MNOISE, DLM_SCAT, DLM_SNOISE, DLM_SDNOISE, /* the projection split (draws > 1) */
    DLM_FGAUSS, DLM_FGNOISE, /* the Gaussian prior's projection in the LM's metric, noise of its norm */
    DLM_TGAUSS, DLM_TGNOISE, /* the Gaussian prior given the token, noise of its norm */
    DLM_MODES
} dlm_mode;

typedef struct {
    const glp_model *g;
    glp_work *w;
    const sae_model *sae;
    sae_work *sw;
    const glp_ode *ode; /* how the projection is solved (NULL: the reference Euler) */
    float u;            /* its noise level */
    gauss_prior *gp;    /* the Gaussian prior's projection (NULL: not measured) */
    gauss_prior *gpf;   /* the same prior in the LM's metric (NULL: not measured) */
    token_prior *tp;    /* the prior given the token (NULL: not measured) */
    dlm_mode mode;
    rng_t rng;      /* reseeded per window so every edit sees the same noise */
    const int *win; /* the window's token ids */
    int eos;
    float *in, *buf; /* [rows, d]: the rows edited, their edit */
    int *at;         /* [rows]: their positions in the hook's block */
    int *tok;        /* [rows]: their tokens */
    int T;           /* the window's tokens */
    int draws;       /* projections averaged for the split (0: no split) */
    float *shift, *scat, *tmp; /* [rows, d]: mean projection - h, first draw - mean, a draw */
    double change[DLM_MODES]; /* per mode: sum over rows of |edit(h) - h| / |h| */
    long rows[DLM_MODES];
    double pull, sq; /* sums of -(h - mu) . edit and |edit|^2 over the GLP's rows */
    /* With a Fisher metric: it [d, d] (raw units), scratch [2 rows, d], and
     * the window's text-loss gradients [rows - 1, d] (the last row has no target). */
    float *F, *fe, *grad;
    lm_grad_work *gw;
    float *anti; /* [T, d] by position: DLM_NOISE's edits, which DLM_ANOISE negates (no second projection) */
    double eFe[DLM_MODES], ee[DLM_MODES], ge[DLM_MODES]; /* per mode: sums of e^T F e, |e|^2, g^T e */
} dlm_ctx;

/* Sums of e^T F e, |e|^2 and g^T e over the mode's edits e = buf - h (k
 * rows at block positions pos0 + at[r]). */
static void dlm_fisher_sums(dlm_ctx *c, const float *h, int k, int d, int pos0, int T) {
    float *e = c->fe, *eF = c->fe + (size_t)k * d;
    for (size_t i = 0; i < (size_t)k * d; i++) e[i] = c->buf[i] - h[i];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, k, d, d, 1.0f, e, d, c->F, d, 0.0f, eF, d);
    for (size_t i = 0; i < (size_t)k * d; i++)
        c->eFe[c->mode] += (double)e[i] * eF[i], c->ee[c->mode] += (double)e[i] * e[i];
    for (int r = 0; r < k; r++) {
        int t = pos0 + c->at[r];
        if (t < T - 1)
            for (int i = 0; i < d; i++) c->ge[c->mode] += (double)c->grad[(size_t)t * d + i] * e[(size_t)r * d + i];
    }
}

/* buf[k, d] = h + (buf - h) redrawn per row as noise of the same norm:
 * isotropic, or shaped like the data (the Gaussian prior's covariance). */
static void dlm_matched_noise(dlm_ctx *c, const float *h, int k, int d, bool shaped) {
    for (int r = 0; r < k; r++) {
        const float *row = h + (size_t)r * d;
        float *p = c->buf + (size_t)r * d;
        double dn = 0, zn = 0;
        for (int i = 0; i < d; i++) dn += (double)(p[i] - row[i]) * (p[i] - row[i]);
        if (shaped) gauss_prior_noise(c->gp, c->g, p, &c->rng);
        else
            for (int i = 0; i < d; i++) p[i] = rng_normal(&c->rng);
        for (int i = 0; i < d; i++) zn += (double)p[i] * p[i];
        float s = (float)sqrt(dn / (zn > 0 ? zn : 1));
        for (int i = 0; i < d; i++) p[i] = row[i] + s * p[i];
    }
}

/* The projection split: `draws` projections of h with independent noise (the
 * first one the GLP mode's draw); shift = their mean - h, the systematic part,
 * scat = (first - mean) * sqrt(K / (K - 1)), the part with mean zero, scaled so
 * its expected square is the scatter's. */
static void dlm_split(dlm_ctx *c, const float *h, int k, int d) {
    size_t kd = (size_t)k * d;
    memset(c->shift, 0, sizeof(float) * kd);
    for (int j = 0; j < c->draws; j++) {
        memcpy(c->tmp, h, sizeof(float) * kd);
        glp_project_ode(c->g, c->w, c->tmp, k, c->u, 20, c->ode, -1, NULL, &c->rng);
        if (j == 0) memcpy(c->scat, c->tmp, sizeof(float) * kd);
        for (size_t i = 0; i < kd; i++) c->shift[i] += c->tmp[i];
    }
    float s = sqrtf((float)c->draws / (float)(c->draws - 1));
    for (size_t i = 0; i < kd; i++) {
        float mean = c->shift[i] / (float)c->draws;
        c->scat[i] = s * (c->scat[i] - mean);
        c->shift[i] = mean - h[i];
    }
}

/* The edit of one mode into buf[k, d] from rows h (noise: a Gaussian
 * direction at the distance the reference edit moves each row, the GLP's
 * projection when there is one, else the SAE's reconstruction; gauss noise:
 * at the distance the Gaussian prior's projection moves it; mean / scat: the
 * split's two parts, each also as noise of its norm). */
static void dlm_edit(dlm_ctx *c, const float *h, int k, int d) {
    size_t kd = (size_t)k * d;
    memcpy(c->buf, h, sizeof(float) * kd);
    bool glp = c->mode == DLM_GLP || c->mode == DLM_DNOISE || (c->mode == DLM_NOISE && c->g);
    if (c->mode == DLM_MEAN) dlm_split(c, h, k, d);
    if (c->mode == DLM_TGAUSS || c->mode == DLM_TGNOISE)
        token_prior_project(c->tp, c->g, c->buf, c->tok, k, glp_project_sigma(c->u, 20), &c->rng);
    else if (c->mode >= DLM_MEAN && c->mode < DLM_FGAUSS) {
        const float *e = c->mode <= DLM_MNOISE ? c->shift : c->scat;
        for (size_t i = 0; i < kd; i++) c->buf[i] += e[i];
    } else if (c->mode == DLM_GAUSS || c->mode == DLM_GNOISE || c->mode == DLM_FGAUSS || c->mode == DLM_FGNOISE)
        gauss_prior_project(c->mode >= DLM_FGAUSS ? c->gpf : c->gp, c->g, c->buf, k, glp_project_sigma(c->u, 20),
                            &c->rng);
    else if (glp) glp_project_ode(c->g, c->w, c->buf, k, c->u, 20, c->ode, -1, NULL, &c->rng);
    else sae_reconstruct(c->sae, c->sw, h, k, c->buf);
    if (c->mode == DLM_GLP)
        for (size_t i = 0; i < kd; i++) {
            double e = (double)c->buf[i] - h[i];
            c->pull -= ((double)h[i] - c->g->mean[i % (size_t)d]) * e, c->sq += e * e;
        }
    if (c->mode == DLM_NOISE || c->mode == DLM_GNOISE || c->mode == DLM_MNOISE || c->mode == DLM_SNOISE ||
        c->mode == DLM_FGNOISE || c->mode == DLM_TGNOISE)
        dlm_matched_noise(c, h, k, d, false);
    if (c->mode == DLM_DNOISE || c->mode == DLM_SDNOISE) dlm_matched_noise(c, h, k, d, true);
}

/* The antithetic pair: DLM_NOISE keeps its edits e by position, DLM_ANOISE
 * (later in the same window, on the same rows h) makes h - e. */
static void dlm_anti(dlm_ctx *c, const float *h, int k, int d, int pos0) {
    for (int r = 0; r < k; r++) {
        float *a = c->anti + (size_t)(pos0 + c->at[r]) * d, *p = c->buf + (size_t)r * d;
        const float *row = h + (size_t)r * d;
        if (c->mode == DLM_NOISE)
            for (int i = 0; i < d; i++) a[i] = p[i] - row[i];
        else
            for (int i = 0; i < d; i++) p[i] = row[i] - a[i];
    }
}

/* Position 0 and the EOS tokens (the separator later tokens attend to, our
 * BOS) stay as they are: the reference leaves BOS out of the edit, and the
 * harvest leaves both out of the GLP's and SAE's training rows. */
static void dlm_hook(void *ctx, int layer, int pos0, int n, float *x, int d) {
    dlm_ctx *c = ctx;
    if (c->mode == DLM_CLEAN) return;
    int k = 0;
    for (int t = 0; t < n; t++)
        if (pos0 + t > 0 && c->win[pos0 + t] != c->eos) {
            c->at[k] = t, c->tok[k] = c->win[pos0 + t];
            memcpy(c->in + (size_t)k++ * d, x + (size_t)t * d, sizeof(float) * (size_t)d);
        }
    if (k == 0) return;
    if (c->mode != DLM_ANOISE) dlm_edit(c, c->in, k, d);
    if (c->anti && (c->mode == DLM_NOISE || c->mode == DLM_ANOISE)) dlm_anti(c, c->in, k, d, pos0);
    if (c->F) dlm_fisher_sums(c, c->in, k, d, pos0, c->T);
    for (int r = 0; r < k; r++) {
        float *row = x + (size_t)c->at[r] * d, *p = c->buf + (size_t)r * d;
        double dn = 0, hn = 0;
        for (int i = 0; i < d; i++) dn += (double)(p[i] - row[i]) * (p[i] - row[i]), hn += (double)row[i] * row[i];
        c->change[c->mode] += sqrt(dn / (hn > 0 ? hn : 1));
        c->rows[c->mode]++;
        memcpy(row, p, sizeof(float) * (size_t)d);
    }
}

/* Mode a minus mode b (minus the mean of b and b2 when b2 >= 0) over the
 * windows' per-token losses ws[w][mode] / tokens: the mean and a normal 95%
 * half-width (NaN for one window). */
static dlm_paired paired2(const double *ws, long nwin, int a, int b, int b2, int tokens) {
    double s = 0, s2 = 0;
    for (long w = 0; w < nwin; w++) {
        const double *x0 = ws + w * DLM_MODES;
        double x = (x0[a] - (b2 >= 0 ? (x0[b] + x0[b2]) / 2 : x0[b])) / tokens;
        s += x, s2 += x * x;
    }
    double m = s / (double)nwin, var = nwin > 1 ? (s2 - (double)nwin * m * m) / (double)(nwin - 1) : NAN;
    return (dlm_paired){m, 1.96 * sqrt(var > 0 ? var : 0) / sqrt((double)nwin)};
}

static dlm_paired paired(const double *ws, long nwin, int a, int b, int tokens) {
    return paired2(ws, nwin, a, b, -1, tokens);
}

int eval_delta_lm(const tf_model *lm, const glp_model *g, const glp_ode *ode, float u, const sae_model *sae,
                  gauss_prior *gp, gauss_prior *gpf, token_prior *tp, const lm_fisher *fm, int draws, int layer,
                  const char *corpus_dir, const char *split, int windows, uint64_t seed, delta_lm_result *r) {
    memset(r, 0, sizeof *r);
    r->glp = r->noise = r->sae = r->gauss = r->gauss_noise = r->gauss_rel_change = r->pull = NAN;
    r->mean = r->mean_noise = r->scat = r->scat_noise = r->mean_rel_change = r->scat_rel_change = NAN;
    r->shaped_noise = r->scat_shaped_noise = NAN;
    r->fgauss = r->fgauss_noise = r->fgauss_rel_change = NAN;
    r->tgauss = r->tgauss_noise = r->tgauss_rel_change = NAN;
    r->vs_tgauss = (dlm_paired){NAN, NAN};
    r->vs_noise = r->vs_sae = r->vs_shaped = r->vs_fgauss = r->vs_noise_anti = (dlm_paired){NAN, NAN};
    r->noise_anti = NAN;
    r->q_glp = r->q_sae = r->q_noise = r->q_anoise = r->q_shaped = r->q_gauss = r->q_gnoise = r->q_fgauss = r->q_fgnoise =
        r->q_tgauss = r->q_tgnoise = (dlm_quad){NAN, NAN, NAN};
    if (fm && fm->d != lm->c.d_model) return ms_seterr("Fisher metric width differs from the model's (delta-lm)");
    if (!g) gp = gpf = NULL, tp = NULL, draws = 0; /* the priors live in the GLP's normalized space */
    if (tp && tp->d != lm->c.d_model) return ms_seterr("token prior width differs from the model's (delta-lm)");
    if (tp && tp->vocab < lm->c.vocab)
        return ms_seterr("token prior covers %d tokens, the model has %d (delta-lm)", tp->vocab, lm->c.vocab);
    if (draws == 1 || draws < 0) return ms_seterr("the projection's split needs at least 2 draws (delta-lm)");
    if (gp && gp->d != lm->c.d_model) return ms_seterr("Gaussian prior width differs from the model's (delta-lm)");
    if (!lm->tok) return ms_seterr("the model has no tokenizer (delta-lm)");
    if (!g && !sae) return ms_seterr("nothing to evaluate: no GLP and no SAE (delta-lm)");
    if ((g && g->c.d_input != lm->c.d_model) || (sae && sae->c.d_in != lm->c.d_model))
        return ms_seterr("GLP or SAE width differs from the model's %d (delta-lm)", lm->c.d_model);
    int *ids, rc = 0;
    size_t n;
    if (corpus_split_ids(corpus_dir, split, lm->tok, lm->c.eos_id, &ids, &n)) return -1;
    int T = lm->c.max_seq < 256 ? lm->c.max_seq : 256;
    tf_state st;
    if (tf_state_init(&st, lm, T)) {
        free(ids);
        return -1;
    }
    dlm_ctx c = {.g = g, .ode = ode, .u = u, .gp = gp, .gpf = gpf, .tp = tp, .w = g ? glp_work_new(&g->c, T) : NULL, .sae = sae, .sw = sae ? sae_work_new(sae, T) : NULL,
                 .eos = lm->c.eos_id, .in = xmalloc(sizeof(float) * (size_t)T * lm->c.d_model),
                 .buf = xmalloc(sizeof(float) * (size_t)T * lm->c.d_model), .at = xmalloc(sizeof(int) * (size_t)T),
                 .tok = xmalloc(sizeof(int) * (size_t)T), .draws = draws};
    size_t td = (size_t)T * lm->c.d_model;
    if (draws) { /* the split's buffers */
        c.shift = xmalloc(sizeof(float) * td);
        c.scat = xmalloc(sizeof(float) * td);
        c.tmp = xmalloc(sizeof(float) * td);
    }
    if (c.w) glp_work_cache(c.w, true);
    c.T = T;
    if (fm) {
        size_t dd = (size_t)lm->c.d_model * lm->c.d_model;
        c.F = xmalloc(sizeof(float) * dd), c.fe = xmalloc(sizeof(float) * 2 * td);
        c.grad = xmalloc(sizeof(float) * td);
        for (size_t i = 0; i < dd; i++) c.F[i] = (float)fm->F[i];
        c.gw = lm_grad_new(lm, T - 1);
        if (!c.gw) rc = -1;
    }
    tf_add_hook(&st, (tf_hook){HOOK_RESID, layer, dlm_hook, &c});
    float *nll = xmalloc(sizeof(float) * (size_t)T);
    double sums[DLM_MODES] = {0};
    bool on[DLM_MODES] = {true, g != NULL, true, sae != NULL, gp != NULL, gp != NULL, gp != NULL, gp != NULL,
                          draws, draws, draws, draws, draws && gp, gpf != NULL, gpf != NULL, tp != NULL, tp != NULL};
    if (on[DLM_ANOISE]) c.anti = xmalloc(sizeof(float) * td);
    long nwin = (long)(n / (size_t)T) < windows ? (long)(n / (size_t)T) : windows;
    if (nwin < 1) rc = ms_seterr("the %s split is shorter than one window (delta-lm)", split);
    double *ws = xcalloc((size_t)(nwin > 0 ? nwin : 1) * DLM_MODES, sizeof(double)); /* per window and mode */
    for (long wi = 0; wi < nwin && !rc; wi++) {
        const int *win = ids + (size_t)wi * ((n - (size_t)T) / (size_t)(nwin > 1 ? nwin - 1 : 1));
        c.win = win;
        if (c.gw && isnan(lm_grad(c.gw, win, layer, NULL, c.grad))) rc = -1; /* the text's own gradients */
        for (int mode = 0; mode < DLM_MODES && !rc; mode++) {
            if (!on[mode]) continue;
            c.mode = (dlm_mode)mode;
            rng_seed(&c.rng, seed + (uint64_t)wi);
            rc = tf_nll(lm, &st, win, T, nll);
            for (int t = 0; t < T - 1 && !rc; t++) ws[wi * DLM_MODES + mode] += nll[t];
            sums[mode] += ws[wi * DLM_MODES + mode];
        }
        r->tokens += T - 1, r->windows++;
    }
    if (!rc) {
        double tk = (double)r->tokens;
        r->clean = sums[0] / tk;
        r->noise = sums[2] / tk;
        if (g) r->glp = sums[1] / tk, r->rel_change = c.change[1] / (double)(c.rows[1] ? c.rows[1] : 1);
        if (sae) r->sae = sums[3] / tk, r->sae_rel_error = c.change[3] / (double)(c.rows[3] ? c.rows[3] : 1);
        if (gp) {
            r->gauss = sums[DLM_GAUSS] / tk, r->gauss_noise = sums[DLM_GNOISE] / tk;
            r->gauss_rel_change = c.change[DLM_GAUSS] / (double)(c.rows[DLM_GAUSS] ? c.rows[DLM_GAUSS] : 1);
            r->shaped_noise = sums[DLM_DNOISE] / tk;
            if (draws) r->scat_shaped_noise = sums[DLM_SDNOISE] / tk;
        }
        if (gpf) {
            r->fgauss = sums[DLM_FGAUSS] / tk, r->fgauss_noise = sums[DLM_FGNOISE] / tk;
            r->fgauss_rel_change = c.change[DLM_FGAUSS] / (double)(c.rows[DLM_FGAUSS] ? c.rows[DLM_FGAUSS] : 1);
            r->vs_fgauss = paired(ws, nwin, DLM_FGAUSS, DLM_FGNOISE, T - 1);
        }
        if (tp) {
            r->tgauss = sums[DLM_TGAUSS] / tk, r->tgauss_noise = sums[DLM_TGNOISE] / tk;
            r->tgauss_rel_change = c.change[DLM_TGAUSS] / (double)(c.rows[DLM_TGAUSS] ? c.rows[DLM_TGAUSS] : 1);
            r->vs_tgauss = paired(ws, nwin, DLM_TGAUSS, DLM_TGNOISE, T - 1);
        }
        if (g) r->pull = c.pull / (c.sq > 0 ? c.sq : 1);
        if (g) r->vs_noise = paired(ws, nwin, DLM_GLP, DLM_NOISE, T - 1);
        if (g && gp) r->noise_anti = (sums[DLM_NOISE] + sums[DLM_ANOISE]) / 2 / tk;
        if (g && gp) r->vs_noise_anti = paired2(ws, nwin, DLM_GLP, DLM_NOISE, DLM_ANOISE, T - 1);
        if (g && sae) r->vs_sae = paired(ws, nwin, DLM_GLP, DLM_SAE, T - 1);
        if (g && gp) r->vs_shaped = paired(ws, nwin, DLM_GLP, DLM_DNOISE, T - 1);
        if (fm) {
            dlm_quad *q[] = {&r->q_glp,   &r->q_sae,    &r->q_noise,   &r->q_anoise,  &r->q_shaped,  &r->q_gauss,
                             &r->q_gnoise, &r->q_fgauss, &r->q_fgnoise, &r->q_tgauss, &r->q_tgnoise};
            const dlm_mode m[] = {DLM_GLP,    DLM_SAE,    DLM_NOISE,   DLM_ANOISE, DLM_DNOISE, DLM_GAUSS,
                                  DLM_GNOISE, DLM_FGAUSS, DLM_FGNOISE, DLM_TGAUSS, DLM_TGNOISE};
            for (int i = 0; i < 11; i++)
                if (on[m[i]])
                    *q[i] = (dlm_quad){c.ge[m[i]] / tk, c.eFe[m[i]] / 2 / tk,
                                       lm_fisher_edit_ratio(fm, c.eFe[m[i]], c.ee[m[i]])};
        }
        if (draws) {
            r->mean = sums[DLM_MEAN] / tk, r->mean_noise = sums[DLM_MNOISE] / tk;
            r->scat = sums[DLM_SCAT] / tk, r->scat_noise = sums[DLM_SNOISE] / tk;
            r->mean_rel_change = c.change[DLM_MEAN] / (double)(c.rows[DLM_MEAN] ? c.rows[DLM_MEAN] : 1);
            r->scat_rel_change = c.change[DLM_SCAT] / (double)(c.rows[DLM_SCAT] ? c.rows[DLM_SCAT] : 1);
        }
    }
    if (c.w) glp_work_free(c.w);
    if (c.sw) sae_work_free(c.sw);
    free(c.in), free(c.buf), free(c.at), free(c.tok), free(c.shift), free(c.scat), free(c.tmp);
    free(nll), free(ids), free(ws);
    free(c.F), free(c.fe), free(c.grad), free(c.anti);
    lm_grad_free(c.gw);
    tf_state_free(&st);
    return rc;
}

/* ---- Fréchet distance of reconstructions ---- */

/* E = X + (edit(X) - X) redrawn as Gaussian directions of the same norms. */
static void matched_noise(float *E, const float *X, long n, int d, rng_t *rng) {
    for (long r = 0; r < n; r++) {
        float *e = E + (size_t)r * d;
        const float *x = X + (size_t)r * d;
        double dn = 0, zn = 0;
        for (int i = 0; i < d; i++) dn += (double)(e[i] - x[i]) * (e[i] - x[i]);
        for (int i = 0; i < d; i++) e[i] = rng_normal(rng), zn += (double)e[i] * e[i];
        float s = (float)sqrt(dn / (zn > 0 ? zn : 1));
        for (int i = 0; i < d; i++) e[i] = x[i] + s * e[i];
    }
}

/* FD(edit, B) after normalizing the edited rows in place. */
static double fd_edited(float *E, long n, const glp_model *norm, const double *muB, const double *covB) {
    glp_normalize(norm, E, E, (int)n);
    return fd_of(E, muB, covB, n, norm->c.d_input);
}

int eval_recon_fd(const glp_model *g, const glp_ode *ode, float u, const sae_model *sae, const char *acts_dir, long n,
                  uint64_t seed, gauss_prior *gp, recon_fd_result *r) {
    *r = (recon_fd_result){NAN, NAN, NAN, NAN, NAN, NAN, n};
    if (gp) *gp = (gauss_prior){0};
    harvest_info h;
    if (harvest_info_load(&h, acts_dir)) return -1;
    int d = h.d, rc = 0;
    if ((g && g->c.d_input != d) || (sae && sae->c.d_in != d))
        rc = ms_seterr("harvest width %d differs from the GLP's or SAE's (%s)", d, acts_dir);
    size_t nd = (size_t)n * d;
    float *X = rc ? NULL : xmalloc(sizeof(float) * 2 * nd), *E = rc ? NULL : xmalloc(sizeof(float) * nd);
    if (!rc) rc = harvest_last_rows(acts_dir, &h, 2 * n, X); /* B then A, raw */
    /* the GLP's normalizer (its basis too), or one made of the harvest's statistics */
    glp_model hnorm = {.c = {.d_input = d}, .mean = h.mean, .var = h.var};
    const glp_model *norm = g ? g : &hnorm;
    float *B = X, *A = X + nd;
    double *muB = xmalloc(sizeof(double) * (size_t)d), *covB = xmalloc(sizeof(double) * (size_t)d * d);
    rng_t rng;
    rng_seed(&rng, seed);
    float *Araw = rc ? NULL : xmalloc(sizeof(float) * nd);
    if (!rc) {
        memcpy(Araw, A, sizeof(float) * nd);
        glp_normalize(norm, B, B, (int)n);
        rc = gauss_fit(B, n, d, muB, covB);
    }
    if (!rc) { /* floor: A itself */
        memcpy(E, Araw, sizeof(float) * nd);
        r->fd_floor = fd_edited(E, n, norm, muB, covB);
    }
    float *ref = NULL; /* the edit the noise copies */
    if (!rc && g) {
        glp_work *w = glp_work_new(&g->c, 1024);
        glp_work_cache(w, true);
        memcpy(E, Araw, sizeof(float) * nd);
        rc = glp_project_ode(g, w, E, (int)n, u, 20, ode, -1, NULL, &rng);
        glp_work_free(w);
        if (!rc) ref = xmalloc(sizeof(float) * nd), memcpy(ref, E, sizeof(float) * nd);
        if (!rc) r->fd_glp = fd_edited(E, n, norm, muB, covB);
    }
    if (!rc && sae) {
        sae_work *sw = sae_work_new(sae, 1024);
        for (long at = 0; at < n && !rc; at += 1024) {
            int k = (int)(n - at < 1024 ? n - at : 1024);
            rc = sae_reconstruct(sae, sw, Araw + (size_t)at * d, k, E + (size_t)at * d);
        }
        sae_work_free(sw);
        if (!rc && !ref) ref = xmalloc(sizeof(float) * nd), memcpy(ref, E, sizeof(float) * nd);
        if (!rc) r->fd_sae = fd_edited(E, n, norm, muB, covB);
    }
    if (!rc && ref) {
        matched_noise(ref, Araw, n, d, &rng);
        r->fd_noise = fd_edited(ref, n, norm, muB, covB);
    }
    if (!rc && g && gp) { /* the Gaussian fitted to B as the prior: its exact projection of A */
        rc = gauss_prior_init(gp, muB, covB, d);
        if (!rc) {
            memcpy(E, Araw, sizeof(float) * nd);
            gauss_prior_project(gp, g, E, (int)n, glp_project_sigma(u, 20), &rng);
            memcpy(ref, E, sizeof(float) * nd);
            r->fd_gauss = fd_edited(E, n, norm, muB, covB);
            matched_noise(ref, Araw, n, d, &rng);
            r->fd_gauss_noise = fd_edited(ref, n, norm, muB, covB);
        }
    }
    if (!rc && (r->fd_floor < 0 || r->fd_glp < 0 || r->fd_sae < 0 || r->fd_noise < 0 || r->fd_gauss < 0 ||
                r->fd_gauss_noise < 0))
        rc = -1;
    free(X), free(E), free(Araw), free(ref), free(muB), free(covB);
    harvest_info_free(&h);
    return rc;
}
