#!/bin/sh
# glp.sh — harvest activations from a tiny trained model, train a tiny GLP on
# them: the loss falls below the zero predictor's 2, a stopped and resumed run
# ends bit-for-bit where an uninterrupted one ends, the exported folder is
# complete, and bad configs or folders fail with one line and status 2.
. tests/e2e/lib.sh
CFG=tests/fixtures/glp-tiny.json
CORPUS=tests/fixtures/corpus_tiny
tmp=$(mktemp -d); trap 'rm -rf "$tmp" "$_out" "$XDG_CACHE_HOME"' EXIT

check "train a tiny LM" $MS train-lm --config tests/fixtures/train-tiny.json --out "$tmp/lm"
expect_out "harvest 3000 rows" 'harvest: 3000 rows of layer 1 \(d 32\) in 3 shards.* rows/s' \
  $MS harvest --model "$tmp/lm/model" --corpus $CORPUS --tokens 3000 --shard-tokens 1000 --out "$tmp/acts"
check "shards, stats and manifest" test -f "$tmp/acts/shard-00002.safetensors.lz4" -a -f "$tmp/acts/stats.safetensors" \
  -a -f "$tmp/acts/manifest.json"
check "manifest names the layer and rows" grep -q '"rows":3000' "$tmp/acts/manifest.json"
cp "$tmp/acts/shard-00001.safetensors.lz4" "$tmp/shard1"
rm "$tmp/acts/shard-00001.safetensors.lz4"
expect_out "resume harvests only the missing shard" '1000 computed' \
  $MS harvest --model "$tmp/lm/model" --corpus $CORPUS --tokens 3000 --shard-tokens 1000 --out "$tmp/acts" --resume
check "re-harvested shard is identical" cmp "$tmp/shard1" "$tmp/acts/shard-00001.safetensors.lz4"
expect_status "harvest into a used folder without --resume" 2 \
  $MS harvest --model "$tmp/lm/model" --corpus $CORPUS --tokens 3000 --out "$tmp/acts"
expect_out "harvest refuses a layer past the model" 'error: layer 7 outside 0\.\.1' \
  $MS harvest --model "$tmp/lm/model" --corpus $CORPUS --layer 7 --out "$tmp/acts7"

check "train-glp runs to the end" $MS train-glp --acts "$tmp/acts" --config $CFG --out "$tmp/a"
check "loss.csv has a row per step" test "$(grep -c '^[0-9]' "$tmp/a/loss.csv")" -eq 50
check "train and held-out loss fall below 2" awk -F, 'END {exit !($3 < 2 && $5 != "" && $5 < 2)}' "$tmp/a/loss.csv"
check "GLP folder complete" test -f "$tmp/a/glp/final.safetensors" -a -f "$tmp/a/glp/config.yaml" \
  -a -f "$tmp/a/glp/rep_statistics.safetensors"
check "config.yaml in the published layout" grep -q '^    layers: \[1\]' "$tmp/a/glp/config.yaml"

check "stop after 17 steps" $MS train-glp --acts "$tmp/acts" --config $CFG --out "$tmp/b" --max-steps 17
check "checkpoint written, no GLP yet" test -f "$tmp/b/ckpt.safetensors" -a ! -d "$tmp/b/glp"
check "resume" $MS train-glp --acts "$tmp/acts" --config $CFG --out "$tmp/b" --resume
check "resumed GLP is bit-identical" cmp "$tmp/a/glp/final.safetensors" "$tmp/b/glp/final.safetensors"
check "resumed loss curve identical" sh -c "cut -d, -f1-5 $tmp/a/loss.csv > $tmp/la; cut -d, -f1-5 $tmp/b/loss.csv > $tmp/lb; cmp $tmp/la $tmp/lb"

# Another CPU (other BLAS kernels) may re-harvest rows that differ in the last
# bit, and so statistics that differ; the manifest's source does not, so a
# checkpoint carried there resumes (tools/make_next.sh save). Simulated by a
# copy whose last variance has its lowest byte changed.
src() { grep -o '"source":"[0-9a-f]*"' "$1/manifest.json"; }
check "the manifest names the rows' source" grep -Eq '"source":"[0-9a-f]{16}"' "$tmp/acts/manifest.json"
$MS harvest --model "$tmp/lm/model" --corpus $CORPUS --tokens 3000 --out "$tmp/acts-b" >/dev/null 2>&1
check "a re-harvest has the same source" test "$(src "$tmp/acts")" = "$(src "$tmp/acts-b")"
cp -r "$tmp/acts" "$tmp/acts-cpu"
st="$tmp/acts-cpu/stats.safetensors"
printf '\125' | dd of="$st" bs=1 seek=$(($(wc -c <"$st") - 4)) conv=notrunc 2>/dev/null
check "the copy's statistics differ" sh -c "! cmp -s '$tmp/acts/stats.safetensors' '$st'"
check "stop after 5 steps" $MS train-glp --acts "$tmp/acts" --config $CFG --out "$tmp/c" --max-steps 5
expect_out "it resumes on the other machine's harvest" '\(resumed\)' \
  $MS train-glp --acts "$tmp/acts-cpu" --config $CFG --out "$tmp/c" --resume
$MS harvest --model "$tmp/lm/model" --corpus $CORPUS --tokens 3000 --layer 0 --out "$tmp/acts0" >/dev/null 2>&1
check "another layer's harvest has another source" test "$(src "$tmp/acts")" != "$(src "$tmp/acts0")"
check "stop after 5 steps again" $MS train-glp --acts "$tmp/acts" --config $CFG --out "$tmp/c0" --max-steps 5
expect_out "resume on another layer's harvest refuses" "checkpoint was made with other settings" \
  $MS train-glp --acts "$tmp/acts0" --config $CFG --out "$tmp/c0" --resume
cp -r "$tmp/acts" "$tmp/acts-bad"
sed -i 's/"source":"[0-9a-f]*"/"source":"zz"/' "$tmp/acts-bad/manifest.json"
expect_out "a malformed source is refused" "error: manifest's source is not 16 hex digits \(.*acts-bad/manifest.json\)" \
  $MS train-glp --acts "$tmp/acts-bad" --config $CFG --out "$tmp/x"

printf '{"lr": "fast"}' > "$tmp/bad1.json"
expect_out "bad type config" "^error: 'lr' must be a number .*bad1.json\)$" \
  $MS train-glp --acts "$tmp/acts" --config "$tmp/bad1.json" --out "$tmp/x"
expect_status "bad type exits 2" 2 $MS train-glp --acts "$tmp/acts" --config "$tmp/bad1.json" --out "$tmp/x"
printf '{"stpes": 10}' > "$tmp/bad2.json"
expect_out "unknown key" "error: unknown key 'stpes' .*bad2.json" \
  $MS train-glp --acts "$tmp/acts" --config "$tmp/bad2.json" --out "$tmp/x"
printf '{"steps": 10,' > "$tmp/bad3.json"
expect_status "bad JSON exits 2" 2 $MS train-glp --acts "$tmp/acts" --config "$tmp/bad3.json" --out "$tmp/x"
expect_out "missing options" "needs --acts DIR, --config FILE and --out DIR" $MS train-glp
expect_out "not a harvest folder" "error: .*manifest.json" $MS train-glp --acts "$tmp/lm" --config $CFG --out "$tmp/x"
sed 's/"lr": 0.003/"lr": 0.002/' $CFG > "$tmp/lr.json"
expect_out "resume refuses other settings" "checkpoint was made with other settings" \
  $MS train-glp --acts "$tmp/acts" --config "$tmp/lr.json" --out "$tmp/b" --resume

# A second stage: start from the trained GLP (--init), keep a moving average
# ("ema"), export it as glp/ and the last step's weights as glp-raw/.
sed 's/"seed": 5/"seed": 6, "ema": 0.9, "lr": 0.001/' $CFG > "$tmp/ema.json"
expect_out "train-glp --init says where it starts" "50 steps of 256 from $tmp/a/glp" \
  $MS train-glp --acts "$tmp/acts" --config "$tmp/ema.json" --out "$tmp/e" --init "$tmp/a/glp"
check "ema: glp/ (average) and glp-raw/ (last step) both exported" test -f "$tmp/e/glp/final.safetensors" \
  -a -f "$tmp/e/glp-raw/final.safetensors" -a -f "$tmp/e/glp/rep_statistics.safetensors"
check "ema: the average is not the last step" sh -c "! cmp -s '$tmp/e/glp/final.safetensors' '$tmp/e/glp-raw/final.safetensors'"
check "--init keeps the first stage's normalizer" cmp "$tmp/a/glp/rep_statistics.safetensors" "$tmp/e/glp/rep_statistics.safetensors"
check "the second stage starts near the first one's end" awk -F, 'NR == 2 {exit !($3 < 1.2)}' "$tmp/e/loss.csv"
check "a random start is far above it" awk -F, 'NR == 2 {exit !($3 > 1.5)}' "$tmp/a/loss.csv"
check "stage 2: stop after 17 steps" $MS train-glp --acts "$tmp/acts" --config "$tmp/ema.json" --out "$tmp/f" --init "$tmp/a/glp" --max-steps 17
check "stage 2: resume" $MS train-glp --acts "$tmp/acts" --config "$tmp/ema.json" --out "$tmp/f" --init "$tmp/a/glp" --resume
check "stage 2 resumed: average bit-identical" cmp "$tmp/e/glp/final.safetensors" "$tmp/f/glp/final.safetensors"
check "stage 2 resumed: last step bit-identical" cmp "$tmp/e/glp-raw/final.safetensors" "$tmp/f/glp-raw/final.safetensors"
check "stage 2: stop again after 5 steps" $MS train-glp --acts "$tmp/acts" --config "$tmp/ema.json" --out "$tmp/g5" --init "$tmp/a/glp" --max-steps 5
expect_out "resume without --init refuses" "checkpoint was made with other settings" \
  $MS train-glp --acts "$tmp/acts" --config "$tmp/ema.json" --out "$tmp/g5" --resume
expect_out "resume from another --init refuses" "checkpoint was made with other settings" \
  $MS train-glp --acts "$tmp/acts" --config "$tmp/ema.json" --out "$tmp/g5" --init "$tmp/e/glp" --resume
sed 's/"d_model": 64/"d_model": 96/' "$tmp/ema.json" > "$tmp/wide.json"
expect_out "--init of another width refuses" \
  "error: GLP is 2 x 64/128, the config asks for 2 x 96/128: only blocks can be added \($tmp/a/glp\)" \
  $MS train-glp --acts "$tmp/acts" --config "$tmp/wide.json" --out "$tmp/x" --init "$tmp/a/glp"
sed 's/"n_layers": 2/"n_layers": 1/' "$tmp/ema.json" > "$tmp/shallow.json"
expect_out "--init of a deeper GLP refuses" "error: GLP is 2 x 64/128, the config asks for 1 x 64/128" \
  $MS train-glp --acts "$tmp/acts" --config "$tmp/shallow.json" --out "$tmp/x" --init "$tmp/a/glp"
# Blocks added to a trained GLP start as identity (down_proj zero): the grown
# run's first loss is the first stage's, then it trains on.
sed 's/"n_layers": 2/"n_layers": 4/' "$tmp/ema.json" > "$tmp/deep.json"
expect_out "--init grows 2 blocks to 4" "4 x 64/128.* from $tmp/a/glp" \
  $MS train-glp --acts "$tmp/acts" --config "$tmp/deep.json" --out "$tmp/d" --init "$tmp/a/glp"
check "grown: its first loss is the first stage's level, below 1.2" awk -F, 'NR == 2 {exit !($3 < 1.2)}' "$tmp/d/loss.csv"
check "grown: exported with 4 blocks" grep -q 'n_layers: 4' "$tmp/d/glp/config.yaml"
expect_out "--init of a missing folder" "error: .*$tmp/nope" \
  $MS train-glp --acts "$tmp/acts" --config "$tmp/ema.json" --out "$tmp/x" --init "$tmp/nope"
printf '{"ema": 1}' > "$tmp/bad4.json"
expect_out "ema of 1 refused" "error: 'ema' = 1 outside 0..0.999999 .*bad4.json\)$" \
  $MS train-glp --acts "$tmp/acts" --config "$tmp/bad4.json" --out "$tmp/x"

# An LM-aware normalizer: the LM's Fisher metric at the harvest's layer
# (fisher), then a GLP trained in that basis (train-glp --normalizer).
expect_out "fisher: the metric, its prediction, the normalizer" 'LM Fisher metric at layer 1: [0-9]+ positions of the train split \(3 windows\)' \
  $MS fisher --model "$tmp/lm/model" --corpus $CORPUS --acts "$tmp/acts" --windows 3 --rows 2000 --out "$tmp/fisher.safetensors"
expect_out "fisher: too few positions for the metric" 'error: [0-9]+ positions cannot fix a metric in 32 dimensions: use at least [0-9]+ windows \(fisher\)' \
  $MS fisher --model "$tmp/lm/model" --corpus $CORPUS --acts "$tmp/acts" --windows 1 --out "$tmp/x.safetensors"
check "fisher: the normalizer carries a basis and its inverse" grep -q basis_inv "$tmp/fisher.safetensors"
expect_out "fisher --power 2: the metric squared" 'the basis c \(D F D\)\^\(2/2\)' \
  $MS fisher --model "$tmp/lm/model" --corpus $CORPUS --acts "$tmp/acts" --windows 3 --rows 2000 --power 2 --out "$tmp/fisher2.safetensors"
check "fisher --power 2: another basis" sh -c "! cmp -s '$tmp/fisher.safetensors' '$tmp/fisher2.safetensors'"
expect_out "fisher --power 0 refused" 'error: --power takes the metric.s exponent, a number in \(0, 4\] \(fisher\)' \
  $MS fisher --acts "$tmp/acts" --out "$tmp/x.safetensors" --power 0
expect_out "fisher needs --acts and --out" 'error: fisher needs --acts DIR' $MS fisher --out "$tmp/x.safetensors"
expect_out "fisher: a harvest of another width" 'harvest width 32 differs from the model.s 256' \
  $MS fisher --acts "$tmp/acts" --out "$tmp/x.safetensors" --windows 1
check "train-glp --normalizer" $MS train-glp --acts "$tmp/acts" --config $CFG --out "$tmp/fi" --normalizer "$tmp/fisher.safetensors"
check "--normalizer: the GLP exports that normalizer" cmp "$tmp/fisher.safetensors" "$tmp/fi/glp/rep_statistics.safetensors"
check "--normalizer: its held-out loss falls below 2 too" awk -F, 'END {exit !($5 != "" && $5 < 2)}' "$tmp/fi/loss.csv"
expect_out "--normalizer and --init refused together" 'give --init or --normalizer, not both' \
  $MS train-glp --acts "$tmp/acts" --config $CFG --out "$tmp/x" --normalizer "$tmp/fisher.safetensors" --init "$tmp/a/glp"
check "--normalizer: stop after 5 steps" $MS train-glp --acts "$tmp/acts" --config $CFG --out "$tmp/f5" \
  --normalizer "$tmp/fisher.safetensors" --max-steps 5
expect_out "--normalizer: resume without it refuses" "checkpoint was made with other settings" \
  $MS train-glp --acts "$tmp/acts" --config $CFG --out "$tmp/f5" --resume
expect_out "--normalizer of a missing file" "error: .*$tmp/nope.safetensors" \
  $MS train-glp --acts "$tmp/acts" --config $CFG --out "$tmp/x" --normalizer "$tmp/nope.safetensors"
check "pack-glp keeps the basis" $MS pack-glp "$tmp/fi/glp" --out "$tmp/fip"
check "... byte for byte" cmp "$tmp/fi/glp/rep_statistics.safetensors" "$tmp/fip/rep_statistics.safetensors"
expect_out "a GLP with a basis loads and shows its meta-neurons" 'meta:1:5 \(layer 1\) over the prompt' \
  $MS --model "$tmp/lm/model" -c "load glp $tmp/fi/glp; prompt The cat; show meta:1:5"

# scaling --with-default counts the rows of a second stage (assets/train-glp-2.json).
mkdir -p "$tmp/as/scaling"
sed 's/"steps": 50/"steps": 10/; s/"d_model": 64/"d_model": 32/' $CFG > "$tmp/as/scaling/s1.json"
sed 's/"steps": 50/"steps": 20/; s/"d_model": 64/"d_model": 48/' $CFG > "$tmp/as/scaling/s2.json"
cp $CFG "$tmp/as/train-glp.json"
cp -r "$tmp/a/glp" "$tmp/as/glp"
check "scaling --with-default, one stage" env METASCOPE_ASSETS="$tmp/as" $MS scaling --acts "$tmp/acts" --out "$tmp/sc" \
  --with-default --eval-acts "$tmp/acts" --eval-rows 400 --fd-steps 4
check "... the default saw 50 x 256 rows" grep -q '^default,64,128,2,[0-9]*,12800,' "$tmp/sc/scaling.csv"
cp "$tmp/ema.json" "$tmp/as/train-glp-2.json"
rm -r "$tmp/as/glp" && cp -r "$tmp/e/glp" "$tmp/as/glp"
check "scaling --with-default, two stages" env METASCOPE_ASSETS="$tmp/as" $MS scaling --acts "$tmp/acts" --out "$tmp/sc" \
  --with-default --eval-acts "$tmp/acts" --eval-rows 400 --fd-steps 4
check "... the default saw both stages' rows" grep -q '^default,64,128,2,79328,25600,1.2185e+10,' "$tmp/sc/scaling.csv"
# A third stage that grew the GLP to 4 blocks: its rows count at 4 blocks'
# parameters, the first two stages' at 2 blocks' (6 x (79328 x 25600 + 146016 x 12800)).
cp "$tmp/deep.json" "$tmp/as/train-glp-3.json"
rm -r "$tmp/as/glp" && cp -r "$tmp/d/glp" "$tmp/as/glp"
check "scaling --with-default, three stages, the last grown" env METASCOPE_ASSETS="$tmp/as" $MS scaling --acts "$tmp/acts" \
  --out "$tmp/sc" --with-default --eval-acts "$tmp/acts" --eval-rows 400 --fd-steps 4
check "... each stage's compute at its own size" grep -q '^default,64,128,4,146016,38400,2.3399e+10,' "$tmp/sc/scaling.csv"
# scaling --normalizer: the budgets in the LM's Fisher basis, comparable only
# with a default GLP trained in that basis.
check "scaling --normalizer" $MS scaling --acts "$tmp/acts" --out "$tmp/scf" --budgets "$tmp/as/scaling" \
  --normalizer "$tmp/fisher.safetensors" --eval-acts "$tmp/acts" --eval-rows 400 --fd-steps 4
check "... each budget exports that normalizer" cmp "$tmp/fisher.safetensors" "$tmp/scf/s2/glp/rep_statistics.safetensors"
expect_out "... beside a default in the harvest's space: refused, named" \
  'error: default was trained with another normalizer than s1: their losses do not compare' \
  env METASCOPE_ASSETS="$tmp/as" $MS scaling --acts "$tmp/acts" --out "$tmp/scf" --normalizer "$tmp/fisher.safetensors" \
  --with-default --eval-acts "$tmp/acts" --eval-rows 400 --fd-steps 4
mkdir -p "$tmp/asf" && cp -r "$tmp/as/scaling" "$tmp/asf/" && cp $CFG "$tmp/asf/train-glp.json" && cp -r "$tmp/fi/glp" "$tmp/asf/glp"
check "... beside a default in the same basis: one fit" env METASCOPE_ASSETS="$tmp/asf" $MS scaling --acts "$tmp/acts" \
  --out "$tmp/scf" --normalizer "$tmp/fisher.safetensors" --with-default --eval-acts "$tmp/acts" --eval-rows 400 --fd-steps 4
check "... the fit's file is written" grep -q '^points 3' "$tmp/scf/fit.txt"
expect_out "finished budgets reused without --normalizer: the checkpoint refuses" \
  'error: budget s1: .*checkpoint was made with other settings' \
  $MS scaling --acts "$tmp/acts" --out "$tmp/scf" --budgets "$tmp/as/scaling" --eval-acts "$tmp/acts" --eval-rows 400 --fd-steps 4

# The trained GLP in a session: load it beside its model, read meta-neurons.
expect_out "load glp" 'loaded GLP .*: layer 1, d_input 32, d_model 64, 2 blocks of 128 meta-neurons' \
  $MS --model "$tmp/lm/model" -c "load glp $tmp/a/glp"
expect_out "show meta-neuron" '^ +[0-9]+  ".*" +[-+][0-9.]+ ' \
  $MS --model "$tmp/lm/model" -c "load glp $tmp/a/glp; prompt The cat; show meta:1:5"
a=$($MS --model "$tmp/lm/model" -c "load glp $tmp/a/glp; prompt The cat; show meta:1:5")
b=$($MS --model "$tmp/lm/model" -c "load glp $tmp/a/glp; prompt The cat; show meta:1:5")
check "meta-neuron values are reproducible" test "$a" = "$b"
expect_out "status names the GLP" "glp +$tmp/a/glp \(layer 1, 2 blocks x 128" \
  $MS --model "$tmp/lm/model" -c "load glp $tmp/a/glp; status"
expect_out "meta unit out of range" "error: meta:2:0 outside meta:0..1:0..127 \(show\)" \
  $MS --model "$tmp/lm/model" -c "load glp $tmp/a/glp; prompt x; show meta:2:0"
expect_out "a GLP of another width is refused" "does not fit: its d_input differs" \
  $MS --model tests/fixtures/models/gpt2_tiny -c "load glp $tmp/a/glp"
expect_out "meta needs a GLP" "no GLP loaded" $MS --model "$tmp/lm/model" -c "prompt x; show meta:0:0"
expect_out "show mlp neuron" 'mlp:1:3 \(layer 1\) over the prompt' $MS --model "$tmp/lm/model" -c "prompt The cat; show mlp:1:3"
expect_out "show resid" 'resid:3 \(layer [0-9]+\) over the prompt' $MS --model "$tmp/lm/model" -c "prompt The cat; neuron resid:3"

# pack-glp: lz4 (and f16) folders load and give the same (f32) meta-neurons.
check "pack-glp f32" $MS pack-glp "$tmp/a/glp" --out "$tmp/p32"
check "pack-glp f16" $MS pack-glp "$tmp/a/glp" --out "$tmp/p16" --f16
check "packed weights are lz4" test -f "$tmp/p16/final.safetensors.lz4" -a -f "$tmp/p16/rep_statistics.safetensors"
c=$($MS --model "$tmp/lm/model" -c "load glp $tmp/p32; prompt The cat; show meta:1:5" | tail -n +2)
a2=$(printf '%s\n' "$a" | tail -n +2)
check "f32 pack gives identical meta-neurons" test "$a2" = "$c"
expect_out "f16 pack loads" 'meta:1:5 \(layer 1\) over the prompt' $MS --model "$tmp/lm/model" -c "load glp $tmp/p16; prompt The cat; show meta:1:5"

# eval-glp: held-out loss and Fréchet distances with floor and Gaussian baseline.
expect_out "eval-glp's default: dpm2m, rho 0.6, 20 evaluations" '"sampler": "dpm2m", "rho": 0.6, "evals": 20' \
  $MS eval-glp --glp "$tmp/a/glp" --acts "$tmp/acts" --n 400 --json
expect_out "eval-glp report (--steps: the reference Euler)" 'GLP samples \(euler +8 evals\) +[0-9.]+' \
  $MS eval-glp --glp "$tmp/a/glp" --acts "$tmp/acts" --n 400 --steps 8
expect_out "eval-glp --sampler heun: 8 evaluations buy 4 steps (7 evaluations)" 'GLP samples \(heun +7 evals\) +[0-9.]+' \
  $MS eval-glp --glp "$tmp/a/glp" --acts "$tmp/acts" --n 400 --evals 8 --sampler heun
expect_out "eval-glp --sampler --rho json" '"sampler": "dpm2m", "rho": 0.7, "evals": 6' \
  $MS eval-glp --glp "$tmp/a/glp" --acts "$tmp/acts" --n 400 --evals 6 --sampler dpm2m --rho 0.7 --json
expect_out "eval-glp --rho says so" 'sigma grid spaced by rho 0.6' \
  $MS eval-glp --glp "$tmp/a/glp" --acts "$tmp/acts" --n 400 --evals 6 --sampler dpm2m --rho 0.6
expect_out "eval-glp --rho refuses 5" "error: rho takes a number from 0.1 to 4 .*not '5' \\(eval-glp\\)" \
  $MS eval-glp --glp "$tmp/a/glp" --acts "$tmp/acts" --n 400 --rho 5
expect_out "eval-glp refuses an unknown sampler" "error: unknown sampler 'rk4'; use euler, heun, midpoint or dpm2m \\(eval-glp\\)" \
  $MS eval-glp --glp "$tmp/a/glp" --acts "$tmp/acts" --n 400 --sampler rk4
expect_out "eval-glp --json" '"fd_floor": [0-9.]+, "fd_gaussian": [0-9.]+' \
  $MS eval-glp --glp "$tmp/a/glp" --acts "$tmp/acts" --n 400 --steps 8 --json
expect_out "eval-glp needs enough rows" 'fewer than the 6000 needed' \
  $MS eval-glp --glp "$tmp/a/glp" --acts "$tmp/acts" --n 3000
expect_out "eval-glp names a train-split harvest" 'to 400 train-split rows .*not held out' \
  $MS eval-glp --glp "$tmp/a/glp" --acts "$tmp/acts" --n 400 --steps 8
mkdir "$tmp/tmp"
expect_out "eval-glp without --acts: test-split rows" 'Frechet distance to 200 test-split rows' \
  env TMPDIR="$tmp/tmp" $MS eval-glp --glp "$tmp/a/glp" --model "$tmp/lm/model" --corpus $CORPUS --n 200 --steps 4
check "eval-glp removes its temporary harvest" sh -c "[ -z \"\$(ls -A '$tmp/tmp')\" ]"
expect_out "eval-glp --delta-lm" 'GLP projection \(u 0.5, euler 10 evals\) +[-+][0-9.]+' \
  $MS eval-glp --delta-lm --glp "$tmp/a/glp" --model "$tmp/lm/model" --corpus $CORPUS --windows 4
expect_out "eval-glp --delta-lm: the paired difference with its interval" '^  the projection minus the noise +[-+][0-9.]+ \[[-+][0-9.]+, [-+][0-9.]+\]$' \
  $MS eval-glp --delta-lm --glp "$tmp/a/glp" --model "$tmp/lm/model" --corpus $CORPUS --windows 3
expect_out "eval-glp --delta-lm --sampler midpoint --evals 4" 'GLP projection \(u 0.5, midpoint 3 evals\) +[-+][0-9.]+' \
  $MS eval-glp --delta-lm --glp "$tmp/a/glp" --model "$tmp/lm/model" --corpus $CORPUS --windows 2 --sampler midpoint --evals 4

# TopK SAE on the same activations: trains, resumes bit-for-bit, evaluates, and
# loads beside its model; the ΔLM table puts it next to the GLP.
SCFG=tests/fixtures/sae-tiny.json
check "train-sae runs to the end" $MS train-sae --acts "$tmp/acts" --config $SCFG --out "$tmp/s1"
check "SAE folder in the SAELens layout" test -f "$tmp/s1/sae/cfg.json" -a -f "$tmp/s1/sae/sae_weights.safetensors"
check "held-out FVU below 1 at the end" awk -F, 'END {exit !($6 != "" && $6 < 1 && $7 <= 8)}' "$tmp/s1/loss.csv"
check "stop after 13 steps" $MS train-sae --acts "$tmp/acts" --config $SCFG --out "$tmp/s2" --max-steps 13
check "resume the SAE" $MS train-sae --acts "$tmp/acts" --config $SCFG --out "$tmp/s2" --resume
check "resumed SAE is bit-identical" cmp "$tmp/s1/sae/sae_weights.safetensors" "$tmp/s2/sae/sae_weights.safetensors"
expect_out "train-sae refuses k > latents" 'error: --k exceeds --latents' \
  $MS train-sae --acts "$tmp/acts" --out "$tmp/s3" --latents 8 --k 9
expect_out "eval-sae" '^on the last 3000 harvested rows: FVU [0-9.]+ \(normalized MSE\), MSE [0-9.e-]+, mean L0 [0-9.]+$' \
  $MS eval-sae --sae "$tmp/s1/sae" --acts "$tmp/acts" --rows 3000
expect_out "eval-sae dead fraction" '^dead latents \(never active in the last 3000 rows\): [0-9.]+%$' \
  $MS eval-sae --sae "$tmp/s1/sae" --acts "$tmp/acts" --rows 3000
expect_out "eval-sae ΔLM next to the GLP" 'SAE reconstruction +[-+][0-9.]+  \(mean \|SAE\(h\)-h\|/\|h\| = [0-9.]+\)' \
  $MS eval-sae --sae "$tmp/s1/sae" --delta-lm --glp "$tmp/a/glp" --model "$tmp/lm/model" --corpus $CORPUS --windows 2
expect_out "eval-sae --delta-lm: the projection minus the SAE, paired over the windows" '^    SAE reconstruction +[-+][0-9.]+ \[[-+][0-9.]+, [-+][0-9.]+\]$' \
  $MS eval-sae --sae "$tmp/s1/sae" --delta-lm --glp "$tmp/a/glp" --model "$tmp/lm/model" --corpus $CORPUS --windows 2
expect_out "eval-sae --json" '^\{"fvu": [0-9.]+, "mse": [0-9.e-]+, "l0": [0-9.]+, "dead_fraction": [0-9.]+' \
  $MS eval-sae --sae "$tmp/s1/sae" --acts "$tmp/acts" --rows 1000 --json
expect_out "load sae" 'loaded SAE .*: layer 1, 128 latents, topk k 8' \
  $MS --model "$tmp/lm/model" -c "load sae $tmp/s1/sae"
expect_out "show sae latent" 'sae:7 \(layer 1\) over the prompt' \
  $MS --model "$tmp/lm/model" -c "load sae $tmp/s1/sae; prompt The cat sat; show sae:7"
expect_out "sae unit out of range" 'error: sae:128 outside sae:0..127 \(show\)' \
  $MS --model "$tmp/lm/model" -c "load sae $tmp/s1/sae; prompt x; show sae:128"
expect_out "an SAE of another width is refused" 'does not fit: its d_in differs' \
  $MS --model tests/fixtures/models/gpt2_tiny -c "load sae $tmp/s1/sae"
expect_out "eval-recon table" '^SAE reconstruction +[-+][0-9.]+ +[0-9.]+ +[0-9.]+$' \
  $MS eval-recon --acts "$tmp/acts" --model "$tmp/lm/model" --glp "$tmp/a/glp" --sae "$tmp/s1/sae" --corpus $CORPUS \
  --n 400 --windows 2
expect_out "eval-recon: the Gaussian prior's exact projection beside the GLP's" '^Gaussian prior.s exact projection \(u 0\.5\) +[-+][0-9.]+ +[0-9.]+ +[0-9.]+$' \
  $MS eval-recon --acts "$tmp/acts" --model "$tmp/lm/model" --glp "$tmp/a/glp" --sae "$tmp/s1/sae" --corpus $CORPUS \
  --n 400 --windows 2
expect_out "... and noise of its norm, in the JSON too" '"dlm_gauss": -?[0-9.]+, "dlm_gauss_noise": -?[0-9.]+, "fd_gauss": [0-9.]+, "fd_gauss_noise": [0-9.]+, "rel_change_gauss": [0-9.]+' \
  $MS eval-recon --acts "$tmp/acts" --model "$tmp/lm/model" --glp "$tmp/a/glp" --sae "$tmp/s1/sae" --corpus $CORPUS \
  --n 400 --windows 2 --json
expect_out "eval-recon floor and --json" '"fd_floor": [0-9.]+, "tokens": [0-9]+, "n": 400' \
  $MS eval-recon --acts "$tmp/acts" --model "$tmp/lm/model" --glp "$tmp/a/glp" --sae "$tmp/s1/sae" --corpus $CORPUS \
  --n 400 --windows 2 --json
expect_out "eval-recon --u: the projection's label and the JSON carry it" '"u": 0.7, "sampler": "euler", "rho": 1, "evals": 6' \
  $MS eval-recon --acts "$tmp/acts" --model "$tmp/lm/model" --glp "$tmp/a/glp" --sae "$tmp/s1/sae" --corpus $CORPUS \
  --n 400 --windows 2 --u 0.7 --json
expect_out "eval-recon: noise shaped like the data beside isotropic noise" '^noise shaped like the data, GLP.s norm +[-+][0-9.]+ +[0-9.]+$' \
  $MS eval-recon --acts "$tmp/acts" --model "$tmp/lm/model" --glp "$tmp/a/glp" --sae "$tmp/s1/sae" --corpus $CORPUS \
  --n 400 --windows 2
expect_out "eval-recon: the projection's pull toward the data's mean" '^pull of the projection toward the data.s mean, -E\[\(h-mu\)\.e\]/E\|e\|\^2: [0-9.]+$' \
  $MS eval-recon --acts "$tmp/acts" --model "$tmp/lm/model" --glp "$tmp/a/glp" --sae "$tmp/s1/sae" --corpus $CORPUS \
  --n 400 --windows 2
expect_out "eval-recon: paired differences with 95% intervals over the windows" '^  SAE reconstruction +[-+][0-9.]+ \[[-+][0-9.]+, [-+][0-9.]+\]$' \
  $MS eval-recon --acts "$tmp/acts" --model "$tmp/lm/model" --glp "$tmp/a/glp" --sae "$tmp/s1/sae" --corpus $CORPUS \
  --n 400 --windows 3
expect_out "... and in the JSON" '"windows": 3, "glp_minus_noise": -?[0-9.]+, "glp_minus_noise_ci": [0-9.]+, "glp_minus_sae": -?[0-9.]+, "glp_minus_sae_ci": [0-9.]+, "glp_minus_shaped": -?[0-9.]+, "glp_minus_shaped_ci": [0-9.]+' \
  $MS eval-recon --acts "$tmp/acts" --model "$tmp/lm/model" --glp "$tmp/a/glp" --sae "$tmp/s1/sae" --corpus $CORPUS \
  --n 400 --windows 3 --json
expect_out "eval-recon --draws: the projection split into its mean and a draw around it" '^one draw around that mean \(mean zero\) +[-+][0-9.]+ +[0-9.]+$' \
  $MS eval-recon --acts "$tmp/acts" --model "$tmp/lm/model" --glp "$tmp/a/glp" --sae "$tmp/s1/sae" --corpus $CORPUS \
  --n 400 --windows 2 --draws 3
expect_out "eval-recon --draws: its parts in the JSON" '"draws": 3, "dlm_mean": -?[0-9.]+, "dlm_mean_noise": -?[0-9.]+, "rel_change_mean": [0-9.]+, "dlm_scatter": -?[0-9.]+, "dlm_scatter_noise": -?[0-9.]+, "rel_change_scatter": [0-9.]+, "dlm_scatter_shaped_noise": -?[0-9.]+}$' \
  $MS eval-recon --acts "$tmp/acts" --model "$tmp/lm/model" --glp "$tmp/a/glp" --sae "$tmp/s1/sae" --corpus $CORPUS \
  --n 400 --windows 2 --draws 3 --json
expect_out "eval-recon --fisher: the Gaussian prior in the LM's metric beside noise of its norm" '^the same prior in the LM.s Fisher metric +[-+][0-9.]+ +[0-9.]+ +[-+][0-9.]+ +[-+][0-9.]+$' \
  $MS eval-recon --acts "$tmp/acts" --model "$tmp/lm/model" --glp "$tmp/a/glp" --sae "$tmp/s1/sae" --corpus $CORPUS \
  --n 400 --windows 2 --fisher
$MS eval-recon --acts "$tmp/acts" --model "$tmp/lm/model" --glp "$tmp/a/glp" --sae "$tmp/s1/sae" --corpus $CORPUS \
  --n 400 --windows 2 --fisher --json > "$tmp/fq.json"
check "eval-recon --fisher: F predicts isotropic noise at about its own cost" \
  grep -Eq '"fisher_pred_noise": (0\.9[0-9]|1\.[01][0-9])' "$tmp/fq.json"
check "eval-recon --fisher: the negated noise's first-order term is the noise's negated" \
  awk '{ a = $0; sub(/.*"first_order_noise": /, "", a); sub(/,.*/, "", a); b = $0; sub(/.*"first_order_noise_negated": /, "", b);
         sub(/,.*/, "", b); d = a + b; if (d < 0) d = -d; s = a < 0 ? -a : a; exit !(s > 0 && d <= 1e-5 + 1e-3 * s) }' "$tmp/fq.json"
check "eval-recon --fisher: ... and both edits' second-order terms are equal" \
  awk '{ a = $0; sub(/.*"second_order_noise": /, "", a); sub(/,.*/, "", a); b = $0; sub(/.*"second_order_noise_negated": /, "", b);
         sub(/,.*/, "", b); d = a - b; if (d < 0) d = -d; exit !(a > 0 && d <= 1e-5 + 1e-3 * a) }' "$tmp/fq.json"
expect_out "eval-recon: GLP minus the antithetic noise pair, in text" '^  ... its antithetic mean \(odd orders cancel\) +[-+][0-9.]+ \[[-+][0-9.]+, [-+][0-9.]+\]$' \
  $MS eval-recon --acts "$tmp/acts" --model "$tmp/lm/model" --glp "$tmp/a/glp" --sae "$tmp/s1/sae" --corpus $CORPUS \
  --n 400 --windows 2
check "eval-recon: the antithetic pair in the JSON" grep -Eq '"dlm_noise_antithetic": -?[0-9.]+, "glp_minus_noise_antithetic": -?[0-9.]+, "glp_minus_noise_antithetic_ci": [0-9.]+' "$tmp/fq.json"
expect_out "eval-recon --fisher: the metric's prediction for shaped noise" 'data to cost [0-9.]+x isotropic noise of its norm$' \
  $MS eval-recon --acts "$tmp/acts" --model "$tmp/lm/model" --glp "$tmp/a/glp" --sae "$tmp/s1/sae" --corpus $CORPUS \
  --n 400 --windows 2 --fisher
expect_out "eval-recon --fisher: in the JSON" '"fisher_rows": [0-9]+, "fisher_power": 1, "fisher_shaped_over_iso": [0-9.]+, "dlm_gauss_fisher": -?[0-9.]+, "dlm_gauss_fisher_noise": -?[0-9.]+, "rel_change_gauss_fisher": [0-9.]+, "gauss_fisher_minus_noise": -?[0-9.]+, "gauss_fisher_minus_noise_ci": [0-9.]+, "first_order_glp": -?[0-9.]+, "second_order_glp": [0-9.]+, "fisher_pred_glp": [0-9.]+, ".*"fisher_pred_gauss_fisher_noise": [0-9.]+}$' \
  $MS eval-recon --acts "$tmp/acts" --model "$tmp/lm/model" --glp "$tmp/a/glp" --sae "$tmp/s1/sae" --corpus $CORPUS \
  --n 400 --windows 2 --fisher --json
expect_out "eval-recon --fisher --power 1.5: the prior in the metric raised to it" '^the same prior in the Fisher metric \^1.5 +[-+][0-9.]+ +[0-9.]+ +[-+][0-9.]+ +[-+][0-9.]+$' \
  $MS eval-recon --acts "$tmp/acts" --model "$tmp/lm/model" --glp "$tmp/a/glp" --sae "$tmp/s1/sae" --corpus $CORPUS \
  --n 400 --windows 2 --fisher --power 1.5
$MS eval-recon --acts "$tmp/acts" --model "$tmp/lm/model" --glp "$tmp/a/glp" --sae "$tmp/s1/sae" --corpus $CORPUS \
  --n 400 --windows 2 --token-prior "$tmp/acts" > "$tmp/tp.txt"
check "eval-recon --token-prior: the prior given each row's token beside noise of its norm" \
  grep -Eq "^the same prior given each row.s token +[-+][0-9.]+ +[0-9.]+$" "$tmp/tp.txt"
check "eval-recon --token-prior: its paired difference with noise" \
  grep -Eq "^token-given projection minus its noise +[-+][0-9.]+ \[[-+][0-9.]+, [-+][0-9.]+\]$" "$tmp/tp.txt"
check "eval-recon --token-prior: the rows fitted and the variance the tokens leave" \
  grep -Eq "^the prior given the token: means of [0-9]+ [a-z]+-split rows \(shrunk by 16 pseudo-rows\), leaving 0\.[0-9]+$" "$tmp/tp.txt"
expect_out "eval-recon --token-prior --fisher: in the JSON, with both terms" '"token_prior_rows": [0-9]+, "token_prior_split": "[a-z]+", "token_prior_shrink": 4, "token_prior_within": [0-9.]+, "dlm_gauss_token": -?[0-9.]+, "dlm_gauss_token_noise": -?[0-9.]+, "rel_change_gauss_token": [0-9.]+, "gauss_token_minus_noise": -?[0-9.]+, "gauss_token_minus_noise_ci": [0-9.]+.*"first_order_gauss_token_noise": -?[0-9.]+, "second_order_gauss_token_noise": [0-9.]+, "fisher_pred_gauss_token_noise": [0-9.]+}$' \
  $MS eval-recon --acts "$tmp/acts" --model "$tmp/lm/model" --glp "$tmp/a/glp" --sae "$tmp/s1/sae" --corpus $CORPUS \
  --n 400 --windows 2 --token-prior "$tmp/acts" --shrink 4 --fisher --json
expect_out "eval-recon --token-prior: a missing harvest refused by name" "error: .*$tmp/nowhere" \
  $MS eval-recon --acts "$tmp/acts" --model "$tmp/lm/model" --glp "$tmp/a/glp" --sae "$tmp/s1/sae" --corpus $CORPUS \
  --n 400 --windows 2 --token-prior "$tmp/nowhere"
expect_out "eval-recon --shrink below 0 refused" "error: --shrink needs a non-negative integer, not '-1' \\(eval-recon\\)" \
  $MS eval-recon --acts "$tmp/acts" --token-prior "$tmp/acts" --shrink -1
expect_out "eval-recon --power without --fisher refused" 'error: --power is the Fisher metric.s exponent: it needs --fisher \(eval-recon\)' \
  $MS eval-recon --acts "$tmp/acts" --power 2
expect_out "eval-recon on a GLP with a basis" '^noise shaped like the data, GLP.s norm +[-+][0-9.]+ +[0-9.]+ +[-+][0-9.]+ +[-+][0-9.]+$' \
  $MS eval-recon --acts "$tmp/acts" --model "$tmp/lm/model" --glp "$tmp/fi/glp" --sae "$tmp/s1/sae" --corpus $CORPUS \
  --n 400 --windows 2 --fisher
expect_out "eval-recon --draws 1 refused" 'error: --draws takes the projections averaged per row, 2 to 256 \(eval-recon\)' \
  $MS eval-recon --acts "$tmp/acts" --draws 1
expect_out "eval-recon --u refuses 1" 'error: --u takes the projection.s noise level, a number in \[0, 1\) \(eval-recon\)' \
  $MS eval-recon --acts "$tmp/acts" --u 1
expect_out "eval-recon without --acts: test-split rows" 'FD of 200 edited test-split rows' \
  env TMPDIR="$tmp/tmp" $MS eval-recon --model "$tmp/lm/model" --glp "$tmp/a/glp" --sae "$tmp/s1/sae" --corpus $CORPUS \
  --n 200 --windows 2
