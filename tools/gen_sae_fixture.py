#!/usr/bin/python3
"""gen_sae_fixture.py — reference numbers and loader folders for the SAE engine
(engine/sae.c, engine/sae_io.c), written to tests/fixtures/sae/.

A plain-PyTorch float64 TopK SAE (Gao et al., "Scaling and evaluating sparse
autoencoders"), with the loss of the OpenAI reference code (train.py, kernels.py):

    pre  = W_enc (h - b_dec) + b_enc           W_enc stored [L, d_in] (our layout)
    z    = ReLU(TopK_k(pre)),  h_hat = z W_dec + b_dec
    main = mse_scale * mean((h_hat - h)^2)
    e    = h - h_hat (detached)
    za   = ReLU(TopK_kaux(pre over dead latents)),  e_hat = za W_dec
    aux  = aux_coef * mean((e_hat + b_dec - (e + b_dec.detach()))^2) / mean((e - mean_rows e)^2)

ref.safetensors: parameters (F32; the float64 computation starts from them),
h [N,d], dead [L] (U8), mse_scale, aux_coef [1], k_aux [1] (I32), and outputs:
pre [N,L], z [N,L], recon [N,d], loss [3] = (main, aux, total),
grad.<W_enc|b_enc|W_dec|b_dec> of the total; noaux.grad.* with no dead latent.

Loader folders (d_in 8, 32 latents, k 3) and expect_<name>.safetensors
(h [5,8], z [5,32] dense code, recon [5,8] computed from the stored weights):
  saelens_topk/        v6 cfg (architecture topk, k, metadata.hook_name), F32
  saelens_topk_bf16/   pre-6.0 cfg (standard + activation_fn_str topk +
                       activation_fn_kwargs.k, top-level hook_name resid_pre), BF16
  saelens_standard/    ReLU, apply_b_dec_to_input false, F16
  saelens_jumprelu/    threshold, F32
  saelens_mlp/         hook blocks.1.hook_mlp_out (cannot be mapped)
  sparsify/layers.{0,1}/  cfg.json (num_latents 0, expansion_factor 4) + sae.safetensors

    /usr/bin/python3 tools/gen_sae_fixture.py [--out tests/fixtures/sae]
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402

D = torch.float64


def f32(a):
    """Round to float32 values, held as float64 tensors."""
    return torch.tensor(np.asarray(a, dtype=np.float32), dtype=D)


def topk_relu(pre, k, allow=None):
    """(indices, ReLU values) of the k largest entries per row among allowed columns."""
    x = pre if allow is None else pre.masked_fill(~allow[None, :], float("-inf"))
    vals, inds = torch.topk(x, k, dim=-1)
    return inds, torch.relu(vals)


def dense(inds, vals, L):
    z = torch.zeros(inds.shape[0], L, dtype=vals.dtype)
    return z.scatter(1, inds, vals)


def sae_loss(p, h, k, dead, k_aux, mse_scale, aux_coef, centre=True):
    xc = h - p["b_dec"] if centre else h
    pre = xc @ p["W_enc"].T + p["b_enc"]
    inds, vals = topk_relu(pre, k)
    z = dense(inds, vals, pre.shape[1])
    recon = z @ p["W_dec"] + p["b_dec"]
    main = mse_scale * ((recon - h) ** 2).mean()
    aux = torch.zeros((), dtype=D)
    n_dead = int(dead.sum())
    if n_dead > 0:
        ai, av = topk_relu(pre, min(k_aux, n_dead), dead)
        e = (h - recon).detach()
        ehat = dense(ai, av, pre.shape[1]) @ p["W_dec"]
        den = ((e - e.mean(0)) ** 2).mean()
        aux = aux_coef * ((ehat + p["b_dec"] - (e + p["b_dec"].detach())) ** 2).mean() / den
    return pre, z, recon, main, aux


def check_gaps(pre, k):
    """TopK must not hinge on float32 rounding: a clear gap at the k-th value."""
    s = torch.sort(pre, dim=-1, descending=True).values
    gap = (s[:, k - 1] - s[:, k]).min().item()
    assert gap > 1e-4, "top-k gap too small: %g" % gap


def gen_ref(out):
    g = np.random.default_rng(7)
    d, L, k, N, k_aux = 16, 64, 4, 32, 8
    W_dec = g.standard_normal((L, d))
    W_dec /= np.linalg.norm(W_dec, axis=1, keepdims=True)
    p32 = {
        "W_enc": W_dec + 0.3 * g.standard_normal((L, d)),
        "b_enc": 0.1 * g.standard_normal(L),
        "W_dec": W_dec,
        "b_dec": 0.5 * g.standard_normal(d),
    }
    p32 = {n: np.asarray(v, dtype=np.float32) for n, v in p32.items()}
    h32 = np.asarray(g.standard_normal((N, d)) * 1.5 + 0.7, dtype=np.float32)
    dead = g.random(L) < 0.5
    h = f32(h32)
    mse_scale = float(np.float32(1.0 / ((h - h.mean(0)) ** 2).mean().item()))
    aux_coef = float(np.float32(1 / 32))
    res = {}
    for tag, mask in (("", dead), ("noaux.", np.zeros(L, dtype=bool))):
        p = {n: f32(v).requires_grad_(True) for n, v in p32.items()}
        pre, z, recon, main, aux = sae_loss(p, h, k, torch.tensor(mask), k_aux, mse_scale, aux_coef)
        check_gaps(pre.detach(), k)
        (main + aux).backward()
        for n in p:
            res[tag + "grad." + n] = p[n].grad.numpy().astype(np.float32)
        if not tag:
            res.update(pre=pre.detach(), z=z.detach(), recon=recon.detach())
            res["loss"] = np.array([main.item(), aux.item(), (main + aux).item()])
            print("ref: main %.6f aux %.6f, %d dead" % (main.item(), aux.item(), mask.sum()))
    tensors = dict(p32)
    tensors.update(h=h32, dead=dead.astype(np.uint8), mse_scale=np.array([mse_scale], dtype=np.float32),
                   aux_coef=np.array([aux_coef], dtype=np.float32), k_aux=np.array([k_aux], dtype=np.int32))
    for n, v in res.items():
        tensors[n] = np.asarray(v, dtype=np.float32)
    meta = {"d_in": str(d), "n_latents": str(L), "k": str(k), "N": str(N)}
    st_io.save(os.path.join(out, "ref.safetensors"), tensors, meta)


# ---------------------------------------------------------------- loader folders

def small_sae(g, d=8, L=32):
    W_dec = g.standard_normal((L, d))
    W_dec /= np.linalg.norm(W_dec, axis=1, keepdims=True)
    return {
        "W_enc": np.asarray(W_dec + 0.2 * g.standard_normal((L, d)), dtype=np.float32),  # [L, d]
        "b_enc": np.asarray(0.1 * g.standard_normal(L), dtype=np.float32),
        "W_dec": np.asarray(W_dec, dtype=np.float32),
        "b_dec": np.asarray(0.3 * g.standard_normal(d), dtype=np.float32),
    }


def as_stored(p, kind):
    """Round weights as the file will store them (so expectations are exact)."""
    if kind == "BF16":
        return {n: st_io.bf16_bits_to_f32(st_io.f32_to_bf16_bits(v)) for n, v in p.items()}
    if kind == "F16":
        return {n: v.astype(np.float16).astype(np.float32) for n, v in p.items()}
    return p


def expect(out, name, p, arch, k, centre, g):
    d = p["W_dec"].shape[1]
    h = np.asarray(g.standard_normal((5, d)) + 0.2, dtype=np.float32)
    t = {n: torch.tensor(v, dtype=D) for n, v in p.items()}
    x = torch.tensor(h, dtype=D)
    pre = (x - t["b_dec"] if centre else x) @ t["W_enc"].T + t["b_enc"]
    if arch == "topk":
        check_gaps(pre, k)
        z = dense(*topk_relu(pre, k), pre.shape[1])
    elif arch == "jumprelu":
        z = pre * (pre > t["threshold"]).to(D)
    else:
        z = torch.relu(pre)
    recon = z @ t["W_dec"] + t["b_dec"]
    st_io.save(os.path.join(out, "expect_%s.safetensors" % name),
               {"h": h, "z": z.numpy().astype(np.float32), "recon": recon.numpy().astype(np.float32)})


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def saelens(out, name, cfg, p, kind, g):
    path = os.path.join(out, name)
    os.makedirs(path, exist_ok=True)
    p = as_stored(p, kind)
    t = {n: (v.T.copy() if n == "W_enc" else v) for n, v in p.items()}  # SAELens W_enc is [d, L]
    if kind == "BF16":
        t = {n: st_io.BF16(v) for n, v in t.items()}
    elif kind == "F16":
        t = {n: v.astype(np.float16) for n, v in t.items()}
    st_io.save(os.path.join(path, "sae_weights.safetensors"), t)
    write_json(os.path.join(path, "cfg.json"), cfg)
    arch = cfg.get("architecture", "standard")
    if cfg.get("activation_fn_str") == "topk":
        arch = "topk"
    k = cfg.get("k") or cfg.get("activation_fn_kwargs", {}).get("k")
    expect(out, name, p, arch, k, cfg.get("apply_b_dec_to_input", True), g)


def gen_loaders(out):
    g = np.random.default_rng(11)
    d, L, k = 8, 32, 3
    base = {"d_in": d, "d_sae": L, "dtype": "float32", "device": "cpu", "normalize_activations": "none"}
    saelens(out, "saelens_topk", dict(base, architecture="topk", k=k, apply_b_dec_to_input=True,
                                      metadata={"hook_name": "blocks.1.hook_resid_post", "model_name": "tiny"}),
            small_sae(g), "F32", g)
    saelens(out, "saelens_topk_bf16", dict(base, architecture="standard", activation_fn_str="topk",
                                           activation_fn_kwargs={"k": k}, apply_b_dec_to_input=True,
                                           hook_name="blocks.2.hook_resid_pre", hook_layer=2),
            small_sae(g), "BF16", g)
    saelens(out, "saelens_standard", dict(base, architecture="standard", apply_b_dec_to_input=False,
                                          metadata={"hook_name": "blocks.0.hook_resid_post"}),
            small_sae(g), "F16", g)
    pj = small_sae(g)
    pj["threshold"] = np.asarray(np.abs(0.3 * g.standard_normal(L)), dtype=np.float32)
    saelens(out, "saelens_jumprelu", dict(base, architecture="jumprelu", apply_b_dec_to_input=True,
                                          metadata={"hook_name": "blocks.1.hook_resid_post"}), pj, "F32", g)
    pm = {n: v[:4, :2].copy() if v.ndim == 2 else v[:4].copy() for n, v in small_sae(g).items()}
    pm["b_dec"] = pm["b_dec"][:2].copy()
    saelens(out, "saelens_mlp", dict(base, d_in=2, d_sae=4, architecture="topk", k=1,
                                     metadata={"hook_name": "blocks.1.hook_mlp_out"}), pm, "F32", g)
    for layer in (0, 1):
        path = os.path.join(out, "sparsify", "layers.%d" % layer)
        os.makedirs(path, exist_ok=True)
        p = small_sae(g)
        st_io.save(os.path.join(path, "sae.safetensors"),
                   {"encoder.weight": p["W_enc"], "encoder.bias": p["b_enc"], "W_dec": p["W_dec"],
                    "b_dec": p["b_dec"]})
        write_json(os.path.join(path, "cfg.json"),
                   {"activation": "topk", "expansion_factor": 4, "normalize_decoder": True, "num_latents": 0,
                    "k": k, "multi_topk": False, "skip_connection": False, "transcode": False, "d_in": d})
        expect(out, "sparsify_%d" % layer, p, "topk", k, True, g)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/fixtures/sae")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(0)
    gen_ref(a.out)
    gen_loaders(a.out)


if __name__ == "__main__":
    main()
