/* sess_steer.c — what steering needs from a session: the corpus, concept
 * lexicons and the named vectors (the residual norm that scales alpha is in
 * sess_stats.c). */
#include "session.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int load_split(corpus_split **slot, const char *split, const char *cmd) {
    if (!*slot) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/corpus", ms_assets_dir());
        corpus_split *cs = xcalloc(1, sizeof *cs);
        if (corpus_load(cs, dir, split)) {
            free(cs);
            return ms_seterr("%s (%s)", ms_geterr(), cmd);
        }
        *slot = cs;
    }
    return 0;
}

int sess_corpus(session *S, corpus_split **c, const char *cmd) {
    if (load_split(&S->corpus, "train", cmd)) return -1;
    *c = S->corpus;
    return 0;
}

int sess_corpus_test(session *S, corpus_split **c, const char *cmd) {
    if (load_split(&S->corpus_test, "test", cmd)) return -1;
    *c = S->corpus_test;
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
    sess_forget_stats(S);
}
