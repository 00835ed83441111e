# lib.sh — sourced by end-to-end scripts. `check NAME CMD...` runs CMD and prints a
# TAP line; `expect_out NAME PATTERN CMD...` also greps CMD's output for PATTERN.
MS=${MS_BIN:-build/metascope}
n=0
_out=$(mktemp)
# Each script gets its own empty statistics cache (never ~/.cache), removed
# by the script's EXIT trap.
XDG_CACHE_HOME=$(mktemp -d); export XDG_CACHE_HOME
unset METASCOPE_CACHE
trap 'rm -rf "$_out" "$XDG_CACHE_HOME"' EXIT
check() {
  name=$1; shift
  n=$((n + 1))
  if "$@" >"$_out" 2>&1; then echo "ok $n - $name"
  else echo "not ok $n - $name"; sed 's/^/# /' "$_out" | head -20; fi
}
expect_out() { # name, extended regex, command...
  name=$1; pat=$2; shift 2
  n=$((n + 1))
  out=$("$@" 2>&1)
  if printf '%s\n' "$out" | grep -Eq -- "$pat"; then echo "ok $n - $name"
  else echo "not ok $n - $name"; printf '%s\n' "$out" | head -20 | sed 's/^/# /'; echo "# expected /$pat/"; fi
}
expect_status() { # name, status, command...
  name=$1; want=$2; shift 2
  n=$((n + 1))
  out=$("$@" 2>&1); got=$?
  if [ "$got" = "$want" ]; then echo "ok $n - $name"
  else echo "not ok $n - $name (status $got, want $want)"; printf '%s\n' "$out" | head -10 | sed 's/^/# /'; fi
}
