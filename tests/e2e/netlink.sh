#!/usr/bin/env bash
# netlink/ in a network namespace of its own: link up and MTU, IPv4/IPv6
# addresses, routes in a table of our own and in main, the kernel's route
# lookup, policy rules (the gateway's table and the broker pin), rp_filter,
# removal leaving nothing behind, flushing a table; and the monitor reporting
# changes made with ip(8) while it runs, and an overrun as "resync".
set -u
source "$(dirname "$0")/../lib.sh"

PROBE=${N4M_BUILD:-$(dirname "$N4M")}/probes/netlink_probe
NS=n4m-nl-$$
T=100 # the gateway's table in this test

if [ "$(id -u)" != 0 ]; then
	skip "netlink: needs root for network namespaces"
	exit 0
fi
[ -x "$PROBE" ] || { fail "the probe is built ($PROBE)"; exit 1; }

nl_cleanup() {
	cleanup # stops the monitor first
	ip netns del "$NS" 2>/dev/null
}
trap nl_cleanup EXIT

p() { ip netns exec "$NS" "$PROBE" "$@"; }
ipn() { ip -n "$NS" "$@"; }
# mklink NAME: a dummy link, or one end of a veth pair whose other end is up
# (so the link has a carrier) where the kernel has no dummy driver.
mklink() {
	ipn link add "$1" type dummy 2>/dev/null && return 0
	ipn link add "$1" type veth peer name "$1p" && ipn link set "$1p" up
}
# has "TEXT" command...: the command's output contains TEXT (as a fixed string).
has() {
	local text=$1; shift
	"$@" 2>&1 | grep -qF -- "$text"
}
# says "LINE" command...: the command prints exactly that line.
says() {
	local line=$1; shift
	"$@" 2>&1 | grep -qxF -- "$line"
}
# after FIRST SECOND FILE: the line SECOND appears in FILE after the line FIRST.
after() {
	awk -v a="$1" -v b="$2" 'f && $0 == b { found = 1 } $0 == a { f = 1 } END { exit !found }' "$3"
}

# Steps of several commands, for need and check.
make_links() { mklink d0 && mklink d1; }
d1_setup() { p up d1 1500 && p addr add d1 192.168.77.1/24; }
routes_del() {
	p route del $T 10.9.0.0/16 d0 && p route del $T fd00:10::/64 d0 fdfe:dcba:9876::2 &&
		p route del 254 0.0.0.0/0 d1 192.168.77.254
}
addrs_del() {
	p addr del d0 198.18.0.1/30 && p addr del d0 fdfe:dcba:9876::1/126 &&
		p addr del d1 192.168.77.1/24
}
flush_setup() {
	p route add 101 10.1.0.0/16 d0 && p route add 101 10.2.0.0/16 d0 &&
		p route add 101 fd00:1::/64 d0 && p route add 102 10.3.0.0/16 d0
}
rule_is() { ipn "$1" rule show | grep -qE "$2"; } # -4|-6 REGEX
no_rules_left() { ! rule_is -4 '^(999|1000):' && ! rule_is -6 '^(999|1000):'; }
no_global_addr() { ! ipn addr show | grep -E 'inet6? ' | grep -qv 'scope \(host\|link\)'; }

need "a namespace of our own" ip netns add "$NS"
need "links d0 and d1" make_links
D0=$(ipn -o link show d0 | cut -d: -f1)
D1=$(ipn -o link show d1 | cut -d: -f1)
check "nl_ifindex finds d0 ($D0)" says "$D0" p ifindex d0
check "nl_ifindex: an unknown link is ENODEV" has "error ENODEV" p ifindex nosuch0

# 1. Link up, MTU, addresses.
check "nl_link_up sets d0 up" p up d0 1400
check "d0 is up" has ",UP" ipn link show d0
check "d0's MTU is 1400" has "mtu 1400" ipn link show d0
check "IPv4 address added" p addr add d0 198.18.0.1/30
check "IPv6 address added" p addr add d0 fdfe:dcba:9876::1/126
check "ip addr shows 198.18.0.1/30 on d0" has "inet 198.18.0.1/30" ipn addr show dev d0
check "ip addr shows fdfe:dcba:9876::1/126 on d0, without DAD" \
	has "inet6 fdfe:dcba:9876::1/126 scope global nodad" ipn addr show dev d0
check "adding an address again is EEXIST" has "error EEXIST" p addr add d0 198.18.0.1/30
check "adding an IPv6 address again is EEXIST" has "error EEXIST" p addr add d0 fdfe:dcba:9876::1/126

# d1 is the "previous path": a default route in main through a gateway.
need "d1 up with 192.168.77.1/24" d1_setup
check "default route in main via 192.168.77.254 dev d1" p route add 254 0.0.0.0/0 d1 192.168.77.254
check "ip route shows it" has "default via 192.168.77.254 dev d1" ipn route show table main
check "route lookup: main's default" \
	says "table 254 10.9.1.2/32 dev $D1 via 192.168.77.254" p get 10.9.1.2
check "route lookup with no route is ENETUNREACH" has "error ENETUNREACH" p get fd00:99::1

# 2. Routes into d0 in table T, and the rule that sends everything there first.
check "device route 10.9.0.0/16 in table $T" p route add $T 10.9.0.0/16 d0
check "IPv6 route via a gateway in table $T" p route add $T fd00:10::/64 d0 fdfe:dcba:9876::2
check "ip route shows 10.9.0.0/16 dev d0 in table $T" \
	has "10.9.0.0/16 dev d0 proto static scope link" ipn route show table $T
check "ip -6 route shows fd00:10::/64 via fdfe:dcba:9876::2 in table $T" \
	has "fd00:10::/64 via fdfe:dcba:9876::2 dev d0" ipn -6 route show table $T
check "adding a route again is EEXIST" has "error EEXIST" p route add $T 10.9.0.0/16 d0
check "without the rule, 10.9.1.2 still goes via main" \
	says "table 254 10.9.1.2/32 dev $D1 via 192.168.77.254" p get 10.9.1.2
check "rule: from all lookup $T priority 1000 (IPv4)" p rule add 0.0.0.0/0 $T 1000
check "rule: from all lookup $T priority 1000 (IPv6)" p rule add ::/0 $T 1000
check "ip rule shows it" rule_is -4 "^1000:\s+from all lookup $T\b"
check "ip -6 rule shows it" rule_is -6 "^1000:\s+from all lookup $T\b"
check "adding the rule again is EEXIST" has "error EEXIST" p rule add 0.0.0.0/0 $T 1000
check "route lookup: 10.9.1.2 now goes into d0 through table $T" \
	says "table $T 10.9.1.2/32 dev $D0" p get 10.9.1.2
check "route lookup: fd00:10::5 via fdfe:dcba:9876::2 through table $T" \
	says "table $T fd00:10::5/128 dev $D0 via fdfe:dcba:9876::2" p get fd00:10::5
check "the kernel agrees (ip route get)" has "dev d0 table $T" ipn route get 10.9.1.2

# 3. Pinning the broker (10.9.1.2) through its previous path: a host route...
check "host route 10.9.1.2/32 via 192.168.77.254 dev d1 in table $T" \
	p route add $T 10.9.1.2/32 d1 192.168.77.254
check "route lookup: the pinned host route wins" \
	says "table $T 10.9.1.2/32 dev $D1 via 192.168.77.254" p get 10.9.1.2
check "host route removed" p route del $T 10.9.1.2/32 d1 192.168.77.254
# ... or a rule sending it to main, whatever main says
check "rule: to 10.9.1.2 lookup main priority 999" p rule add 10.9.1.2/32 254 999
check "ip rule shows it" rule_is -4 '^999:\s+from all to 10.9.1.2 lookup main\b'
check "route lookup: the pin rule sends 10.9.1.2 through main" \
	says "table 254 10.9.1.2/32 dev $D1 via 192.168.77.254" p get 10.9.1.2
check "route lookup: its neighbours still go into d0" says "table $T 10.9.1.3/32 dev $D0" p get 10.9.1.3

# 4. rp_filter
check "rp_filter on d0 set to 2 (loose)" p rpfilter d0 2
check "conf/d0/rp_filter reads 2" says 2 ip netns exec "$NS" cat /proc/sys/net/ipv4/conf/d0/rp_filter
check "rp_filter: a bad name is EINVAL" has "error EINVAL" p rpfilter ../all 2

# 5. Removal leaves nothing behind; removing again is ENOENT.
for r in "10.9.1.2/32 254 999" "0.0.0.0/0 $T 1000" "::/0 $T 1000"; do
	# shellcheck disable=SC2086 # split on purpose
	check "rule $r removed" p rule del $r
done
check "removing a rule again is ENOENT" has "error ENOENT" p rule del 0.0.0.0/0 $T 1000
check "routes removed" routes_del
check "removing a route again is ENOENT" has "error ENOENT" p route del $T 10.9.0.0/16 d0
check "removing an IPv6 route again is ENOENT" has "error ENOENT" \
	p route del $T fd00:10::/64 d0 fdfe:dcba:9876::2
check "addresses removed" addrs_del
check "removing an address again is ENOENT" has "error ENOENT" p addr del d0 198.18.0.1/30
check "removing an IPv6 address again is ENOENT" has "error ENOENT" p addr del d0 fdfe:dcba:9876::1/126
check "table $T is empty (IPv4)" test -z "$(ipn route show table $T)"
check "table $T is empty (IPv6)" test -z "$(ipn -6 route show table $T)"
check "no default route left in main" test -z "$(ipn route show default)"
check "no rule of ours left" no_rules_left
check "no global address left on d0 or d1" no_global_addr

# 6. Flushing a table removes exactly what is in it.
check "three routes in table 101, one in table 102" flush_setup
check "flush inet 101 removes 2" says 2 p flush inet 101
check "flush inet6 101 removes 1" says 1 p flush inet6 101
check "table 101 is empty" test -z "$(ipn route show table 101)$(ipn -6 route show table 101)"
check "table 102 is untouched" has "10.3.0.0/16 dev d0" ipn route show table 102
check "flushing an empty table removes 0" says 0 p flush inet 101

# 7. Overrun: a tiny receive buffer and a burst of changes before the loop runs.
check "the monitor reports an overrun as resync" has "resyncs 1" p overrun d0
check "the burst's addresses are gone" bash -c "! ip -n $NS addr show d0 | grep -q 198.51.100"

# 8. The monitor sees what ip(8) does while it runs.
MON=$TEST_TMP/monitor.out
ip netns exec "$NS" "$PROBE" monitor >"$MON" 2>&1 &
MON_PID=$!
bg_track "$MON_PID"
need "the monitor starts" wait_for 10 grep -qx ready "$MON"
ipn addr add 198.18.0.1/30 dev d0
check "monitor: address added" wait_for 10 grep -qxF "addr added $D0 198.18.0.1/30" "$MON"
ipn addr del 198.18.0.1/30 dev d0
check "monitor: address removed" wait_for 10 grep -qxF "addr removed $D0 198.18.0.1/30" "$MON"
ipn -6 addr add fdfe:dcba:9876::1/126 dev d0 nodad
ipn -6 addr del fdfe:dcba:9876::1/126 dev d0
check "monitor: IPv6 address removed" wait_for 10 grep -qxF "addr removed $D0 fdfe:dcba:9876::1/126" "$MON"
ipn route add 10.11.0.0/16 via 192.168.77.254 dev d1 table $T onlink
check "monitor: route added, with its table and gateway" \
	wait_for 10 grep -qxF "route added table $T 10.11.0.0/16 dev $D1 via 192.168.77.254" "$MON"
ipn route del 10.11.0.0/16 table $T
check "monitor: route removed" wait_for 10 grep -qxF "route removed table $T 10.11.0.0/16 dev $D1 via 192.168.77.254" "$MON"
ipn link set d0 down
check "monitor: link down" wait_for 10 grep -qxF "link down $D0 d0" "$MON"
ipn link set d0 up
check "monitor: link up, after the link down" wait_for 10 after "link down $D0 d0" "link up $D0 d0" "$MON"
ipn link del d1
check "monitor: link deleted" wait_for 10 grep -qxF "link deleted $D1 d1" "$MON"
kill "$MON_PID"
wait "$MON_PID"
check "the monitor stops cleanly on SIGTERM" test $? -eq 0
check "the monitor reported no resync" bash -c "! grep -qx resync '$MON'"
echo "monitor output:"
sed 's/^/    /' "$MON"

finish
