#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m
# Agent pools: a local-port with -a A1,A2,A3. 90 held connections spread over
# all three agents; kill -9 of one member: exactly its connections fail, the
# others echo on, and 100 new connections right after all succeed (they go to
# the two left); the member back online gets new connections again. The pool
# and its members' states show in /status and /metrics.
set -u
source "$(dirname "$0")/../lib.sh"
TOOL=$(cd "$(dirname "$0")" && pwd)/helpers/nettool.py
POOL=$(cd "$(dirname "$0")" && pwd)/helpers/pooltool.py
PREFIX=e2e/pool-$$
A1=pa1-$$ A2=pa2-$$ A3=pa3-$$
LOCAL=pl-$$

start_broker || { fail "mosquitto starts"; exit 1; }
URL="$BROKER_URL_BASE/$PREFIX"
ECHO=$(free_port)
LP=$(free_port)
STATUS_PORT=$(free_port)
$PY "$TOOL" echo-tcp "$ECHO" >"$TEST_TMP/echo.log" 2>&1 &
bg_track $!
need "the echo server listens" wait_for 10 port_listening "$ECHO"

start_agent() { # NAME ID
	n4m "$1" agent -m "$URL?client_id=$2" -i "$2" -t "127.0.0.1:$ECHO"
	wait_status "$BROKER_URL_BASE/$PREFIX/$2/-/v/-"
}
for i in 1 2 3; do
	id_var=A$i
	need "agent ${!id_var} is online" start_agent "agent$i" "${!id_var}"
done
n4m local local-port -m "$URL?client_id=$LOCAL" -i "$LOCAL" -a "$A1,$A2,$A3" -l "127.0.0.1:$LP" \
	--status-listen "127.0.0.1:$STATUS_PORT"
need "the local-port listens" wait_for 10 port_listening "$LP"
seen_all() { [ "$(grep -cE "peer ($A1|$A2|$A3)/- online" "$TEST_TMP/local.log")" -ge 3 ]; }
need "the local has seen all three members online" wait_for 10 seen_all

opened() { stat_field "$(stats "$1" "$2")" opened; }
flows_open() { stat_field "$(stats "$1" "$2")" "flows open"; }

# 1. 90 connections held open, spread over the three.
timeout 120 $PY "$POOL" hold 127.0.0.1 "$LP" 90 "$TEST_TMP/ready" "$TEST_TMP/go" >"$TEST_TMP/hold.out" 2>&1 &
HOLD_PID=$!
bg_track $HOLD_PID
need "90 connections opened and echoed once" wait_for 60 test -s "$TEST_TMP/ready"
check "all 90 echoed ($(cat "$TEST_TMP/ready"))" test "$(cat "$TEST_TMP/ready")" = 90
o1=$(flows_open agent1 "$agent1_PID") o2=$(flows_open agent2 "$agent2_PID") o3=$(flows_open agent3 "$agent3_PID")
check "the 90 flows are spread over all three agents ($o1 + $o2 + $o3)" \
	test "${o1:-0}" -gt 0 -a "${o2:-0}" -gt 0 -a "${o3:-0}" -gt 0 -a $((o1 + o2 + o3)) -eq 90

member_metric() { # AGENT: its pool_member_online value
	curl -s -m 5 "http://127.0.0.1:$STATUS_PORT/metrics" |
		sed -n "s/^net4mqtt_pool_member_online{role=\"local-port\",pool=\"$A1,$A2,$A3\",agent=\"$1\"} //p"
}
check "/metrics shows the pool's members online ($(member_metric "$A1") $(member_metric "$A2") $(member_metric "$A3"))" \
	test "$(member_metric "$A1") $(member_metric "$A2") $(member_metric "$A3")" = "1 1 1"
status=$(curl -s -m 5 "http://127.0.0.1:$STATUS_PORT/status")
check "/status lists the pool and its members" \
	grep -qF "\"pools\":[{\"pool\":\"$A1,$A2,$A3\",\"members\":[{\"id\":\"$A1\",\"online\":true}" <<<"$status"

check "net4mqtt status lists the pool and its members' states" \
	grep -qF "$A1,$A2,$A3: $A1 (online) $A2 (online) $A3 (online)" <<<"$(curl -s -m 5 "http://127.0.0.1:$STATUS_PORT/status.txt")"

# 2. kill -9 one member: exactly its flows fail.
kill -9 "$agent2_PID"
gone() { grep -q "peer $A2/- went offline" "$TEST_TMP/local.log"; }
check "the local hears $A2's last will" wait_for 10 gone
t0=$SECONDS
res=$(timeout 60 $PY "$POOL" burst 127.0.0.1 "$LP" 100 2>&1)
check "100 new connections right after all succeed ($res, $((SECONDS - t0)) s)" test "$res" = "burst: 100 ok, 0 failed"
touch "$TEST_TMP/go"
wait_for 60 bash -c "! kill -0 $HOLD_PID 2>/dev/null"
res=$(cat "$TEST_TMP/hold.out")
check "of the 90 held, exactly $A2's $o2 failed ($res)" test "$res" = "hold: $((90 - o2)) ok, $o2 failed"
check "/metrics shows $A2 offline ($(member_metric "$A2"))" test "$(member_metric "$A2")" = 0

# 3. The member comes back and gets new flows again.
need "agent $A2 is back online" start_agent agent2b "$A2"
back() { [ "$(grep -c "peer $A2/- online" "$TEST_TMP/local.log")" -ge 2 ]; }
check "the local sees it online again" wait_for 10 back
res=$(timeout 60 $PY "$POOL" burst 127.0.0.1 "$LP" 60 2>&1)
check "60 more connections succeed ($res)" test "$res" = "burst: 60 ok, 0 failed"
n2=$(opened agent2b "$agent2b_PID")
check "the member back online served some of them (opened ${n2:-?})" test "${n2:-0}" -gt 0
check "the local and the agents are still running" all_running "$local_PID" "$agent1_PID" "$agent3_PID" "$agent2b_PID"
finish
