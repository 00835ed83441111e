/* norm_sample.c — how many corpus tokens the mean residual norm (the unit
 * of steering alpha) needs. Runs POOL training documents (128 tokens each,
 * BOS first on Llama models, positions >= 1 as in sess_mean_norm) once, then
 * draws random subsets of k documents and prints the relative error of the
 * subset's mean norm against the whole pool's, as RMS and 95th percentile.
 *
 *   make build/bench/norm_sample && build/bench/norm_sample [MODEL [LAYER [POOL]]]
 */
#include "corpus.h"
#include "rng.h"
#include "steer.h"
#include "transformer.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DRAWS 2000

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "assets/model";
    tf_model m;
    tf_state st;
    corpus_split c;
    char cdir[4096];
    snprintf(cdir, sizeof cdir, "%s/corpus", ms_assets_dir());
    if (tf_load(&m, dir) || tf_state_init(&st, &m, 128) || corpus_load(&c, cdir, "train")) {
        fprintf(stderr, "error: %s\n", ms_geterr());
        return 1;
    }
    int layer = argc > 2 ? atoi(argv[2]) : m.c.n_layers / 2, pool = argc > 3 ? atoi(argv[3]) : 1024;
    int *docs, n = steer_pick_docs(&c, "", false, NULL, pool, 0x6e6f726dull, &docs);
    steer_runner r = {&m, &st, layer, m.c.arch == ARCH_LLAMA ? m.c.bos_id : -1, 128, NULL};
    double *ns = xcalloc((size_t)n, sizeof(double)), *sum = xcalloc((size_t)m.c.d_model, sizeof(double));
    long *rows = xcalloc((size_t)n, sizeof(long));
    double tot = 0;
    long tot_rows = 0;
    int kept = 0;
    for (int i = 0; i < n; i++) { /* one document at a time: its own norm sum and row count */
        int used = 0;
        if (steer_doc_means(&r, &c, &docs[i], 1, sum, &ns[kept], &rows[kept], &used)) {
            fprintf(stderr, "error: %s\n", ms_geterr());
            return 1;
        }
        if (used) tot += ns[kept], tot_rows += rows[kept], kept++;
    }
    double ref = tot / (double)tot_rows;
    printf("model %s layer %d: pool %d docs, %ld tokens, mean |h| %.4f\n", dir, layer, kept, tot_rows, ref);
    printf("%6s %9s %10s %10s\n", "docs", "tokens", "rms_rel", "p95_rel");
    rng_t g;
    rng_seed(&g, 1);
    int *perm = xmalloc(sizeof(int) * (size_t)kept);
    double *err = xmalloc(sizeof(double) * DRAWS);
    for (int k = 1; k <= kept / 4; k *= 2) {
        double ss = 0, toks = 0;
        for (int d = 0; d < DRAWS; d++) {
            for (int i = 0; i < kept; i++) perm[i] = i;
            double s = 0;
            long rw = 0;
            for (int i = 0; i < k; i++) { /* partial Fisher-Yates */
                int j = i + (int)rng_below(&g, (uint64_t)(kept - i)), t = perm[i];
                perm[i] = perm[j], perm[j] = t;
                s += ns[perm[i]], rw += rows[perm[i]];
            }
            err[d] = fabs(s / (double)rw / ref - 1);
            ss += err[d] * err[d], toks += (double)rw;
        }
        qsort(err, DRAWS, sizeof(double), cmp_double);
        printf("%6d %9.0f %9.2f%% %9.2f%%\n", k, toks / DRAWS, 100 * sqrt(ss / DRAWS), 100 * err[DRAWS * 95 / 100]);
    }
    free(perm), free(err), free(ns), free(rows), free(sum), free(docs);
    corpus_free(&c);
    tf_state_free(&st);
    tf_free(&m);
    return 0;
}
