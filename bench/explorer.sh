#!/bin/sh
# explorer.sh — the explorer's budgets on the default assets, in tmux at
# 80x24: startup to the first frame (--bench-startup, 5 runs) and the time
# from a key to its frame sent (METASCOPE_TIMING=1), for plain prompt typing
# and for F2 live-prompt typing (which re-runs the model on every key); and
# a 32-token plain vs +GLP comparison in batch mode, the compare step alone
# timed by the session's own `time` command (5 runs; the first compare of a
# run also builds the concept lexicon, the second is warm).
# Usage: sh bench/explorer.sh   (MS_BIN overrides build/metascope)
MS=${MS_BIN:-build/metascope}
tmp=$(mktemp -d)
T="tmux -L msbench$$"
trap '$T kill-server 2>/dev/null; rm -rf "$tmp"' EXIT
wait_file() { i=0; while [ ! -e "$1" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done; }
for i in 1 2 3 4 5; do
  $T new-session -d -s "s$i" -x 80 -y 24 "$MS --bench-startup 2>>$tmp/startup; touch $tmp/done$i"
  wait_file "$tmp/done$i"
done
sort -n -k2 "$tmp/startup" | awk '{v[NR]=$2} END {printf "explorer startup: median %.1f ms, min %.1f ms over %d runs (budget 500 ms)\n", v[int((NR+1)/2)], v[1], NR}'
$T new-session -d -s keys -x 80 -y 24 "env METASCOPE_TIMING=1 XDG_STATE_HOME=$tmp $MS 2>$tmp/timing; touch $tmp/keys.done"
sleep 1
$T send-keys -t keys 'prompt The cat sat on the mat and looked at the dog' Enter
sleep 0.5
for w in the quick brown fox jumps over the lazy dog; do $T send-keys -t keys -l "$w "; sleep 0.05; done
$T send-keys -t keys C-u F2
for w in a small dog ran into the garden and barked; do $T send-keys -t keys -l " $w"; sleep 0.05; done
$T send-keys -t keys Enter
sleep 0.3
$T send-keys -t keys 'quit' Enter
wait_file "$tmp/keys.done"
cat "$tmp/timing"
echo "(budget: a keystroke redraws in < 16 ms)"

cmp='prompt I went to the kitchen and; vec food diffmean noun.food; time compare food 1 --tokens 32; time compare food 1 --tokens 32'
for i in 1 2 3 4 5; do "$MS" -c "$cmp" | grep '^time:' | awk -v r=$i '{print r, NR, 1000 * $2}'; done >"$tmp/compare"
for k in 1 2; do
  awk -v k=$k '$2 == k {print $3}' "$tmp/compare" | sort -n | awk -v k=$k '{v[NR]=$1} END {
    printf "compare food 1 --tokens 32 (plain + GLP, %s): median %.0f ms, max %.0f ms over %d runs (budget 1000 ms)\n",
      k == 1 ? "first, with the lexicon" : "warm", v[int((NR+1)/2)], v[NR], NR}'
done
