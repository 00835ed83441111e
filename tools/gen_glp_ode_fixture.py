#!/usr/bin/python3
"""gen_glp_ode_fixture.py — reference numbers for the GLP's ODE solvers
(engine/glp/glp_ode.c): Euler, Heun, midpoint and DPM-Solver++(2M).

The denoiser is the plain-PyTorch float64 GLP of gen_glp_fixture.py; the
solvers below are written from their definitions (docs/samplers.md), in
float64, with the sigma values, tau = 1000 sigma and step sizes rounded to
float32 where the engine keeps them in float32.

One small GLP (d_input 8, d_model 16, d_mlp 32, 2 blocks, F32 weights, plain
"model." names). Its time embedding reads only the three slowest sinusoid
frequencies (time_embed.0's columns for the others are zero), so its velocity
field is smooth in sigma: a random net otherwise leans on cos(1000 sigma),
whose period (0.006) no solver with <= 64 steps resolves, and the
order-of-accuracy test (tests/unit/test_glp_ode.c) needs the asymptotic regime.

ref.safetensors (F32), for each solver S in euler heun midpoint dpm2m:
  x [5,8]                                  start of the step tests
  step.S       x over sigma (0.7, 0.4)     (dpm2m: (0.7, 0.55, 0.4), two steps,
                                            so the second one extrapolates)
  final.S      x over sigma (0.05, 0)      the step to 0
  sample_noise [5,8], sample.S             from pure noise, 8 evaluations
  mean, var [8], proj_h, proj_eps [5,8]
  proj.S                                   projection u 0.5, n 20, 10 evaluations
  proj6.euler                              the same with 6 evaluations (a resampled grid)
  sample_rho.7.S, proj_rho.7.S             sample.S and proj.S on the grid spaced by rho 0.7

    /usr/bin/python3 tools/gen_glp_ode_fixture.py [--out tests/fixtures/glp_ode]
"""
import argparse
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_glp_fixture as ref  # noqa: E402  the float64 PyTorch GLP
import st_io  # noqa: E402

D = torch.float64
F = np.float32
SOLVERS = ["euler", "heun", "midpoint", "dpm2m"]


def v(p, cfg, x, s):
    tau = torch.full((x.shape[0],), float(F(1000) * F(s)), dtype=torch.float32)
    return ref.forward(p, cfg, x, tau)


def schedule(n, start, k):
    """k points at evenly spaced fractional indices of linspace(1, 0.001, n) from start, then 0."""
    sig = []
    for j in range(k):
        t = float(start) if k == 1 else start + j * (n - 1 - start) / (k - 1)
        sig.append(F(1.0) if n == 1 else F(1.0 + (0.001 - 1.0) * t / (n - 1)))
    return sig + [F(0)]


def schedule_rho(n, start, k, rho):
    """The same k points from sigma_start = grid[start] to 0.001, spaced by rho:
    sigma_j = (a + (b - a) j/(k-1))^rho, a = sigma_start^(1/rho), b = 0.001^(1/rho)."""
    sig = schedule(n, start, k)
    if rho == 1 or k < 2:
        return sig
    a, b = float(sig[0]) ** (1 / rho), 0.001 ** (1 / rho)
    return [F((a + (b - a) * j / (k - 1)) ** rho) for j in range(k)] + [F(0)]


def lam(s):
    return math.log((1 - s) / s)


def solve(p, cfg, x, solver, sig):
    x0_prev = None
    for j in range(len(sig) - 1):
        s0, s1 = F(sig[j]), F(sig[j + 1])
        h = F(s1 - s0)
        v1 = v(p, cfg, x, s0)
        if solver == "euler" or (solver in ("heun", "midpoint") and s1 == 0):
            x = x + float(h) * v1
        elif solver == "heun":
            v2 = v(p, cfg, x + float(h) * v1, s1)
            x = x + float(h) * (v1 + v2) / 2
        elif solver == "midpoint":
            sm = F(s0 + F(0.5) * h)
            v2 = v(p, cfg, x + float(F(sm - s0)) * v1, sm)
            x = x + float(h) * v2
        else:  # dpm2m: DPM-Solver++(2M), data prediction, alpha = 1 - sigma
            s0d, s1d = float(s0), float(s1)
            x0 = x - s0d * v1
            if s1 == 0:
                x = x0
            else:
                d = x0
                if j > 0 and sig[j - 1] < 1:
                    r = (lam(s0d) - lam(float(sig[j - 1]))) / (lam(s1d) - lam(s0d))
                    d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * x0_prev
                x = (s1d / s0d) * x + ((1 - s1d) - (1 - s0d) * s1d / s0d) * d
            x0_prev = x0
    return x


def steps_for(solver, evals):
    k = (evals + 1) // 2 if solver in ("heun", "midpoint") else evals
    return max(k, 1)


def project(p, cfg, h, eps, mean, var, solver, u, n, evals, rho=1):
    start = int(math.floor(u * n))
    k = steps_for(solver, evals)
    sig = schedule_rho(n, start, k, rho)
    s = float(sig[0])
    x = (h - mean) / var.sqrt()
    x = (1 - s) * x + s * eps
    return solve(p, cfg, x, solver, sig) * var.sqrt() + mean


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/fixtures/glp_ode")
    a = ap.parse_args()
    cfg = {"d_input": 8, "d_model": 16, "d_mlp": 32, "n_layers": 2, "mlnl": 1}
    g = torch.Generator().manual_seed(12)
    p = ref.make_params(cfg, g, torch.float32)
    half = cfg["d_model"] // 2
    w = p["model.time_embed.0.weight"]
    for i in range(half - 3):  # only the three slowest frequencies stay
        w[:, i] = 0
        w[:, half + i] = 0
    S, di = 5, cfg["d_input"]

    def randn(*shape):
        return torch.randn(shape, generator=g, dtype=D).to(torch.float32).to(D)

    out = {}
    x = randn(S, di)
    out["x"] = x
    z = randn(S, di)
    out["sample_noise"] = z
    mean = randn(di) * 0.5
    var = (torch.rand(di, generator=g, dtype=D) * 2 + 0.1).to(torch.float32).to(D)
    h, eps = randn(S, di) * var.sqrt() + mean, randn(S, di)
    out.update(mean=mean, var=var, proj_h=h, proj_eps=eps)
    for s in SOLVERS:
        out["step." + s] = solve(p, cfg, x, s, [F(0.7), F(0.55), F(0.4)] if s == "dpm2m" else [F(0.7), F(0.4)])
        out["final." + s] = solve(p, cfg, x, s, [F(0.05), F(0)])
        k = steps_for(s, 8)
        out["sample." + s] = solve(p, cfg, z, s, schedule(k, 0, k))
        out["proj." + s] = project(p, cfg, h, eps, mean, var, s, 0.5, 20, 10)
    out["proj6.euler"] = project(p, cfg, h, eps, mean, var, "euler", 0.5, 20, 6)
    for s in SOLVERS:  # the grid spaced by rho 0.7
        k = steps_for(s, 8)
        out["sample_rho.7." + s] = solve(p, cfg, z, s, schedule_rho(k, 0, k, 0.7))
        out["proj_rho.7." + s] = project(p, cfg, h, eps, mean, var, s, 0.5, 20, 10, 0.7)

    os.makedirs(a.out, exist_ok=True)
    meta = {k: str(v) for k, v in cfg.items()}
    st_io.save(os.path.join(a.out, "final.safetensors"), {k: t.to(torch.float32) for k, t in p.items()}, meta)
    st_io.save(os.path.join(a.out, "ref.safetensors"), {k: t.to(torch.float32) for k, t in out.items()}, meta)
    print("%s: %d tensors; |proj.euler - proj.heun|max %.3g" %
          (a.out, len(out), float((out["proj.euler"] - out["proj.heun"]).abs().max())))


if __name__ == "__main__":
    main()
