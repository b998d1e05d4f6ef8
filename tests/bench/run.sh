#!/usr/bin/env bash
# `make bench`: the tunnel's throughput and round-trip time on loopback, each next
# to a ceiling measured in the same run (direct TCP, the raw broker), and the
# ratios that have targets. The machine is small and noisy: only the ratios
# mean something, the absolute figures are for context.
#
# Usage: tests/bench/run.sh BUILD
#   BENCH_SECS=5          seconds per throughput run
#   BENCH_RTT_ROUNDS=200  request/response rounds per RTT run
#   BENCH_RTT_REPEAT=5    RTT runs, interleaved; the median of their medians is shown
#   BENCH_ONLY="gateway rtt"  run only these measurements (measure_NAME)
#   BENCH_SCALE_SIZE=1048576  bytes echoed per pair in the scale rows
# Exit 0 when every measurement ran, whatever the figures; 1 when one failed to run.
# Logs: BUILD/bench-logs/.
#
# To add a measurement (kcp, gateway, ...): write measure_NAME, which stores
# figures with `result KEY VALUE [NOTE]` or reports `failed KEY WHY`; add it to
# MEASUREMENTS; add its rows and ratios to report().
set -u
build=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
case $build in /*) ;; *) build=$top/$build ;; esac
N4M_BIN=$build/net4mqtt
source "$top/tests/lib.sh"
source "$top/tests/gateway-topology.sh"
source "$top/tests/scale-lib.sh"
# Every row runs on mosquitto as shipped (lib.sh's start_broker: a listener and
# anonymous access). One extra row runs on a broker whose glibc keeps its heap
# (mosquitto allocates and frees its buffers for every message), and one on
# aedes (Node.js, from npm) where node is installed.
TUNED_ENV="GLIBC_TUNABLES=glibc.malloc.trim_threshold=67108864:glibc.malloc.mmap_threshold=1048576"
# net4mqtt's default --packet-size: the raw ceiling is measured at it.
PACKET=40960
NODE_DIR=$build/bench-node

CEILING=$build/bench/mqtt_ceiling
CONN_RATE=$build/bench/conn_rate
IDLE_FLOWS=$top/tests/bench/idle_flows.sh
RELAY=$build/bench/mqtt_lossy_relay
LOSS=${BENCH_LOSS:-0.05}
RTT_TOOL=$top/tests/bench/tcp_rtt.py
PY=/usr/bin/python3
SECS=${BENCH_SECS:-5}
RTT_ROUNDS=${BENCH_RTT_ROUNDS:-200}
RTT_REPEAT=${BENCH_RTT_REPEAT:-5}
HZ=$(getconf CLK_TCK)
PREFIX=bench
AGENT=bench-agent
LOG_DIR=$build/bench-logs

declare -A VAL NOTE WHY RTT_MED RTT_P99 CPU0
RUN_FAILED=0

result() { # key value [note]
	VAL[$1]=$2
	NOTE[$1]=${3:-}
}

failed() { # key why
	WHY[$1]=$2
	RUN_FAILED=1
	echo "bench: $1 failed: $2" >&2
}

bench_exit() {
	local f
	N4M_KEEP_TMP=1 cleanup
	rm -rf "$LOG_DIR"
	mkdir -p "$LOG_DIR"
	for f in "$TEST_TMP"/*.log "$TEST_TMP"/*.json "$TEST_TMP"/*.err; do
		[ -e "$f" ] && cp "$f" "$LOG_DIR/"
	done
	rm -rf "$TEST_TMP"
	gw_topology_down
}
trap bench_exit EXIT

# field NAME "k1=v1 k2=v2": prints v of NAME.
field() {
	sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" <<<"$2" | head -n 1
}

# calc EXPR: floating point arithmetic.
calc() {
	awk "BEGIN { printf \"%.2f\", $1 }"
}

# cpu_begin NAME:PID...; cpu_end prints "NAME N% ..." of CPU used since cpu_begin,
# and how busy the whole machine was (200% = both CPUs of a 2-CPU machine).
cpu_begin() {
	local np
	CPU_LIST=("$@")
	CPU_T0=$(date +%s.%N)
	CPU_HOST0=$(host_ticks)
	for np in "$@"; do
		CPU0[$np]=$(cpu_ticks "${np#*:}")
	done
}

cpu_ticks() { # pid: user+system clock ticks so far
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

host_ticks() { # busy and total clock ticks of all CPUs
	awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}

cpu_end() {
	local np secs out="cpu"
	secs=$(calc "$(date +%s.%N) - $CPU_T0")
	out+=" host $(awk -v a="$CPU_HOST0" -v b="$(host_ticks)" -v n="$(nproc)" 'BEGIN {
		split(a, x, " "); split(b, y, " "); printf "%.0f%%", (y[1] - x[1]) / (y[2] - x[2]) * n * 100 }')"
	for np in "${CPU_LIST[@]}"; do
		out+=" ${np%%:*} $(awk -v a="${CPU0[$np]}" -v b="$(cpu_ticks "${np#*:}")" -v hz="$HZ" \
			-v s="$secs" 'BEGIN { printf "%.0f%%", (b - a) / hz / s * 100 }')"
	done
	echo "$out"
}

setup() {
	start_broker || { echo "bench: mosquitto did not start" >&2; exit 1; }
	URL=$BROKER_URL_BASE/$PREFIX
	IPERF_PORT=$(free_port)
	ECHO_PORT=$(free_port)
	$PY "$RTT_TOOL" server 127.0.0.1 "$ECHO_PORT" >"$TEST_TMP/echo-server.log" 2>&1 &
	bg_track $!
	wait_for 10 port_listening "$ECHO_PORT" || { echo "bench: echo server did not start" >&2; exit 1; }

	n4m agent agent -m "$URL?client_id=$AGENT" -i "$AGENT" -t "127.0.0.1:$IPERF_PORT"
	LOCAL_PORT=$(free_port)
	n4m local local-port -m "$URL?client_id=bench-local" -l "127.0.0.1:$LOCAL_PORT" \
		-a "$AGENT" -i bench-local
	RTT_PORT=$(free_port)
	n4m rttlocal local-port -m "$URL?client_id=bench-rtt" -l "127.0.0.1:$RTT_PORT" \
		-a "$AGENT" -i bench-rtt -t "127.0.0.1:$ECHO_PORT"
	PLAIN_PORT=$(free_port)
	n4m plainlocal local-port --plain-streams -m "$URL?client_id=bench-plain" \
		-l "127.0.0.1:$PLAIN_PORT" -a "$AGENT" -i bench-plain
	STALL_SERVER=$(free_port)
	$PY -c "$STALL_PY" server "$STALL_SERVER" >"$TEST_TMP/stall-server.log" 2>&1 &
	bg_track $!
	STALL_PORT=$(free_port)
	n4m stalllocal local-port -m "$URL?client_id=bench-stall" -l "127.0.0.1:$STALL_PORT" \
		-a "$AGENT" -i bench-stall -t "127.0.0.1:$STALL_SERVER"
	KCP_PORT=$(free_port)
	n4m kcplocal local-port -k -m "$URL?client_id=bench-kcp" -l "127.0.0.1:$KCP_PORT" \
		-a "$AGENT" -i bench-kcp
	setup_lossy
	setup_sealed
	TUNNEL_UP=0
	if wait_for 10 port_listening "$LOCAL_PORT" && wait_for 10 port_listening "$RTT_PORT" &&
		wait_for 10 port_listening "$KCP_PORT" && wait_for 10 port_listening "$PLAIN_PORT" &&
		wait_for 10 port_listening "$STALL_PORT" &&
		wait_for 10 grep -q "peer .*$AGENT.* online" "$TEST_TMP/stalllocal.log" &&
		wait_for 10 grep -q "peer .*$AGENT.* online" "$TEST_TMP/kcplocal.log" &&
		wait_for 10 grep -q "peer .*$AGENT.* online" "$TEST_TMP/local.log" &&
		wait_for 10 grep -q "peer .*$AGENT.* online" "$TEST_TMP/rttlocal.log"; then
		TUNNEL_UP=1
	else
		echo "bench: net4mqtt did not come up; logs:" >&2
		tail -n 5 "$TEST_TMP"/agent.log "$TEST_TMP"/local.log "$TEST_TMP"/rttlocal.log >&2
	fi
}

# A keyed agent and two keyed local-ports (iperf3, echo): encrypted flows, beside the plain ones.
setup_sealed() {
	local k=$TEST_TMP/keys
	SEALED_UP=0
	seal_keys "$k" agent local || return
	echo "$(cat "$k/local.pub") bench" >"$k/peers"
	n4m sealagent agent -m "$URL?client_id=bench-seal-agent" -i seal-agent \
		-t "127.0.0.1:$IPERF_PORT" --seal-key "$k/agent.key" --seal-peers "$k/peers"
	local pin="seal-agent=$(cat "$k/agent.pub")"
	SEALED_PORT=$(free_port)
	n4m seallocal local-port -m "$URL?client_id=bench-seal-local" -l "127.0.0.1:$SEALED_PORT" \
		-a seal-agent -i bench-seal --seal-key "$k/local.key" --seal-peer "$pin"
	SEALED_RTT_PORT=$(free_port)
	n4m sealrttlocal local-port -m "$URL?client_id=bench-seal-rtt" -l "127.0.0.1:$SEALED_RTT_PORT" \
		-a seal-agent -i bench-seal-rtt -t "127.0.0.1:$ECHO_PORT" --seal-key "$k/local.key" \
		--seal-peer "$pin"
	wait_for 10 port_listening "$SEALED_PORT" && wait_for 10 port_listening "$SEALED_RTT_PORT" &&
		wait_for 10 grep -q "peer seal-agent/- online" "$TEST_TMP/seallocal.log" &&
		wait_for 10 grep -q "peer seal-agent/- online" "$TEST_TMP/sealrttlocal.log" && SEALED_UP=1
}

# A second agent on prefix bench-b, reached from a kcp local on prefix bench-a
# through mqtt_lossy_relay, which drops LOSS of the data messages each way.
setup_lossy() {
	LOSSY_UP=0
	"$RELAY" -h 127.0.0.1 -p "$BROKER_PORT" -a "$PREFIX-a" -b "$PREFIX-b" -l "$LOSS" -s 7 \
		>"$TEST_TMP/relay.log" 2>&1 &
	RELAY_PID=$!
	bg_track "$RELAY_PID"
	wait_for 10 grep -q ready "$TEST_TMP/relay.log" || return
	n4m lossyagent agent -m "$BROKER_URL_BASE/$PREFIX-b?client_id=bench-lossy-agent" \
		-i lossy-agent -t "127.0.0.1:$IPERF_PORT"
	LOSSY_PORT=$(free_port)
	n4m lossylocal local-port -k -m "$BROKER_URL_BASE/$PREFIX-a?client_id=bench-lossy-local" \
		-l "127.0.0.1:$LOSSY_PORT" -a lossy-agent -i lossy-local
	wait_for 10 port_listening "$LOSSY_PORT" &&
		wait_for 10 grep -q "peer lossy-agent/- online" "$TEST_TMP/lossylocal.log" && LOSSY_UP=1
}

# iperf_mbps KEY PORT "NAME:PID..." [iperf3 client options]: one run against a
# one-off iperf3 server on IPERF_PORT (a fresh server each time, so a broken run
# can't wedge the next), with the CPU use of the named processes.
iperf_mbps() {
	local key=$1 port=$2 procs=$3 srv rc out cpu
	shift 3
	iperf3 -s -1 -B 127.0.0.1 -p "$IPERF_PORT" >"$TEST_TMP/iperf-server-$key.log" 2>&1 &
	srv=$!
	bg_track "$srv"
	if ! wait_for 10 port_listening "$IPERF_PORT"; then
		failed "$key" "iperf3 server did not listen"
		return
	fi
	# shellcheck disable=SC2086 # one word per process
	cpu_begin $procs
	timeout $((SECS + 30)) iperf3 -c 127.0.0.1 -p "$port" -t "$SECS" --connect-timeout 5000 \
		-J "$@" >"$TEST_TMP/iperf-$key.json" 2>"$TEST_TMP/iperf-$key.err"
	rc=$?
	cpu=$(cpu_end)
	out=$($PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
if d.get("error"):
    ivs = {(i["sum"]["start"], i["sum"]["end"]): i["sum"]["bytes"] for i in d.get("intervals", [])}
    secs = sum(end - start for start, end in ivs)
    part = " (%.0f MB/s over its first %.1f s)" % (sum(ivs.values()) / secs / 1e6, secs) if secs else ""
    sys.exit("iperf3: " + d["error"] + part)
e = d["end"]
print("%.2f sent %.0f MB, received %.0f MB" % (e["sum_received"]["bits_per_second"] / 8e6,
      e["sum_sent"]["bytes"] / 1e6, e["sum_received"]["bytes"] / 1e6))
' "$TEST_TMP/iperf-$key.json" 2>&1)
	if [ "$rc" -ne 0 ] || ! [[ $out =~ ^[0-9.]+\  ]]; then
		failed "$key" "iperf3 rc $rc: $(head -c 200 <<<"$out") $(head -c 200 "$TEST_TMP/iperf-$key.err")"
	else
		result "$key" "${out%% *}" "${out#* }; $cpu"
	fi
	wait_for 5 bash -c "! kill -0 $srv 2>/dev/null" || kill "$srv" 2>/dev/null
}

# ceiling_mbps KEY SIZE [PORT PID]: a short probe sizes the real run to about SECS
# seconds; on the main broker, or the one on PORT.
ceiling_mbps() {
	local key=$1 size=$2 port=${3:-$BROKER_PORT} pid=${4:-$BROKER_PID} out rate bytes cpu
	out=$(timeout 90 "$CEILING" throughput -h 127.0.0.1 -p "$port" -s "$size" -n 256m 2>&1)
	rate=$(field throughput_MBps "$out")
	if [ -z "$rate" ]; then
		failed "$key" "probe: $out"
		return
	fi
	bytes=$(awk -v r="$rate" -v s="$SECS" 'BEGIN { b = r * 1e6 * s;
		if (b < 268435456) b = 268435456; if (b > 34359738368) b = 34359738368; printf "%d", b }')
	cpu_begin "broker:$pid"
	out=$(timeout 90 "$CEILING" throughput -h 127.0.0.1 -p "$port" -s "$size" -n "$bytes" 2>&1)
	cpu=$(cpu_end)
	rate=$(field throughput_MBps "$out")
	if [ -z "$rate" ]; then
		failed "$key" "$out"
		return
	fi
	result "$key" "$rate" "$(field messages "$out") messages of $size B; $cpu"
}

# rtt_sample KEY COMMAND...: one run of a command that prints rtt_us_median= and
# rtt_us_p99=; the runs of each KEY are pooled by rtt_result.
rtt_sample() {
	local key=$1 out med
	shift
	[ -n "${WHY[$key]:-}" ] && return
	out=$(timeout 120 "$@" 2>&1)
	med=$(field rtt_us_median "$out")
	if [ -z "$med" ]; then
		failed "$key" "$out"
		return
	fi
	RTT_MED[$key]+=" $med"
	RTT_P99[$key]+=" $(field rtt_us_p99 "$out")"
}

median() { # numbers...
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		printf "%.1f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# rtt_result KEY: the median of the runs' medians (and of their p99s).
rtt_result() {
	local key=$1
	[ -n "${WHY[$1]:-}" ] || [ -z "${RTT_MED[$key]:-}" ] && return
	# shellcheck disable=SC2086 # word splitting wanted
	result "$key" "$(median ${RTT_MED[$key]})" \
		"p99 $(median ${RTT_P99[$key]}) us; runs:${RTT_MED[$key]}"
}

need_tunnel() { # key
	[ "$TUNNEL_UP" = 1 ] && return 0
	failed "$1" "net4mqtt is not up"
	return 1
}

# shellcheck disable=SC2154 # local_PID, agent_PID: set by lib.sh's n4m
tunnel_procs() { echo "broker:$BROKER_PID local:$local_PID agent:$agent_PID"; }

measure_direct_tcp() {
	iperf_mbps direct_tcp "$IPERF_PORT" ""
}

measure_tunnel_tcp() {
	need_tunnel tunnel_tcp && iperf_mbps tunnel_tcp "$LOCAL_PORT" "$(tunnel_procs)"
}

# The same through a keyed local-port and agent (encrypted flows), right after the plain one.
measure_sealed() {
	if [ "$SEALED_UP" != 1 ]; then
		failed sealed_tcp "the keyed agent and local-port are not up"
		return
	fi
	iperf_mbps sealed_tcp "$SEALED_PORT" "broker:$BROKER_PID local:$seallocal_PID agent:$sealagent_PID"
	iperf_mbps sealed_tcp_rev "$SEALED_PORT" \
		"broker:$BROKER_PID local:$seallocal_PID agent:$sealagent_PID" -R
}

# The same through a local-port with --plain-streams: tcp as net4mqtt carries
# it, without tcpx's flow control, to the same agent.
measure_tunnel_plain() {
	need_tunnel tunnel_plain &&
		iperf_mbps tunnel_plain "$PLAIN_PORT" "broker:$BROKER_PID local:$plainlocal_PID agent:$agent_PID"
}

# A server that never reads, and a client that writes to it (through a
# local-port to the same agent) until its sends block: a stalled flow, whose
# window is full. Then iperf3 through the agent beside it.
STALL_PY='
import socket, sys, time
if sys.argv[1] == "server":
    s = socket.create_server(("127.0.0.1", int(sys.argv[2])))
    conns = []
    while True:
        conns.append(s.accept()[0])  # never read
c = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
c.setblocking(False)
sent, last = 0, time.monotonic()
while time.monotonic() - last < 2:
    try:
        sent += c.send(b"x" * 65536)
        last = time.monotonic()
    except BlockingIOError:
        time.sleep(0.05)
print("stalled after", sent, "bytes", flush=True)
time.sleep(3600)
'
measure_beside_stalled() {
	need_tunnel beside_stalled || return
	$PY -c "$STALL_PY" client "$STALL_PORT" >"$TEST_TMP/stall-client.log" 2>&1 &
	local client=$!
	if wait_for 60 grep -q stalled "$TEST_TMP/stall-client.log"; then
		NOTE[beside_stalled]=$(cat "$TEST_TMP/stall-client.log")
		iperf_mbps beside_stalled "$LOCAL_PORT" "$(tunnel_procs)"
	else
		failed beside_stalled "the stalled client never stalled"
	fi
	kill "$client" 2>/dev/null
}

measure_tunnel_tcp_reverse() {
	need_tunnel tunnel_tcp_rev && iperf_mbps tunnel_tcp_rev "$LOCAL_PORT" "$(tunnel_procs)" -R
}

# The gateway in namespaces (tests/gateway-topology.sh), next to a local-port on
# the same broker and agent: iperf3 from the LAN host through the gateway, and
# from the gateway's namespace through the local-port, to the same server.
# nsiperf KEY NS HOST PORT [-R]: one iperf3 run inside NS.
nsiperf() {
	local out
	out=$(timeout $((SECS + 30)) ip netns exec "$2" iperf3 -c "$3" -p "$4" -t "$SECS" ${5:-} \
		--connect-timeout 5000 -J 2>&1 | $PY -c '
import json, sys
d = json.load(sys.stdin)
if d.get("error"):
    sys.exit("iperf3: " + d["error"])
print("%.2f" % (d["end"]["sum_received"]["bits_per_second"] / 8e6))' 2>&1)
	if [[ $out =~ ^[0-9.]+$ ]]; then result "$1" "$out"; else failed "$1" "$(head -c 200 <<<"$out")"; fi
}

measure_gateway() {
	if [ "$(id -u)" != 0 ]; then
		failed gw_tcp "needs root (network namespaces)"
		return
	fi
	GW_AGENT_TARGET=10.20.0.2:5201 gw_topology_up "$N4M_BIN" ||
		{ failed gw_tcp "the gateway namespaces did not come up"; return; }
	ip netns exec "$GW_FAR" iperf3 -s -B 10.20.0.2 -p 5201 >"$TEST_TMP/gw-iperf.log" 2>&1 &
	bg_track $!
	ip netns exec "$GW_FAR" "$PY" "$RTT_TOOL" server 10.20.0.2 7 >"$TEST_TMP/gw-echo.log" 2>&1 &
	bg_track $!
	ip netns exec "$GW_GW" "$N4M_BIN" -v local-port -m "$GW_URL" -i gw-lp -a site-b \
		-l 127.0.0.1:4444 >"$TEST_TMP/gw-lp.log" 2>&1 &
	bg_track $!
	ip netns exec "$GW_GW" "$N4M_BIN" -v local-port -m "$GW_URL" -i gw-lprtt -a site-b \
		-l 127.0.0.1:4445 -t 10.20.0.2:7 >"$TEST_TMP/gw-lprtt.log" 2>&1 &
	bg_track $!
	wait_for 10 grep -q 'peer site-b/- online' "$TEST_TMP/gw-lp.log" &&
		wait_for 10 grep -q 'peer site-b/- online' "$TEST_TMP/gw-lprtt.log" ||
		{ failed gw_tcp "local-port in the gateway namespace did not come up"; return; }
	nsiperf gw_tcp "$GW_LAN" 10.20.0.2 5201
	nsiperf gw_lp_tcp "$GW_GW" 127.0.0.1 4444
	nsiperf gw_tcp_rev "$GW_LAN" 10.20.0.2 5201 -R
	nsiperf gw_lp_tcp_rev "$GW_GW" 127.0.0.1 4444 -R
	for _ in $(seq "$RTT_REPEAT"); do
		rtt_sample gw_rtt ip netns exec "$GW_LAN" "$PY" "$RTT_TOOL" client 10.20.0.2 7 64 "$RTT_ROUNDS"
		rtt_sample gw_lp_rtt ip netns exec "$GW_GW" "$PY" "$RTT_TOOL" client 127.0.0.1 4445 64 \
			"$RTT_ROUNDS"
	done
	rtt_result gw_rtt
	rtt_result gw_lp_rtt
}

# shellcheck disable=SC2154 # kcplocal_PID, lossylocal_PID, lossyagent_PID: set by n4m
measure_kcp() {
	need_tunnel kcp_tcp &&
		iperf_mbps kcp_tcp "$KCP_PORT" "broker:$BROKER_PID local:$kcplocal_PID agent:$agent_PID"
}

measure_kcp_lossy() {
	if [ "$LOSSY_UP" != 1 ]; then
		failed kcp_lossy "the lossy relay, agent or local did not come up"
		return
	fi
	iperf_mbps kcp_lossy "$LOSSY_PORT" \
		"broker:$BROKER_PID relay:$RELAY_PID local:$lossylocal_PID agent:$lossyagent_PID"
}

measure_ceiling() {
	ceiling_mbps ceiling_packet "$PACKET"
}

measure_ceiling_64k() {
	ceiling_mbps ceiling_65000 65000
}

measure_ceiling_10k() {
	ceiling_mbps ceiling_10000 10000
}

# 100 flows at once through the same local-port and agent, for twice as long:
# iperf3 counts only what arrived, and what 100 flows hold in their sockets'
# buffers when the run ends is ~15% of 5 s.
measure_parallel() {
	need_tunnel tunnel_p100 && iperf_mbps tunnel_p100 "$LOCAL_PORT" "$(tunnel_procs)" -P 100 \
		-t $((SECS * 2))
}

# side_tunnel NAME BROKER_PORT: an agent (NAME-agent, to the iperf3 server) and a
# local-port to it on another broker; sets SIDE_PORT (the local-port's).
side_tunnel() {
	local name=$1 port=$2
	n4m "${name}agent" agent -m "mqtt://127.0.0.1:$port/$PREFIX?client_id=$name-agent" \
		-i "$name-agent" -t "127.0.0.1:$IPERF_PORT"
	SIDE_PORT=$(free_port)
	n4m "${name}local" local-port -m "mqtt://127.0.0.1:$port/$PREFIX?client_id=$name-local" \
		-l "127.0.0.1:$SIDE_PORT" -a "$name-agent" -i "$name-local"
	wait_for 10 port_listening "$SIDE_PORT" &&
		wait_for 10 grep -q "peer $name-agent/- online" "$TEST_TMP/${name}local.log"
}

# The same ceiling and tunnel on a mosquitto whose glibc keeps its heap.
# shellcheck disable=SC2154 # tunedlocal_PID, tunedagent_PID: set by n4m
measure_tuned() {
	local main_port=$BROKER_PORT main_pid=$BROKER_PID main_url=$BROKER_URL_BASE port pid
	BROKER_ENV=$TUNED_ENV start_broker
	port=$BROKER_PORT pid=$BROKER_PID
	BROKER_PORT=$main_port BROKER_PID=$main_pid BROKER_URL_BASE=$main_url
	if ! kill -0 "$pid" 2>/dev/null || ! side_tunnel tuned "$port"; then
		failed tuned_tcp "the tuned broker, its agent or local-port did not come up"
		return
	fi
	ceiling_mbps tuned_ceiling "$PACKET" "$port" "$pid"
	ceiling_mbps tuned_ceiling_65000 65000 "$port" "$pid"
	iperf_mbps tuned_tcp "$SIDE_PORT" "broker:$pid local:$tunedlocal_PID agent:$tunedagent_PID"
}

# aedes, installed from npm into BUILD/bench-node once; skipped without node.
# shellcheck disable=SC2154 # aedeslocal_PID, aedesagent_PID: set by n4m
measure_aedes() {
	local port pid
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		NOTE[aedes_tcp]="skipped: node and npm are not installed"
		return
	fi
	if [ ! -d "$NODE_DIR/node_modules/aedes" ]; then
		mkdir -p "$NODE_DIR"
		(cd "$NODE_DIR" && timeout 300 npm install --no-audit --no-fund --silent aedes@1) \
			>"$TEST_TMP/npm.log" 2>&1 ||
			{ failed aedes_tcp "npm install aedes: $(tail -n 2 "$TEST_TMP/npm.log")"; return; }
	fi
	port=$(free_port)
	NODE_PATH=$NODE_DIR/node_modules node -e '
const { Aedes } = require("aedes");
Aedes.createBroker().then((b) => require("net").createServer(b.handle).listen(+process.argv[1], "127.0.0.1"));
' "$port" >"$TEST_TMP/aedes.log" 2>&1 &
	pid=$!
	bg_track "$pid"
	if ! wait_for 10 port_listening "$port" || ! side_tunnel aedes "$port"; then
		failed aedes_tcp "aedes, its agent or local-port did not come up"
		return
	fi
	ceiling_mbps aedes_ceiling "$PACKET" "$port" "$pid"
	iperf_mbps aedes_tcp "$SIDE_PORT" "broker:$pid local:$aedeslocal_PID agent:$aedesagent_PID"
}

# conn_sample KEY PORT CLIENTS: new connections per second (connect, 10 bytes
# echoed, close) for SECS seconds.
conn_sample() {
	local out rate
	out=$(timeout $((SECS + 30)) "$CONN_RATE" client -p "$2" -c "$3" -t "$SECS" 2>&1)
	rate=$(field conns_per_sec "$out")
	if [ -n "$rate" ] && [ "$(field failed "$out")" = 0 ]; then
		result "$1" "$rate" "$(field conns "$out") connections, $3 client(s)"
	else
		failed "$1" "$(head -c 200 <<<"$out")"
	fi
}

# target_local NAME PORT: a local-port NAME to the main agent, for 127.0.0.1:PORT;
# sets TARGET_LP (where it listens) once it listens and sees the agent online.
target_local() {
	TARGET_LP=$(free_port)
	n4m "$1" local-port -m "$BROKER_URL_BASE/$PREFIX?client_id=bench-$1" \
		-l "127.0.0.1:$TARGET_LP" -a "$AGENT" -i "bench-$1" -t "127.0.0.1:$2"
	wait_for 10 port_listening "$TARGET_LP" &&
		wait_for 10 grep -q "peer $AGENT/- online" "$TEST_TMP/$1.log"
}

# The same echo server directly, through a local-port and agent, and through
# socat, which forks a process per connection.
measure_conns() {
	local echo_port socat_port
	need_tunnel conns_tunnel_1 || return
	echo_port=$(free_port)
	"$CONN_RATE" echo -p "$echo_port" >"$TEST_TMP/conn-echo.log" 2>&1 &
	bg_track $!
	socat_port=$(free_port)
	socat "TCP-LISTEN:$socat_port,bind=127.0.0.1,fork,reuseaddr" "TCP:127.0.0.1:$echo_port" \
		>"$TEST_TMP/socat.log" 2>&1 &
	bg_track $!
	if ! wait_for 10 port_listening "$echo_port" || ! wait_for 10 port_listening "$socat_port" ||
		! target_local connlocal "$echo_port"; then
		failed conns_tunnel_1 "the echo server, socat or the local-port did not come up"
		return
	fi
	conn_sample conns_direct_1 "$echo_port" 1
	conn_sample conns_tunnel_1 "$TARGET_LP" 1
	conn_sample conns_socat_1 "$socat_port" 1
	conn_sample conns_tunnel_8 "$TARGET_LP" 8
	conn_sample conns_socat_8 "$socat_port" 8
}

# redis_rps KEY PORT: requests/s of redis-benchmark's SET and GET with 50 clients.
redis_rps() {
	local out
	out=$(timeout 120 redis-benchmark -h 127.0.0.1 -p "$2" -c 50 -n "${BENCH_REDIS_N:-100000}" \
		-t set,get --csv 2>&1 | awk -F'"' '/^"(SET|GET)"/ { s += $4; n++ }
		END { if (n == 2) printf "%.0f", s / n }')
	if [ -n "$out" ]; then result "$1" "$out" "SET and GET, 50 clients"; else failed "$1" "redis-benchmark failed"; fi
}

measure_redis() {
	local port
	need_tunnel redis_tunnel || return
	command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null ||
		{ failed redis_tunnel "redis-server and redis-benchmark are not installed (make bench installs them)"; return; }
	port=$(free_port)
	redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
		>"$TEST_TMP/redis.log" 2>&1 &
	bg_track $!
	if ! wait_for 10 port_listening "$port" || ! target_local redislocal "$port"; then
		failed redis_tunnel "redis-server or its local-port did not come up"
		return
	fi
	redis_rps redis_direct "$port"
	redis_rps redis_tunnel "$TARGET_LP"
}

# Heap and RSS per idle flow (tests/bench/idle_flows.sh, its own broker and peers).
measure_memory() {
	local out k
	if [ ! -x "$IDLE_FLOWS" ]; then
		failed mem_tcp_local "$IDLE_FLOWS is missing"
		return
	fi
	out=$(timeout 600 "$IDLE_FLOWS" "$build" 2>"$TEST_TMP/idle-flows.err")
	for k in tcp kcp; do
		for side in local agent; do
			[ -n "$(field "${k}_heap_per_flow_$side" "$out")" ] ||
				{ failed "mem_${k}_$side" "idle_flows.sh: $(tail -n 3 "$TEST_TMP/idle-flows.err")"; continue; }
			result "mem_${k}_$side" "$(field "${k}_heap_per_flow_$side" "$out")" \
				"RSS $(field "${k}_rss_idle_$side" "$out") kB idle, $(field "${k}_rss_open_$side" "$out") kB with the flows, $(field "${k}_rss_after_$side" "$out") kB after"
			VAL[mem_${k}_${side}_rss_idle]=$(field "${k}_rss_idle_$side" "$out")
			VAL[mem_${k}_${side}_rss_after]=$(field "${k}_rss_after_$side" "$out")
		done
	done
}

# N agent/local pairs on one fresh mosquitto as shipped (tests/scale-lib.sh), for
# N = 1, 100, 1000: one connection per pair through its own local-port, SIZE bytes
# echoed byte-exact (scale_pairs), all pairs at once. The CPU (utime+stime from
# /proc/PID/stat) of the broker and of our processes over the transfer, their RSS
# after it. 1 pair is run 20 times (its transfer is short): the median throughput,
# the CPU over all 20.
SCALE_SIZE=${BENCH_SCALE_SIZE:-1048576}
median_raw() { # numbers...: their median, unrounded (a pair's share of 1000 is under 0.1 MB/s)
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
sum_ticks() { # pid...
	local p t=0
	for p in "$@"; do t=$((t + $(cpu_ticks "$p"))); done
	echo "$t"
}
sum_rss() { # pid...: kB
	local p t=0
	for p in "$@"; do t=$((t + $(rss_kb "$p"))); done
	echo "$t"
}

# scale_run N RUNS: sets VAL[scale_*_N], or says why not.
scale_run() {
	local n=$1 runs=$2 main_port=$BROKER_PORT main_pid=$BROKER_PID main_url=$BROKER_URL_BASE
	local bpid up t out b0 o0 secs bcpu ocpu rates=() aggs=() r mb why=""
	start_broker
	bpid=$BROKER_PID
	t=$SECONDS
	if ! kill -0 "$bpid" 2>/dev/null; then
		why="mosquitto did not start"
	elif ! scale_up "$n"; then
		why="the pairs did not come up: $(tail -n 1 "$TEST_TMP/scale-online.out")"
	fi
	up=$((SECONDS - t))
	b0=$(cpu_ticks "$bpid")
	o0=$(sum_ticks "${SCALE_PIDS[@]}")
	t=$(date +%s.%N)
	for r in $(seq "$runs"); do
		[ -z "$why" ] || break
		out=$(timeout 330 "$SCALE_TOOL" run -b "$SCALE_BASE" -n "$n" -s "$SCALE_SIZE" -t 300 2>&1 |
			tee "$TEST_TMP/scale-$n-$r.out" | grep '^scale:')
		if [ "$(field failed "$out")" != 0 ]; then
			why="run $r: ${out:-no result}; $(grep -m 3 FAIL "$TEST_TMP/scale-$n-$r.out" | tr '\n' ' ')"
		fi
		rates+=("$(field pair_MBps_median "$out")")
		aggs+=("$(field aggregate_MBps "$out")")
	done
	# over every run (with the starts of scale_pairs in between)
	secs=$(calc "$(date +%s.%N) - $t")
	bcpu=$(calc "($(cpu_ticks "$bpid") - $b0) / $HZ")
	ocpu=$(calc "($(sum_ticks "${SCALE_PIDS[@]}") - $o0) / $HZ")
	if [ -z "$why" ]; then
		open_is_0() { [ "$(scale_flows "$1" | cut -d' ' -f1)" = 0 ]; }
		wait_for 30 open_is_0 l && wait_for 30 open_is_0 a ||
			why="flows still open 30 s after the transfer (local, agent: $(scale_flows l), $(scale_flows a))"
		scale_running || why="a net4mqtt process exited"
	fi
	if [ -n "$why" ]; then
		failed "scale_pair_$n" "$why"
	else
		mb=$(calc "$runs * $n * $SCALE_SIZE / 1e6")
		VAL[scale_agg_$n]=$(median_raw "${aggs[@]}")
		VAL[scale_bcpu_$n]=$(calc "$bcpu * 1000 / $mb")
		VAL[scale_ocpu_$n]=$(calc "$ocpu * 1000 / $mb")
		VAL[scale_brss_$n]=$(rss_kb "$bpid")
		VAL[scale_orss_$n]=$(sum_rss "${SCALE_PIDS[@]}")
		VAL[scale_orss_pp_$n]=$(calc "${VAL[scale_orss_$n]} / $n")
		NOTE[scale_bcpu_$n]="$bcpu s in $secs s ($(calc "$bcpu / $secs * 100")%)"
		NOTE[scale_ocpu_$n]="$ocpu s in $secs s ($(calc "$ocpu / $secs * 100")%), ${#SCALE_PIDS[@]} processes"
		NOTE[scale_orss_$n]="${#SCALE_PIDS[@]} processes, $(calc "${VAL[scale_orss_$n]} / ${#SCALE_PIDS[@]}") kB each, $(calc "${VAL[scale_orss_$n]} / $n") kB a pair"
		result "scale_pair_$n" "$(median_raw "${rates[@]}")" \
			"aggregate ${VAL[scale_agg_$n]} MB/s, $mb MB each way, up in $up s$([ "$runs" -gt 1 ] && echo ", $runs runs")"
	fi
	scale_down
	stop_broker
	BROKER_PORT=$main_port BROKER_PID=$main_pid BROKER_URL_BASE=$main_url
}

measure_scale() {
	scale_run 1 20
	scale_run 100 1
	scale_run 1000 1
}

# Interleaved runs, so a slow spell of this noisy machine hits all three alike.
# RELAYS socat processes chained in front of the echo server, each relaying over
# TCP to the next: what a round trip through as many relays as the tunnel has
# (local-port, broker, agent) costs with no MQTT and no net4mqtt. Sets RELAY_CHAIN_PORT.
relay_chain() { # relays
	local port=$ECHO_PORT next
	RELAY_CHAIN_PORT=
	for _ in $(seq "$1"); do
		next=$(free_port)
		socat "TCP-LISTEN:$next,bind=127.0.0.1,fork,reuseaddr,nodelay" \
			"TCP:127.0.0.1:$port,nodelay" >>"$TEST_TMP/socat-chain.log" 2>&1 &
		bg_track $!
		wait_for 10 port_listening "$next" || return 1
		port=$next
	done
	RELAY_CHAIN_PORT=$port
}

measure_rtt() {
	need_tunnel tunnel_rtt
	relay_chain 3 || failed relay3_rtt "socat did not come up"
	for _ in $(seq "$RTT_REPEAT"); do
		rtt_sample direct_rtt "$PY" "$RTT_TOOL" client 127.0.0.1 "$ECHO_PORT" 64 "$RTT_ROUNDS"
		rtt_sample relay3_rtt "$PY" "$RTT_TOOL" client 127.0.0.1 "$RELAY_CHAIN_PORT" 64 \
			"$RTT_ROUNDS"
		rtt_sample tunnel_rtt "$PY" "$RTT_TOOL" client 127.0.0.1 "$RTT_PORT" 64 "$RTT_ROUNDS"
		[ "$SEALED_UP" = 1 ] && rtt_sample sealed_rtt "$PY" "$RTT_TOOL" client 127.0.0.1 \
			"$SEALED_RTT_PORT" 64 "$RTT_ROUNDS"
		rtt_sample mqtt_rtt "$CEILING" rtt -h 127.0.0.1 -p "$BROKER_PORT" -s 64 -n "$RTT_ROUNDS"
		rtt_sample mqtt_rtt_2p "$CEILING" rtt -h 127.0.0.1 -p "$BROKER_PORT" -s 64 \
			-n "$RTT_ROUNDS" -f
	done
	rtt_result direct_rtt
	rtt_result relay3_rtt
	rtt_result tunnel_rtt
	rtt_result sealed_rtt
	rtt_result mqtt_rtt
	rtt_result mqtt_rtt_2p
}

# The ceiling runs right before the tunnel it is the ceiling of.
MEASUREMENTS=(measure_direct_tcp measure_ceiling measure_tunnel_tcp measure_tunnel_tcp_reverse
	measure_sealed measure_tunnel_plain measure_beside_stalled measure_parallel
	measure_kcp measure_kcp_lossy measure_ceiling_64k measure_ceiling_10k measure_rtt measure_conns
	measure_redis measure_gateway measure_tuned measure_aedes measure_memory measure_scale)

# Table rows.
heading() {
	printf '\n%s\n' "$1"
}

row() { # label key unit
	local v
	if [ -n "${VAL[$2]:-}" ]; then
		v=${VAL[$2]}
	else
		v="FAILED"
	fi
	printf '  %-46s %10s %-5s %s\n' "$1" "$v" "$3" "${NOTE[$2]:-${WHY[$2]:-}}"
}

# ratio LABEL NUM_KEY DEN_KEY [>=|<= TARGET]
ratio() {
	local label=$1 num=${VAL[$2]:-} den=${VAL[$3]:-} op=${4:-} target=${5:-} r verdict=""
	if [ -z "$num" ] || [ -z "$den" ] || [ "$(calc "$den == 0")" = 1.00 ]; then
		printf '  %-46s %10s\n' "$label" "n/a"
		return
	fi
	r=$(awk -v a="$num" -v b="$den" 'BEGIN { printf "%.3f", a / b }')
	if [ -n "$op" ]; then
		if awk -v r="$r" -v t="$target" -v op="$op" \
			'BEGIN { exit !((op == ">=") ? r >= t : r <= t) }'; then
			verdict="target $op $target: ok"
		else
			verdict="target $op $target: BELOW TARGET"
		fi
	fi
	printf '  %-46s %10s       %s\n' "$label" "$r" "$verdict"
}

stats_lines() { # log
	grep -c 'stats:' "$1" 2>/dev/null
}

# The stats each net4mqtt writes on SIGUSR1, its warnings, and whether it is still alive.
net4mqtt_notes() {
	local name log pidvar before
	heading "net4mqtt (logs in $LOG_DIR)"
	for name in agent local sealagent seallocal sealrttlocal plainlocal stalllocal rttlocal kcplocal \
		lossyagent lossylocal connlocal \
		redislocal tunedagent tunedlocal aedesagent aedeslocal; do
		log=$TEST_TMP/$name.log
		pidvar=${name}_PID
		[ -n "${!pidvar:-}" ] || continue
		if ! kill -0 "${!pidvar}" 2>/dev/null; then
			RUN_FAILED=1
			printf '  %-9s EXITED during the bench; last lines:\n' "$name"
			tail -n 5 "$log" | sed 's/^/            /'
			continue
		fi
		before=$(stats_lines "$log")
		kill -USR1 "${!pidvar}"
		wait_for 5 test "$(stats_lines "$log")" -gt "$before"
		printf '  %-9s %s\n' "$name" "$(grep 'stats:' "$log" | tail -n 1 | sed 's/.*stats: //')"
		# warnings, and flows that ended with an error (logged at INFO)
		grep -E ' WARN |INFO  flow [0-9]+: closed:' "$log" | grep -v 'stats:' | head -n 5 |
			sed 's/^/            /'
	done
}

report() {
	local k side
	printf '\nnet4mqtt bench: loopback, %s CPUs, load %s, %s as shipped, %s s per throughput run\n' \
		"$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(mosquitto -h 2>/dev/null |
			sed -n '1s/mosquitto version/mosquitto/p')" "$SECS"
	heading "throughput (MB/s = 10^6 bytes/s), net4mqtt's packets of $PACKET B"
	row "direct TCP (iperf3)" direct_tcp MB/s
	row "raw MQTT ceiling, $PACKET B messages" ceiling_packet MB/s
	row "tunnel TCP local->agent (iperf3)" tunnel_tcp MB/s
	row "tunnel TCP agent->local (iperf3 -R)" tunnel_tcp_rev MB/s
	row "tunnel TCP, 100 flows at once (-P 100, 2x long)" tunnel_p100 MB/s
	row "tunnel TCP, encrypted flows (--seal-key)" sealed_tcp MB/s
	row "tunnel TCP -R, encrypted flows" sealed_tcp_rev MB/s
	row "tunnel TCP, --plain-streams (no flow control)" tunnel_plain MB/s
	row "tunnel TCP beside a stalled flow (same agent)" beside_stalled MB/s
	row "tunnel KCP local->agent (iperf3, local-port -k)" kcp_tcp MB/s
	row "tunnel KCP, ${LOSS} loss each way (relay)" kcp_lossy MB/s
	row "raw MQTT ceiling, 65000 B messages" ceiling_65000 MB/s
	row "raw MQTT ceiling, 10000 B messages" ceiling_10000 MB/s
	heading "other brokers: mosquitto with glibc's trim threshold raised; aedes (npm)"
	row "tuned mosquitto: raw ceiling, $PACKET B" tuned_ceiling MB/s
	row "tuned mosquitto: raw ceiling, 65000 B" tuned_ceiling_65000 MB/s
	row "tuned mosquitto: tunnel TCP (iperf3)" tuned_tcp MB/s
	row "aedes: raw ceiling, $PACKET B" aedes_ceiling MB/s
	row "aedes: tunnel TCP (iperf3)" aedes_tcp MB/s
	heading "gateway, in namespaces: LAN host -> gateway (TUN) -> broker -> agent -> server"
	row "gateway TCP (iperf3 from the LAN host)" gw_tcp MB/s
	row "local-port TCP, same broker and agent" gw_lp_tcp MB/s
	row "gateway TCP, server -> LAN host (iperf3 -R)" gw_tcp_rev MB/s
	row "local-port TCP -R, same broker and agent" gw_lp_tcp_rev MB/s
	row "gateway RTT, 64 B (LAN host)" gw_rtt us
	row "local-port RTT, same broker and agent" gw_lp_rtt us
	heading "round trip, 64 B request/response (median of $RTT_REPEAT runs of $RTT_ROUNDS rounds)"
	row "direct TCP (python echo)" direct_rtt us
	row "TCP through 3 socat relays (python echo)" relay3_rtt us
	row "tunnel TCP (python echo via local-port+agent)" tunnel_rtt us
	row "tunnel TCP, encrypted flows" sealed_rtt us
	row "raw MQTT (publish, echo client, publish)" mqtt_rtt us
	row "raw MQTT, echo client in a 2nd process" mqtt_rtt_2p us
	row "redis-benchmark -c 50, direct" redis_direct req/s
	row "redis-benchmark -c 50, through local-port" redis_tunnel req/s
	heading "new connections per second (connect, 10 B echoed, close)"
	row "direct, 1 client" conns_direct_1 /s
	row "through local-port+agent, 1 client" conns_tunnel_1 /s
	row "through socat fork, 1 client" conns_socat_1 /s
	row "through local-port+agent, 8 clients" conns_tunnel_8 /s
	row "through socat fork, 8 clients" conns_socat_8 /s
	heading "memory per open idle flow (10,000 flows; heap bytes from mallinfo2)"
	for k in tcp kcp; do
		for side in local agent; do
			row "$k, $side" "mem_${k}_$side" B
		done
	done
	heading "scale: N agent/local pairs on one mosquitto as shipped, $((SCALE_SIZE / 1024)) KiB echoed a pair (ulimit -n $(ulimit -n))"
	for n in 1 100 1000; do
		row "$n pair(s): throughput a pair (median)" "scale_pair_$n" MB/s
		row "$n pair(s): broker CPU per MB echoed" "scale_bcpu_$n" ms
		row "$n pair(s): our CPU per MB echoed" "scale_ocpu_$n" ms
		row "$n pair(s): broker RSS after" "scale_brss_$n" kB
		row "$n pair(s): our RSS after, all processes" "scale_orss_$n" kB
	done
	ratio "throughput a pair, 100 pairs / 1" scale_pair_100 scale_pair_1
	ratio "throughput a pair, 1000 pairs / 1" scale_pair_1000 scale_pair_1
	ratio "aggregate throughput, 100 pairs / 1" scale_agg_100 scale_agg_1
	ratio "aggregate throughput, 1000 pairs / 1" scale_agg_1000 scale_agg_1
	ratio "broker CPU per MB, 100 pairs / 1" scale_bcpu_100 scale_bcpu_1
	ratio "broker CPU per MB, 1000 pairs / 1" scale_bcpu_1000 scale_bcpu_1
	ratio "our CPU per MB, 100 pairs / 1" scale_ocpu_100 scale_ocpu_1
	ratio "our CPU per MB, 1000 pairs / 1" scale_ocpu_1000 scale_ocpu_1
	ratio "broker RSS, 1000 pairs / 1" scale_brss_1000 scale_brss_1
	ratio "our RSS a pair, 100 pairs / 1" scale_orss_pp_100 scale_orss_pp_1
	ratio "our RSS a pair, 1000 pairs / 1" scale_orss_pp_1000 scale_orss_pp_1
	heading "ratios with targets"
	ratio "tunnel / raw ceiling ($PACKET B)" tunnel_tcp ceiling_packet ">=" 0.6
	ratio "tunnel -R / raw ceiling ($PACKET B)" tunnel_tcp_rev ceiling_packet ">=" 0.6
	ratio "tunnel RTT / raw MQTT RTT, 2 processes" tunnel_rtt mqtt_rtt_2p "<=" 1.5
	ratio "kcp / tcp tunnel" kcp_tcp tunnel_tcp ">=" 0.7
	ratio "gateway / local-port throughput" gw_tcp gw_lp_tcp ">=" 0.85
	ratio "gateway / local-port throughput, -R" gw_tcp_rev gw_lp_tcp_rev ">=" 0.85
	ratio "100 flows aggregate / 1 flow" tunnel_p100 tunnel_tcp ">=" 0.9
	ratio "connections/s, local-port / socat, 8 clients" conns_tunnel_8 conns_socat_8 ">=" 0.5
	VAL[thousand]=1000
	ratio "connections/s, local-port, 1 client / 1000" conns_tunnel_1 thousand ">=" 1.0
	VAL[tcp_flow_budget]=1536 VAL[kcp_flow_budget]=16384
	for k in tcp kcp; do
		for side in local agent; do
			ratio "heap per idle $k flow, $side / ${VAL[${k}_flow_budget]} B" "mem_${k}_$side" \
				"${k}_flow_budget" "<=" 1.0
			ratio "RSS after the $k flows closed / idle, $side" "mem_${k}_${side}_rss_after" \
				"mem_${k}_${side}_rss_idle" "<=" 1.2
		done
	done
	ratio "flow control (tcpx) / --plain-streams (tcp)" tunnel_tcp tunnel_plain ">=" 0.90
	ratio "encrypted / plain flows" sealed_tcp tunnel_tcp ">=" 0.8
	ratio "encrypted / plain flows, -R" sealed_tcp_rev tunnel_tcp_rev ">=" 0.8
	ratio "encrypted / plain flows, RTT" sealed_rtt tunnel_rtt "<=" 1.2
	ratio "beside a stalled flow / alone" beside_stalled tunnel_tcp ">=" 0.80
	VAL[ten]=10
	ratio "kcp with ${LOSS} loss / 10 MB/s" kcp_lossy ten ">=" 1.0
	heading "ratios for context"
	ratio "redis requests/s, local-port / direct" redis_tunnel redis_direct
	ratio "connections/s, local-port / socat, 1 client" conns_tunnel_1 conns_socat_1
	ratio "tunnel on tuned mosquitto / as shipped" tuned_tcp tunnel_tcp
	ratio "tuned tunnel / tuned raw ceiling ($PACKET B)" tuned_tcp tuned_ceiling
	ratio "aedes tunnel / aedes raw ceiling ($PACKET B)" aedes_tcp aedes_ceiling
	ratio "raw ceiling 65000 B / $PACKET B, as shipped" ceiling_65000 ceiling_packet
	ratio "tunnel RTT / raw MQTT RTT, 1 process" tunnel_rtt mqtt_rtt
	[ -n "${VAL[mqtt_rtt_2p]:-}" ] && [ -n "${VAL[direct_rtt]:-}" ] &&
		VAL[mqtt_plus_tcp]=$(calc "${VAL[mqtt_rtt_2p]} + ${VAL[direct_rtt]}")
	ratio "tunnel RTT / (raw MQTT 2 proc. + direct TCP)" tunnel_rtt mqtt_plus_tcp
	ratio "tunnel RTT / 3 socat relays RTT" tunnel_rtt relay3_rtt
	ratio "3 socat relays RTT / raw MQTT RTT, 2 proc." relay3_rtt mqtt_rtt_2p
	ratio "gateway RTT / local-port RTT" gw_rtt gw_lp_rtt
	ratio "tunnel / direct TCP" tunnel_tcp direct_tcp
	net4mqtt_notes
}

for tool in "$N4M_BIN" "$CEILING" "$RELAY" "$CONN_RATE" "$SCALE_TOOL"; do
	[ -x "$tool" ] || { echo "bench: $tool is missing (make all $CEILING)" >&2; exit 1; }
done
for tool in mosquitto iperf3 socat "$PY"; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is not installed (make deps)" >&2; exit 1; }
done

setup
for m in "${MEASUREMENTS[@]}"; do
	if [ -z "${BENCH_ONLY:-}" ] || [[ " $BENCH_ONLY " == *" ${m#measure_} "* ]]; then
		"$m"
	fi
done
report
exit "$RUN_FAILED"
