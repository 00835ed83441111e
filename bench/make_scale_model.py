#!/usr/bin/python3
"""make_scale_model.py — random-weight models in published shapes, for bench/scale.sh.

    /usr/bin/python3 bench/make_scale_model.py --scale 1b|8b --out DIR [--no-glp]

DIR/model: a Hugging Face Llama folder, BF16, sharded (model-0000i-of-0000n
  .safetensors + model.safetensors.index.json), with metascope's bundled
  tokenizer (assets/tokenizer.json; fewer tokens than the vocabulary is fine).
  1b: Llama-3.2-1B  hidden 2048, 16 layers, 32/8 heads, head dim 64, MLP 8192,
      vocab 128256, tied, llama3 RoPE (factor 32), 2 shards.
  8b: Llama-3.1-8B  hidden 4096, 32 layers, 32/8 heads, head dim 128, MLP 14336,
      vocab 128256, untied, llama3 RoPE (factor 8), 4 shards.
DIR/glp: a GLP folder in the published layout (config.yaml, final.safetensors
  F32, rep_statistics.pt by torch.save) for d_in = hidden: d_model 2 d_in,
  d_mlp 4 d_in, 3 blocks, at layer n_layers / 2.
Weights ~ N(0, 0.02) (BF16 by truncation), norms 1, biases 0, written a chunk
at a time so memory stays small.
"""
import argparse
import json
import os
import shutil
import struct

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STD = 0.02
SHAPES = {
    "1b": dict(d=2048, L=16, H=32, Hkv=8, hd=64, ff=8192, V=128256, tied=True, factor=32.0, shards=2),
    "8b": dict(d=4096, L=32, H=32, Hkv=8, hd=128, ff=14336, V=128256, tied=False, factor=8.0, shards=4),
}


def llama_tensors(s):
    d, hd = s["d"], s["hd"]
    t = [("model.embed_tokens.weight", (s["V"], d), "n")]
    for i in range(s["L"]):
        p = "model.layers.%d." % i
        t += [(p + "input_layernorm.weight", (d,), "1"),
              (p + "self_attn.q_proj.weight", (s["H"] * hd, d), "n"),
              (p + "self_attn.k_proj.weight", (s["Hkv"] * hd, d), "n"),
              (p + "self_attn.v_proj.weight", (s["Hkv"] * hd, d), "n"),
              (p + "self_attn.o_proj.weight", (d, s["H"] * hd), "n"),
              (p + "post_attention_layernorm.weight", (d,), "1"),
              (p + "mlp.gate_proj.weight", (s["ff"], d), "n"),
              (p + "mlp.up_proj.weight", (s["ff"], d), "n"),
              (p + "mlp.down_proj.weight", (d, s["ff"]), "n")]
    t += [("model.norm.weight", (d,), "1")]
    if not s["tied"]:
        t += [("lm_head.weight", (s["V"], d), "n")]
    return t


def chunks(kind, n, dtype, rng):
    """The tensor's values as little-endian bytes, 16M elements at a time."""
    step = 1 << 24
    for a in range(0, n, step):
        m = min(step, n - a)
        if kind == "n":
            x = rng.standard_normal(m, dtype=np.float32) * np.float32(STD)
        else:
            x = np.full(m, 1.0 if kind == "1" else 0.0, dtype=np.float32)
        if dtype == "BF16":
            yield (x.view(np.uint32) >> 16).astype("<u2").tobytes()
        else:
            yield x.astype("<f4").tobytes()


def write_st(path, tensors, dtype, rng):
    """safetensors: header (padded to 8 bytes), then each tensor in order."""
    es = 2 if dtype == "BF16" else 4
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for name, shape, _ in tensors:
        nb = int(np.prod(shape)) * es
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + nb]}
        off += nb
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-(8 + len(h)) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for _, shape, kind in tensors:
            for b in chunks(kind, int(np.prod(shape)), dtype, rng):
                f.write(b)
    os.replace(tmp, path)


def write_model(s, out, rng):
    os.makedirs(out, exist_ok=True)
    cfg = {
        "architectures": ["LlamaForCausalLM"], "attention_bias": False, "head_dim": s["hd"],
        "hidden_act": "silu", "hidden_size": s["d"], "intermediate_size": s["ff"],
        "max_position_embeddings": 131072, "mlp_bias": False, "model_type": "llama",
        "num_attention_heads": s["H"], "num_hidden_layers": s["L"], "num_key_value_heads": s["Hkv"],
        "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
        "rope_scaling": {"factor": s["factor"], "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                         "original_max_position_embeddings": 8192, "rope_type": "llama3"},
        "tie_word_embeddings": s["tied"], "torch_dtype": "bfloat16", "vocab_size": s["V"],
    }
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    shutil.copy(os.path.join(ROOT, "assets", "tokenizer.json"), os.path.join(out, "tokenizer.json"))
    tensors = llama_tensors(s)
    total = sum(int(np.prod(sh)) for _, sh, _ in tensors) * 2
    n, parts, cur, acc = s["shards"], [], [], 0
    for t in tensors:  # split at equal byte counts
        cur.append(t)
        acc += int(np.prod(t[1])) * 2
        if acc >= total * (len(parts) + 1) / n and len(parts) < n - 1:
            parts.append(cur)
            cur = []
    parts.append(cur)
    wm = {}
    for i, part in enumerate(parts):
        name = "model-%05d-of-%05d.safetensors" % (i + 1, len(parts))
        write_st(os.path.join(out, name), part, "BF16", rng)
        wm.update({t[0]: name for t in part})
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": wm}, f, indent=1)


def write_glp(s, out, rng):
    import torch
    os.makedirs(out, exist_ok=True)
    d_in, dm, dmlp = s["d"], 2 * s["d"], 4 * s["d"]
    p = "denoiser.model."
    t = [(p + "in_proj.weight", (dm, d_in), "n"), (p + "in_proj.bias", (dm,), "0"),
         (p + "time_embed.0.weight", (dm, dm), "n"), (p + "time_embed.0.bias", (dm,), "0"),
         (p + "time_embed.2.weight", (dm, dm), "n"), (p + "time_embed.2.bias", (dm,), "0")]
    for i in range(3):
        q = p + "layers.%d." % i
        t += [(q + "ln.weight", (dm,), "1"), (q + "ln.bias", (dm,), "0"),
              (q + "gate_proj.weight", (dmlp, dm), "n"), (q + "gate_proj.bias", (dmlp,), "0"),
              (q + "up_proj.weight", (dmlp, dm), "n"), (q + "up_proj.bias", (dmlp,), "0"),
              (q + "time_proj.weight", (dmlp, dm), "n"), (q + "time_proj.bias", (dmlp,), "0"),
              (q + "down_proj.weight", (dm, dmlp), "n"), (q + "down_proj.bias", (dm,), "0")]
    t += [(p + "ln.weight", (dm,), "1"), (p + "ln.bias", (dm,), "0"),
          (p + "out_proj.weight", (d_in, dm), "n"), (p + "out_proj.bias", (d_in,), "0")]
    write_st(os.path.join(out, "final.safetensors"), t, "F32", rng)
    with open(os.path.join(out, "config.yaml"), "w") as f:
        f.write("# random GLP in the published layout (bench/make_scale_model.py)\n"
                "model_name: scale\nglp_kwargs:\n  normalizer_config:\n"
                "    rep_statistic: ${rep_statistic}\n  denoiser_config:\n"
                "    d_input: %d\n    n_layers: 3\n    multi_layer_n_layers: null\n"
                "  tracedict_config:\n    layer_prefix: model.layers\n    layers: [%d]\n"
                "    retain: output\n" % (d_in, s["L"] // 2))
    torch.save({"mean": torch.zeros(d_in), "var": torch.ones(d_in)}, os.path.join(out, "rep_statistics.pt"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", choices=sorted(SHAPES), default="1b")
    ap.add_argument("--out", required=True)
    ap.add_argument("--no-glp", action="store_true")
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    s = SHAPES[a.scale]
    write_model(s, os.path.join(a.out, "model"), rng)
    if not a.no_glp:
        write_glp(s, os.path.join(a.out, "glp"), rng)


if __name__ == "__main__":
    main()
