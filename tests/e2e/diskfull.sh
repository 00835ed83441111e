#!/bin/sh
# diskfull.sh — every writer on a full disk (issue #15): exit status 2 and one
# stderr line naming the file and "No space left on device", no temporary
# left behind, and what the destination held before is intact. The disk is a
# small tmpfs mounted in a private user and mount namespace (unshare -rm) when
# the kernel allows one; otherwise build/tests/nospace.so (tests/e2e/nospace.c)
# makes write() under the destination fail with ENOSPC past the same room.
if [ -z "${MS_DISKFULL_NS:-}" ] && unshare -rm true 2>/dev/null; then
  MS_DISKFULL_NS=1 exec unshare -rm sh "$0" "$@"
fi
. tests/e2e/lib.sh
tmp=$(mktemp -d)
F=$tmp/full
M=tests/fixtures/models/gpt2_tiny
C=tests/fixtures/corpus_tiny
SHIM=${BUILD:-build}/tests/nospace.so
mkdir -p "$F"
mode=shim
[ -n "${MS_DISKFULL_NS:-}" ] && mount -t tmpfs -o size=64k none "$F" 2>/dev/null && mode=tmpfs && umount "$F"
trap 'umount "$F" 2>/dev/null; rm -rf "$tmp" "$_out" "$XDG_CACHE_HOME"' EXIT
echo "# full disk by $mode"
[ $mode = shim ] && [ -n "${ASAN_OPTIONS:-}" ] && export ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0"

# full_disk KB [DIR] — an empty $F with KB kilobytes of room after a copy of DIR
full_disk() {
  umount "$F" 2>/dev/null; rm -rf "$F"; mkdir -p "$F"
  if [ $mode = tmpfs ]; then
    need=$([ -n "${2:-}" ] && du -sk "$2" | cut -f1 || echo 0)
    mount -t tmpfs -o size=$((need + $1 + 64))k none "$F"
  fi
  [ -n "${2:-}" ] && cp -r "$2" "$F/"
  if [ $mode = tmpfs ]; then
    fill=$(($(df -k --output=avail "$F" | tail -n 1) - $1))
    [ $fill -gt 0 ] && dd if=/dev/zero of="$F/.fill" bs=1k count=$fill 2>/dev/null
  fi
  room=$(($1 * 1024))
}

# full NAME REGEX CMD... — CMD on the full disk: status 2, one error line, the
# last on stderr (progress lines may come before it), matching REGEX
full() {
  name=$1; pat=$2; shift 2
  n=$((n + 1))
  if [ $mode = tmpfs ]; then (exec timeout -s KILL 60 "$@") >"$tmp/out" 2>"$tmp/err"
  else (LD_PRELOAD=$PWD/$SHIM MS_NOSPACE_UNDER=$F MS_NOSPACE_BYTES=$room exec timeout -s KILL 60 "$@") >"$tmp/out" 2>"$tmp/err"; fi
  rc=$?
  why=""
  [ $rc = 2 ] || why="status $rc, want 2"
  [ -z "$why" ] && [ "$(grep -c '^error:' "$tmp/err")" != 1 ] && why="$(grep -c '^error:' "$tmp/err") error lines, want 1"
  [ -z "$why" ] && ! tail -n 1 "$tmp/err" | grep -Eq -- "^error: .*No space left on device.*($pat)" && why="last line does not match"
  if [ -z "$why" ]; then echo "ok $n - $name"
  else echo "not ok $n - $name ($why)"; head -c 600 "$tmp/err" | sed 's/^/# /'; fi
  check "$name: no temporary left" sh -c "! find '$F' -name '*.tmp.*' | grep -q ."
}

full_disk 16
full "index" "records.bin|tokens.safetensors|manifest.json" \
  $MS index --model $M --corpus $C --units mlp --layer 0 --tokens 100 --k 2 --out "$F/ix"

full_disk 16
full "harvest" "shard|manifest|stats" $MS harvest --model $M --corpus $C --tokens 2000 --out "$F/acts"

full_disk 8
full "pack-model" "model.safetensors|tokenizer.json|config.json|vocab.json|merges.txt" $MS pack-model tests/fixtures/models/llama_tiny --out "$F/pm"

# a GLP checkpoint that exists: resuming onto a full disk keeps it as it was
$MS harvest --model $M --corpus $C --tokens 60 --shard-tokens 30 --out "$tmp/acts" >/dev/null 2>&1
printf '{"d_model": 8, "d_mlp": 16, "n_layers": 1, "batch": 8, "steps": 4, "heldout": 0.1, "eval_rows": 4}\n' >"$tmp/g.json"
$MS train-glp --acts "$tmp/acts" --config "$tmp/g.json" --out "$tmp/g" --max-steps 2 >/dev/null 2>&1
full_disk 0 "$tmp/g"
full "train-glp --resume, no room for loss.csv" "loss.csv" \
  $MS train-glp --acts "$tmp/acts" --config "$tmp/g.json" --out "$F/g" --resume
full_disk 12 "$tmp/g" # loss.csv fits, the 22 KB checkpoint does not
full "train-glp --resume, no room for the checkpoint" "ckpt.safetensors" \
  $MS train-glp --acts "$tmp/acts" --config "$tmp/g.json" --out "$F/g" --resume
check "train-glp: the checkpoint on the full disk is the one from before" cmp "$tmp/g/ckpt.safetensors" "$F/g/ckpt.safetensors"

# the same for the LM trainer's checkpoint
$MS train-lm --config tests/fixtures/train-tiny.json --out "$tmp/lm" --max-steps 5 >/dev/null 2>&1
full_disk 64 "$tmp/lm" # loss.csv fits, the 450 KB checkpoint does not
full "train-lm --resume" "ckpt.safetensors" \
  $MS train-lm --config tests/fixtures/train-tiny.json --out "$F/lm" --resume
check "train-lm: the checkpoint on the full disk is the one from before" cmp "$tmp/lm/ckpt.safetensors" "$F/lm/ckpt.safetensors"

# a session's writer
full_disk 1
full "concept export from a session" "classifier|labels|concept" \
  $MS --model $M -c "prompt the cat sat; concept food mlp:0:3; concept export $F/c"
