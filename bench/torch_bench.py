#!/usr/bin/python3
"""torch_bench.py — PyTorch CPU baseline for metascope's transformer speed budget.

    /usr/bin/python3 bench/torch_bench.py --model DIR --threads N --prefill P --decode D [--reps R]

Loads the HF folder in float32 with tools/ref_model.py (fused qkv and gate/up
GEMMs, preallocated KV cache, batched heads, no Python per-head loops), then
with torch.inference_mode():
  prefill: forward of P fixed pseudo-random token ids on an empty cache; logits
           of the last position only (what generation needs; --full-logits
           computes all P rows); best of R.
  decode:  after that prefill, D steps of one token each through the KV cache,
           feeding the argmax; best of R.
Prints one JSON line: {"prefill_tok_s", "decode_tok_s", "threads", ...}.

Threads: Debian's torch runs GEMMs in OpenBLAS (its own pthreads) and
element-wise ops on libgomp threads. With both pools spinning on the same cores
throughput drops 2-3x, so before importing torch this script sets
OPENBLAS_NUM_THREADS=N, OMP_NUM_THREADS=N and OMP_WAIT_POLICY=PASSIVE (unless
already set in the environment) and then torch.set_num_threads(N): the fastest
configuration measured, so the baseline is not handicapped.
"""
import argparse
import json
import os
import sys
import time

TOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools")


def main():
    ap = argparse.ArgumentParser(description="PyTorch CPU transformer baseline")
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--prefill", type=int, default=128)
    ap.add_argument("--decode", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--dtype", choices=("f32", "bf16"), default="f32",
                    help="bf16: the weights and activations in torch.bfloat16 (PyTorch's own reduced-precision path)")
    ap.add_argument("--full-logits", action="store_true",
                    help="prefill computes logits for every position, not only the last")
    a = ap.parse_args()

    for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(k, str(a.threads))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch
    sys.path.insert(0, TOOLS)
    import ref_model

    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    m = ref_model.load_hf_folder(a.model, dtype=torch.float32 if a.dtype == "f32" else torch.bfloat16)
    V = m.cfg.vocab
    g = torch.Generator().manual_seed(1234)
    prompt = torch.randint(0, V, (a.prefill,), generator=g)
    mode = "all" if a.full_logits else "last"
    cache = m.new_cache(a.prefill + a.decode)
    best_p = best_d = float("inf")
    with torch.inference_mode():
        # warm-up (allocator, BLAS thread pool)
        m.forward(prompt[:16], cache=cache, logits="last")
        cache.reset()
        for _ in range(max(1, a.reps)):
            cache.reset()
            t0 = time.perf_counter()
            lg = m.forward(prompt, cache=cache, logits=mode)["logits"]
            t1 = time.perf_counter()
            best_p = min(best_p, t1 - t0)
            tok = int(torch.argmax(lg[-1]))
            t0 = time.perf_counter()
            for _ in range(a.decode):
                lg = m.forward(torch.tensor([tok]), cache=cache, logits="last")["logits"]
                tok = int(torch.argmax(lg[-1]))
            t1 = time.perf_counter()
            best_d = min(best_d, t1 - t0)
    print(json.dumps({
        "prefill_tok_s": round(a.prefill / best_p, 2),
        "decode_tok_s": round(a.decode / best_d, 2) if a.decode else None,
        "threads": a.threads,
        "prefill": a.prefill, "decode": a.decode, "reps": a.reps,
        "prefill_logits": mode, "dtype": a.dtype, "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
