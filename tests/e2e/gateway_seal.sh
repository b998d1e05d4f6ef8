#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m_ns
# The gateway with keys (issue 18): a keyed agent advertises its subnets in a
# signed status, a keyed gateway that pinned it routes them (--auto-routes), and
# a LAN host's TCP download, UDP datagrams and pings go through encrypted flows:
# the broker's subscriber sees seal topics only, never the addresses or the
# payload's marker.
#
#   lan 192.168.77.2 ── gw 192.168.77.1 (mosquitto, gateway) ── 10.77.0.2 agent
#   fd77::2             fd77::1                                  10.20.0.2, fd20::2 on its lo
set -u
source "$(dirname "$0")/../lib.sh"
S=$$
source "$(dirname "$0")/../netns-lib.sh"
HELPERS=$(cd "$(dirname "$0")" && pwd)/helpers
UDPTOOL=$HELPERS/udptool.py
GWTOOL=$HELPERS/gwtool.py
SEAL=$HELPERS/sealtool.py

PREFIX=e2e/gwseal
GWID=gws-$S
AGENT=sealsite$S
MARKER=N4M-GATEWAY-SECRET-5e1d
NS_LAN=n4m-seal-lan-$S NS_GW=n4m-seal-gw-$S NS_AG=n4m-seal-ag-$S

ns_test gateway_seal "$NS_LAN" "$NS_GW" "$NS_AG"

lan() { ip netns exec "$NS_LAN" "$@"; }

need "three namespaces" site_topology
mkdir -p "$TEST_TMP/www" "$TEST_TMP/keys"
{
	head -c $((2 << 20)) /dev/urandom
	for _ in $(seq 100); do echo "$MARKER"; done
	head -c $((1 << 20)) /dev/urandom
} >"$TEST_TMP/www/big.bin"
(cd "$TEST_TMP/www" && exec ip netns exec "$NS_AG" "$PY" -m http.server --bind :: 8080) \
	>"$TEST_TMP/http.log" 2>&1 &
bg_track $!
bg_ns "$NS_AG" udpecho "$PY" "$UDPTOOL" echo 10.20.0.2 7007 "$TEST_TMP/udpecho-seen.log"
printf 'listener 1883 10.77.0.1\nlistener 1883 127.0.0.1\nallow_anonymous true\n' >"$TEST_TMP/m.conf"
bg_ns "$NS_GW" mosquitto mosquitto -c "$TEST_TMP/m.conf"
need "servers and broker listen" wait_for 10 bash -c \
	"ip netns exec $NS_AG ss -Htln 'sport = :8080' | grep -q . &&
	 ip netns exec $NS_AG ss -Huln 'sport = :7007' | grep -q . &&
	 ip netns exec $NS_GW ss -Htln 'sport = :1883' | grep -q ."
bg_ns "$NS_GW" recorder "$PY" "$SEAL" record 127.0.0.1 1883 "$PREFIX/#" "$TEST_TMP/wire.rec"
need "the recorder is subscribed" wait_for 10 grep -q recording "$TEST_TMP/recorder.log"

K=$TEST_TMP/keys
need "keys" seal_keys "$K" agent gw
echo "$(cat "$K/gw.pub") the gateway" >"$K/peers"
n4m_ns "$NS_AG" agent agent -m "mqtt://10.77.0.1:1883/$PREFIX" -i "$AGENT" -t 10.20.0.2:8080 \
	--advertise 10.20.0.0/24 --advertise fd20::/64 --seal-key "$K/agent.key" --seal-peers "$K/peers"
n4m_ns "$NS_GW" gateway gateway -m "mqtt://127.0.0.1:1883/$PREFIX" -i "$GWID" -a "$AGENT" \
	--auto-routes --seal-key "$K/gw.key" --seal-peer "$AGENT=$(cat "$K/agent.pub")"
need "the gateway routes the subnets of the agent's signed status" wait_for 15 bash -c \
	"ip -n $NS_GW route show table all | grep -q '10.20.0.0/24' && ip -n $NS_GW -6 route show table all | grep -q 'fd20::/64'"

want=$(sha256sum <"$TEST_TMP/www/big.bin" | cut -d' ' -f1)
got=$(lan timeout 60 curl -s http://10.20.0.2:8080/big.bin | sha256sum | cut -d' ' -f1)
check "lan: a download through the keyed gateway arrives intact (sha256)" test "$want" = "$got"
got=$(lan timeout 60 curl -s "http://[fd20::2]:8080/big.bin" | sha256sum | cut -d' ' -f1)
check "lan: ... over IPv6 too" test "$want" = "$got"
res=$(lan timeout 20 "$PY" "$GWTOOL" udp 10.20.0.2 7007 1 100 1200 2>&1)
check "lan: UDP through encrypted flows, boundaries kept ($res)" has "udp ok" echo "$res"
check "lan: ping 10.20.0.2 through an encrypted flow" bash -c "ip netns exec $NS_LAN ping -c 2 -W 5 10.20.0.2 >/dev/null"
check "the agent opened encrypted flows from the gateway" grep -q "encrypted, local $GWID (the gateway)" "$TEST_TMP/agent.log"
check "the broker saw seal topics" grep -q "^$PREFIX/$AGENT/$GWID/i/seal/" "$TEST_TMP/wire.rec"
$PY "$SEAL" scan "$TEST_TMP/wire.rec" "$MARKER" "10.20.0.2" "192.168.77.2" "big.bin" >"$TEST_TMP/scan.out"
check "the broker's subscriber saw messages ($(tail -n 1 "$TEST_TMP/scan.out"))" grep -q 'scanned [1-9]' "$TEST_TMP/scan.out"
check "... but no marker, no address of the LAN host or the server, no path" bash -c "! grep -q '^found' '$TEST_TMP/scan.out'"
finish
