#!/usr/bin/python3
"""make_bench_model.py — write a random float32 Hugging Face model folder
(config.json + model.safetensors, no tokenizer) for speed benchmarks.

    /usr/bin/python3 bench/make_bench_model.py --arch gpt2|llama --out DIR [--seed S]

gpt2:  GPT-2 small shape (vocab 50257, n_embd 768, 12 layers, 12 heads,
       n_positions 1024), HF names without prefix, lm head tied to wte.
llama: hidden 768, intermediate 2048, 12 layers, 12 heads, 4 kv heads,
       head_dim 64, vocab 32000, untied lm_head, rope_theta 500000.
Matrices and embeddings ~ N(0, 0.02); norm weights 1, biases 0.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tools"))
import st_io  # noqa: E402

STD = 0.02


def gpt2_specs(V=50257, d=768, L=12, npos=1024):
    cfg = {
        "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1, "bos_token_id": 50256, "eos_token_id": 50256, "embd_pdrop": 0.1,
        "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "gpt2",
        "n_ctx": npos, "n_embd": d, "n_head": 12, "n_layer": L, "n_positions": npos,
        "resid_pdrop": 0.1, "torch_dtype": "float32", "vocab_size": V,
    }
    s = [("wte.weight", (V, d), "n"), ("wpe.weight", (npos, d), "n")]
    for i in range(L):
        p = "h.%d." % i
        s += [(p + "ln_1.weight", (d,), "1"), (p + "ln_1.bias", (d,), "0"),
              (p + "attn.c_attn.weight", (d, 3 * d), "n"), (p + "attn.c_attn.bias", (3 * d,), "0"),
              (p + "attn.c_proj.weight", (d, d), "n"), (p + "attn.c_proj.bias", (d,), "0"),
              (p + "ln_2.weight", (d,), "1"), (p + "ln_2.bias", (d,), "0"),
              (p + "mlp.c_fc.weight", (d, 4 * d), "n"), (p + "mlp.c_fc.bias", (4 * d,), "0"),
              (p + "mlp.c_proj.weight", (4 * d, d), "n"), (p + "mlp.c_proj.bias", (d,), "0")]
    s += [("ln_f.weight", (d,), "1"), ("ln_f.bias", (d,), "0")]
    return cfg, s


def llama_specs(V=32000, d=768, ff=2048, L=12, H=12, Hkv=4, hd=64):
    cfg = {
        "architectures": ["LlamaForCausalLM"], "attention_bias": False, "bos_token_id": 1,
        "eos_token_id": 2, "head_dim": hd, "hidden_act": "silu", "hidden_size": d,
        "initializer_range": 0.02, "intermediate_size": ff, "max_position_embeddings": 2048,
        "mlp_bias": False, "model_type": "llama", "num_attention_heads": H,
        "num_hidden_layers": L, "num_key_value_heads": Hkv, "rms_norm_eps": 1e-05,
        "rope_scaling": None, "rope_theta": 500000.0, "tie_word_embeddings": False,
        "torch_dtype": "float32", "vocab_size": V,
    }
    s = [("model.embed_tokens.weight", (V, d), "n")]
    for i in range(L):
        p = "model.layers.%d." % i
        s += [(p + "input_layernorm.weight", (d,), "1"),
              (p + "self_attn.q_proj.weight", (H * hd, d), "n"),
              (p + "self_attn.k_proj.weight", (Hkv * hd, d), "n"),
              (p + "self_attn.v_proj.weight", (Hkv * hd, d), "n"),
              (p + "self_attn.o_proj.weight", (d, H * hd), "n"),
              (p + "post_attention_layernorm.weight", (d,), "1"),
              (p + "mlp.gate_proj.weight", (ff, d), "n"),
              (p + "mlp.up_proj.weight", (ff, d), "n"),
              (p + "mlp.down_proj.weight", (d, ff), "n")]
    s += [("model.norm.weight", (d,), "1"), ("lm_head.weight", (V, d), "n")]
    return cfg, s


def main():
    ap = argparse.ArgumentParser(description="random f32 HF folder for benchmarks")
    ap.add_argument("--arch", choices=["gpt2", "llama"], required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    cfg, specs = gpt2_specs() if a.arch == "gpt2" else llama_specs()
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(a.seed)

    def maker(shape, kind):
        def fn():
            if kind == "n":
                x = rng.standard_normal(shape, dtype=np.float32)
                x *= np.float32(STD)
                return x
            return np.full(shape, 1.0 if kind == "1" else 0.0, np.float32)
        return fn

    items = [(name, "F32", shape, maker(shape, kind)) for name, shape, kind in specs]
    st_io.save_lazy(os.path.join(a.out, "model.safetensors"), items)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    n = sum(int(np.prod(s)) for _, s, _ in specs)
    print("%s: %s, %.1fM parameters" % (a.out, a.arch, n / 1e6))


if __name__ == "__main__":
    main()
