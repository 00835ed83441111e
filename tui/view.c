/* view.c — what the panes show, read from the session through engine calls
 * (never by parsing printed text): the prompt's tokens with the selected
 * unit's values, residual norms, top SAE latents and the next-token
 * prediction; the compare sweep's rows; the index panes via their adapters. */
#include "cmd.h"
#include "ops.h"
#include "panes.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The prompt's residual rows at `layer` into h[n, d]; leaves the prompt's
 * last logits in S->st.logits. */
static int prompt_resid(session *S, int layer, float *h) {
    return sess_capture_prompt(S, HOOK_RESID, layer, h, S->model.c.d_model, "view");
}

static void next_tokens(explorer *X) {
    session *S = X->S;
    int V = S->model.c.vocab, top[5];
    float *p = xmalloc(sizeof(float) * (size_t)V);
    memcpy(p, S->st.logits, sizeof(float) * (size_t)V);
    softmax(p, V);
    X->acts.n_next = cmd_top_indices(p, V, 5, top, false);
    for (int i = 0; i < X->acts.n_next; i++) {
        cmd_token_text(S, top[i], X->acts.next[i], sizeof X->acts.next[i]);
        X->acts.next_p[i] = p[top[i]];
    }
    free(p);
}

static void resid_stats(explorer *X, const float *h) {
    int d = X->S->model.c.d_model;
    X->acts.normmax = 0;
    for (int t = 0; t < X->acts.n; t++) {
        view_token *v = &X->acts.tok[t];
        const float *row = h + (size_t)t * d;
        v->norm = l2norm(row, d);
        cmd_top_indices(row, d, 1, &v->top_dim, true);
        if (t > 0 || X->acts.n == 1) /* the first token's residual is an outlier */
            X->acts.normmax = fmaxf(X->acts.normmax, v->norm);
    }
}

/* Top 3 SAE latents per token (when an SAE is loaded). */
static void sae_tops(explorer *X) {
    session *S = X->S;
    int n = X->acts.n, d = S->model.c.d_model, L = S->sae.c.n_latents;
    float *h = xmalloc(sizeof(float) * (size_t)n * d), *z = xmalloc(xmul((size_t)n * L, sizeof(float)));
    if (!prompt_resid(S, S->sae.layer, h) && !sae_encode_dense(&S->sae, S->sae_work, h, n, z))
        for (int t = 0; t < n; t++) {
            view_token *v = &X->acts.tok[t];
            const float *zt = z + (size_t)t * L;
            v->n_sae = cmd_top_indices(zt, L, 3, v->sae_id, false);
            for (int i = 0; i < v->n_sae; i++) v->sae_val[i] = zt[v->sae_id[i]];
            while (v->n_sae && v->sae_val[v->n_sae - 1] <= 0) v->n_sae--;
        }
    free(h), free(z);
}

static void unit_values(explorer *X) {
    session *S = X->S;
    view_acts *a = &X->acts;
    unit u;
    float *v = xmalloc(sizeof(float) * (size_t)a->n);
    a->err[0] = 0;
    if (cmd_parse_unit(S, X->unit, &u, "select") || cmd_unit_values(S, &u, v, "select")) {
        snprintf(a->err, sizeof a->err, "%s", ms_geterr());
        memset(v, 0, sizeof(float) * (size_t)a->n);
    }
    a->vmin = INFINITY, a->vmax = -INFINITY, a->vmean = 0, a->absmax = 0, a->argmax = 0;
    for (int t = 0; t < a->n; t++) {
        a->tok[t].val = v[t];
        a->vmin = fminf(a->vmin, v[t]);
        if (v[t] > a->vmax) a->vmax = v[t], a->argmax = t;
        a->absmax = fmaxf(a->absmax, fabsf(v[t]));
        a->vmean += v[t] / (float)a->n;
    }
    free(v);
}

/* The active concept's label and classifier score per token. */
static void concept_cols(explorer *X) {
    session *S = X->S;
    view_acts *a = &X->acts;
    X->has_concept = concept_active(S, &X->concept);
    a->concept = X->has_concept;
    if (!a->concept) return;
    int8_t *lab = xmalloc((size_t)a->n + 1);
    float *score = xmalloc(sizeof(float) * (size_t)a->n + 1);
    if (concept_prompt(S, lab, score, "view") && !a->err[0]) snprintf(a->err, sizeof a->err, "%s", ms_geterr());
    for (int t = 0; t < a->n; t++) a->tok[t].clab = lab[t], a->tok[t].cscore = score[t];
    free(lab), free(score);
}

/* fast (live typing): only the tokens and the selected unit, one or two
 * forward passes; norms, prediction, SAE latents and concept labels follow
 * when idle. */
static void view_update(explorer *X, bool fast) {
    session *S = X->S;
    view_acts *a = &X->acts;
    a->n = 0, a->n_next = 0, a->err[0] = 0, a->stale = fast;
    X->has_concept = a->concept = concept_active(S, &X->concept);
    if (!S->has_model || !S->model.tok || !S->n_prompt) return;
    int n = S->n_prompt, d = S->model.c.d_model;
    if (n > a->cap) a->cap = n, a->tok = xrealloc(a->tok, sizeof(view_token) * (size_t)n);
    memset(a->tok, 0, sizeof(view_token) * (size_t)n);
    a->n = n;
    for (int t = 0; t < n; t++) {
        cmd_token_text(S, S->prompt_ids[t], a->tok[t].text, sizeof a->tok[t].text);
        a->tok[t].clab = -1, a->tok[t].cscore = NAN;
    }
    if (fast) {
        unit_values(X);
        return;
    }
    float *h = xmalloc(sizeof(float) * (size_t)n * d);
    if (prompt_resid(S, S->layer, h)) snprintf(a->err, sizeof a->err, "%s", ms_geterr());
    else {
        resid_stats(X, h);
        next_tokens(X);
        unit_values(X);
        if (S->has_sae) sae_tops(X);
        concept_cols(X);
    }
    free(h);
}

void view_refresh(explorer *X) { view_update(X, false); }
void view_refresh_fast(explorer *X) { view_update(X, true); }

/* ------------------------------------------------------------ steering */

void view_steer_reset(explorer *X, const char *vec) {
    view_steer *s = &X->steer;
    for (int i = 0; i < s->n; i++) free(s->rows[i].text);
    s->n = s->total = 0;
    snprintf(s->vec, sizeof s->vec, "%s", vec ? vec : "");
}

void view_steer_add(explorer *X, const sess_compare_row *r) {
    view_steer *s = &X->steer;
    if (r->row == 0) view_steer_reset(X, r->vec);
    if (s->n == s->cap) s->cap = s->cap ? 2 * s->cap : 16, s->rows = xrealloc(s->rows, sizeof(steer_row) * (size_t)s->cap);
    char *text = xmalloc(4 * r->len + 8);
    cmd_escape_bytes(r->text, r->len, text, 4 * r->len + 8);
    s->rows[s->n++] = (steer_row){r->alpha, r->fluency, r->concept, r->glp, text};
    s->total = r->rows;
}

/* ------------------------------------------------------------ index panes */

static int lat_cmp_key; /* 0 id, 1 density, 2 max */

static int lat_cmp(const void *a, const void *b) {
    const ixa_latent *x = a, *y = b;
    double kx = lat_cmp_key == 1 ? x->density : x->max, ky = lat_cmp_key == 1 ? y->density : y->max;
    if (lat_cmp_key == 0 || kx == ky) return (x->id > y->id) - (x->id < y->id);
    return kx < ky ? 1 : -1;
}

/* As 'latents filter WORD': the label or a top output token contains WORD. */
static void latents_filter(explorer *X) {
    if (!X->lat_filter[0]) return;
    int m = 0;
    for (int i = 0; i < X->n_lat; i++)
        if (strcasestr(X->lat[i].label, X->lat_filter) || strcasestr(X->lat[i].top, X->lat_filter)) X->lat[m++] = X->lat[i];
    X->n_lat = m;
}

void view_index(explorer *X) {
    free(X->lat);
    X->lat = NULL, X->n_lat = 0;
    if (ixa_latents(X->S, &X->lat, &X->n_lat, X->lat_why, sizeof X->lat_why)) X->lat = NULL, X->n_lat = 0;
    else {
        X->lat_why[0] = 0;
        latents_filter(X);
        lat_cmp_key = !strcmp(X->lat_sort, "density") ? 1 : !strcmp(X->lat_sort, "max") ? 2 : 0;
        qsort(X->lat, (size_t)X->n_lat, sizeof *X->lat, lat_cmp);
    }
    ixa_free_examples(X->ex, X->n_ex);
    X->ex = NULL, X->n_ex = 0;
    int rc = X->ex_concept ? cxa_examples(X->S, &X->ex, &X->n_ex, X->ex_why, sizeof X->ex_why)
                           : ixa_examples(X->S, X->unit, &X->ex, &X->n_ex, X->ex_why, sizeof X->ex_why);
    if (rc) X->ex = NULL, X->n_ex = 0;
    else X->ex_why[0] = 0;
}

void view_free(explorer *X) {
    view_steer_reset(X, NULL);
    free(X->steer.rows);
    free(X->acts.tok);
    free(X->lat);
    ixa_free_examples(X->ex, X->n_ex);
    for (int i = 0; i < X->log_n; i++) free(X->log[i]);
}
