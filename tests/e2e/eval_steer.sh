#!/bin/sh
# eval_steer.sh — the steering frontier (eval-steer and the 'frontier'
# command) on the bundled model, GLP and SAE with tiny settings: table, area,
# plot (ASCII and UTF-8), CSV shapes, Pareto marks checked against the CSV's
# own points, reproducibility, JSON, skipped GLP methods and one-line errors.
. tests/e2e/lib.sh
tmp=$(mktemp -d); trap 'rm -rf "$tmp" "$_out" "$XDG_CACHE_HOME"' EXIT
T='--concepts noun.food --alphas 0,1 --prefixes 2 --tokens 6'

LANG=C LC_ALL= LC_CTYPE= $MS eval-steer $T --out "$tmp/o" >"$tmp/run" 2>&1
check "eval-steer runs" test $? -eq 0
check "header" grep -Eq '^steering frontier at layer 3: 2 held-out prefixes \(8 tokens, test split, outside the concepts. categories\), 6 greedy tokens each, 16 points, [0-9]+ continuations in [0-9.]+ s$' "$tmp/run"
check "DiffMean table" grep -Eq '^noun\.food, DiffMean direction; lexicon [0-9]+ words$' "$tmp/run"
check "SAE latent table" grep -Eq '^noun\.food, SAE latent [0-9]+ \(cosine -?[0-9.]+ with the DiffMean direction\); lexicon [0-9]+ words$' "$tmp/run"
check "the +GLP cost line" grep -Eq '^\+GLP projection: euler sampler, glp@0\.3 14 glp@0\.5 10 glp@0\.7 6 denoiser evaluations per steered token$' "$tmp/run"
expect_out "eval-steer refuses an unknown sampler" "^error: unknown sampler 'rk4'; use euler, heun, midpoint or dpm2m \\(eval-steer\\)$" \
  $MS eval-steer $T --sampler rk4
expect_out "eval-steer refuses a negative budget" '^error: --evals takes 1\.\.10000, or 0 for the reference budget \(eval-steer\)$' \
  $MS eval-steer $T --evals -1
check "method columns" test "$(grep -Ec '^  alpha +plain +glp@0\.3 +glp@0\.5 +glp@0\.7$' "$tmp/run")" -eq 2
S='[0-9.]+ \[ *[0-9.]+, *[0-9.]+\]'
check "fluency rows" test "$(grep -Ec "^ +(0\.00|1\.00)  fl( +$S( \*)?){4}\$" "$tmp/run")" -eq 4
check "concept rows" test "$(grep -Ec "^         co( +$S){4}\$" "$tmp/run")" -eq 4
check "area line" test "$(grep -Ec '^  frontier area over fluency \[[0-9.]+, [0-9.]+\] \(concept x nats; higher is better\):  plain [0-9.]+  glp@0\.3 [0-9.]+  glp@0\.5 [0-9.]+  glp@0\.7 [0-9.]+$' "$tmp/run")" -eq 2
check "ASCII plot axes" test "$(grep -Ec '^         \+-{56}$' "$tmp/run")" -eq 2
check "ASCII legend" grep -q '^         o plain   + glp@0.3   x glp@0.5   # glp@0.7   & several methods$' "$tmp/run"
check "plot rows" test "$(grep -Ec '^  +([0-9.]+ )?\|' "$tmp/run")" -eq 24
check "CSV header" test "$(head -1 "$tmp/o/frontier.csv")" = \
  "concept,source,method,alpha,fluency,fluency_lo,fluency_hi,concept_score,concept_lo,concept_hi,pareto"
check "CSV rows" test "$(grep -Ec '^noun\.food,(diffmean|sae:[0-9]+),(plain|glp@0\.[357]),(0|1),([0-9.]+,){6}[01]$' "$tmp/o/frontier.csv")" -eq 16
check "area CSV" test "$(grep -Ec '^noun\.food,(diffmean|sae:[0-9]+),(plain|glp@0\.[357]),[0-9.]+,[0-9.]+,[0-9.]+$' "$tmp/o/frontier_area.csv")" -eq 8
check "intervals hold the means" awk -F, 'NR > 1 && !($6 <= $5 && $5 <= $7 && $9 <= $8 && $8 <= $10) { bad = 1 } END { exit bad }' "$tmp/o/frontier.csv"
# The pareto column recomputed from the CSV's own means, per block.
check "Pareto flags match dominance" awk -F, '
  NR > 1 { n++; b[n] = $1 "," $2; f[n] = $5; c[n] = $8; p[n] = $11 }
  END { for (i = 1; i <= n; i++) { on = 1
          for (j = 1; j <= n; j++) if (j != i && b[j] == b[i] && f[j] <= f[i] && c[j] >= c[i] && (f[j] < f[i] || c[j] > c[i])) on = 0
          if (on != p[i]) bad = 1 }
        exit bad }' "$tmp/o/frontier.csv"
check "stars in the table match the CSV" test "$(grep -o '\] \*' "$tmp/run" | wc -l)" -eq "$(grep -c ',1$' "$tmp/o/frontier.csv")"
check "alpha 0 is shared by both sources" test "$(grep ',0,' "$tmp/o/frontier.csv" | cut -d, -f3- | sort -u | wc -l)" -eq 4

LANG=C.UTF-8 $MS eval-steer $T --out "$tmp/o2" >"$tmp/run2" 2>&1
check "reproducible" cmp "$tmp/o/frontier.csv" "$tmp/o2/frontier.csv"
check "UTF-8 plot" grep -q '└─────' "$tmp/run2"
$MS -c "prompt The soup was; frontier $T" >"$tmp/cmd" 2>&1
check "the frontier command prints the rows" test "$(grep -Ec '^ +[0-9.]+  fl' "$tmp/cmd")" -eq 4
check "the frontier command gives the same points" test "$(grep -E '^ +[0-9.]+  fl' "$tmp/cmd")" = "$(grep -E '^ +[0-9.]+  fl' "$tmp/run")"
expect_out "frontier --json" '^\{"cmd":"frontier","layer":3,"prefixes":2,"tokens":6,"note":null,"seconds":[0-9.]+,"blocks":\[\{"concept":"noun\.food","source":"diffmean","f_lo":[0-9.]+,"f_hi":[0-9.]+,"area":\{"plain":' \
  $MS --json -c "frontier $T"

$MS eval-steer $T --no-glp >"$tmp/noglp" 2>&1
check "no GLP: runs" test $? -eq 0
check "no GLP: note" grep -q '^(no GLP loaded: the +GLP methods are skipped)$' "$tmp/noglp"
check "no GLP: plain only" test "$(grep -Ec '^  alpha +plain$' "$tmp/noglp")" -eq 2
expect_out "no GLP nor SAE in a session" '^\(no GLP loaded: the \+GLP methods are skipped; no SAE loaded: DiffMean only\)$' \
  $MS --model assets/model -c "frontier $T"

expect_out "unknown concept" "^error: no corpus category 'quux'; see assets/corpus/categories\.tsv \(eval-steer\)$" \
  $MS eval-steer --concepts noun.food,quux
expect_out "unknown concept (command)" "^error: no corpus category 'quux'; see assets/corpus/categories\.tsv \(frontier\)$" \
  $MS -c "frontier --concepts quux"
expect_out "bad alpha" "^error: 'x' is not a number in -1000\.\.1000 \(frontier\)$" $MS -c "frontier --alphas 0,x"
expect_out "unknown option" "^error: unknown option '--bogus' \(eval-steer\)$" $MS eval-steer --bogus 1
expect_out "option without a value" "^error: --tokens needs a value \(frontier\)$" $MS -c "frontier --tokens"
expect_status "errors exit 2" 2 $MS eval-steer --concepts quux
