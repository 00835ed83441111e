#!/usr/bin/python3
"""torch_sae_bench.py — PyTorch CPU baseline for `metascope bench --sae`.

    /usr/bin/python3 bench/torch_sae_bench.py [--threads 2] [--d-in 256] [--latents 4096]
                                              [--k 32] [--rows 4096] [--reps 3]

The TopK SAE of tools/gen_sae_fixture.py in float32, random as
engine/bench_sae.c builds it: decoder rows Gaussian then unit-norm, W_enc =
W_dec (tied init), zero biases; one batch of random normal rows drawn
beforehand. Two measurements under no_grad, each the best of --reps after a
warm-up, as engine/bench_sae.c:
  encode  pre = F.linear(h - b_dec, W_enc, b_enc) (addmm), torch.topk(pre, k),
          ReLU of the values: the codes (indices, values) [rows, k];
  decode  b_dec + sum of the k values times their decoder rows, timed both
          sparse (F.embedding_bag, per_sample_weights, mode "sum") and dense
          (scatter into [rows, latents], then addmm with W_dec); the faster
          one is reported ("decode": which).
Thread setup as bench/torch_glp_bench.py (OpenBLAS and OpenMP pools sized
before torch is imported, passive waiting).

Prints one JSON line: {"encode_rows_s", "decode_rows_s", "decode", ...}.
"""
import argparse
import json
import os

from torch_threads import import_torch
import time


def setup(threads):
    torch = import_torch(threads)
    return torch


def make_sae(torch, d, L):
    W_dec = torch.randn(L, d)
    W_dec /= W_dec.norm(dim=1, keepdim=True)
    return {"W_enc": W_dec.clone(), "b_enc": torch.zeros(L), "W_dec": W_dec, "b_dec": torch.zeros(d)}


def encode(torch, p, h, k):
    pre = torch.nn.functional.linear(h - p["b_dec"], p["W_enc"], p["b_enc"])
    vals, inds = torch.topk(pre, k, dim=-1)
    return inds, torch.relu(vals)


def decode_sparse(torch, p, inds, vals):
    return torch.nn.functional.embedding_bag(inds, p["W_dec"], per_sample_weights=vals, mode="sum") + p["b_dec"]


def decode_dense(torch, p, inds, vals):
    z = torch.zeros(inds.shape[0], p["W_dec"].shape[0]).scatter_(1, inds, vals)
    return torch.addmm(p["b_dec"], z, p["W_dec"])


def best_of(fn, reps):
    """(best seconds over reps calls after a warm-up, last result)."""
    best, out = float("inf"), None
    for i in range(reps + 1):
        t0 = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t0
        if i:
            best = min(best, dt)
    return best, out


def main():
    ap = argparse.ArgumentParser(description="PyTorch CPU SAE encode/decode baseline")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--d-in", type=int, default=256)
    ap.add_argument("--latents", type=int, default=4096)
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--rows", type=int, default=4096)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    torch = setup(a.threads)
    torch.manual_seed(0)
    p = make_sae(torch, a.d_in, a.latents)
    h = torch.randn(a.rows, a.d_in)
    with torch.no_grad():
        te, (inds, vals) = best_of(lambda: encode(torch, p, h, a.k), a.reps)
        ts, out = best_of(lambda: decode_sparse(torch, p, inds, vals), a.reps)
        td, dense = best_of(lambda: decode_dense(torch, p, inds, vals), a.reps)
    assert torch.allclose(out, dense, atol=1e-4)
    fvu = float(((out - h) ** 2).sum() / ((h - h.mean(0)) ** 2).sum())
    print(json.dumps({"encode_rows_s": round(a.rows / te, 1), "decode_rows_s": round(a.rows / min(ts, td), 1),
                      "decode": "embedding_bag" if ts <= td else "dense", "sparse_rows_s": round(a.rows / ts, 1),
                      "dense_rows_s": round(a.rows / td, 1), "fvu": round(fvu, 4), "d_in": a.d_in,
                      "latents": a.latents, "k": a.k, "rows": a.rows, "threads": a.threads,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
