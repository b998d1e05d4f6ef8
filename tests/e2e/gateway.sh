#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m_ns
# net4mqtt gateway, end to end, in network namespaces of its own (after the
# Linux WireGuard selftest netns.sh):
#
#   lan 192.168.77.2 ── gw 192.168.77.1 ── 10.77.0.1 ─ 10.77.0.2 agent 10.20.0.1 ── 10.20.0.2 srv
#   fd77::2             fd77::1           10.77.0.5 ─ 10.77.0.6 agent2 10.30.0.1 ── 10.30.0.2 srv2
#                     (mosquitto,                     fd20::1 ── fd20::2
#                      net4mqtt gateway)
#
# The lan host has nothing but default routes via gw; gw forwards and has no
# route of its own to 10.20/10.30/fd20::, only the gateway's TUN does. Checks:
# the TUN, its address, routes, rule and rp_filter; curl over IPv4 and IPv6; a
# 50 MB download (sha256); iperf3; UDP echo with datagram boundaries (IPv4 and
# IPv6, up to 1472 bytes); 3000-byte datagrams through fragments both ways;
# the agent sees the flows as coming from the gateway's id; two agents each
# get only their own subnets' flows; --exclude keeps a part of a routed
# subnet out of the TUN; a subnet whose agent does not exist, and a closed port
# behind a live agent, refuse or reset fast; 1000 concurrent connections; every
# flow ends (flows open back to 0); the netlink monitor puts back a rule or a
# route removed by hand; SIGTERM removes the TUN, its routes and its rules; a
# run after a SIGKILLed one copes with the stale rules and cleans up too.
#
# bash tests/e2e/gateway.sh --self-test: only the topology (no gateway needed).
set -u
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../netns-lib.sh"
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)" # 1000 connections at once
TOOL=$(cd "$(dirname "$0")" && pwd)/helpers/gwtool.py
SELF_TEST=0
[ "${1:-}" = --self-test ] && SELF_TEST=1

PREFIX=e2e/gw
GWID=gw-$$
AGENT=gwa-$$
AGENT2=gwb-$$
TUN=n4m0 # the gateway's default
BPORT=1883 # in the gw namespace, which is ours alone
HTTP=8080
UDP=7007
IPERF=5201

# namespaces, and veth names (<= 15 characters) ending in our pid
S=$$
NS_LAN=n4m-gw-lan-$S NS_GW=n4m-gw-gw-$S NS_AG=n4m-gw-ag-$S NS_SRV=n4m-gw-srv-$S
NS_AG2=n4m-gw-ag2-$S NS_SRV2=n4m-gw-srv2-$S

ns_test gateway "$NS_LAN" "$NS_GW" "$NS_AG" "$NS_SRV" "$NS_AG2" "$NS_SRV2"

T0=$SECONDS
info() { echo "info: $* [$((SECONDS - T0)) s]"; }

topology() {
	ns_up "${ALL_NS[@]}" || return 1
	# lan — gw
	lan_via_gw "$NS_LAN" "$NS_GW" || return 1
	# gw — agent — srv
	veth "$NS_GW" ga "$NS_AG" ag || return 1
	addr "$NS_GW" ga 10.77.0.1/30 && addr "$NS_AG" ag 10.77.0.2/30 || return 1
	veth "$NS_AG" as "$NS_SRV" sa || return 1
	addr "$NS_AG" as 10.20.0.1/24 && addr6 "$NS_AG" as fd20::1/64 || return 1
	addr "$NS_SRV" sa 10.20.0.2/24 && addr6 "$NS_SRV" sa fd20::2/64 || return 1
	ip -n "$NS_SRV" route add default via 10.20.0.1 && ip -n "$NS_SRV" -6 route add default via fd20::1 || return 1
	# gw — agent2 — srv2
	veth "$NS_GW" gb "$NS_AG2" bg || return 1
	addr "$NS_GW" gb 10.77.0.5/30 && addr "$NS_AG2" bg 10.77.0.6/30 || return 1
	veth "$NS_AG2" bs "$NS_SRV2" sb || return 1
	addr "$NS_AG2" bs 10.30.0.1/24 && addr "$NS_SRV2" sb 10.30.0.2/24 || return 1
	ip -n "$NS_SRV2" route add default via 10.30.0.1
}

lan() { ip netns exec "$NS_LAN" "$@"; }

# 1. The topology, and that the lan reaches nothing behind the agents without the gateway.
need "six namespaces, veth pairs, addresses and routes" topology
info "topology up"

mkdir -p "$TEST_TMP/www" "$TEST_TMP/www2"
echo "the server behind agent $AGENT" >"$TEST_TMP/www/index.html"
echo "the server behind agent $AGENT2" >"$TEST_TMP/www2/index.html"
head -c $((50 * 1024 * 1024)) /dev/urandom >"$TEST_TMP/www/big.bin"
chmod -R a+rX "$TEST_TMP"

bg_ns "$NS_SRV" http4 "$PY" "$TOOL" http 10.20.0.2 $HTTP "$TEST_TMP/www" "$TEST_TMP/http4.req"
bg_ns "$NS_SRV" http6 "$PY" "$TOOL" http fd20::2 $HTTP "$TEST_TMP/www" "$TEST_TMP/http6.req"
bg_ns "$NS_SRV" udpecho "$PY" "$TOOL" udp-echo 10.20.0.2 $UDP "$TEST_TMP/udp4.got"
bg_ns "$NS_SRV" udpecho6 "$PY" "$TOOL" udp-echo fd20::2 $UDP "$TEST_TMP/udp6.got"
bg_ns "$NS_SRV" iperf iperf3 -s -B 10.20.0.2 -p $IPERF
bg_ns "$NS_SRV2" http2 "$PY" "$TOOL" http 10.30.0.2 $HTTP "$TEST_TMP/www2" "$TEST_TMP/http2.req"
srv_ready() {
	[ "$(ip netns exec "$NS_SRV" ss -Htln "sport = :$HTTP" | wc -l)" -eq 2 ] &&
		[ "$(ip netns exec "$NS_SRV" ss -Huln "sport = :$UDP" | wc -l)" -eq 2 ] &&
		ns_tcp_listening "$NS_SRV" $IPERF && ns_tcp_listening "$NS_SRV2" $HTTP
}
need "servers listen (http v4+v6, UDP echo v4+v6, iperf3; http in srv2)" wait_for 10 srv_ready

{
	echo "listener $BPORT 0.0.0.0"
	echo "allow_anonymous true"
	echo "max_queued_messages 100000"
	echo "set_tcp_nodelay true"
	echo "persistence false"
} >"$TEST_TMP/mosquitto.conf"
bg_ns "$NS_GW" mosquitto env $BROKER_ENV mosquitto -c "$TEST_TMP/mosquitto.conf"
need "mosquitto listens in the gw namespace" wait_for 10 ns_tcp_listening "$NS_GW" $BPORT

n4m_ns "$NS_AG" agent agent -m "mqtt://10.77.0.1:$BPORT/$PREFIX?client_id=$AGENT" -i "$AGENT" -t 127.0.0.1:9 --udp-timeout 3
n4m_ns "$NS_AG2" agent2 agent -m "mqtt://10.77.0.5:$BPORT/$PREFIX?client_id=$AGENT2" -i "$AGENT2" -t 127.0.0.1:9 --udp-timeout 3
check "agent (in its own namespace) is online at the broker in gw" \
	ns_status "$NS_GW" "mqtt://127.0.0.1:$BPORT/$PREFIX/$AGENT/-/v/-"
check "agent2 is online too" ns_status "$NS_GW" "mqtt://127.0.0.1:$BPORT/$PREFIX/$AGENT2/-/v/-"

body=$(ip netns exec "$NS_AG" timeout 5 curl -sS http://10.20.0.2:$HTTP/ 2>&1)
check "the agent's namespace reaches http://10.20.0.2:$HTTP/ directly" test "$body" = "$(cat "$TEST_TMP/www/index.html")"
body=$(ip netns exec "$NS_AG" timeout 5 curl -sS "http://[fd20::2]:$HTTP/" 2>&1)
check "... and http://[fd20::2]:$HTTP/" test "$body" = "$(cat "$TEST_TMP/www/index.html")"
body=$(ip netns exec "$NS_AG2" timeout 5 curl -sS http://10.30.0.2:$HTTP/ 2>&1)
check "agent2's namespace reaches http://10.30.0.2:$HTTP/" test "$body" = "$(cat "$TEST_TMP/www2/index.html")"
no_reach() { ! lan timeout 5 curl -sS -o /dev/null "$1" 2>/dev/null; }
check "without the gateway, lan cannot reach 10.20.0.2" no_reach http://10.20.0.2:$HTTP/
check "without the gateway, lan cannot reach [fd20::2]" no_reach "http://[fd20::2]:$HTTP/"
check "without the gateway, lan cannot reach 10.30.0.2" no_reach http://10.30.0.2:$HTTP/
check "lan reaches its router 192.168.77.1 and fd77::1" \
	bash -c "ip netns exec $NS_LAN ping -c1 -W2 192.168.77.1 >/dev/null && ip netns exec $NS_LAN ping -6 -c1 -W2 fd77::1 >/dev/null"
info "topology checked"
if [ "$SELF_TEST" = 1 ]; then
	finish
	exit
fi

# 2. The gateway.
if ! "$N4M" gateway -h >"$TEST_TMP/gateway-h.out" 2>&1; then
	fail "net4mqtt gateway -h works ($(head -n 1 "$TEST_TMP/gateway-h.out"))"
	exit 1
fi
GW_ARGS=(gateway -m "mqtt://127.0.0.1:$BPORT/$PREFIX?client_id=$GWID" -i "$GWID" -a "$AGENT" --udp-timeout 3
	--route 10.20.0.0/24 --route fd20::/64 --route "10.30.0.0/24=$AGENT2" --route 10.40.0.0/24=nosuchagent
	--exclude 10.20.0.128/25)
n4m_ns "$NS_GW" gateway "${GW_ARGS[@]}"
gw_up() {
	has "inet 198.18.0.1/30" ip -n "$NS_GW" addr show dev $TUN &&
		has "10.20.0.0/24 dev $TUN" ip -n "$NS_GW" route show table all
}
need "the gateway's TUN $TUN comes up with 198.18.0.1/30 and a route for 10.20.0.0/24" wait_for 10 gw_up
info "gateway up"
need "the gateway connects to the broker" wait_for 10 grep -q "mqtt: connected" "$TEST_TMP/gateway.log"
check "the gateway has seen both agents online" \
	wait_for 10 bash -c "grep -q 'peer $AGENT/- online' $TEST_TMP/gateway.log && grep -q 'peer $AGENT2/- online' $TEST_TMP/gateway.log"
check "TUN has fdfe:dcba:9876::1/126" has "inet6 fdfe:dcba:9876::1/126" ip -n "$NS_GW" -6 addr show dev $TUN
check "route fd20::/64 into $TUN" has "fd20::/64 dev $TUN" ip -n "$NS_GW" -6 route show table all
check "route 10.30.0.0/24 into $TUN" has "10.30.0.0/24 dev $TUN" ip -n "$NS_GW" route show table all
check "route 10.40.0.0/24 (no agent) into $TUN" has "10.40.0.0/24 dev $TUN" ip -n "$NS_GW" route show table all
RULES4=$(ip -n "$NS_GW" rule show | grep -vE '^(0|32766|32767):')
RULES6=$(ip -n "$NS_GW" -6 rule show | grep -vE '^(0|32766|32767):')
check "the gateway added an IPv4 rule ($RULES4)" test -n "$RULES4"
check "the gateway added an IPv6 rule ($RULES6)" test -n "$RULES6"
check "rp_filter on $TUN is loose (2)" \
	test "$(ip netns exec "$NS_GW" cat /proc/sys/net/ipv4/conf/$TUN/rp_filter)" = 2
check "10.20.0.2 goes into $TUN" has "dev $TUN" ip -n "$NS_GW" route get 10.20.0.2
check "10.20.0.200 (--exclude 10.20.0.128/25) does not go into $TUN ($(ip -n "$NS_GW" route get 10.20.0.200 2>&1 | head -n 1))" \
	bash -c "! ip -n $NS_GW route get 10.20.0.200 2>&1 | grep -q 'dev $TUN'"
echo "gateway's routes:"
{ ip -n "$NS_GW" -4 route show table all; ip -n "$NS_GW" -6 route show table all; } |
	grep -F "dev $TUN" | grep -vE '^(local|broadcast|anycast|multicast|fe80)' | sed 's/^/    /'

# 3. Traffic from the lan host, which knows only its default route.
body=$(lan timeout 10 curl -sS http://10.20.0.2:$HTTP/ 2>&1)
check "lan: curl http://10.20.0.2:$HTTP/ gets the server's page (got '$body')" \
	test "$body" = "$(cat "$TEST_TMP/www/index.html")"
body=$(lan timeout 10 curl -sS "http://[fd20::2]:$HTTP/" 2>&1)
check "lan: curl http://[fd20::2]:$HTTP/ over IPv6 (got '$body')" \
	test "$body" = "$(cat "$TEST_TMP/www/index.html")"
body=$(lan timeout 10 curl -sS http://10.30.0.2:$HTTP/ 2>&1)
check "lan: curl http://10.30.0.2:$HTTP/ reaches the server behind agent2 (got '$body')" \
	test "$body" = "$(cat "$TEST_TMP/www2/index.html")"

t=$SECONDS
lan timeout 120 curl -sS -o "$TEST_TMP/big.out" http://10.20.0.2:$HTTP/big.bin 2>"$TEST_TMP/curl-big.err"
rc=$?
want=$(sha256sum <"$TEST_TMP/www/big.bin" | cut -d' ' -f1)
got=$(sha256sum <"$TEST_TMP/big.out" 2>/dev/null | cut -d' ' -f1)
size=$(stat -c %s "$TEST_TMP/big.out" 2>/dev/null || echo 0)
check "lan: 50 MB download, sha256 matches (rc $rc, $size bytes, $((SECONDS - t)) s)" test "$rc" -eq 0 -a "$want" = "$got"
rm -f "$TEST_TMP/big.out"
info "50 MB download took $((SECONDS - t)) s"

lan timeout 60 iperf3 -c 10.20.0.2 -p $IPERF -t 3 -J >"$TEST_TMP/iperf.json" 2>&1
rc=$?
bps=$($PY -c 'import json,sys; j=json.load(open(sys.argv[1])); print("%.0f Mbit/s sent, %.0f Mbit/s received" % (j["end"]["sum_sent"]["bits_per_second"]/1e6, j["end"]["sum_received"]["bits_per_second"]/1e6))' \
	"$TEST_TMP/iperf.json" 2>/dev/null)
check "lan: iperf3 -c 10.20.0.2 -t 3 succeeds (rc $rc, ${bps:-no result})" test "$rc" -eq 0 -a -n "$bps"
info "iperf3: ${bps:-failed}"

# The bulk transfers above crossed the TUN as segments of up to 64 KiB (TUN_OFFLOAD), not one MSS each.
tun_stat() { ip netns exec "$NS_GW" cat "/sys/class/net/$TUN/$1"; }
avg_pkt=$(($(tun_stat statistics/tx_bytes) / $(tun_stat statistics/tx_packets)))
check "the TUN's packets average $avg_pkt bytes, more than its MTU $(tun_stat mtu) (segmentation offload)" \
	test "$avg_pkt" -gt "$(tun_stat mtu)"

res=$(lan timeout 30 "$PY" "$TOOL" udp 10.20.0.2 $UDP 1 100 512 1200 1200 1472 2>&1)
check "lan: UDP echo via 10.20.0.2:$UDP keeps datagram boundaries ($res)" has "udp ok" echo "$res"
res=$(lan timeout 30 "$PY" "$TOOL" udp fd20::2 $UDP 1 100 512 1200 1452 2>&1)
check "lan: UDP echo via [fd20::2]:$UDP over IPv6 ($res)" has "udp ok" echo "$res"

# Datagrams bigger than the MTU reach the TUN as fragments (IPv4: the gw host
# forwards them as they are; IPv6: the lan host fragments): the gateway
# reassembles them, and splits the echo for the lan (gateway_router.sh has more).
FRAG4=$(lan timeout 30 "$PY" "$TOOL" udp 10.20.0.2 $UDP 3000 2>&1)
FRAG6=$(lan timeout 30 "$PY" "$TOOL" udp fd20::2 $UDP 3000 2>&1)
check "lan: a 3000-byte datagram echoed through fragments, IPv4 ($FRAG4)" has "udp ok" echo "$FRAG4"
check "lan: a 3000-byte datagram echoed through fragments, IPv6 ($FRAG6)" has "udp ok" echo "$FRAG6"
check "the gateway is still running after the fragments" all_running "$gateway_PID"

# 4. Whose flows: the agent saw them as the gateway's (topic PREFIX/AGENT/GWID/i/...).
check "agent: TCP flow from 192.168.77.2 with local id $GWID to 10.20.0.2:$HTTP" \
	grep -qE "tcpx? 192\.168\.77\.2:[0-9]+ from $GWID/$AGENT to 10\.20\.0\.2:$HTTP" "$TEST_TMP/agent.log"
check "agent: IPv6 TCP flow from fd77::2 with local id $GWID to fd20::2" \
	grep -qE "tcpx? \[?fd77::2\]?:[0-9]+ from $GWID/$AGENT to \[?fd20::2\]?:$HTTP" "$TEST_TMP/agent.log"
check "agent: UDP flow from 192.168.77.2 with local id $GWID to 10.20.0.2:$UDP" \
	grep -qE "udp 192\.168\.77\.2:[0-9]+ from $GWID/$AGENT to 10\.20\.0\.2:$UDP" "$TEST_TMP/agent.log"
check "agent: IPv6 UDP flow from fd77::2 with local id $GWID to fd20::2:$UDP" \
	grep -qE "udp \[?fd77::2\]?:[0-9]+ from $GWID/$AGENT to \[?fd20::2\]?:$UDP" "$TEST_TMP/agent.log"
check "agent2: TCP flow from 192.168.77.2 with local id $GWID to 10.30.0.2:$HTTP" \
	grep -qE "tcpx? 192\.168\.77\.2:[0-9]+ from $GWID/$AGENT2 to 10\.30\.0\.2:$HTTP" "$TEST_TMP/agent2.log"
check "agent got no flow for 10.30.0.0/24" bash -c "! grep -q ' to 10\.30\.' '$TEST_TMP/agent.log'"
check "agent2 got no flow for 10.20.0.0/24 or fd20::" bash -c "! grep -qE ' to (10\.20\.|\[?fd20:)' '$TEST_TMP/agent2.log'"
check "the servers saw the agents' addresses, never the lan host's" \
	bash -c "grep -q '^10.20.0.1 ' '$TEST_TMP/http4.req' && grep -q '^fd20::1 ' '$TEST_TMP/http6.req' && grep -q '^10.30.0.1 ' '$TEST_TMP/http2.req' && ! grep -qh 192.168.77 '$TEST_TMP'/http*.req"

# 5. A routed subnet whose agent does not exist: fails fast, not by a timeout.
res=$(lan timeout 10 "$PY" "$TOOL" probe 10.40.0.2 80 5 2>&1)
check "lan: TCP to 10.40.0.2:80 (agent nosuchagent) is refused or reset fast ($res)" \
	grep -qE "^probe (refused|reset|eof) after [0-4]\." <<<"$res"

res=$(lan timeout 10 "$PY" "$TOOL" probe 10.20.0.2 81 5 2>&1)
check "lan: TCP to 10.20.0.2:81 (agent up, nothing listens) is refused or reset fast ($res)" \
	grep -qE "^probe (refused|reset|eof) after [0-4]\." <<<"$res"

res=$(lan timeout 10 "$PY" "$TOOL" probe 10.20.0.200 $HTTP 5 2>&1)
info "lan: TCP to 10.20.0.200:$HTTP (excluded, no route beyond the gateway): $res"

# 6. 1000 connections at once.
t=$SECONDS
res=$(lan timeout 90 "$PY" "$TOOL" conc 10.20.0.2 $HTTP 1000 "$TEST_TMP/www/index.html" 2>&1)
check "lan: 1000 concurrent connections each get the page ($res)" has "conc ok" echo "$res"
info "1000 concurrent: $res"

check "gateway and agents still running" all_running "$gateway_PID" "$agent_PID" "$agent2_PID"
flows_open_is() { [ "$(stat_field "$(stats "$1" "$2")" "flows open")" = "$3" ]; }
t=$SECONDS
check "every flow ends: the gateway's flows open drops to 0 (UDP idle timeout 3 s)" wait_for 20 flows_open_is gateway "$gateway_PID" 0
check "... and the agent's" wait_for 20 flows_open_is agent "$agent_PID" 0
info "flows drained after $((SECONDS - t)) s"
echo "agent stats:    $(stats agent "$agent_PID")"
echo "gateway stats:  $(stats gateway "$gateway_PID")"

# 7. The netlink monitor puts back what someone removes.
GW_TABLE=$(ip -n "$NS_GW" route show table all | sed -n "s/^10\.20\.0\.0\/24 dev $TUN table \([0-9a-z]*\).*/\1/p")
route_back() { has "10.20.0.0/24 dev $TUN" ip -n "$NS_GW" route show table "$GW_TABLE"; }
rule_back() { has "lookup $GW_TABLE" ip -n "$NS_GW" rule show; }
# the rule first, on its own: a route event would make the gateway put back
# everything, rule included, and hide whether it watches rules at all
ip -n "$NS_GW" rule del lookup "$GW_TABLE"
check "the rule removed by hand (nothing else changing) is put back" wait_for 5 rule_back
ip -n "$NS_GW" route del 10.20.0.0/24 table "$GW_TABLE"
check "a route removed by hand (table $GW_TABLE) is put back" wait_for 5 route_back
check "... and by now the rule too" wait_for 5 rule_back
body=$(lan timeout 10 curl -sS http://10.20.0.2:$HTTP/ 2>&1)
check "lan: curl works again after that (got '$body')" test "$body" = "$(cat "$TEST_TMP/www/index.html")"

# 8. SIGTERM: the TUN, its routes and its rules go away.
kill "$gateway_PID"
check "the gateway exits on SIGTERM" wait_for 10 bash -c "! kill -0 $gateway_PID 2>/dev/null"
wait "$gateway_PID"
rc=$?
check "... with status 0 (got $rc)" test "$rc" -eq 0
check "the TUN device $TUN is gone" bash -c "! ip -n $NS_GW link show $TUN >/dev/null 2>&1"
check "no route of the gateway's is left" \
	bash -c "! ip -n $NS_GW route show table all | grep -qE '^(10\.20|10\.30|10\.40)\.0\.0/24' && ! ip -n $NS_GW -6 route show table all | grep -q '^fd20::/64'"
check "no rule of the gateway's is left (IPv4)" test -z "$(ip -n "$NS_GW" rule show | grep -vE '^(0|32766|32767):')"
check "no rule of the gateway's is left (IPv6)" test -z "$(ip -n "$NS_GW" -6 rule show | grep -vE '^(0|32766|32767):')"
check "the lan no longer reaches 10.20.0.2" no_reach http://10.20.0.2:$HTTP/

# 9. After a crash (SIGKILL) the kernel takes the TUN and its routes but not the
# rules; the next run must cope with the stale rule and still clean up after itself.
rules() { ip -n "$NS_GW" "$1" rule show | grep -cvE '^(0|32766|32767):'; }
n4m_ns "$NS_GW" gateway2 "${GW_ARGS[@]}"
check "the gateway starts again" wait_for 10 gw_up
check "... and has seen the agent online" wait_for 15 grep -q "peer $AGENT/- online" "$TEST_TMP/gateway2.log"
body=$(lan timeout 10 curl -sS http://10.20.0.2:$HTTP/ 2>&1)
check "lan: curl through the second run (got '$body')" test "$body" = "$(cat "$TEST_TMP/www/index.html")"
kill -9 "$gateway2_PID"
wait "$gateway2_PID" 2>/dev/null
check "after SIGKILL the TUN is gone" wait_for 10 bash -c "! ip -n $NS_GW link show $TUN >/dev/null 2>&1"
info "rules left behind by SIGKILL: $(rules -4) IPv4, $(rules -6) IPv6"
n4m_ns "$NS_GW" gateway3 "${GW_ARGS[@]}"
check "the gateway starts over a crashed run's leftovers" wait_for 10 gw_up
check "... and has seen the agent online" wait_for 15 grep -q "peer $AGENT/- online" "$TEST_TMP/gateway3.log"
body=$(lan timeout 10 curl -sS http://10.20.0.2:$HTTP/ 2>&1)
check "lan: curl through the third run (got '$body')" test "$body" = "$(cat "$TEST_TMP/www/index.html")"
check "exactly one rule of the gateway's per family (got $(rules -4) IPv4, $(rules -6) IPv6)" \
	test "$(rules -4)" = 1 -a "$(rules -6)" = 1
kill "$gateway3_PID"
check "the third run exits on SIGTERM" wait_for 10 bash -c "! kill -0 $gateway3_PID 2>/dev/null"
check "... leaving no TUN, route or rule" \
	bash -c "! ip -n $NS_GW link show $TUN >/dev/null 2>&1 && ! ip -n $NS_GW route show table all | grep -q 10.20.0.0/24 && [ \$(ip -n $NS_GW rule show | grep -cvE '^(0|32766|32767):') = 0 ]"
info "done"
finish
