#!/bin/sh
# install.sh — the man page renders without warnings and `make install` puts the
# binary and the page under PREFIX.
. tests/e2e/lib.sh
tmp=$(mktemp -d); trap 'rm -rf "$tmp" "$_out" "$XDG_CACHE_HOME"' EXIT
check "man page renders without warnings" sh -c '! groff -ww -man -Tutf8 man/metascope.1 2>&1 >/dev/null | grep .'
# under make asan, OPT and SAN come along: a rebuild here must keep the sanitizers
check "make install" make -s install BUILD="${BUILD:-build}" ${OPT:+OPT="$OPT"} ${SAN:+SAN="$SAN"} DESTDIR="$tmp" PREFIX=/usr
check "installed binary runs" "$tmp/usr/bin/metascope" --version
check "installed man page" test -f "$tmp/usr/share/man/man1/metascope.1"
