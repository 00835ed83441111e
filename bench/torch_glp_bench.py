#!/usr/bin/python3
"""torch_glp_bench.py — PyTorch CPU baseline for `metascope bench --glp`.

    /usr/bin/python3 bench/torch_glp_bench.py [--threads 2] [--d-in 256] [--batch 4096]
                                              [--reps 3] [--calls 200] [--rows 1024]

The GLP denoiser of tools/gen_glp_fixture.py (imported: its forward, grid and
Euler loop), in float32, with its Linear layers computed by F.linear (addmm,
as nn.Linear does) rather than the fixture's matmul-then-add. Shape: d_in,
d_model 2·d_in, d_mlp 4·d_in, 3 blocks; nn.Linear's default init. Three
measurements, as engine/bench_glp.c:
  train    zero_grad, flow-matching loss (sigma = grid1000[floor(1000u)]),
           backward, clip_grad_norm_(1.0), AdamW (foreach; decay on matrices),
           on one batch of random normalized rows drawn beforehand; best of
           --reps steps after one warm-up step;
  project  on-manifold projection of one row under no_grad (u 0.5, n 20: 10
           evaluations), median and best of --calls calls after a warm-up;
  sample   Euler sampling of --rows rows in 20 steps under no_grad, best of
           --reps after a warm-up.
Thread setup as bench/torch_train_bench.py (OpenBLAS and OpenMP pools sized
before torch is imported, passive waiting).

Prints one JSON line: {"train_acts_s", "project_ms", "sample_rows_s", ...}.
"""
import argparse
import json
import math
import os

from torch_threads import import_torch
import statistics
import sys
import time


def setup(threads):
    torch = import_torch(threads)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
    import gen_glp_fixture as g
    g.D = torch.float32  # the fixture computes in float64; the benchmark in float32
    g.lin = lambda x, p, name: torch.nn.functional.linear(x, p[name + ".weight"], p[name + ".bias"])
    return torch, g


def make_params(torch, g, cfg):
    """nn.Linear's default init (U(-1/sqrt(in), 1/sqrt(in))); LayerNorm 1, 0."""
    p = {}
    for name, (o, i) in g.shapes(cfg).items():
        lin = torch.nn.Linear(i, o)
        p[name + ".weight"], p[name + ".bias"] = lin.weight, lin.bias
    for name in ["model.ln"] + ["model.layers.%d.ln" % i for i in range(cfg["n_layers"])]:
        ln = torch.nn.LayerNorm(cfg["d_model"])
        p[name + ".weight"], p[name + ".bias"] = ln.weight, ln.bias
    return p


def bench_train(torch, g, p, cfg, B, reps):
    di = cfg["d_input"]
    decay = [v for k, v in p.items() if v.dim() == 2]
    nodecay = [v for k, v in p.items() if v.dim() == 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": nodecay, "weight_decay": 0.0}],
                            lr=5e-5, betas=(0.9, 0.999), eps=1e-8, foreach=True)
    params = list(p.values())
    x, eps, u = torch.randn(B, di), torch.randn(B, di), torch.rand(B)
    grid = g.grid(1000)
    best = float("inf")
    for i in range(reps + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        s32 = grid[(u * 1000).floor().long().clamp(0, 999)]
        s = s32[:, None]
        pred = g.forward(p, cfg, (1 - s) * x + s * eps, s32 * 1000)
        loss = ((pred - (eps - x)) ** 2).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        dt = time.perf_counter() - t0
        if i:
            best = min(best, dt)
    return B / best, float(loss)


def bench_project(torch, g, p, cfg, calls):
    di, n, u = cfg["d_input"], 20, 0.5
    mean, var = torch.zeros(di), torch.ones(di)
    h0 = torch.randn(1, di)
    sg = g.with_zero(n)
    k = int(math.floor(u * n))
    ts = []
    with torch.no_grad():
        for i in range(calls + 1):
            t0 = time.perf_counter()
            x = (h0 - mean) / var.sqrt()
            x = (1 - float(sg[k])) * x + float(sg[k]) * torch.randn(1, di)
            x = g.euler(p, cfg, x, sg, k, None)
            h = x * var.sqrt() + mean
            if i:
                ts.append((time.perf_counter() - t0) * 1e3)
    assert torch.isfinite(h).all()
    return statistics.median(ts), min(ts)


def bench_sample(torch, g, p, cfg, rows, reps):
    z = torch.randn(rows, cfg["d_input"])
    sg = g.with_zero(20)
    best = float("inf")
    with torch.no_grad():
        for i in range(reps + 1):
            t0 = time.perf_counter()
            g.euler(p, cfg, z, sg, 0, None)
            dt = time.perf_counter() - t0
            if i:
                best = min(best, dt)
    return rows / best


def main():
    ap = argparse.ArgumentParser(description="PyTorch CPU GLP baseline")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--d-in", type=int, default=256)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--rows", type=int, default=1024)
    a = ap.parse_args()
    torch, g = setup(a.threads)
    torch.manual_seed(0)
    cfg = {"d_input": a.d_in, "d_model": 2 * a.d_in, "d_mlp": 4 * a.d_in, "n_layers": 3, "mlnl": 1}
    p = make_params(torch, g, cfg)
    # same order as the C side: projection and sampling on the initial weights
    pm, pb = bench_project(torch, g, p, cfg, a.calls)
    sr = bench_sample(torch, g, p, cfg, a.rows, a.reps)
    ta, loss = bench_train(torch, g, p, cfg, a.batch, a.reps)
    print(json.dumps({"train_acts_s": round(ta, 1), "project_ms": round(pm, 4), "project_best_ms": round(pb, 4),
                      "sample_rows_s": round(sr, 1), "loss": round(loss, 4), "d_in": a.d_in, "batch": a.batch,
                      "threads": a.threads, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
