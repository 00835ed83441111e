/* gemm_bf16.h — products of activations with BF16 weights on the AVX-512
 * BF16 dot-product instruction (vdpbf16ps), for matmul precision "medium"
 * (wmat.h): the activations are rounded to BF16 (to nearest, ties to even)
 * once per product, each instruction multiplies 32 pairs exactly and sums
 * them in f32. Twice the multiply-adds per instruction of an f32 FMA, at the
 * price of BF16 activations (8 significant bits, relative error <= 2^-9).
 *
 * The weights are read as stored ([rows, K] BF16, any alignment); a panel of
 * GB_PANEL rows is repacked so that one vector holds a pair of K for 16 rows,
 * then multiplied with every input row. */
#ifndef MS_GEMM_BF16_H
#define MS_GEMM_BF16_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GB_PANEL 48 /* weight rows per panel */
#define GB_ROWS 8    /* input rows per block of the rounded activations */

/* True when this CPU has AVX-512 F/BW/BF16. */
bool gemm_bf16_available(void);

/* x [T, K] f32 rounded to BF16 pairs, in blocks of GB_ROWS rows: the pair
 * (k, k+1) of row t (low half k; an odd K's last pair padded with 0) at
 * xb[(t / GB_ROWS) * GB_ROWS * kp + (k / 2) * GB_ROWS + t % GB_ROWS], where
 * kp = (K + 1) / 2; rows past T in the last block are 0. xb holds
 * gemm_bf16_xb_size(T, K) elements. */
size_t gemm_bf16_xb_size(int T, int K);
void gemm_bf16_round(const float *x, int T, int K, uint32_t *xb);

/* Scratch (uint32 elements) a thread needs for gemm_bf16_panel. */
size_t gemm_bf16_scratch(int K);

/* y[t * ldy + r] = sum_k xb[t, k] W[r, k] for rows r0 <= r < r1 of W
 * (r1 - r0 <= GB_PANEL) and every t < T. Needs gemm_bf16_available(). */
void gemm_bf16_panel(const uint16_t *W, int K, int r0, int r1, const uint32_t *xb, int T, float *y, int ldy,
                     uint32_t *scratch);

#endif
