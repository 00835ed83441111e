#!/bin/sh
# prior_ratio_sweep.sh — how much more than isotropic noise of its norm the
# exact projection under a Gaussian prior costs the LM (eval-recon's "Gaussian
# prior's exact projection" against "Gaussian noise, its norm"), across the
# layer it replaces and across how long the LM was trained
# (docs/glp-quality.md, section 17). The Gaussian prior needs no training, so
# this measures the LM, not a GLP: the ratio is the bar any prior's projection
# starts from at that u.
#
#   tools/prior_ratio_sweep.sh [--work DIR] [--layers "1 2 3 4 5"]
#                              [--lm-steps "300 600 1200"] [--u "0.5 0.7 0.85"]
#                              [--models "TAG=DIR ..."]
#
# For each layer L of assets/model (tag layerL) and each LM trained with
# assets/train-lm.json cut to S steps (tag lmS, layer 3): harvest 200000
# train-split rows and 20000 test-split rows, train a one-block GLP for 60
# steps and a TopK SAE for 40 steps (eval-recon needs both; only the GLP's
# normalizer, fitted on the train rows, enters the Gaussian rows), then run
#   metascope eval-recon [--model M] --acts TEST --glp G --sae S --u U --fisher --json
# (64 test windows, seed 1). The GLP and SAE fields of those outputs are not
# meaningful. Every stage is skipped when its output exists and the trainings
# and harvests run with --resume, so a stopped sweep continues. Prints a markdown table. On an idle 2-core machine a cell
# takes about 4 minutes, plus the LM's training for an lmS cell (about S/80
# minutes: 4800 steps took 59). --models adds a cell at layer 3 for each model
# folder already trained (tag TAG; e.g. a further stage from train-lm --init).
# MS_BIN picks the binary.
set -eu
MS=${MS_BIN:-build/metascope}
WORK=build/prior-sweep
LAYERS="1 2 3 4 5"
STEPS="300 600 1200"
US="0.5 0.7 0.85"
MODELS=""
while [ $# -gt 0 ]; do
  case $1 in
    --work) WORK=$2 ;;
    --layers) LAYERS=$2 ;;
    --lm-steps) STEPS=$2 ;;
    --u) US=$2 ;;
    --models) MODELS=$2 ;;
    *) echo "prior_ratio_sweep.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
mkdir -p "$WORK"
cat >"$WORK/glp.json" <<'EOF'
{ "d_model": 256, "d_mlp": 512, "n_layers": 1, "batch": 1024, "steps": 60, "lr": 0.002,
  "warmup": 0.01, "warm_start": 0.01, "final_lr": 0.1, "weight_decay": 0.01, "clip": 1.0,
  "seed": 1, "checkpoint_minutes": 3, "eval_every": 50, "heldout": 0.02, "log_every": 20 }
EOF
cat >"$WORK/sae.json" <<'EOF'
{ "latents": 1024, "k": 32, "batch": 4096, "steps": 40, "lr": 0.0004, "warmup": 0.01, "final_lr": 0.1,
  "clip": 1.0, "aux_coef": 0.03125, "dead_tokens": 100000, "seed": 1, "checkpoint_minutes": 3,
  "heldout": 0.02, "eval_every": 20, "eval_rows": 4096, "log_every": 20, "half": true }
EOF

# cell TAG MODEL LAYER: the harvests, the normalizer's GLP, the SAE, one eval-recon per u
cell() {
  d=$WORK/$1
  mkdir -p "$d"
  [ -f "$d/tr/manifest.json" ] ||
    $MS harvest --model "$2" --out "$d/tr" --layer "$3" --tokens 200000 --split train --resume >/dev/null
  [ -f "$d/te/manifest.json" ] ||
    $MS harvest --model "$2" --out "$d/te" --layer "$3" --tokens 20000 --split test --resume >/dev/null
  [ -d "$d/g/glp" ] || $MS train-glp --acts "$d/tr" --config "$WORK/glp.json" --out "$d/g" --resume >/dev/null
  [ -d "$d/s/sae" ] || $MS train-sae --acts "$d/tr" --config "$WORK/sae.json" --out "$d/s" --resume >/dev/null
  for u in $US; do
    [ -s "$d/r-u$u.json" ] && continue
    $MS eval-recon --model "$2" --acts "$d/te" --glp "$d/g/glp" --sae "$d/s/sae" --u "$u" --fisher --json \
      >"$d/r-u$u.json.tmp"
    mv "$d/r-u$u.json.tmp" "$d/r-u$u.json"
    echo "prior_ratio_sweep: $1 u $u done" >&2
  done
}

for l in $LAYERS; do cell "layer$l" assets/model "$l"; done
for s in $STEPS; do
  d=$WORK/lm$s
  mkdir -p "$d"
  sed "s/\"steps\": [0-9]*/\"steps\": $s/" assets/train-lm.json >"$d/train-lm.json"
  # --resume continues a stopped run and starts a new one when there is no checkpoint
  [ -d "$d/lm/model" ] || $MS train-lm --config "$d/train-lm.json" --out "$d/lm" --resume >>"$d/train-lm.log" 2>&1
  cell "lm$s" "$d/lm/model" 3
done
for m in $MODELS; do cell "${m%%=*}" "${m#*=}" 3; done

. "$(dirname "$0")/json_field.sh"   # field NAME < JSON line

# row FILE: clean, then ΔLM | ratio | second-order ratio for the exact prior and
# for the same prior in the Fisher basis, then F's shaped-over-isotropic prediction
row() {
  set -- "$(field clean <"$1")" "$(field dlm_gauss <"$1")" "$(field dlm_gauss_noise <"$1")" \
    "$(field second_order_gauss <"$1")" "$(field second_order_gauss_noise <"$1")" "$(field dlm_gauss_fisher <"$1")" \
    "$(field dlm_gauss_fisher_noise <"$1")" "$(field second_order_gauss_fisher <"$1")" \
    "$(field second_order_gauss_fisher_noise <"$1")" "$(field fisher_shaped_over_iso <"$1")"
  awk -v c="$1" -v g="$2" -v gn="$3" -v gq="$4" -v gnq="$5" -v f="$6" -v fn="$7" -v fq="$8" -v fnq="$9" -v p="${10}" '
    function r(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "n/a" } # an LM that ignores the layer: 0/0
    BEGIN { printf "%.4f | %+.4f | %+.4f | **%s** | %s | %+.4f | **%s** | %s | %.2f", c, g, gn, r(g, gn), r(gq, gnq),
                   f, r(f, fn), r(fq, fnq), p }'
}

echo "| run | u | clean loss | Gaussian prior's ΔLM | isotropic noise of its norm | ratio | e'Fe/2 ratio | Fisher-basis prior's ΔLM | ratio | e'Fe/2 ratio | F predicts shaped/isotropic |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for t in $(for l in $LAYERS; do echo "layer$l"; done) $(for s in $STEPS; do echo "lm$s"; done) \
  $(for m in $MODELS; do echo "${m%%=*}"; done); do
  for u in $US; do
    f=$WORK/$t/r-u$u.json
    [ -s "$f" ] && echo "| $t | $u | $(row "$f") |"
  done
done
