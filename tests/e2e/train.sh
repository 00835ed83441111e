#!/bin/sh
# train.sh — train-lm on a tiny corpus: a run stopped (cleanly or by SIGKILL)
# and resumed ends bit-for-bit where an uninterrupted run ends; eval-lm, bench
# and bad configs.
. tests/e2e/lib.sh
CFG=tests/fixtures/train-tiny.json
tmp=$(mktemp -d); trap 'rm -rf "$tmp" "$_out" "$XDG_CACHE_HOME"' EXIT

check "train-lm runs to the end" $MS train-lm --config $CFG --out "$tmp/a"
check "exports an HF folder" test -f "$tmp/a/model/config.json" -a -f "$tmp/a/model/model.safetensors" -a -f "$tmp/a/model/tokenizer.json"
check "loss.csv has a row per step" test "$(grep -c '^[0-9]' "$tmp/a/loss.csv")" -eq 40
check "loss falls" awk -F, 'NR==2 {first=$3} END {exit !($3 < first - 1)}' "$tmp/a/loss.csv"

check "stop after 17 steps" $MS train-lm --config $CFG --out "$tmp/b" --max-steps 17
check "checkpoint written" test -f "$tmp/b/ckpt.safetensors"
check "resume" $MS train-lm --config $CFG --out "$tmp/b" --resume
check "resumed model is bit-identical" cmp "$tmp/a/model/model.safetensors" "$tmp/b/model/model.safetensors"
check "resumed loss curve identical" sh -c "cut -d, -f1-5 $tmp/a/loss.csv > $tmp/la; cut -d, -f1-5 $tmp/b/loss.csv > $tmp/lb; cmp $tmp/la $tmp/lb"

# SIGKILL at an arbitrary point, with checkpoints every ~0.1 s.
sed 's/"checkpoint_minutes": 100/"checkpoint_minutes": 0.002/; s/"steps": 40/"steps": 400/' $CFG > "$tmp/k.json"
check "uninterrupted 400 steps" $MS train-lm --config "$tmp/k.json" --out "$tmp/k1"
$MS train-lm --config "$tmp/k.json" --out "$tmp/k2" 2>/dev/null &
pid=$!
i=0 # kill as soon as a checkpoint exists, mid-run
while [ ! -f "$tmp/k2/ckpt.safetensors" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
check "killed run left a checkpoint" test -f "$tmp/k2/ckpt.safetensors"
check "killed before the end" test ! -d "$tmp/k2/model"
check "resume after SIGKILL" $MS train-lm --config "$tmp/k.json" --out "$tmp/k2" --resume
check "killed+resumed model is bit-identical" cmp "$tmp/k1/model/model.safetensors" "$tmp/k2/model/model.safetensors"

expect_out "eval-lm bits per byte" 'test split: loss [0-9.]+ nats/token, [0-9.]+ bits/byte' \
  $MS eval-lm "$tmp/a/model" --corpus tests/fixtures/corpus_tiny --split test
expect_out "eval-lm --json" '"bits_per_byte": [0-9.]+' $MS eval-lm "$tmp/a/model" --corpus tests/fixtures/corpus_tiny --json
expect_out "trained model generates" 'prompt: [0-9]+ tokens' $MS --model "$tmp/a/model" -c 'prompt The; gen 5'
expect_out "bench --train" '"train_tok_s": [0-9.]+' $MS bench --train $CFG --steps 2
check "pack-model f16 lz4" $MS pack-model "$tmp/a/model" --out "$tmp/p" --f16
check "packed files are lz4" test -f "$tmp/p/model.safetensors.lz4" -a -f "$tmp/p/tokenizer.json.lz4"
expect_out "packed model loads" 'prompt: [0-9]+ tokens' $MS --model "$tmp/p" -c 'prompt The'

printf '{"d_model": 33, "n_heads": 4}' > "$tmp/bad1.json"
expect_out "bad shape config" "error: d_model must divide by n_heads" $MS train-lm --config "$tmp/bad1.json" --out "$tmp/x"
printf '{"lr": "fast"}' > "$tmp/bad2.json"
expect_out "bad type config" "error: 'lr' must be a number .*bad2.json" $MS train-lm --config "$tmp/bad2.json" --out "$tmp/x"
printf '{"steps": 10,' > "$tmp/bad3.json"
expect_status "bad JSON exits 2" 2 $MS train-lm --config "$tmp/bad3.json" --out "$tmp/x"
expect_out "missing options" "needs --config FILE and --out DIR" $MS train-lm
sed 's/"d_model": 32/"d_model": 48/' $CFG > "$tmp/other.json"
expect_out "resume refuses another shape" "checkpoint was made for another model shape" \
  $MS train-lm --config "$tmp/other.json" --out "$tmp/b" --resume
sed 's/"lr": 0.01/"lr": 0.02/' $CFG > "$tmp/lr.json"
expect_out "resume refuses other settings" "checkpoint was made with other settings" \
  $MS train-lm --config "$tmp/lr.json" --out "$tmp/b" --resume

# --init: a further stage from a trained model's weights, fresh optimizer.
sed 's/"lr": 0.01/"lr": 0/' $CFG > "$tmp/lr0.json"
check "--init with lr 0 runs" $MS train-lm --config "$tmp/lr0.json" --out "$tmp/i0" --init "$tmp/a/model"
check "--init with lr 0 exports the init model's weights bit for bit" \
  cmp "$tmp/a/model/model.safetensors" "$tmp/i0/model/model.safetensors"
check "--init runs" $MS train-lm --config $CFG --out "$tmp/i1" --init "$tmp/a/model"
check "--init starts at the trained model's loss, not a random one's" \
  sh -c "awk -F, 'NR==2 {print \$3}' $tmp/a/loss.csv > $tmp/r1; awk -F, -v r=\$(cat $tmp/r1) 'NR==2 {exit !(\$3 < r - 1)}' $tmp/i1/loss.csv"
check "--init stopped after 17 steps" $MS train-lm --config $CFG --out "$tmp/i2" --init "$tmp/a/model" --max-steps 17
expect_out "resume without the run's --init is refused" "checkpoint was made with other settings" \
  $MS train-lm --config $CFG --out "$tmp/i2" --resume
check "resume with --init" $MS train-lm --config $CFG --out "$tmp/i2" --init "$tmp/a/model" --resume
check "--init resumed model is bit-identical" cmp "$tmp/i1/model/model.safetensors" "$tmp/i2/model/model.safetensors"
expect_out "--init refuses a model of another shape" "error: model is not the config's shape: it has .* d 32.*the config 600, 48.*$tmp/a/model" \
  $MS train-lm --config "$tmp/other.json" --out "$tmp/x2" --init "$tmp/a/model"
expect_out "--init names a missing folder" "error: .*$tmp/nothing" \
  $MS train-lm --config $CFG --out "$tmp/x3" --init "$tmp/nothing"
