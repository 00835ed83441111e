#!/bin/sh
# fuzz_replay.sh — every fuzz harness (built with a plain main as
# build/replay/NAME) replays its seeds and the inputs its runs found
# (tests/fixtures/fuzz/NAME/); a harness aborts when a promise breaks.
. tests/e2e/lib.sh
R=$(dirname "$MS")/replay
for src in tests/fuzz/fuzz_*.c; do
  h=$(basename "$src" .c); h=${h#fuzz_}
  check "fuzz harness $h replays its seeds and findings" \
    timeout 120 "$R/$h" tests/fuzz/seeds/$h tests/fixtures/fuzz/$h
done
