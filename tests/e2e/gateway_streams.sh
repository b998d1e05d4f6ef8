#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m_ns / bg_ns
# Streams through the gateway that behave like TCP (issue 13), on mosquitto with
# its Debian defaults (a config of only listeners and allow_anonymous), once with
# the gateway in tcp mode and once with -k:
#
#   lan 192.168.77.2 ── gw 192.168.77.1 ─ 10.77.0.1 ── 10.77.0.2 agent 10.20.0.1 ── 10.20.0.2 srv
#                      (mosquitto, gateway                                         (http, banner,
#                       --route 10.20.0.0/24)                                       UDP counter)
#
# From the lan host, in each mode:
#  1. N `nc -z` (connect, close) leave nothing behind: flows open 0 at the gateway
#     and the agent, no CLOSE-WAIT socket in their namespaces; a request still
#     works; a client that half-closes without sending gets EOF.
#  2. connect results: a closed port is refused, an open one connects, a missing
#     host on the server's subnet (10.20.0.99) is refused or unreachable.
#  3. a server that speaks first (a banner) is heard without the client sending.
#  4. a curl of 100 MiB stops reading (SIGSTOP) once its request is in, a second
#     100 MiB download at full speed finishes intact meanwhile, and the first,
#     let go on (SIGCONT), arrives intact too.
#  5. (tcp mode; UDP is the same with -k) 1000 x 1000-byte datagrams in a burst:
#     at least 990 reach the server, and 99% of those come back as its echoes.
# Then every flow ends (flows open 0) and the gateway and agent are still running.
#
# bash tests/e2e/gateway_streams.sh --self-test: the clients of 1-5 from the agent's
# namespace, straight to the server (no tunnel): what each check sees from plain TCP.
set -u
source "$(dirname "$0")/../lib.sh"
S=$$
source "$(dirname "$0")/../netns-lib.sh"
HELPERS=$(cd "$(dirname "$0")" && pwd)/helpers
GWTOOL=$HELPERS/gwtool.py
ST=$HELPERS/gwstreams.py

PREFIX=e2e/gwstreams
AGENT=gwsa-$S
TUN=n4m0
SRV=10.20.0.2
MISSING=10.20.0.99 # on the server's subnet, owned by nobody: the agent's ARP fails
HTTP=8080
CLOSED=81
BANNER=2525
UDP=7009
NZ=300
[ -n "${ASAN_OPTIONS:-}" ] && NZ=60 # each connect is slower under the sanitizers
BIG_MB=100
# under the sanitizers a smaller file shows the same (the 2 MiB window is what
# holds the fast flow's sender back) and keeps CI in its 20 minutes
[ -n "${ASAN_OPTIONS:-}" ] && BIG_MB=30

SELF_TEST=0
[ "${1:-}" = --self-test ] && SELF_TEST=1

NS_LAN=n4m-gs-lan-$S NS_GW=n4m-gs-gw-$S NS_AG=n4m-gs-ag-$S NS_SRV=n4m-gs-srv-$S

ns_test gateway_streams "$NS_LAN" "$NS_GW" "$NS_AG" "$NS_SRV"

T0=$SECONDS
info() { echo "info: $* [$((SECONDS - T0)) s]"; }
CLIENT_NS=$NS_LAN # the --self-test runs the clients in the agent's namespace instead
lan() { ip netns exec "$CLIENT_NS" "$@"; }

topology() {
	ns_up "${ALL_NS[@]}" && lan_via_gw "$NS_LAN" "$NS_GW" || return 1
	veth "$NS_GW" ga "$NS_AG" ag || return 1
	addr "$NS_GW" ga 10.77.0.1/30 && addr "$NS_AG" ag 10.77.0.2/30 || return 1
	veth "$NS_AG" as "$NS_SRV" sa || return 1
	addr "$NS_AG" as 10.20.0.1/24 && addr "$NS_SRV" sa $SRV/24 || return 1
	ip -n "$NS_SRV" route add default via 10.20.0.1
}
need "four namespaces (lan, gw, agent, srv), veth pairs and routes" topology

mkdir -p "$TEST_TMP/www"
echo "behind the agent" >"$TEST_TMP/www/index.html"
head -c $((BIG_MB * 1024 * 1024)) /dev/urandom >"$TEST_TMP/www/big.bin"
BIG_SUM=$(sha256sum <"$TEST_TMP/www/big.bin" | cut -d' ' -f1)
chmod -R a+rX "$TEST_TMP"

bg_ns "$NS_SRV" http "$PY" "$GWTOOL" http $SRV $HTTP "$TEST_TMP/www" "$TEST_TMP/http.req"
bg_ns "$NS_SRV" banner "$PY" "$ST" banner $SRV $BANNER "220 hello"
bg_ns "$NS_SRV" udpcount "$PY" "$ST" udp-count $SRV $UDP
# mosquitto as Debian ships it: listeners and anonymous access, nothing tuned
printf 'listener 1883 10.77.0.1\nlistener 1883 127.0.0.1\nallow_anonymous true\npersistence false\n' \
	>"$TEST_TMP/mosquitto.conf"
# shellcheck disable=SC2086 # BROKER_ENV is zero or more VAR=VALUE words
bg_ns "$NS_GW" mosquitto env $BROKER_ENV mosquitto -c "$TEST_TMP/mosquitto.conf"
need "servers (http, banner, UDP counter) and the broker listen" wait_for 10 bash -c \
	"ip netns exec $NS_SRV ss -Htln 'sport = :$HTTP' | grep -q . &&
	 ip netns exec $NS_SRV ss -Htln 'sport = :$BANNER' | grep -q . &&
	 ip netns exec $NS_SRV ss -Huln 'sport = :$UDP' | grep -q . &&
	 ip netns exec $NS_GW ss -Htln 'sport = :1883' | grep -q ."
n4m_ns "$NS_AG" agent agent -m "mqtt://10.77.0.1:1883/$PREFIX?client_id=$AGENT" -i "$AGENT" \
	-t $SRV:$HTTP --udp-timeout 3
need "the agent is online" ns_status "$NS_GW" "mqtt://127.0.0.1:1883/$PREFIX/$AGENT/-/v/-"
info "topology, servers, broker and agent up"

flows_open() { stat_field "$(stats "$1" "$2")" "flows open"; }
flows_open_is() { [ "$(flows_open "$1" "$2")" = "$3" ]; }
close_wait() { ip netns exec "$1" ss -Htan state close-wait | wc -l; }
no_close_wait() { [ "$(close_wait "$1")" -eq 0 ]; }
udp_rcvbuf_errors() {
	ip netns exec "$1" awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "RcvbufErrors") c = i; h = 1 }
		else { print $c; exit } }' /proc/net/snmp
}
tun_stat() { ip netns exec "$NS_GW" cat "/sys/class/net/$TUN/statistics/$1" 2>/dev/null || echo 0; }
req_count() { cat "$TEST_TMP/http.req" 2>/dev/null | grep -c "GET /$1 "; }

# download NAME [curl options]: big.bin from the client (60 s at most: 5 MiB/s takes 20);
# its sha256, curl's rc and what curl said in files
download() ( # a subshell: pipefail stays in it
	local f=$TEST_TMP/$1
	shift
	set -o pipefail
	lan curl -sS -m 60 "$@" -w '%{stderr}%{size_download} bytes\n' "http://$SRV:$HTTP/big.bin" \
		2>"$f.err" | sha256sum | cut -d' ' -f1 >"$f.sum"
	echo $? >"$f.rc"
)
slow_started() { [ "$(req_count big.bin)" -gt "$1" ]; } # REQS: the server got a request more
download_ok() { [ "$(cat "$TEST_TMP/$1.rc" 2>/dev/null)" = 0 ] && [ "$(cat "$TEST_TMP/$1.sum")" = "$BIG_SUM" ]; }
download_says() { echo "rc $(cat "$TEST_TMP/$1.rc" 2>/dev/null), $(tr '\n' ' ' <"$TEST_TMP/$1.err" | cut -c1-160)"; }

# check_drained WHAT: waits (20 s at most) until the gateway's and the agent's flows
# open are 0 and no socket is in CLOSE-WAIT in their namespaces; then checks each
drained() {
	flows_open_is "$name" "$gw" 0 && flows_open_is agent "$agent_PID" 0 &&
		no_close_wait "$NS_GW" && no_close_wait "$NS_AG"
}
check_drained() {
	local n
	wait_for 20 drained
	n=$(flows_open "$name" "$gw")
	check "$1 the gateway's flows open is 0 (got ${n:-?})" test "${n:-x}" = 0
	n=$(flows_open agent "$agent_PID")
	check "$1 the agent's flows open is 0 (got ${n:-?})" test "${n:-x}" = 0
	n=$(close_wait "$NS_GW")
	check "$1 no socket in CLOSE-WAIT in the gw namespace (got $n)" test "$n" -eq 0
	n=$(close_wait "$NS_AG")
	check "$1 none in the agent's namespace (got $n)" test "$n" -eq 0
}

# client_checks MODE: the end of 1, and 2-5, from the client's namespace; reads run_mode's
# gateway log (none in the --self-test)
client_checks() {
	local mode=$1 res
	# 1. (end) A half-close without data is answered with EOF.
	res=$(lan timeout 20 "$PY" "$ST" halfclose $SRV $HTTP 10 2>&1)
	check "[$mode] lan: a client that half-closes without sending gets EOF ($res)" grep -q '^halfclose eof ' <<<"$res"

	# 2. The connect's result is the server's.
	res=$(lan timeout 20 "$PY" "$ST" connect $SRV $CLOSED 15 2>&1)
	check "[$mode] lan: connect to $SRV:$CLOSED (nothing listens) is refused ($res)" grep -q '^connect refused ' <<<"$res"
	check "[$mode] lan: nc -z $SRV $CLOSED fails" bash -c "! ip netns exec $CLIENT_NS nc -z -w 10 $SRV $CLOSED 2>/dev/null"
	check "[$mode] lan: nc -z $SRV $HTTP succeeds" lan nc -z -w 10 $SRV $HTTP
	res=$(lan timeout 30 "$PY" "$ST" connect $MISSING $HTTP 25 2>&1)
	check "[$mode] lan: connect to $MISSING (no such host) is refused or unreachable ($res)" \
		grep -qE '^connect (refused|unreachable) ' <<<"$res"

	# 3. The server speaks first.
	res=$(lan timeout 20 "$PY" "$ST" banner-client $SRV $BANNER "220 hello" 10 2>&1)
	check "[$mode] lan: a banner server's greeting arrives without the client sending first ($res)" \
		grep -q '^banner ok' <<<"$res"
	info "[$mode] connect results and banner checked"

	# 4. A reader that stops reading is held back, not cut, and holds up no flow beside it.
	local reqs gwl agl slow_curl
	reqs=$(req_count big.bin)
	[ -n "$log" ] && gwl=$(wc -l <"$log") agl=$(wc -l <"$TEST_TMP/agent.log")
	download "slow-$mode" -H "X-N4m-Test: slow-$mode-$S" &
	local slow=$!
	wait_for 10 slow_started "$reqs" ||
		info "[$mode] the stopped download's request has not reached the server in 10 s"
	slow_curl=$(pgrep -f "X-N4m-Test: slow-$mode-$S" | head -n 1)
	[ -n "$slow_curl" ] && kill -STOP "$slow_curl"
	download "fast-$mode"
	local slow_held=no
	[ -n "$slow_curl" ] && kill -0 "$slow_curl" 2>/dev/null && ! [ -s "$TEST_TMP/slow-$mode.rc" ] && slow_held=yes
	info "[$mode] fast download done (the stopped reader still waiting: $slow_held)"
	check "[$mode] lan: a $BIG_MB MiB download at full speed beside a stopped reader is intact ($(download_says "fast-$mode"))" \
		download_ok "fast-$mode"
	check "[$mode] ... and the stopped reader's download is still waiting (curl $slow_curl)" test $slow_held = yes
	[ -n "$slow_curl" ] && kill -CONT "$slow_curl"
	wait "$slow"
	check "[$mode] lan: the stopped reader, let go on, gets all $BIG_MB MiB intact ($(download_says "slow-$mode"))" \
		download_ok "slow-$mode"
	[ -n "$log" ] && { tail -n +$((gwl + 1)) "$log" | sed 's/^/gateway /'; tail -n +$((agl + 1)) "$TEST_TMP/agent.log" | sed 's/^/agent /'; } |
		grep -E 'too slow|abort|reset' | tail -n 4 | sed 's/^/    log: /'
	info "[$mode] downloads done"

	# 5. A UDP burst (the same udp flows with -k: only once).
	if [ "$mode" != kcp ]; then
		local a0 s0 l0 d0 got echoed
		a0=$(udp_rcvbuf_errors "$NS_AG") s0=$(udp_rcvbuf_errors "$NS_SRV") l0=$(udp_rcvbuf_errors "$NS_LAN")
		d0=$(tun_stat tx_dropped)
		res=$(lan timeout 30 "$PY" "$ST" udp-burst $SRV $UDP 1000 1000 20 2>&1)
		read -r got echoed < <(sed -n 's/^burst sent [0-9]* got \([0-9]*\) echoed \([0-9]*\)$/\1 \2/p' <<<"$res")
		check "[$mode] lan: a burst of 1000 x 1000-byte datagrams: at least 990 reach the server ($res)" \
			test "${got:-0}" -ge 990
		check "[$mode] ... and at least 99% of what the server got comes back as its echoes (${echoed:-0} of ${got:-0})" \
			test "$((${echoed:-0} * 100))" -ge "$((${got:-1} * 99))"
		local tun=
		[ "$CLIENT_NS" = "$NS_LAN" ] && tun="; $TUN (qlen $(ip -n "$NS_GW" -o link show $TUN |
			sed -n 's/.* qlen \([0-9]*\).*/\1/p')) tx_dropped $(($(tun_stat tx_dropped) - d0))"
		echo "    receive-buffer drops in the burst: agent ns $(($(udp_rcvbuf_errors "$NS_AG") - a0))," \
			"srv ns $(($(udp_rcvbuf_errors "$NS_SRV") - s0)), lan ns $(($(udp_rcvbuf_errors "$NS_LAN") - l0))$tun"
	fi
}

run_mode() {
	local mode=$1 name=gw-$1 gw kflag=() ok res body
	[ "$mode" = kcp ] && kflag=(-k)
	n4m_ns "$NS_GW" "$name" gateway -m "mqtt://127.0.0.1:1883/$PREFIX?client_id=gws-$mode-$S" \
		-i "gws-$mode-$S" -a "$AGENT" --udp-timeout 3 --route 10.20.0.0/24 "${kflag[@]}"
	local pidvar=gw_${mode}_PID
	gw=${!pidvar}
	local log=$TEST_TMP/$name.log
	need "[$mode] the gateway's $TUN comes up with a route for 10.20.0.0/24" wait_for 10 \
		has "10.20.0.0/24 dev $TUN" ip -n "$NS_GW" route show table all
	need "[$mode] the gateway sees the agent online" wait_for 15 grep -q "peer $AGENT/- online" "$log"
	body=$(lan timeout 15 curl -sS -m 10 "http://$SRV:$HTTP/" 2>&1)
	need "[$mode] lan: curl http://$SRV:$HTTP/ through the gateway (got '$body')" test "$body" = "behind the agent"
	info "[$mode] gateway up"

	# 1. connect + close, nothing sent: every flow ends, on both sides.
	res=$(lan timeout 120 bash -c "ok=0 bad=0 t=\$SECONDS
		for i in \$(seq $NZ); do
			if nc -z -w 5 $SRV $HTTP 2>/dev/null; then ok=\$((ok + 1)); else bad=\$((bad + 1)); fi
			[ \$((SECONDS - t)) -lt 60 ] || break
		done
		echo \"\$ok \$bad\"")
	read -r ok bad <<<"${res:-0 0}"
	check "[$mode] lan: $NZ x nc -z $SRV $HTTP each connect (ok $ok, failed $bad)" test "$ok" -eq "$NZ"
	info "[$mode] $NZ nc -z done"
	check_drained "[$mode] ... then"
	echo "    gateway: $(stats "$name" "$gw" | sed 's/.* stats: //')"
	echo "    agent:   $(stats agent "$agent_PID" | sed 's/.* stats: //')"
	body=$(lan timeout 15 curl -sS -m 10 "http://$SRV:$HTTP/" 2>&1)
	check "[$mode] lan: after them a request still works (got '$body')" test "$body" = "behind the agent"
	client_checks "$mode"

	# Every flow of this mode ends (UDP after --udp-timeout 3), and both processes live on.
	check_drained "[$mode] in the end"
	check "[$mode] the gateway and the agent are still running" all_running "$gw" "$agent_PID"
	echo "    gateway: $(stats "$name" "$gw" | sed 's/.* stats: //')"
	echo "    agent:   $(stats agent "$agent_PID" | sed 's/.* stats: //')"

	kill "$gw"
	need "[$mode] the gateway exits on SIGTERM, its $TUN gone" wait_for 10 bash -c \
		"! kill -0 $gw 2>/dev/null && ! ip -n $NS_GW link show $TUN >/dev/null 2>&1"
	info "[$mode] done"
}

if [ "$SELF_TEST" = 1 ]; then
	CLIENT_NS=$NS_AG
	log=
	client_checks direct
	finish
	exit
fi
run_mode tcp
# under the sanitizers the tcp mode is enough here to keep CI in its 20 minutes:
# the gateway's kcp flows run under them in gateway_kcp.sh, kcpx in streams_*.sh
if [ -z "${ASAN_OPTIONS:-}" ]; then
	run_mode kcp
else
	skip "[kcp] under the sanitizers (covered by gateway_kcp.sh and streams_*.sh)"
fi
check "the agent is still running at the end" all_running "$agent_PID"
info "done"
finish
