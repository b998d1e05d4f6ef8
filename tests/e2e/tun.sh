#!/usr/bin/env bash
# tun/: a TUN device in a network namespace of its own, fed by routes: ping and a
# UDP exchange to addresses routed into it get answers built by tun/packet
# (echo reply, UDP with the addresses swapped), IPv4 and IPv6; the device is
# gone once the process ends.
set -u
source "$(dirname "$0")/../lib.sh"

PROBE=${N4M_BUILD:-$(dirname "$N4M")}/probes/tun_probe
NS=n4m-tun-$$
DEV=n4mt$$
DEV=${DEV:0:15}

ns_cleanup() {
	ip netns del "$NS" 2>/dev/null
	cleanup
}
trap ns_cleanup EXIT

if [ "$(id -u)" != 0 ] || ! ip netns add "$NS" 2>/dev/null; then
	skip "network namespaces need root"
	exit 0
fi
ip -n "$NS" link set lo up

ip netns exec "$NS" "$PROBE" "$DEV" 60 >"$TEST_TMP/probe.out" 2>&1 &
PROBE_PID=$!
bg_track "$PROBE_PID"
need "the probe opens TUN device $DEV" wait_for 10 grep -q "^ready $DEV" "$TEST_TMP/probe.out"

ip -n "$NS" addr add 198.18.0.1/30 dev "$DEV"
ip -n "$NS" -6 addr add fdfe:dcba:9876::1/126 dev "$DEV" nodad
ip -n "$NS" link set "$DEV" up
ip -n "$NS" route add 10.99.0.0/24 dev "$DEV"
ip -n "$NS" -6 route add fd99::/64 dev "$DEV"

check "ping to 10.99.0.5, routed into the TUN, is answered" \
	ip netns exec "$NS" ping -c 3 -i 0.2 -W 2 10.99.0.5
check "ping to fd99::5 (IPv6) is answered" \
	ip netns exec "$NS" ping -6 -c 3 -i 0.2 -W 2 fd99::5
udp_echo() { # addr
	ip netns exec "$NS" "$PY" -c '
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.settimeout(5)
for size in (1, 1000, 1400):
    msg = bytes((i * 13) & 0xff for i in range(size))
    s.sendto(msg, (sys.argv[1], 9999))
    got, peer = s.recvfrom(4096)
    assert got == msg, "payload differs"
    assert peer[0] == sys.argv[1] and peer[1] == 9999, "reply from %r" % (peer,)
' "$1"
}
check "UDP to 10.99.0.7:9999 comes back from that address, payloads intact" udp_echo 10.99.0.7
check "UDP over IPv6 to fd99::7 comes back too" udp_echo fd99::7
check "the probe counted no malformed packets" grep -q "bad 0$" <(tail -n 1 "$TEST_TMP/probe.out")

kill "$PROBE_PID"
check "the probe exits on SIGTERM" wait_for 10 bash -c "! kill -0 $PROBE_PID 2>/dev/null"
gone() { ! ip -n "$NS" link show "$DEV" >/dev/null 2>&1; }
check "the TUN device and its routes are gone with the process" wait_for 10 gone
check "no route into it is left" bash -c "! ip -n '$NS' route show | grep -q 10.99.0.0"
finish
