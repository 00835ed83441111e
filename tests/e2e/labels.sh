#!/bin/sh
# labels.sh — token labels on the bundled assets with few documents:
# label-corpus (hand-picked and automatic concepts, labels file with byte
# offsets), distill (table, classifier files), label-compare (table, CSV)
# and one-line errors (the session word `concept` is in concept.sh).
. tests/e2e/lib.sh
tmp=$(mktemp -d); trap 'rm -rf "$tmp" "$_out"' EXIT

$MS label-corpus --concept 'sae:18>0.5,resid:3>1' --category noun.food --docs 8 --expand word \
  --out "$tmp/lab.jsonl.lz4" >"$tmp/t" 2>"$tmp/err"
check "label-corpus runs" test $? -eq 0
check "concept echoed" grep -q '^concept   sae:18>0.5,resid:3>1$' "$tmp/t"
check "split line" grep -Eq '^split     test: 16 documents, [0-9]+ tokens, [0-9]+ labelled positive' "$tmp/t"
check "metrics line" grep -Eq '^precision ([01]\.[0-9]{3}|nan) +recall [01]\.[0-9]{3} +F1 ([01]\.[0-9]{3}|nan)$' "$tmp/t"
check "labels file: 16 lines" test "$(lz4cat "$tmp/lab.jsonl.lz4" | wc -l)" -eq 16
check "labels file: byte spans" sh -c "lz4cat '$tmp/lab.jsonl.lz4' | head -1 | grep -Eq '^\{\"doc\":[0-9]+,\"category\":\"noun\.[a-z]+\",\"truth\":[01],\"n_tokens\":[0-9]+,\"spans\":\[(\[[0-9]+,[0-9]+\],?)*\]\}$'"

$MS label-corpus --auto noun.food --family resid --docs 8 >"$tmp/a" 2>/dev/null
check "automatic concept" grep -Eq '^concept   resid:[0-9]+>-?[0-9.e+-]+$' "$tmp/a"
$MS label-corpus --auto noun.food --family resid --docs 8 >"$tmp/b" 2>/dev/null
check "reproducible" cmp "$tmp/a" "$tmp/b"

$MS distill --auto noun.food --family resid --docs 8 --out "$tmp/clf" >"$tmp/d" 2>"$tmp/err"
check "distill runs" test $? -eq 0
check "distill: labeller row" grep -Eq '^concept \(forward\+units\) +- +- +[01]\.[0-9]{3} ' "$tmp/d"
check "distill: resid classifier row" grep -Eq '^logreg resid@3 +[01]\.[0-9]{3} +' "$tmp/d"
check "distill: embedding classifier row" grep -Eq '^logreg embed window 3 +[01]\.[0-9]{3} +' "$tmp/d"
check "classifier weights written" grep -q '"format":"metascope-token-classifier-1","features":"embed","radius":1' "$tmp/clf/classifier-embed.json"
check "... and as safetensors" sh -c "head -c 600 '$tmp/clf/classifier-resid.safetensors' | grep -aq '\"features\":\"resid\",\"layer\":\"3\".*\"weight\":{\"dtype\":\"F32\",\"shape\":\[256\]'"

$MS label-compare --categories noun.food,verb.motion --units resid,mlp --docs 6 --out "$tmp/cmp" >"$tmp/c" 2>"$tmp/err"
check "label-compare runs" test $? -eq 0
check "compare: a row per category" grep -Eq '^verb\.motion +[0-9]+ +[0-9]+ +([01]\.[0-9]{3}|nan) ' "$tmp/c"
check "compare: means with intervals" grep -Eq '^  resid F1 [01]\.[0-9]{3} \[[01]\.[0-9]{3}, [01]\.[0-9]{3}\]  AUC' "$tmp/c"
check "compare: CSV" grep -Eq '^noun\.food,mlp,"mlp:3:[0-9]+>' "$tmp/cmp/labels.csv"
check "compare: progress on stderr" grep -q '^label-compare: 2/2 verb.motion' "$tmp/err"

expect_out "no concept or auto" '^error: give --concept UNITS or --auto CATEGORY \(label-corpus\)$' $MS label-corpus --docs 3
expect_out "unknown category" '^error: .*nosuchcat' $MS label-corpus --auto nosuchcat
expect_status "subcommand error status" 2 $MS distill --concept sae:1 --expand sideways
