#!/bin/sh
# explorer.sh — the curses explorer driven through tmux on a private socket:
# keys typed with send-keys, the screen read with capture-pane and polled
# until a pattern shows (never fixed sleeps alone). Sizes 80x24 and 200x50,
# monochrome, an ASCII locale, Ctrl-C during a long job, bad commands, quit.
. tests/e2e/lib.sh
tmp=$(mktemp -d)
k=0
T="tmux -L mstest$$-0"
cleanup() { i=0; while [ $i -le $k ]; do tmux -L mstest$$-$i kill-server 2>/dev/null; i=$((i + 1)); done; rm -rf "$tmp" "$_out" "$XDG_CACHE_HOME"; }
trap cleanup EXIT
screen() { $T capture-pane -p -t ms; }
status_line() { screen | tail -2 | head -1; }
wait_for() { # pattern [seconds]: poll the screen for up to 10 s (or the given time)
  i=0
  while [ $i -lt $((${2:-10} * 10)) ]; do screen | grep -Eq -- "$1" && return 0; sleep 0.1; i=$((i + 1)); done
  screen | sed 's/^/# /'; return 1
}
wait_status() { # pattern: the status line (second to last row)
  i=0
  while [ $i -lt 100 ]; do status_line | grep -Eq -- "$1" && return 0; sleep 0.1; i=$((i + 1)); done
  screen | sed 's/^/# /'; return 1
}
no_screen() { ! screen | grep -Eq -- "$1"; }
# start SIZE_X SIZE_Y ENV... : the explorer in a fresh session; after it ends
# the wrapper records the terminal modes and says so on the screen.
start() { # a fresh server each time: no race with the previous one exiting
  x=$1; y=$2; shift 2
  $T kill-server 2>/dev/null
  k=$((k + 1)); T="tmux -L mstest$$-$k"
  $T new-session -d -s ms -x "$x" -y "$y" \
    "env XDG_STATE_HOME=$tmp/state HOME=$tmp INPUTRC=/dev/null $* $MS ${MSARGS:-}; stty -a >$tmp/stty.after; echo explorer-exited; sleep 30"
}
keys() { $T send-keys -t ms "$@"; }

start 80 24
check "starts: status line names model and GLP" wait_status 'llama .* layer [0-9]+/[0-9]+ .* GLP L[0-9]'
check "panes drawn at 80x24" wait_for 'activations meta:0:0'
keys 'prompt The cat sat' Enter
check "prompt updates the activations pane" wait_for '^ +[0-9]+  cat +[-+][0-9]+\.[0-9]+'
check "next-token prediction shown" wait_for '^next: "'
keys 'show mlp:3:5' Enter
check "show selects the unit in the neuron pane" wait_for 'neuron mlp:3:5'
check "... and in the activations pane" wait_for 'activations mlp:3:5'
keys 'bogus' Enter
check "an error goes to the status line" wait_status "error: unknown command 'bogus'"
keys 'select foo:1' Enter
check "a bad unit is an error too" wait_status "error: 'foo:1' is not a unit"
keys 'set gen 16' Enter
check "the explorer stays up after errors" wait_status 'gen 16'
keys 'sel' Tab 'resid:' Tab
check "Tab completes commands and units" wait_for 'metascope> select resid:$'
keys '7' Enter
check "select by unit" wait_for 'activations resid:7'
keys F2 C-u
$T send-keys -t ms -l 'A dog barked'
check "F2 re-runs the prompt as it is typed" wait_for '^ +[0-9]+  dog +[-+][0-9]'
keys Enter
check "Enter keeps the live prompt" wait_for 'metascope> *$'
keys Tab Down Enter
check "Tab focuses a pane, Enter on a row selects its unit" wait_for 'activations (resid|sae):[0-9]+'
keys Escape
$T resize-window -t ms -x 200 -y 50
check "resize to 200x50 shows every pane" wait_for 'top examples'
check "the latents pane lists sae: rows with labels" wait_for '│sae:[0-9]+ +0\.[0-9]{5} +[0-9]+\.[0-9]{2}  ~?[[:alnum:]]'
keys 'select resid:3' Enter
check "a unit not in the index: the examples pane says so" wait_for 'resid:3 is not in the index, which holds sae:'
keys Tab Tab Tab Tab Down Enter
check "Enter on a latents row selects it everywhere" wait_for 'activations sae:1 '
check "... and the top examples pane follows it" wait_for 'top examples sae:1 *$'
v=$(printf '%.2f' "$($MS --json -c 'top sae:1 1' | grep -o '"maxValue":[0-9.e+-]*' | head -1 | cut -d: -f2)")
check "... showing its top context" wait_for "│ +$v +[^ ]"
check "... the activating token highlighted" sh -c "$T capture-pane -p -e -t ms | grep -F ' $v ' | grep -q '43m'"
keys Escape 'latents sort max filter plant' Enter
check "'latents sort max filter plant' sorts and filters the pane" wait_for 'SAE latents [0-9]+/[0-9]+ · sort max ▼ · filter plant'
keys 'vec x prompt "I love food" "I hate rain"' Enter 'compare x 0 4 --tokens 8' Enter
check "compare fills the steering pane (plain and +GLP)" wait_for ' 4\.00 +[0-9]+\.[0-9]+ +- +[0-9]+\.[0-9]+' 120
check "frontier plot drawn" wait_for 'NLL [0-9.]+\.\.[0-9.]+'
$T resize-window -t ms -x 40 -y 10
check "a small terminal shows one pane" wait_for '^ *alpha +plain'
check "... without columns" no_screen '│'
$T resize-window -t ms -x 80 -y 24
check "back to 80x24" wait_for 'neuron (resid|sae):'
keys 'set eos ignore' Enter 'gen 100000' Enter
wait_status 'running gen' >/dev/null
sleep 0.3
keys C-c
check "Ctrl-C cancels a long generation" wait_status '\(cancelled\)' 30
keys 'status' Enter
check "the explorer goes on after Ctrl-C" wait_for 'bos +auto'
check "colors used by default" sh -c "$T capture-pane -p -e -t ms | grep -Eq '\[(3|4)[0-7]m|;(3|4)[0-7]m'"
keys 'quit' Enter
check "quit ends the explorer" wait_for 'explorer-exited'
check "quit restores the terminal modes" sh -c "grep -q ' icanon' $tmp/stty.after && grep -q ' echo ' $tmp/stty.after"
check "history saved" grep -q 'show mlp:3:5' "$tmp/state/metascope/history"

start 80 24 NO_COLOR=1 LANG=C LC_ALL=C
check "monochrome, ASCII: starts" wait_status 'llama'
keys 'prompt The cat sat on the mat' Enter
check "ASCII bars" wait_for '^ +[0-9]+ +[^ ]+ +[-+][0-9.]+ [#-]+ '
check "no block characters" no_screen '█|▏|▌'
check "ASCII punctuation" wait_status 'llama \| layer'
check "NO_COLOR: no colors" sh -c "! $T capture-pane -p -e -t ms | grep -Eq '\[(3|4)[0-7]m|;(3|4)[0-7]m'"
keys C-d
check "Ctrl-D leaves" wait_for 'explorer-exited'

start 80 24 TERM=dumb
check "TERM=dumb: the plain prompt" wait_for "'quit' or Ctrl-D to leave"
MSARGS=--no-color start 80 24
wait_for 'metascope>' >/dev/null
check "--no-color: no colors" sh -c "! $T capture-pane -p -e -t ms | grep -Eq '\[(3|4)[0-7]m|;(3|4)[0-7]m'"

MSARGS='--demo tour' start 200 50 METASCOPE_DEMO_DELAY=0
check "--demo tour (METASCOPE_DEMO_DELAY=0) plays to the end" wait_for '\(demo finished\)' 120
check "... leaving the final top examples on screen" wait_for 'top examples sae:1043'
check "... with their contexts" wait_for '│ +[0-9]+\.[0-9]{2} .*(herbs|shrubs|plants|trees)'
check "... captions shown in the output pane" wait_for '# End of the tour'
keys 'status' Enter
check "... and the explorer goes on" wait_for 'sampling temperature'
MSARGS='--demo tour' start 80 24 METASCOPE_DEMO_DELAY=40
wait_status 'A tour of metascope' >/dev/null
keys C-c
check "Ctrl-C stops a demo, leaving the explorer" wait_status 'demo stopped'
expect_status "--demo nope exits 2" 2 $MS --demo nope
expect_out "... listing the demos" '^  tour ' $MS --demo nope

# The probe and frontier panes at 80x24: a small probe, its winners one key
# from their top examples; a tiny frontier, its areas, plot and SAE source.
start 80 24
wait_status 'llama' >/dev/null
keys 'probe noun.food --per-class 20' Enter
check "probe fills the probe pane" wait_for '\[probe\] .*1 task' 30
check "... a row per task with each family's test AUC" wait_for '│noun.food +0\.[0-9]{3} +0\.[0-9]{3} +0\.[0-9]{3} +0\.[0-9]{3}'
check "... the mean and its CI" wait_for '│CI hi +0\.[0-9]{3}'
check "... the winners with their keys" wait_for 's sae:[0-9]+ · r( resid:[0-9]+|$)'
sae=$(screen | grep -o 's sae:[0-9]*' | head -1 | cut -c3-)
keys BTab BTab BTab s
check "s on a probe row selects its SAE winner everywhere" wait_for "activations $sae "
check "... and the examples pane shows its top contexts" wait_status "selected $sae — noun.food sae"
check "... its contexts" wait_for '│ +[0-9]+\.[0-9]{2} +[^ ]'
keys b m
check "b goes back; m selects the meta winner without its sigma" wait_for 'activations meta:[0-9]+:[0-9]+ '
check "... noting the index's sigma" wait_status '@0\.[0-9] \(index: @0\.1\)'
keys b r
check "r selects the resid winner, which the index lacks" wait_status 'selected resid:[0-9]+ .*not in the index'
check "... and the examples pane says so" wait_for 'resid:[0-9]+ is not in the index'
keys Escape 'frontier --concepts noun.food --alphas 0,1 --prefixes 2 --tokens 4' Enter
check "frontier fills the frontier pane" wait_for '\[frontier\] 1/2' 60
check "... the first block: the concept's DiffMean direction" wait_for '│noun.food · DiffMean direction'
check "... the alpha table with Pareto marks" wait_for '│1\.00 fl +[0-9]+\.[0-9]+'
check "... each method's area" wait_for '│area +[0-9]+\.[0-9]{3} +[0-9]+\.[0-9]{3}'
check "... and the plot" wait_for '└─ NLL [0-9.]+\.\.[0-9.]+ ─'
keys BTab BTab Right
check "Right shows the SAE-latent source" wait_for '\[frontier\] 2/2'
check "... the concept's SAE latent" wait_for '│noun.food · SAE latent sae:[0-9]+'
src=$(screen | grep -o 'SAE latent sae:[0-9]*' | head -1 | cut -d' ' -f3)
keys s
check "s selects the source latent and shows its top examples" wait_for "\[examples\]"
check "... its contexts" wait_for '│ +[0-9]+\.[0-9]{2} +[^ ]'
check "... in the activations pane too" wait_for "activations $src "
check "... named in the status line" wait_status "selected $src — the SAE-latent source of noun.food"

start 80 24 NO_COLOR=1 LANG=C LC_ALL=C
wait_status 'llama' >/dev/null
keys 'frontier --concepts noun.food --alphas 0,1 --prefixes 2 --tokens 4' Enter
check "ASCII frontier pane: the plot's axis" wait_for '\+- NLL [0-9.]+\.\.[0-9.]+ -' 60
check "... ASCII glyphs in the legend" wait_for 'co<=[0-9.]+ oplain \+@\.3'
check "... no Unicode glyphs" no_screen '●|▲|■|◆|└|─'
keys 'probe noun.food --per-class 20' Enter
check "ASCII probe pane" wait_for '\[probe\] .*1 task'
check "... ASCII separators in it" wait_for '\| s sae:[0-9]+ \| r'

# The user's ~/.inputrc (here via INPUTRC) is read: a macro bound to C-o types
# a command, and the screen stays intact.
printf '"\\C-o": "status\\n"\n' > "$tmp/inputrc"
start 80 24 INPUTRC=$tmp/inputrc
wait_status 'llama' >/dev/null
keys C-o
check "an inputrc macro runs its command" wait_for 'sampling temperature'
check "... the panes are intact" wait_for 'activations meta:0:0'
