#!/bin/sh
# run.sh SECONDS [HARNESS...] — build each libFuzzer harness (default: all)
# with clang (ASan + UBSan, every finding fatal: -fno-sanitize-recover=all)
# and run it for SECONDS, one after the other. Exits 1 when any harness
# fails to build or finds anything (crash, sanitizer report, leak, timeout,
# out-of-memory); the inputs are copied to tests/fixtures/fuzz/NAME/, where
# the unit tests (test_fuzz_regress) replay them for ever after.
# MS_FUZZ_RUNS=N stops a harness after N executions (the time limit still holds).
set -u
secs=${1:-60}
[ $# -gt 0 ] && shift
all="safetensors tokenizer_json commands torchpt glpconfig lz4 hfconfig index index_record sae harvest checkpoint corpus probe_tasks gpt2_vocab rep_statistics budget"
harnesses=${*:-$all}
out=build-fuzz
mkdir -p "$out/obj"
incs="$(for d in engine/*/; do printf -- "-I%s " "${d%/}"; done)"
flags="-g -O1 -std=c17 -D_GNU_SOURCE $incs$(pkg-config --cflags openblas json-c libpcre2-8 yaml-0.1) -fsanitize=address,undefined -fno-sanitize-recover=all"
libs="$(pkg-config --libs openblas json-c libpcre2-8 liblz4 yaml-0.1) -lm"

# The engine once, as an archive (fuzzer-no-link: coverage without a main).
lib="$out/libengine.a"
stale=0
for c in engine/*/*.c; do
  o="$out/obj/$(echo "${c%.c}" | tr / _).o"
  if [ ! -f "$o" ] || [ "$c" -nt "$o" ] || [ -n "$(find engine -name '*.h' -newer "$o" | head -n 1)" ]; then
    echo "== cc $c"
    clang $flags -fsanitize=fuzzer-no-link -c "$c" -o "$o" || exit 1
    stale=1
  fi
done
[ $stale = 1 ] || [ ! -f "$lib" ] && { rm -f "$lib"; ar rcs "$lib" "$out"/obj/*.o; }

# Scratch copy for the command harness: what `load` reads or a command
# writes by a relative path is a copy, never the tree.
box="$out/sandbox"
rm -rf "$box" && mkdir -p "$box/tests" && cp -rL tests/fixtures "$box/tests/"

status=0
for h in $harnesses; do
  echo "== fuzz_$h: building"
  clang $flags -fsanitize=fuzzer -Itests/fuzz tests/fuzz/fuzz_$h.c "$lib" -o "$out/fuzz_$h" $libs || { status=1; continue; }
  mkdir -p "$out/corpus/$h" "$out/crash/$h"
  echo "== fuzz_$h: ${secs}s"
  maxlen=65536
  MS_FUZZ_SANDBOX="$PWD/$box" "$out/fuzz_$h" -max_total_time="$secs" ${MS_FUZZ_RUNS:+-runs=$MS_FUZZ_RUNS} -max_len=$maxlen -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$PWD/$out/crash/$h/" -print_final_stats=1 \
      "$PWD/$out/corpus/$h" "$PWD/tests/fuzz/seeds/$h" >"$out/fuzz_$h.log" 2>&1
  rc=$?
  grep -E 'stat::number_of_executed_units|stat::peak_rss|DONE|INITED' "$out/fuzz_$h.log" | tail -n 3
  if [ $rc -ne 0 ]; then
    echo "fuzz_$h FAILED (see $out/fuzz_$h.log); inputs copied to tests/fixtures/fuzz/$h/"
    mkdir -p tests/fixtures/fuzz/$h
    cp "$out/crash/$h/"* tests/fixtures/fuzz/$h/ 2>/dev/null
    status=1
  fi
done
exit $status
