#!/bin/sh
# index.sh — `metascope index` on the bundled assets (a few thousand tokens),
# then the query commands over it: top, latent, export, label, cross, latents;
# a damaged index fails with one line naming the file. The SAE checks run
# when assets/sae exists (the bundled SAE), and are skipped otherwise.
. tests/e2e/lib.sh
tmp=$(mktemp -d); trap 'rm -rf "$tmp" "$_out" "$XDG_CACHE_HOME"' EXIT
A=${METASCOPE_ASSETS:-assets}
IX="$tmp/ix"

expect_out "build an index" 'index: 3000 tokens in [0-9]+ segments, [0-9]+ units.*tokens/s' \
  $MS index --tokens 3000 --out "$IX"
check "manifest, token stream and records written" test -f "$IX/manifest.json" -a -f "$IX/records.bin" \
  -a -f "$IX/tokens.safetensors.lz4"
check "manifest names the units" grep -q '"kind":"meta"\|"kind": "meta"' "$IX/manifest.json"
expect_out "load index" 'loaded index .*: [0-9]+ units over 3000 tokens' $MS -c "load index $IX"
expect_out "top marks the activating token" '^   1 +[0-9.]+  .*\[\[.+\]\]' $MS -c "load index $IX; top meta:0:5 3"
expect_out "top --quantiles" 'quantile examples' $MS -c "load index $IX; top mlp:3:7 --quantiles"
expect_out "top --json" '^\{"cmd":"top","unit":"meta:1:2",.*"examples":\[\{"tokens":\[' \
  $MS --json -c "load index $IX; top meta:1:2 2"
expect_out "latent shows density and histogram" 'histogram of positive values' $MS -c "load index $IX; latent meta:2:9"
lines=$($MS -c "load index $IX; export meta:0:1 mlp:3:2 --json" | grep -c '"maxValue".*"density".*"activations":\[{"tokens"')
check "export gives one JSON line per unit" test "$lines" = 2
expect_out "automatic labels are marked" '\(auto\)' $MS -c "load index $IX; label meta:0:5"
check "set a label" $MS -c "load index $IX; label meta:0:5 likes punctuation"
check "labels.tsv saved beside the index" grep -q '^meta:0:5	likes punctuation$' "$IX/labels.tsv"
expect_out "label reloaded in a new session" '^meta:0:5  likes punctuation$' $MS -c "load index $IX; label meta:0:5"
expect_out "back to the automatic label" '^meta:0:5  \(auto\)' $MS -c "load index $IX; label meta:0:5 --auto"
expect_out "unit outside the index" 'error: meta:9:0 .*no meta:9:0|error: .*meta:9:0' $MS -c "load index $IX; top meta:9:0"
expect_out "queries need an index" '^error: no index loaded; use .load index PATH. \(top\)$' $MS --model assets/model -c "top meta:0:0"

cp -r "$IX" "$tmp/bad"
head -c 5000 "$IX/records.bin" > "$tmp/bad/records.bin"
expect_out "truncated records: one line naming the file" '^error: .*records\.bin\)$' $MS -c "load index $tmp/bad"
expect_status "and batch mode exits 2" 2 $MS -c "load index $tmp/bad"
expect_out "not an index folder" '^error: .*manifest\.json' $MS -c "load index $tmp"
expect_out "bad --units" "error: unknown unit kind 'foo'" $MS index --units foo --tokens 10 --out "$tmp/x"

if [ -d "$A/sae" ]; then
  expect_out "index with the bundled SAE" 'units with correlations' $MS index --tokens 3000 --out "$tmp/ixs"
  expect_out "latents sorted by density" '^  sae:[0-9]+ +[0-9.]+ +[-0-9.]+ ' $MS -c "load index $tmp/ixs; latents sort density"
  expect_out "latent shows output tokens" 'top output tokens:' $MS -c "load index $tmp/ixs; latent 3"
  expect_out "cross meta -> latents" '^  sae:[0-9]+ +[-+][0-9.]+' $MS -c "load index $tmp/ixs; cross meta:0:5"
  expect_out "cross latent -> meta" '^  meta:[0-9]+:[0-9]+ +[-+][0-9.]+' $MS -c "load index $tmp/ixs; cross sae:3"
  expect_out "export has logits" '"pos_str":\[' $MS -c "load index $tmp/ixs; export sae:3"
else
  echo "# assets/sae absent: SAE checks (latents, cross, logits) skipped; the unit tests cover them"
  expect_out "cross needs SAE and GLP" 'no correlations' $MS -c "load index $IX; cross meta:0:5"
  expect_out "latents needs SAE latents" 'holds no SAE latents' $MS -c "load index $IX; latents"
  expect_out "--units sae needs an SAE" 'needs an SAE' $MS index --units sae --tokens 10 --out "$tmp/y"
fi
