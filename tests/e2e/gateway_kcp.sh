#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m_ns
# The gateway with -k: the TCP connections it terminates ride in KCP to the
# agent (flows on the kcp topic), IPv4 and IPv6, a 20 MB download intact;
# UDP still goes as udp flows.
#
#   lan 192.168.77.2 ── gw 192.168.77.1 (mosquitto, gateway -k) ── 10.77.0.2 agent
#   fd77::2             fd77::1                                    10.20.0.2, fd20::2 on its lo
set -u
source "$(dirname "$0")/../lib.sh"
S=$$
source "$(dirname "$0")/../netns-lib.sh"
UDPTOOL=$(cd "$(dirname "$0")" && pwd)/helpers/udptool.py
GWTOOL=$(cd "$(dirname "$0")" && pwd)/helpers/gwtool.py

PREFIX=e2e/gwkcp
GWID=gwk-$S
AGENT=kcpsite$S
NS_LAN=n4m-kcp-lan-$S NS_GW=n4m-kcp-gw-$S NS_AG=n4m-kcp-ag-$S

ns_test gateway_kcp "$NS_LAN" "$NS_GW" "$NS_AG"

lan() { ip netns exec "$NS_LAN" "$@"; }

need "three namespaces" site_topology
mkdir -p "$TEST_TMP/www"
echo "through the gateway in KCP" >"$TEST_TMP/www/index.html"
head -c $((20 * 1024 * 1024)) /dev/urandom >"$TEST_TMP/www/big.bin"
(cd "$TEST_TMP/www" && exec ip netns exec "$NS_AG" "$PY" -m http.server --bind :: 8080) \
	>"$TEST_TMP/http.log" 2>&1 &
bg_track $!
bg_ns "$NS_AG" udpecho "$PY" "$UDPTOOL" echo 10.20.0.2 7007 "$TEST_TMP/udpecho-seen.log"
printf 'listener 1883 10.77.0.1\nlistener 1883 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\nset_tcp_nodelay true\n' \
	>"$TEST_TMP/m.conf"
bg_ns "$NS_GW" mosquitto env $BROKER_ENV mosquitto -c "$TEST_TMP/m.conf"
need "servers and broker listen" wait_for 10 bash -c \
	"ip netns exec $NS_AG ss -Htln 'sport = :8080' | grep -q . &&
	 ip netns exec $NS_AG ss -Huln 'sport = :7007' | grep -q . &&
	 ip netns exec $NS_GW ss -Htln 'sport = :1883' | grep -q ."
n4m_ns "$NS_AG" agent agent -m "mqtt://10.77.0.1:1883/$PREFIX" -i "$AGENT" -t 10.20.0.2:8080
n4m_ns "$NS_GW" gateway gateway -m "mqtt://127.0.0.1:1883/$PREFIX" -i "$GWID" -a "$AGENT" -k \
	--route 10.20.0.0/24 --route fd20::/64
need "the gateway sees the agent online" wait_for 15 grep -q "peer $AGENT/- online" "$TEST_TMP/gateway.log"

body=$(lan curl -s -m 10 http://10.20.0.2:8080/)
check "lan: curl http://10.20.0.2:8080/ through gateway -k (got '$body')" test "$body" = "through the gateway in KCP"
body=$(lan curl -s -m 10 "http://[fd20::2]:8080/")
check "lan: curl http://[fd20::2]:8080/ over IPv6 (got '$body')" test "$body" = "through the gateway in KCP"
check "the agent got kcp flows from the gateway" \
	grep -qE "kcpx? 192\.168\.77\.2:[0-9]+ from $GWID/$AGENT to 10\.20\.0\.2:8080" "$TEST_TMP/agent.log"
check "... and no tcp ones" bash -c "! grep -qE 'DEBUG flow [0-9]+: tcpx? ' '$TEST_TMP/agent.log'"

lan timeout 120 curl -sS -o "$TEST_TMP/big.out" http://10.20.0.2:8080/big.bin 2>"$TEST_TMP/curl-big.err"
rc=$?
want=$(sha256sum <"$TEST_TMP/www/big.bin" | cut -d' ' -f1)
got=$(sha256sum <"$TEST_TMP/big.out" 2>/dev/null | cut -d' ' -f1)
check "lan: 20 MB download in KCP, sha256 matches (rc $rc)" test "$rc" -eq 0 -a "$want" = "$got"

res=$(lan timeout 20 "$PY" "$GWTOOL" udp 10.20.0.2 7007 1 100 1200 2>&1)
check "UDP still passes, boundaries kept ($res)" has "udp ok" echo "$res"
check "... as udp flows" grep -qE "udp 192\.168\.77\.2:[0-9]+ from $GWID/$AGENT to 10\.20\.0\.2:7007" "$TEST_TMP/agent.log"

kill "$gateway_PID"
check "the gateway exits on SIGTERM" wait_for 10 bash -c "! kill -0 $gateway_PID 2>/dev/null"
finish
