#!/bin/sh
# check_layers.sh — the engine's dependencies point down only.
# The layers, bottom to top, are the folders ranked below (docs/architecture.md);
# tui/ sits on top of them all. A file may include a header of its own folder
# or of a lower layer, never one of a higher layer or of a peer folder.
# The module graph must also be acyclic: a module is a .c with its .h (a
# private header X_int.h or X_internal.h belongs to module X), and "x.c or
# x.h includes y.h" is an edge x -> y.
# Prints TAP lines; exits non-zero on any violation.
cd "$(dirname "$0")/.." || exit 2
RANKS="engine/core=0 engine/formats=1 engine/lm=2 engine/glp=3 engine/sae=3
       engine/index=4 engine/eval=5 engine/session=6 tui=7"
files=$(for r in $RANKS; do d=${r%=*}; ls "$d"/*.c "$d"/*.h 2>/dev/null; done)
stray=$(ls engine/*.c engine/*.h 2>/dev/null)
[ -n "$stray" ] && { echo "not ok - engine files outside a layer folder: $(echo $stray)"; exit 1; }
edges=$(mktemp); list=$(mktemp)
trap 'rm -f "$edges" "$list"' EXIT
echo "$files" >"$list"
# awk resolves each include to its folder and checks the ranks; it writes the
# module edges for tsort.
awk -v ranks="$RANKS" -v edges="$edges" '
function dirof(p) { sub(/\/[^\/]*$/, "", p); return p }
function base(p) { sub(/^.*\//, "", p); return p }
function module(p) { sub(/\.[ch]$/, "", p); sub(/_(int|internal)$/, "", p); return p }
BEGIN {
  n = split(ranks, r, /[ \n]+/)
  for (i = 1; i <= n; i++) if (r[i] != "") { split(r[i], kv, "="); rank[kv[1]] = kv[2] }
  bad = 0
}
FNR == 1 {
  # Headers are looked up by name: the file list comes first (ARGV[1]).
  if (FILENAME == ARGV[1]) listing = 1; else listing = 0
}
listing {
  h = base($0)
  if (h ~ /\.h$/) {
    if (h in where) { printf "not ok - header %s is in both %s and %s\n", h, where[h], dirof($0); bad = 1 }
    where[h] = dirof($0)
  }
  next
}
/^[ \t]*#[ \t]*include[ \t]*"/ {
  h = $0; sub(/^[^"]*"/, "", h); sub(/".*$/, "", h)
  d = dirof(FILENAME)
  if (!(h in where)) { printf "not ok - %s includes \"%s\", which is in no layer folder\n", FILENAME, h; bad = 1; next }
  t = where[h]
  if (t != d && rank[t] >= rank[d]) {
    printf "not ok - %s includes %s/%s: %s is not below %s\n", FILENAME, t, h, t, d; bad = 1
  }
  a = module(FILENAME); b = module(t "/" h)
  if (a != b) print a, b > edges
}
END { exit bad }
' "$list" $files
bad=$?
# tsort reports a loop in the module graph.
loops=$(tsort "$edges" 2>&1 >/dev/null)
if [ -n "$loops" ]; then
  echo "not ok - cycle in the include graph:"
  echo "$loops" | sed 's/^tsort: [^:]*: input contains a loop:/loop:/; s/^tsort: /  /; s/^/#   /'
  bad=1
fi
[ $bad -eq 0 ] && echo "ok - includes point down the layers ($(echo "$files" | wc -l) files; the module graph has no cycle)"
exit $bad
