#!/bin/sh
# run.sh — transformer throughput of metascope against PyTorch CPU (Debian
# python3-torch) on the same random weights, measured in the same run, as ratios.
# Models: GPT-2 small shape (124M) and a Llama shape (~100M, GQA). Both sides
# use the same thread count, prefill length and decode steps (greedy).
# Then the training step, then the GLP meta-model, then (BENCH=sae) the SAE and
# the index build. BENCH selects sections (space-separated, default
# "lm train glp"), e.g. BENCH="glp sae" sh bench/run.sh.
set -eu
BENCH=${BENCH:-lm train glp}
want() { case " $BENCH " in *" $1 "*) return 0 ;; esac; return 1; }
THREADS=${THREADS:-2}
PREFILL=${PREFILL:-128}
DECODE=${DECODE:-64}
REPS=${REPS:-3}
MS=${MS_BIN:-build/metascope}
PY=/usr/bin/python3
dir=${BENCH_DIR:-build/bench}
mkdir -p "$dir"
field() { sed -n "s/.*\"$1\": *\([0-9.]*\).*/\1/p"; }
if want lm; then
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
fi

if want train; then
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
fi

# GLP meta-model (d_in 256, d_model 512, d_mlp 1024, 3 blocks, random weights):
# train step (flow-matching loss + backward + clip + AdamW, batch 4096),
# projection of one token (u 0.5, 20 steps = 10 evaluations), sampling of
# 1024 rows in 20 steps.
if want glp; then
GLP_BATCH=${GLP_BATCH:-4096}
GLP_ROUNDS=${GLP_ROUNDS:-2}
ours=; theirs=
i=0
while [ $i -lt $GLP_ROUNDS ]; do # alternate the sides, keep each one's best round
  ours="$ours$($MS bench --glp --threads $THREADS --reps $REPS --batch $GLP_BATCH)
"
  theirs="$theirs$($PY bench/torch_glp_bench.py --threads $THREADS --reps $REPS --batch $GLP_BATCH)
"
  i=$((i + 1))
done
# best over rounds: highest throughput, lowest latency
best() { field $1 | awk -v f=$1 'NR == 1 || (f == "project_ms" ? $1 < b : $1 > b) { b = $1 } END { print b }'; }
echo
printf '%-22s %12s %12s %8s\n' glp metascope pytorch ratio
for f in train_acts_s project_ms sample_rows_s; do
  o=$(printf '%s' "$ours" | best $f); t=$(printf '%s' "$theirs" | best $f)
  awk -v f=$f -v o="$o" -v t="$t" 'BEGIN {
    if (f == "project_ms") printf "%-22s %12.2f %12.2f %8.2f\n", "1-token project ms", o, t, t / o
    else printf "%-22s %12.1f %12.1f %8.2f\n", (f == "train_acts_s" ? "train activations/s" : "sample rows/s"), o, t, o / t }'
done
po=$(printf '%s' "$ours" | best project_ms)
awk -v p="$po" 'BEGIN { printf "projection target < 2 ms: %s (%.2f ms, median)\n", p < 2 ? "met" : "NOT met", p }'
echo "(ratios = speed-up of metascope: ours/theirs for throughputs, theirs/ours for the latency; threads=$THREADS, batch=$GLP_BATCH, best of $GLP_ROUNDS rounds)"
fi

# SAE (d_in 256, 4096 latents, k 32, random unit-norm decoder): encode (sgemm +
# TopK + ReLU) and sparse decode of 4096 random rows. Then the index build
# (SAE latents, GLP meta-neurons, MLP neurons of the GLP's layer) over
# INDEX_TOKENS held-out tokens with assets/model and assets/glp; the SAE is
# assets/sae, else a random one written once to $dir/sae. PyTorch runs random
# ids in the segment lengths of the index metascope just built.
if want sae; then
SAE_ROUNDS=${SAE_ROUNDS:-2}
INDEX_TOKENS=${INDEX_TOKENS:-20000}
ours=; theirs=
i=0
while [ $i -lt $SAE_ROUNDS ]; do # alternate the sides, keep each one's best round
  ours="$ours$($MS bench --sae --threads $THREADS --reps $REPS)
"
  theirs="$theirs$($PY bench/torch_sae_bench.py --threads $THREADS --reps $REPS)
"
  i=$((i + 1))
done
top() { field $1 | awk 'NR == 1 || $1 > b { b = $1 } END { print b }'; }
echo
printf '%-22s %12s %12s %8s\n' sae metascope pytorch ratio
for f in encode_rows_s decode_rows_s; do
  o=$(printf '%s' "$ours" | top $f); t=$(printf '%s' "$theirs" | top $f)
  awk -v f=$f -v o="$o" -v t="$t" 'BEGIN { printf "%-22s %12.0f %12.0f %8.2f\n", (f == "encode_rows_s" ? "encode rows/s" : "decode rows/s"), o, t, o / t }'
done
how=$(printf '%s' "$theirs" | sed -n 's/.*"decode": *"\([a-z_]*\)".*/\1/p' | head -n 1)
echo "(rows/s, d_in 256, 4096 latents, k 32, 4096 rows; PyTorch decode: $how; threads=$THREADS, best of $SAE_ROUNDS rounds)"

sae=assets/sae
[ -d "$sae" ] || { sae="$dir/sae"; [ -f "$sae/cfg.json" ] || $PY bench/torch_index_bench.py --write-sae "$sae" || true; }
tps() { sed -n 's/.*(\([0-9.]*\) tokens\/s).*/\1/p' | tail -n 1; }
ours=; theirs=; note=
i=0
while [ $i -lt $SAE_ROUNDS ] && [ -z "$note" ]; do
  rm -rf "$dir/index"
  if out=$($MS index --units sae,meta,mlp --tokens $INDEX_TOKENS --sae "$sae" --threads $THREADS --out "$dir/index" 2>&1); then
    ours="$ours$(printf '%s\n' "$out" | tps)
"
  else
    note="the index bench needs \`metascope index\` ($(printf '%s\n' "$out" | tail -n 1))"
    break
  fi
  theirs="$theirs$($PY bench/torch_index_bench.py --threads $THREADS --tokens $INDEX_TOKENS --sae "$sae" \
    --segments "$dir/index" 2>/dev/null | field index_tok_s)
"
  i=$((i + 1))
done
echo
if [ -n "$note" ]; then
  echo "index: skipped: $note"
else
  o=$(printf '%s' "$ours" | awk 'NF && (n++ == 0 || $1 > b) { b = $1 } END { print b }')
  t=$(printf '%s' "$theirs" | awk 'NF && (n++ == 0 || $1 > b) { b = $1 } END { print b }')
  printf '%-22s %12s %12s %8s\n' index metascope pytorch ratio
  awk -v o="$o" -v t="$t" 'BEGIN { if (t > 0) printf "%-22s %12.0f %12.0f %8.2f\n", "build tokens/s", o, t, o / t
                                   else printf "%-22s %12.0f %12s %8s\n", "build tokens/s", o, "failed", "-" }'
  echo "(tokens/s, sae+meta+mlp units, $INDEX_TOKENS tokens; threads=$THREADS, best of $SAE_ROUNDS rounds)"
fi
fi
