/* gemm.c — the packed-panel products (engine/core/gemm_panel.c) against
 * OpenBLAS's sgemm on this project's shapes, as ratios measured in the same
 * run (best of REPS each, one thread, then the whole pool for wmat).
 *
 *   make build/bench/gemm && build/bench/gemm [REPS]
 *
 * Rows: the GLP trainer's forward / backward products (batch 4096, d_in
 * 256, widths 512 / 1024: NT, NN, TN), then a 1B-shaped prefill product
 * (128 x 2048 -> 8192) as wmat_linear runs it on the pool: BF16 weights
 * through the exact panels and matmul precision "medium", against OpenBLAS's
 * multi-threaded sgemm on the weights widened to f32 beforehand (the
 * widening not counted: the baseline's best case). */
#include "gemm_panel.h"
#include "ops.h"
#include "pool.h"
#include "util.h"
#include "wmat.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float *randv(size_t n, uint64_t seed) {
    float *v = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        v[i] = (float)(seed >> 40) / (1 << 24) - 0.5f;
    }
    return v;
}

static void one(int reps, bool ta, bool tb, int M, int N, int K, const char *what) {
    float *A = randv((size_t)M * K, 1), *B = randv((size_t)N * K, 2), *C = calloc((size_t)M * N, 4),
          *D = calloc((size_t)M * N, 4);
    int lda = ta ? M : K, ldb = tb ? K : N;
    double bp = INFINITY, bo = INFINITY;
    openblas_set_num_threads(1);
    for (int r = 0; r < reps; r++) {
        double t0 = ms_now();
        gemm_panel_sgemm(ta, tb, M, N, K, 1, A, lda, B, ldb, 0, C, N);
        double t1 = ms_now();
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1, A,
                    lda, B, ldb, 0, D, N);
        double t2 = ms_now();
        bp = fmin(bp, t1 - t0), bo = fmin(bo, t2 - t1);
    }
    double e = 0, big = 0;
    for (size_t i = 0; i < (size_t)M * N; i++) e = fmax(e, fabs(C[i] - D[i])), big = fmax(big, fabs(D[i]));
    double gf = 2.0 * M * N * K / 1e9;
    printf("%-28s %c%c %5d x %5d x %5d  panels %6.1f GF/s  openblas %6.1f GF/s  x%.2f  (max diff %.1e of %.1e)\n",
           what, ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, gf / bp, gf / bo, bo / bp, e, big);
    free(A), free(B), free(C), free(D);
}

static void prefill(int reps, int T, int N, int K) {
    float *x = randv((size_t)T * K, 3), *w32 = randv((size_t)N * K, 4), *y = malloc(sizeof(float) * T * N);
    uint16_t *w = malloc(2 * (size_t)N * K);
    for (size_t i = 0; i < (size_t)N * K; i++) { /* truncate to BF16, then the exact f32 of it */
        uint32_t u;
        memcpy(&u, &w32[i], 4);
        w[i] = (uint16_t)(u >> 16), u &= 0xffff0000u;
        memcpy(&w32[i], &u, 4);
    }
    wmat bw = {WM_BF16, w, N, K};
    double best[3] = {INFINITY, INFINITY, INFINITY};
    for (int r = 0; r < reps; r++) {
        for (int p = 0; p < 2; p++) {
            wmat_set_precision(p ? WM_PREC_MEDIUM : WM_PREC_HIGHEST);
            double t0 = ms_now();
            wmat_linear(y, x, &bw, NULL, T);
            best[p] = fmin(best[p], ms_now() - t0);
        }
        ms_blas_threads_for(INFINITY);
        double t0 = ms_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, N, K, 1, x, K, w32, K, 0, y, N);
        best[2] = fmin(best[2], ms_now() - t0);
    }
    wmat_set_precision(WM_PREC_HIGHEST);
    double gf = 2.0 * T * N * K / 1e9;
    printf("prefill, %d threads, BF16 %d x %d x %d: exact panels %.1f GF/s, medium %.1f GF/s, sgemm on "
           "f32 %.1f GF/s: x%.2f, x%.2f\n",
           ms_get_threads(), T, N, K, gf / best[0], gf / best[1], gf / best[2], best[2] / best[0],
           best[2] / best[1]);
    free(x), free(w32), free(y), free(w);
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    if (!gemm_panel_available(GP_EXACT)) {
        printf("no AVX-512 on this CPU: the panels are not used\n");
        return 0;
    }
    printf("# one thread; ratios are OpenBLAS time / panel time, best of %d each\n", reps);
    one(reps, false, true, 4096, 1024, 512, "GLP forward (x W^T)");
    one(reps, false, true, 4096, 512, 1024, "GLP forward, down");
    one(reps, false, false, 4096, 512, 1024, "GLP backward dX (dY W)");
    one(reps, true, false, 1024, 512, 4096, "GLP backward dW (dY^T X)");
    one(reps, false, true, 512, 256, 512, "a 512-row range, out 256");
    ms_set_threads(0);
    prefill(reps, 128, 8192, 2048);
    return 0;
}
