#!/usr/bin/python3
"""gen_glp_fixture.py — reference numbers for the GLP denoiser (engine/glp.c).

A plain-PyTorch float64 implementation of the published GLP reference
(TransformerMLPDenoiser + flow matching), written from its description:

    emb   = time_embed(sinusoidal(tau))  [+ layer_embed(sinusoidal(depth))]
    x     = in_proj(x)
    block: post = LN(x); x += down( SiLU(gate(post) * time_proj(emb)) * up(post) )
    out   = out_proj(LN(x))

The sinusoidal embedding is computed in float32 exactly as the reference does
(freqs and args in float32), then widened to float64. Sigma grids come from
torch.linspace in float32 as in the reference; tau = 1000*sigma in float32.

Two variants, each a folder under --out (default tests/fixtures/glp):
  single/  d_input 16, d_model 32, d_mlp 64, 3 layers. final.safetensors holds
           the weights as F16 (exactly representable values; keeps the fixture
           small) with every name prefixed "denoiser.".
  multi/   d_input 8, d_model 16, d_mlp 32, 2 layers, multi_layer_n_layers 5,
           layer_idx 2 (depth 0.5); weights F32, plain "model." names, plus
           model.layer_embed.{0,2}.
ref.safetensors (F32) in each folder:
  x [N,d_in], tau [N], out [N,d_in]            forward
  fm_x, fm_eps [N,d_in], fm_u [N], fm_loss [1] flow-matching loss
  grad.<param name> (reference names)          d fm_loss / d param
  meta_x, meta_eps [N,d_in], meta [L,N,d_mlp]  meta-neurons at sigma = grid1000[900] = 0.1
  sample_noise [S,d_in], sample [S,d_in]       Euler, n = 8 (normalized space)
  mean, var [d_in], proj_h, proj_eps [S,d_in], proj_out [S,d_in]
                                               SDEdit projection, u 0.5, n 20
Config in the metadata.

    /usr/bin/python3 tools/gen_glp_fixture.py [--out tests/fixtures/glp]
"""
import argparse
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402

D = torch.float64


def timestep_embedding(t, dim, max_period=10000):
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(half, dtype=torch.float32) / half
    freqs = torch.exp(exponent)
    args = t.to(torch.float32)[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1).to(D)


def lin(x, p, name):
    return x @ p[name + ".weight"].T + p[name + ".bias"]


def layer_norm(x, p, name):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), p[name + ".weight"], p[name + ".bias"], 1e-5)


def mlp(e, p, name):
    return lin(torch.nn.functional.silu(lin(e, p, name + ".0")), p, name + ".2")


def forward(p, cfg, x, tau, layer_idx=None, meta=None):
    emb = mlp(timestep_embedding(tau, cfg["d_model"]), p, "model.time_embed")
    if layer_idx is not None:
        depth = torch.full((x.shape[0],), layer_idx / (cfg["mlnl"] - 1), dtype=torch.float32)
        emb = emb + mlp(timestep_embedding(depth, cfg["d_model"]), p, "model.layer_embed")
    h = lin(x, p, "model.in_proj")
    for i in range(cfg["n_layers"]):
        b = "model.layers.%d." % i
        post = layer_norm(h, p, b + "ln")
        a = torch.nn.functional.silu(lin(post, p, b + "gate_proj") * lin(emb, p, b + "time_proj"))
        a = a * lin(post, p, b + "up_proj")
        if meta is not None:
            meta.append(a)
        h = h + lin(a, p, b + "down_proj")
    return lin(layer_norm(h, p, "model.ln"), p, "model.out_proj")


def shapes(cfg):
    di, dm, dh = cfg["d_input"], cfg["d_model"], cfg["d_mlp"]
    s = {"model.in_proj": (dm, di), "model.out_proj": (di, dm),
         "model.time_embed.0": (dm, dm), "model.time_embed.2": (dm, dm)}
    if cfg["mlnl"] > 1:
        s["model.layer_embed.0"] = (dm, dm)
        s["model.layer_embed.2"] = (dm, dm)
    for i in range(cfg["n_layers"]):
        b = "model.layers.%d." % i
        s[b + "up_proj"], s[b + "gate_proj"] = (dh, dm), (dh, dm)
        s[b + "time_proj"], s[b + "down_proj"] = (dh, dm), (dm, dh)
    return s


def make_params(cfg, g, store_dtype):
    p = {}

    def rnd(shape, scale, offset=0.0):
        v = torch.randn(shape, generator=g, dtype=D) * scale + offset
        return v.to(store_dtype).to(D)  # exactly representable in the stored dtype

    for name, (o, i) in shapes(cfg).items():
        p[name + ".weight"] = rnd((o, i), 1.0 / math.sqrt(i))
        p[name + ".bias"] = rnd((o,), 0.2)
    for name in ["model.ln"] + ["model.layers.%d.ln" % i for i in range(cfg["n_layers"])]:
        p[name + ".weight"] = rnd((cfg["d_model"],), 0.2, 1.0)
        p[name + ".bias"] = rnd((cfg["d_model"],), 0.2)
    return p


def grid(n):
    return torch.linspace(1, 0.001, n)  # float32, as the reference


def euler(p, cfg, x, sig, start, layer_idx):
    for i in range(start, len(sig) - 1):
        tau = sig[i].repeat(x.shape[0]) * 1000
        v = forward(p, cfg, x, tau, layer_idx)
        x = x + float(sig[i + 1] - sig[i]) * v
    return x


def with_zero(n):
    return torch.cat([grid(n), torch.zeros(1)])


def variant(cfg, seed, store_dtype, prefix, layer_idx, outdir):
    g = torch.Generator().manual_seed(seed)
    p = make_params(cfg, g, store_dtype)
    N, S, di = 12, 5, cfg["d_input"]
    ref = {}

    def randn(*shape):
        return torch.randn(shape, generator=g, dtype=D).to(torch.float32).to(D)

    x = randn(N, di)
    tau = (torch.rand(N, generator=g) * 1000).to(torch.float32)
    ref["x"], ref["tau"] = x, tau
    ref["out"] = forward(p, cfg, x, tau, layer_idx)

    # flow matching loss and gradients
    fx, fe = randn(N, di), randn(N, di)
    fu = torch.rand(N, generator=g).to(torch.float32)
    sig32 = grid(1000)[(fu.to(D) * 1000).floor().long()]
    sig = sig32.to(D)[:, None]
    xs = (1 - sig) * fx + sig * fe
    q = {k: v.clone().requires_grad_(True) for k, v in p.items()}
    pred = forward(q, cfg, xs, sig32 * 1000, layer_idx)
    loss = ((pred - (fe - fx)) ** 2).mean()
    loss.backward()
    ref["fm_x"], ref["fm_eps"], ref["fm_u"] = fx, fe, fu
    ref["fm_loss"] = loss.detach().reshape(1)
    for k, v in q.items():
        ref["grad." + k] = v.grad

    # meta-neurons at sigma = grid1000[floor(0.9 * 1000)]
    mx, me = randn(N, di), randn(N, di)
    s = grid(1000)[900]
    meta = []
    forward(p, cfg, (1 - float(s)) * mx + float(s) * me, s.repeat(N) * 1000, layer_idx, meta)
    ref["meta_x"], ref["meta_eps"], ref["meta"] = mx, me, torch.stack(meta)

    # Euler sample, n = 8
    z = randn(S, di)
    ref["sample_noise"] = z
    ref["sample"] = euler(p, cfg, z, with_zero(8), 0, layer_idx)

    # projection, u = 0.5, n = 20
    mean = randn(di) * 0.5
    var = (torch.rand(di, generator=g, dtype=D) * 2 + 0.1).to(torch.float32).to(D)
    h, eps = randn(S, di) * var.sqrt() + mean, randn(S, di)
    sg = with_zero(20)
    k = int(math.floor(0.5 * 20))
    ss = float(sg[k])
    xn = (h - mean) / var.sqrt()
    xn = (1 - ss) * xn + ss * eps
    xn = euler(p, cfg, xn, sg, k, layer_idx)
    ref.update(mean=mean, var=var, proj_h=h, proj_eps=eps, proj_out=xn * var.sqrt() + mean)

    os.makedirs(outdir, exist_ok=True)
    meta_kv = {k: str(v) for k, v in cfg.items()}
    meta_kv["layer_idx"] = str(-1 if layer_idx is None else layer_idx)
    st_io.save(os.path.join(outdir, "final.safetensors"),
               {prefix + k: v.to(store_dtype) for k, v in p.items()}, meta_kv)
    st_io.save(os.path.join(outdir, "ref.safetensors"),
               {k: v.detach().to(torch.float32) for k, v in ref.items()}, meta_kv)
    print("%s: loss %.6f, out |max| %.3f" % (outdir, float(loss), float(ref["out"].abs().max())))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/fixtures/glp")
    a = ap.parse_args()
    variant({"d_input": 16, "d_model": 32, "d_mlp": 64, "n_layers": 3, "mlnl": 1}, 1, torch.float16,
            "denoiser.", None, os.path.join(a.out, "single"))
    variant({"d_input": 8, "d_model": 16, "d_mlp": 32, "n_layers": 2, "mlnl": 5}, 2, torch.float32,
            "", 2, os.path.join(a.out, "multi"))


if __name__ == "__main__":
    main()
