#!/usr/bin/python3
"""torch_train_bench.py — PyTorch CPU baseline for metascope's training step.

    /usr/bin/python3 bench/torch_train_bench.py [--threads 2] [--steps 3] [--batch 8] [--seq 256]

The default model of the trainer in plain PyTorch float32: Llama family,
d_model 256, 6 layers, 8 heads (8 kv heads, head_dim 32), SwiGLU d_ff 768,
vocab 4096, tied embeddings, RMSNorm, HF rotate_half RoPE. Fused q/k/v and
gate/up projections, all heads batched in 4-D tensors (no per-head Python
loops), causal mask added before the softmax. One step = zero_grad, forward,
mean cross-entropy, backward, clip_grad_norm_(1.0), torch.optim.AdamW
(foreach). After one warm-up step, the best of --steps steps is reported;
the forward+backward part alone is timed too.

Prints one JSON line: {"train_tok_s", "fwd_bwd_tok_s", "threads", ...}.

Threads: Debian's torch runs GEMMs in OpenBLAS (its own pthreads) and
element-wise ops on libgomp threads; with both pools spinning on the same
cores throughput collapses, so OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and
OMP_WAIT_POLICY=PASSIVE are set before torch is imported (unless already set),
then torch.set_num_threads(N).
"""
import argparse
import json
import math
import os
import time


def main():
    ap = argparse.ArgumentParser(description="PyTorch CPU training-step baseline")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    a = ap.parse_args()
    for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(k, str(a.threads))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(0)
    d, L, H, KV, hd, ff, V = 256, 6, 8, 8, 32, 768, 4096
    B, T, q, kv = a.batch, a.seq, H * hd, KV * hd
    eps, theta = 1e-5, 10000.0

    def mat(*shape):
        return torch.nn.Parameter(torch.randn(*shape) * 0.02)

    def ones(n):
        return torch.nn.Parameter(torch.ones(n))

    embed = mat(V, d)
    layers = [dict(n1=ones(d), wqkv=mat(q + 2 * kv, d), wo=mat(d, q), n2=ones(d),
                   w_in=mat(2 * ff, d), w_down=mat(d, ff)) for _ in range(L)]
    norm = ones(d)
    params = [embed] + [p for ly in layers for p in ly.values()] + [norm]
    decay = [p for p in params if p.dim() == 2]
    nodecay = [p for p in params if p.dim() == 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": nodecay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.95), eps=1e-8, foreach=True)
    inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    fr = torch.outer(torch.arange(T, dtype=torch.float64), inv)
    cos = torch.cat([fr, fr], -1).cos().float()
    sin = torch.cat([fr, fr], -1).sin().float()
    mask = torch.triu(torch.full((T, T), float("-inf")), 1)
    tokens = torch.randint(0, V, (B, T + 1))
    inp, tgt = tokens[:, :-1], tokens[:, 1:]

    def rms(x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

    def rope(x):
        h = hd // 2
        return x * cos + torch.cat([-x[..., h:], x[..., :h]], -1) * sin

    def loss_fn():
        x = embed[inp]
        for ly in layers:
            qkv = rms(x, ly["n1"]) @ ly["wqkv"].T
            qh = rope(qkv[..., :q].reshape(B, T, H, hd).transpose(1, 2))
            kh = rope(qkv[..., q:q + kv].reshape(B, T, KV, hd).transpose(1, 2))
            vh = qkv[..., q + kv:].reshape(B, T, KV, hd).transpose(1, 2)
            s = qh @ kh.transpose(-1, -2) * (1.0 / math.sqrt(hd)) + mask
            o = (torch.softmax(s, -1) @ vh).transpose(1, 2).reshape(B, T, q)
            x = x + o @ ly["wo"].T
            gu = rms(x, ly["n2"]) @ ly["w_in"].T
            x = x + (F.silu(gu[..., :ff]) * gu[..., ff:]) @ ly["w_down"].T
        logits = rms(x, norm) @ embed.T
        return F.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1))

    best_step = best_fb = float("inf")
    for i in range(a.steps + 1):  # the first step warms up allocator and thread pools
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        t1 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        t2 = time.perf_counter()
        if i:
            best_step = min(best_step, t2 - t0)
            best_fb = min(best_fb, t1 - t0)
    n_params = sum(p.numel() for p in params)
    print(json.dumps({"train_tok_s": round(B * T / best_step, 1),
                      "fwd_bwd_tok_s": round(B * T / best_fb, 1),
                      "step_s": round(best_step, 4), "threads": a.threads, "batch": B, "seq": T,
                      "n_params": n_params, "loss": round(float(loss), 4),
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
