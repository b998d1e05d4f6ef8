#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m / n4m_ns
# A peer dies without a word (SIGKILL), with flows open:
#  a. the agent dies under a local-port TCP flow, a local-socks flow and
#     local-port -u UDP flows: the clients' connections end (EOF or reset,
#     never a hang), the broker publishes the agent's last will ("{}",
#     retained), every local's flows end (stats 'flows open 0', long before the
#     UDP timeout); while it is offline, new connections are refused at once;
#     a restarted agent carries new flows of all three kinds;
#  b. locals die: the agent ends exactly their flows (its connections to the
#     destination close, 'flows open' falls to what the living local still
#     has, whose flow keeps working), then 0 when the last local dies;
#  c. (root) a gateway with --auto-routes and an agent that advertises
#     10.20.0.0/24, in namespaces: SIGKILL the agent and the gateway withdraws
#     the route because of the will; a LAN host's connection then fails fast;
#     a restarted agent brings the route back.
set -u
source "$(dirname "$0")/../lib.sh"
S=$$
source "$(dirname "$0")/../netns-lib.sh"
HELPERS=$(cd "$(dirname "$0")" && pwd)/helpers
TOOL=$HELPERS/nettool.py
FLOW=$HELPERS/flowtool.py
PREFIX=e2e/faults
AGENT=fault-agent-$S
LP_ID=fault-lport-$S
LS_ID=fault-lsocks-$S
LU_ID=fault-ludp-$S
UDP_TIMEOUT=60 # flows must end because a peer died, not because they idled out
BOUND=10 # seconds from a kill to everything a check looks at (the broker's keepalive is 30 s)
NS_LAN=n4m-flt-lan-$S NS_GW=n4m-flt-gw-$S NS_AG=n4m-flt-ag-$S
ALL_NS=()

faults_cleanup() {
	cleanup # stops every process first (a namespace lives on while one runs in it)
	local ns
	for ns in "${ALL_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
}
trap faults_cleanup EXIT

flows_open() { stat_field "$(stats "$1" "$2")" "flows open"; }
# by T command...: polls until the command succeeds or $SECONDS reaches T (tries at least once):
# checks after a kill are all bounded from the moment of the kill, however long each try takes
by() {
	local t=$1
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$t" ] || return 1
		sleep 0.1
	done
}
flows_open_is() { [ "$(flows_open "$1" "$2")" = "$3" ]; }
retained() { # topic -> the retained payload on the loopback broker, or nothing within 5 s
	timeout 10 mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -t "$1" -C 1 -W 5 2>/dev/null
}
retained_is() { [ "$(retained "$1")" = "$2" ]; }
# must WHAT command...: a check the rest cannot do without (unlike need, blind to earlier failures)
must() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; exit 1; fi
}
established_to() { ss -Htn state established "( dport = :$1 )" | grep -c .; }
established_is() { [ "$(established_to "$1")" -eq "$2" ]; }
sigkill() { { kill -KILL "$1" && wait "$1"; } 2>/dev/null; } # no "Killed" notice from bash
# ended_by T FILE WHAT: the held connection whose helper writes FILE ends by T, with EOF or an error
ended_by() {
	if by "$1" grep -q '^ended' "$2"; then
		local how
		how=$(grep '^ended' "$2")
		check "$3: the client's connection ends within $BOUND s with EOF or a reset ($how)" \
			grep -Eq '^ended: (eof|error)' <<<"$how"
	else
		fail "$3: the client's connection ends within $BOUND s (still open: a hang)"
	fi
}

start_broker || { fail "mosquitto starts"; exit 1; }
URL="$BROKER_URL_BASE/$PREFIX"
ECHO=$(free_port)
UECHO=$(free_port)
$PY "$TOOL" echo-tcp "$ECHO" >"$TEST_TMP/echo.log" 2>&1 &
bg_track $!
$PY "$TOOL" echo-udp "$UECHO" >"$TEST_TMP/uecho.log" 2>&1 &
bg_track $!
need "echo servers start" wait_for 10 bash -c "ss -Htln 'sport = :$ECHO' | grep -q . && ss -Huln 'sport = :$UECHO' | grep -q ."

LP=$(free_port)
SP=$(free_port)
UP=$(free_port)
n4m agent agent -m "$URL?client_id=$AGENT" -i "$AGENT" -t "127.0.0.1:$ECHO" --udp-timeout "$UDP_TIMEOUT"
ALOG=agent # the agent's log name, for stats
n4m lport local-port -m "$URL?client_id=$LP_ID" -i "$LP_ID" -a "$AGENT" -l "127.0.0.1:$LP"
n4m lsocks local-socks -m "$URL?client_id=$LS_ID" -i "$LS_ID" -a "$AGENT" -l "127.0.0.1:$SP"
n4m ludp local-port -u -m "$URL?client_id=$LU_ID" -i "$LU_ID" -a "$AGENT" -l "127.0.0.1:$UP" \
	-t "127.0.0.1:$UECHO" --udp-timeout "$UDP_TIMEOUT"
need "the local-port, local-socks and local-port -u listen" wait_for 10 bash -c \
	"ss -Htln 'sport = :$LP or sport = :$SP' | grep -c . | grep -qx 2 && ss -Huln 'sport = :$UP' | grep -q ."
need "the agent publishes its online status" wait_status "$URL/$AGENT/-/v/-"
need "every local has seen the agent online" wait_for 10 bash -c \
	"grep -q 'peer $AGENT/- online' '$TEST_TMP/lport.log' && grep -q 'peer $AGENT/- online' '$TEST_TMP/lsocks.log' &&
	 grep -q 'peer $AGENT/- online' '$TEST_TMP/ludp.log'"

### a. The agent is killed under open flows
timeout 90 $PY "$FLOW" hold "$LP" </dev/null >"$TEST_TMP/hold-a.out" 2>&1 &
bg_track $!
timeout 90 $PY "$FLOW" socks-hold "$SP" 127.0.0.1 "$ECHO" </dev/null >"$TEST_TMP/socks-a.out" 2>&1 &
bg_track $!
check "a: a local-port TCP flow is open (one echo round done)" wait_for 15 grep -q '^up' "$TEST_TMP/hold-a.out"
check "a: a local-socks flow is open (one echo round done)" wait_for 15 grep -q '^up' "$TEST_TMP/socks-a.out"
res=$(timeout 60 $PY "$TOOL" udp-many "$UP" 5 2>&1)
check "a: 5 UDP flows through local-port -u get their replies ($res)" test "$res" = "udp: 5 of 5 replied, 0 wrong"
wait_for 10 flows_open_is "$ALOG" "$agent_PID" 7 # a flow that just ended may still be closing
n=$(flows_open "$ALOG" "$agent_PID")
check "a: the agent has the 7 flows open (saw ${n:-no stats})" test "${n:-0}" -eq 7
wait_for 10 flows_open_is ludp "$ludp_PID" 5 # a flow that just ended may still be closing
n=$(flows_open ludp "$ludp_PID")
check "a: local-port -u has 5 flows open (saw ${n:-no stats})" test "${n:-0}" -eq 5

sigkill "$agent_PID"
T=$((SECONDS + BOUND))
ended_by "$T" "$TEST_TMP/hold-a.out" "a: agent killed, local-port"
ended_by "$T" "$TEST_TMP/socks-a.out" "a: agent killed, local-socks"
check "a: the broker publishes the agent's last will: its retained status is {}" \
	by "$T" retained_is "$PREFIX/$AGENT/-/v/-" "{}"
check "a: every local logs that the agent went offline" by "$T" bash -c \
	"grep -q 'peer $AGENT/- went offline' '$TEST_TMP/lport.log' && grep -q 'peer $AGENT/- went offline' '$TEST_TMP/lsocks.log' &&
	 grep -q 'peer $AGENT/- went offline' '$TEST_TMP/ludp.log'"
for who in lport lsocks ludp; do
	pidvar=${who}_PID
	check "a: $who ends its flows with the dead agent: flows open 0 within $BOUND s (UDP timeout is $UDP_TIMEOUT s)" \
		by "$T" flows_open_is "$who" "${!pidvar}" 0
done
check "a: the locals keep running" all_running "$lport_PID" "$lsocks_PID" "$ludp_PID"
# While it is known to be offline, new connections are refused at once, not left hanging.
rc=0; timeout 20 curl -sS -m 15 "http://127.0.0.1:$LP/" >/dev/null 2>"$TEST_TMP/curl-off.err" || rc=$?
check "a: a new local-port connection to the offline agent is refused at once (curl rc $rc; 28 is a timeout)" \
	test "$rc" -ne 0 -a "$rc" -ne 28 -a "$rc" -ne 124
rc=0; timeout 20 curl -sS -m 15 --socks5-hostname "127.0.0.1:$SP" "http://127.0.0.1:$ECHO/" >/dev/null \
	2>"$TEST_TMP/socks-off.err" || rc=$?
check "a: local-socks answers 'host unreachable' for the offline agent (curl rc $rc: $(head -c 80 "$TEST_TMP/socks-off.err"))" \
	test "$rc" -eq 97
check "a: both say why in their logs" bash -c \
	"grep -q 'agent $AGENT is offline: connection refused' '$TEST_TMP/lport.log' && grep -q 'the agent is offline' '$TEST_TMP/lsocks.log'"

# The agent comes back under the same id.
n4m agent2 agent -m "$URL?client_id=$AGENT" -i "$AGENT" -t "127.0.0.1:$ECHO" --udp-timeout "$UDP_TIMEOUT"
agent_PID=$agent2_PID ALOG=agent2
check "a: the restarted agent's retained status is online again" wait_status "$URL/$AGENT/-/v/-"
check "a: every local has seen it come back" wait_for 10 bash -c \
	"for f in lport lsocks ludp; do [ \$(grep -c 'peer $AGENT/- online' \"$TEST_TMP/\$f.log\") -ge 2 ] || exit 1; done"
res=$(timeout 60 $PY "$TOOL" echo-once "$LP" 300000 2>&1)
check "a: after the restart a new local-port flow carries 300 KB byte-exact ($res)" test "$res" = "echo ok"
res=$(timeout 60 $PY "$TOOL" udp-many "$UP" 20 2>&1)
check "a: after the restart 20 new UDP flows get their replies ($res)" test "$res" = "udp: 20 of 20 replied, 0 wrong"
mkfifo "$TEST_TMP/socks-b.ctl"
exec 3<>"$TEST_TMP/socks-b.ctl"
timeout 120 $PY "$FLOW" socks-hold "$SP" 127.0.0.1 "$ECHO" <&3 >"$TEST_TMP/socks-b.out" 2>&1 &
bg_track $!
check "a: after the restart a new local-socks flow works (one echo round done)" \
	wait_for 15 grep -q '^up' "$TEST_TMP/socks-b.out"

### b. Locals are killed under open flows
timeout 90 $PY "$FLOW" hold "$LP" </dev/null >"$TEST_TMP/hold-b.out" 2>&1 &
bg_track $!
check "b: a local-port TCP flow is open" wait_for 15 grep -q '^up' "$TEST_TMP/hold-b.out"
res=$(timeout 60 $PY "$TOOL" udp-many "$UP" 5 2>&1)
check "b: 5 more UDP flows get their replies ($res)" test "$res" = "udp: 5 of 5 replied, 0 wrong"
wait_for 10 flows_open_is "$ALOG" "$agent_PID" 27 # a flow that just ended may still be closing
n=$(flows_open "$ALOG" "$agent_PID")
# 1 socks + 1 local-port + 20 + 5 UDP; the 300 KB echo flow ended normally
check "b: the agent has 27 flows open (saw ${n:-no stats})" test "${n:-0}" -eq 27
check "b: the agent holds 2 connections to the TCP destination" wait_for 5 established_is "$ECHO" 2

sigkill "$lport_PID"
sigkill "$ludp_PID"
T=$((SECONDS + BOUND))
check "b: the broker publishes local-port's last will {}" by "$T" retained_is "$PREFIX/-/$LP_ID/v/-" "{}"
check "b: the broker publishes local-port -u's last will {}" by "$T" retained_is "$PREFIX/-/$LU_ID/v/-" "{}"
check "b: the agent logs both locals going offline" by "$T" bash -c \
	"grep -q 'peer -/$LP_ID went offline' '$TEST_TMP/agent2.log' && grep -q 'peer -/$LU_ID went offline' '$TEST_TMP/agent2.log'"
check "b: the agent ends the dead locals' TCP and UDP flows: flows open 1 (the live socks flow) within $BOUND s" \
	by "$T" flows_open_is "$ALOG" "$agent_PID" 1
check "b: the destination sees the dead local's connection close (1 left, the socks flow's)" \
	by "$T" established_is "$ECHO" 1
echo round >&3
check "b: the living local-socks flow still echoes" wait_for 15 grep -q '^round ok' "$TEST_TMP/socks-b.out"

sigkill "$lsocks_PID"
T=$((SECONDS + BOUND))
check "b: the last local killed: the agent's flows open 0 within $BOUND s" by "$T" flows_open_is "$ALOG" "$agent_PID" 0
check "b: the agent has no connection left to the destination" by "$T" established_is "$ECHO" 0
check "b: the agent has no UDP socket left toward the UDP destination" \
	bash -c "! ss -Hun 'dport = :$UECHO' | grep -q ."
check "b: the agent keeps running" all_running "$agent_PID"
exec 3>&-

### c. The gateway withdraws a dead agent's advertised route (root, namespaces)
#   lan 192.168.78.2 ── gw 192.168.78.1 (mosquitto, gateway --auto-routes) 10.78.0.1 ── 10.78.0.2 agent
#                                                                        10.20.0.2:8080 on the agent's lo
if [ "$(id -u)" != 0 ] || ! ip netns add "$NS_LAN" 2>/dev/null; then
	skip "c: gateway route withdrawal: network namespaces need root"
	finish
	exit
fi
ALL_NS=("$NS_LAN" "$NS_GW" "$NS_AG")
topology() {
	ns_up "${ALL_NS[@]}" && lan_via_gw "$NS_LAN" "$NS_GW" 192.168.78 || return 1
	veth "$NS_GW" ga "$NS_AG" ag || return 1
	addr "$NS_GW" ga 10.78.0.1/30 && addr "$NS_AG" ag 10.78.0.2/30 || return 1
	ip -n "$NS_AG" addr add 10.20.0.2/32 dev lo
}
must "c: three namespaces with veth pairs and addresses" topology
GWID=fault-gw-$S
GAGENT=fault-site-$S
mkdir -p "$TEST_TMP/www"
echo "behind the agent $S" >"$TEST_TMP/www/index.html"
(cd "$TEST_TMP/www" && exec ip netns exec "$NS_AG" "$PY" -m http.server --bind 10.20.0.2 8080) \
	>"$TEST_TMP/http.log" 2>&1 &
bg_track $!
printf 'listener 1883 10.78.0.1\nlistener 1883 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\nset_tcp_nodelay true\n' \
	>"$TEST_TMP/gw-mosquitto.conf"
bg_ns "$NS_GW" gw-mosquitto env $BROKER_ENV mosquitto -c "$TEST_TMP/gw-mosquitto.conf"
servers_up() { ns_tcp_listening "$NS_AG" 8080 && ns_tcp_listening "$NS_GW" 1883; }
must "c: the web server and the broker listen" wait_for 10 servers_up
GURL=mqtt://10.78.0.1:1883/$PREFIX
n4m_ns "$NS_AG" gagent agent -m "$GURL?client_id=$GAGENT" -i "$GAGENT" -t 10.20.0.2:8080 --advertise 10.20.0.0/24
n4m_ns "$NS_GW" gateway gateway -m "mqtt://127.0.0.1:1883/$PREFIX?client_id=$GWID" -i "$GWID" -a "$GAGENT" --auto-routes
routed() { ip -n "$NS_GW" route show table 1883 2>/dev/null | grep -q '^10.20.0.0/24 dev n4m0'; }
lan_get() { timeout 15 ip netns exec "$NS_LAN" curl -s -m 10 http://10.20.0.2:8080/; }
check "c: the gateway routes the advertised 10.20.0.0/24 into its TUN (table 1883)" wait_for 15 routed
body=$(lan_get)
check "c: lan: curl http://10.20.0.2:8080/ through the gateway and the agent (got '$body')" \
	test "$body" = "behind the agent $S"

sigkill "$gagent_PID"
gw_will() {
	[ "$(timeout 10 ip netns exec "$NS_GW" mosquitto_sub -h 127.0.0.1 -p 1883 -t "$PREFIX/$GAGENT/-/v/-" -C 1 -W 5 2>/dev/null)" = "{}" ]
}
T=$((SECONDS + BOUND))
check "c: the broker publishes the killed agent's last will {}" by "$T" gw_will
check "c: the gateway withdraws 10.20.0.0/24 within $BOUND s" by "$T" bash -c "! ip -n $NS_GW route show table 1883 2>/dev/null | grep -q '10.20.0.0/24'"
check "c: the gateway logs why" by "$T" grep -q "10.20.0.0/24 withdrawn (agent $GAGENT offline)" "$TEST_TMP/gateway.log"
start=$SECONDS
timeout 15 ip netns exec "$NS_LAN" curl -s -m 10 -o /dev/null http://10.20.0.2:8080/
rc=$?
check "c: lan: a connection to 10.20.0.2 now fails fast (curl exit $rc after $((SECONDS - start)) s; 28 or 124 would be a timeout)" \
	test "$rc" -ne 0 -a "$rc" -ne 28 -a "$rc" -ne 124
check "c: the gateway keeps running" all_running "$gateway_PID"

n4m_ns "$NS_AG" gagent2 agent -m "$GURL?client_id=$GAGENT" -i "$GAGENT" -t 10.20.0.2:8080 --advertise 10.20.0.0/24
check "c: a restarted agent's advertisement brings the route back" wait_for 15 routed
body=$(lan_get)
check "c: lan: curl works again (got '$body')" test "$body" = "behind the agent $S"
finish
