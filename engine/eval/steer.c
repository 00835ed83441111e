/* steer.c — steering vectors (DiffMean over corpus categories, prompt pairs)
 * and the hook that steers the last position of every forward call. */
#include "steer.h"
#include "ops.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double *sum; /* [d]: rows at positions >= 1 */
    double norm_sum;
    long rows;
    int d;
} mean_capture;

static void mean_hook(void *ctx, int layer, int pos0, int n, float *x, int dim) {
    mean_capture *c = ctx;
    for (int t = 0; t < n; t++) {
        if (pos0 + t == 0) continue; /* the first position is an outlier */
        const float *h = x + (size_t)t * dim;
        for (int i = 0; i < dim; i++) c->sum[i] += h[i];
        c->norm_sum += l2norm(h, dim);
        c->rows++;
    }
}

/* Runs ids with a capture hook at r->layer; returns the rows captured. */
static int run_capture(const steer_runner *r, const int *ids, int n, mean_capture *c) {
    tf_state *st = r->st;
    int saved = st->nhooks;
    int rc = tf_add_hook(st, (tf_hook){HOOK_RESID, r->layer, mean_hook, c});
    tf_state_reset(st);
    st->stop_layer = r->layer + 1; /* later blocks cannot change this layer */
    if (!rc) rc = tf_forward(r->m, st, ids, n, LOGITS_NONE, NULL);
    st->stop_layer = 0;
    st->nhooks = saved;
    return rc;
}

int steer_seq_mean(const steer_runner *r, const int *ids, int n, double *mean) {
    int d = r->m->c.d_model;
    mean_capture c = {xcalloc((size_t)d, sizeof(double)), 0, 0, d};
    if (n < 2) {
        free(c.sum);
        return ms_seterr("need at least 2 tokens (steer)");
    }
    int rc = run_capture(r, ids, n > r->st->max_seq ? r->st->max_seq : n, &c);
    for (int i = 0; i < d && !rc; i++) mean[i] = c.sum[i] / (double)c.rows;
    free(c.sum);
    return rc;
}

/* Token ids of one document: BOS (when used) then the text, truncated. */
static int doc_ids(const steer_runner *r, const corpus_doc *doc, int *buf, int cap) {
    return tok_encode_into(r->m->tok, r->bos, doc->text, doc->len, buf, cap);
}

int steer_doc_means(const steer_runner *r, const corpus_split *c, const int *docs, int ndocs, double *sum,
                    double *norm_sum, long *norm_count, int *used) {
    int d = r->m->c.d_model, cap = r->max_tokens < r->st->max_seq ? r->max_tokens : r->st->max_seq;
    int *buf = xmalloc(sizeof(int) * (size_t)(cap + 1)), rc = 0;
    mean_capture mc = {xcalloc((size_t)d, sizeof(double)), 0, 0, d};
    for (int k = 0; k < ndocs && !rc; k++) {
        if (r->cancel && *r->cancel) {
            rc = ms_seterr("cancelled (steer)");
            break;
        }
        int n = doc_ids(r, &c->docs[docs[k]], buf, cap);
        if (n < 2) {
            rc = n < 0 ? -1 : 0;
            continue;
        }
        memset(mc.sum, 0, sizeof(double) * (size_t)d);
        mc.rows = 0, mc.norm_sum = 0;
        if ((rc = run_capture(r, buf, n, &mc))) break;
        for (int i = 0; i < d; i++) sum[i] += mc.sum[i] / (double)mc.rows;
        *norm_sum += mc.norm_sum;
        *norm_count += mc.rows;
        (*used)++;
    }
    free(buf);
    free(mc.sum);
    return rc;
}

int steer_pick_docs(const corpus_split *c, const char *cat, bool want, const char *other, int cap, uint64_t seed,
                    int **docs) {
    int *all = xmalloc(sizeof(int) * (size_t)(c->n ? c->n : 1)), n = 0;
    for (int i = 0; i < c->n; i++) {
        const char *dc = c->docs[i].category ? c->docs[i].category : "";
        bool is = !strcmp(dc, cat);
        if (want ? is : (!is && (!other || !*other || !strcmp(dc, other)))) all[n++] = i;
    }
    if (n > cap) { /* partial Fisher-Yates: a seeded sample, in corpus order */
        rng_t r;
        rng_seed(&r, seed);
        for (int i = 0; i < cap; i++) {
            int j = i + (int)rng_below(&r, (uint64_t)(n - i)), t = all[i];
            all[i] = all[j], all[j] = t;
        }
        n = cap;
        for (int i = 1; i < n; i++) /* insertion sort keeps the runs reproducible to read */
            for (int j = i; j > 0 && all[j - 1] > all[j]; j--) {
                int t = all[j];
                all[j] = all[j - 1], all[j - 1] = t;
            }
    }
    *docs = all;
    return n;
}

int steer_side_mean(const steer_runner *r, const corpus_split *c, const char *cat, bool want, const char *other,
                    int cap, uint64_t seed, double *mean, int *used, const char *cmd) {
    int *docs, n = steer_pick_docs(c, cat, want, other, cap, seed, &docs);
    int d = r->m->c.d_model;
    double norm = 0;
    long rows = 0;
    memset(mean, 0, sizeof(double) * (size_t)d);
    *used = 0;
    int rc = steer_doc_means(r, c, docs, n, mean, &norm, &rows, used);
    free(docs);
    if (rc) return ms_seterr("%s (%s)", ms_geterr(), cmd);
    if (!*used) return ms_seterr("no usable documents for '%s' (%s)", cat, cmd);
    for (int i = 0; i < d; i++) mean[i] /= *used;
    return 0;
}

int steer_set_direction(steer_vec *v, const double *a, const double *b, int d) {
    double ss = 0;
    for (int i = 0; i < d; i++) ss += (a[i] - b[i]) * (a[i] - b[i]);
    if (!(ss > 0) || !isfinite(ss)) return ms_seterr("the two sides have the same mean; no direction (vec)");
    double norm = sqrt(ss);
    v->d = d;
    v->v = xrealloc(v->v, sizeof(float) * (size_t)d);
    for (int i = 0; i < d; i++) v->v[i] = (float)((a[i] - b[i]) / norm);
    v->raw_norm = norm;
    return 0;
}

void steer_hook_fn(void *ctx, int layer, int pos0, int n, float *x, int dim) {
    steer_hook *h = ctx;
    int last = h->st->call_end - 1;
    if (layer != h->layer || dim != h->d || last < pos0 || last >= pos0 + n || h->failed) return;
    float *row = x + (size_t)(last - pos0) * dim;
    axpy(row, h->alpha, h->v, dim);
    if (h->glp && glp_project_ode(h->glp, h->work, row, 1, h->u, h->steps, &h->ode, -1, NULL, &h->rng)) h->failed = 1;
    h->calls++;
}
