#!/usr/bin/python3
"""gen_wmat_fixture.py — reference products for the weight kernels
(engine/core/wmat.c), written to tests/fixtures/wmat/ref.safetensors.

For each shape (rows, K) in SHAPES and each storage type (F32, F16, BF16):
  w_<dt>_<K>  [rows, K]  random weights (a wide dynamic range: N(0,1) times
                         10^U(-3,1)), rounded to the storage type
  x_<K>       [T, K]     f32 activations, T = 7 (tests use the first 1..7 rows)
  y_<dt>_<K>  [T, rows]  x w^T computed in float64 from the stored values
  a_<dt>_<K>  [T, rows]  sum_k |x w| in float64 (the scale of the rounding
                         error of an f32 accumulation)
K = 300 and 40 exercise the 32-wide main loop and the masked tail.

Matmul precision "medium" (engine/core/gemm_bf16.c rounds the activations to
BF16 and multiplies on vdpbf16ps), in medium.safetensors:
  ym_<K>      [T, rows]  bf16(x) w^T in float64, bf16() rounding to nearest
                         even, for the BF16 weights above and for:
  w_m         [53, 2085] BF16 weights (one 48-row panel and 5 rows; K odd and
                         past the kernel's 2048-element chunk)
  x_m         [11, 2085] f32 activations (one 8-row block and 3)
  ym_m, am_m             its reference and sum |bf16(x) w|
  y_m, a_m               x w^T and sum |x w| in float64 (the exact product)

    /usr/bin/python3 tools/gen_wmat_fixture.py [--out tests/fixtures/wmat]
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402

SHAPES = [(37, 300), (5, 40)]
T = 7


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/fixtures/wmat")
    args = ap.parse_args()
    rng = np.random.default_rng(13)
    out = {}
    for rows, K in SHAPES:
        x = rng.standard_normal((T, K)).astype(np.float32)
        out[f"x_{K}"] = x
        w32 = (rng.standard_normal((rows, K)) * 10 ** rng.uniform(-3, 1, (rows, K))).astype(np.float32)
        stored = {
            "F32": (w32, w32),
            "F16": (w32.astype(np.float16), w32.astype(np.float16).astype(np.float32)),
        }
        bits = st_io.f32_to_bf16_bits(w32)
        stored["BF16"] = (st_io.BF16(w32), st_io.bf16_bits_to_f32(bits))
        for dt, (raw, wide) in stored.items():
            w64, x64 = wide.astype(np.float64), x.astype(np.float64)
            out[f"w_{dt}_{K}"] = raw
            out[f"y_{dt}_{K}"] = x64 @ w64.T
            out[f"a_{dt}_{K}"] = np.abs(x64) @ np.abs(w64).T
    os.makedirs(args.out, exist_ok=True)
    st_io.save(os.path.join(args.out, "ref.safetensors"), out, {"generator": "tools/gen_wmat_fixture.py"})

    def rounded(x):
        return st_io.bf16_bits_to_f32(st_io.f32_to_bf16_bits(x)).astype(np.float64)

    med = {}
    for rows, K in SHAPES:
        w64 = st_io.bf16_bits_to_f32(st_io.f32_to_bf16_bits(out[f"w_F32_{K}"])).astype(np.float64)
        med[f"ym_{K}"] = rounded(out[f"x_{K}"]) @ w64.T
        med[f"am_{K}"] = np.abs(rounded(out[f"x_{K}"])) @ np.abs(w64).T
    rng = np.random.default_rng(14)
    x = rng.standard_normal((11, 2085)).astype(np.float32)
    w32 = (rng.standard_normal((53, 2085)) * 10 ** rng.uniform(-3, 1, (53, 2085))).astype(np.float32)
    w64 = st_io.bf16_bits_to_f32(st_io.f32_to_bf16_bits(w32)).astype(np.float64)
    med["w_m"], med["x_m"] = st_io.BF16(w32), x
    med["ym_m"], med["am_m"] = rounded(x) @ w64.T, np.abs(rounded(x)) @ np.abs(w64).T
    x64 = x.astype(np.float64)
    med["y_m"], med["a_m"] = x64 @ w64.T, np.abs(x64) @ np.abs(w64).T
    st_io.save(os.path.join(args.out, "medium.safetensors"), med, {"generator": "tools/gen_wmat_fixture.py"})


if __name__ == "__main__":
    main()
