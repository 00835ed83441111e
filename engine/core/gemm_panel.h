/* gemm_panel.h — products of f32 activations with F16 / BF16 weights as
 * stored, on AVX-512: wmat.c's path for more than WM_SMALL_T input rows
 * (prefill, batches). Two forms of one scheme:
 *   GP_EXACT  the weights widened to f32 exactly while they are packed, f32
 *             FMA: the numbers of the widened matrix through sgemm (only the
 *             order of the additions differs);
 *   GP_BF16   matmul precision "medium" (wmat.h): the activations rounded to
 *             BF16 (to nearest, ties to even; relative error <= 2^-9) once per
 *             product and multiplied on vdpbf16ps, which multiplies 32 pairs
 *             exactly and sums them in f32: twice the multiply-adds per
 *             instruction of an f32 FMA. BF16 weights only.
 * A panel of GP_PANEL weight rows is packed per chunk of K so that one vector
 * holds one unit of K for 16 rows (a unit is one k for GP_EXACT, the pair
 * (2u, 2u + 1) for GP_BF16), then multiplied with every input row; the
 * activations are laid out once per product in blocks of GP_ROWS rows. */
#ifndef MS_GEMM_PANEL_H
#define MS_GEMM_PANEL_H

#include <stdbool.h>
#include <stddef.h>

#define GP_PANEL 48 /* weight rows per panel */
#define GP_ROWS 8   /* input rows per block */

typedef enum { GP_EXACT, GP_BF16 } gp_form;
/* How weights are stored (wmat.h's wm_dtype, kept apart: wmat includes this). */
typedef enum { GP_W_F32, GP_W_F16, GP_W_BF16 } gp_wtype;

/* True when this CPU has what the form needs (AVX-512 F/BW; and BF16). */
bool gemm_panel_available(gp_form f);

/* The activations x [T, K] laid out for the form: xp[(t / GP_ROWS) * GP_ROWS
 * * units + u * GP_ROWS + t % GP_ROWS] holds unit u of row t (f32 values, or
 * BF16 pairs with the low half 2u and an odd K's last pair padded with 0);
 * rows past T in the last block are 0. gemm_panel_x_size says how many 4-byte
 * elements xp needs. */
size_t gemm_panel_x_size(gp_form f, int T, int K);
void gemm_panel_x(gp_form f, const float *x, int T, int K, void *xp);

/* The 4-byte elements of scratch a thread needs for gemm_panel_rows. */
size_t gemm_panel_scratch(gp_form f, int K);

/* y[t * ldy + r] = sum_k x[t, k] W[r, k] for rows r0 <= r < r1 of W ([rows,
 * K] of type wt; GP_W_BF16 for GP_BF16; r1 - r0 <= GP_PANEL) and every t < T,
 * with xp from gemm_panel_x of the same form. Needs gemm_panel_available(f). */
void gemm_panel_rows(gp_form f, gp_wtype wt, const void *W, int K, int r0, int r1, const void *xp, int T, float *y,
                     int ldy, void *scratch);

/* C[M, N] = alpha op(A) op(B) + beta C, row-major as cblas_sgemm (op(A) =
 * A^T when ta, op(B) = B^T when tb), single-threaded, f32 FMA on the same
 * panels (op(A) laid out in 8-row blocks, op(B) packed 48 columns at a
 * time). beta 0 never reads C. Needs gemm_panel_available(GP_EXACT). */
void gemm_panel_sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                      int ldb, float beta, float *C, int ldc);

#endif
