#!/bin/sh
# bench/scale.sh — metascope at published scale (issue #13), beside PyTorch CPU.
# Not part of `make test`: it writes gigabytes and takes minutes.
#
#   sh bench/scale.sh                # Llama-3.2-1B shape (+ GLP for d_in 2048)
#   SCALE=8b sh bench/scale.sh       # Llama-3.1-8B shape (16 GB BF16; no PyTorch: f32 needs 32 GB)
#   THREADS=2 PREFILL=128 DECODE=32 STEER_TOKENS=4 MS_BIN=build/metascope
#
# Random weights in the published shapes are written once under build/scale/$SCALE
# (bench/make_scale_model.py; never committed). One run prints:
#   bandwidth   the weights a decode step reads, streamed once by the same pool
#               threads (best of 3): the memory-bound limit of decode
#   bench       `metascope bench`: load seconds (warm page cache), resident MB,
#               prefill / decode tokens/s, decode as a share of the limit
#   medium      the same prefill with --matmul-precision medium (activations
#               rounded to BF16, the CPU's BF16 dot product)
#   torch       bench/torch_bench.py on the same folder (f32), same threads;
#               torch_bf16 its prefill with the model in torch.bfloat16
#               (PyTorch's own reduced-precision path, beside "medium")
#   session     load glp, `vec v prompt "happy day" "sad day"` seconds, steered
#               generation with the GLP projection (steer v 4 glp) tokens/s,
#               peak resident MB of that process
set -e
SCALE=${SCALE:-1b}
T=${THREADS:-2}
PREFILL=${PREFILL:-128}
DECODE=${DECODE:-32}
STEER_TOKENS=${STEER_TOKENS:-4}
MS=${MS_BIN:-build/metascope}
PY=/usr/bin/python3
DIR=build/scale/$SCALE
M=$DIR/model
G=$DIR/glp
OUT=$DIR/results.jsonl

[ -x "$MS" ] || { echo "scale.sh: build metascope first (make)" >&2; exit 2; }
if [ ! -f "$M/model.safetensors.index.json" ] || [ ! -f "$G/rep_statistics.pt" ]; then
  echo "# writing random $SCALE weights into $DIR (once)"
  nice -n 10 $PY bench/make_scale_model.py --scale "$SCALE" --out "$DIR"
fi
echo "# $(date -u '+%F %T') UTC, $T threads, load average $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$M"/*.safetensors "$G"/*.safetensors >/dev/null # warm page cache: loads below are "warm"
: >"$OUT"

rss_line() { # label, file with /usr/bin/time's peak KB
  printf '{"what": "%s", "peak_rss_mb": %d}\n' "$1" $(($(tail -1 "$2") / 1024)) | tee -a "$OUT"
}

echo "# metascope bench (prefill $PREFILL, decode $DECODE, best of 2)"
$MS bench --model "$M" --prefill "$PREFILL" --decode "$DECODE" --reps 2 --threads "$T" --bandwidth |
  sed 's/^{/{"what": "metascope", /' | tee -a "$OUT"
echo "# metascope bench, matmul precision medium (prefill on the BF16 dot product)"
$MS bench --model "$M" --prefill "$PREFILL" --decode 2 --reps 2 --threads "$T" --matmul-precision medium |
  sed 's/^{/{"what": "metascope_medium", /' | tee -a "$OUT"

if [ "$SCALE" = 1b ]; then
  echo "# PyTorch CPU, f32, same weights"
  /usr/bin/time -f '%M' -o "$DIR/torch_rss.kb" \
    $PY bench/torch_bench.py --model "$M" --threads "$T" --prefill "$PREFILL" --decode "$DECODE" --reps 1 |
    sed 's/^{/{"what": "torch", /' | tee -a "$OUT"
  rss_line torch_rss "$DIR/torch_rss.kb"
  echo "# PyTorch CPU, the model in bfloat16 (prefill)"
  $PY bench/torch_bench.py --model "$M" --threads "$T" --prefill "$PREFILL" --decode 2 --reps 2 --dtype bf16 |
    sed 's/^{/{"what": "torch_bf16", /' | tee -a "$OUT"
fi

run_session() { # extra commands before `load glp` (e.g. a GLP dtype), label
  /usr/bin/time -f '%M' -o "$DIR/session_rss.kb" \
    $MS --model "$M" --json -c "set threads $T; set ctx 256; $1 time load glp $G; prompt The weather today is; \
time vec v prompt \"happy day\" \"sad day\"; steer v 4 glp; set seed 1; gen $STEER_TOKENS" |
    grep -E '"cmd": ?"(time|gen)"' | sed "s/^{/{\"what\": \"session$2\", /; s/\"text\":.*\"prefill_ms\"/\"prefill_ms\"/" |
    tee -a "$OUT"
  rss_line "session_rss$2" "$DIR/session_rss.kb"
}
echo "# session: load glp, vec ... prompt, steered generation with GLP projection ($STEER_TOKENS tokens)"
# 8b: the GLP for d_in 4096 is 1.8B parameters, 7.2 GB in f32: beside the
# 16 GB model that is past the machine's memory, so only the BF16 sessions run
[ "$SCALE" = 1b ] && run_session "" ""
if $MS --help 2>&1 | grep -q glp_dtype || $MS -c 'help set' 2>&1 | grep -q glp_dtype; then
  echo "# the same with the GLP held in BF16"
  run_session "set glp_dtype bf16;" "_bf16"
  echo "# the same with 5 denoiser evaluations per steered token (the reference spends 10)"
  run_session "set glp_dtype bf16; set glp_evals 5;" "_bf16_e5"
fi

echo "# summary (ratios are within this run)"
$PY - "$OUT" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
get = lambda w: next((r for r in rows if r.get("what") == w), {})
ms, th = get("metascope"), get("torch")
print("load %.2f s warm; resident %.0f MB (peak %.0f MB); decode reads %.0f MB/token"
      % (ms["load_s"], ms["rss_mb"], ms["peak_rss_mb"], ms["token_mb"]))
print("bandwidth %.2f GB/s -> decode limit %.2f tok/s; decode %.2f tok/s = %.0f%% of it"
      % (ms["read_gb_s"], ms["decode_limit_tok_s"], ms["decode_tok_s"], 100 * ms["decode_share"]))
if th:
    print("prefill %.1f tok/s vs torch %.1f (x%.2f); decode %.2f vs torch %.2f (x%.2f); torch peak RSS %s MB"
          % (ms["prefill_tok_s"], th["prefill_tok_s"], ms["prefill_tok_s"] / th["prefill_tok_s"],
             ms["decode_tok_s"], th["decode_tok_s"], ms["decode_tok_s"] / th["decode_tok_s"],
             get("torch_rss").get("peak_rss_mb")))
md, tb = get("metascope_medium"), get("torch_bf16")
if md:
    line = "prefill, matmul precision medium: %.1f tok/s (bf16 dot product: %s)" % (md["prefill_tok_s"], md.get("bf16_dot"))
    if th:
        line += "; x%.2f torch f32" % (md["prefill_tok_s"] / th["prefill_tok_s"])
    if tb:
        line += ", x%.2f torch bf16 (%.1f tok/s)" % (md["prefill_tok_s"] / tb["prefill_tok_s"], tb["prefill_tok_s"])
    print(line)
for sfx in ("", "_bf16", "_bf16_e5"):
    s = [r for r in rows if r.get("what") == "session" + sfx]
    if not s:
        continue
    t = {r.get("command"): r["seconds"] for r in s if r.get("cmd") == "time"}
    g = next((r for r in s if r.get("cmd") == "gen"), {})
    print("session%s: load glp %.2f s, vec prompt %.2f s, steered+GLP gen %.3f tok/s, peak RSS %s MB"
          % (sfx, t.get("load", 0), t.get("vec", 0), g.get("decode_tok_s", 0),
             get("session_rss" + sfx).get("peak_rss_mb")))
EOF
