#!/bin/sh
# explorer_concept.sh — the active concept in the explorer (#16), in tmux at
# 80x24 and 200x50: defining one trains its classifier with the status line
# saying so; the activations pane gains a column named after it with each
# token's label and score (beside the value, at 80x24 too); the examples
# pane lists its best held-out tokens in context, with the list keys
# (j/k, /, position on the hint line); Enter makes a token's context the
# prompt; c switches back to the unit's examples; 'concept off' drops the
# column; Tab completes concept names. The screen is polled, never slept on.
. tests/e2e/lib.sh
tmp=$(mktemp -d)
k=0
T="tmux -L mscpt$$-0"
cleanup() { i=0; while [ $i -le $k ]; do tmux -L mscpt$$-$i kill-server 2>/dev/null; i=$((i + 1)); done; rm -rf "$tmp" "$_out" "$XDG_CACHE_HOME"; }
trap cleanup EXIT
screen() { $T capture-pane -p -t ms; }
hint_line() { screen | tail -3 | head -1; }
status_line() { screen | tail -2 | head -1; }
poll() { # what-to-read pattern [seconds]: poll for up to 30 s (a loaded machine)
  i=0
  while [ $i -lt $((${3:-30} * 10)) ]; do $1 | grep -Eq -- "$2" && return 0; sleep 0.1; i=$((i + 1)); done
  screen | sed 's/^/# /'; return 1
}
wait_for() { poll screen "$@"; }
wait_hint() { poll hint_line "$@"; }
wait_status() { poll status_line "$@"; }
wait_gone() { # pattern: poll until the screen no longer shows it
  i=0
  while [ $i -lt 300 ]; do screen | grep -Eq -- "$1" || return 0; sleep 0.1; i=$((i + 1)); done
  screen | sed 's/^/# /'; return 1
}
start() { # SIZE_X SIZE_Y
  $T kill-server 2>/dev/null
  k=$((k + 1)); T="tmux -L mscpt$$-$k"
  $T new-session -d -s ms -x "$1" -y "$2" \
    "env XDG_STATE_HOME=$tmp/state HOME=$tmp INPUTRC=/dev/null $MS; echo explorer-exited; sleep 30"
}
keys() { $T send-keys -t ms "$@"; }

for size in "80 24" "200 50"; do
  set -- $size
  W=$1
  start $1 $2
  wait_status 'llama' >/dev/null
  keys 'prompt A genus of herbs with yellow flowers' Enter
  wait_for '^ +[0-9]+  herbs ' >/dev/null
  keys 'concept flower mlp:3:661>2 --docs 16' Enter # an MLP neuron on plural nouns
  check "$W: training is said on the status line" wait_status 'concept flower: (training|labelling|fitting)'
  check "$W: ... and its outcome" wait_status 'concept flower: resid@3 trained in [0-9.]+ s, AUC [01]\.[0-9]{3} on [0-9]+ held-out tokens' 180
  [ "$W" = 200 ] && check "$W: the status line names the active concept" wait_status '· concept flower ·'
  check "$W: the activations pane has a column named after it" wait_for '^pos token +value flower '
  check "$W: a token it labels, with its score" wait_for '^ +7  flowers +[-+][0-9]+\.[0-9]{3} \+ [01]\.[0-9]{2}'
  check "$W: a token it does not label" wait_for '^ +2  genus +[-+][0-9]+\.[0-9]{3} \. [01]\.[0-9]{2}'
  check "$W: ... beside the top SAE latent (Enter's target)" wait_for '^ +7  flowers .* [0-9]+:[0-9]+\.[0-9]'
  check "$W: the examples pane lists its best held-out tokens" wait_for 'score +best [0-9]+ of [0-9]+ held-out'
  [ "$W" = 200 ] && check "$W: ... by its classifier" wait_for 'top examples concept flower · resid@3 AUC [01]\.[0-9]{2}'

  check "$W: ... score, label and context per row" wait_for '│1\.000 \+ .*flowers'
  keys Tab Tab Tab Tab Tab
  check "$W: focused, the list's position and keys" wait_hint '^examples 1/[0-9]+ Enter prompt c unit jk move'
  keys j j
  check "$W: j moves" wait_hint '^examples 3/'
  keys / d a i s y Enter
  check "$W: / searches the contexts" wait_status '/daisy: row [0-9]+ of [0-9]+'
  keys g Enter
  check "$W: Enter makes the token's context the prompt" wait_status 'prompt: the context of " flowers" \(row [0-9]+ of the activations pane\)'
  check "$W: ... a prompt command, in the output pane" wait_for '> prompt "'
  check "$W: ... whose tokens get labels and scores" wait_for '^ +[0-9]+  flowers +[-+][0-9]+\.[0-9]{3} \+ [01]\.[0-9]{2}'
  keys c
  check "$W: c switches to the unit's examples" wait_hint '^examples 1/[0-9]+ b back jk move / search c concept'
  check "$W: ... whose contexts show" wait_for '│ +[0-9]+\.[0-9]{2} '
  keys c
  check "$W: c again: the concept's tokens" wait_hint '^examples 1/[0-9]+ Enter prompt'
  keys Escape 'concept off' Enter
  check "$W: 'concept off' drops the column" wait_gone 'value flower'
  check "$W: ... and the status line's concept" wait_gone '· concept flower'
  keys Tab Tab Tab Tab Tab c
  check "$W: c without an active concept says how to get one" wait_for 'no active concept'
  keys Escape
  keys 'concept fl' Tab
  check "$W: Tab completes a concept's name" wait_for 'metascope> concept flower *$'
  keys C-u 'quit' Enter
  check "$W: quit" wait_for 'explorer-exited'
done
