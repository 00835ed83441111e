#!/bin/sh
# probe.sh — 1-D probing on the bundled assets with two tasks and few
# examples: the table's shape, CSV and text files, JSON, probe list, probe add
# from two files, and one-line errors. The assets are seen through a scratch
# folder of links so `probe add` writes there, not into the repository.
. tests/e2e/lib.sh
tmp=$(mktemp -d); trap 'rm -rf "$tmp" "$_out" "$XDG_CACHE_HOME"' EXIT
A=$(pwd)/assets
mkdir -p "$tmp/assets/probe"
for d in model glp sae corpus index; do ln -s "$A/$d" "$tmp/assets/$d"; done
ln -s "$A/probe/tasks.json" "$tmp/assets/probe/tasks.json"
export METASCOPE_ASSETS="$tmp/assets" XDG_DATA_HOME="$tmp/xdg"

$MS probe 'noun.f*' --units meta,sae,resid,mlp --per-class 30 --out "$tmp/out" >"$tmp/table" 2>"$tmp/err"
check "probe runs" test $? -eq 0
check "header names the families" grep -Eq '^task +kind +train +test +meta +unit +sae +unit +resid +unit +mlp +unit' "$tmp/table"
check "a task row with four winners" grep -Eq '^noun\.food +doc +30\+30 +30\+30 +[01]\.[0-9]{3} meta:[0-2]:[0-9]+@0\.[135] +[01]\.[0-9]{3} sae:[0-9]+ +[01]\.[0-9]{3} resid:[0-9]+ +[01]\.[0-9]{3} mlp:3:[0-9]+' "$tmp/table"
check "mean row with intervals" grep -Eq '^mean test AUC \[95% CI\] +[01]\.[0-9]{3} \[[01]\.[0-9]{3},[01]\.[0-9]{3}\]' "$tmp/table"
check "progress on stderr" grep -q '^probe: 1/1 noun.food' "$tmp/err"
check "CSV written" grep -Eq '^noun\.food,doc,30,30,30,30,meta,meta:[0-2]:[0-9]+,[0-2],0\.[135],[01]\.[0-9]+,[01]\.[0-9]+,,$' "$tmp/out/probe.csv"
check "CSV mean rows" test "$(grep -c '^mean,' "$tmp/out/probe.csv")" -eq 4
check "text file matches stdout" sh -c "head -3 '$tmp/out/probe.txt' | cmp - '$tmp/table' -n 300"

$MS probe 'noun.f*' --units resid --per-class 30 >"$tmp/t1" 2>/dev/null
$MS probe 'noun.f*' --units resid --per-class 30 >"$tmp/t2" 2>/dev/null
check "reproducible" sh -c "grep -v ' s)' '$tmp/t1' >'$tmp/a'; grep -v ' s)' '$tmp/t2' >'$tmp/b'; cmp '$tmp/a' '$tmp/b'"
expect_out "JSON" '^\{"cmd":"probe","tasks":\[\{"task":"noun.food","kind":"doc","n":\[30,30,30,30\],"units":\{"resid":\{"unit":"resid:[0-9]+","test_auc":[0-9.]+' \
  $MS --json -c 'probe noun.food --units resid --per-class 30'
expect_out "list" '^tok\.plural-noun +token +200\+200 +200\+200' $MS -c 'probe list'
check "at least 30 built-in tasks" test "$($MS -c 'probe list' | grep -Ec ' (doc|token) ')" -ge 30

printf 'I love this\nwhat a great day\nwonderful work\nsuch a happy song\n' >"$tmp/pos.txt"
printf 'I hate this\nwhat an awful day\nterrible work\nsuch a sad song\n' >"$tmp/neg.txt"
expect_out "probe add" "^task 'mood' saved to $tmp/assets/probe/user/mood.json$" \
  $MS -c "probe add mood $tmp/pos.txt $tmp/neg.txt"
expect_out "user task listed" '^mood +text +2\+2 +2\+2 +\(user\) pos.txt vs neg.txt' $MS -c 'probe list'
expect_out "user task runs" '^mood +text +2\+2 +2\+2 +[01]\.[0-9]{3} resid:' $MS -c 'probe mood --units resid'
chmod a-w "$tmp/assets/probe/user" "$tmp/assets/probe"
if [ "$(id -u)" != 0 ]; then
  expect_out "read-only assets: XDG data folder" "saved to $tmp/xdg/metascope/probe/mood2.json" \
    $MS -c "probe add mood2 $tmp/pos.txt $tmp/neg.txt"
fi
chmod u+w "$tmp/assets/probe/user" "$tmp/assets/probe"

expect_out "unknown task" "^error: no task 'nosuch'; see 'probe list' \(probe\)$" $MS -c 'probe nosuch'
expect_out "bad --units" "^error: unknown unit family 'neurons': meta, sae, resid or mlp \(probe\)$" \
  $MS -c 'probe all --units resid,neurons'
expect_out "bad name for add" "^error: task name 'a/b'" $MS -c "probe add a/b $tmp/pos.txt $tmp/neg.txt"
expect_out "missing file" '^error: .*nofile' $MS -c "probe add x $tmp/nofile $tmp/neg.txt"
expect_status "subcommand error status" 2 $MS probe nosuch
expect_out "meta without GLP" '^error: no GLP loaded for the meta family \(probe\)$' $MS probe noun.food --glp none --units meta
