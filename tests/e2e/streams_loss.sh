#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m in lib.sh
# Lost messages never make a stream with a hole (issue 13). Streams go through
# local-port, in tcp mode and with -k, and an agent to a checking server (one per
# mode): each client sends a header (its id, the sizes) and a known pattern, shuts
# down its sending side, and reads the server's reply ("OK" and a known pattern),
# which the server sends only after the whole upload arrived intact (a stream it
# finds broken it resets). Each end reports, per stream, what it saw first: intact,
# reset (a connection error), hole (a clean EOF with bytes missing), corrupt, hang
# (20 s or more without progress), or, at the server, a stream that began in the
# middle. Only intact and reset are allowed, and every flow ends:
#  1. a broker forced to drop (max_queued_messages 5): 20 rounds of 8 concurrent
#     streams (5 MB up, 256 KB back), in tcp mode, then 20 rounds with -k;
#  2. mosquitto with its Debian defaults (and persistence on, as Debian's
#     mosquitto.conf has it, saved every second): the agent stopped (SIGSTOP) for
#     2 s, then for 5 s, while 20 streams of 10 MB push in each mode;
#  3. that broker crashes (SIGKILL) and restarts while 80 streams start in each mode;
#     it comes back with the agent's retained "online" status from its last save, and
#     the agent is slower to come back than the locals (it is stopped until the
#     streams started): no stream starts mid-stream.
# After each part the agent and the locals still run and their flows all end.
# LOSS_PARTS="2 3" runs only some parts (3 needs 2's set-up, which it makes).
set -u
source "$(dirname "$0")/../lib.sh"
ST=$(cd "$(dirname "$0")" && pwd)/helpers/streamtool.py
PREFIX=e2e/streams-loss
MB=$((1 << 20))
ROUNDS=20 NLOSS=8 LOSS_SIZE=$((5 * MB)) LOSS_BACK=$((256 << 10))
NSTOP=20 STOP_SIZE=$((10 * MB))
NRESTART=80 RESTART_SIZE=$MB
if [ -n "${ASAN_OPTIONS:-}" ]; then
	# under the sanitizers every byte costs several times more: fewer rounds and bytes
	ROUNDS=4 LOSS_SIZE=$((2 * MB)) STOP_SIZE=$((4 * MB))
fi
PARTS=${LOSS_PARTS:-1 2 3}
part() { [[ " $PARTS " == *" $1 "* ]]; }
T0=$SECONDS
info() { echo "info: $* [$((SECONDS - T0)) s]"; }

flows_open() { stat_field "$(stats "$1" "$2")" "flows open"; }
flows_open_is() { [ "$(flows_open "$1" "$2")" = "$3" ]; }
published() { sed -n 's/.*published \([0-9]*\) msgs.*/\1/p' <<<"$(stats "$1" "$2")"; }
published_over() { [ "$(published "$1" "$2")" -ge "$3" ]; }
# check_drained WHAT AGENT_NAME AGENT_PID LOCAL_NAME LOCAL_PID: both flow tables empty (20 s at most)
check_drained() {
	local n
	wait_for 20 flows_open_is "$4" "$5" 0
	n=$(flows_open "$4" "$5")
	check "$1: afterwards the local's flows open is 0 (got ${n:-?})" test "${n:-x}" = 0
	wait_for 20 flows_open_is "$2" "$3" 0
	n=$(flows_open "$2" "$3")
	check "$1: afterwards the agent's flows open is 0 (got ${n:-?})" test "${n:-x}" = 0
}
# count OUTCOME FILE: the number before OUTCOME on the file's "streams:" lines, summed
count() { sed -n "/^streams:/s/.* \([0-9][0-9]*\) $1\b.*/\1/p" "$2" | awk '{ s += $1 } END { print s + 0 }'; }
# server_bad LOG: the server's lines about a stream that is neither intact nor reset
server_bad() { grep -v -E '^server [^ ]+ (intact|reset)' "$1"; }
# judge WHAT OUT SERVERLOG N: the checks on a set of streams
judge() {
	local what=$1 outf=$2 log=$3 n=$4 intact reset bad
	intact=$(count intact "$outf") reset=$(count reset "$outf")
	echo "    $what: $intact intact, $reset reset of $n"
	grep '^  stream' "$outf" | head -n 5 | sed 's/^/    /'
	check "$what: every client saw its stream end, intact or reset ($((intact + reset)) of $n)" \
		test $((intact + reset)) -eq "$n"
	check "$what: no client saw a clean EOF with bytes missing ($(count hole "$outf") holes)" \
		test "$(count hole "$outf")" -eq 0
	check "$what: no client got wrong bytes ($(count corrupt "$outf") corrupt)" test "$(count corrupt "$outf")" -eq 0
	check "$what: no client's stream hung ($(count hang "$outf") hangs)" test "$(count hang "$outf")" -eq 0
	bad=$(server_bad "$log")
	check "$what: the server saw every stream intact or reset: no hole, no mid-stream start, no hang ($(grep -c . <<<"$bad") other: $(head -n 3 <<<"$bad" | tr '\n' ';'))" \
		test -z "$bad"
}

# a checking server per mode, so each mode's streams are judged on their own
for mode in tcp kcp; do
	port=$(free_port)
	printf -v "V_$mode" '%s' "$port"
	$PY "$ST" verify "$port" "$TEST_TMP/server-$mode.log" 20 >"$TEST_TMP/verify-$mode.out" 2>&1 &
	bg_track $!
	need "the checking server for $mode listens" wait_for 10 port_listening "$port"
done
clear_logs() { : >"$TEST_TMP/server-tcp.log" && : >"$TEST_TMP/server-kcp.log"; }
keep_logs() { cp "$TEST_TMP/server-tcp.log" "$TEST_TMP/server-tcp-$1.log" && cp "$TEST_TMP/server-kcp.log" "$TEST_TMP/server-kcp-$1.log"; }

# start_set N BROKER_URL: an agent, a local-port (tcp mode, port LP_tcpN, to the tcp checking
# server) and a local-port -k (port LP_kcpN, to the kcp one); sets agentN_PID, tcpN_PID, kcpN_PID
start_set() {
	local n=$1 url=$2 mode port target kflag
	# -v: a debug line per message would dwarf the transfers
	"$N4M" -v agent -m "$url?client_id=loss-agent$n" -i "loss-agent$n" -t "127.0.0.1:$V_tcp" \
		>"$TEST_TMP/agent$n.log" 2>&1 &
	printf -v "agent${n}_PID" '%s' "$!"
	bg_track "$!"
	for mode in tcp kcp; do
		port=$(free_port)
		printf -v "LP_$mode$n" '%s' "$port"
		target=V_$mode
		kflag=
		[ "$mode" = kcp ] && kflag=-k
		# shellcheck disable=SC2086 # kflag is empty or -k
		"$N4M" -v local-port $kflag -m "$url?client_id=loss-$mode$n" -i "loss-$mode$n" -a "loss-agent$n" \
			-l "127.0.0.1:$port" -t "127.0.0.1:${!target}" >"$TEST_TMP/$mode$n.log" 2>&1 &
		printf -v "$mode${n}_PID" '%s' "$!"
		bg_track "$!"
		need "$n: local-port $kflag listens" wait_for 10 port_listening "$port"
	done
	need "$n: the agent is online" wait_status "$url/loss-agent$n/-/v/-"
	need "$n: both locals have seen the agent's status" wait_for 10 bash -c \
		"grep -q 'peer loss-agent$n/- online' '$TEST_TMP/tcp$n.log' && grep -q 'peer loss-agent$n/- online' '$TEST_TMP/kcp$n.log'"
}
# broker_dropped: mosquitto's own count of the messages it dropped (its $SYS topic), or "?"
broker_dropped() {
	# shellcheck disable=SC2016 # $SYS is the topic's name
	timeout 5 mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -t '$SYS/broker/publish/messages/dropped' -C 1 -W 3 \
		2>/dev/null || echo "?"
}
show_stats() { # N
	local who pid
	for who in "agent$1" "tcp$1" "kcp$1"; do
		pid=${who}_PID
		echo "    $who $(stats "$who" "${!pid}" | grep -o 'stats:.*')"
	done
}
# drained_all N WHAT: both locals' and the agent's flow tables end up empty
drained_all() {
	local a=agent$1_PID t=tcp$1_PID k=kcp$1_PID
	check_drained "$2 (tcp)" "agent$1" "${!a}" "tcp$1" "${!t}"
	check_drained "$2 (kcp)" "agent$1" "${!a}" "kcp$1" "${!k}"
}

### 1. a broker that drops: max_queued_messages 5
part_1() {
	local r mode port
	# sys_interval 1: the broker's count of dropped messages, printed below, stays fresh
	start_broker "$(free_port)" "max_queued_messages 5" "sys_interval 1" ||
		{ fail "1: mosquitto (max_queued_messages 5) starts"; exit 1; }
	start_set 1 "$BROKER_URL_BASE/$PREFIX"
	for mode in tcp kcp; do
		port=LP_${mode}1
		clear_logs
		: >"$TEST_TMP/loss-$mode.out"
		for r in $(seq "$ROUNDS"); do
			timeout 120 $PY "$ST" streams "${!port}" "$NLOSS" "$LOSS_SIZE" "$LOSS_BACK" 20 "" 0 $((r * 1000)) \
				>>"$TEST_TMP/loss-$mode.out" 2>&1 ||
				echo "  round $r: the client tool ended with $?" >>"$TEST_TMP/loss-$mode.out"
		done
		info "1: $ROUNDS rounds in $mode mode done; the broker's count of dropped messages so far: $(broker_dropped)"
		keep_logs 1
		judge "1 ($mode): $ROUNDS rounds of $NLOSS x $((LOSS_SIZE / MB)) MB over a dropping broker" \
			"$TEST_TMP/loss-$mode.out" "$TEST_TMP/server-$mode-1.log" $((ROUNDS * NLOSS))
	done
	drained_all 1 "1"
	show_stats 1
	check "1: agent and locals still run" all_running "$agent1_PID" "$tcp1_PID" "$kcp1_PID"
	kill "$agent1_PID" "$tcp1_PID" "$kcp1_PID" "$BROKER_PID" 2>/dev/null
}

# streams_bg MODE NAME N SIZE BACK TIMEOUT GO FIRST IDBASE: the streams tool in the background
# through that mode's local-port of set 2, output in $TEST_TMP/NAME-MODE.out, pid in SP_MODE
streams_bg() {
	local mode=$1 name=$2 port=LP_${1}2
	shift 2
	timeout 150 $PY "$ST" streams "${!port}" "$@" >"$TEST_TMP/$name-$mode.out" 2>&1 &
	printf -v "SP_$mode" '%s' "$!"
	bg_track "$!"
}
both_ended() { ! kill -0 "$SP_tcp" 2>/dev/null && ! kill -0 "$SP_kcp" 2>/dev/null; }

### 2. Debian's mosquitto; the agent stopped for 2 s, then 5 s, during 20 transfers
# Persistence on, as in Debian's /etc/mosquitto/mosquitto.conf, saved every second: part 3
# crashes and restarts this broker.
BROKER2_CONF=("persistence true" "persistence_location $TEST_TMP/mqdb/" "autosave_interval 1")
part_2_setup() {
	mkdir -p "$TEST_TMP/mqdb" && chmod 777 "$TEST_TMP/mqdb" # mosquitto started as root writes as user mosquitto
	start_broker "$(free_port)" "${BROKER2_CONF[@]}" || { fail "2: mosquitto starts"; exit 1; }
	BP2=$BROKER_PORT
	URL2="$BROKER_URL_BASE/$PREFIX"
	start_set 2 "$URL2"
}
part_2() {
	local secs go mode
	for secs in 2 5; do
		clear_logs
		go=$TEST_TMP/go-stop-$secs
		# each stream sends its header and 256 KB, then waits for $go to send the rest
		for mode in tcp kcp; do
			streams_bg "$mode" "stop-$secs" "$NSTOP" "$STOP_SIZE" "$LOSS_BACK" 30 "$go" $((256 << 10)) $((secs * 10000))
		done
		check "2 ($secs s): $NSTOP streams started in each mode" wait_for 30 bash -c \
			"grep -q '^started $NSTOP' '$TEST_TMP/stop-$secs-tcp.out' && grep -q '^started $NSTOP' '$TEST_TMP/stop-$secs-kcp.out'"
		kill -STOP "$agent2_PID"
		touch "$go"
		sleep "$secs" # the fault: how long the agent stays stopped
		kill -CONT "$agent2_PID"
		wait_for 150 both_ended
		info "2: the transfers around a $secs s stop ended"
		keep_logs "stop-$secs"
		for mode in tcp kcp; do
			judge "2 ($mode): the agent stopped $secs s during $NSTOP x $((STOP_SIZE / MB)) MB" \
				"$TEST_TMP/stop-$secs-$mode.out" "$TEST_TMP/server-$mode-stop-$secs.log" "$NSTOP"
		done
	done
	drained_all 2 "2"
	check "2: agent and locals still run" all_running "$agent2_PID" "$tcp2_PID" "$kcp2_PID"
}

### 3. the broker restarts while 80 streams start; the agent is back later than the locals
# The broker is killed outright and restarted from its last autosave, which holds the
# agent's retained "online" status; the agent is stopped across the restart, so the locals
# are back first, take the agent for online and take new streams for it at once.
part_3() {
	local go=$TEST_TMP/go-restart mode mid pub_tcp pub_kcp
	clear_logs
	need "3: the broker's saved state holds the agent's online status" \
		wait_for 10 grep -qas '"online":true,"id":"loss-agent2"' "$TEST_TMP/mqdb/mosquitto.db"
	kill -STOP "$agent2_PID"
	{ kill -KILL "$BROKER_PID" && wait "$BROKER_PID"; } 2>/dev/null # no "Killed" notice from bash
	start_broker "$BP2" "${BROKER2_CONF[@]}" || { fail "3: mosquitto restarts on port $BP2"; exit 1; }
	need "3: the locals reconnect" wait_for 30 bash -c \
		"[ \$(grep -c 'mqtt: connected to' '$TEST_TMP/tcp2.log') -ge 2 ] && [ \$(grep -c 'mqtt: connected to' '$TEST_TMP/kcp2.log') -ge 2 ]"
	need "3: the locals take the agent for online (the broker's saved retained status)" wait_for 10 bash -c \
		"[ \$(grep -c 'peer loss-agent2/- online' '$TEST_TMP/tcp2.log') -ge 2 ] && [ \$(grep -c 'peer loss-agent2/- online' '$TEST_TMP/kcp2.log') -ge 2 ]"
	pub_tcp=$(published tcp2 "$tcp2_PID") pub_kcp=$(published kcp2 "$kcp2_PID")
	# each stream sends its header and 64 KB, then waits for $go to send the rest
	for mode in tcp kcp; do
		streams_bg "$mode" restart "$NRESTART" "$RESTART_SIZE" 4096 45 "$go" $((64 << 10)) 70000
	done
	check "3: $NRESTART streams started in each mode while the agent is away" wait_for 30 bash -c \
		"grep -q '^started $NRESTART' '$TEST_TMP/restart-tcp.out' && grep -q '^started $NRESTART' '$TEST_TMP/restart-kcp.out'"
	# the locals have published something for each of them (the opening or the first bytes)
	wait_for 10 published_over tcp2 "$tcp2_PID" $((pub_tcp + NRESTART))
	wait_for 10 published_over kcp2 "$kcp2_PID" $((pub_kcp + NRESTART))
	kill -CONT "$agent2_PID"
	check "3: the agent reconnects and hears the locals again (it is subscribed)" wait_for 30 bash -c \
		"[ \$(grep -c 'peer -/loss-tcp2 online' '$TEST_TMP/agent2.log') -ge 2 ] && [ \$(grep -c 'peer -/loss-kcp2 online' '$TEST_TMP/agent2.log') -ge 2 ]"
	touch "$go"
	wait_for 150 both_ended
	info "3: the streams ended"
	keep_logs restart
	for mode in tcp kcp; do
		mid=$(grep -c 'midstream' "$TEST_TMP/server-$mode-restart.log")
		check "3 ($mode): no stream reached the server in the middle ($mid did: $(grep -m 2 midstream "$TEST_TMP/server-$mode-restart.log" | tr '\n' ';'))" \
			test "$mid" -eq 0
		judge "3 ($mode): $NRESTART streams across a broker restart" "$TEST_TMP/restart-$mode.out" \
			"$TEST_TMP/server-$mode-restart.log" "$NRESTART"
	done
	drained_all 2 "3"
	show_stats 2
	check "3: agent and locals still run" all_running "$agent2_PID" "$tcp2_PID" "$kcp2_PID"
}

for p in 1 2 3; do
	part "$p" || continue
	[ "$p" = 3 ] && ! part 2 && part_2_setup
	[ "$p" = 2 ] && part_2_setup
	"part_$p"
done
finish
