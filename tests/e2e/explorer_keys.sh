#!/bin/sh
# explorer_keys.sh — the explorer's keys as a new user meets them (#14), in
# tmux at 80x24 and 200x50, colour and NO_COLOR + ASCII: the full-screen help,
# the key-hint line following the focus, no typed character lost, list keys
# (j/k g/G / n/N z), mouse, the output pane's rows, bracketed paste, truthful
# labels, set refusing, cancel. The screen is polled, never slept on.
. tests/e2e/lib.sh
tmp=$(mktemp -d)
k=0
T="tmux -L mskeys$$-0"
cleanup() { i=0; while [ $i -le $k ]; do tmux -L mskeys$$-$i kill-server 2>/dev/null; i=$((i + 1)); done; rm -rf "$tmp" "$_out"; }
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
no_screen() { ! screen | grep -Eq -- "$1"; }
start() { # SIZE_X SIZE_Y ENV...
  x=$1; y=$2; shift 2
  $T kill-server 2>/dev/null
  k=$((k + 1)); T="tmux -L mskeys$$-$k"
  $T new-session -d -s ms -x "$x" -y "$y" \
    "env XDG_STATE_HOME=$tmp/state HOME=$tmp INPUTRC=/dev/null $* $MS; echo explorer-exited; sleep 30"
}
keys() { $T send-keys -t ms "$@"; }
# A mouse event in the X10 encoding (what tmux's TERM declares): button, column, row (0-based).
mouse() { $T send-keys -t ms -l "$(printf "\033[M$(printf '\\%03o\\%03o\\%03o' $((32 + $1)) $((33 + $2)) $((33 + $3)))")"; }

for size in "80 24" "200 50"; do
  set -- $size
  W=$1
  start $1 $2
  wait_status 'llama' >/dev/null
  # 1. the full-screen help
  keys F1
  check "$W: F1 opens the full-screen help from its first line" wait_for '^metascope explorer — keys'
  check "$W: ... which says how to reach the panes" wait_for 'Tab on an empty line'
  check "$W: ... and how to scroll and close it" wait_for 'help 1-[0-9]+/[0-9]+ · Up/Down/PgUp/PgDn scroll · q or Esc closes'
  keys PgDn
  [ "$W" = 80 ] && check "$W: PgDn scrolls the help by a screen" wait_for 'help [2-9][0-9]*-[0-9]+/'
  keys q
  check "$W: q closes it" wait_for 'activations meta:0:0'
  keys 'keys' Enter
  check "$W: 'keys' opens it too" wait_for '^metascope explorer — keys'
  keys Escape
  check "$W: Esc closes it" wait_for 'activations meta:0:0'
  # 2. the key-hint line follows the focus
  check "$W: the hint line at the prompt says Tab reaches the panes" wait_hint '^Tab panes F1 help'
  keys 'prompt The cat sat on the mat' Enter
  wait_for '^ +[0-9]+  cat ' >/dev/null
  keys Tab Tab Tab Tab
  check "$W: focused, the latents pane's position and sort key" wait_hint '^latents 1/4096 · sort id (▼|v) s sort'
  # 4. list keys
  keys j j
  check "$W: j moves down" wait_hint '^latents 3/4096'
  keys G
  check "$W: G goes to the end" wait_hint '^latents 4096/4096'
  keys g
  check "$W: g to the start" wait_hint '^latents 1/4096'
  keys s
  check "$W: s (the pane's key, in the hint) sorts by density" wait_hint '^latents 1/4096 · sort density'
  check "$W: ... the sorted column carries the arrow" wait_for 'density▼'
  keys / plant Enter
  check "$W: / searches the rows" wait_status '/plant: row [0-9]+ of 4096'
  r1=$(hint_line | grep -o '^latents [0-9]*' | cut -d' ' -f2)
  keys n
  check "$W: n finds the next match" sh -c "i=0; while [ \$i -lt 300 ]; do r=\$($T capture-pane -p -t ms | tail -3 | head -1 | grep -o '^latents [0-9]*' | cut -d' ' -f2); [ -n \"\$r\" ] && [ \"\$r\" != $r1 ] && exit 0; sleep 0.1; i=\$((i+1)); done; exit 1"
  keys z
  check "$W: z zooms the pane to the whole width" wait_for '^unit +density▼ +max +label \(~ auto\) +top output tokens'
  check "$W: ... with no other pane" no_screen 'activations'
  keys z
  check "$W: z again brings the panes back" wait_for 'activations meta:0:0'
  # 3. no typed character is lost: a key the pane does not take goes to the prompt
  keys x
  check "$W: a key the pane does not take is typed at the prompt" wait_for 'metascope> x$'
  check "$W: ... and the hint line is the prompt's again" wait_hint '^Tab complete'
  keys C-u
  # mouse: a click selects a row, the wheel scrolls
  keys Tab Tab Tab Tab g
  wait_hint '^latents 1/4096' >/dev/null
  y0=$(screen | grep -n 'unit .*density' | head -1 | cut -d: -f1) # the column header: list rows follow it
  mouse 0 $((W - 3)) $((y0 + 2))
  check "$W: a click selects the latents row under it" wait_hint '^latents 3/4096'
  mouse 65 $((W - 3)) $((y0 + 2))
  check "$W: the wheel scrolls" wait_hint '^latents 6/4096'
  keys Escape
  wait_hint '^Tab panes' >/dev/null
  # 6. at every width: the acts pane shows the latent Enter selects
  keys Tab
  sae=$(screen | grep -E '^ +0 ' | grep -oE '[0-9]+:[0-9]+\.[0-9]' | head -1 | cut -d: -f1)
  keys Enter
  check "$W: Enter in the activations pane selects the latent its row shows (sae:$sae)" wait_for "activations sae:$sae "
  keys Escape
  # 5. output pane: words whole, result rows selectable
  keys 'meta top 3' Enter
  wait_for 'varying most' >/dev/null
  keys BTab
  check "$W: the output pane's hint line" wait_hint '^output [0-9]+/[0-9]+ .*Enter select unit'
  unit=$(screen | grep -oE 'meta:[0-9]+:[0-9]+ +[0-9]+\.[0-9]+' | tail -1 | cut -d' ' -f1)
  keys Enter
  check "$W: Enter on a 'meta top' row selects its unit ($unit)" wait_for "activations $unit "
  keys k k k Enter
  check "$W: ... a line without a unit says so" wait_status 'this line names no unit'
  keys Escape 'acts' Enter
  wait_for 'residual stream' >/dev/null
  keys BTab Enter
  check "$W: Enter on an 'acts' row selects its top dimension" wait_for 'activations resid:[0-9]+ '
  keys Escape
  # 9. truthful labels, set refuses, sane suggestions
  keys 'layer 5; show meta:0:5' Enter
  check "$W: a meta-neuron is titled with the GLP's layer" wait_for 'activations meta:0:5 · layer 3'
  keys 'set ctx 1024' Enter
  check "$W: set ctx past the model's context is refused, saying why" wait_status "context is 256 tokens; ctx 1024 cannot be honoured"
  keys Tab Tab Tab Escape
  check "$W: the empty steering pane suggests sane alphas" wait_for '0 0\.25 0\.5 1 \(alpha in mean'
  # 7. bracketed paste: two lines, one prompt
  $T set-buffer -b p "$(printf 'prompt The dog\nran home')"
  $T paste-buffer -p -b p -t ms
  check "$W: a pasted two-line text is one prompt line" wait_for 'metascope> prompt The dog ran home$'
  keys Enter
  check "$W: ... run as one command" wait_for '^ +[0-9]+  home '
  check "$W: ... not as two" no_screen "unknown command 'ran'"
  keys 'quit' Enter
  wait_for 'explorer-exited' >/dev/null
done

# 5. scrolling by screen rows, following unless scrolled back; word wrap
start 80 24
wait_status 'llama' >/dev/null
check "80x24: output wraps at word boundaries" wait_for '│commands, F1 the keys; Tab on an *$'
keys 'help' Enter
wait_for 'Leave metascope' >/dev/null
keys PPage
check "PgUp scrolls the output back by screen rows" wait_for 'output [0-9]+ rows back · End follows'
keys 'status' Enter
check "a new command follows the output again" wait_for 'sampling temperature'
# a cancel is reported as cancelled, not as an error
keys 'prompt The cat sat' Enter 'vec x prompt "I love food" "I hate rain"' Enter
wait_for '\|diff\|' 120 >/dev/null
keys 'compare x 0 0.25 0.5 0.75 1 --tokens 200' Enter
wait_status 'compare [0-9]/' 120 >/dev/null
keys C-c
check "Ctrl-C on compare is reported as cancelled" wait_status '\(cancelled\)' 60
check "... not as an error" no_screen 'error: cancelled'

# NO_COLOR and ASCII: the same hints, ASCII arrow, help in monochrome
start 80 24 NO_COLOR=1 LANG=C LC_ALL=C
wait_status 'llama' >/dev/null
keys Tab Tab Tab Tab
check "NO_COLOR, ASCII: the latents hint with an ASCII arrow" wait_hint '^latents 1/4096 . sort id v s sort'
keys '?'
check "NO_COLOR: ? in a pane opens the help" wait_for '^metascope explorer - keys|^metascope explorer \? keys'
check "NO_COLOR: no colors on the help page" sh -c "! $T capture-pane -p -e -t ms | grep -Eq '\[(3|4)[0-7]m|;(3|4)[0-7]m'"
keys q Escape
check "NO_COLOR: the hint line at the prompt" wait_hint '^Tab panes F1 help'
