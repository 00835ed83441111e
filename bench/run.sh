#!/bin/sh
# run.sh — transformer throughput of metascope against PyTorch CPU (Debian
# python3-torch) on the same random weights, measured in the same run, as ratios.
# Models: GPT-2 small shape (124M) and a Llama shape (~100M, GQA). Both sides
# use the same thread count, prefill length and decode steps (greedy).
set -eu
THREADS=${THREADS:-2}
PREFILL=${PREFILL:-128}
DECODE=${DECODE:-64}
REPS=${REPS:-3}
MS=${MS_BIN:-build/metascope}
PY=/usr/bin/python3
dir=${BENCH_DIR:-build/bench}
mkdir -p "$dir"
field() { sed -n "s/.*\"$1\": *\([0-9.]*\).*/\1/p"; }
printf '%-8s %12s %12s %12s %12s %8s %8s\n' model "ms prefill" "torch pref" "ms decode" "torch dec" "prefill×" "decode×"
for arch in gpt2 llama; do
  m="$dir/$arch"
  [ -f "$m/config.json" ] || $PY bench/make_bench_model.py --arch $arch --out "$m" >/dev/null
  # Alternate the two sides so machine noise hits both alike; keep the best.
  ours=$($MS bench --model "$m" --threads $THREADS --prefill $PREFILL --decode $DECODE --reps $REPS)
  theirs=$($PY bench/torch_bench.py --model "$m" --threads $THREADS --prefill $PREFILL --decode $DECODE --reps $REPS)
  op=$(echo "$ours" | field prefill_tok_s); od=$(echo "$ours" | field decode_tok_s)
  tp=$(echo "$theirs" | field prefill_tok_s); td=$(echo "$theirs" | field decode_tok_s)
  awk -v a=$arch -v op="$op" -v tp="$tp" -v od="$od" -v td="$td" \
    'BEGIN { printf "%-8s %12.1f %12.1f %12.1f %12.1f %8.2f %8.2f\n", a, op, tp, od, td, op / tp, od / td }'
done
echo "(tokens/s; ratios = metascope / PyTorch, threads=$THREADS, prefill=$PREFILL, decode=$DECODE, best of $REPS)"

# Training step of the default model's shape (d 256, 6 layers, 8 heads, d_ff 768,
# vocab 4096, B 8 x T 256): forward + backward + clip + AdamW.
ours=$($MS bench --train bench/train-shape.json --steps $REPS --threads $THREADS)
theirs=$($PY bench/torch_train_bench.py --threads $THREADS --steps $REPS --batch 8 --seq 256)
ot=$(echo "$ours" | field train_tok_s); tt=$(echo "$theirs" | field train_tok_s)
ofb=$(echo "$ours" | field fwd_bwd_tok_s); tfb=$(echo "$theirs" | field fwd_bwd_tok_s)
dg=$(echo "$ours" | field dense_gflops); ag=$(echo "$ours" | field gemm_gflops); pk=$(echo "$ours" | field peak_gflops)
echo
printf '%-10s %12s %12s %8s\n' train metascope pytorch ratio
awk -v a="$ot" -v b="$tt" 'BEGIN { printf "%-10s %12.0f %12.0f %8.2f\n", "step", a, b, a / b }'
awk -v a="$ofb" -v b="$tfb" 'BEGIN { printf "%-10s %12.0f %12.0f %8.2f\n", "fwd+bwd", a, b, a / b }'
awk -v d="$dg" -v g="$ag" -v p="$pk" 'BEGIN { printf "dense kernels %.0f GFLOP/s, all sgemm %.0f GFLOP/s, machine sgemm %.0f GFLOP/s: %.0f%% / %.0f%% of peak\n", d, g, p, 100 * d / p, 100 * g / p }'
echo "(training tokens/s, threads=$THREADS)"
