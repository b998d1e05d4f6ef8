#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m in lib.sh
# End-to-end flow control (issue 13), on mosquitto with its Debian defaults: a
# client slower than the server is slowed down, not cut off, and does not stall
# the other flows. Through local-port in tcp mode and, at the same time, through
# a second local-port with -k, both to one agent in front of a python http.server
# serving a 100 MB file:
#  - curl --limit-rate 5M of the file: md5 equal to the file;
#  - once it is 5 MB in, it stops reading altogether (SIGSTOP), and a second curl
#    of the file on the same local-port and agent at full speed arrives whole
#    while the first is stopped; then the first goes on (SIGCONT) and completes;
#  - the local's and the agent's peak RSS stay under a ceiling (a memory limit,
#    not a timing threshold; skipped under sanitizers).
# Finally every process still runs.
set -u
source "$(dirname "$0")/../lib.sh"
PREFIX=e2e/streams-fc
AGENT=fc-agent
SIZE_MB=100
# under the sanitizers a smaller file shows the same (the 2 MiB window holds the
# sender back either way) and keeps CI in its 20 minutes
[ -n "${ASAN_OPTIONS:-}" ] && SIZE_MB=30
RATE=5M
RSS_CAP_KB=$((64 * 1024))
T0=$SECONDS
info() { echo "info: $* [$((SECONDS - T0)) s]"; }

start_broker || { fail "mosquitto starts"; exit 1; }
URL="$BROKER_URL_BASE/$PREFIX"
mkdir -p "$TEST_TMP/www"
head -c $((SIZE_MB << 20)) /dev/urandom >"$TEST_TMP/www/big.bin"
SUM=$(md5sum <"$TEST_TMP/www/big.bin" | cut -d' ' -f1)
HTTP=$(free_port)
start_http "$TEST_TMP/www" "$HTTP" || { fail "http server starts"; exit 1; }

LP=$(free_port) LK=$(free_port)
# -v: a debug line per message would dwarf the transfers
"$N4M" -v agent -m "$URL?client_id=$AGENT" -i "$AGENT" -t "127.0.0.1:$HTTP" >"$TEST_TMP/agent.log" 2>&1 &
agent_PID=$!
bg_track "$agent_PID"
"$N4M" -v local-port -m "$URL?client_id=fc-lp" -i fc-lp -a "$AGENT" -l "127.0.0.1:$LP" >"$TEST_TMP/lp.log" 2>&1 &
lp_PID=$!
bg_track "$lp_PID"
"$N4M" -v local-port -k -m "$URL?client_id=fc-lk" -i fc-lk -a "$AGENT" -l "127.0.0.1:$LK" >"$TEST_TMP/lk.log" 2>&1 &
lk_PID=$!
bg_track "$lk_PID"
need "both local-ports listen" wait_for 10 bash -c \
	"ss -Htln 'sport = :$LP' | grep -q . && ss -Htln 'sport = :$LK' | grep -q ."
need "the agent is online" wait_status "$URL/$AGENT/-/v/-"
need "both locals have seen the agent's status" wait_for 10 bash -c \
	"grep -q 'peer $AGENT/- online' '$TEST_TMP/lp.log' && grep -q 'peer $AGENT/- online' '$TEST_TMP/lk.log'"

# get NAME PORT [curl options]: downloads the file through PORT in the background;
# the body in $TEST_TMP/NAME.bin, curl's rc in NAME.rc, its error text in NAME.err, pid in NAME_PID
get() {
	local name=$1 port=$2
	shift 2
	(
		curl -sS --max-time 120 "$@" -o "$TEST_TMP/$name.bin" "http://127.0.0.1:$port/big.bin" \
			2>"$TEST_TMP/$name.err" &
		echo $! >"$TEST_TMP/$name.pid"
		wait $!
		echo $? >"$TEST_TMP/$name.rc"
	) &
	bg_track "$!"
	wait_for 10 test -s "$TEST_TMP/$name.pid"
	printf -v "${name}_PID" '%s' "$(cat "$TEST_TMP/$name.pid")"
	bg_track "$(cat "$TEST_TMP/$name.pid")"
}
size_of() { stat -c %s "$TEST_TMP/$1.bin" 2>/dev/null || echo 0; }
has_bytes() { [ "$(size_of "$1")" -ge "$2" ]; }
ended() { [ -s "$TEST_TMP/$1.rc" ]; }
said() { echo "rc $(cat "$TEST_TMP/$1.rc" 2>/dev/null || echo none), $(size_of "$1") bytes, md5 $(md5sum <"$TEST_TMP/$1.bin" 2>/dev/null | cut -c1-12) $(head -c 160 "$TEST_TMP/$1.err" 2>/dev/null | tr '\n' ' ')"; }
intact() { [ "$(cat "$TEST_TMP/$1.rc" 2>/dev/null)" = 0 ] && [ "$(md5sum <"$TEST_TMP/$1.bin" | cut -d' ' -f1)" = "$SUM" ]; }

# The slow downloads first, one per mode; the fast ones once the slow ones are under way.
get slow_tcp "$LP" --limit-rate "$RATE"
get slow_kcp "$LK" --limit-rate "$RATE"
going() { has_bytes "slow_$1" $((5 << 20)) && ! ended "slow_$1"; }
going_or_ended() { has_bytes "slow_$1" $((5 << 20)) || ended "slow_$1"; }
wait_for 30 bash -c "$(declare -f size_of has_bytes ended going_or_ended); TEST_TMP='$TEST_TMP'
	going_or_ended tcp && going_or_ended kcp"
check "tcp: the slow download is under way, 5 MB in ($(said slow_tcp))" going tcp
check "kcp: the slow download is under way, 5 MB in ($(said slow_kcp))" going kcp
info "slow downloads under way: tcp $(size_of slow_tcp), kcp $(size_of slow_kcp) bytes"
# the slow readers stop reading: their flows are held back, the others must not be
kill -STOP "$slow_tcp_PID" "$slow_kcp_PID"
get fast_tcp "$LP"
get fast_kcp "$LK"

for mode in tcp kcp; do
	fast=fast_$mode slow=slow_$mode
	pidvar=${slow}_PID
	wait_for 100 ended "$fast"
	info "$mode: the fast download ended ($(said "$fast")); the stopped one has $(size_of "$slow") bytes"
	check "$mode: a second download of $SIZE_MB MB at full speed on the same local-port and agent arrives whole, md5 equal ($(said "$fast"))" \
		intact "$fast"
	check "$mode: ... while the first reader was stopped, $(size_of "$slow") of $((SIZE_MB << 20)) bytes in" \
		bash -c "kill -0 ${!pidvar} && ! [ -s '$TEST_TMP/$slow.rc' ] && [ $(size_of "$slow") -lt $((SIZE_MB << 20)) ]"
done
kill -CONT "$slow_tcp_PID" "$slow_kcp_PID"
for mode in tcp kcp; do
	slow=slow_$mode
	wait_for 100 ended "$slow"
	info "$mode: the slow download ended"
	check "$mode: curl --limit-rate $RATE of $SIZE_MB MB through local-port arrives whole, md5 equal ($(said "$slow"))" \
		intact "$slow"
done

for who in agent lp lk; do
	pidvar=${who}_PID
	echo "    $who $(stats "$who" "${!pidvar}" | grep -o 'stats:.*')"
	hwm=$(hwm_kb "${!pidvar}")
	check_rss "$who: peak RSS (VmHWM) under $((RSS_CAP_KB / 1024)) MB with a slow reader ($hwm kB)" "$hwm" "$RSS_CAP_KB"
done
check "the agent and both locals still run" all_running "$agent_PID" "$lp_PID" "$lk_PID"
finish
