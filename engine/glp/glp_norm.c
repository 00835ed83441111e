/* glp_norm.c — the GLP's normalizer: the published per-dimension mean and
 * variance, and optional ZCA whitening on top of it (see glp.h). */
#include "glp.h"
#include "linalg.h"
#include "safetensors.h"
#include "util.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NORM_EPS 1e-12 /* the reference divides by sqrt(var) bare; this only avoids 0/0 */
#define CHUNK 1024

void glp_set_stats(glp_model *m, const float *mean, const float *var) {
    memcpy(m->mean, mean, sizeof(float) * (size_t)m->c.d_input);
    memcpy(m->var, var, sizeof(float) * (size_t)m->c.d_input);
}

void glp_set_whiten(glp_model *m, const float *whiten, const float *unwhiten) {
    size_t dd = (size_t)m->c.d_input * m->c.d_input;
    free(m->whiten), free(m->unwhiten);
    m->whiten = m->unwhiten = NULL;
    if (!whiten || !unwhiten) return;
    m->whiten = xmalloc(sizeof(float) * dd), m->unwhiten = xmalloc(sizeof(float) * dd);
    memcpy(m->whiten, whiten, sizeof(float) * dd);
    memcpy(m->unwhiten, unwhiten, sizeof(float) * dd);
}

void glp_standardize(const glp_model *m, float *x, const float *h, int N) {
    int d = m->c.d_input;
    for (int r = 0; r < N; r++)
        for (int i = 0; i < d; i++) {
            size_t k = (size_t)r * d + i;
            x[k] = (float)((h[k] - m->mean[i]) / sqrt((double)m->var[i] + NORM_EPS));
        }
}

/* y[N, d] = (x[N, d] + pre) M^T + post, a chunk at a time through a
 * scratch buffer so that y may alias x. pre, post: [d] or NULL. */
static void affine(const float *M, float *y, const float *x, int N, int d, const float *pre, float sign,
                   const float *post) {
    float *t = xmalloc(sizeof(float) * CHUNK * (size_t)d);
    for (int r0 = 0; r0 < N; r0 += CHUNK) {
        int k = N - r0 < CHUNK ? N - r0 : CHUNK;
        const float *xs = x + (size_t)r0 * d;
        for (int r = 0; r < k; r++)
            for (int i = 0; i < d; i++) t[(size_t)r * d + i] = xs[(size_t)r * d + i] + (pre ? sign * pre[i] : 0);
        float *ys = y + (size_t)r0 * d;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, k, d, d, 1.0f, t, d, M, d, 0.0f, ys, d);
        if (post)
            for (int r = 0; r < k; r++)
                for (int i = 0; i < d; i++) ys[(size_t)r * d + i] += post[i];
    }
    free(t);
}

void glp_normalize(const glp_model *m, float *x, const float *h, int N) {
    if (m->whiten) affine(m->whiten, x, h, N, m->c.d_input, m->mean, -1.0f, NULL);
    else glp_standardize(m, x, h, N);
}

void glp_denormalize(const glp_model *m, float *h, const float *x, int N) {
    int d = m->c.d_input;
    if (m->unwhiten) {
        affine(m->unwhiten, h, x, N, d, NULL, 0, m->mean);
        return;
    }
    for (int r = 0; r < N; r++)
        for (int i = 0; i < d; i++) {
            size_t k = (size_t)r * d + i;
            h[k] = x[k] * sqrtf(m->var[i]) + m->mean[i];
        }
}

void glp_normalized_to_standard(const glp_model *m, float *x, int N) {
    if (!m->whiten) return;
    glp_denormalize(m, x, x, N);
    glp_standardize(m, x, x, N);
}

int glp_fit_whiten(glp_model *m, float *z, long n, long nfit) {
    int d = m->c.d_input;
    size_t dd = (size_t)d * d;
    double *mu = xmalloc(sizeof(double) * (size_t)d), *cov = xmalloc(sizeof(double) * dd);
    double *w = xmalloc(sizeof(double) * (size_t)d), *v = xmalloc(sizeof(double) * dd);
    float *W = xmalloc(sizeof(float) * dd), *Wi = xmalloc(sizeof(float) * dd);
    int rc = linalg_mean_cov(z, nfit, d, mu, cov) || linalg_eigh(cov, d, w, v) ? -1 : 0;
    for (int i = 0; !rc && i < d; i++)
        if (!(w[i] > -1e-6)) rc = ms_seterr("covariance is not positive semi-definite (eigenvalue %g) (glp whiten)", w[i]);
    if (!rc) {
        /* rows of v are eigenvectors: W = V^T diag(1/sqrt(w + ridge)) V, W^-1 with sqrt */
        double *vs = xmalloc(sizeof(double) * dd), *A = xmalloc(sizeof(double) * dd), *B = xmalloc(sizeof(double) * dd);
        for (int p = 0; p < 2; p++) {
            for (int k = 0; k < d; k++) {
                double e = sqrt((w[k] > 0 ? w[k] : 0) + GLP_WHITEN_RIDGE);
                for (int i = 0; i < d; i++) vs[(size_t)k * d + i] = v[(size_t)k * d + i] * (p ? e : 1 / e);
            }
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, d, d, 1.0, v, d, vs, d, 0.0, p ? B : A, d);
        }
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) {
                double si = sqrt((double)m->var[i] + NORM_EPS), sj = sqrt((double)m->var[j] + NORM_EPS);
                W[(size_t)i * d + j] = (float)(A[(size_t)i * d + j] / sj);  /* W diag(1/sd) */
                Wi[(size_t)i * d + j] = (float)(si * B[(size_t)i * d + j]); /* diag(sd) W^-1 */
            }
        free(vs), free(A), free(B);
        glp_set_whiten(m, W, Wi);
        /* z is standardized: W z = whiten (h - mean) with whiten's sd folded back in */
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) W[(size_t)i * d + j] *= (float)sqrt((double)m->var[j] + NORM_EPS);
        for (long r0 = 0; r0 < n; r0 += 1L << 20) {
            int k = (int)(n - r0 < (1L << 20) ? n - r0 : (1L << 20));
            affine(W, z + (size_t)r0 * d, z + (size_t)r0 * d, k, d, NULL, 0, NULL);
        }
    }
    free(mu), free(cov), free(w), free(v), free(W), free(Wi);
    return rc;
}

int glp_save_stats(const glp_model *m, const char *path) {
    int64_t d = m->c.d_input;
    st_wtensor w[] = {{"mean", ST_F32, 1, {d}, m->mean},
                      {"var", ST_F32, 1, {d}, m->var},
                      {"whiten", ST_F32, 2, {d, d}, m->whiten},
                      {"unwhiten", ST_F32, 2, {d, d}, m->unwhiten}};
    return st_write(path, w, m->whiten ? 4 : 2, NULL, 0);
}
