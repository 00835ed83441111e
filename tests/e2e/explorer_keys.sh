#!/bin/sh
# explorer_keys.sh — the explorer's keys as a new user meets them (#14), in
# tmux at 80x24 and 200x50, colour and NO_COLOR + ASCII: the full-screen help,
# the key-hint line following the focus, no typed character lost, list keys
# (j/k g/G / n/N z), mouse, the output pane's rows, bracketed paste, truthful
# labels, set refusing, cancel. The screen is polled, never slept on.
. tests/e2e/lib.sh
TMUX_SOCK=mskeys
. tests/e2e/tmux.lib

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

# 4. the output pane, scrolled back while a long command streams, does not
# move: it counts the new rows in its title and follows again on End; keys
# typed meanwhile reach the prompt afterwards. 5. a click on a pane's title or
# a shared slot's tab focuses that pane; the wheel scrolls the list under the
# pointer, focused or not. At 80x24 and 200x50, colour and NO_COLOR.
click() { mouse 0 "$1" "$2"; mouse 3 "$1" "$2"; } # press and release
col_of() { # text, screen row (0-based): the column where text starts on it
  line=$(screen | sed -n "$(($2 + 1))p")
  printf '%s' "${line%%"$1"*}" | LC_ALL=C.UTF-8 wc -m
}
out_rows() { # the output pane's rows under its title, to the hint line
  y=$(screen | grep -n '│ *output\|| *output\|output .*back' | head -1 | cut -d: -f1)
  screen | sed -n "$((y + 1)),$(($(screen | wc -l) - 3))p"
}
for run in "80 24" "200 50" "80 24 NO_COLOR=1 LANG=C LC_ALL=C"; do
  set -- $run
  W=$1; x=$1; y=$2; shift 2; env="$*"; tag="${W}x$y${env:+ NO_COLOR}"
  start $x $y $env
  wait_status 'llama' >/dev/null
  keys 'set eos ignore; prompt The cat' Enter
  wait_for '^ +[0-9]+  cat ' >/dev/null
  keys 'gen 100000' Enter
  wait_status 'running gen' >/dev/null
  sleep 1
  keys PPage
  check "$tag: PgUp while gen streams scrolls the output back" wait_for 'output [0-9]+ (rows )?back'
  check "$tag: ... the title counts the new rows" wait_for 'output [0-9]+ (rows )?back [·|] [0-9]+ new'
  sleep 0.5; out_rows >"$tmp/o1"; sleep 2; out_rows >"$tmp/o2"
  check "$tag: ... and the rows being read stay put" cmp -s "$tmp/o1" "$tmp/o2"
  check "$tag: ... while output still arrives" sh -c "! cmp -s $tmp/o1 /dev/null && $T capture-pane -p -t ms | grep -q 'running gen'"
  keys 'lay'
  keys End
  check "$tag: End follows the output again" sh -c "i=0; while [ \$i -lt 100 ]; do $T capture-pane -p -t ms | grep -q 'output [0-9]* *\(rows \)\?back' || exit 0; sleep 0.1; i=\$((i+1)); done; exit 1"
  keys C-c
  check "$tag: after Ctrl-C, the keys typed meanwhile are at the prompt" wait_for 'metascope> lay$'
  keys 'er 2' Enter
  check "$tag: ... and run as typed" wait_for 'layer 2 of 6'
  # tabs and titles
  if [ $W = 80 ]; then tab=' ex '; pane=examples; else tab='frontier'; pane=frontier; fi
  ty=$(screen | grep -n '\[steering\]\|\[probe\]' | tail -1 | cut -d: -f1); ty=$((ty - 1))
  tx=$(col_of "$tab" $ty); [ "$tab" = ' ex ' ] && tx=$((tx + 1))
  click $tx $ty
  check "$tag: a click on the '$pane' tab shows that pane" wait_for "\\[$pane\\]"
  check "$tag: ... and focuses it" wait_hint "^$pane( |$)"
  ny=$(screen | grep -n ' neuron ' | head -1 | cut -d: -f1); ny=$((ny - 1))
  click 3 $ny
  check "$tag: a click on a pane's title focuses it" wait_hint '^neuron [0-9]+/[0-9]+'
  keys Escape 'latents' Enter
  wait_for 'unit.* +density +max' >/dev/null
  ly=$(screen | grep -n 'unit.* density' | head -1 | cut -d: -f1)
  check "$tag: the latents list starts at sae:0" test "$(screen | sed -n "$((ly + 1))p" | grep -oE 'sae:[0-9]+' | tail -1)" = sae:0
  mouse 65 $((W - 3)) $((ly + 2))
  first_row() { screen | sed -n "$((ly + 1))p"; }
  check "$tag: the wheel over the latents list scrolls it though the prompt has the keys" poll first_row 'sae:3 ' 
  check "$tag: ... the focus stays at the prompt" wait_hint '^Tab panes'
  keys 'quit' Enter
  wait_for 'explorer-exited' >/dev/null
done

# 9. the loading line: a model whose safetensors header carries a million
# metadata entries takes seconds to parse (a real slow path); meanwhile the
# screen says what is loading, then the explorer replaces it.
G=tests/fixtures/models/gpt2_tiny
mkdir -p "$tmp/slow"; cp $G/config.json $G/vocab.json $G/merges.txt "$tmp/slow/"
hn=$(od -An -tu8 -N8 $G/model.safetensors | tr -d ' ')
awk 'BEGIN { printf "{\"__metadata__\":{"; for (i = 0; i < 1000000; i++) printf "%s\"k%d\":\"v\"", i ? "," : "", i; printf "}," }' >"$tmp/meta"
L=$(($(wc -c <"$tmp/meta") + hn - 1)); le=""
for i in 1 2 3 4 5 6 7 8; do le="$le\\$(printf '%03o' $((L % 256)))"; L=$((L / 256)); done
{ printf "$le"; cat "$tmp/meta"; tail -c +10 $G/model.safetensors | head -c $((hn - 1)); tail -c +$((9 + hn)) $G/model.safetensors; } >"$tmp/slow/model.safetensors"
MSARGS="--model $tmp/slow"
start() { # as above, with MSARGS
  x=$1; y=$2; shift 2
  $T kill-server 2>/dev/null
  k=$((k + 1)); T="tmux -L mskeys$$-$k"
  $T new-session -d -s ms -x "$x" -y "$y" \
    "env XDG_STATE_HOME=$tmp/state HOME=$tmp INPUTRC=/dev/null $* $MS $MSARGS; echo explorer-exited; sleep 30"
}
start 80 24
check "a slow model: the loading line says what is loading" poll screen '^metascope: loading the model\.\.\.' 10
check "... then the explorer replaces it" wait_status 'gpt2 · layer'
check "... leaving no trace of it" no_screen 'loading the model'

# a bundled GLP that does not load: the explorer starts with the model and says so
mkdir -p "$tmp/as" && cp -r assets/* "$tmp/as/"
g=assets/glp/final.safetensors.lz4 # cut to half: see hostile.sh
head -c $(($(wc -c <$g) / 2)) $g >"$tmp/as/glp/final.safetensors.lz4"
MSARGS=""
start 120 30 METASCOPE_ASSETS="$tmp/as"
check "a damaged bundled GLP: the explorer starts, the status line says what was not loaded" \
  wait_status 'warning: the GLP was not loaded, going on without it: truncated lz4 frame'
check "... with the model (its layer 3 in the activations pane)" poll screen 'activations resid:0 · layer 3' 10
