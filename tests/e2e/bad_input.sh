#!/usr/bin/env bash
# Malformed and hostile MQTT messages (tcp, udp, our icmp) on the agent's and the local's topics,
# while a flow is transferring: both processes survive, the running flow stays
# byte-exact, new flows work, and the drops are counted (SIGUSR1 stats).
set -u
source "$(dirname "$0")/../lib.sh"
TOOL=$(cd "$(dirname "$0")" && pwd)/helpers/nettool.py
PREFIX=e2e/bad-input
AGENT=bad-agent
LOCAL=bad-local
COUNT=3000 # messages of the quick stream, on top of the hand-made ones

progress() { cat "$TEST_TMP/progress" 2>/dev/null || echo 0; }
progress_over() { [ "$(progress)" -gt "$1" ]; }

start_broker || { fail "mosquitto starts"; exit 1; }
URL="$BROKER_URL_BASE/$PREFIX"
ECHO=$(free_port)
LP=$(free_port)
CLOSED=$(free_port) # nobody listens here
$PY "$TOOL" echo-tcp "$ECHO" >"$TEST_TMP/echo.log" 2>&1 &
bg_track $!
wait_for 10 port_listening "$ECHO" || { fail "echo server starts"; exit 1; }

n4m agent agent -m "$URL?client_id=$AGENT" -i "$AGENT" -t "127.0.0.1:$ECHO"
n4m local local-port -m "$URL?client_id=$LOCAL" -i "$LOCAL" -a "$AGENT" -l "127.0.0.1:$LP"
check "local-port listens" wait_for 10 port_listening "$LP"
check "agent is online" wait_status "$BROKER_URL_BASE/$PREFIX/$AGENT/-/v/-"
check "the local has seen the agent's status" wait_for 10 grep -q "peer $AGENT/- online" "$TEST_TMP/local.log"

# The running flow: 30 KB request/echo rounds until told to stop.
timeout 120 $PY "$TOOL" rounds "$LP" 30000 "$TEST_TMP/stop" "$TEST_TMP/progress" >"$TEST_TMP/rounds.out" 2>&1 &
ROUNDS_PID=$!
bg_track "$ROUNDS_PID"
check "a flow is transferring (rounds under way)" wait_for 20 progress_over 9
live_port=$(sed -n 's/^port //p' "$TEST_TMP/rounds.out")

# The barrage.
before=$(progress)
timeout 90 $PY "$TOOL" barrage 127.0.0.1 "$BROKER_PORT" "$PREFIX" "$AGENT" "$LOCAL" "$CLOSED" "$COUNT" \
	"127.0.0.1:$live_port" >"$TEST_TMP/barrage.out" 2>&1
check "the barrage was published ($(head -n 1 "$TEST_TMP/barrage.out"))" grep -q '^barrage: .* published' "$TEST_TMP/barrage.out"
during=$(($(progress) - before))
echo "    $during rounds ran while the barrage was published"
check "the agent answers a junk flow to a closed port with an empty payload (fail fast)" \
	grep -q '^closed-port flow answered: 0-byte payload' "$TEST_TMP/barrage.out"

# The running flow goes on after it, then stops cleanly.
after=$(progress)
check "the running flow keeps transferring after the barrage" wait_for 30 progress_over $((after + 9))
touch "$TEST_TMP/stop"
wait_for 40 bash -c "! kill -0 $ROUNDS_PID 2>/dev/null"
wait "$ROUNDS_PID"
rc=$?
res=$(grep '^rounds' "$TEST_TMP/rounds.out")
check "the running flow finished all its rounds byte-exact ($res)" bash -c "[ $rc -eq 0 ] && grep -q '^rounds ok' <<<'$res'"

check "the agent is still running" all_running "$agent_PID"
check "the local is still running" all_running "$local_PID"
res=$(timeout 30 $PY "$TOOL" echo-once "$LP" 100000 2>&1)
check "a new flow works after the barrage ($res)" test "$res" = "echo ok"
res=$(timeout 60 $PY "$TOOL" concurrent "$LP" 20 1000 20000 2>&1)
check "20 more new flows are byte-exact (${res%%$'\n'*})" grep -q ' 20 ok, 0 failed' <<<"$res"

for who in agent local; do
	pidvar=${who}_PID
	line=$(stats "$who" "${!pidvar}")
	echo "    $who ${line#* stats: }"
	for field in bad_topic bad_payload unknown_flow; do
		v=$(stat_field "$line" "$field")
		check "$who counts $field > 0 (saw '${v:-no stats line}')" test "${v:-0}" -gt 0
	done
done
for who in agent local; do
	check "$who log has no crash or assertion" bash -c "! grep -Eiq 'assert|segfault|sanitizer|abort' '$TEST_TMP/$who.log'"
done

finish
