#!/bin/sh
# run.sh SECONDS [HARNESS...] — build each libFuzzer harness (default: all) with clang (ASan + UBSan) and
# run it for SECONDS. Crashing inputs are copied to tests/fixtures/fuzz/NAME/,
# where the unit tests replay them for ever after.
set -u
secs=${1:-60}
[ $# -gt 0 ] && shift
harnesses=${*:-safetensors tokenizer_json commands torchpt glpconfig}
out=build-fuzz
mkdir -p "$out"
flags="-g -O1 -std=c17 -D_GNU_SOURCE $(for d in engine/*/; do printf -- "-I%s " "${d%/}"; done)$(pkg-config --cflags openblas json-c libpcre2-8 yaml-0.1) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"
libs="$(pkg-config --libs openblas json-c libpcre2-8 liblz4 yaml-0.1) -lm"
status=0
for h in $harnesses; do
  echo "== fuzz_$h: building"
  clang $flags tests/fuzz/fuzz_$h.c engine/*/*.c -o "$out/fuzz_$h" $libs || { status=1; continue; }
  mkdir -p "$out/corpus/$h" "$out/crash/$h"
  echo "== fuzz_$h: ${secs}s"
  "$out/fuzz_$h" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=4096 \
      -artifact_prefix="$out/crash/$h/" -print_final_stats=1 \
      "$out/corpus/$h" tests/fuzz/seeds/$h >"$out/fuzz_$h.log" 2>&1
  rc=$?
  grep -E 'stat::number_of_executed_units|stat::peak_rss' "$out/fuzz_$h.log"
  if [ $rc -ne 0 ]; then
    echo "fuzz_$h FAILED (see $out/fuzz_$h.log); crashing inputs copied to tests/fixtures/fuzz/$h/"
    cp "$out/crash/$h/"* tests/fixtures/fuzz/$h/ 2>/dev/null
    status=1
  fi
done
exit $status
