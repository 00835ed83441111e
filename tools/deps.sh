#!/bin/sh
# deps.sh PKG... — make sure these Debian packages are installed. As root, the
# missing ones are installed with apt-get; otherwise the exact command is printed
# and the script fails.
missing=""
for p in "$@"; do
  st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)
  [ "$st" = "installed" ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $missing >/dev/null \
    || { echo "error: apt-get install failed for:$missing" >&2; exit 1; }
else
  echo "error: missing Debian packages; run: sudo apt-get install$missing" >&2
  exit 1
fi
