#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m in lib.sh
# Every stream ends and leaves nothing behind (issue 13), on mosquitto with its
# Debian defaults, through local-port and local-socks, each in tcp mode and -k,
# all to one agent in front of an echo server:
#  1. 500 `nc -z` (connect, close before a byte) through local-port: afterwards the
#     local's and the agent's stats say `flows open 0` and no socket is in
#     CLOSE-WAIT on the local's port or toward the server; a client that
#     half-closes without sending (nc -N </dev/null, python SHUT_WR) gets EOF.
#  2. 100 SOCKS5 CONNECT-then-close through local-socks (half of them close after
#     the reply, half right after the request): the same; half-close without data
#     after a CONNECT gets EOF.
#  3. --max-flows 100 on the local: after 200 `nc -z` a normal request still works.
#  4. 10,000 kcp connections (connect, 16 bytes echoed, close; 100 at a time):
#     all echoed, then 0 flows open on both sides.
# Finally every process still runs.
set -u
source "$(dirname "$0")/../lib.sh"
ST=$(cd "$(dirname "$0")" && pwd)/helpers/streamtool.py
PREFIX=e2e/streams-life
AGENT=life-agent
NZ=500 NSOCKS=100 NMAX=200 NKCP=10000
if [ -n "${ASAN_OPTIONS:-}" ]; then
	# under the sanitizers every connection costs several times more: fewer of them
	NZ=150 NSOCKS=60 NMAX=200 NKCP=2000
fi
T0=$SECONDS
info() { echo "info: $* [$((SECONDS - T0)) s]"; }

# the agent holds a socket per open flow: leaked flows must not hit the descriptor limit first
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null

flows_open() { stat_field "$(stats "$1" "$2")" "flows open"; }
flows_open_is() { [ "$(flows_open "$1" "$2")" = "$3" ]; }
# close_wait PORT: sockets in CLOSE-WAIT on PORT (the local's listener) or toward the echo server
close_wait() { ss -Htan state close-wait "( sport = :$1 or dport = :$ECHO )" | wc -l; }
drained() { # NAME PID PORT
	flows_open_is "$1" "$2" 0 && flows_open_is agent "$agent_PID" 0 && [ "$(close_wait "$3")" -eq 0 ]
}
# check_drained WHAT NAME PID PORT: waits (20 s at most) until the local's and the agent's
# flows open are 0 and nothing is in CLOSE-WAIT; then checks each
check_drained() {
	local what=$1 name=$2 pid=$3 port=$4 n
	wait_for 20 drained "$name" "$pid" "$port"
	n=$(flows_open "$name" "$pid")
	check "$what: then the local's stats say flows open 0 (got ${n:-?})" test "${n:-x}" = 0
	n=$(flows_open agent "$agent_PID")
	check "$what: then the agent's stats say flows open 0 (got ${n:-?})" test "${n:-x}" = 0
	n=$(close_wait "$port")
	check "$what: then no socket is in CLOSE-WAIT on :$port or toward the server (got $n)" test "$n" -eq 0
}
# nc_z PORT N: N times `nc -z` (-w 5: a connect that does not finish in 5 s fails); prints how many succeeded
nc_z() {
	local ok=0
	for _ in $(seq "$2"); do nc -z -w 5 127.0.0.1 "$1" && ok=$((ok + 1)); done
	echo "$ok"
}
echo_ok() { # PORT: one small request through it is echoed
	[ "$(timeout 20 $PY "$ST" many "$1" 1 1 2>&1 | head -n 1)" = "many: 1 ok, 0 failed" ]
}

start_broker || { fail "mosquitto starts"; exit 1; }
URL="$BROKER_URL_BASE/$PREFIX"
ECHO=$(free_port)
$PY "$ST" echo "$ECHO" >"$TEST_TMP/echo.log" 2>&1 &
bg_track $!
need "echo server listens" wait_for 10 port_listening "$ECHO"

LP=$(free_port) LK=$(free_port) SP=$(free_port) SK=$(free_port) MP=$(free_port) MK=$(free_port)
n4m agent agent -m "$URL?client_id=$AGENT" -i "$AGENT" -t "127.0.0.1:$ECHO"
n4m lp local-port -m "$URL?client_id=life-lp" -i life-lp -a "$AGENT" -l "127.0.0.1:$LP"
n4m lk local-port -k -m "$URL?client_id=life-lk" -i life-lk -a "$AGENT" -l "127.0.0.1:$LK"
n4m sp local-socks -m "$URL?client_id=life-sp" -i life-sp -a "$AGENT" -l "127.0.0.1:$SP"
n4m sk local-socks -k -m "$URL?client_id=life-sk" -i life-sk -a "$AGENT" -l "127.0.0.1:$SK"
n4m mp local-port --max-flows 100 -m "$URL?client_id=life-mp" -i life-mp -a "$AGENT" -l "127.0.0.1:$MP"
n4m mk local-port -k --max-flows 100 -m "$URL?client_id=life-mk" -i life-mk -a "$AGENT" -l "127.0.0.1:$MK"
need "the four local-ports and two local-socks listen" wait_for 10 bash -c \
	"for p in $LP $LK $SP $SK $MP $MK; do ss -Htln \"sport = :\$p\" | grep -q . || exit 1; done"
need "the agent is online" wait_status "$URL/$AGENT/-/v/-"
need "every local has seen the agent's status" wait_for 10 bash -c \
	"for n in lp lk sp sk mp mk; do grep -q 'peer $AGENT/- online' \"$TEST_TMP/\$n.log\" || exit 1; done"
for p in "$LP" "$LK"; do
	need "one request through :$p is echoed before anything else" echo_ok "$p"
done
info "broker, echo server, agent and six locals up"

### 1. nc -z and half-close without data, through local-port
for mode in tcp kcp; do
	if [ "$mode" = tcp ]; then name=lp port=$LP; else name=lk port=$LK; fi
	pidvar=${name}_PID
	pid=${!pidvar}
	ok=$(nc_z "$port" "$NZ")
	check "local-port $mode: $NZ nc -z all connect ($ok)" test "$ok" -eq "$NZ"
	check_drained "local-port $mode: $NZ nc -z" "$name" "$pid" "$port"

	timeout 10 nc -N 127.0.0.1 "$port" </dev/null >/dev/null
	rc=$?
	check "local-port $mode: nc -N </dev/null (half-close, no data) gets EOF and exits (rc $rc; 124 is no EOF in 10 s)" \
		test "$rc" -eq 0
	res=$(timeout 20 $PY "$ST" halfclose "$port" 2>&1)
	check "local-port $mode: a client that does SHUT_WR without sending reads EOF ($res)" \
		test "$res" = "halfclose eof after 0 bytes"
	check_drained "local-port $mode: half-close without data" "$name" "$pid" "$port"
	check "local-port $mode: a request still works afterwards" echo_ok "$port"
	info "local-port $mode done"
done

### 2. SOCKS5 CONNECT then close, and half-close without data, through local-socks
for mode in tcp kcp; do
	if [ "$mode" = tcp ]; then name=sp port=$SP; else name=sk port=$SK; fi
	pidvar=${name}_PID
	pid=${!pidvar}
	half=$((NSOCKS / 2))
	res=$(timeout 60 $PY "$ST" socks-close "$port" "$ECHO" "$half" reply 2>&1)
	check "local-socks $mode: $half CONNECT, reply read, close: every reply is 00 success ($res)" \
		test "$res" = "socks-close: $half done, replies {'00': $half}"
	res=$(timeout 60 $PY "$ST" socks-close "$port" "$ECHO" "$half" noreply 2>&1)
	check "local-socks $mode: $half CONNECT and close at once ($res)" \
		test "$res" = "socks-close: $half done, replies {'not read': $half}"
	check_drained "local-socks $mode: $NSOCKS CONNECT-then-close" "$name" "$pid" "$port"

	res=$(timeout 20 $PY "$ST" halfclose "$port" socks "$ECHO" 2>&1)
	check "local-socks $mode: CONNECT, then SHUT_WR without sending: the client reads EOF ($res)" \
		test "$res" = "halfclose eof after 0 bytes"
	check_drained "local-socks $mode: half-close without data" "$name" "$pid" "$port"
	res=$(timeout 20 $PY "$ST" socks-connect "$port" 127.0.0.1 "$ECHO" 2>&1)
	check "local-socks $mode: a CONNECT still succeeds afterwards ($res)" test "$res" = "rep 00"
	info "local-socks $mode done"
done

### 3. --max-flows 100: connect-and-close does not use the flows up
for mode in tcp kcp; do
	if [ "$mode" = tcp ]; then name=mp port=$MP; else name=mk port=$MK; fi
	pidvar=${name}_PID
	pid=${!pidvar}
	ok=$(nc_z "$port" "$NMAX")
	check "local-port $mode --max-flows 100: $NMAX nc -z all connect ($ok)" test "$ok" -eq "$NMAX"
	res=$(timeout 30 $PY "$ST" many "$port" 1 1 2>&1 | head -n 1)
	check "local-port $mode --max-flows 100: after $NMAX nc -z a normal request is echoed ($res)" \
		test "$res" = "many: 1 ok, 0 failed"
	check_drained "local-port $mode --max-flows 100: $NMAX nc -z" "$name" "$pid" "$port"
	info "--max-flows $mode done"
done

### 4. 10,000 kcp connections opened and closed
res=$(timeout 150 $PY "$ST" many "$LK" "$NKCP" 100 2>&1)
while IFS= read -r line; do echo "    $line"; done <<<"$res"
check "local-port kcp: $NKCP connections (connect, 16 bytes echoed, close), 100 at a time, all echoed (${res%%$'\n'*})" \
	grep -qx "many: $NKCP ok, 0 failed" <<<"$res"
check_drained "local-port kcp: $NKCP connections" lk "$lk_PID" "$LK"
info "$NKCP kcp connections done"

echo "    agent $(stats agent "$agent_PID" | grep -o 'stats:.*')"
for n in lp lk sp sk mp mk; do
	pidvar=${n}_PID
	echo "    $n $(stats "$n" "${!pidvar}" | grep -o 'stats:.*')"
done
check "the agent and every local still run" all_running "$agent_PID" "$lp_PID" "$lk_PID" "$sp_PID" \
	"$sk_PID" "$mp_PID" "$mk_PID"
finish
