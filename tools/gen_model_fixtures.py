#!/usr/bin/python3
"""gen_model_fixtures.py — write the tiny HF-layout model folders used by the
transformer/tokenizer tests, with expected outputs from tools/ref_model.py
(float64, stored as F32):

    tests/fixtures/models/llama_tiny/   Llama-3 style, F32, tied, GQA, llama3 rope
    tests/fixtures/models/llama_bf16/   Llama, BF16, untied, sharded, head_dim*heads != hidden,
                                        transformers-5 config spelling
    tests/fixtures/models/gpt2_tiny/    GPT-2, F32, vocab.json + merges.txt

Deterministic (numpy PCG64, fixed seeds). Usage:
    /usr/bin/python3 tools/gen_model_fixtures.py [--out tests/fixtures/models] [--check-only]
Also runs self-checks (incremental decode == full forward, an independent naive
per-head implementation == the reference, causality of steering, greedy margins).
"""
import argparse
import collections
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_model as R  # noqa: E402
import st_io  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Sample English text the tiny tokenizers are trained on (written for this file).
BPE_TEXT = """\
The sun rose over the quiet hills, and the farmers went out to the fields.
They worked from morning until the evening, when the light began to fade.
In the village there was a small school, a bakery and an old stone church.
The children played in the square while their parents talked about the weather,
the harvest and the news that the travellers brought from the city.
It is said that the river was once much wider than it is today; the old maps
show a lake where the meadow now lies. Nobody remembers the lake, but the
stories about it are still told in the winter, when the nights are long.
What's the best thing about the village? Most people would say the bread.
They'll tell you that the baker starts at four o'clock and that he's never late.
I've heard that the recipe is three hundred years old, and I don't doubt it.
"""

TEXT = "The cat's café opened at 10:45 in 2024.\nIt'S  fun, isn't it?"

T = 24
STEER_LAYER = 1
STEER_POS = [5, 11, 23]
STEER_NORM = 3.0
GEN_PROMPT_LEN = 8
GEN_NEW = 16
MIN_GREEDY_MARGIN = 0.02
GREEDY_DISTINCT = 8
GREEDY_TRIES = 200


# --------------------------------------------------------------------------- tokenizer

def train_bpe(text, pattern, n_tokens):
    """Tiny deterministic byte-level BPE: 256 byte symbols + merges until the
    vocabulary holds n_tokens pieces. Ties: highest count, then smallest pair."""
    import regex
    b2u = R.bytes_to_unicode()
    words = collections.Counter()
    for m in regex.findall(pattern, text):
        words[tuple(b2u[b] for b in m.encode("utf-8"))] += 1
    vocab = list(b2u.values())
    have = set(vocab)
    merges = []
    words = dict(words)
    while len(vocab) < n_tokens:
        pairs = collections.Counter()
        for w, c in words.items():
            for i in range(len(w) - 1):
                pairs[(w[i], w[i + 1])] += c
        if not pairs:
            raise RuntimeError("BPE: text too small for %d tokens" % n_tokens)
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        merges.append(best)
        new = best[0] + best[1]
        if new not in have:
            have.add(new)
            vocab.append(new)
        nw = {}
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i < len(w) - 1 and (w[i], w[i + 1]) == best:
                    out.append(new)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            nw[tuple(out)] = nw.get(tuple(out), 0) + c
        words = nw
    return {p: i for i, p in enumerate(vocab)}, merges


def llama_tokenizer_json(vocab, merges, specials):
    added = [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for s, i in specials]
    bos = specials[0]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": R.LLAMA3_REGEX}, "behavior": "Isolated",
             "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
             "use_regex": False}]},
        "post_processor": {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
             "use_regex": True},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": bos[0], "type_id": 0}},
                        {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [{"SpecialToken": {"id": bos[0], "type_id": 0}},
                      {"Sequence": {"id": "A", "type_id": 0}},
                      {"SpecialToken": {"id": bos[0], "type_id": 1}},
                      {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {bos[0]: {"id": bos[0], "ids": [bos[1]], "tokens": [bos[0]]}}}]},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
                  "vocab": vocab, "merges": ["%s %s" % m for m in merges]},
    }


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


# --------------------------------------------------------------------------- weights

def mat(rng, out_dim, in_dim):
    return (rng.standard_normal((out_dim, in_dim)) / math.sqrt(in_dim)).astype(np.float32)


def normw(rng, n):
    return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)


def bias(rng, n):
    return (0.1 * rng.standard_normal(n)).astype(np.float32)


def llama_weights(rng, V, d, ff, L, H, Hkv, hd, tied, emb_std, out_scale=2.0):
    w = {"model.embed_tokens.weight": (emb_std * rng.standard_normal((V, d))).astype(np.float32)}
    for i in range(L):
        p = "model.layers.%d." % i
        w[p + "input_layernorm.weight"] = normw(rng, d)
        w[p + "self_attn.q_proj.weight"] = mat(rng, H * hd, d)
        w[p + "self_attn.k_proj.weight"] = mat(rng, Hkv * hd, d)
        w[p + "self_attn.v_proj.weight"] = mat(rng, Hkv * hd, d)
        w[p + "self_attn.o_proj.weight"] = out_scale * mat(rng, d, H * hd)
        w[p + "post_attention_layernorm.weight"] = normw(rng, d)
        w[p + "mlp.gate_proj.weight"] = mat(rng, ff, d)
        w[p + "mlp.up_proj.weight"] = mat(rng, ff, d)
        w[p + "mlp.down_proj.weight"] = out_scale * mat(rng, d, ff)
    w["model.norm.weight"] = normw(rng, d)
    if not tied:
        w["lm_head.weight"] = mat(rng, V, d)
    return w


def gpt2_weights(rng, V, d, ff, L, npos, emb_std, out_scale=2.0):
    w = {"wte.weight": (emb_std * rng.standard_normal((V, d))).astype(np.float32),
         "wpe.weight": (0.1 * rng.standard_normal((npos, d))).astype(np.float32)}
    mask = np.tril(np.ones((npos, npos), np.float32)).reshape(1, 1, npos, npos)
    for i in range(L):
        p = "h.%d." % i
        w[p + "ln_1.weight"], w[p + "ln_1.bias"] = normw(rng, d), bias(rng, d)
        # Conv1D weights are stored [in, out]
        w[p + "attn.c_attn.weight"] = (rng.standard_normal((d, 3 * d)) / math.sqrt(d)).astype(np.float32)
        w[p + "attn.c_attn.bias"] = bias(rng, 3 * d)
        w[p + "attn.c_proj.weight"] = (out_scale * rng.standard_normal((d, d))
                                       / math.sqrt(d)).astype(np.float32)
        w[p + "attn.c_proj.bias"] = bias(rng, d)
        w[p + "attn.bias"] = mask
        w[p + "ln_2.weight"], w[p + "ln_2.bias"] = normw(rng, d), bias(rng, d)
        w[p + "mlp.c_fc.weight"] = (rng.standard_normal((d, ff)) / math.sqrt(d)).astype(np.float32)
        w[p + "mlp.c_fc.bias"] = bias(rng, ff)
        w[p + "mlp.c_proj.weight"] = (out_scale * rng.standard_normal((ff, d))
                                      / math.sqrt(ff)).astype(np.float32)
        w[p + "mlp.c_proj.bias"] = bias(rng, d)
    w["ln_f.weight"], w["ln_f.bias"] = normw(rng, d), bias(rng, d)
    return w


# --------------------------------------------------------------------------- naive check

def naive_forward(cfg, t, tokens, steer=None):
    """Independent textbook implementation (per-head loops, explicit masks,
    scalar rope frequencies) in float64, straight from the tensor dict."""
    t = {k: v.double() for k, v in t.items()}
    tokens = list(tokens)
    n = len(tokens)
    out_resid = []
    if cfg.arch == "llama":
        hd, H, Hkv = cfg.head_dim, cfg.n_heads, cfg.n_kv
        r = cfg.rope
        inv = []
        for i in range(hd // 2):
            f = cfg.rope_theta ** (-2.0 * i / hd)
            if r["rope_type"] == "llama3":
                old = r["original_max_position_embeddings"]
                wl = 2 * math.pi / f
                if wl < old / r["high_freq_factor"]:
                    pass
                elif wl > old / r["low_freq_factor"]:
                    f = f / r["factor"]
                else:
                    s = (old / wl - r["low_freq_factor"]) / (r["high_freq_factor"] - r["low_freq_factor"])
                    f = (1 - s) * f / r["factor"] + s * f
            inv.append(f)

        def rope(vec, pos):  # vec [hd]
            o = vec.clone()
            for i in range(hd // 2):
                c, s = math.cos(pos * inv[i]), math.sin(pos * inv[i])
                a, b = vec[i], vec[i + hd // 2]
                o[i] = a * c - b * s
                o[i + hd // 2] = b * c + a * s
            return o

        def rms(x, w):
            return x / torch.sqrt((x * x).mean(-1, keepdim=True) + cfg.eps) * w

        x = t["model.embed_tokens.weight"][tokens]
        for l in range(cfg.n_layers):
            p = "model.layers.%d." % l
            h = rms(x, t[p + "input_layernorm.weight"])
            q = h @ t[p + "self_attn.q_proj.weight"].T
            k = h @ t[p + "self_attn.k_proj.weight"].T
            v = h @ t[p + "self_attn.v_proj.weight"].T
            att = torch.zeros(n, H * hd, dtype=torch.float64)
            for head in range(H):
                kvh = head // (H // Hkv)
                qs = torch.stack([rope(q[i, head * hd:(head + 1) * hd], i) for i in range(n)])
                ks = torch.stack([rope(k[i, kvh * hd:(kvh + 1) * hd], i) for i in range(n)])
                vs = v[:, kvh * hd:(kvh + 1) * hd]
                for i in range(n):
                    s = (ks[:i + 1] @ qs[i]) / math.sqrt(hd)
                    pr = torch.exp(s - s.max())
                    pr = pr / pr.sum()
                    att[i, head * hd:(head + 1) * hd] = pr @ vs[:i + 1]
            x = x + att @ t[p + "self_attn.o_proj.weight"].T
            h = rms(x, t[p + "post_attention_layernorm.weight"])
            g = h @ t[p + "mlp.gate_proj.weight"].T
            u = h @ t[p + "mlp.up_proj.weight"].T
            x = x + ((g / (1 + torch.exp(-g))) * u) @ t[p + "mlp.down_proj.weight"].T
            if steer is not None and steer[0] == l:
                x = x.clone()
                for pos in steer[1]:
                    x[pos] += steer[2]
            out_resid.append(x)
        x = rms(x, t["model.norm.weight"])
        head_w = t.get("lm_head.weight", t["model.embed_tokens.weight"]) if not cfg.tied \
            else t["model.embed_tokens.weight"]
        return x @ head_w.T, out_resid
    else:
        d, H = cfg.d, cfg.n_heads
        hd = d // H

        def ln(x, w, b):
            mu = x.mean(-1, keepdim=True)
            var = ((x - mu) ** 2).mean(-1, keepdim=True)
            return (x - mu) / torch.sqrt(var + cfg.eps) * w + b

        x = t["wte.weight"][tokens] + t["wpe.weight"][:n]
        for l in range(cfg.n_layers):
            p = "h.%d." % l
            h = ln(x, t[p + "ln_1.weight"], t[p + "ln_1.bias"])
            qkv = h @ t[p + "attn.c_attn.weight"] + t[p + "attn.c_attn.bias"]
            att = torch.zeros(n, d, dtype=torch.float64)
            for head in range(H):
                q = qkv[:, head * hd:(head + 1) * hd]
                k = qkv[:, d + head * hd:d + (head + 1) * hd]
                v = qkv[:, 2 * d + head * hd:2 * d + (head + 1) * hd]
                for i in range(n):
                    s = (k[:i + 1] @ q[i]) / math.sqrt(hd)
                    pr = torch.exp(s - s.max())
                    pr = pr / pr.sum()
                    att[i, head * hd:(head + 1) * hd] = pr @ v[:i + 1]
            x = x + att @ t[p + "attn.c_proj.weight"] + t[p + "attn.c_proj.bias"]
            h = ln(x, t[p + "ln_2.weight"], t[p + "ln_2.bias"])
            a = h @ t[p + "mlp.c_fc.weight"] + t[p + "mlp.c_fc.bias"]
            a = 0.5 * a * (1 + torch.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a ** 3)))
            x = x + a @ t[p + "mlp.c_proj.weight"] + t[p + "mlp.c_proj.bias"]
            if steer is not None and steer[0] == l:
                x = x.clone()
                for pos in steer[1]:
                    x[pos] += steer[2]
            out_resid.append(x)
        x = ln(x, t["ln_f.weight"], t["ln_f.bias"])
        return x @ t["wte.weight"].T, out_resid


# --------------------------------------------------------------------------- expected

def maxdiff(a, b):
    return float((a - b).abs().max())


def make_expected(folder, tok, rng, log):
    m = R.load_hf_folder(folder, dtype=torch.float64)
    c = m.cfg
    V = c.vocab
    tokens = rng.integers(0, V - 2, size=T)
    full = m.forward(tokens, want_resid=True, want_mlp=True)
    logits = full["logits"]
    resid = torch.stack(full["resid"])
    mlp = torch.stack(full["mlp"])
    lp = torch.log_softmax(logits, -1)
    nll = -lp[torch.arange(T - 1), torch.as_tensor(tokens[1:])]

    # --- checks: incremental decode / chunked prefill == full forward
    cache = m.new_cache(T)
    inc = torch.cat([m.forward([int(x)], cache=cache)["logits"] for x in tokens])
    d_inc = maxdiff(inc, logits)
    cache = m.new_cache(T)
    a = m.forward(tokens[:10], cache=cache, want_resid=True)
    b = m.forward(tokens[10:], cache=cache, want_resid=True)
    d_chunk = maxdiff(torch.cat([a["logits"], b["logits"]]), logits)
    d_chunk_r = max(maxdiff(torch.cat([a["resid"][l], b["resid"][l]]), resid[l])
                    for l in range(c.n_layers))
    assert d_inc < 1e-10 and d_chunk < 1e-10 and d_chunk_r < 1e-10, (d_inc, d_chunk, d_chunk_r)

    # --- independent naive implementation
    raw = R.load_weights(folder)
    nl, nr = naive_forward(c, raw, tokens)
    d_naive = maxdiff(nl, logits)
    d_naive_r = max(maxdiff(nr[l], resid[l]) for l in range(c.n_layers))
    assert d_naive < 1e-10 and d_naive_r < 1e-10, (d_naive, d_naive_r)

    # --- steering
    sv = torch.as_tensor(rng.standard_normal(c.d))
    sv = sv * (STEER_NORM / sv.norm())
    sv = sv.to(torch.float32).double()  # the stored (F32) vector is the one used
    hook = R.steer_hook(STEER_LAYER, STEER_POS, sv)
    ls = m.forward(tokens, resid_hook=hook)["logits"]
    first = min(STEER_POS)
    assert maxdiff(ls[:first], logits[:first]) == 0.0
    d_steer = maxdiff(ls[first:], logits[first:])
    assert d_steer > 1e-2
    ns, _ = naive_forward(c, raw, tokens, steer=(STEER_LAYER, STEER_POS, sv))
    assert maxdiff(ns, ls) < 1e-10
    cache = m.new_cache(T)
    ls_inc = torch.cat([m.forward([int(x)], cache=cache, resid_hook=hook)["logits"]
                        for x in tokens])
    assert maxdiff(ls_inc, ls) < 1e-10

    # --- greedy generation: among GREEDY_TRIES seeded prompts whose top-1/top-2
    # logit margins all exceed MIN_GREEDY_MARGIN (so float32 engines agree), take
    # the first with >= GREEDY_DISTINCT distinct tokens, else the most varied one.
    best = None
    for attempt in range(GREEDY_TRIES):
        prompt = rng.integers(0, V - 2, size=GEN_PROMPT_LEN)
        gen, steps = m.greedy(prompt, GEN_NEW)
        margin = min(float(torch.topk(s, 2).values[0] - torch.topk(s, 2).values[1])
                     for s in steps)
        if margin < MIN_GREEDY_MARGIN:
            continue
        if best is None or len(set(gen)) > len(set(best[1])):
            best = (prompt, gen, margin, attempt)
        if len(set(gen)) >= GREEDY_DISTINCT:
            break
    if best is None:
        raise RuntimeError("no prompt with greedy margins >= %g" % MIN_GREEDY_MARGIN)
    prompt, gen, margin, attempt = best
    seq = list(prompt) + gen
    fl = m.forward(seq[:-1])["logits"]
    assert [int(x) for x in fl[GEN_PROMPT_LEN - 1:].argmax(-1)] == gen

    # --- tokenizer
    text_ids = tok.encode(TEXT)
    assert tok.decode_bytes(text_ids) == TEXT.encode("utf-8")

    exp = {
        "tokens": np.asarray(tokens, np.int32),
        "logits": logits.float().numpy(),
        "resid": resid.float().numpy(),
        "mlp": mlp.float().numpy(),
        "nll": nll.float().numpy(),
        "steer_vec": sv.float().numpy(),
        "steer_layer": np.asarray([STEER_LAYER], np.int32),
        "steer_pos": np.asarray(STEER_POS, np.int32),
        "logits_steer": ls.float().numpy(),
        "gen_prompt": np.asarray(prompt, np.int32),
        "gen_greedy": np.asarray(gen, np.int32),
        "text": np.frombuffer(TEXT.encode("utf-8"), np.uint8),
        "text_ids": np.asarray(text_ids, np.int32),
    }
    st_io.save(os.path.join(folder, "expected.safetensors"), exp,
               metadata={"format": "pt", "generator": "tools/gen_model_fixtures.py",
                         "text": TEXT})
    log("%s: logits std %.3f (max |.| %.2f), resid rms per layer %s, mlp rms %.3f, "
        "mean nll %.3f (ln V = %.3f)" % (
            os.path.basename(folder), float(logits.std()), float(logits.abs().max()),
            ["%.2f" % float(r.pow(2).mean().sqrt()) for r in resid],
            float(mlp.pow(2).mean().sqrt()), float(nll.mean()), math.log(V)))
    log("   incremental vs full %.1e, chunked %.1e, naive %.1e/%.1e, steer effect %.3f, "
        "greedy min margin %.3f (prompt attempt %d), greedy %s" % (
            d_inc, d_chunk, d_naive, d_naive_r, d_steer, margin, attempt + 1, gen))
    log("   text_ids (%d) %s" % (len(text_ids), text_ids))


# --------------------------------------------------------------------------- folders

def gen_llama_tiny(out, tok_json, log):
    folder = os.path.join(out, "llama_tiny")
    os.makedirs(folder, exist_ok=True)
    V, d, ff, L, H, Hkv, hd = 320, 64, 176, 3, 4, 2, 16
    cfg = {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 318,
        "eos_token_id": 319,
        "head_dim": hd,
        "hidden_act": "silu",
        "hidden_size": d,
        "initializer_range": 0.02,
        "intermediate_size": ff,
        "max_position_embeddings": 256,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": H,
        "num_hidden_layers": L,
        "num_key_value_heads": Hkv,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-05,
        "rope_scaling": {"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                         "original_max_position_embeddings": 64, "rope_type": "llama3"},
        "rope_theta": 500000.0,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "transformers_version": "4.45.0",
        "use_cache": True,
        "vocab_size": V,
    }
    write_json(os.path.join(folder, "config.json"), cfg)
    rng = np.random.default_rng(1001)
    w = llama_weights(rng, V, d, ff, L, H, Hkv, hd, tied=True, emb_std=0.3)
    st_io.save(os.path.join(folder, "model.safetensors"), w)
    write_json(os.path.join(folder, "tokenizer.json"), tok_json)
    br = R.rope_branches(R.Config(cfg))
    log("llama_tiny: llama3 rope branches per frequency %s" % br)
    assert set(br) == {"hi", "mid", "lo"}
    return folder


def gen_llama_bf16(out, tok_json, log):
    folder = os.path.join(out, "llama_bf16")
    os.makedirs(folder, exist_ok=True)
    V, d, ff, L, H, Hkv, hd = 320, 96, 256, 2, 4, 2, 32
    cfg = {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 318,
        "dtype": "bfloat16",
        "eos_token_id": 319,
        "head_dim": hd,
        "hidden_act": "silu",
        "hidden_size": d,
        "initializer_range": 0.02,
        "intermediate_size": ff,
        "max_position_embeddings": 256,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": H,
        "num_hidden_layers": L,
        "num_key_value_heads": Hkv,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-05,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0},
        "tie_word_embeddings": False,
        "transformers_version": "5.0.0",
        "use_cache": True,
        "vocab_size": V,
    }
    write_json(os.path.join(folder, "config.json"), cfg)
    rng = np.random.default_rng(2002)
    w = llama_weights(rng, V, d, ff, L, H, Hkv, hd, tied=False, emb_std=1.0)
    w = {k: torch.from_numpy(v).to(torch.bfloat16) for k, v in w.items()}
    shard1 = {k: v for k, v in w.items()
              if k.startswith("model.embed_tokens") or k.startswith("model.layers.0.")}
    shard2 = {k: v for k, v in w.items() if k not in shard1}
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    wm = {}
    for fn, sh in zip(names, (shard1, shard2)):
        st_io.save(os.path.join(folder, fn), sh)
        wm.update({k: fn for k in sh})
    total = sum(v.numel() * 2 for v in w.values())
    write_json(os.path.join(folder, "model.safetensors.index.json"),
               {"metadata": {"total_size": total},
                "weight_map": {k: wm[k] for k in sorted(wm)}})
    write_json(os.path.join(folder, "tokenizer.json"), tok_json)
    return folder


def gen_gpt2_tiny(out, log):
    folder = os.path.join(out, "gpt2_tiny")
    os.makedirs(folder, exist_ok=True)
    V, d, L, H, npos = 300, 64, 3, 4, 128
    cfg = {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1,
        "bos_token_id": V - 1,
        "embd_pdrop": 0.1,
        "eos_token_id": V - 1,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2",
        "n_ctx": npos,
        "n_embd": d,
        "n_head": H,
        "n_layer": L,
        "n_positions": npos,
        "resid_pdrop": 0.1,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "torch_dtype": "float32",
        "transformers_version": "4.45.0",
        "use_cache": True,
        "vocab_size": V,
    }
    write_json(os.path.join(folder, "config.json"), cfg)
    rng = np.random.default_rng(3003)
    w = gpt2_weights(rng, V, d, 4 * d, L, npos, emb_std=0.3)
    st_io.save(os.path.join(folder, "model.safetensors"), w)
    vocab, merges = train_bpe(BPE_TEXT, R.GPT2_REGEX, V - 1)
    vocab["<|endoftext|>"] = V - 1
    write_json(os.path.join(folder, "vocab.json"), vocab)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write("%s %s\n" % (a, b))
    return folder


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "models"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    log = print

    vocab, merges = train_bpe(BPE_TEXT, R.LLAMA3_REGEX, 318)
    tok_json = llama_tokenizer_json(vocab, merges,
                                    [("<|begin_of_text|>", 318), ("<|end_of_text|>", 319)])
    log("llama tokenizer: %d merges; gpt2 tokenizer trained below" % len(merges))

    f1 = gen_llama_tiny(args.out, tok_json, log)
    f2 = gen_llama_bf16(args.out, tok_json, log)
    f3 = gen_gpt2_tiny(args.out, log)

    tok_l = R.ByteBPE.from_tokenizer_json(os.path.join(f1, "tokenizer.json"))
    tok_g = R.ByteBPE.from_gpt2_files(os.path.join(f3, "vocab.json"), os.path.join(f3, "merges.txt"))
    assert len(tok_l.vocab) + len(tok_l.added) == 320 and len(tok_g.vocab) + len(tok_g.added) == 300
    # ignore_merges: report whether it changes anything on TEXT
    plain = R.ByteBPE.from_tokenizer_json(os.path.join(f1, "tokenizer.json"))
    plain.ignore_merges = False
    if plain.encode(TEXT) != tok_l.encode(TEXT):
        log("note: ignore_merges changes the llama encoding of TEXT")

    for folder, tok, seed in ((f1, tok_l, 11), (f2, tok_l, 22), (f3, tok_g, 33)):
        make_expected(folder, tok, np.random.default_rng(seed), log)

    total = 0
    for dp, _, fns in os.walk(args.out):
        for fn in fns:
            total += os.path.getsize(os.path.join(dp, fn))
    log("total size of %s: %d bytes" % (args.out, total))


if __name__ == "__main__":
    main()
