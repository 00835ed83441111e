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
TMUX_SOCK=mscpt
. tests/e2e/tmux.lib

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

  check "$W: ... score, label and context per row" wait_for '│[01]\.[0-9]{3} \+ .*flowers'
  keys Tab Tab Tab Tab Tab
  check "$W: focused, the list's position and keys" wait_hint '^examples 1/[0-9]+ Enter prompt c unit jk move'
  keys j j
  check "$W: j moves" wait_hint '^examples 3/'
  keys g
  check "$W: g goes to the top" wait_hint '^examples 1/'
  keys G / d a i s y Enter # from the last row, the search wraps to the first daisy row
  check "$W: / searches the contexts" wait_status '/daisy: row [0-9]+ of [0-9]+'
  keys Enter
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
