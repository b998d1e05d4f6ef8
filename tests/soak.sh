#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by start_n4m
# Soak: mixed traffic for SOAK_MINUTES (default 10) through one broker, an
# agent, a local-port (tcp), a local-port -u and a local-socks, on loopback.
#
#   tests/soak.sh [BUILD]          (make soak; SOAK_MINUTES=1 for a quick run)
#
# Four workloads run side by side, each over and over until the time is up:
#   tcp    local-port -> agent -> a server that hashes what it reads: 0.1-4 MB
#          up, a sha256 of it and 1 MB back, both checked
#   udp    local-port -u: 20 sockets, one datagram each, every echo checked
#   socks  curl --socks5-hostname: a 1 MB file over HTTP, sha256 checked
#   short  50 short SOCKS connections (10 at a time) with an echo round each
# Every 10 s one line: elapsed time, RSS (kB) of each net4mqtt process and the
# broker, flows open in each, runs ok and failed so far. At the end a summary
# (RSS start/max/end per process, runs ok/failed per workload), and after the
# traffic stops every flow table must drain to 0. Exits non-zero if any run
# failed, a process died or flows stayed open.
set -u
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
case $build in /*) ;; *) build=$top/$build ;; esac
export N4M_BIN=$build/net4mqtt
source "$top/tests/lib.sh"
[ -x "$N4M" ] || { echo "soak: no $N4M (make first)"; exit 2; }
HELPERS=$top/tests/e2e/helpers
TOOL=$HELPERS/nettool.py
TCPTOOL=$HELPERS/tcptool.py
FLOW=$HELPERS/flowtool.py
MINUTES=${SOAK_MINUTES:-10}
case $MINUTES in '' | *[!0-9]* | 0) echo "soak: SOAK_MINUTES must be a whole number of minutes >= 1"; exit 2 ;; esac
PREFIX=soak/$$
AGENT=soak-agent-$$
UDP_TIMEOUT=5
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null

die() { echo "soak: $*"; exit 1; }
start_broker || die "mosquitto does not start"
URL="$BROKER_URL_BASE/$PREFIX"
ECHO=$(free_port)
UECHO=$(free_port)
EOFSRV=$(free_port)
HTTP=$(free_port)
$PY "$TOOL" echo-tcp "$ECHO" >"$TEST_TMP/echo.log" 2>&1 &
bg_track $!
$PY "$TOOL" echo-udp "$UECHO" >"$TEST_TMP/uecho.log" 2>&1 &
bg_track $!
$PY "$TCPTOOL" eof-server 127.0.0.1 "$EOFSRV" 1000000 "$TEST_TMP/eof-server.out" >"$TEST_TMP/eof-server.log" 2>&1 &
bg_track $!
mkdir -p "$TEST_TMP/www"
head -c 1000000 /dev/urandom >"$TEST_TMP/www/file"
FILE_SHA=$(sha256sum <"$TEST_TMP/www/file")
start_http "$TEST_TMP/www" "$HTTP" || die "the HTTP server does not start"
servers_up() { port_listening "$ECHO" && port_listening "$EOFSRV" && udp_bound "$UECHO"; }
wait_for 10 servers_up || die "the test servers do not start"

LP=$(free_port)
UP=$(free_port)
SP=$(free_port)
# -v (info): a debug line per flow would fill the disk over hours
start_n4m() { # NAME args...: pid in NAME_PID, log in $TEST_TMP/NAME.log
	local name=$1
	shift
	"$N4M" -v "$@" >"$TEST_TMP/$name.log" 2>&1 &
	bg_track $!
	printf -v "${name}_PID" '%s' $!
}
start_n4m agent agent -m "$URL?client_id=$AGENT" -i "$AGENT" -t "127.0.0.1:$ECHO" --udp-timeout "$UDP_TIMEOUT"
start_n4m lport local-port -m "$URL?client_id=soak-lport-$$" -i "soak-lport-$$" -a "$AGENT" -l "127.0.0.1:$LP" \
	-t "127.0.0.1:$EOFSRV"
start_n4m ludp local-port -u -m "$URL?client_id=soak-ludp-$$" -i "soak-ludp-$$" -a "$AGENT" -l "127.0.0.1:$UP" \
	-t "127.0.0.1:$UECHO" --udp-timeout "$UDP_TIMEOUT"
start_n4m lsocks local-socks -m "$URL?client_id=soak-lsocks-$$" -i "soak-lsocks-$$" -a "$AGENT" -l "127.0.0.1:$SP"
NAMES=(agent lport ludp lsocks)
listening() { port_listening "$LP" && port_listening "$SP" && udp_bound "$UP"; }
wait_for 10 listening || die "the locals do not listen"
wait_status "$URL/$AGENT/-/v/-" || die "the agent is not online"
seen() { local n; for n in lport ludp lsocks; do grep -q "peer $AGENT/- online" "$TEST_TMP/$n.log" || return 1; done; }
wait_for 10 seen || die "the locals have not seen the agent"

# the workloads: each returns 0 on success and prints why not
w_tcp() {
	local size=$(((RANDOM % 40 + 1) * 100000)) res
	res=$(timeout 120 $PY "$TCPTOOL" shut-client 127.0.0.1 "$LP" "$size" 1000000 2>&1)
	[[ $res == "halfclose ok"* ]] || { echo "$size bytes: $res"; return 1; }
}
w_udp() {
	local res
	res=$(timeout 60 $PY "$TOOL" udp-many "$UP" 20 2>&1)
	[ "$res" = "udp: 20 of 20 replied, 0 wrong" ] || { echo "$res"; return 1; }
}
w_socks() {
	local sha rc
	sha=$(timeout 60 curl -sS --socks5-hostname "127.0.0.1:$SP" "http://127.0.0.1:$HTTP/file" 2>"$TEST_TMP/curl.err" | sha256sum)
	rc=${PIPESTATUS[0]}
	[ "$rc" = 0 ] && [ "$sha" = "$FILE_SHA" ] || { echo "curl exit $rc, $(head -c 200 "$TEST_TMP/curl.err"), sha256 ${sha:0:16}"; return 1; }
}
w_short() {
	local res
	res=$(timeout 120 $PY "$FLOW" short "$SP" 50 10 127.0.0.1 "$ECHO" 2>&1)
	[ "$res" = "short: 50 ok, 0 failed" ] || { echo "$res"; return 1; }
}
WORKLOADS=(tcp udp socks short)

DEADLINE=$((SECONDS + MINUTES * 60))
# worker NAME: runs w_NAME until the deadline; one line per run in $TEST_TMP/NAME.res
worker() {
	local why
	while [ "$SECONDS" -lt "$DEADLINE" ]; do
		if why=$("w_$1"); then
			echo ok >>"$TEST_TMP/$1.res"
		else
			echo "FAIL $(date +%T) ${why//$'\n'/ }" >>"$TEST_TMP/$1.res"
		fi
	done
}
ok_of() { grep -c '^ok' "$TEST_TMP/$1.res" 2>/dev/null || true; }
failed_of() { grep -c '^FAIL' "$TEST_TMP/$1.res" 2>/dev/null || true; }

declare -A RSS_START RSS_MAX RSS_END
pid_of() { if [ "$1" = broker ]; then echo "$BROKER_PID"; else local v=${1}_PID; echo "${!v}"; fi; }
sample() { # records RSS of every process; prints "name=kB ..."
	local n kb line=""
	for n in "${NAMES[@]}" broker; do
		kb=$(rss_kb "$(pid_of "$n")")
		[ -n "${RSS_START[$n]:-}" ] || RSS_START[$n]=$kb
		[ "${kb:-0}" -gt "${RSS_MAX[$n]:-0}" ] && RSS_MAX[$n]=$kb
		RSS_END[$n]=$kb
		line+=" $n=$kb"
	done
	echo "$line"
}
flows_line() {
	local n line=""
	for n in "${NAMES[@]}"; do
		line+=" $n=$(stat_field "$(stats "$n" "$(pid_of "$n")")" "flows open")"
	done
	echo "$line"
}
totals() {
	local w ok=0 failed=0
	for w in "${WORKLOADS[@]}"; do ok=$((ok + $(ok_of "$w"))) failed=$((failed + $(failed_of "$w"))); done
	echo "ok $ok failed $failed"
}
alive() { all_running "$agent_PID" "$lport_PID" "$ludp_PID" "$lsocks_PID" "$BROKER_PID"; }

echo "soak: $MINUTES min of mixed traffic (tcp, udp, socks, short); broker port $BROKER_PORT, logs in $TEST_TMP"
echo "soak: every 10 s: time elapsed | RSS kB | flows open | runs so far"
sample >/dev/null
T0=$SECONDS
WPIDS=()
for w in "${WORKLOADS[@]}"; do
	worker "$w" &
	WPIDS+=($!)
	bg_track $!
done
died=""
next=$((T0 + 10))
while [ "$SECONDS" -lt "$DEADLINE" ]; do
	if ! alive; then
		died=$(for n in "${NAMES[@]}" broker; do kill -0 "$(pid_of "$n")" 2>/dev/null || echo -n "$n "; done)
		echo "soak: process died: $died"
		break
	fi
	if [ "$SECONDS" -ge "$next" ]; then
		printf 'soak: %s %4ds | rss%s | flows%s | %s\n' "$(date +%T)" $((SECONDS - T0)) "$(sample)" "$(flows_line)" "$(totals)"
		next=$((next + 10))
	fi
	sleep 1 # the reporting period, not a wait for a condition
done
[ -n "$died" ] && DEADLINE=0 # the workers stop after their current run
for p in "${WPIDS[@]}"; do
	# each run is bounded by its own timeout (at most 120 s)
	for _ in $(seq 1500); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
done
sample >/dev/null

# after the traffic, every flow table drains (UDP flows after --udp-timeout)
drained() { local n; for n in "${NAMES[@]}"; do [ "$(stat_field "$(stats "$n" "$(pid_of "$n")")" "flows open")" = 0 ] || return 1; done; }
end=$((SECONDS + UDP_TIMEOUT + 20))
until drained || [ "$SECONDS" -ge "$end" ] || ! alive; do sleep 0.5; done
leftover=$(flows_line)

echo
echo "soak summary after $((SECONDS - T0)) s:"
printf '  %-8s %10s %10s %10s  (RSS kB)\n' process start max end
for n in "${NAMES[@]}" broker; do
	printf '  %-8s %10s %10s %10s\n' "$n" "${RSS_START[$n]}" "${RSS_MAX[$n]}" "${RSS_END[$n]}"
done
printf '  %-8s %10s %10s\n' workload ok failed
for w in "${WORKLOADS[@]}"; do
	printf '  %-8s %10s %10s\n' "$w" "$(ok_of "$w")" "$(failed_of "$w")"
	grep '^FAIL' "$TEST_TMP/$w.res" 2>/dev/null | head -n 3 | sed 's/^/           /'
done
for n in "${NAMES[@]}"; do
	echo "  $n $(grep ' stats: ' "$TEST_TMP/$n.log" | tail -n 1 | sed 's/.* stats: //')"
done
echo "  flows open at the end:$leftover"

rc=0
read -r _ ok _ failed <<<"$(totals)"
[ "$failed" -eq 0 ] || { echo "soak: FAIL: $failed runs failed"; rc=1; }
[ "$ok" -gt 0 ] || { echo "soak: FAIL: no run completed"; rc=1; }
if ! alive; then
	echo "soak: FAIL: a process died: $(for n in "${NAMES[@]}" broker; do kill -0 "$(pid_of "$n")" 2>/dev/null || echo -n "$n "; done)"
	rc=1
fi
drained || { echo "soak: FAIL: flows still open $((UDP_TIMEOUT + 20)) s after the traffic stopped:$leftover"; rc=1; }
[ "$rc" -eq 0 ] && echo "soak: ok ($ok runs, 0 failed, no process died, every flow table drained)"
exit "$rc"
