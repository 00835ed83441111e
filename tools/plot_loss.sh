#!/bin/sh
# plot_loss.sh LOSS.CSV [WIDTH HEIGHT] — a terminal plot of the training loss
# (·) and the held-out loss (o) against the step, for the README.
f=${1:?usage: plot_loss.sh loss.csv [width height]}
W=${2:-64}; H=${3:-16}
awk -F, -v W="$W" -v H="$H" '
NR == 1 { next }
{ step[n] = $1; tr[n] = $3; va[n] = $5; n++
  if ($1 > smax) smax = $1
  if (n == 1 || $3 < lo) lo = $3; if ($3 > hi) hi = $3 }
END {
  for (y = 0; y < H; y++) for (x = 0; x < W; x++) g[y, x] = " "
  for (i = 0; i < n; i++) {
    x = int((step[i] - 1) * (W - 1) / (smax - 1)); y = int((hi - tr[i]) * (H - 1) / (hi - lo))
    if (g[y, x] == " ") g[y, x] = "."
  }
  for (i = 0; i < n; i++) if (va[i] != "") {
    x = int((step[i] - 1) * (W - 1) / (smax - 1)); y = int((hi - va[i]) * (H - 1) / (hi - lo))
    if (y >= 0 && y < H) g[y, x] = "o"
  }
  for (y = 0; y < H; y++) {
    label = (y == 0) ? sprintf("%6.2f", hi) : (y == H - 1) ? sprintf("%6.2f", lo) : "      "
    line = label " |"
    for (x = 0; x < W; x++) line = line g[y, x]
    print line
  }
  printf "       +"; for (x = 0; x < W; x++) printf "-"; print ""
  printf "        step 1%" (W - 6) "s\n", smax
  print "        . training loss (nats/token)   o held-out loss"
}' "$f"
