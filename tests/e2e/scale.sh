#!/usr/bin/env bash
# shellcheck disable=SC2154 # BROKER_* are set by start_broker in lib.sh
# 100 agent/local pairs on ONE mosquitto as shipped (tests/scale-lib.sh: `net4mqtt
# run -c` processes of 16 [agent] or 16 [local-port] sections each, every agent
# with its own id and an echo server as its default target). Through each pair's
# own local port, two connections of 64 KiB of a pattern seeded by the pair: all
# echoed byte-exact (tests/bench/scale_pairs). Afterwards every flow has ended
# (/status: flows_open summed over the
# processes is 0, and the agents opened as many flows as the locals, at least 2 per
# pair) and every process runs.
set -u
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../scale-lib.sh"

N=${SCALE_N:-100}
start_broker || { fail "mosquitto starts"; exit 1; }
need "scale_pairs is built ($SCALE_TOOL)" test -x "$SCALE_TOOL"
start=$SECONDS
if ! scale_up "$N"; then
	fail "$N pairs up: every local port listens, every local process sees its agents online"
	echo "    exited: $(for p in "${SCALE_PIDS[@]}"; do kill -0 "$p" 2>/dev/null || printf '%s ' "$p"; done)"
	echo "    /status: $(cat "$TEST_TMP/scale-online.out" 2>/dev/null)"
	grep -h -E ' (WARN|ERROR) ' "$TEST_TMP"/scale-[al]*.log | grep -v 'no --allow' | head -n 5 | sed 's/^/    /'
	exit 1
fi
pass "$N pairs up: every local port listens, every local process sees its agents online"
echo "    up in $((SECONDS - start)) s: ${#SCALE_APIDS[@]} agent and ${#SCALE_LPIDS[@]} local processes"
conns() { ss -Htn state established "( dport = :$BROKER_PORT )" | grep -c .; }
check "one MQTT connection per process ($(conns) for ${#SCALE_PIDS[@]})" test "$(conns)" -eq "${#SCALE_PIDS[@]}"

timeout 120 "$SCALE_TOOL" run -b "$SCALE_BASE" -n "$N" -c 2 -s 65536 -t 90 -v >"$TEST_TMP/scale.out" 2>&1
rc=$?
summary=$(grep '^scale:' "$TEST_TMP/scale.out")
if [ $rc -eq 0 ] && grep -q "^scale: pairs=$N ok=$N failed=0 " <<<"$summary"; then
	pass "all $N pairs' data intact, 2 x 64 KiB each ($summary)"
else
	fail "all $N pairs' data intact (exit $rc: ${summary:-no result})"
	grep FAIL "$TEST_TMP/scale.out" | head -n 10 | sed 's/^/    /'
fi
# flows_open and flows_opened of /status, summed over the agent or the local processes
open_is_0() { [ "$(scale_flows "$1" | cut -d' ' -f1)" = 0 ]; }
for side in l a; do
	check "every flow has ended in the $side processes: flows open summed is 0 (open, opened now: $(scale_flows $side))" \
		wait_for 30 open_is_0 $side
done
# each connection is one flow on each side; a stray connection to one of the 100 ports
# (once in a CI run, 201 on both sides) is one more on both, not a flow opened twice
l_opened=$(scale_flows l | cut -d' ' -f2) a_opened=$(scale_flows a | cut -d' ' -f2)
check "the agents opened as many flows as the locals, at least $((2 * N)) ($a_opened, $l_opened)" \
	test "${a_opened:-0}" -eq "${l_opened:-1}" -a "${l_opened:-0}" -ge $((2 * N))
check "every process still running" scale_running
for f in "$TEST_TMP"/scale-[al]*.log; do
	grep -E ' WARN | ERROR ' "$f" | head -n 3 | sed "s|^|    $(basename "$f"): |"
done
finish
