"""ref_model.py — independent plain-PyTorch reference for metascope's transformer
engine (GPT-2 and Llama families) and its byte-level BPE tokenizer.

Written from the public architecture definitions (no `transformers`, no
`safetensors` package). Computations run in the dtype chosen at load time:
float64 for the test fixtures, float32 for the speed baseline (bench/).

    m = load_hf_folder("tests/fixtures/models/llama_tiny", dtype=torch.float64)
    out = m.forward(tokens, want_resid=True, want_mlp=True)
    out["logits"]      # [T, V]
    out["resid"][l]    # [T, d]    output of block l (= HF hidden_states[l+1])
    out["mlp"][l]      # [T, d_ff] input of block l's MLP down projection

    cache = m.new_cache(max_len)         # KV cache; forward(..., cache=cache)
    steer = steer_hook(layer, positions, vec)   # adds vec to block `layer`'s
    m.forward(tokens, resid_hook=steer)         # output at absolute positions

Llama: RMSNorm, RoPE (HF rotate_half pairing i <-> i + head_dim/2; rope types
default / linear / llama3), grouped-query attention (kv head j serves query heads
j*G .. j*G+G-1, as HF repeat_kv), explicit head_dim, SwiGLU MLP, tied or untied
lm_head. GPT-2: learned positions, LayerNorm, fused c_attn Conv1D ([in, out]),
GELU tanh approximation, lm_head tied to wte.
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402


# --------------------------------------------------------------------------- config

class Config:
    def __init__(self, raw):
        self.raw = raw
        mt = (raw.get("model_type") or "").lower()
        archs = " ".join(raw.get("architectures") or []).lower()
        if mt == "gpt2" or "gpt2" in archs:
            self.arch = "gpt2"
            self.vocab = int(raw["vocab_size"])
            self.d = int(raw["n_embd"])
            self.n_layers = int(raw["n_layer"])
            self.n_heads = int(raw["n_head"])
            self.n_kv = self.n_heads
            self.head_dim = self.d // self.n_heads
            self.d_ff = int(raw.get("n_inner") or 4 * self.d)
            self.eps = float(raw.get("layer_norm_epsilon", 1e-5))
            self.max_pos = int(raw.get("n_positions", raw.get("n_ctx", 1024)))
            self.tied = True
            act = raw.get("activation_function", "gelu_new")
            if act not in ("gelu_new", "gelu_pytorch_tanh"):
                raise ValueError("gpt2: unsupported activation_function %r" % act)
            self.rope_theta = None
            self.rope = None
        elif mt == "llama" or "llama" in archs:
            self.arch = "llama"
            self.vocab = int(raw["vocab_size"])
            self.d = int(raw["hidden_size"])
            self.n_layers = int(raw["num_hidden_layers"])
            self.n_heads = int(raw["num_attention_heads"])
            self.n_kv = int(raw.get("num_key_value_heads") or self.n_heads)
            self.head_dim = int(raw.get("head_dim") or self.d // self.n_heads)
            self.d_ff = int(raw["intermediate_size"])
            self.eps = float(raw.get("rms_norm_eps", 1e-6))
            self.max_pos = int(raw.get("max_position_embeddings", 2048))
            self.tied = bool(raw.get("tie_word_embeddings", False))
            if raw.get("hidden_act", "silu") != "silu":
                raise ValueError("llama: unsupported hidden_act %r" % raw.get("hidden_act"))
            if self.n_heads % self.n_kv:
                raise ValueError("llama: num_attention_heads not a multiple of kv heads")
            # transformers <5: rope_theta + rope_scaling; transformers 5: rope_parameters
            rp = raw.get("rope_parameters") or {}
            rs = raw.get("rope_scaling") or {}
            theta = raw.get("rope_theta", rp.get("rope_theta", 10000.0))
            self.rope_theta = float(theta)
            rope = dict(rp)
            rope.update(rs)
            rope.pop("rope_theta", None)
            rtype = rope.get("rope_type", rope.get("type", "default"))
            rope["rope_type"] = rtype
            if rtype not in ("default", "linear", "llama3"):
                raise ValueError("llama: unsupported rope type %r" % rtype)
            self.rope = rope
        else:
            raise ValueError("unsupported model_type %r" % mt)

    @property
    def n_groups(self):
        return self.n_heads // self.n_kv


def rope_inv_freq(cfg):
    """inverse frequencies [head_dim/2] in float64, after rope scaling."""
    hd = cfg.head_dim
    inv = 1.0 / (cfg.rope_theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    r = cfg.rope
    if r["rope_type"] == "linear":
        inv = inv / float(r["factor"])
    elif r["rope_type"] == "llama3":
        factor = float(r["factor"])
        low = float(r["low_freq_factor"])
        high = float(r["high_freq_factor"])
        old = float(r["original_max_position_embeddings"])
        low_wl = old / low
        high_wl = old / high
        wavelen = 2 * math.pi / inv
        inv_l = torch.where(wavelen > low_wl, inv / factor, inv)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * inv_l / factor + smooth * inv_l
        medium = ~(wavelen < high_wl) & ~(wavelen > low_wl)
        inv = torch.where(medium, smoothed, inv_l)
    return inv


def rope_branches(cfg):
    """For llama3 scaling: per frequency 'hi' (unchanged), 'mid' (smoothed), 'lo' (/factor)."""
    r = cfg.rope
    hd = cfg.head_dim
    inv = 1.0 / (cfg.rope_theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    old = float(r["original_max_position_embeddings"])
    low_wl = old / float(r["low_freq_factor"])
    high_wl = old / float(r["high_freq_factor"])
    out = []
    for wl in (2 * math.pi / inv).tolist():
        out.append("hi" if wl < high_wl else ("lo" if wl > low_wl else "mid"))
    return out


# --------------------------------------------------------------------------- model

def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))


class KVCache:
    def __init__(self, cfg, max_len, dtype):
        self.max_len = max_len
        self.len = 0
        shape = (cfg.n_kv, max_len, cfg.head_dim)
        self.k = [torch.zeros(shape, dtype=dtype) for _ in range(cfg.n_layers)]
        self.v = [torch.zeros(shape, dtype=dtype) for _ in range(cfg.n_layers)]

    def reset(self):
        self.len = 0


def steer_hook(layer, positions, vec):
    """resid_hook adding vec to block `layer`'s output at absolute positions."""
    positions = sorted(int(p) for p in positions)

    def hook(l, x, pos0):
        if l != layer:
            return None
        rows = [p - pos0 for p in positions if pos0 <= p < pos0 + x.shape[0]]
        if not rows:
            return None
        x = x.clone()
        x[rows] += vec.to(x.dtype)
        return x
    return hook


class Model:
    """Weights are held in `self.dtype`; q/k/v (and Llama gate/up) are fused."""

    def __init__(self, cfg, tensors, dtype=torch.float64):
        self.cfg = cfg
        self.dtype = dtype
        c = cfg
        g = {}
        for k, v in tensors.items():
            if c.arch == "gpt2" and k.startswith("transformer."):
                k = k[len("transformer."):]
            g[k] = v

        def w(name):
            if name not in g:
                raise KeyError("missing tensor %s" % name)
            return g[name].to(dtype).contiguous()

        self.layers = []
        if c.arch == "llama":
            self.embed = w("model.embed_tokens.weight")
            self.norm_w = w("model.norm.weight")
            if "lm_head.weight" in g and not c.tied:
                self.lm_head = w("lm_head.weight")
            else:
                self.lm_head = self.embed
            for i in range(c.n_layers):
                p = "model.layers.%d." % i
                L = {
                    "ln1": w(p + "input_layernorm.weight"),
                    "ln2": w(p + "post_attention_layernorm.weight"),
                    "wqkv": torch.cat([w(p + "self_attn.q_proj.weight"),
                                       w(p + "self_attn.k_proj.weight"),
                                       w(p + "self_attn.v_proj.weight")], 0).contiguous(),
                    "wo": w(p + "self_attn.o_proj.weight"),
                    "wgu": torch.cat([w(p + "mlp.gate_proj.weight"),
                                      w(p + "mlp.up_proj.weight")], 0).contiguous(),
                    "wdown": w(p + "mlp.down_proj.weight"),
                }
                if p + "self_attn.q_proj.bias" in g:  # attention_bias=True variants
                    L["bqkv"] = torch.cat([w(p + "self_attn.q_proj.bias"),
                                           w(p + "self_attn.k_proj.bias"),
                                           w(p + "self_attn.v_proj.bias")], 0)
                self.layers.append(L)
            qd, kd = c.n_heads * c.head_dim, c.n_kv * c.head_dim
            assert self.layers[0]["wqkv"].shape == (qd + 2 * kd, c.d)
            assert self.layers[0]["wo"].shape == (c.d, qd)
            self.inv_freq = rope_inv_freq(c)
            self._rope_len = 0
            self._grow_rope(max(c.max_pos, 1))
        else:
            self.embed = w("wte.weight")
            self.wpe = w("wpe.weight")
            self.lnf_w, self.lnf_b = w("ln_f.weight"), w("ln_f.bias")
            self.lm_head = self.embed
            for i in range(c.n_layers):
                p = "h.%d." % i
                self.layers.append({
                    "ln1_w": w(p + "ln_1.weight"), "ln1_b": w(p + "ln_1.bias"),
                    "ln2_w": w(p + "ln_2.weight"), "ln2_b": w(p + "ln_2.bias"),
                    "c_attn_w": w(p + "attn.c_attn.weight"), "c_attn_b": w(p + "attn.c_attn.bias"),
                    "c_proj_w": w(p + "attn.c_proj.weight"), "c_proj_b": w(p + "attn.c_proj.bias"),
                    "fc_w": w(p + "mlp.c_fc.weight"), "fc_b": w(p + "mlp.c_fc.bias"),
                    "proj_w": w(p + "mlp.c_proj.weight"), "proj_b": w(p + "mlp.c_proj.bias"),
                })
            assert self.layers[0]["c_attn_w"].shape == (c.d, 3 * c.d)
            assert self.layers[0]["fc_w"].shape == (c.d, c.d_ff)

    # ---- helpers
    def _grow_rope(self, n):
        pos = torch.arange(n, dtype=torch.float64)
        fr = torch.outer(pos, self.inv_freq)
        emb = torch.cat([fr, fr], -1)
        self._cos = emb.cos().to(self.dtype)
        self._sin = emb.sin().to(self.dtype)
        self._rope_len = n

    def _rope(self, x, pos0):
        """x [T, nh, hd]; HF rotate_half convention."""
        T = x.shape[0]
        if pos0 + T > self._rope_len:
            self._grow_rope(max(pos0 + T, 2 * self._rope_len))
        cos = self._cos[pos0:pos0 + T].unsqueeze(1)
        sin = self._sin[pos0:pos0 + T].unsqueeze(1)
        h = x.shape[-1] // 2
        rot = torch.cat([-x[..., h:], x[..., :h]], -1)
        return x * cos + rot * sin

    def _rmsnorm(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.cfg.eps) * w

    def new_cache(self, max_len):
        return KVCache(self.cfg, max_len, self.dtype)

    def _attend(self, q, k, v, li, cache, pos0):
        """q [T,H,hd], k/v [T,Hkv,hd] (already rotated) -> [T, H*hd]."""
        c = self.cfg
        T = q.shape[0]
        S = pos0 + T
        cache.k[li][:, pos0:S] = k.transpose(0, 1)
        cache.v[li][:, pos0:S] = v.transpose(0, 1)
        K = cache.k[li][:, :S]
        V = cache.v[li][:, :S]
        G = c.n_groups
        # query head h = j*G + g uses kv head j
        qg = (q * (1.0 / math.sqrt(c.head_dim))).transpose(0, 1).reshape(c.n_kv, G * T, c.head_dim)
        sc = torch.bmm(qg, K.transpose(1, 2))  # [Hkv, G*T, S]
        if T > 1:
            i = torch.arange(T).unsqueeze(1) + pos0
            j = torch.arange(S).unsqueeze(0)
            mask = torch.zeros(T, S, dtype=sc.dtype).masked_fill_(j > i, float("-inf"))
            sc.view(c.n_kv, G, T, S).add_(mask)
        p = torch.softmax(sc, -1)
        o = torch.bmm(p, V)  # [Hkv, G*T, hd]
        return o.view(c.n_heads, T, c.head_dim).transpose(0, 1).reshape(T, c.n_heads * c.head_dim)

    # ---- forward
    @torch.no_grad()
    def forward(self, tokens, cache=None, resid_hook=None, want_resid=False,
                want_mlp=False, logits="all"):
        """Run tokens after the cache contents. logits: "all" | "last" | "none".
        resid_hook(layer, x[T,d], pos0) may return a replacement for block
        `layer`'s output (later blocks and the KV cache see it)."""
        c = self.cfg
        tokens = torch.as_tensor(tokens, dtype=torch.long).reshape(-1)
        T = tokens.shape[0]
        if cache is None:
            cache = self.new_cache(T)
        pos0 = cache.len
        if pos0 + T > cache.max_len:
            raise ValueError("KV cache overflow (%d + %d > %d)" % (pos0, T, cache.max_len))
        if int(tokens.min()) < 0 or int(tokens.max()) >= c.vocab:
            raise ValueError("token id out of range")
        resid, mlps = [], []
        x = self.embed[tokens]
        if c.arch == "gpt2":
            if pos0 + T > c.max_pos:
                raise ValueError("gpt2: position %d beyond n_positions" % (pos0 + T))
            x = x + self.wpe[pos0:pos0 + T]
        H, Hkv, hd = c.n_heads, c.n_kv, c.head_dim
        for li, L in enumerate(self.layers):
            if c.arch == "llama":
                h = self._rmsnorm(x, L["ln1"])
                qkv = F.linear(h, L["wqkv"], L.get("bqkv"))
                q = qkv[:, :H * hd].view(T, H, hd)
                k = qkv[:, H * hd:(H + Hkv) * hd].view(T, Hkv, hd)
                v = qkv[:, (H + Hkv) * hd:].view(T, Hkv, hd)
                q = self._rope(q, pos0)
                k = self._rope(k, pos0)
                a = self._attend(q, k, v, li, cache, pos0)
                x = x + F.linear(a, L["wo"])
                h = self._rmsnorm(x, L["ln2"])
                gu = F.linear(h, L["wgu"])
                act = F.silu(gu[:, :c.d_ff]) * gu[:, c.d_ff:]
                x = x + F.linear(act, L["wdown"])
            else:
                h = F.layer_norm(x, (c.d,), L["ln1_w"], L["ln1_b"], c.eps)
                qkv = torch.addmm(L["c_attn_b"], h, L["c_attn_w"])
                q = qkv[:, :c.d].view(T, H, hd)
                k = qkv[:, c.d:2 * c.d].view(T, H, hd)
                v = qkv[:, 2 * c.d:].view(T, H, hd)
                a = self._attend(q, k, v, li, cache, pos0)
                x = x + torch.addmm(L["c_proj_b"], a, L["c_proj_w"])
                h = F.layer_norm(x, (c.d,), L["ln2_w"], L["ln2_b"], c.eps)
                pre = torch.addmm(L["fc_b"], h, L["fc_w"])
                if self.dtype == torch.float64:
                    act = gelu_new(pre)
                else:
                    act = F.gelu(pre, approximate="tanh")
                x = x + torch.addmm(L["proj_b"], act, L["proj_w"])
            if want_mlp:
                mlps.append(act)
            if resid_hook is not None:
                r = resid_hook(li, x, pos0)
                if r is not None:
                    x = r
            if want_resid:
                resid.append(x)
        cache.len = pos0 + T
        out = {}
        if want_resid:
            out["resid"] = resid
        if want_mlp:
            out["mlp"] = mlps
        if logits != "none":
            if logits == "last":
                x = x[-1:]
            if c.arch == "llama":
                x = self._rmsnorm(x, self.norm_w)
            else:
                x = F.layer_norm(x, (c.d,), self.lnf_w, self.lnf_b, c.eps)
            out["logits"] = F.linear(x, self.lm_head)
        return out

    @torch.no_grad()
    def greedy(self, prompt, n_new, resid_hook=None):
        """Greedy continuation with the KV cache; returns (new ids, last-step logits list)."""
        prompt = list(prompt)
        cache = self.new_cache(len(prompt) + n_new)
        lg = self.forward(prompt, cache=cache, resid_hook=resid_hook, logits="last")["logits"][-1]
        out, steps = [], []
        for i in range(n_new):
            steps.append(lg)
            t = int(torch.argmax(lg))
            out.append(t)
            if i + 1 < n_new:
                lg = self.forward([t], cache=cache, resid_hook=resid_hook, logits="last")["logits"][-1]
        return out, steps


# --------------------------------------------------------------------------- loading

def load_weights(folder):
    """All tensors of an HF folder (single file or sharded via the index)."""
    single = os.path.join(folder, "model.safetensors")
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(single):
        return st_io.load(single)
    if os.path.exists(index):
        with open(index) as f:
            wm = json.load(f)["weight_map"]
        out = {}
        for shard in sorted(set(wm.values())):
            part = st_io.load(os.path.join(folder, shard))
            for k, v in part.items():
                if wm.get(k) == shard:
                    out[k] = v
        missing = [k for k in wm if k not in out]
        if missing:
            raise KeyError("sharded checkpoint: missing %s" % missing[:5])
        return out
    raise FileNotFoundError("%s: no model.safetensors or model.safetensors.index.json" % folder)


def load_config(folder):
    with open(os.path.join(folder, "config.json")) as f:
        return Config(json.load(f))


def load_hf_folder(folder, dtype=torch.float64):
    cfg = load_config(folder)
    return Model(cfg, load_weights(folder), dtype=dtype)


# --------------------------------------------------------------------------- tokenizer

GPT2_REGEX = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
                r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode character table (in id order)."""
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1))
          + list(range(ord("\xae"), ord("\xff") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


class ByteBPE:
    """Reference byte-level BPE encoder/decoder (GPT-2 / Llama-3 style)."""

    def __init__(self, vocab, merges, pattern, added=None, ignore_merges=False):
        import regex
        self.vocab = dict(vocab)                    # piece -> id
        self.ranks = {tuple(m): i for i, m in enumerate(merges)}
        self.pat = regex.compile(pattern)
        self.added = dict(added or {})              # content -> id
        self.ignore_merges = ignore_merges
        self.b2u = bytes_to_unicode()
        self.u2b = {v: k for k, v in self.b2u.items()}
        self.id2piece = {i: p for p, i in self.vocab.items()}
        for s, i in self.added.items():
            self.id2piece[i] = None
        self.id2added = {i: s for s, i in self.added.items()}

    @classmethod
    def from_tokenizer_json(cls, path):
        with open(path, encoding="utf-8") as f:
            tj = json.load(f)
        m = tj["model"]
        merges = [tuple(x.split(" ")) if isinstance(x, str) else tuple(x) for x in m["merges"]]
        pat = GPT2_REGEX
        pre = tj.get("pre_tokenizer") or {}
        seq = pre.get("pretokenizers", [pre])
        for p in seq:
            if p.get("type") == "Split":
                pat = p["pattern"].get("Regex") or p["pattern"].get("String")
        added = {a["content"]: a["id"] for a in tj.get("added_tokens", [])}
        return cls(m["vocab"], merges, pat, added, bool(m.get("ignore_merges", False)))

    @classmethod
    def from_gpt2_files(cls, vocab_path, merges_path):
        with open(vocab_path, encoding="utf-8") as f:
            vocab = json.load(f)
        with open(merges_path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        merges = [tuple(l.split(" ")) for l in lines
                  if l and not l.startswith("#version")]
        added = {k: v for k, v in vocab.items() if k.startswith("<|") and k.endswith("|>")}
        vocab = {k: v for k, v in vocab.items() if k not in added}
        return cls(vocab, merges, GPT2_REGEX, added)

    def bpe(self, piece):
        """piece: str in byte-unicode form -> list of pieces."""
        if self.ignore_merges and piece in self.vocab:
            return [piece]
        word = list(piece)
        while len(word) > 1:
            best, bi = None, -1
            for i in range(len(word) - 1):
                r = self.ranks.get((word[i], word[i + 1]))
                if r is not None and (best is None or r < best):
                    best, bi = r, i
            if best is None:
                break
            a, b = word[bi], word[bi + 1]
            new, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == a and word[i + 1] == b:
                    new.append(a + b)
                    i += 2
                else:
                    new.append(word[i])
                    i += 1
            word = new
        return word

    def encode(self, text):
        """text: str (no special-token splitting beyond exact added-token matches)."""
        ids = []
        parts = [text]
        if self.added:
            import regex
            sp = regex.compile("(" + "|".join(regex.escape(s) for s in
                                              sorted(self.added, key=len, reverse=True)) + ")")
            parts = sp.split(text)
        for part in parts:
            if part in self.added:
                ids.append(self.added[part])
                continue
            for m in self.pat.findall(part):
                u = "".join(self.b2u[b] for b in m.encode("utf-8"))
                ids.extend(self.vocab[p] for p in self.bpe(u))
        return ids

    def decode_bytes(self, ids):
        out = bytearray()
        for i in ids:
            if i in self.id2added:
                out += self.id2added[i].encode("utf-8")
            else:
                out += bytes(self.u2b[ch] for ch in self.id2piece[i])
        return bytes(out)
