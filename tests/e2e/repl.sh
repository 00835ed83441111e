#!/bin/sh
# repl.sh — the interactive prompt driven through tmux on a private socket:
# commands typed with send-keys, the screen read with capture-pane.
. tests/e2e/lib.sh
G=tests/fixtures/models/gpt2_tiny
tmp=$(mktemp -d)
sock="$tmp/tmux.sock"
T="tmux -S $sock"
cleanup() { $T kill-server 2>/dev/null; rm -rf "$tmp" "$_out" "$XDG_CACHE_HOME"; }
trap cleanup EXIT
screen() { $T capture-pane -p -t ms; }
wait_for() { # pattern [seconds]: poll the screen for up to 10 s (or the given time)
  i=0
  while [ $i -lt $((${2:-10} * 10)) ]; do screen | grep -Eq -- "$1" && return 0; sleep 0.1; i=$((i + 1)); done
  screen | sed 's/^/# /'; return 1
}
$T new-session -d -s ms -x 80 -y 24 \
  "env XDG_STATE_HOME=$tmp/state HOME=$tmp INPUTRC=/dev/null $MS --plain --model $G"
check "prompt appears" wait_for 'metascope>'
$T send-keys -t ms 'prompt Hello world' Enter
check "prompt command output" wait_for 'prompt: [0-9]+ tokens; next:'
$T send-keys -t ms 'frobnicate' Enter
check "error shown, session continues" wait_for "error: unknown command 'frobnicate'"
$T send-keys -t ms 'lay' Tab ' 0' Enter
check "Tab completes commands" wait_for 'layer 0 of 3'
$T send-keys -t ms 'set eos ignore' Enter 'gen 1000000' Enter
wait_for 'metascope> gen 1000000' >/dev/null # the line was read: Ctrl-C now hits the job
sleep 0.5
$T send-keys -t ms C-c
# tmux may lag behind the flood of generated text on a loaded machine, so the
# key can take a while to arrive: allow 60 s.
check "Ctrl-C cancels a long generation" wait_for '\(cancelled\)' 60
$T send-keys -t ms 'status' Enter
check "the session goes on after Ctrl-C" wait_for 'sampling temperature'
$T send-keys -t ms 'half-typed line' C-c
sleep 0.3
$T send-keys -t ms 'layer 1' Enter
check "Ctrl-C at the prompt drops the line" wait_for '^metascope> layer 1$'
$T send-keys -t ms 'quit' Enter
gone() { i=0; while $T has-session -t ms 2>/dev/null; do [ $i -ge 100 ] && return 1; sleep 0.1; i=$((i + 1)); done; }
check "quit ends the session" gone
check "history saved" grep -q 'prompt Hello world' "$tmp/state/metascope/history"

# --plain --json: every answer a JSON object, errors and cancels included; the
# greeting goes to stderr.
$T new-session -d -s js -x 120 -y 30 \
  "env XDG_STATE_HOME=$tmp/state HOME=$tmp INPUTRC=/dev/null $MS --plain --json --model $G 2>/dev/null"
jscreen() { $T capture-pane -p -t js; }
jwait() { i=0; while [ $i -lt 300 ]; do jscreen | grep -Eq -- "$1" && return 0; sleep 0.1; i=$((i + 1)); done; jscreen | sed 's/^/# /'; return 1; }
check "--plain --json: the prompt appears" jwait '^metascope>'
check "... without the greeting on stdout" sh -c "! $T capture-pane -p -t js | grep -q 'Ctrl-D to leave'"
$T send-keys -t js 'frobnicate' Enter
check "... an error is a JSON object" jwait "^\\{\"error\":\"unknown command 'frobnicate'; try 'help' \\(command\\)\"\\}$"
check "... not a plain error line" sh -c "! $T capture-pane -p -t js | grep -q '^error:'"
$T send-keys -t js 'layer 9' Enter
check "... a bad argument too" jwait "^\\{\"error\":\"'9' is not an integer in 0\\.\\.2 \\(layer\\)\"\\}$"
$T send-keys -t js 'set eos ignore' Enter 'prompt Hello' Enter 'gen 1000000' Enter
jwait 'metascope> gen 1000000' >/dev/null
sleep 0.5
$T send-keys -t js C-c
check "... Ctrl-C: the partial gen says cancelled" jwait '"cancelled":true\}$' 60
check "... then a cancel object, not an error" jwait '^\{"cmd":"gen","cancelled":true\}$'
$T send-keys -t js 'layer' Enter
check "... and the session goes on" jwait '^\{"cmd":"layer","layer":1\}$'
