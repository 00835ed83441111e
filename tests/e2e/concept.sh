#!/bin/sh
# concept.sh — the session word `concept` in batch mode, on the bundled
# assets with small samples (--docs): define (units, named by its units,
# --auto), the active one in the list, a prompt's labels and classifier
# scores (text and JSON), the best held-out tokens, the export (safetensors
# weights with their metadata, label files with byte spans), off, and
# one-line errors with exit status 2.
. tests/e2e/lib.sh
tmp=$(mktemp -d); trap 'rm -rf "$tmp" "$_out" "$XDG_CACHE_HOME"' EXIT

# defining is instant (the classifier trains on demand)
expect_out "define: active" '^concept food = sae:18>0\.5 \(active\)$' $MS -c 'concept food sae:18>0.5'
expect_out "list: the active one starred" '^\* food +sae:18>0,mlp:3:2>0$' $MS -c 'concept food sae:18,mlp:3:2; concept'
expect_out "named by its units" '^\* sae:1043>2 +sae:1043>2$' $MS -c 'concept sae:1043>2; concept'
expect_out "--auto finds units for a category" '^concept noun\.food = resid:[0-9]+>-?[0-9.e+-]+  truth noun\.food \(active\)$' \
  $MS -c 'concept --auto noun.food --family resid --docs 8'

# one session: show (trains), top, export, off; an MLP neuron of the model
# (not of the SAE, which may be retrained) that fires on plural nouns
$MS -c 'prompt A genus of herbs with yellow flowers; concept flower mlp:3:661>2 --docs 16;
concept flower; concept top 5; concept export '"$tmp/exp"'; concept off; concept' >"$tmp/t" 2>"$tmp/err"
check "a session of concept commands runs" test $? -eq 0
check "show: the classifier's quality on held-out tokens" \
  grep -Eq '^classifier resid@3: AUC [01]\.[0-9]{3}, F1 [01]\.[0-9]{3} against the labels of [0-9]+ held-out tokens \([0-9]+ positive\); embed window 3: AUC' "$tmp/t"
check "show: the samples it was trained on" grep -Eq '^trained on [0-9]+ tokens \([0-9]+ positive\) of 32 train-split documents \(any category\), held out 32 test-split documents; [0-9.]+ s$' "$tmp/t"
check "show: a row per token with label, score and unit value" grep -Eq '^  6  flowers +\+ +[01]\.[0-9]{3} +[0-9]+\.[0-9]{3}$' "$tmp/t"
check "show: a token below the threshold" grep -Eq '^  1  genus +\. +[01]\.[0-9]{3} +-?[0-9]+\.[0-9]{3}$' "$tmp/t"
check "top: what is ranked" grep -Eq '^concept flower: the 5 highest-scoring of [0-9]+ held-out tokens \(a test-split sample\), by resid@3$' "$tmp/t"
check "top: ranked rows with the token in context" grep -Eq '^   5  [01]\.[0-9]{3}  [+.] +[0-9]+ +[0-9]+  .*\[[^]]+\]' "$tmp/t"
check "export: said" grep -q "^concept flower exported to $tmp/exp:" "$tmp/t"
for k in resid embed; do
  check "export: classifier-$k.safetensors" test -s "$tmp/exp/classifier-$k.safetensors"
done
check "metadata: features and layer" sh -c "head -c 2000 '$tmp/exp/classifier-resid.safetensors' | grep -aq '\"features\":\"resid\",\"layer\":\"3\"'"
check "metadata: the concept and its thresholds" sh -c "head -c 2000 '$tmp/exp/classifier-resid.safetensors' | grep -aq '\"concept\":\"mlp:3:661>2\",\"unit_families\":\"mlp\",\"unit_thresholds\":\"2\"'"
check "metadata: the decision threshold" sh -c "head -c 2000 '$tmp/exp/classifier-resid.safetensors' | grep -aq '\"threshold\":\"0.5\"'"
check "weights: F32 [256]" sh -c "head -c 2000 '$tmp/exp/classifier-resid.safetensors' | grep -aq '\"weight\":{\"dtype\":\"F32\",\"shape\":\[256\]'"
check "embed classifier: a window of 3 embeddings" sh -c "head -c 2000 '$tmp/exp/classifier-embed.safetensors' | grep -aq '\"layer\":\"embed\",\"radius\":\"1\".*\"weight\":{\"dtype\":\"F32\",\"shape\":\[768\]'"
check "labels: a line per held-out document" test "$(lz4cat "$tmp/exp/labels-test.jsonl.lz4" | wc -l)" -eq 32
check "labels: byte spans as label-corpus writes" sh -c "lz4cat '$tmp/exp/labels-train.jsonl.lz4' | head -1 | grep -Eq '^\{\"doc\":[0-9]+,\"category\":\"[a-z./-]+\",\"n_tokens\":[0-9]+,\"spans\":\[(\[[0-9]+,[0-9]+\],?)*\]\}$'"
check "off, then the list says none is active" grep -q "^no active concept; 'concept NAME' activates one$" "$tmp/t"

# JSON: one object per command
$MS --json -c 'prompt an apple pie; concept food mlp:3:661>2 --docs 16; concept food; concept top 3; concept; concept off' >"$tmp/j" 2>&1
check "JSON runs" test $? -eq 0
check "JSON: define" grep -Eq '^\{"cmd":"concept","what":"define","name":"food","units":"mlp:3:661>2","layer":3,"expand":"none","category":null,"trained":false\}$' "$tmp/j"
check "JSON: show with the classifier" grep -Eq '^\{"cmd":"concept","what":"show",.*"trained":true,"classifier":\{"shown":"resid@3","resid":\{"name":"resid@3","auc":[0-9.]+,' "$tmp/j"
check "JSON: a token with label, score and values" grep -Eq '"tokens":\[\{"pos":0,"token":"an","label":(true|false),"score":[0-9.e-]+,"values":\[[0-9.e-]+\]\}' "$tmp/j"
check "JSON: top in context" grep -Eq '"what":"top",.*"top":\[\{"rank":1,"doc":[0-9]+,"pos":[0-9]+,"token":"[^"]*","score":[0-9.e-]+,"label":(true|false),"context":\[' "$tmp/j"
check "JSON: top 3" sh -c "grep '\"what\":\"top\"' '$tmp/j' | grep -q '\"rank\":3,' && ! grep '\"what\":\"top\"' '$tmp/j' | grep -q '\"rank\":4,'"
check "JSON: the list names the active one" grep -Eq '^\{"cmd":"concept","concepts":\[\{"name":"food",.*"active":true\}\],"active":"food"\}$' "$tmp/j"
check "JSON: off" grep -q '^{"cmd":"concept","active":null}$' "$tmp/j"
check "JSON: one line per command" test "$(wc -l <"$tmp/j")" -eq 6

# errors: one line, exit status 2
expect_out "top without a concept" "^error: no active concept; 'concept NAME' activates one \(concept top\)$" $MS -c 'concept top'
expect_out "bad unit" "^error: unit 'foo:1' is not sae:I, meta:B:I, mlp:L:I or resid:I \(concept\)$" $MS -c 'concept x foo:1'
expect_out "out of range" '^error: unit sae index 99999 out of range 0\.\.4095 \(concept\)$' $MS -c 'concept x sae:99999'
expect_out "unknown concept" "^error: no concept 'food'; 'concept' lists them \(concept\)$" $MS -c 'concept food'
expect_out "reserved name" "^error: 'top' is a concept subcommand, not a name \(concept\)$" $MS -c 'concept top sae:1'
expect_out "bad option value" "^error: --expand takes none, word or window:N \(concept\)$" $MS -c 'concept x sae:1 --expand sideways'
expect_out "neither units nor --auto" '^error: give UNITS or --auto CATEGORY \(concept\)$' $MS -c 'concept x --docs 8'
expect_out "a name that reads as options" "^error: a concept name has no ':', ',' or '>' \(those are units\) and does not start with '-' \(concept\)$" $MS -c 'concept -x sae:1'
expect_out "units and --auto" '^error: give UNITS or --auto CATEGORY, not both \(concept\)$' $MS -c 'concept x sae:1 --auto noun.food'
expect_out "a concept that never fires" '^error: the concept labels none of the [0-9]+ train-sample tokens positive: nothing to learn' \
  $MS -c 'concept never sae:18>1000 --docs 4; concept never'
expect_status "errors exit with status 2" 2 $MS -c 'concept x foo:1'
