/* sess_steer.c — what steering needs from a session: the corpus, concept
 * lexicons, the residual norm that scales alpha, and the named vectors. */
#include "session.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NORM_DOCS 256   /* documents sampled for the mean residual norm */
#define NORM_TOKENS 128 /* tokens kept per document */

int sess_corpus(session *S, corpus_split **c, const char *cmd) {
    if (!S->corpus) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/corpus", ms_assets_dir());
        corpus_split *cs = xcalloc(1, sizeof *cs);
        if (corpus_load(cs, dir, "train")) {
            free(cs);
            return ms_seterr("%s (%s)", ms_geterr(), cmd);
        }
        S->corpus = cs;
    }
    *c = S->corpus;
    return 0;
}

const lexicon *sess_lexicon(session *S, const char *category, const char *against, const char *cmd) {
    const char *a = against ? against : "";
    for (int i = 0; i < S->n_lex; i++)
        if (!strcmp(S->lex[i].category, category) && !strcmp(S->lex[i].against, a)) return &S->lex[i];
    corpus_split *c;
    if (sess_corpus(S, &c, cmd)) return NULL;
    lexicon L;
    if (lex_build(&L, c, category, a)) {
        lex_free(&L);
        return ms_seterr("%s (%s)", ms_geterr(), cmd), NULL;
    }
    S->lex = xrealloc(S->lex, sizeof(lexicon) * (size_t)(S->n_lex + 1));
    S->lex[S->n_lex] = L;
    return &S->lex[S->n_lex++];
}

int sess_mean_norm(session *S, int layer, double *out, const char *cmd) {
    if (S->mean_norm_layer == layer) return *out = S->mean_norm, 0;
    corpus_split *c;
    if (sess_corpus(S, &c, cmd)) return -1;
    int *docs, n = steer_pick_docs(c, "", false, NULL, NORM_DOCS, 0x6e6f726dull, &docs), used = 0;
    steer_runner r = {&S->model, &S->st, layer, sess_use_bos(S) ? S->model.c.bos_id : -1, NORM_TOKENS, S->cancel};
    double *sum = xcalloc((size_t)S->model.c.d_model, sizeof(double)), norm = 0;
    long rows = 0;
    int rc = steer_doc_means(&r, c, docs, n, sum, &norm, &rows, &used);
    free(docs), free(sum);
    if (rc) return ms_seterr("%s (%s)", ms_geterr(), cmd);
    if (!rows) return ms_seterr("no corpus text to measure the residual norm (%s)", cmd);
    S->mean_norm = norm / (double)rows;
    S->mean_norm_layer = layer;
    *out = S->mean_norm;
    return 0;
}

steer_vec *sess_find_vec(session *S, const char *name) {
    for (int i = 0; i < S->n_vecs; i++)
        if (!strcmp(S->vecs[i].name, name)) return &S->vecs[i];
    return NULL;
}

steer_vec *sess_put_vec(session *S, const steer_vec *v) {
    steer_vec *old = sess_find_vec(S, v->name);
    if (old) {
        free(old->v);
        *old = *v;
        return old;
    }
    S->vecs = xrealloc(S->vecs, sizeof(steer_vec) * (size_t)(S->n_vecs + 1));
    S->vecs[S->n_vecs] = *v;
    return &S->vecs[S->n_vecs++];
}

void sess_clear_steering(session *S) {
    for (int i = 0; i < S->n_vecs; i++) free(S->vecs[i].v);
    free(S->vecs);
    S->vecs = NULL;
    S->n_vecs = 0;
    S->steer.vec = -1;
    S->mean_norm_layer = -1;
}
