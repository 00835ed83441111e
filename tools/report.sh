#!/bin/sh
# report.sh — do the published GLP claims hold for the bundled model? Runs every
# evaluation on the committed assets and writes docs/results.md (make report).
#   1. activations   metascope harvest --resume   (layer 3, 2.5M rows, EOS left out; reused)
#   2. FD            metascope eval-glp            (GLP samples vs floor vs Gaussian, test split;
#                                                  the default sampler, then Euler 20 and 100)
#   3. ΔLM + FD      metascope eval-recon          (GLP projection vs SAE vs noise vs a Gaussian prior, test split)
#   4. probing       metascope probe all           (meta vs SAE vs resid vs MLP)
#   5. steering      metascope eval-steer          (frontier, plain vs +GLP)
#   6. scaling       metascope scaling             (loss vs compute; resumes runs)
#   7. per budget    probe + frontier with each scaling GLP (loss vs scores)
#   8. token labels  metascope label-compare + distill (meta vs SAE vs resid vs MLP)
# Every stage keeps its output under $OUT; a stage whose output exists is not
# run again (delete it to redo), so an interrupted report just continues.
set -eu
MS=${MS_BIN:-build/metascope}
OUT=${OUT:-build/report}
ACTS=${ACTS:-build/glp-work2/acts} # training rows (for scaling); evaluations harvest the test split
SCALING=${SCALING:-build/scaling}
DOC=${DOC:-docs/results.md}
mkdir -p "$OUT" "$(dirname "$DOC")" "$(dirname "$ACTS")" # harvest makes only the last folder
t0=$(date +%s)
stage() { printf '== %s (%d s so far)\n' "$1" $(($(date +%s) - t0)) >&2; }

stage "activations"
$MS harvest --model assets/model --layer 3 --tokens 2500000 --out "$ACTS" --resume >&2
stage "eval-glp"
[ -s "$OUT/eval-glp-default.txt" ] || $MS eval-glp --n 10000 > "$OUT/eval-glp-default.txt" # dpm2m 20, rho 0.6
for s in 20 100; do
  [ -s "$OUT/eval-glp-$s.txt" ] || $MS eval-glp --n 10000 --steps $s > "$OUT/eval-glp-$s.txt"
done
stage "eval-recon"
[ -s "$OUT/recon.txt" ] || $MS eval-recon --n 10000 --windows 64 > "$OUT/recon.txt"
[ -s "$OUT/recon.json" ] || $MS eval-recon --n 10000 --windows 64 --json > "$OUT/recon.json"
stage "probing"
[ -s "$OUT/probe/probe.csv" ] || $MS probe all --units meta,sae,resid,mlp --out "$OUT/probe" > /dev/null
stage "steering frontier"
[ -s "$OUT/steer/frontier.csv" ] || $MS eval-steer --out "$OUT/steer" > "$OUT/steer.txt"
stage "scaling"
[ -s "$OUT/scaling.txt" ] || $MS scaling --acts "$ACTS" --out "$SCALING" --with-default --fd-steps 100 > "$OUT/scaling.txt"
stage "scores per budget"
for g in "$SCALING"/s*/glp assets/glp; do
  name=$(basename "$(dirname "$g")"); [ "$g" = assets/glp ] && name=default
  d="$OUT/budget-$name"; mkdir -p "$d"
  [ -s "$d/probe/probe.csv" ] || $MS probe all --glp "$g" --units meta --per-class 100 --out "$d/probe" > /dev/null
  [ -s "$d/steer/frontier.csv" ] || $MS eval-steer --glp "$g" --concepts noun.food --prefixes 8 --out "$d/steer" > /dev/null
done
stage "token labels"
sh tools/report_labels.sh "$OUT/labels" >&2
stage "writing $DOC"
sh tools/report_md.sh "$OUT" "$SCALING" > "$DOC.tmp" && mv "$DOC.tmp" "$DOC"
stage "done"
