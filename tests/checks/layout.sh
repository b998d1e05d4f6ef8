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

# room FILE: the room a source file lives in.
room() {
	case $1 in
	gateway/lib/*) echo lib ;;
	gateway/core/*) echo core ;;
	gateway/roles/*) echo roles ;;
	gateway/*) echo gateway ;;
	*) echo "${1%%/*}" ;;
	esac
}

# The rooms each room may include (its own included).
declare -A ALLOWED=(
	[tun]="tun" [netlink]="netlink" [mqtt]="mqtt" [socks]="socks" [lib]="lib"
	[core]="core lib mqtt netlink"
	[roles]="roles core lib mqtt netlink socks tun"
	[gateway]="gateway roles core lib mqtt netlink socks tun"
)

# "FILE INCLUDED" for every project header a source includes, by its path from the top.
includes() {
	local f inc dir
	for f in $(git ls-files 'gateway/*.[ch]' 'tun/*.[ch]' 'netlink/*.[ch]' 'mqtt/*.[ch]' 'socks/*.[ch]'); do
		dir=$(dirname "$f")
		sed -n 's/^#include "\(.*\)"/\1/p' "$f" | while read -r inc; do
			if [ -e "$dir/$inc" ]; then echo "$f $dir/$inc"; else echo "$f $inc"; fi
		done
	done
}

edges=$(includes)
bad=$(while read -r f inc; do
	from=$(room "$f") to=$(room "$inc")
	[[ " ${ALLOWED[$from]} " == *" $to "* ]] || echo "$f includes $inc ($from -> $to)"
done <<<"$edges")
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
