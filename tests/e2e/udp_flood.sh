#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set in this script
# 10,000 idle UDP flows expire on time: one datagram from each of 10,000
# distinct client source ports through local-port -u and an agent, both with
# --udp-timeout 3. Checks: every datagram is echoed back to its own socket;
# the local and the agent each opened 10,000 flows and held them at once;
# both flow tables are empty within the timeout + 10 s, with no UDP socket
# left at the agent; the RSS of both stays under a ceiling; a second flood
# from the same ports (new flows after expiry) works the same and reuses the
# memory (the peak RSS hardly moves); afterwards new datagrams still get replies.
# run alone: "both hold nearly all flows right after the flood" needs the flood to
# take less than the 3 s timeout, which a script beside it makes it miss (a SKIP)
set -u
source "$(dirname "$0")/../lib.sh"
HELPERS=$(cd "$(dirname "$0")" && pwd)/helpers
TOOL=$HELPERS/nettool.py
FLOW=$HELPERS/flowtool.py
PREFIX=e2e/udp-flood-$$
AGENT=flood-agent-$$
LOCAL=flood-local-$$
N=10000
BATCH=100 # sockets at a time: well inside the local's default socket receive buffer
# the flood's source ports are tried upwards from here: this script's share of the
# test ports (tests/run.sh gives each worker its own), which no script beside it picks
FIRST_PORT=$N4M_PORT_BASE
TIMEOUT=3
RSS_CAP_KB=$((96 * 1024)) # about 40 MB measured; 64 KiB per flow would be 640 MB

# every flow of the agent is a socket of its own
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((N + 500)) ]; then
	skip "udp_flood: needs $((N + 500)) open files, the hard limit is $(ulimit -Hn)"
	exit 0
fi

flows_open() { stat_field "$(stats "$1" "$2")" "flows open"; }
flows_open_is() { [ "$(flows_open "$1" "$2")" = "$3" ]; }
MAX_AGENT_KB=0 MAX_LOCAL_KB=0
sample_rss() {
	local a l
	a=$(rss_kb "$agent_PID") l=$(rss_kb "$local_PID")
	[ "${a:-0}" -gt "$MAX_AGENT_KB" ] && MAX_AGENT_KB=$a
	[ "${l:-0}" -gt "$MAX_LOCAL_KB" ] && MAX_LOCAL_KB=$l
	return 0
}
# both_empty: samples RSS, then whether both flow tables are empty
both_empty() { sample_rss && flows_open_is agent "$agent_PID" 0 && flows_open_is local "$local_PID" 0; }

start_broker || { fail "mosquitto starts"; exit 1; }
URL="$BROKER_URL_BASE/$PREFIX"
ECHO=$(free_port)
LP=$(free_port)
$PY "$TOOL" echo-udp "$ECHO" >"$TEST_TMP/echo.log" 2>&1 &
bg_track $!
need "UDP echo server starts" wait_for 10 udp_bound "$ECHO"

# -v: a debug line per flow would dwarf what is measured
"$N4M" -v agent -m "$URL?client_id=$AGENT" -i "$AGENT" -t "127.0.0.1:$ECHO" --udp-timeout "$TIMEOUT" \
	>"$TEST_TMP/agent.log" 2>&1 &
agent_PID=$!
bg_track "$agent_PID"
"$N4M" -v local-port -u -m "$URL?client_id=$LOCAL" -i "$LOCAL" -a "$AGENT" -l "127.0.0.1:$LP" --udp-timeout "$TIMEOUT" \
	>"$TEST_TMP/local.log" 2>&1 &
local_PID=$!
bg_track "$local_PID"
need "local-port -u is bound" wait_for 10 udp_bound "$LP"
need "the agent is online" wait_status "$URL/$AGENT/-/v/-"
need "the local has seen the agent's status" wait_for 10 grep -q "peer $AGENT/- online" "$TEST_TMP/local.log"
echo "    RSS before: agent $(rss_kb "$agent_PID") kB, local $(rss_kb "$local_PID") kB"

# flood ROUND: N flows, checks, then waits until both flow tables are empty
flood() {
	local round=$1 start res flood_secs aline lline a_opened l_opened a_open l_open closed
	start=$SECONDS
	res=$(timeout 120 $PY "$FLOW" udp-flood "$LP" "$N" "$BATCH" "$FIRST_PORT" 2>&1)
	flood_secs=$((SECONDS - start))
	sample_rss
	aline=$(stats agent "$agent_PID")
	lline=$(stats local "$local_PID")
	echo "    agent ${aline#* stats: }"
	echo "    local ${lline#* stats: }"
	check "$round: $N datagrams from $N distinct source ports, each echoed to its own socket ($res)" \
		grep -q "^udp-flood: $N sent from $N ports in .*, $N replied, 0 wrong" <<<"$res"
	a_opened=$(stat_field "$aline" opened)
	l_opened=$(stat_field "$lline" opened)
	check "$round: the local opened a flow per source port ($l_opened, want $((N * ${round#round })))" \
		test "${l_opened:-0}" -eq $((N * ${round#round }))
	check "$round: the agent opened a flow per source port ($a_opened, want $((N * ${round#round })))" \
		test "${a_opened:-0}" -eq $((N * ${round#round }))
	a_open=$(stat_field "$aline" "flows open")
	l_open=$(stat_field "$lline" "flows open")
	if [ "$flood_secs" -lt "$TIMEOUT" ]; then
		# flows sent more than TIMEOUT s ago may have expired already: at most a third of them
		check "$round: right after the flood both hold (nearly) all flows at once: local $l_open, agent $a_open of $N" \
			test "${l_open:-0}" -ge $((N * 2 / 3)) -a "${a_open:-0}" -ge $((N * 2 / 3))
	else
		skip "$round: the flood took $flood_secs s, longer than the $TIMEOUT s timeout: flows open right after it (local $l_open, agent $a_open) says nothing"
	fi
	check "$round: both flow tables are empty (flows open 0) within $((TIMEOUT + 10)) s" \
		wait_for $((TIMEOUT + 10)) both_empty
	check "$round: the agent has no UDP socket left toward the echo server" bash -c "! ss -Hun 'dport = :$ECHO' | grep -q ."
	closed=$(stat_field "$(stats agent "$agent_PID")" closed)
	check "$round: the agent counts every flow closed ($closed of $((N * ${round#round })))" \
		test "${closed:-0}" -ge $((N * ${round#round }))
	echo "    max RSS sampled: agent $MAX_AGENT_KB kB, local $MAX_LOCAL_KB kB; now: agent $(rss_kb "$agent_PID") kB, local $(rss_kb "$local_PID") kB"
}

flood "round 1"
ahwm=$(hwm_kb "$agent_PID") lhwm=$(hwm_kb "$local_PID")
check_rss "agent peak RSS (VmHWM) under $((RSS_CAP_KB / 1024)) MB with $N flows ($ahwm kB)" "$ahwm" "$RSS_CAP_KB"
check_rss "local peak RSS (VmHWM) under $((RSS_CAP_KB / 1024)) MB with $N flows ($lhwm kB)" "$lhwm" "$RSS_CAP_KB"

flood "round 2"
ahwm2=$(hwm_kb "$agent_PID") lhwm2=$(hwm_kb "$local_PID")
# the second round's flows take the memory the first round's gave back: allow 10% + 2 MB
check_rss "round 2 reuses the memory: agent peak RSS $ahwm -> $ahwm2 kB" "$ahwm2" $((ahwm * 11 / 10 + 2048))
check_rss "round 2 reuses the memory: local peak RSS $lhwm -> $lhwm2 kB" "$lhwm2" $((lhwm * 11 / 10 + 2048))

res=$(timeout 40 $PY "$TOOL" udp-once "$LP" "$FIRST_PORT" 2>&1)
check "after expiry, a datagram from the source port of an expired flow ($FIRST_PORT) gets its reply ($res)" \
	test "$res" = "udp-once: reply ok"
res=$(timeout 60 $PY "$TOOL" udp-many "$LP" 50 2>&1)
check "after expiry, 50 new client sockets get their replies ($res)" test "$res" = "udp: 50 of 50 replied, 0 wrong"
check "the agent and the local still run" all_running "$agent_PID" "$local_PID"
finish
