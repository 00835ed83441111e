/* wmat.h — a weight matrix as stored: a view {dtype, data, rows, cols} over
 * F32, F16 or BF16 elements (row-major [out, in], usually inside an mmap of a
 * safetensors file), and the products of f32 activations with it.
 *
 * Products widen the stored elements to f32 exactly and accumulate in f32, so
 * a BF16 weight gives the same products as its f32 widening (only the order
 * of the additions differs). The AVX-512 dot-product instruction for BF16
 * (vdpbf16ps) would round the activations to BF16 too, so it is used only
 * when asked for (matmul precision "medium" below). Decode is bound by
 * reading the weights, not by arithmetic.
 *
 * F16 / BF16 products run on the pool (pool.h), split into blocks of rows:
 * up to WM_SMALL_T input rows per block with a fused widen-and-dot kernel
 * (AVX-512 when the CPU has it, chosen at run time; else portable C); more
 * rows on AVX-512 by packed panels of 48 weight rows widened to f32 and an
 * FMA micro-kernel (gemm_panel.h: about twice OpenBLAS's sgemm on widened
 * tiles on this machine's Zen 5 cores), else by widening a block of weight
 * rows and handing it to a single-threaded sgemm. F32 products are
 * OpenBLAS's (ops.h linear). */
#ifndef MS_WMAT_H
#define MS_WMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { WM_F32, WM_F16, WM_BF16 } wm_dtype;

typedef struct {
    wm_dtype dtype;
    const void *data;
    int rows, cols;
} wmat;

#define WM_SMALL_T 4

static inline wmat wmat_f32(const float *p, int rows, int cols) { return (wmat){WM_F32, p, rows, cols}; }
const char *wm_dtype_name(wm_dtype d);
size_t wm_dtype_size(wm_dtype d);
static inline size_t wmat_bytes(const wmat *w) { return (size_t)w->rows * (size_t)w->cols * wm_dtype_size(w->dtype); }

/* Row r widened to f32 (cols values). */
void wmat_row(const wmat *w, int r, float *out);
/* The whole matrix widened to f32 (rows * cols values). */
void wmat_to_f32(const wmat *w, float *out);

/* y[T, rows] = x[T, cols] W^T (+ b[rows] when b != NULL). */
void wmat_linear(float *y, const float *x, const wmat *w, const float *b, int T);
/* Several weights over the same input (all with w[0].cols columns), their
 * outputs side by side: y[T, w[0].rows + w[1].rows + ...] (n <= 4). One pool
 * job for all of them, as for a fused q/k/v or gate/up matrix. */
void wmat_linear_n(float *y, const float *x, const wmat *w, int n, int T);

/* Matmul precision, process-wide, with the names of PyTorch's
 * torch.set_float32_matmul_precision. "highest" (the default) is the exact
 * scheme above. "medium" lets products of BF16 weights with more than
 * WM_SMALL_T input rows (prefill, batches) round the activations to BF16 and
 * run on the AVX-512 BF16 dot product (gemm_panel.h), about twice the
 * multiply-adds per instruction; a CPU without it keeps the exact scheme.
 * Decode (<= WM_SMALL_T rows), F16 and F32 weights are never affected. */
typedef enum { WM_PREC_HIGHEST, WM_PREC_MEDIUM } wm_precision;
void wmat_set_precision(wm_precision p);
wm_precision wmat_precision(void);
const char *wm_precision_name(wm_precision p);
/* Whether "medium" finds the instruction on this CPU. */
bool wmat_bf16_dot_available(void);
/* "highest" or "medium"; -1 for anything else. */
int wm_precision_parse(const char *s, wm_precision *out);

/* The kernel in use for F16 / BF16 products: "avx512" or "portable".
 * wmat_force_portable(true) selects the portable C kernels (tests compare the
 * two); false returns to the run-time choice. */
const char *wmat_kernel(void);
void wmat_force_portable(bool on);

#endif
