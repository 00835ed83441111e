#!/bin/sh
# report_labels.sh — do meta-neurons label tokens better than SAE latents? One
# command that anyone can re-run on the current assets (a stage of make report):
#   label-compare   ten categories, automatic concepts of one unit per family
#                   (meta, sae, resid, mlp), F1 and AUC on the test split with
#                   95% bootstrap intervals over categories
#   distill         noun.food labelled by its best SAE latent and by its best
#                   meta-neuron, distilled into logistic regressions (residual,
#                   embedding window); agreement, accuracy and cost per token
# Writes DIR/labels.txt|csv, DIR/distill-*.txt and DIR/labels.md (markdown).
# A stage whose output exists is not run again (delete it to redo).
#   sh tools/report_labels.sh [DIR]     (default build/report/labels)
set -eu
MS=${MS_BIN:-build/metascope}
DIR=${1:-build/report/labels}
DOCS=${DOCS:-150}
mkdir -p "$DIR"
[ -s "$DIR/labels.csv" ] || $MS label-compare --docs "$DOCS" --out "$DIR" > /dev/null
for f in sae meta; do
  [ -s "$DIR/distill-$f.txt" ] && continue # (a || b && c would run the mv for a file already there)
  $MS distill --auto noun.food --family "$f" --docs "$DOCS" --out "$DIR/clf-$f" > "$DIR/distill-$f.txt.tmp"
  mv "$DIR/distill-$f.txt.tmp" "$DIR/distill-$f.txt"
done
mean() { awk -F, -v f="$2" -v k="$3" '$1 == k && $2 == f { printf "%.3f", $4 }' "$1"; }
{
  echo "\`sh tools/report_labels.sh\` (\`metascope label-compare --docs $DOCS\`): per category, one unit per"
  echo "family found on the train split (largest mean excess on the category's tokens over its"
  echo "siblings', threshold of largest TPR - FPR), labelling up to $DOCS + $DOCS test documents;"
  echo "ground truth: a token is in the category when its document is. F1 of the labels, AUC of"
  echo "the unit's value; means with 95% percentile bootstrap intervals over categories."
  echo
  echo '```'
  cat "$DIR/labels.txt"
  echo '```'
  echo
  m=$(mean "$DIR/labels.csv" meta MEAN); s=$(mean "$DIR/labels.csv" sae MEAN)
  ml=$(mean "$DIR/labels.csv" meta LO95); mh=$(mean "$DIR/labels.csv" meta HI95)
  sl=$(mean "$DIR/labels.csv" sae LO95); sh_=$(mean "$DIR/labels.csv" sae HI95)
  verdict=$(awk -v m="$m" -v s="$s" -v ml="$ml" -v sh="$sh_" -v mh="$mh" -v sl="$sl" 'BEGIN {
    if (m == "" || s == "") { print "cannot be answered (a family is missing)"; exit }
    w = (m > s) ? "meta-neurons label better on average" : "SAE latents label better on average";
    o = (ml > sh || sl > mh) ? "the intervals do not overlap" : "the intervals overlap, so the difference is not established";
    print w ", and " o }')
  echo "Do meta-neurons label tokens better than SAE latents? Mean F1 meta $m [$ml, $mh] vs SAE $s [$sl, $sh_]: $verdict."
  for f in sae meta; do
    echo
    echo "Distilled (\`metascope distill --auto noun.food --family $f --docs $DOCS\`):"
    echo
    echo '```'
    cat "$DIR/distill-$f.txt"
    echo '```'
  done
} > "$DIR/labels.md.tmp" && mv "$DIR/labels.md.tmp" "$DIR/labels.md"
echo "wrote $DIR/labels.md"
