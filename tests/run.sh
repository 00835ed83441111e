#!/bin/sh
# run.sh — runs every suite: cmocka unit binaries (TAP output) and the shell
# end-to-end scripts (which print TAP "ok"/"not ok" lines through tests/e2e/lib.sh).
# Prints each suite's failures, then one closing line "N passed, N failed".
BUILD=${BUILD:-build}
export MS_BIN="$BUILD/metascope"
pass=0; fail=0
log=$(mktemp); trap 'rm -f "$log"' EXIT
run_suite() { # name, command...
  name=$1; shift
  "$@" >"$log" 2>&1
  rc=$?
  p=$(grep -ac '^ok ' "$log"); f=$(grep -ac '^not ok ' "$log")
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "not ok - $name exited with status $rc" >>"$log"; fi
  pass=$((pass + p)); fail=$((fail + f))
  printf '%-28s %4d passed, %d failed\n' "$name" "$p" "$f"
  [ "$f" -gt 0 ] && grep -aE '^not ok |^# |Sanitizer|runtime error' "$log" | head -40 | sed 's/^/    /'
}
for src in tests/unit/test_*.c; do # only suites that still have a source
  t="$BUILD/tests/$(basename "$src" .c)"
  if [ -x "$t" ]; then CMOCKA_MESSAGE_OUTPUT=TAP run_suite "$(basename "$t")" "$t"
  else fail=$((fail + 1)); echo "$(basename "$t"): not built"; fi
done
run_suite layers sh tools/check_layers.sh
for s in tests/e2e/*.sh; do
  case "$s" in */lib.sh) continue;; esac
  run_suite "e2e/$(basename "$s" .sh)" sh "$s"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
