#!/usr/bin/env bash
# Memory per open idle flow (issue 14): N connections through a local-port and
# an agent to a server that holds them and says nothing, then closed again.
# For each process it reads the heap (net4mqtt_heap_bytes on /metrics:
# mallinfo2's uordblks + hblkhd) and RSS (VmRSS in /proc/PID/status) idle
# before the flows open, with all N open, and after all closed.
#
# Usage: tests/bench/idle_flows.sh BUILD      (the binary is BUILD/net4mqtt)
#   IDLE_FLOWS=10000       connections held open at once
#   IDLE_KINDS="tcp kcp"   tcp: local-port; kcp: local-port -k (kcpx between our peers)
#   IDLE_OPEN_SECS=300     how long all N may take to open on both sides
#   IDLE_CLOSE_SECS=120    how long they may take to end (flows and tombstones) on both
#   IDLE_SETTLE_SECS=20    after that, how long RSS may take to come back within
#                          20% of idle (polled; the figure is printed either way)
#
# Prints one line per kind, e.g. (heap in bytes, RSS in kB):
#   tcp_flows=10000 tcp_heap_per_flow_local=1234 tcp_heap_per_flow_agent=1234
#   tcp_heap_idle_local=... tcp_heap_open_local=... tcp_heap_after_local=...
#   tcp_rss_idle_local=... tcp_rss_open_local=... tcp_rss_after_local=... (and _agent)
# Each kind runs on a fresh agent and local-port (one mosquitto for all), so its
# "idle" is a process that never carried a flow.
# Exit 0 when every measurement ran; 1, with a line on stderr saying what
# failed to run (the logs are kept then), otherwise.
set -u
build=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
case $build in /*) ;; *) build=$top/$build ;; esac
export N4M_BIN=$build/net4mqtt # lib.sh's N4M
# shellcheck source=tests/lib.sh
source "$top/tests/lib.sh"

N=${IDLE_FLOWS:-10000}
KINDS=${IDLE_KINDS:-tcp kcp}
OPEN_SECS=${IDLE_OPEN_SECS:-300}
CLOSE_SECS=${IDLE_CLOSE_SECS:-120}
SETTLE_SECS=${IDLE_SETTLE_SECS:-20}
PREFIX=bench/idle

die() {
	echo "idle_flows: $*" >&2
	export N4M_KEEP_TMP=1 # cleanup (lib.sh) keeps the logs
	echo "idle_flows: logs kept in $TEST_TMP" >&2
	exit 1
}

[ -x "$N4M" ] || die "no net4mqtt binary at $N4M (build it first: make)"
command -v mosquitto >/dev/null || die "mosquitto is not installed"
command -v curl >/dev/null || die "curl is not installed"

# The holder, the local-port, the agent and the server each hold N sockets.
want_fds=$((N + 1024))
ulimit -n "$want_fds" 2>/dev/null
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge "$want_fds" ] ||
	die "open-file limit is $(ulimit -n), $want_fds needed for $N flows (raise the hard limit)"

# server PORT: accepts and holds every connection, closes its side on the client's end.
# hold PORT N: opens N connections, prints "open N", holds them until killed (the kernel
# then ends them all, as a client that exits does).
HOLD_PY='
import selectors, socket, sys, time
mode, port = sys.argv[1], int(sys.argv[2])
if mode == "server":
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(4096)
    ls.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ)
    print("listening", flush=True)
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            if s is ls:
                try:
                    c, _ = ls.accept()
                except OSError:
                    continue
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ)
                continue
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                sel.unregister(s)
                s.close()
else:
    n, held = int(sys.argv[3]), []
    deadline = time.monotonic() + 120
    while len(held) < n:
        s = socket.socket()
        s.settimeout(10)
        try:
            s.connect(("127.0.0.1", port))
        except OSError as e:
            if time.monotonic() > deadline:
                sys.exit("hold: connection %d: %s" % (len(held) + 1, e))
            s.close()
            time.sleep(0.05)
            continue
        held.append(s)
    print("open", len(held), flush=True)
    while True:
        time.sleep(3600)
'

# metric NAME PORT: the sum of a /metrics family's samples (net4mqtt_NAME, any labels).
metric() {
	curl -s -m 5 "http://127.0.0.1:$2/metrics" |
		awk -v f="net4mqtt_$1" '$1 == f || index($1, f "{") == 1 { s += $2; n++ }
			END { if (n) printf "%.0f\n", s; else exit 1 }'
}
flows_are() { [ "$(metric flows "$1")" = "$2" ]; } # PORT COUNT
# lingering NAME PID: tombstones the stats line (SIGUSR1) counts.
lingering_none() { [ "$(stat_field "$(stats "$1" "$2")" lingering)" = 0 ]; }
rss_within() { [ "$(rss_kb "$1")" -le $(($2 * 12 / 10)) ]; } # PID IDLE_KB: within 20%

start_broker || die "mosquitto did not start"
URL=$BROKER_URL_BASE/$PREFIX
SERVER=$(free_port)
$PY -c "$HOLD_PY" server "$SERVER" >"$TEST_TMP/server.log" 2>&1 &
bg_track $!
wait_for 10 port_listening "$SERVER" || die "the holding server did not listen"

# measure KIND: one agent and one local-port (-k for kcp), N flows, one output line.
measure() {
	local kind=$1 agent=idle-agent-$1 a_port l_port lp hold_pid k p pid out kcp
	local -A v
	a_port=$(free_port)
	"$N4M" -v agent -m "$URL?client_id=$agent" -i "$agent" -t "127.0.0.1:$SERVER" \
		--max-flows $((N + 100)) --status-listen "127.0.0.1:$a_port" \
		>"$TEST_TMP/agent-$kind.log" 2>&1 &
	local agent_pid=$!
	bg_track "$agent_pid"
	lp=$(free_port)
	l_port=$(free_port)
	kcp=()
	[ "$kind" = kcp ] && kcp=(-k)
	"$N4M" -v local-port "${kcp[@]}" -m "$URL?client_id=idle-local-$kind" \
		-i "idle-local-$kind" -a "$agent" -l "127.0.0.1:$lp" --max-flows $((N + 100)) \
		--status-listen "127.0.0.1:$l_port" >"$TEST_TMP/local-$kind.log" 2>&1 &
	local local_pid=$!
	bg_track "$local_pid"
	wait_for 10 port_listening "$lp" || die "$kind: the local-port did not listen"
	wait_for 10 port_listening "$a_port" || die "$kind: the agent's status server did not listen"
	wait_for 10 grep -q "peer $agent/- online" "$TEST_TMP/local-$kind.log" ||
		die "$kind: the local-port never saw the agent online"
	# the stats helper reads $TEST_TMP/NAME.log
	ln -sf "local-$kind.log" "$TEST_TMP/l$kind.log"
	ln -sf "agent-$kind.log" "$TEST_TMP/a$kind.log"

	for p in local agent; do
		[ $p = local ] && k=$l_port || k=$a_port
		[ $p = local ] && pid=$local_pid || pid=$agent_pid
		v[heap_idle_$p]=$(metric heap_bytes "$k") || die "$kind: no /metrics from the $p"
		v[rss_idle_$p]=$(rss_kb "$pid")
	done

	$PY -c "$HOLD_PY" hold "$lp" "$N" >"$TEST_TMP/hold-$kind.log" 2>&1 &
	hold_pid=$!
	bg_track "$hold_pid"
	wait_for "$OPEN_SECS" grep -q '^open' "$TEST_TMP/hold-$kind.log" ||
		die "$kind: $N connections did not open: $(tail -n 1 "$TEST_TMP/hold-$kind.log")"
	wait_for "$OPEN_SECS" flows_are "$l_port" "$N" ||
		die "$kind: the local-port has $(metric flows "$l_port") flows open, not $N"
	wait_for "$OPEN_SECS" flows_are "$a_port" "$N" ||
		die "$kind: the agent has $(metric flows "$a_port") flows open, not $N"
	v[heap_open_local]=$(metric heap_bytes "$l_port")
	v[heap_open_agent]=$(metric heap_bytes "$a_port")
	v[rss_open_local]=$(rss_kb "$local_pid")
	v[rss_open_agent]=$(rss_kb "$agent_pid")

	kill "$hold_pid"
	wait "$hold_pid" 2>/dev/null
	for p in local agent; do
		[ $p = local ] && k=$l_port || k=$a_port
		wait_for "$CLOSE_SECS" flows_are "$k" 0 ||
			die "$kind: the $p still has $(metric flows "$k") flows open"
	done
	wait_for "$CLOSE_SECS" lingering_none "l$kind" "$local_pid" ||
		die "$kind: the local-port's tombstones did not go"
	wait_for "$CLOSE_SECS" lingering_none "a$kind" "$agent_pid" ||
		die "$kind: the agent's tombstones did not go"
	wait_for "$SETTLE_SECS" rss_within "$local_pid" "${v[rss_idle_local]}"
	wait_for "$SETTLE_SECS" rss_within "$agent_pid" "${v[rss_idle_agent]}"
	v[heap_after_local]=$(metric heap_bytes "$l_port")
	v[heap_after_agent]=$(metric heap_bytes "$a_port")
	v[rss_after_local]=$(rss_kb "$local_pid")
	v[rss_after_agent]=$(rss_kb "$agent_pid")

	out="${kind}_flows=$N"
	for p in local agent; do
		k=$((${v[heap_open_$p]} - ${v[heap_idle_$p]}))
		out+=" ${kind}_heap_per_flow_$p=$((k / N))"
	done
	for k in heap_idle heap_open heap_after rss_idle rss_open rss_after; do
		for p in local agent; do
			out+=" ${kind}_${k}_$p=${v[${k}_$p]}"
		done
	done
	echo "$out"
	kill "$local_pid" "$agent_pid"
	wait "$local_pid" "$agent_pid" 2>/dev/null
}

for kind in $KINDS; do
	case $kind in
	tcp | kcp) measure "$kind" ;;
	*) die "unknown kind $kind in IDLE_KINDS (tcp, kcp)" ;;
	esac
done
