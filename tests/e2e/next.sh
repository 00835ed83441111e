#!/bin/sh
# next.sh — tools/make_next.sh, the staged rebuild of the default assets, on
# tiny configs: every stage lands its output, a stage whose output exists is
# skipped, a stage stopped and carried to a fresh work folder ends where an
# uninterrupted one ends, the packed stage boundary changes nothing (the
# chain equals training straight from the unpacked weights), and a bad stage
# name fails.
. tests/e2e/lib.sh
CORPUS=tests/fixtures/corpus_tiny
tmp=$(mktemp -d); trap 'rm -rf "$tmp" "$_out" "$XDG_CACHE_HOME"' EXIT
N=$tmp/next
mkdir -p "$N"
cp tests/fixtures/train-tiny.json "$N/train-lm.json"
sed 's/"lr": 0.01/"lr": 0.005/; s/"seed": 3/"seed": 4/' tests/fixtures/train-tiny.json >"$N/train-lm-2.json"
sed 's/"n_layers": 2/"n_layers": 3/; s/"seed": 5/"seed": 6/' tests/fixtures/glp-tiny.json >"$tmp/glp3.json"
export NEXT="$N" NEXT_WORK="$tmp/work"
export NEXT_HARVEST="--corpus $CORPUS --layer 1 --tokens 3000"
export NEXT_FISHER="--corpus $CORPUS --windows 3 --rows 2000"
export NEXT_SAE_CONFIG=tests/fixtures/sae-tiny.json
export NEXT_GLP_CONFIG1=tests/fixtures/glp-tiny.json NEXT_GLP_CONFIG2=tests/fixtures/glp-tiny.json
export NEXT_GLP_CONFIG3="$tmp/glp3.json"
sed 's/"seed": 6/"seed": 7/' "$tmp/glp3.json" >"$tmp/glp4.json"
export NEXT_GLP_CONFIG4="$tmp/glp4.json"

expect_status "an unknown stage fails with status 2" 2 sh tools/make_next.sh lm1 glp9
check "nothing ran before the bad stage was named" test ! -e "$NEXT_WORK/lm1"
expect_out "save with nothing in progress saves nothing" '^$' sh tools/make_next.sh save
# A stage too long for a session: stopped, saved, the work folder lost (the
# next session's machine starts without build/), then resumed from the carry.
check "lm1 stops at --max-steps" env NEXT_MAX_STEPS=17 sh tools/make_next.sh lm1
check "... and has not landed" test ! -e "$N/lm1"
expect_out "save carries the checkpoint" "saved lm1 to $N/carry/lm1" sh tools/make_next.sh save
check "the carry holds the checkpoint" test -f "$N/carry/lm1/ckpt.safetensors"
rm -rf "$NEXT_WORK"
expect_out "the next run resumes lm1 from the carry" "lm1 resumes from $N/carry/lm1" sh tools/make_next.sh lm1
check "the carry is gone once lm1 landed" test ! -e "$N/carry"
check "an uninterrupted first stage" $MS train-lm --config "$N/train-lm.json" --out "$tmp/direct1"
check "... equals the stopped, carried and resumed one" \
  cmp "$tmp/direct1/model/model.safetensors" "$NEXT_WORK/lm1/model/model.safetensors"
check "lm2, fisher" sh tools/make_next.sh lm2 fisher
check "the second LM stage straight from the unpacked first stage" \
  $MS train-lm --config "$N/train-lm-2.json" --out "$tmp/direct2" --init "$tmp/direct1/model"
check "... is bit-identical to the chain through the f32 pack" \
  cmp "$tmp/direct2/model/model.safetensors" "$NEXT_WORK/lm2/model/model.safetensors"
check "sae stops at --max-steps" env NEXT_MAX_STEPS=5 sh tools/make_next.sh sae
check "... and has not landed" test ! -e "$N/sae"
expect_out "save carries the SAE's checkpoint" "saved sae to $N/carry/sae" sh tools/make_next.sh save
rm -rf "$NEXT_WORK"
expect_out "sae resumes from the carry on a fresh harvest" "sae resumes from $N/carry/sae" sh tools/make_next.sh sae
check "an uninterrupted SAE" $MS train-sae --acts "$NEXT_WORK/acts" --config tests/fixtures/sae-tiny.json --out "$tmp/directs"
check "... equals the carried one" cmp "$tmp/directs/sae/sae_weights.safetensors" "$NEXT_WORK/sae/sae/sae_weights.safetensors"
check "glp1 stops at --max-steps" env NEXT_MAX_STEPS=20 sh tools/make_next.sh glp1
check "save glp1" sh tools/make_next.sh save
rm -rf "$NEXT_WORK"
expect_out "glp1 resumes from the carry on a fresh harvest" "glp1 resumes from $N/carry/glp1" sh tools/make_next.sh glp1
check "an uninterrupted glp1" $MS train-glp --acts "$NEXT_WORK/acts" --config tests/fixtures/glp-tiny.json \
  --out "$tmp/directg" --normalizer "$N/fisher-norm.safetensors"
check "... equals the carried one" cmp "$tmp/directg/glp/final.safetensors" "$NEXT_WORK/glp1/glp/final.safetensors"
check "every other stage runs" sh tools/make_next.sh
for f in lm1/model.safetensors.lz4 loss.csv loss-2.csv model/model.safetensors.lz4 \
         fisher-norm.safetensors sae sae-loss.csv glp1 glp2 glp/final.safetensors.lz4 glp3-loss.csv glp3 glp4/final.safetensors.lz4 glp4-loss.csv; do
  check "landed: $f" test -e "$N/$f"
done
check "no temporary folder is left" sh -c "! ls -d '$N'/*.tmp 2>/dev/null"
expect_out "a second run skips every stage" '^make_next.sh: glp4 is done' sh tools/make_next.sh
check "a second run trains nothing" sh -c "[ \"\$(sh tools/make_next.sh | grep -c 'is done')\" -eq 8 ]"
check "the final GLP keeps the Fisher normalizer" cmp "$N/fisher-norm.safetensors" "$N/glp/rep_statistics.safetensors"
check "... and so does the fourth stage" cmp "$N/fisher-norm.safetensors" "$N/glp4/rep_statistics.safetensors"
expect_out "the fourth stage keeps 3 blocks" 'n_layers: 3' cat "$N/glp4/config.yaml"
expect_out "the final GLP has grown to 3 blocks" 'n_layers: 3' cat "$N/glp/config.yaml"
expect_out "the staged model, GLP and SAE load together" 'prompt: [0-9]+ tokens' \
  $MS --model "$N/model" -c "load glp $N/glp; load sae $N/sae; prompt The"
