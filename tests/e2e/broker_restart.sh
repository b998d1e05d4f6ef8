#!/usr/bin/env bash
# The broker goes away under an open flow and comes back on the same port:
# the open connection ends (error or EOF, never a hang), both net4mqtt
# processes reconnect (taking the wills the stopping broker sends them for what
# they are), new flows carry data, the agent's retained status is back, and a
# clean SIGTERM leaves the retained offline status "{}".
set -u
source "$(dirname "$0")/../lib.sh"
TOOL=$(cd "$(dirname "$0")" && pwd)/helpers/nettool.py
PREFIX=e2e/broker-restart
AGENT=restart-agent
LOCAL=restart-local

# stats NAME PID: a fresh stats line (SIGUSR1), printed on stdout.
connects() { grep -c 'mqtt: connected to' "$TEST_TMP/$1.log"; }
retained_status() { # topic -> the retained payload, or nothing within 5 s
	timeout 10 mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -t "$1" -C 1 -W 5 2>/dev/null
}
established_to() { ss -Htn state established "( dport = :$1 )" | grep -c .; }

start_broker || { fail "mosquitto starts"; exit 1; }
BP=$BROKER_PORT
URL="$BROKER_URL_BASE/$PREFIX"
ECHO=$(free_port)
LP=$(free_port)
$PY "$TOOL" echo-tcp "$ECHO" >"$TEST_TMP/echo.log" 2>&1 &
bg_track $!
wait_for 10 port_listening "$ECHO" || { fail "echo server starts"; exit 1; }

n4m agent agent -m "$URL?client_id=$AGENT" -i "$AGENT" -t "127.0.0.1:$ECHO"
n4m local local-port -m "$URL?client_id=$LOCAL" -i "$LOCAL" -a "$AGENT" -l "127.0.0.1:$LP"
check "local-port listens" wait_for 10 port_listening "$LP"
check "agent publishes its retained online status" \
	wait_status "$BROKER_URL_BASE/$PREFIX/$AGENT/-/v/-"
wait_for 10 bash -c "[ \$(grep -c 'mqtt: connected to' '$TEST_TMP/local.log') -ge 1 ]"

# A long-lived flow: one echo round, then the client waits on the open connection.
timeout 60 $PY "$TOOL" hold "$LP" >"$TEST_TMP/hold.out" 2>&1 &
HOLD_PID=$!
bg_track "$HOLD_PID"
check "a long-lived flow is open (one echo round done)" wait_for 15 grep -q '^up' "$TEST_TMP/hold.out"
# A busy flow: 30 KB echo rounds back to back, until the broker goes.
timeout 90 $PY "$TOOL" rounds "$LP" 30000 "$TEST_TMP/stop" "$TEST_TMP/progress" >"$TEST_TMP/rounds.out" 2>&1 &
ROUNDS_PID=$!
bg_track "$ROUNDS_PID"
check "a busy flow is transferring" wait_for 15 bash -c "[ \$(cat '$TEST_TMP/progress' 2>/dev/null || echo 0) -ge 10 ]"
conns_to_echo_at_least() { [ "$(established_to "$ECHO")" -ge "$1" ]; }
check "the agent holds connections to the destination" wait_for 5 conns_to_echo_at_least 2

# The broker dies.
stop_broker
if wait_for 20 grep -q '^ended' "$TEST_TMP/hold.out"; then
	pass "the open client connection ends once the broker is gone ($(grep '^ended' "$TEST_TMP/hold.out"))"
else
	fail "the open client connection ends once the broker is gone (still open after 20 s: a hang)"
fi
check "the client saw an error or EOF, not data" grep -Eq '^ended: (error|eof)' "$TEST_TMP/hold.out"
if wait_for 40 bash -c "! kill -0 $ROUNDS_PID 2>/dev/null"; then
	res=$(grep '^rounds' "$TEST_TMP/rounds.out")
	# every round was checked byte-exact; the one cut short must end in EOF or reset, not a timeout or wrong bytes
	check "the busy flow ends with an error or EOF, no wrong bytes ($res)" \
		grep -Eq '^rounds FAIL after [0-9]+: (EOFError|ConnectionResetError|BrokenPipeError)' <<<"$res"
else
	fail "the busy flow ends once the broker is gone (still running after 40 s)"
fi
check "the agent closed its connection to the destination" \
	wait_for 20 bash -c "[ \$(ss -Htn state established '( dport = :$ECHO )' | grep -c .) -eq 0 ]"
check "both processes log the lost broker" \
	wait_for 10 bash -c "grep -q 'mqtt: lost connection' '$TEST_TMP/agent.log' &&
		grep -q 'mqtt: lost connection' '$TEST_TMP/local.log'"
# A stopping mosquitto publishes its clients' wills, each to its own owner too:
# that is not another process with our id, and libevent has nothing to say.
check "neither takes its own will for another process with its id" \
	bash -c "! grep -h 'another process with id' '$TEST_TMP/agent.log' '$TEST_TMP/local.log'"
check "no line of libevent's own (a socket event left on a closed descriptor)" \
	bash -c "! grep -h '^\[warn\]' '$TEST_TMP/agent.log' '$TEST_TMP/local.log'"

# While the broker is away a new client is turned away at once, not left hanging.
refused=$(timeout 20 $PY "$TOOL" echo-once "$LP" 100 2>&1)
if [ $? -ne 124 ] && grep -q 'echo FAIL' <<<"$refused"; then
	pass "a new connection without a broker fails fast (${refused#echo FAIL: })"
else
	fail "a new connection without a broker fails fast (saw: ${refused:-a hang})"
fi
check "both processes stay up while the broker is away" all_running "$agent_PID" "$local_PID"

# The broker comes back on the same port.
start_broker "$BP" || { fail "mosquitto restarts on port $BP"; exit 1; }
check "the agent reconnects (its log says connected twice)" \
	wait_for 30 bash -c "[ \$(grep -c 'mqtt: connected to' '$TEST_TMP/agent.log') -ge 2 ]"
check "the local reconnects (its log says connected twice)" \
	wait_for 30 bash -c "[ \$(grep -c 'mqtt: connected to' '$TEST_TMP/local.log') -ge 2 ]"
for who in agent local; do
	pidvar=${who}_PID
	line=$(stats "$who" "${!pidvar}")
	n=$(stat_field "$line" reconnects)
	check "$who stats count one mqtt reconnect (saw '${n:-no stats line}')" test "${n:-x}" = 1
done
check "the agent's retained online status is back" \
	wait_for 10 bash -c "timeout 6 mosquitto_sub -h 127.0.0.1 -p $BP -t '$PREFIX/$AGENT/-/v/-' -C 1 -W 5 2>/dev/null | grep -q '\"online\":true'"
check "the local's retained online status is back" \
	wait_for 10 bash -c "timeout 6 mosquitto_sub -h 127.0.0.1 -p $BP -t '$PREFIX/-/$LOCAL/v/-' -C 1 -W 5 2>/dev/null | grep -q '\"online\":true'"

res=$(timeout 60 $PY "$TOOL" echo-once "$LP" 300000 2>&1)
check "a new flow after the restart carries 300 KB byte-exact ($res)" test "$res" = "echo ok"
res=$(timeout 60 $PY "$TOOL" concurrent "$LP" 20 1000 20000 2>&1)
check "20 more flows after the restart are byte-exact (${res%%$'\n'*})" grep -q ' 20 ok, 0 failed' <<<"$res"

# A clean stop of the agent leaves "{}" retained on its status topic.
kill -TERM "$agent_PID"
wait_for 15 bash -c "! kill -0 $agent_PID 2>/dev/null"
wait "$agent_PID"
rc=$?
check "the agent exits cleanly on SIGTERM (exit status $rc)" test "$rc" -eq 0
st=$(retained_status "$PREFIX/$AGENT/-/v/-")
check "after SIGTERM the agent's retained status is {} (saw '$st')" test "$st" = "{}"
check "the local notices the agent went offline" \
	wait_for 10 grep -q "peer $AGENT/- went offline" "$TEST_TMP/local.log"
check "the local is still running" all_running "$local_PID"

# A local that dies without a word: the broker publishes its will, "{}", retained.
{ kill -KILL "$local_PID" && wait "$local_PID"; } 2>/dev/null # no "Killed" notice from bash
check "after SIGKILL the local's retained status is its will {}" \
	wait_for 10 bash -c "[ \"\$(timeout 6 mosquitto_sub -h 127.0.0.1 -p $BP -t '$PREFIX/-/$LOCAL/v/-' -C 1 -W 5 2>/dev/null)\" = '{}' ]"

finish
