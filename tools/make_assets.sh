#!/bin/sh
# make_assets.sh — rebuild everything under assets/ from Debian packages with
# fixed seeds; each stage is skipped when its output exists, and training
# resumes from its last checkpoint, so an interrupted run just continues.
#   1. corpus      tools/build_corpus.py        -> assets/corpus/
#   2. tokenizer   metascope train-bpe          -> assets/tokenizer.json
#   3. model       metascope train-lm --resume  -> $WORK/ (checkpoints, loss.csv)
#   4. packing     metascope pack-model --f16   -> assets/model/ (lz4)
#   5. activations metascope harvest --resume   -> $GLPWORK/acts (2.5M rows of layer 3, EOS rows left out)
#   6. GLP         metascope train-glp --resume -> $GLPWORK/train (stage 1, 8000 steps), then
#                  train-glp --init that GLP --resume -> $GLPWORK/train2 (stage 2: 5000 steps on a
#                  second schedule, exporting the moving average), then --init that one
#                  -> $GLPWORK/train3 (stage 3: grown from 3 to 6 blocks, 3000 steps), packed
#                  to assets/glp/; each stage fits a 3-hour session
#   7. SAE         metascope train-sae --resume -> $GLPWORK/sae, copied to assets/sae/
#   8. index       metascope index (model, GLP, SAE over 50k held-out tokens) -> assets/index/
#                  (rebuilt when the GLP is newer: meta-neurons come from it)
#   9. probe tasks metascope probe-tasks (seeded, from the corpus and tokenizer) -> assets/probe/tasks.json
set -eu
MS=${MS_BIN:-build/metascope}
WORK=${WORK:-build/train-lm}
CONFIG=${CONFIG:-assets/train-lm.json}
# glp-work2: harvests since EOS rows are left out (build/glp-work holds the older ones)
GLPWORK=${GLPWORK:-build/glp-work2}
mkdir -p "$GLPWORK" # harvest creates its folder, not the parents
if [ ! -f assets/corpus/MANIFEST.json ]; then
  /usr/bin/python3 tools/build_corpus.py --out assets/corpus
fi
if [ ! -f assets/tokenizer.json ]; then
  $MS train-bpe --corpus assets/corpus --vocab 4096 --out assets/tokenizer.json
fi
$MS train-lm --config "$CONFIG" --out "$WORK" --resume
cp "$WORK/loss.csv" assets/loss.csv
$MS pack-model "$WORK/model" --out assets/model --f16
$MS eval-lm assets/model --split test
$MS harvest --model assets/model --layer 3 --tokens 2500000 --out "$GLPWORK/acts" --resume
$MS train-glp --acts "$GLPWORK/acts" --config assets/train-glp.json --out "$GLPWORK/train" --resume
cp "$GLPWORK/train/loss.csv" assets/glp-loss.csv
$MS train-glp --acts "$GLPWORK/acts" --config assets/train-glp-2.json --out "$GLPWORK/train2" --init "$GLPWORK/train/glp" --resume
cp "$GLPWORK/train2/loss.csv" assets/glp-loss-2.csv
$MS train-glp --acts "$GLPWORK/acts" --config assets/train-glp-3.json --out "$GLPWORK/train3" --init "$GLPWORK/train2/glp" --resume
cp "$GLPWORK/train3/loss.csv" assets/glp-loss-3.csv
$MS pack-glp "$GLPWORK/train3/glp" --out assets/glp --f16
$MS train-sae --acts "$GLPWORK/acts" --config assets/train-sae.json --out "$GLPWORK/sae" --resume
cp "$GLPWORK/sae/loss.csv" assets/sae-loss.csv
rm -rf assets/sae && cp -r "$GLPWORK/sae/sae" assets/sae
$MS eval-sae --acts "$GLPWORK/acts"
if [ ! -f assets/index/records.bin ] || [ assets/glp/final.safetensors.lz4 -nt assets/index/records.bin ]; then
  $MS index --out assets/index --tokens 50000
fi
[ -f assets/probe/tasks.json ] || $MS probe-tasks --out assets/probe
