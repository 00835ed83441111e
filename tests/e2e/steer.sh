#!/bin/sh
# steer.sh — steering and GLP commands on the bundled model and GLP: vec
# (diffmean, prompt pairs), steer, compare (plain vs +GLP with fluency and
# concept), sample, meta top; JSON shapes; reproducibility; one-line errors.
. tests/e2e/lib.sh
tmp=$(mktemp -d); trap 'rm -rf "$tmp" "$_out" "$XDG_CACHE_HOME"' EXIT
P='prompt The soup was'

$MS -c "$P; vec food diffmean noun.food --docs 64; vec cars prompt \"the car and the truck\" \"the cat and the dog\"; vec" >"$tmp/vec" 2>&1
check "vec diffmean and prompt pairs" test $? -eq 0
check "diffmean names both sides; vec itself does not measure mean |h|" \
  grep -Eq '^food +layer 3  diffmean noun.food \(64 docs\) - rest \(64 docs\)  \|diff\| [0-9.]+ \(mean \|h\| not measured yet\)$' "$tmp/vec"
expect_out "once steering measured it, vec shows the norm ratio" \
  '^food +layer 3  diffmean noun.food \(8 docs\) - rest \(8 docs\)  \|diff\| [0-9.]+ = [0-9.]+ x mean \|h\| [0-9.]+$' \
  $MS -c "$P; vec food diffmean noun.food --docs 8; steer food 1; vec"
check "prompt-pair vector" grep -Eq '^cars +layer 3  prompt "the car and the truck" - "the cat and the dog"' "$tmp/vec"
check "vec lists both" test "$(grep -c '^food \|^cars ' "$tmp/vec")" -eq 4

expect_out "steer with GLP" 'steering gen with food at alpha 0\.5 \(\|alpha v\| = [0-9.]+\) at layer 3, then GLP projection \(u 0\.3, euler, 14 denoiser evaluations\)' \
  $MS -c "$P; vec food diffmean noun.food --docs 16; steer food 0.5 glp 0.3"
expect_out "steer with another GLP sampler and budget" 'then GLP projection \(u 0\.5, dpm2m, 4 denoiser evaluations\)' \
  $MS -c "$P; vec food diffmean noun.food --docs 16; set glp_sampler dpm2m; set glp_evals 4; steer food 0.5 glp"
expect_out "steer says when the grid is spaced by rho" 'then GLP projection \(u 0\.5, dpm2m on a rho-spaced grid, 10 denoiser evaluations\)' \
  $MS -c "$P; vec food diffmean noun.food --docs 16; set glp_sampler dpm2m; set glp_rho 0.7; steer food 0.5 glp"
expect_out "set glp_sampler refuses an unknown name" "^error: unknown sampler 'rk4'; use euler, heun, midpoint or dpm2m \\(set glp_sampler\\)$" \
  $MS -c "set glp_sampler rk4"
a=$($MS -c "$P; set temperature 0; gen 12" 2>&1)
b=$($MS -c "$P; vec food diffmean noun.food --docs 16; steer food 0.8; set temperature 0; gen 12" 2>&1 | tail -1)
c=$($MS -c "$P; vec food diffmean noun.food --docs 16; steer food 0.8; steer off; set temperature 0; gen 12" 2>&1 | tail -1)
check "steering changes greedy gen" test "$(echo "$a" | tail -1)" != "$b"
check "steer off restores it" test "$(echo "$a" | tail -1)" = "$c"

$MS -c "$P; vec food diffmean noun.food --docs 32; compare food 0 0.5 --tokens 16 --samples 2" >"$tmp/cmp" 2>&1
check "compare runs" test $? -eq 0
check "compare header" grep -Eq '^compare food at layer 3: 16 tokens x 2 samples, mean \|h\| [0-9.]+, concept = fraction of words in the lexicon$' "$tmp/cmp"
check "lexicon size" grep -Eq '^lexicon noun.food vs the rest: [0-9]+ words$' "$tmp/cmp"
check "four rows: plain and +GLP per alpha" test "$(grep -Ec '^ +(0\.00|0\.50)  (plain|\+GLP) +[0-9.]+ +[0-9.]+  ".*"$' "$tmp/cmp")" -eq 4
$MS -c "$P; vec food diffmean noun.food --docs 32; compare food 0 0.5 --tokens 16 --samples 2" >"$tmp/cmp2" 2>&1
check "compare is reproducible" cmp "$tmp/cmp" "$tmp/cmp2"
g1=$($MS -c "$P; gen 8" 2>&1)
g2=$($MS -c "$P; vec food diffmean noun.food --docs 8; compare food 1 --tokens 4; gen 8" 2>&1 | tail -1)
check "compare leaves gen's random stream alone" test "$(echo "$g1" | tail -1)" = "$g2"
expect_out "compare --json" '^\{"cmd":"compare","vec":"food","layer":3,"mean_resid_norm":[0-9.]+,"concept":"noun.food","samples":1,"u":0.5,"rows":\[\{"alpha":0(\.0)?,"method":"plain","fluency":[0-9.]+,"concept":[0-9.]+,"tokens":8,"text":' \
  $MS --json -c "$P; vec food diffmean noun.food --docs 8; compare food 0 --tokens 8"
expect_out "compare with another concept" 'lexicon noun.artifact vs the rest' \
  $MS -c "$P; vec food diffmean noun.food --docs 8; compare food 0 --tokens 4 --concept artifact"
expect_out "plain only without a GLP" 'no GLP for layer 3 loaded: plain steering only' \
  $MS --model assets/model -c "$P; vec food diffmean noun.food --docs 8; compare food 0 --tokens 4"

expect_out "sample" '^mean norm [0-9.]+ \(real activations: [0-9.]+\); written to ' \
  $MS -c "sample 20 --steps 10 --out $tmp/s.safetensors"
check "sample file" test -s "$tmp/s.safetensors"
expect_out "sample lists rows with the logit lens" '^ +0 +[0-9.]+  ".*" ".*" ".*" ".*" ".*"$' $MS -c "sample 2 --steps 5"
expect_out "sample --json" '^\{"cmd":"sample","n":3,"sampler":"euler","rho":1\.0,"evals":5,"mean_norm":[0-9.]+,"real_mean_norm":[0-9.]+,"samples":\[\{"norm":' \
  $MS --json -c "sample 3 --steps 5"
expect_out "sample's default: dpm2m on a rho 0.6 grid, 20 evaluations" '^\{"cmd":"sample","n":2,"sampler":"dpm2m","rho":0\.6[0-9]*,"evals":20,' \
  $MS --json -c "sample 2"
expect_out "sample --sampler keeps the default grid" '^\{"cmd":"sample","n":2,"sampler":"euler","rho":0\.6[0-9]*,"evals":4,' \
  $MS --json -c "sample 2 --sampler euler --evals 4"
expect_out "meta top" '^  meta:[0-2]:[0-9]+ +[0-9.]+ +[-0-9.]+ +[-0-9.]+  [0-9]+ ".*"$' $MS -c "$P; meta top 3"
expect_out "meta top of one block" '^  meta:2:' $MS -c "$P; meta top 1 2"
check "meta top lists K units" test "$($MS -c "$P; meta top 7" | grep -c '^  meta:')" -eq 7

expect_out "unknown category" "error: no corpus category 'quux'; see assets/corpus/categories.tsv \(vec\)" \
  $MS -c "vec q diffmean quux"
expect_out "ambiguous category" "error: category 'food' is ambiguous: .*noun.food.*fortunes/food|error: category 'food' is ambiguous: .*fortunes/food.*noun.food" \
  $MS -c "vec q diffmean food"
expect_out "unknown vector" "error: no vector 'nope'; make one with 'vec' \(steer\)" $MS -c "steer nope 1"
expect_out "GLP at another layer" "error: the GLP models layer 3, the vector lives at layer 2 \(steer\)" \
  $MS -c "layer 2; vec c prompt \"a car\" \"a cat\"; steer c 1 glp"
expect_out "compare needs a prompt" "error: no prompt; use 'prompt TEXT' \(compare\)" $MS -c "compare x 1"
expect_out "sample needs a GLP" "error: no GLP loaded; use 'load glp PATH' \(sample\)" $MS --model assets/model -c "sample 2"
expect_out "bad alpha" "error: 'x' is not a number in -1000\.\.1000 \(compare\)" \
  $MS -c "$P; vec c prompt \"a car\" \"a cat\"; compare c x"
expect_status "errors exit 2 in batch mode" 2 $MS -c "steer nope 1"
expect_out "metascope sample N as a subcommand" '^mean norm [0-9.]+ \(real activations: [0-9.]+\)$' $MS sample 3 --steps 5
