#!/bin/sh
# make_assets.sh — rebuild everything under assets/ from Debian packages with
# fixed seeds. Every training stage checkpoints every 3 minutes and resumes
# (--resume; a finished one returns at once), so an interrupted run just
# continues. Minutes are a 2-core AMD EPYC (AVX2).
# (Staged in assets/next/ for issue #12: it becomes tools/make_assets.sh when
# assets/next/ becomes assets/; if glp4 is what ships, it gains that stage,
# train-glp-4.json from glp3, as in tools/make_next.sh.)
#   1. corpus      tools/build_corpus.py                 -> assets/corpus/
#   2. tokenizer   metascope train-bpe                   -> assets/tokenizer.json
#   3. LM stage 1  metascope train-lm (assets/train-lm.json, 4800 steps; 150 min) -> $WORK/lm1
#   4. LM stage 2  train-lm --init stage 1 (train-lm-2.json, 4800 more at lr 1e-3; 134 min)
#                  -> $WORK/lm2, packed with pack-model --f16 -> assets/model/ (lz4)
#   5. activations metascope harvest (2.5M rows of layer 3, EOS rows left out; 6-9 min) -> $GLPWORK/acts
#   6. normalizer  metascope fisher (the LM's Fisher metric at layer 3) -> $GLPWORK/fisher-norm.safetensors
#   7. GLP         train-glp --normalizer it (train-glp.json, 8000 steps; 180 min) -> $GLPWORK/glp1,
#                  train-glp --init glp1 (train-glp-2.json, 5000 steps, moving average; 141 min) -> glp2,
#                  train-glp --init glp2 (train-glp-3.json, grown to 6 blocks, 3000 steps) -> glp3,
#                  packed with pack-glp --f16 -> assets/glp/ (keeps the Fisher normalizer)
#   8. SAE         metascope train-sae (train-sae.json; 36 min) -> assets/sae/
#   9. index       metascope index (model, GLP, SAE over 50k held-out tokens) -> assets/index/
#                  (rebuilt when the GLP is newer: meta-neurons come from it)
#  10. probe tasks metascope probe-tasks (seeded, from the corpus and tokenizer) -> assets/probe/tasks.json
set -eu
MS=${MS_BIN:-build/metascope}
WORK=${WORK:-build/train-lm2}
GLPWORK=${GLPWORK:-build/glp-work3} # Fisher-basis GLPs of the two-stage LM
mkdir -p "$WORK" "$GLPWORK" # the trainers create their folder, not the parents
if [ ! -f assets/corpus/MANIFEST.json ]; then
  /usr/bin/python3 tools/build_corpus.py --out assets/corpus
fi
if [ ! -f assets/tokenizer.json ]; then
  $MS train-bpe --corpus assets/corpus --vocab 4096 --out assets/tokenizer.json
fi
$MS train-lm --config assets/train-lm.json --out "$WORK/lm1" --resume
$MS train-lm --config assets/train-lm-2.json --out "$WORK/lm2" --init "$WORK/lm1/model" --resume
cp "$WORK/lm1/loss.csv" assets/loss.csv
cp "$WORK/lm2/loss.csv" assets/loss-2.csv
$MS pack-model "$WORK/lm2/model" --out assets/model --f16
$MS eval-lm assets/model --split test
$MS harvest --model assets/model --layer 3 --tokens 2500000 --out "$GLPWORK/acts" --resume
N=$GLPWORK/fisher-norm.safetensors
[ -f "$N" ] || $MS fisher --model assets/model --acts "$GLPWORK/acts" --out "$N"
$MS train-glp --acts "$GLPWORK/acts" --config assets/train-glp.json --out "$GLPWORK/glp1" --normalizer "$N" --resume
cp "$GLPWORK/glp1/loss.csv" assets/glp-loss.csv
$MS train-glp --acts "$GLPWORK/acts" --config assets/train-glp-2.json --out "$GLPWORK/glp2" --init "$GLPWORK/glp1/glp" --resume
cp "$GLPWORK/glp2/loss.csv" assets/glp-loss-2.csv
$MS train-glp --acts "$GLPWORK/acts" --config assets/train-glp-3.json --out "$GLPWORK/glp3" --init "$GLPWORK/glp2/glp" --resume
cp "$GLPWORK/glp3/loss.csv" assets/glp-loss-3.csv
$MS pack-glp "$GLPWORK/glp3/glp" --out assets/glp --f16
$MS train-sae --acts "$GLPWORK/acts" --config assets/train-sae.json --out "$GLPWORK/sae" --resume
cp "$GLPWORK/sae/loss.csv" assets/sae-loss.csv
rm -rf assets/sae && cp -r "$GLPWORK/sae/sae" assets/sae
$MS eval-sae --acts "$GLPWORK/acts"
if [ ! -f assets/index/records.bin ] || [ assets/glp/final.safetensors.lz4 -nt assets/index/records.bin ]; then
  $MS index --out assets/index --tokens 50000
fi
[ -f assets/probe/tasks.json ] || $MS probe-tasks --out assets/probe
