/* token_prior.c — the Gaussian prior given the token, fitted by streaming a
 * harvest's shards twice (token means, then the covariance around them),
 * one shard in memory at a time. */
#include "token_prior.h"
#include "harvest.h"
#include "util.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void token_prior_free(token_prior *tp) {
    free(tp->slot), free(tp->shift), free(tp->count);
    gauss_prior_free(&tp->gp);
    *tp = (token_prior){0};
}

static int check_tokens(const int *tok, long n, int vocab, const char *dir) {
    for (long i = 0; i < n; i++)
        if (tok[i] < 0 || tok[i] >= vocab)
            return ms_seterr("token id %d outside the vocabulary of %d (%s)", tok[i], vocab, dir);
    return 0;
}

/* The shift of token t (NULL: unseen, no shift). */
static const float *shift_of(const token_prior *tp, int t) {
    return tp->slot[t] < 0 ? NULL : tp->shift + (size_t)tp->slot[t] * tp->d;
}

/* Pass 1: counts, and sums per token in slots given on first sight (so
 * that a vocabulary of 128k at d 2048 holds only the tokens seen), then
 * shift[t] = m - (sum_t + shrink m) / (n_t + shrink), m the normalizer's raw mean. */
static int fit_means(token_prior *tp, const char *dir, const harvest_info *h, const float *m, double shrink) {
    int d = tp->d, rc = 0, cap = 0;
    double *sum = NULL;
    for (int t = 0; t < tp->vocab; t++) tp->slot[t] = -1;
    for (long k = 0; k < h->shards && !rc; k++) {
        float *x;
        int *tok;
        long n;
        rc = harvest_shard_load(dir, h, k, &x, &tok, &n) || check_tokens(tok, n, tp->vocab, dir);
        for (long i = 0; i < n && !rc; i++) {
            int t = tok[i];
            if (tp->slot[t] < 0) {
                if (tp->seen == cap) { /* grow the slots, zeroing the new ones */
                    cap = cap ? 2 * cap : 256;
                    sum = xrealloc(sum, sizeof(double) * (size_t)cap * d);
                    memset(sum + (size_t)tp->seen * d, 0, sizeof(double) * (size_t)(cap - tp->seen) * d);
                }
                tp->slot[t] = tp->seen++;
            }
            double *s = sum + (size_t)tp->slot[t] * d;
            for (int j = 0; j < d; j++) s[j] += x[(size_t)i * d + j];
            tp->count[t]++, tp->rows++;
        }
        free(x), free(tok);
    }
    if (!rc) tp->shift = xmalloc(sizeof(float) * (size_t)tp->seen * d);
    for (int t = 0; t < tp->vocab && !rc; t++)
        for (int j = 0; j < d && tp->slot[t] >= 0; j++) {
            size_t at = (size_t)tp->slot[t] * d + j;
            double mu = (sum[at] + shrink * m[j]) / ((double)tp->count[t] + shrink);
            tp->shift[at] = (float)(m[j] - mu);
        }
    free(sum);
    return rc ? -1 : 0;
}

/* Pass 2: mean and covariance of the shifted rows, normalized; and the
 * rows' own total variance, for the share of it the tokens leave. */
static int fit_cov(token_prior *tp, const char *dir, const harvest_info *h, const glp_model *norm, double *mu,
                   double *cov, double *total) {
    int d = tp->d, rc = 0;
    enum { CHUNK = 1024 };
    double *c = xmalloc(sizeof(double) * CHUNK * (size_t)d), *s0 = xcalloc((size_t)d, sizeof(double));
    double *sq0 = xcalloc((size_t)d, sizeof(double));
    float *y = xmalloc(sizeof(float) * CHUNK * (size_t)d);
    memset(mu, 0, sizeof(double) * (size_t)d);
    memset(cov, 0, sizeof(double) * (size_t)d * d);
    for (long k = 0; k < h->shards && !rc; k++) {
        float *x;
        int *tok;
        long n;
        rc = harvest_shard_load(dir, h, k, &x, &tok, &n);
        for (long r0 = 0; r0 < n && !rc; r0 += CHUNK) {
            int b = (int)(n - r0 < CHUNK ? n - r0 : CHUNK);
            float *xb = x + (size_t)r0 * d;
            glp_normalize(norm, y, xb, b); /* the rows as they are */
            for (size_t i = 0; i < (size_t)b * d; i++)
                s0[i % (size_t)d] += y[i], sq0[i % (size_t)d] += (double)y[i] * y[i];
            for (int r = 0; r < b; r++) {
                const float *sh = shift_of(tp, tok[r0 + r]); /* seen in pass 1: never NULL here */
                for (int j = 0; j < d; j++) xb[(size_t)r * d + j] += sh[j];
            }
            glp_normalize(norm, y, xb, b);
            for (size_t i = 0; i < (size_t)b * d; i++) c[i] = y[i], mu[i % (size_t)d] += y[i];
            /* raw second moments; centred below (normalized rows are near zero mean) */
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, b, 1.0, c, d, 1.0, cov, d);
        }
        free(x), free(tok);
    }
    double n = (double)tp->rows;
    *total = 0;
    for (int i = 0; i < d; i++) mu[i] /= n, *total += sq0[i] / n - (s0[i] / n) * (s0[i] / n);
    for (int i = 0; i < d && !rc; i++)
        for (int j = i; j < d; j++)
            cov[(size_t)j * d + i] = cov[(size_t)i * d + j] = (cov[(size_t)i * d + j] - n * mu[i] * mu[j]) / (n - 1);
    free(c), free(s0), free(sq0), free(y);
    return rc ? -1 : 0;
}

int token_prior_fit(token_prior *tp, const char *acts_dir, const glp_model *norm, int vocab, double shrink) {
    *tp = (token_prior){.vocab = vocab};
    harvest_info h;
    if (harvest_info_load(&h, acts_dir)) return -1;
    int d = h.d, rc = 0;
    if (vocab < 1 || !(shrink >= 0))
        rc = ms_seterr("token prior: vocabulary %d or shrink %g out of range (%s)", vocab, shrink, acts_dir);
    else if (norm->c.d_input != d)
        rc = ms_seterr("harvest width %d differs from the GLP's %d (%s)", d, norm->c.d_input, acts_dir);
    else if (h.rows < 2) rc = ms_seterr("the harvest has fewer than 2 rows (%s)", acts_dir);
    tp->d = d;
    snprintf(tp->split, sizeof tp->split, "%s", h.split);
    double *mu = xmalloc(sizeof(double) * (size_t)d), *cov = xmalloc(sizeof(double) * (size_t)d * d), total = 0;
    if (!rc) {
        tp->slot = xmalloc(sizeof(int) * (size_t)vocab);
        tp->count = xcalloc((size_t)vocab, sizeof(long));
        rc = fit_means(tp, acts_dir, &h, norm->mean, shrink);
    }
    if (!rc) rc = fit_cov(tp, acts_dir, &h, norm, mu, cov, &total);
    if (!rc) {
        double tw = 0;
        for (int i = 0; i < d; i++) tw += cov[(size_t)i * d + i];
        tp->within = total > 0 ? tw / total : NAN;
        rc = gauss_prior_init(&tp->gp, mu, cov, d);
    }
    free(mu), free(cov);
    harvest_info_free(&h);
    if (rc) token_prior_free(tp);
    return rc;
}

void token_prior_project(token_prior *tp, const glp_model *norm, float *h, const int *tok, int N, float sigma,
                         rng_t *r) {
    int d = tp->d;
    for (int n = 0; n < N; n++) {
        const float *s = shift_of(tp, tok[n]);
        for (int j = 0; j < d && s; j++) h[(size_t)n * d + j] += s[j];
    }
    gauss_prior_project(&tp->gp, norm, h, N, sigma, r);
    for (int n = 0; n < N; n++) {
        const float *s = shift_of(tp, tok[n]);
        for (int j = 0; j < d && s; j++) h[(size_t)n * d + j] -= s[j];
    }
}
