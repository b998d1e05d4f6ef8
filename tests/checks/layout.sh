#!/usr/bin/env bash
# The house rules of the source tree (README, Layout): each room includes only
# the rooms below it, no two files include each other round a circle, and every
# file opens with a comment saying what it owns. Prints PASS/FAIL lines.
set -u
cd "$(dirname "$0")/../.." || exit 1
failed=0

pass() { echo "PASS: $1"; }
fail() {
	echo "FAIL: $1"
	failed=1
}

# The rooms each room may include (its own included); a file's room is its
# folder, gateway/'s rooms being lib, core, roles and gateway itself.
ROOMS='
tun: tun
netlink: netlink
mqtt: mqtt
socks: socks
lib: lib
core: core lib mqtt netlink
roles: roles core lib mqtt netlink socks tun
gateway: gateway roles core lib mqtt netlink socks tun
'

# "FILE INCLUDED" for every project header a source includes, by its path from the top.
includes() {
	git ls-files 'gateway/*.[ch]' 'tun/*.[ch]' 'netlink/*.[ch]' 'mqtt/*.[ch]' 'socks/*.[ch]' |
		xargs awk '/^#include "/ {
			inc = $2; gsub(/"/, "", inc)
			dir = FILENAME; sub(/\/[^\/]*$/, "", dir)
			print FILENAME, (system("test -e " dir "/" inc) == 0 ? dir "/" inc : inc)
		}'
}

edges=$(includes)
bad=$(awk -v rooms="$ROOMS" '
	function room(f) {
		if (f ~ /^gateway\/(lib|core|roles)\//) { split(f, p, "/"); return p[2] }
		split(f, p, "/"); return p[1]
	}
	BEGIN {
		n = split(rooms, lines, "\n")
		for (i = 1; i <= n; i++) {
			if (split(lines[i], w, /:? +/) < 2) continue
			for (j = 2; j in w; j++) may[w[1], w[j]] = 1
		}
	}
	!may[room($1), room($2)] { print $1 " includes " $2 " (" room($1) " -> " room($2) ")" }
' <<<"$edges")
if [ -z "$bad" ]; then pass "no room includes a room above it or beside it"; else
	fail "rooms include what they may not:"
	echo "$bad" | sed 's/^/    /'
fi

# A module is a .c and its .h: gateway/core/flow. A loop among modules is a loop
# of calls that no one file owns (flow -> kcpflow -> node -> flow was one).
loop=$(while read -r f inc; do
	a=${f%.[ch]} b=${inc%.h}
	[ "$a" != "$b" ] && echo "$a $b"
done <<<"$edges" | tsort 2>&1 >/dev/null)
if [ -z "$loop" ]; then pass "no two modules include each other, directly or round a circle"; else
	fail "modules include each other in a loop:"
	echo "$loop" | sed 's/^/    /'
fi

missing=$(for f in $(git ls-files 'gateway/*.[ch]' 'tun/*.[ch]' 'netlink/*.[ch]' 'mqtt/*.[ch]' \
	'socks/*.[ch]' 'tests/*.c'); do
	grep -v '^// SPDX-License-Identifier' "$f" | head -n 1 | grep -q '^/\* [^ ]' || echo "$f"
done)
if [ -z "$missing" ]; then pass "every source file opens with a comment saying what it owns"; else
	fail "files without their opening comment: $(echo $missing)"
fi
exit "$failed"
