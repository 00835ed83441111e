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


if __name__ == "__main__":
    main()
