#!/bin/sh
# cache.sh — corpus statistics once: `vec NAME prompt` runs no corpus sample;
# the mean residual norm behind alpha is measured at the first steer and read
# back from $XDG_CACHE_HOME/metascope by the next run; the key follows the
# model's content (not its path), the layer and bos; a corrupt entry is
# ignored with a note and rewritten; `set cache off` and METASCOPE_CACHE=off.
. tests/e2e/lib.sh
tmp=$(mktemp -d); trap 'rm -rf "$tmp" "$_out" "$XDG_CACHE_HOME"' EXIT
C="$XDG_CACHE_HOME/metascope"
P='prompt The soup was'
V='vec cars prompt "the car and the truck" "the cat and the dog"'
entries() { ls "$C" 2>/dev/null | grep -c '^stat-.*\.txt$'; }
from() { # the "from" of the status' first statistic, or "none"
  grep '"cmd":"status"' | sed -n 's/.*"stats":\[{[^]]*"from":"\([a-z]*\)".*/\1/p;t;s/.*/none/p'
}

$MS --json -c "$P; $V; status" >"$tmp/vec" 2>&1
check "vec prompt runs" test $? -eq 0
check "vec prompt measures nothing: mean |h| unknown" grep -q '"mean_resid_norm":null,"cmd":"vec"' "$tmp/vec"
check "... and writes no cache entry" test "$(entries)" -eq 0
check "status shows the cache folder" grep -q "\"cache\":\"$C\"" "$tmp/vec"

$MS --json -c "$P; $V; steer cars 1; status" >"$tmp/1" 2>&1
check "the first steer measures the norm" test "$(from <"$tmp/1")" = measured
check "... and writes one entry" test "$(entries)" -eq 1
f=$(ls "$C"/stat-*.txt)
check "the entry names its key" grep -q '^key mean_resid_norm v1 model=[0-9a-f]\{16\} layer=3 bos=1 docs=32 tokens=128 ' "$f"

$MS --json -c "$P; $V; status" >"$tmp/2" 2>&1
check "the second run reads it from the cache" test "$(from <"$tmp/2")" = cache
n1=$(sed -n 's/.*"value":\([0-9.e+-]*\).*/\1/p' "$tmp/1"); n2=$(sed -n 's/.*"value":\([0-9.e+-]*\).*/\1/p' "$tmp/2")
check "... the same value, bit for bit" test -n "$n1" -a "$n1" = "$n2"
check "... so vec shows the ratio without running the corpus" grep -q '"mean_resid_norm":[0-9.]*,"cmd":"vec"' "$tmp/2"
expect_out "status (text) says where it came from" '^norm     layer 3: mean \|h\| [0-9.]+ over [0-9]+ tokens of 32 documents, read from the cache$' \
  $MS -c "$P; steer off; $V; steer cars 1; status"

cp -r assets/model "$tmp/copy"
check "a copy of the model elsewhere is the same model" \
  sh -c "$MS --json --model $tmp/copy -c '$P; $V; steer cars 1; status' | grep -q '\"from\":\"cache\"'"
sed 's/"rms_norm_eps": [^,]*/"rms_norm_eps": 1e-4/' assets/model/config.json >"$tmp/copy/config.json"
check "a changed config is another model" \
  sh -c "$MS --json --model $tmp/copy -c '$P; $V; steer cars 1; status' | grep -q '\"from\":\"measured\"'"
check "... with its own entry" test "$(entries)" -eq 2
check "another layer is another key" \
  sh -c "$MS --json -c 'layer 2; $P; $V; steer cars 1; status' | grep -q '\"from\":\"measured\"'"
check "bos is part of the key" \
  sh -c "$MS --json -c 'set bos off; $P; $V; steer cars 1; status' | grep -q '\"from\":\"measured\"'"
check "four entries now" test "$(entries)" -eq 4

cp "$f" "$tmp/good"
printf 'metascope statcache 1\nkey %s\nmean_norm 12.5\n' "$(sed -n 's/^key //p' "$f")" >"$f"
$MS -c "$P; $V; steer cars 1; status" >"$tmp/corrupt" 2>&1
check "a corrupt entry is ignored with a note" \
  grep -q "^note: ignoring cache entry $f (a value is missing or unreadable); recomputing$" "$tmp/corrupt"
check "... and measured again" grep -q 'measured in this session$' "$tmp/corrupt"
check "... and rewritten whole" cmp "$f" "$tmp/good"
echo garbage >"$f"
expect_out "garbage is not a cache entry" "^note: ignoring cache entry $f \(not a cache entry\); recomputing$" \
  $MS -c "$P; $V; steer cars 1"
check "no temporary files are left" test "$(ls "$C" | grep -vc '^stat-.*\.txt$')" -eq 0

check "set cache off neither reads nor writes" \
  sh -c "$MS --json -c 'set cache off; layer 1; $P; $V; steer cars 1; status' | grep -q '\"cache\":null,\"stats\":\[{[^]]*\"from\":\"measured\"'"
check "... (still four entries)" test "$(entries)" -eq 4
check "METASCOPE_CACHE=off too" \
  sh -c "METASCOPE_CACHE=off $MS --json -c '$P; $V; steer cars 1; status' | grep -q '\"cache\":null,\"stats\":\[{[^]]*\"from\":\"measured\"'"
expect_out "status says the cache is off" '^cache    off \(set cache off\)$' $MS -c "set cache off; status"
expect_out "help set mentions the cache" 'cache \(on\|off' $MS -c "help set"
expect_out "set cache takes on or off" "error: cache takes on or off, not 'maybe' \\(set cache\\)" $MS -c "set cache maybe"
