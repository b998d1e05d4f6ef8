#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by bg_ns / n4m_ns
# The gateway as a router, from a LAN host that knows only its default route:
#
#   lan 192.168.88.2 ── gw 192.168.88.1 ── 10.88.0.1 ─ 10.88.0.2 agent 10.21.0.1 ── 10.21.0.2 srv
#       (.3: flood)      fd88::1            (mosquitto,                fd21::1 ──── fd21::2
#       fd88::2                              gateway)
#
# Checks: ping and ping -6 to srv through the agent (20 of 20 replies), with a
# raw socket (the agent is root, net.ipv4.ping_group_range excludes it) and then
# an ICMP datagram socket (the range widened); traceroute -I shows the gw, the
# tunnel hop (198.18.0.2, time exceeded) and srv; an agent with no "icmp" in its
# status (as a net4mqtt agent publishes) gets the LAN host an administratively
# prohibited unreachable; 3000-byte UDP datagrams echoed intact through
# fragments both ways, IPv4 and IPv6; a 10 s flood of first fragments with
# random ids from another address leaves the reassembly memory within its
# limit, the gateway's RSS bounded, and other flows (UDP, a fragmented echo,
# HTTP) working during it. Last, agent pools: 10.21.0.0/24 is routed to a pool
# whose second member comes online late: held connections spread over both,
# kill -9 of the second fails exactly its own, new ones go on at once, and it
# gets flows again once back; two agents advertising 10.24.0.0/24
# (--auto-routes) form a pool of their own.
set -u
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../netns-lib.sh"
TOOL=$(cd "$(dirname "$0")" && pwd)/helpers/gwtool.py
POOL=$(cd "$(dirname "$0")" && pwd)/helpers/pooltool.py

PREFIX=e2e/router
GWID=rgw-$$
AGENT=rag-$$
AGENT2=rag2-$$ # joins AGENT's pool for 10.21.0.0/24 late; advertises 10.24.0.0/24
AGENT3=rag3-$$ # advertises 10.24.0.0/24 too: the two form a pool
N4M_AGENT=rn4m-$$ # a net4mqtt agent's status: online, no capabilities
BPORT=1883
HTTP=8080
UDP=7007
TCP_ECHO=7008
STATUS=127.0.0.1:9810

S=$$
NS_LAN=n4m-rt-lan-$S NS_GW=n4m-rt-gw-$S NS_AG=n4m-rt-ag-$S NS_SRV=n4m-rt-srv-$S

ns_test gateway_router "$NS_LAN" "$NS_GW" "$NS_AG" "$NS_SRV"
for tool in ping traceroute; do
	if ! command -v $tool >/dev/null; then
		fail "$tool is installed (make deps)"
		finish
		exit
	fi
done

topology() {
	ns_up "${ALL_NS[@]}" || return 1
	lan_via_gw "$NS_LAN" "$NS_GW" 192.168.88 || return 1
	ip -n "$NS_LAN" addr add 192.168.88.3/24 dev "l$S" || return 1
	veth "$NS_GW" ga "$NS_AG" ag || return 1
	addr "$NS_GW" ga 10.88.0.1/30 && addr "$NS_AG" ag 10.88.0.2/30 || return 1
	veth "$NS_AG" as "$NS_SRV" sa || return 1
	addr "$NS_AG" as 10.21.0.1/24 && addr6 "$NS_AG" as fd21::1/64 && addr "$NS_AG" as 10.24.0.1/24 || return 1
	addr "$NS_SRV" sa 10.21.0.2/24 && addr6 "$NS_SRV" sa fd21::2/64 && addr "$NS_SRV" sa 10.24.0.2/24 || return 1
	ip -n "$NS_SRV" route add default via 10.21.0.1 && ip -n "$NS_SRV" -6 route add default via fd21::1
}
lan() { ip netns exec "$NS_LAN" "$@"; }
need "four namespaces, veth pairs, addresses and routes" topology

mkdir -p "$TEST_TMP/www"
echo "the server behind $AGENT" >"$TEST_TMP/www/index.html"
chmod -R a+rX "$TEST_TMP"
bg_ns "$NS_SRV" http4 "$PY" "$TOOL" http 10.21.0.2 $HTTP "$TEST_TMP/www" "$TEST_TMP/http4.req"
bg_ns "$NS_SRV" udpecho "$PY" "$TOOL" udp-echo 10.21.0.2 $UDP "$TEST_TMP/udp4.got"
bg_ns "$NS_SRV" udpecho6 "$PY" "$TOOL" udp-echo fd21::2 $UDP "$TEST_TMP/udp6.got"
bg_ns "$NS_SRV" tcpecho socat TCP-LISTEN:$TCP_ECHO,fork,reuseaddr,backlog=128 EXEC:cat
srv_ready() {
	ns_tcp_listening "$NS_SRV" $HTTP && ns_tcp_listening "$NS_SRV" $TCP_ECHO && [ "$(ip netns exec "$NS_SRV" ss -Huln "sport = :$UDP" | wc -l)" -eq 2 ]
}
need "servers listen in srv (http, UDP echo v4 and v6)" wait_for 10 srv_ready

printf 'listener %s 0.0.0.0\nallow_anonymous true\n' $BPORT >"$TEST_TMP/mosquitto.conf"
bg_ns "$NS_GW" mosquitto mosquitto -c "$TEST_TMP/mosquitto.conf"
need "mosquitto listens in the gw namespace" wait_for 10 ns_tcp_listening "$NS_GW" $BPORT

ip netns exec "$NS_GW" mosquitto_pub -L "mqtt://127.0.0.1:$BPORT/$PREFIX/$N4M_AGENT/-/v/-" -r -q 1 \
	-m '{"online":true}'
start_agent() { # NAME: the agent, as root in its namespace
	n4m_ns "$NS_AG" "$1" agent -m "mqtt://10.88.0.1:$BPORT/$PREFIX?client_id=$AGENT" -i "$AGENT" \
		-t 127.0.0.1:9 --udp-timeout 3
	wait_for 10 grep -q "mqtt: connected" "$TEST_TMP/$1.log"
}
need "the agent connects (ping_group_range '$(ip netns exec "$NS_AG" sysctl -n net.ipv4.ping_group_range)')" \
	start_agent agent
check "the agent pings with a raw socket: no group may open an ICMP datagram socket here" \
	grep -q "ICMP echo with a raw socket" "$TEST_TMP/agent.log"
check "its status says it carries ICMP echo" \
	has '"icmp":1' ip netns exec "$NS_GW" timeout 5 mosquitto_sub -L "mqtt://127.0.0.1:$BPORT/$PREFIX/$AGENT/-/v/-" -C 1 -W 4

n4m_ns "$NS_GW" gateway gateway -m "mqtt://127.0.0.1:$BPORT/$PREFIX?client_id=$GWID" -i "$GWID" \
	-a "$AGENT" --udp-timeout 3 --status-listen $STATUS \
	--route "10.21.0.0/24=$AGENT,$AGENT2" --route fd21::/64 --route "10.23.0.0/24=$N4M_AGENT" --auto-routes
gw_up() {
	has "10.21.0.0/24 dev n4m0" ip -n "$NS_GW" route show table all &&
		grep -q "peer $AGENT/- online" "$TEST_TMP/gateway.log" &&
		grep -q "peer $N4M_AGENT/- online" "$TEST_TMP/gateway.log"
}
need "the gateway is up and has seen both agents online" wait_for 15 gw_up
metric() { ip netns exec "$NS_GW" curl -s -m 5 "http://$STATUS/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

# 1. ping, ping -6, traceroute
ping_all() { # ARGS...: 20 echo requests, 0.05 s apart (root may); prints ping's summary
	lan timeout 30 ping -n -c 20 -i 0.05 -W 3 "$@" 2>&1 | grep -E 'transmitted|Unreachable|filtered|prohibited' | head -n 3
}
out=$(ping_all 10.21.0.2)
check "lan: ping 10.21.0.2 through the agent: 20 of 20 replies ($out)" has " 20 received, 0% packet loss" echo "$out"
out=$(ping_all -6 fd21::2)
check "lan: ping -6 fd21::2 through the agent: 20 of 20 replies ($out)" has " 20 received, 0% packet loss" echo "$out"
out=$(lan timeout 10 ping -n -c 3 -i 0.2 -W 3 -s 1400 10.21.0.2 2>&1 | grep transmitted)
check "lan: ping -s 1400 (a 1428-byte echo) comes back whole ($out)" has " 3 received" echo "$out"

trace=$(lan timeout 60 traceroute -I -n -q 1 -w 3 -m 6 10.21.0.2 2>&1)
echo "$trace" | sed 's/^/    /'
hops=$(awk 'NR > 1 {print $2}' <<<"$trace" | tr '\n' ' ')
check "traceroute -I 10.21.0.2: the gateway, its tunnel hop, the destination (hops: $hops)" \
	test "$hops" = "192.168.88.1 198.18.0.2 10.21.0.2 "
check "/metrics counts the time exceeded it sent ($(metric 'net4mqtt_tun_icmp_total{reason="ttl_exceeded"}'))" \
	test "$(metric 'net4mqtt_tun_icmp_total{reason="ttl_exceeded"}')" -ge 1

out=$(lan timeout 10 ping -n -c 1 -W 3 10.23.0.1 2>&1)
check "lan: ping to the net4mqtt agent's subnet is refused at once, administratively prohibited ($(grep -i -m1 -E 'filtered|prohibited|transmitted' <<<"$out"))" \
	grep -qiE 'packet filtered|prohibited' <<<"$out"
check "/metrics counts it" test "$(metric 'net4mqtt_tun_icmp_total{reason="agent_without_icmp"}')" -ge 1

# 2. The agent again, now allowed ICMP datagram sockets.
kill "$agent_PID"
wait "$agent_PID" 2>/dev/null
sysctl_ns "$NS_AG" "net.ipv4.ping_group_range=0 2147483647"
need "the agent starts again" start_agent agent_dgram
check "the agent pings with an ICMP datagram socket now" grep -q "ICMP echo with a datagram socket" "$TEST_TMP/agent_dgram.log"
check "the gateway sees it online again" wait_for 10 bash -c "[ \$(grep -c 'peer $AGENT/- online' '$TEST_TMP/gateway.log') -ge 2 ]"
out=$(ping_all 10.21.0.2)
check "lan: ping 10.21.0.2 through the datagram socket: 20 of 20 ($out)" has " 20 received, 0% packet loss" echo "$out"
out=$(ping_all -6 fd21::2)
check "lan: ping -6 fd21::2 through the datagram socket: 20 of 20 ($out)" has " 20 received, 0% packet loss" echo "$out"

# 3. Fragments both ways: the lan host splits its 3000-byte datagrams, the
# gateway rebuilds them; the echo comes back split by the gateway (IPv6: 1280).
for dst in 10.21.0.2 fd21::2; do
	res=$(lan timeout 30 "$PY" "$TOOL" udp "$dst" $UDP 3000 1473 3000 8000 2>&1)
	check "lan: UDP echo of 3000, 1473, 3000 and 8000 bytes via $dst, in fragments both ways ($res)" has "udp ok" echo "$res"
done
check "/metrics: datagrams reassembled ($(metric 'net4mqtt_tun_reassembly_total{result="reassembled"}'))" \
	test "$(metric 'net4mqtt_tun_reassembly_total{result="reassembled"}')" -ge 8
check "/metrics: fragments sent to the lan ($(metric net4mqtt_tun_fragments_sent_total))" \
	test "$(metric net4mqtt_tun_fragments_sent_total)" -ge 8

# 4. A flood of fragments that never complete, from 192.168.88.3, for 10 s.
rss0=$(rss_kb "$gateway_PID")
bg_ns "$NS_LAN" flood timeout 20 "$PY" "$TOOL" frag-flood 192.168.88.3 10.21.0.2 $UDP 10
flood_on() { [ "$(metric net4mqtt_tun_reassembly_datagrams)" -gt 100 ]; }
check "the flood reaches the gateway (over 100 datagrams held for reassembly)" wait_for 10 flood_on
most=0 rounds=0 bad=0
while kill -0 "$flood_PID" 2>/dev/null && [ $rounds -lt 40 ]; do
	rounds=$((rounds + 1))
	held=$(metric net4mqtt_tun_reassembly_bytes)
	[ "${held:-0}" -gt "$most" ] && most=$held
	res=$(lan timeout 20 "$PY" "$TOOL" udp 10.21.0.2 $UDP 100 3000 2>&1)
	grep -q "udp ok" <<<"$res" || { bad=$((bad + 1)); echo "    during the flood: $res"; }
	body=$(lan timeout 10 curl -sS "http://10.21.0.2:$HTTP/" 2>&1)
	[ "$body" = "$(cat "$TEST_TMP/www/index.html")" ] || { bad=$((bad + 1)); echo "    during the flood: curl: $body"; }
done
wait "$flood_PID"
info_flood=$(cat "$TEST_TMP/flood.log")
check "during the flood ($info_flood) $rounds rounds of a UDP echo (100 and 3000 bytes) and a curl from 192.168.88.2 all worked ($bad failed)" \
	test "$rounds" -ge 2 -a "$bad" -eq 0
check "reassembly memory stayed within its 4 MiB limit (at most $most bytes seen)" test "$most" -le $((4 << 20)) -a "$most" -gt 0
rss1=$(rss_kb "$gateway_PID")
check_rss "the gateway's RSS grew by less than 16 MiB in the flood ($rss0 -> $rss1 kB)" "$rss1" $((rss0 + (16 << 10)))
check "/metrics counts the fragments refused over the limit ($(metric 'net4mqtt_tun_reassembly_total{result="over_limit"}'))" \
	test "$(metric 'net4mqtt_tun_reassembly_total{result="over_limit"}')" -gt 0
res=$(lan timeout 20 "$PY" "$TOOL" udp 10.21.0.2 $UDP 3000 2>&1)
check "after the flood, a 3000-byte echo still works ($res)" has "udp ok" echo "$res"
check "gateway and agent are still running" all_running "$gateway_PID" "$agent_dgram_PID"

# 5. 10.21.0.0/24 is routed to the pool AGENT,AGENT2. AGENT2 was never online
# until now, so every flow so far went to AGENT. It joins: new connections
# spread over both; kill -9 of AGENT2: exactly its connections fail, and new
# ones go to AGENT at once.
n4m_ns "$NS_AG" agent2 agent -m "mqtt://10.88.0.1:$BPORT/$PREFIX?client_id=$AGENT2" -i "$AGENT2" -t 127.0.0.1:9 \
	--advertise 10.24.0.0/24
n4m_ns "$NS_AG" agent3 agent -m "mqtt://10.88.0.1:$BPORT/$PREFIX?client_id=$AGENT3" -i "$AGENT3" -t 127.0.0.1:9 \
	--advertise 10.24.0.0/24
check "the gateway sees $AGENT2 online" wait_for 10 grep -q "peer $AGENT2/- online" "$TEST_TMP/gateway.log"

# Both advertise 10.24.0.0/24 (--auto-routes): a pool of its own.
pooled() {
	ip netns exec "$NS_GW" curl -s -m 5 "http://$STATUS/status" | grep -qF "{\"pool\":\"$AGENT2,$AGENT3\",\"members\":[{\"id\":\"$AGENT2\",\"online\":true},{\"id\":\"$AGENT3\",\"online\":true}]}"
}
check "the advertisers of 10.24.0.0/24 form a pool in /status" wait_for 15 pooled
res=$(lan timeout 60 "$PY" "$POOL" burst 10.24.0.2 $TCP_ECHO 30 2>&1)
check "lan: 30 connections to 10.24.0.2:$TCP_ECHO through the advertised pool ($res)" test "$res" = "burst: 30 ok, 0 failed"
a2=$(stat_field "$(stats agent2 "$agent2_PID")" opened) a3=$(stat_field "$(stats agent3 "$agent3_PID")" opened)
check "... spread over both advertisers ($a2 + $a3)" test "${a2:-0}" -gt 0 -a "${a3:-0}" -gt 0 -a $((a2 + a3)) -eq 30
opened1() { stat_field "$(stats agent_dgram "$agent_dgram_PID")" opened; }
opened2() { stat_field "$(stats agent2 "$agent2_PID")" opened; }
b1=$(opened1) b2=$(opened2)
bg_ns "$NS_LAN" hold timeout 120 "$PY" "$POOL" hold 10.21.0.2 $TCP_ECHO 40 "$TEST_TMP/ready" "$TEST_TMP/go"
check "lan: 40 connections to 10.21.0.2:$TCP_ECHO opened through the pool" wait_for 60 test -s "$TEST_TMP/ready"
check "... and each echoed ($(cat "$TEST_TMP/ready" 2>/dev/null))" test "$(cat "$TEST_TMP/ready" 2>/dev/null)" = 40
o1=$(($(opened1) - b1))
o2=$(($(opened2) - b2))
check "the 40 are spread over both members ($o1 + $o2)" test "${o1:-0}" -gt 0 -a "${o2:-0}" -gt 0 -a $((o1 + o2)) -eq 40
kill -9 "$agent2_PID"
check "the gateway hears $AGENT2's last will" wait_for 10 grep -q "peer $AGENT2/- went offline" "$TEST_TMP/gateway.log"
res=$(lan timeout 60 "$PY" "$POOL" burst 10.21.0.2 $TCP_ECHO 50 2>&1)
check "lan: 50 new connections right after all succeed ($res)" test "$res" = "burst: 50 ok, 0 failed"
touch "$TEST_TMP/go"
check "the held connections are done" wait_for 60 bash -c "! kill -0 $hold_PID 2>/dev/null"
res=$(grep '^hold:' "$TEST_TMP/hold.log")
check "of the 40 held, exactly $AGENT2's $o2 failed ($res)" test "$res" = "hold: $((40 - o2)) ok, $o2 failed"

n4m_ns "$NS_AG" agent2b agent -m "mqtt://10.88.0.1:$BPORT/$PREFIX?client_id=$AGENT2" -i "$AGENT2" -t 127.0.0.1:9
check "$AGENT2 comes back" wait_for 10 bash -c "[ \$(grep -c 'peer $AGENT2/- online' '$TEST_TMP/gateway.log') -ge 2 ]"
res=$(lan timeout 60 "$PY" "$POOL" burst 10.21.0.2 $TCP_ECHO 30 2>&1)
n2=$(stat_field "$(stats agent2b "$agent2b_PID")" opened)
check "lan: 30 more connections succeed, and $AGENT2 serves some again ($res; it opened ${n2:-?})" \
	test "$res" = "burst: 30 ok, 0 failed" -a "${n2:-0}" -gt 0

kill "$gateway_PID"
check "the gateway exits on SIGTERM" wait_for 10 bash -c "! kill -0 $gateway_PID 2>/dev/null"
finish
