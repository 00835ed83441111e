/* logreg.c — logistic regression by full-batch gradient descent (see logreg.h). */
#include "logreg.h"
#include "alloc.h"
#include "err.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

logreg_opts logreg_defaults(void) { return (logreg_opts){200, 0.5f, 1e-3f, 0}; }

static float sigmoid(float x) { return x >= 0 ? 1 / (1 + expf(-x)) : expf(x) / (1 + expf(x)); }

/* log(1 + e^x), stable for large |x|. */
static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

double logreg_loss_grad(const float *Z, int n, int d, const uint8_t *y, const float *w, float b, float l2,
                        float pos_weight, float *gw, float *gb) {
    float *s = xmalloc(sizeof(float) * (size_t)n + 1), *r = xmalloc(sizeof(float) * (size_t)n + 1);
    for (int i = 0; i < n; i++) s[i] = b;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, n, d, 1.0f, Z, d, w, 1, 1.0f, s, 1);
    double loss = 0, wsum = 0;
    for (int i = 0; i < n; i++) {
        double c = y[i] ? pos_weight : 1.0;
        /* BCE with logits: softplus(s) - y s */
        loss += c * (softplus(s[i]) - (y[i] ? s[i] : 0));
        wsum += c;
        r[i] = (float)(c * (sigmoid(s[i]) - (float)y[i]));
    }
    double inv = wsum > 0 ? 1 / wsum : 0, reg = 0;
    for (int j = 0; j < d; j++) reg += (double)w[j] * w[j];
    loss = loss * inv + 0.5 * l2 * reg;
    if (gw) {
        cblas_sgemv(CblasRowMajor, CblasTrans, n, d, (float)inv, Z, d, r, 1, 0.0f, gw, 1);
        for (int j = 0; j < d; j++) gw[j] += l2 * w[j];
    }
    if (gb) {
        double g = 0;
        for (int i = 0; i < n; i++) g += r[i];
        *gb = (float)(g * inv);
    }
    free(s), free(r);
    return loss;
}

static void standardize(const logreg *m, const float *X, int n, float *Z) {
    for (size_t i = 0; i < (size_t)n; i++)
        for (int j = 0; j < m->d; j++) Z[i * m->d + j] = (X[i * m->d + j] - m->mu[j]) / m->sd[j];
}

int logreg_fit(logreg *m, const float *X, int n, int d, const uint8_t *y, const logreg_opts *o, double *final_loss) {
    if (n < 1 || d < 1) return ms_seterr("logistic regression needs rows and features (got %d x %d)", n, d);
    m->d = d, m->b = 0;
    m->w = xcalloc((size_t)d, sizeof(float)), m->mu = xcalloc((size_t)d, sizeof(float));
    m->sd = xcalloc((size_t)d, sizeof(float));
    for (int j = 0; j < d; j++) {
        double s = 0, s2 = 0;
        for (size_t i = 0; i < (size_t)n; i++) s += X[i * d + j];
        double mu = s / n;
        for (size_t i = 0; i < (size_t)n; i++) s2 += (X[i * d + j] - mu) * (X[i * d + j] - mu);
        double sd = sqrt(s2 / n);
        m->mu[j] = (float)mu, m->sd[j] = sd < 1e-6 ? 1.0f : (float)sd;
    }
    int pos = 0;
    for (int i = 0; i < n; i++) pos += y[i] != 0;
    float pw = o->pos_weight > 0 ? o->pos_weight : pos && pos < n ? (float)(n - pos) / (float)pos : 1.0f;
    float *Z = xmalloc(sizeof(float) * (size_t)n * d), *gw = xmalloc(sizeof(float) * (size_t)d);
    standardize(m, X, n, Z);
    for (int it = 0; it < o->iters; it++) {
        float gb;
        logreg_loss_grad(Z, n, d, y, m->w, m->b, o->l2, pw, gw, &gb);
        for (int j = 0; j < d; j++) m->w[j] -= o->lr * gw[j];
        m->b -= o->lr * gb;
    }
    if (final_loss) *final_loss = logreg_loss_grad(Z, n, d, y, m->w, m->b, o->l2, pw, NULL, NULL);
    free(Z), free(gw);
    return 0;
}

void logreg_score(const logreg *m, const float *X, int n, float *p) {
    for (size_t i = 0; i < (size_t)n; i++) {
        double s = m->b;
        for (int j = 0; j < m->d; j++) s += (double)m->w[j] * ((X[i * m->d + j] - m->mu[j]) / m->sd[j]);
        p[i] = sigmoid((float)s);
    }
}

void logreg_free(logreg *m) {
    free(m->w), free(m->mu), free(m->sd);
    memset(m, 0, sizeof *m);
}
