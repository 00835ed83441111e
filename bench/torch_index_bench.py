#!/usr/bin/python3
"""torch_index_bench.py — PyTorch CPU baseline for `metascope index` throughput.

    /usr/bin/python3 bench/torch_index_bench.py [--threads 2] [--tokens 20000] [--model assets/model]
                                                [--glp assets/glp] [--sae DIR] [--k 20] [--no-cross]
                                                [--segments INDEX_DIR]
    /usr/bin/python3 bench/torch_index_bench.py --write-sae DIR [--latents 4096] [--topk 32]

The per-token work of the index builder (engine/index.c), in plain float32
PyTorch on the same weights: the model of tools/ref_model.py (assets/model,
f16 safetensors behind lz4, decompressed with the `lz4` CLI), the GLP of
tools/gen_glp_fixture.py (assets/glp: weights, rep_statistics mean/var, hook
layer from config.yaml), the TopK SAE of tools/gen_sae_fixture.py at that
layer (--sae DIR in the SAELens layout; default assets/sae, else a random one,
4096 latents k 32, unit-norm decoder, tied encoder). --write-sae DIR writes
such a random SAE (cfg.json + sae_weights.safetensors, hook
blocks.L.hook_resid_post) so that both sides can run on the same weights.

Text: random token ids instead of tokenized corpus text (the tokenizer is not
what is measured), in segments of the same lengths as the index's: with
--segments DIR those of an index metascope built (seg_len of its
tokens.safetensors.lz4: documents cut at the context), else windows of the
model's context (BOS + 255 ids), the last one cut to reach --tokens. BOS
first when the model has one; position 0 is not indexed. Per segment,
under no_grad: the forward through block L only (later blocks cannot change
what is read; the index builder stops there too, without logits) keeping
block L's residual output and MLP activations (input of down_proj). Per batch
of up to 1024 rows (whole windows, as engine/index.c):
  SAE      F.linear, torch.topk(k), ReLU;
  meta     x = (h - mean)/sqrt(var + 1e-12) noised to sigma = grid1000[900]
           (0.1) with fresh normals, one GLP forward at t = 1000 sigma; the
           meta-neurons are each block's down_proj input;
  top-K    per unit (latents, meta-neurons of every block, MLP neurons): the
           batch's [units, tokens] values (latent codes scattered dense) are
           concatenated with the running best [units, K] and torch.topk'd,
           keeping token positions; plus the count of positive values;
  cross    (unless --no-cross) sums for latent x meta-neuron correlations, as
           the index: C += z^T meta with z sparse (torch.sparse.mm), and the
           per-unit sums and sums of squares.
The index builder does more per token (windows of values around every kept
example, histograms, quantile reservoirs) and also tokenizes; this is the
lower bound of the same pipeline in PyTorch. The time covers the loop after a
one-window warm-up (model loading excluded). Thread setup as
bench/torch_glp_bench.py.

Prints one JSON line: {"index_tok_s", "tokens", "seconds", ...}.
"""
import argparse
import json
import os

from torch_threads import import_torch
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
BATCH_ROWS = 1024


def setup(threads):
    torch = import_torch(threads)
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import gen_glp_fixture as g
    g.D = torch.float32
    g.lin = lambda x, p, name: torch.nn.functional.linear(x, p[name + ".weight"], p[name + ".bias"])
    return torch, g


def load_st(path):
    """Tensors of path or path.lz4 (decompressed to a temporary file by the lz4 CLI)."""
    import st_io
    if os.path.exists(path):
        return st_io.load(path)
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "t.safetensors")
        subprocess.run(["lz4", "-dqf", path + ".lz4", raw], check=True)
        return st_io.load(raw)


def load_model(torch, folder, layer):
    """The reference model cut after block `layer`."""
    import ref_model
    m = ref_model.Model(ref_model.load_config(folder), load_st(os.path.join(folder, "model.safetensors")),
                        dtype=torch.float32)
    m.layers = m.layers[:layer + 1]
    return m


def load_glp(torch, folder):
    import yaml
    with open(os.path.join(folder, "config.yaml")) as f:
        y = yaml.safe_load(f)
    dc = y["glp_kwargs"]["denoiser_config"]
    cfg = {k: int(dc[k]) for k in ("d_input", "d_model", "d_mlp", "n_layers")}
    cfg["mlnl"] = 1
    p = {k: v.float() for k, v in load_st(os.path.join(folder, "final.safetensors")).items()}
    st = load_st(os.path.join(folder, "rep_statistics.safetensors"))
    return cfg, p, st["mean"].float().reshape(-1), st["var"].float().reshape(-1), int(y["glp_kwargs"]["tracedict_config"]["layers"][0])


def random_sae(torch, d, L, k):
    W = torch.randn(L, d)
    W /= W.norm(dim=1, keepdim=True)
    return {"W_enc": W.clone(), "b_enc": torch.zeros(L), "W_dec": W, "b_dec": torch.zeros(d), "k": k}


def write_sae(torch, out, d, L, k, layer):
    """A random SAE in the SAELens (v6) layout: W_enc stored [d_in, d_sae]."""
    import st_io
    p = random_sae(torch, d, L, k)
    os.makedirs(out, exist_ok=True)
    st_io.save(os.path.join(out, "sae_weights.safetensors"),
               {"W_enc": p["W_enc"].t().contiguous(), "b_enc": p["b_enc"], "W_dec": p["W_dec"], "b_dec": p["b_dec"]})
    cfg = {"architecture": "topk", "d_in": d, "d_sae": L, "k": k, "dtype": "float32", "device": "cpu",
           "apply_b_dec_to_input": True, "normalize_activations": "none",
           "metadata": {"hook_name": "blocks.%d.hook_resid_post" % layer, "model_name": "metascope"}}
    with open(os.path.join(out, "cfg.json"), "w") as f:
        json.dump(cfg, f, indent=1)


def load_sae(torch, folder):
    with open(os.path.join(folder, "cfg.json")) as f:
        c = json.load(f)
    if c.get("architecture") != "topk":
        raise SystemExit("torch_index_bench: only topk SAEs (%s)" % folder)
    p = {k: v.float() for k, v in load_st(os.path.join(folder, "sae_weights.safetensors")).items()}
    p["W_enc"] = p["W_enc"].t().contiguous()
    p["k"] = int(c["k"])
    return p


def windows(torch, cfg, tokens, T, lengths=None):
    """Random segments (BOS first when the model has one) of the given lengths,
    else of T tokens, holding `tokens` index tokens."""
    bos = cfg.raw.get("bos_token_id")
    out, left = [], tokens
    for n in lengths if lengths is not None else iter(lambda: T, None):
        if left <= 0:
            break
        n = min(n - 1, left)
        ids = torch.randint(0, cfg.vocab - 1, (n + 1,))
        if bos is not None:
            ids[0] = int(bos)
        out.append(ids)
        left -= n
    return out


class TopK:
    """Running top K values (and token positions) of U units, plus positive counts."""

    def __init__(self, torch, U, K):
        self.t = torch
        self.v = torch.full((U, K), float("-inf"))
        self.i = torch.full((U, K), -1, dtype=torch.long)
        self.npos = torch.zeros(U, dtype=torch.long)

    def offer(self, X, pos):
        """X [tokens, U] values, pos [tokens] global positions."""
        t, K = self.t, self.v.shape[1]
        self.npos += (X > 0).sum(0)
        v = t.cat([self.v, X.t()], 1)
        i = t.cat([self.i, pos[None, :].expand(X.shape[1], -1)], 1)
        self.v, j = t.topk(v, K, dim=1)
        self.i = t.gather(i, 1, j)


class Cross:
    """Sums for Pearson correlations of latents (sparse) and meta-neurons."""

    def __init__(self, torch, L, M):
        self.t = torch
        self.C = torch.zeros(L, M)
        self.sx, self.sxx = torch.zeros(M, dtype=torch.float64), torch.zeros(M, dtype=torch.float64)
        self.sy, self.syy = torch.zeros(L, dtype=torch.float64), torch.zeros(L, dtype=torch.float64)

    def add(self, inds, vals, meta):
        t = self.t
        n, k = inds.shape
        rows = t.arange(n).repeat_interleave(k)
        zt = t.sparse_coo_tensor(t.stack([inds.reshape(-1), rows]), vals.reshape(-1), (self.C.shape[0], n))
        self.C += t.sparse.mm(zt, meta)
        self.sx += meta.sum(0, dtype=t.float64)
        self.sxx += (meta.double() ** 2).sum(0)
        self.sy.index_add_(0, inds.reshape(-1), vals.reshape(-1).double())
        self.syy.index_add_(0, inds.reshape(-1), vals.reshape(-1).double() ** 2)


def encode_batch(torch, g, S, sae, h, mlp):
    """[tokens, units] values of the batch (latents, meta-neurons, MLP) and the sparse codes."""
    F = torch.nn.functional
    pre = F.linear(h - sae["b_dec"], sae["W_enc"], sae["b_enc"])
    vals, inds = torch.topk(pre, sae["k"], dim=-1)
    vals = torch.relu(vals)
    z = torch.zeros_like(pre).scatter_(1, inds, vals)
    cfg, p, mean, var = S["glp"]
    s = float(g.grid(1000)[900])
    x = (h - mean) / torch.sqrt(var + 1e-12)
    x = (1 - s) * x + s * torch.randn_like(x)
    meta = []
    g.forward(p, cfg, x, torch.full((h.shape[0],), 1000 * s), None, meta)
    meta = torch.cat(meta, 1)
    return torch.cat([z, meta, mlp], 1), inds, vals, meta


def run(torch, g, S, wins, top, cross):
    """All windows, in batches of whole windows; returns index tokens."""
    m, layer, sae = S["model"], S["layer"], S["sae"]
    done, at = 0, 0
    while at < len(wins):
        hs, ms, pos = [], [], []
        rows = 0
        while at < len(wins) and rows + len(wins[at]) <= BATCH_ROWS:
            o = m.forward(wins[at], want_resid=True, want_mlp=True, logits="none")
            hs.append(o["resid"][layer][1:]), ms.append(o["mlp"][layer][1:])  # position 0 is not indexed
            pos.append(torch.arange(done, done + len(wins[at]) - 1))
            rows += len(wins[at])
            done += len(wins[at]) - 1
            at += 1
        X, inds, vals, meta = encode_batch(torch, g, S, sae, torch.cat(hs), torch.cat(ms))
        top.offer(X, torch.cat(pos))
        if cross:
            cross.add(inds, vals, meta)
    return done


def main():
    ap = argparse.ArgumentParser(description="PyTorch CPU index-build baseline")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=20000)
    ap.add_argument("--model", default=os.path.join(ROOT, "assets", "model"))
    ap.add_argument("--glp", default=os.path.join(ROOT, "assets", "glp"))
    ap.add_argument("--sae", default=None)
    ap.add_argument("--k", type=int, default=20, help="top examples per unit")
    ap.add_argument("--no-cross", action="store_true")
    ap.add_argument("--segments", metavar="INDEX_DIR", help="segment lengths of this index")
    ap.add_argument("--write-sae", metavar="DIR")
    ap.add_argument("--latents", type=int, default=4096)
    ap.add_argument("--topk", type=int, default=32, help="SAE k (random SAE)")
    a = ap.parse_args()
    torch, g = setup(a.threads)
    torch.manual_seed(0)
    glp_cfg, glp_p, mean, var, layer = load_glp(torch, a.glp)
    if a.write_sae:
        write_sae(torch, a.write_sae, glp_cfg["d_input"], a.latents, a.topk, layer)
        return
    sae_dir = a.sae or os.path.join(ROOT, "assets", "sae")
    sae = load_sae(torch, sae_dir) if os.path.isdir(sae_dir) else random_sae(torch, glp_cfg["d_input"], a.latents, a.topk)
    model = load_model(torch, a.model, layer)
    S = {"model": model, "layer": layer, "sae": sae, "glp": (glp_cfg, glp_p, mean, var)}
    T = model.cfg.max_pos
    L, M, dff = sae["W_dec"].shape[0], glp_cfg["n_layers"] * glp_cfg["d_mlp"], model.cfg.d_ff
    with torch.no_grad():
        run(torch, g, S, windows(torch, model.cfg, T - 1, T), TopK(torch, L + M + dff, a.k), None)  # warm-up
        lengths = None
        if a.segments:
            lengths = [int(x) for x in load_st(os.path.join(a.segments, "tokens.safetensors"))["seg_len"]]
        wins = windows(torch, model.cfg, a.tokens, T, lengths)
        top, cross = TopK(torch, L + M + dff, a.k), None if a.no_cross else Cross(torch, L, M)
        t0 = time.perf_counter()
        n = run(torch, g, S, wins, top, cross)
        dt = time.perf_counter() - t0
    assert torch.isfinite(top.v[:, 0]).all()
    print(json.dumps({"index_tok_s": round(n / dt, 1), "tokens": n, "seconds": round(dt, 3), "units": L + M + dff,
                      "layer": layer, "segments": len(wins), "K": a.k, "cross": not a.no_cross, "threads": a.threads,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
