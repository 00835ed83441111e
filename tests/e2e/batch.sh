#!/bin/sh
# batch.sh — batch mode as a user scripts it: -c, script files, stdin, --json,
# and the one-line errors with exit status 2.
. tests/e2e/lib.sh
G=tests/fixtures/models/gpt2_tiny
L=tests/fixtures/models/llama_tiny
tmp=$(mktemp -d); trap 'rm -rf "$tmp" "$_out" "$XDG_CACHE_HOME"' EXIT

expect_out "--version" '^metascope [0-9]+\.[0-9]+\.[0-9]+$' $MS --version
expect_out "--help lists -c" '-c CMDS' $MS --help
for c in bench train-bpe train-lm eval-lm harvest train-glp pack-model pack-glp eval-glp index train-sae eval-sae \
         scaling probe probe-tasks eval-steer label-corpus distill label-compare eval-recon sample fisher; do
  expect_out "$c --help prints its usage" "^ +metascope ([a-z-]+\\|)*$c[ |]" $MS $c --help
done
expect_status "eval-glp -h exits 0" 0 $MS eval-glp -h
expect_out "help lists commands" 'prompt TEXT' $MS --no-model -c help
expect_out "help CMD" 'set KEY VALUE' $MS --no-model -c 'help set'
expect_out "load model" 'loaded .*gpt2, 3 layers, d_model 64' $MS --no-model -c "load model $G"
expect_out "prompt shows next tokens" 'prompt: [0-9]+ tokens; next: ".*" [0-9.]+%' $MS --model $G -c 'prompt Hello world'
expect_out "tokens table" '^ +0 +[0-9]+  "' $MS --model $L -c 'tokens Hello'
expect_out "llama prepends BOS" '"<\|begin_of_text\|>"' $MS --model $L -c 'tokens Hi'
expect_out "bos off" '^ +0 +[0-9]+  "H' $MS --model $L -c 'set bos off; tokens Hi'
expect_out "acts table" 'layer 1 residual stream' $MS --model $G -c 'prompt The cat; acts'
expect_out "layer select" 'layer 2 of 3' $MS --model $G -c 'layer 2'
expect_out "nll mean" 'mean nll [0-9.]+ nats over [0-9]+ tokens' $MS --model $G -c 'nll the quick brown fox'
expect_out "quoted text keeps ;" 'mean nll' $MS --model $G -c 'nll "a; b"'
expect_out "set echoes" 'temperature = 0' $MS --model $G -c 'set temperature 0'
expect_out "status" 'sampling temperature 0.8' $MS --model $G -c status

# Greedy generation is deterministic; seeded sampling is reproducible.
a=$($MS --model $G -c 'set temperature 0; prompt Once upon; gen 12')
b=$($MS --model $G -c 'set temperature 0; prompt Once upon; gen 12')
check "greedy gen deterministic" test "$a" = "$b"
a=$($MS --model $L -c 'set seed 7; prompt Once; gen 16')
b=$($MS --model $L -c 'set seed 7; prompt Once; gen 16')
c=$($MS --model $L -c 'set seed 8; prompt Once; gen 16')
check "seeded sampling reproducible" test "$a" = "$b"
check "different seed differs" test "$a" != "$c"

# JSON output: one object per command, parseable fields.
expect_out "--json gen" '^\{"cmd":"gen",.*"tokens":\[[0-9,]+\]' $MS --json --model $G -c 'prompt Hi; gen 4'
expect_out "--json nll" '"mean_nll":[0-9.]+' $MS --json --model $G -c 'nll hello there'
expect_out "--json acts" '"cmd":"acts","layer":1' $MS --json --model $G -c 'prompt hey; acts'
lines=$($MS --json --model $G -c 'prompt a; layer 0; status' | wc -l)
check "--json one line per command" test "$lines" -eq 3

# Script file and stdin.
printf 'prompt Hello\n# a comment\n\nset temperature 0\ngen 3\n' > "$tmp/s.ms"
expect_out "script file" 'prompt: [0-9]+ tokens' $MS --model $G "$tmp/s.ms"
expect_out "commands on stdin" 'layer 0 of 3' sh -c "echo 'layer 0' | $MS --model $G"

# Errors: one line, status 2, naming the command or file.
expect_status "unknown command exits 2" 2 $MS --no-model -c frobnicate
expect_out "unknown command message" "^error: unknown command 'frobnicate'" $MS --no-model -c frobnicate
expect_out "no model message" "^error: no model loaded" $MS --no-model -c 'prompt hi'
expect_status "bad layer exits 2" 2 $MS --model $G -c 'layer 9'
expect_out "bad layer names range" "error: '9' is not an integer in 0..2 \(layer\)" $MS --model $G -c 'layer 9'
expect_out "missing model folder" "error: not a model folder \(/nonexistent\)" $MS --model /nonexistent -c status
expect_status "missing model exits 2" 2 $MS --model /nonexistent -c status
expect_out "script error names line" "error: .* \\[$tmp/bad.ms:2\\]" sh -c "printf 'status\nbogus\nstatus\n' > $tmp/bad.ms; $MS --no-model $tmp/bad.ms"
expect_out "stops at first error" '^error' sh -c "$MS --no-model -c 'bogus; status' 2>&1 | head -1"
expect_out "unterminated quote" 'unterminated quote' $MS --model $G -c 'nll "abc'
expect_out "bad option" "unknown option '--frob'" $MS --frob
expect_out "bad set key" "unknown setting 'colour'" $MS --no-model -c 'set colour red'
mkdir -p "$tmp/m"; cp $G/* "$tmp/m/"; printf '{"model_type":"gpt2",' > "$tmp/m/config.json"
expect_out "bad config json" "error: truncated JSON \(.*config.json\)" $MS --model "$tmp/m" -c status
cp $G/config.json "$tmp/m/"; head -c 100 $G/model.safetensors > "$tmp/m/model.safetensors"
expect_out "truncated safetensors" "error: header length .* exceeds file size .*model.safetensors" $MS --model "$tmp/m" -c status
expect_status "errors never crash (exit 2, not a signal)" 2 $MS --model "$tmp/m" -c status

# lz4-compressed folder loads transparently.
mkdir -p "$tmp/z"; cp $G/config.json $G/vocab.json $G/merges.txt "$tmp/z/"
if command -v lz4 >/dev/null 2>&1; then
  lz4 -q $G/model.safetensors "$tmp/z/model.safetensors.lz4"
  a=$($MS --model $G -c 'set temperature 0; prompt Hi; gen 5')
  b=$($MS --model "$tmp/z" -c 'set temperature 0; prompt Hi; gen 5')
  check "lz4 folder gives identical output" test "$a" = "$b"
fi

# set eos ignore: gen produces exactly N tokens even past end-of-text.
cnt=$($MS --json --model $G -c 'set eos ignore; set temperature 0; prompt Hi; gen 300' | grep '"cmd":"gen"' | sed -n 's/.*"tokens":\[\([0-9,]*\)\].*/\1/p' | tr ',' '\n' | wc -l)
check "eos ignore gives exactly N tokens (sliding past the context)" test "$cnt" -eq 300

# pack-model keeps what the model computes (llama3 rope scaling included).
a=$($MS --model $L -c 'nll The quick brown fox jumps over the lazy dog')
$MS pack-model $L --out "$tmp/packed" --no-lz4 >/dev/null
b=$($MS --model "$tmp/packed" -c 'nll The quick brown fox jumps over the lazy dog')
check "packed llama_tiny gives identical nll" test "$a" = "$b"
$MS pack-model $L --out "$tmp/packed" >/dev/null
check "repacking as lz4 removes the plain files" test ! -e "$tmp/packed/model.safetensors" -a -e "$tmp/packed/model.safetensors.lz4"
long=$(awk 'BEGIN { for (i = 0; i < 300; i++) printf "hello world " }')
expect_out "a line of 600 words" '^ +2098 +[0-9]+ ' $MS --model $G -c "tokens $long"
expect_out "prompt longer than the context" "error: prompt has [0-9]+ tokens, the context holds 128" \
  $MS --model $G -c "prompt $(awk 'BEGIN { for (i = 0; i < 900; i++) printf "hello world " }')"
expect_out "set ctx refuses past the model's context, saying why" "context is 128 tokens; ctx 999999 cannot be honoured" $MS --model $G -c 'set ctx 999999'
expect_status "... with status 2" 2 $MS --model $G -c 'set ctx 999999'
expect_out "set ctx within it is honoured" 'ctx = 100' $MS --model $G -c 'set ctx 100'
# --json all the way: errors as objects on stdout (status unchanged), help, shortest floats
expect_out "--json: an error is a JSON object on stdout" '^\{"error":"unknown command .bogus.; try .help. \(command\)"\}$' sh -c "$MS --model $G --json -c bogus 2>/dev/null"
expect_status "... with status 2" 2 $MS --model $G --json -c bogus
expect_out "... nothing on stderr" '^$' sh -c "$MS --model $G --json -c bogus 2>&1 >/dev/null"
printf 'status\nbogus\n' > "${TMPDIR:-/tmp}/ms_json_err$$.ms"
expect_out "... a script's error names file and line" '"error":"unknown command .*","file":".*ms_json_err[0-9]+\.ms","line":2\}' $MS --model $G --json "${TMPDIR:-/tmp}/ms_json_err$$.ms"
rm -f "${TMPDIR:-/tmp}/ms_json_err$$.ms"
expect_out "--json help is a JSON object" '^\{"cmd":"help","commands":\[\{"name":"load"' $MS --model $G --json -c help
expect_out "--json help CMD" '^\{"cmd":"help","commands":\[\{"name":"show","synopsis":"show UNIT"' $MS --model $G --json -c 'help show'
expect_out "--json floats in the shortest round-trip form" '"temperature":0\.8,"top_k":40,"top_p":0\.95' $MS --model $G --json -c status
expect_out "show names the layer of a unit's values" '^resid:3 \(layer 1\) over the prompt' $MS --model $G -c 'prompt ab; layer 1; show resid:3'
expect_out "-c needs a value" 'error: -c needs a value' $MS -c
# --json on every error path: options, loading, scripts, subcommands; nothing
# on stderr, status 2 as without --json.
json_err() { # name, pattern (the object's error text), args...
  name=$1; pat=$2; shift 2
  expect_out "--json $name: an error object on stdout" "^\\{\"error\":\"$pat" sh -c "$MS $* 2>/dev/null | tail -1"
  expect_status "... status 2" 2 $MS "$@"
  expect_out "... nothing on stderr" '^$' sh -c "$MS $* 2>&1 >/dev/null"
}
json_err "unknown option" "unknown option '--frob'" --json --frob
json_err "an option without its value" "-c needs a value \\(options\\)" --json -c
json_err "a bad --threads" "--threads takes 1\\.\\.16 \\(options\\)" --json --threads x
json_err "two scripts" "more than one script given" --json a.ms b.ms
json_err "a model that fails to load" "not a model folder \\(/nonexistent\\)" --json --model /nonexistent -c status
json_err "a script that cannot be opened" "cannot open script \\(/nonexistent\\.ms\\)" --json --no-model /nonexistent.ms
json_err "a command that needs a model" "no model loaded; use 'load model PATH' \\(gen\\)" --json --no-model -c gen
json_err "eval-lm: a model that fails to load" "not a model folder" eval-lm --json /nonexistent
json_err "eval-glp: an unknown option" "unknown option '--frob' \\(eval-glp" eval-glp --json --frob
json_err "probe: an option without its value" "an option needs a value \\(probe\\)" probe --json --model
json_err "eval-steer: an option without its value" "--model needs a value \\(eval-steer\\)" eval-steer --json --model
json_err "a subcommand without --json" "unknown option '--json' \\(train-lm" train-lm --json
expect_out "--json --demo nope: the error object on stdout" '^\{"error":"no demo .nope. \(options\)"\}$' sh -c "$MS --json --demo nope 2>/dev/null"
expect_out "... the demos listed on stderr" '^  tour ' sh -c "$MS --json --demo nope 2>&1 >/dev/null"
expect_out "'set json on' turns later errors into objects too" '^\{"error":"unknown command .bogus.' sh -c "$MS --model $G -c 'set json on; bogus' 2>/dev/null | tail -1"

# Ctrl-C (SIGINT) in batch mode stops the running command and the batch: it
# is reported as cancelled, not as an error, with status 130.
interrupt() { # output file, args...: waits for the prompt's result, then one SIGINT
  o=$1; shift
  $MS "$@" >"$o" 2>"$o.err" & pid=$!
  i=0; while ! grep -q 'prompt: \|"cmd":"prompt"' "$o" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
  sleep 0.3; kill -INT $pid; wait $pid; echo $? >"$o.rc"
}
interrupt "$tmp/int.json" --threads 1 --json --model $G -c 'set eos ignore; prompt Hi; gen 1000000; status'
check "--json Ctrl-C: status 130" grep -qx 130 "$tmp/int.json.rc"
check "... the partial gen says cancelled" grep -q '^{"cmd":"gen",.*"cancelled":true}$' "$tmp/int.json"
check "... then the cancel object, last" sh -c "tail -1 $tmp/int.json | grep -qx '{\"cmd\":\"gen\",\"cancelled\":true}'"
check "... the batch stops (no status)" sh -c "! grep -q '\"cmd\":\"status\"' $tmp/int.json"
check "... nothing on stderr" test ! -s "$tmp/int.json.err"
interrupt "$tmp/int.txt" --threads 1 --model $G -c 'set eos ignore; prompt Hi; gen 1000000; status'
check "plain Ctrl-C: status 130" grep -qx 130 "$tmp/int.txt.rc"
check "... 'cancelled (gen)' on stderr, not an error" grep -qx 'cancelled (gen)' "$tmp/int.txt.err"
# a subcommand's cancel too (eval-steer installs its handler before loading)
$MS eval-steer --json --threads 1 --concepts noun.food --alphas 0,1 --prefixes 2 --tokens 4 >"$tmp/es.json" 2>"$tmp/es.err" & pid=$!
sleep 1; kill -INT $pid; wait $pid; echo $? >"$tmp/es.rc"
check "eval-steer --json Ctrl-C: status 130" grep -qx 130 "$tmp/es.rc"
check "... the cancel object on stdout" grep -qx '{"cmd":"eval-steer","cancelled":true}' "$tmp/es.json"
check "... no error on stderr" sh -c "! grep -q error $tmp/es.err"
