#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m_ns
# Names through the gateway (--dns) and routes agents advertise (--auto-routes),
# end to end in network namespaces of their own:
#
#   lan 192.168.77.2 ── gw 192.168.77.1 ── 10.77.0.1 ─ 10.77.0.2 agent "site"
#   (resolv.conf:        (mosquitto, gateway            10.20.0.2:8080 its default target
#    198.18.0.1)          --dns --auto-routes,          10.20.0.3:80   web.example.internal
#                         no --route)                   10.53.0.53     its resolver (dnstool)
#
# gw has no route to 10.20/10.53 and cannot resolve web.example.internal; only
# the agent's namespace can. Checks: the advertised subnet is routed (and
# reachable) with no --route, and withdrawn when the agent stops; A and AAAA
# answers for site.net4mqtt.local from the pool, stable, short TTL; curl by
# that name reaches the agent's default target; curl http://web.example.internal/
# (--remote-domain) reaches a server only the agent can resolve, the agent
# resolving it; an ordinary name goes to the resolver through the agent;
# --dns-hijack answers port 53 in a routed subnet, over UDP and TCP; deeper
# names get NXDOMAIN; malformed queries get FORMERR or nothing, and the
# gateway keeps answering.
set -u
source "$(dirname "$0")/../lib.sh"
S=$$
source "$(dirname "$0")/../netns-lib.sh"
DNSTOOL=$(cd "$(dirname "$0")" && pwd)/helpers/dnstool.py

PREFIX=e2e/gwdns
GWID=gwd-$S
AGENT=site$S
NS_LAN=n4m-dns-lan-$S NS_GW=n4m-dns-gw-$S NS_AG=n4m-dns-ag-$S
FAKE4='^198\.19\.[0-9]+\.[0-9]+$'
FAKE6='^fdfe:dcba:9876:1::[0-9a-f]+$'

ns_test gateway_dns "$NS_LAN" "$NS_GW" "$NS_AG"

topology() {
	site_link || return 1
	local a
	for a in 10.20.0.2/32 10.20.0.3/32 10.53.0.53/32; do
		ip -n "$NS_AG" addr add "$a" dev lo || return 1
	done
	# ip netns exec bind-mounts /etc/netns/NS/* over /etc
	mkdir -p "/etc/netns/$NS_LAN" "/etc/netns/$NS_AG" &&
		echo "nameserver 198.18.0.1" >"/etc/netns/$NS_LAN/resolv.conf" &&
		echo "nameserver 10.53.0.53" >"/etc/netns/$NS_AG/resolv.conf"
}
lan() { ip netns exec "$NS_LAN" "$@"; }
# dig_short NS ARGS...: the answer section, one record per line
dig_short() { local ns=$1; shift; timeout 15 ip netns exec "$ns" dig +short +time=2 +tries=2 "$@" 2>&1; }
rcode_of() { local ns=$1; shift; timeout 15 ip netns exec "$ns" dig +time=2 +tries=2 "$@" 2>&1 | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'; }

need "three namespaces, veth pairs, addresses, resolv.conf per namespace" topology

mkdir -p "$TEST_TMP/www-default" "$TEST_TMP/www-web"
echo "the agent's default target" >"$TEST_TMP/www-default/index.html"
echo "web.example.internal, resolved behind the agent" >"$TEST_TMP/www-web/index.html"
(cd "$TEST_TMP/www-default" && exec ip netns exec "$NS_AG" "$PY" -m http.server --bind 10.20.0.2 8080) \
	>"$TEST_TMP/http1.log" 2>&1 &
bg_track $!
(cd "$TEST_TMP/www-web" && exec ip netns exec "$NS_AG" "$PY" -m http.server --bind 10.20.0.3 80) \
	>"$TEST_TMP/http2.log" 2>&1 &
bg_track $!
bg_ns "$NS_AG" resolver "$PY" "$DNSTOOL" serve 10.53.0.53 53 web.example.internal=10.20.0.3 \
	www.ordinary.test=10.99.0.1
printf 'listener 1883 10.77.0.1\nlistener 1883 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\nset_tcp_nodelay true\n' \
	>"$TEST_TMP/m.conf"
bg_ns "$NS_GW" mosquitto env $BROKER_ENV mosquitto -c "$TEST_TMP/m.conf"
need "servers, resolver and broker listen" wait_for 10 bash -c \
	"ip netns exec $NS_AG ss -Htln 'sport = :8080 or sport = :80' | grep -c . | grep -qx 2 &&
	 ip netns exec $NS_AG ss -Huln 'sport = :53' | grep -q . &&
	 ip netns exec $NS_GW ss -Htln 'sport = :1883' | grep -q ."
check "the gateway's namespace cannot resolve web.example.internal by itself" \
	bash -c "! ip netns exec $NS_GW getent hosts web.example.internal"

n4m_ns "$NS_AG" agent agent -m "mqtt://10.77.0.1:1883/$PREFIX" -i "$AGENT" -t 10.20.0.2:8080 \
	--advertise 10.20.0.0/24
n4m_ns "$NS_GW" gateway gateway -m "mqtt://127.0.0.1:1883/$PREFIX" -i "$GWID" -a "$AGENT" \
	--auto-routes --dns --dns-hijack --remote-domain "example.internal=$AGENT" \
	--dns-upstream 10.53.0.53
need "the gateway sees the agent online" wait_for 15 grep -q "peer $AGENT/- online" "$TEST_TMP/gateway.log"
need "the gateway listens for DNS on 198.18.0.1:53" wait_for 10 bash -c \
	"ip netns exec $NS_GW ss -Huln 'sport = :53' | grep -q 198.18.0.1"

# 0. After start-up the gateway keeps CAP_NET_ADMIN only (it still changes routes below)
caps() { sed -n "s/^$2:\t//p" "/proc/$1/status"; }
check "the gateway's effective capabilities are CAP_NET_ADMIN alone ($(caps "$gateway_PID" CapEff))" \
	test "$(caps "$gateway_PID" CapEff)" = 0000000000001000
check "... its bounding set too ($(caps "$gateway_PID" CapBnd)), and no_new_privs" \
	test "$(caps "$gateway_PID" CapBnd)" = 0000000000001000 -a "$(caps "$gateway_PID" NoNewPrivs)" = 1

# 1. Advertised routes
check "the agent's status advertises 10.20.0.0/24" has '"routes":["10.20.0.0/24"]' \
	timeout 5 ip netns exec "$NS_GW" mosquitto_sub -L "mqtt://127.0.0.1:1883/$PREFIX/$AGENT/-/v/-" -C 1 -W 3
check "--auto-routes installed 10.20.0.0/24 into the TUN (no --route given)" \
	wait_for 10 has "10.20.0.0/24 dev n4m0" ip -n "$NS_GW" route show table 1883
body=$(lan curl -s -m 10 http://10.20.0.2:8080/)
check "lan: curl http://10.20.0.2:8080/ over the advertised route (got '$body')" \
	test "$body" = "the agent's default target"

# 2. The agents' domain
a1=$(dig_short "$NS_LAN" @198.18.0.1 "$AGENT.net4mqtt.local" A)
a2=$(dig_short "$NS_LAN" @198.18.0.1 "$AGENT.NET4MQTT.local" A)
aaaa=$(dig_short "$NS_LAN" @198.18.0.1 "$AGENT.net4mqtt.local" AAAA)
check "A $AGENT.net4mqtt.local is a pool address ($a1)" bash -c "[[ '$a1' =~ $FAKE4 ]]"
check "asked again (other case), the same address ($a2)" test "$a1" = "$a2"
check "AAAA is a pool address ($aaaa)" bash -c "[[ '$aaaa' =~ $FAKE6 ]]"
ttl=$(timeout 15 ip netns exec "$NS_LAN" dig +noall +answer +time=2 @198.18.0.1 "$AGENT.net4mqtt.local" A | awk '{print $2}')
check "its TTL is short ($ttl s)" test "${ttl:-999}" -le 10
b1=$(dig_short "$NS_LAN" @198.18.0.1 other.example.internal A)
check "another name gets another address ($b1)" bash -c "[[ '$b1' =~ $FAKE4 ]] && [ '$b1' != '$a1' ]"
check "a deeper name under the agents' domain is NXDOMAIN" \
	test "$(rcode_of "$NS_LAN" @198.18.0.1 "www.$AGENT.net4mqtt.local" A)" = NXDOMAIN
check "MX of an agent's name: no error ..." \
	test "$(rcode_of "$NS_LAN" @198.18.0.1 "$AGENT.net4mqtt.local" MX)" = NOERROR
check "... and no records (NODATA)" test -z "$(dig_short "$NS_LAN" @198.18.0.1 "$AGENT.net4mqtt.local" MX)"
body=$(lan curl -s -m 10 "http://$AGENT.net4mqtt.local:8080/")
check "lan: curl http://$AGENT.net4mqtt.local:8080/ reaches the agent's default target (got '$body')" \
	test "$body" = "the agent's default target"
body=$(lan curl -s -m 10 -6 "http://$AGENT.net4mqtt.local:8080/")
check "... and over IPv6, by its AAAA (got '$body')" test "$body" = "the agent's default target"
check "the agent got flows with DST '-' from the gateway" \
	grep -q "from $GWID/$AGENT to - (default target 10.20.0.2:8080)" "$TEST_TMP/agent.log"

# 3. Remote domains: resolved by the agent
body=$(lan curl -s -m 10 http://web.example.internal/)
check "lan: curl http://web.example.internal/ reaches the server only the agent can resolve (got '$body')" \
	test "$body" = "web.example.internal, resolved behind the agent"
check "the flow carried the name, for the agent to resolve" \
	grep -q "from $GWID/$AGENT to web.example.internal:80" "$TEST_TMP/agent.log"
check "the agent asked its resolver for web.example.internal" \
	grep -q "query web.example.internal 1" "$TEST_TMP/resolver.log"

# 4. Other names: forwarded through the default agent
check "the gateway's namespace has no route to the resolver 10.53.0.53" \
	bash -c "! ip -n $NS_GW route get 10.53.0.53 >/dev/null 2>&1"
ans=$(dig_short "$NS_LAN" @198.18.0.1 www.ordinary.test A)
check "dig @198.18.0.1 www.ordinary.test: the upstream's answer 10.99.0.1 ($ans)" test "$ans" = 10.99.0.1
check "... which the resolver behind the agent saw" grep -q "query www.ordinary.test 1" "$TEST_TMP/resolver.log"
check "... carried by a UDP flow to 10.53.0.53:53 at the agent" \
	grep -q "udp 198.18.0.1:53 from $GWID/$AGENT to 10.53.0.53:53" "$TEST_TMP/agent.log"
check "an unknown name: the upstream's NXDOMAIN" \
	test "$(rcode_of "$NS_LAN" @198.18.0.1 nothing.ordinary.test A)" = NXDOMAIN
ans=$(dig_short "$NS_LAN" @fdfe:dcba:9876::1 www.ordinary.test A)
check "dig @fdfe:dcba:9876::1 (IPv6 transport) forwards too ($ans)" test "$ans" = 10.99.0.1
ans=$(dig_short "$NS_LAN" +tcp @198.18.0.1 www.ordinary.test A)
check "dig +tcp @198.18.0.1 (TCP, forwarded over the UDP flow) ($ans)" test "$ans" = 10.99.0.1

# 5. --dns-hijack: port 53 of a routed subnet is answered by the gateway
ans=$(dig_short "$NS_LAN" @10.20.0.99 "$AGENT.net4mqtt.local" A)
check "hijack: dig @10.20.0.99 (nothing there) answers from the pool ($ans)" test "$ans" = "$a1"
ans=$(dig_short "$NS_LAN" +tcp @10.20.0.99 "$AGENT.net4mqtt.local" A)
check "hijack: dig +tcp @10.20.0.99 too ($ans)" test "$ans" = "$a1"

# 6. Bad queries
check "a query with two questions gets FORMERR" has "rcode 1 qdcount 0" \
	lan "$PY" "$DNSTOOL" raw 198.18.0.1 53 "123401000002000000000000036e6f7700000100010000010001"
check "an IQUERY gets NOTIMP" has "rcode 4" \
	lan "$PY" "$DNSTOOL" raw 198.18.0.1 53 "12340800000100000000000003616263000001000100"
check "500 malformed datagrams are sent" has "sent 500" lan "$PY" "$DNSTOOL" garbage 198.18.0.1 53 500
res=$(lan timeout 20 "$PY" "$DNSTOOL" pipeline 198.18.0.1 53 "$AGENT.net4mqtt.local" 2000)
check "2000 queries pipelined in one TCP write all get answers ($res)" test "$res" = "answers 2000"
res=$(lan timeout 30 "$PY" "$DNSTOOL" tcp-many 198.18.0.1 53 80)
check "80 idle TCP clients: the oldest are closed (at most 64 kept), a new one is answered ($res)" \
	bash -c "[[ '$res' =~ ^closed\ (1[7-9]|[2-9][0-9])\ of\ 80,\ fresh\ rcode\ [0-9]+$ ]]"
check "the gateway still runs" all_running "$gateway_PID"
ans=$(dig_short "$NS_LAN" @198.18.0.1 "$AGENT.net4mqtt.local" A)
check "and still answers ($ans)" test "$ans" = "$a1"

# 7. What an agent may advertise. A status published by hand stands for an agent
# (anyone who may publish statuses can do this: see the README's ACL).
EVIL=$PREFIX/evil$S/-/v/-
pub_status() { ip netns exec "$NS_GW" mosquitto_pub -L "mqtt://127.0.0.1:1883/$EVIL" -r -m "$1"; }
pub_status '{"online":true,"role":"agent","routes":["0.0.0.0/0","198.19.0.0/16","127.0.0.0/8","192.168.0.0/16","10.77.0.0/29","10.66.0.0/24","10.67.0.0/24"]}'
check "an advertised 10.66.0.0/24 is routed" \
	wait_for 10 has "10.66.0.0/24 dev n4m0" ip -n "$NS_GW" route show table 1883
check "a default route advertised is ignored, with a log line" \
	grep -q "agent evil$S advertises 0.0.0.0/0: ignored (a default route)" "$TEST_TMP/gateway.log"
check "the fake-ip pool and loopback advertised are ignored" bash -c \
	"grep -q 'advertises 198.19.0.0/16: ignored' '$TEST_TMP/gateway.log' && grep -q 'advertises 127.0.0.0/8: ignored' '$TEST_TMP/gateway.log'"
check "table 1883 has no default route" bash -c "! ip -n $NS_GW route show table 1883 | grep -q '^default'"
check "subnets the gateway is attached to (its LAN 192.168.77.0/24, its uplink 10.77.0.0/30) are ignored" bash -c \
	"grep -q 'advertises 192.168.0.0/16: ignored (overlaps a subnet the gateway is attached to)' '$TEST_TMP/gateway.log' &&
	 grep -q 'advertises 10.77.0.0/29: ignored (overlaps a subnet the gateway is attached to)' '$TEST_TMP/gateway.log'"
check "... and not routed" bash -c "! ip -n $NS_GW route show table 1883 | grep -qE '192\.168\.0\.0|10\.77\.0\.0'"
pub_status '{"online":true,"role":"agent","routes":["10.67.0.0/24"]}'
check "a subnet it stops advertising is withdrawn" \
	wait_for 10 bash -c "! ip -n $NS_GW route show table 1883 | grep -q '10.66.0.0/24'"
check "... with a log line" wait_for 5 grep -q "10.66.0.0/24 withdrawn (agent evil$S stopped advertising it)" "$TEST_TMP/gateway.log"
check "... and the one it still advertises stays" has "10.67.0.0/24 dev n4m0" ip -n "$NS_GW" route show table 1883
# a flood of such statuses (anyone may publish them): what they make the gateway say is bounded
flood_status='{"online":true,"role":"agent","routes":["0.0.0.0/0","10.67.0.0/24"]}'
said() { grep -c "agent evil$S advertises 0.0.0.0/0: ignored" "$TEST_TMP/gateway.log"; }
said0=$(said) t0=$SECONDS
said_more() { [ "$(said)" -gt "$said0" ]; }
for _ in $(seq 300); do echo "$flood_status"; done |
	ip netns exec "$NS_GW" mosquitto_pub -L "mqtt://127.0.0.1:1883/$EVIL" -l
check "300 statuses advertising a default route: the gateway says so" wait_for 10 said_more
secs=$((SECONDS - t0 + 1)) n=$(($(said) - said0))
check "... at most 20 lines a second ($n in about $secs s)" test "$n" -le $((20 * (secs + 1)))
pub_status '{}'
check "its offline status withdraws the rest" \
	wait_for 10 bash -c "! ip -n $NS_GW route show table 1883 | grep -q '10.67.0.0/24'"
ip netns exec "$NS_GW" mosquitto_pub -L "mqtt://127.0.0.1:1883/$EVIL" -r -n

# 8. The agent goes: its advertised route is withdrawn
kill "$agent_PID"
check "the agent exits on SIGTERM" wait_for 10 bash -c "! kill -0 $agent_PID 2>/dev/null"
check "the gateway withdrew 10.20.0.0/24" \
	wait_for 10 bash -c "! ip -n $NS_GW route show table 1883 | grep -q '10.20.0.0/24'"
check "the gateway logged it" wait_for 5 grep -q "10.20.0.0/24 withdrawn (agent $AGENT offline)" "$TEST_TMP/gateway.log"
lan curl -s -m 5 http://10.20.0.2:8080/ >/dev/null
rc=$?
check "lan: 10.20.0.2 now fails fast (curl rc $rc; 28 would be a timeout)" test "$rc" -ne 0 -a "$rc" -ne 28
check "an ordinary name with the default agent offline: SERVFAIL at once" \
	test "$(rcode_of "$NS_LAN" @198.18.0.1 www.ordinary.test A)" = SERVFAIL

kill "$gateway_PID"
check "the gateway exits on SIGTERM" wait_for 10 bash -c "! kill -0 $gateway_PID 2>/dev/null"
check "its DNS counters were logged" grep -q "gateway: dns: [0-9]* queries" "$TEST_TMP/gateway.log"
finish
