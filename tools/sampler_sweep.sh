#!/bin/sh
# sampler_sweep.sh — the GLP's ODE solvers against their cost in denoiser
# evaluations: FD of GLP samples to held-out activations (eval-glp, beside the
# real-vs-real floor and a Gaussian fit) and the ΔLM loss of the on-manifold
# projection (eval-glp --delta-lm, u 0.5, beside matched-norm noise and the
# SAE). Prints one markdown table per measure (docs/samplers.md).
#
#   tools/sampler_sweep.sh [--acts DIR] [--glp DIR] [--n N] [--windows W]
#                          [--solvers "euler heun midpoint dpm2m"]
#                          [--fd-evals "4 8 10 20 40"] [--dlm-evals "4 10 20"]
#
# --acts defaults to a test-split harvest of layer 3 in /tmp/metascope-sweep-H,
# made on first use with
#   metascope harvest --model assets/model --out DIR --layer 3 --tokens 60000 --split test
# FD uses the last 2n rows (n >= 10000: n for the GLP, n for the floor's second
# set); ΔLM uses W windows of 256 tokens of the corpus' test split, the same
# projection noise for every solver. The FD and ΔLM sweeps run side by side
# (one thread each). MS_BIN picks the binary (default build/metascope).
set -eu
MS=${MS_BIN:-build/metascope}
ACTS=/tmp/metascope-sweep-H
GLP=assets/glp
N=10000
W=16
SOLVERS="euler heun midpoint dpm2m"
FD_EVALS="4 8 10 20 40"
DLM_EVALS="4 10 20"
while [ $# -gt 0 ]; do
  case $1 in
    --acts) ACTS=$2 ;;
    --glp) GLP=$2 ;;
    --n) N=$2 ;;
    --windows) W=$2 ;;
    --solvers) SOLVERS=$2 ;;
    --fd-evals) FD_EVALS=$2 ;;
    --dlm-evals) DLM_EVALS=$2 ;;
    *) echo "sampler_sweep.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
[ -d "$ACTS" ] || $MS harvest --model assets/model --out "$ACTS" --layer 3 --tokens 60000 --split test >&2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

. "$(dirname "$0")/json_field.sh"   # field NAME < JSON line

fd_sweep() {
  for s in $SOLVERS; do
    for e in $FD_EVALS; do
      $MS eval-glp --acts "$ACTS" --glp "$GLP" --n "$N" --sampler "$s" --evals "$e" --json --threads 1 >"$tmp/jf"
      printf '%s %s %s %s %s %s\n' "$s" "$e" "$(field evals <"$tmp/jf")" "$(field fd_glp <"$tmp/jf")" \
        "$(field fd_floor <"$tmp/jf")" "$(field fd_gaussian <"$tmp/jf")" | tee -a "$tmp/fd" | sed 's/^/sampler_sweep: FD /' >&2
    done
  done
}

dlm_sweep() {
  $MS eval-sae --delta-lm --windows "$W" --json --threads 1 >"$tmp/sae"
  for s in $SOLVERS; do
    for e in $DLM_EVALS; do
      $MS eval-glp --delta-lm --glp "$GLP" --windows "$W" --sampler "$s" --evals "$e" --json --threads 1 >"$tmp/jd"
      printf '%s %s %s %s %s %s %s\n' "$s" "$e" "$(field evals <"$tmp/jd")" "$(field delta_glp <"$tmp/jd")" \
        "$(field delta_noise <"$tmp/jd")" "$(field rel_change <"$tmp/jd")" "$(field tokens <"$tmp/jd")" |
        tee -a "$tmp/dlm" | sed 's/^/sampler_sweep: ΔLM /' >&2
    done
  done
}

: >"$tmp/fd"; : >"$tmp/dlm"
fd_sweep & p1=$!
dlm_sweep & p2=$!
wait $p1; wait $p2

# one column per solver, one row per requested budget; cells "value (evaluations spent)"
table() { # file, value column, budgets, number format
  awk -v col="$2" -v budgets="$3" -v fmt="$4" -v solvers="$SOLVERS" '
    { v[$1 " " $2] = sprintf(fmt " (%d)", $col, $3) }
    END {
      ns = split(solvers, S, " "); nb = split(budgets, B, " ")
      printf "| budget |"; for (i = 1; i <= ns; i++) printf " %s |", S[i]; printf "\n|---|"
      for (i = 1; i <= ns; i++) printf "---|"; printf "\n"
      for (b = 1; b <= nb; b++) {
        printf "| %s |", B[b]
        for (i = 1; i <= ns; i++) printf " %s |", v[S[i] " " B[b]]
        printf "\n"
      }
    }' "$1"
}

echo "## FD of GLP samples to $N held-out rows (normalized space; $ACTS, $GLP)"
echo
awk 'NR == 1 {printf "cell: FD (denoiser evaluations spent); real vs real floor %.3f, Gaussian with the real mean + cov %.3f\n", $5, $6}' "$tmp/fd"
echo
table "$tmp/fd" 4 "$FD_EVALS" %.3f
echo
echo "## ΔLM of the projection (u 0.5, sigma_start 0.474), layer replaced at every position but the first"
echo
echo "$(head -1 "$tmp/dlm" | cut -d' ' -f7) held-out tokens ($W windows);" \
     "$(awk -v a="$(field sae <"$tmp/sae")" -v b="$(field clean <"$tmp/sae")" 'BEGIN {printf "clean %.4f nats; SAE reconstruction ΔLM %+.4f", b, a - b}')"
echo
echo "cell: ΔLM in nats (denoiser evaluations spent)"
echo
table "$tmp/dlm" 4 "$DLM_EVALS" %+.4f
echo
echo "Gaussian noise of each projection's norm, ΔLM (evaluations spent):"
echo
table "$tmp/dlm" 5 "$DLM_EVALS" %+.4f
echo
echo "mean |P(h) - h| / |h| (evaluations spent):"
echo
table "$tmp/dlm" 6 "$DLM_EVALS" %.3f
