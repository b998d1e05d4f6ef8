#!/usr/bin/env bash
# shellcheck disable=SC2154 # BROKER_* are set by start_broker in lib.sh
# What a user reads: `run -c` logs to stderr (no -f needed), and in a process of
# several roles every line of a role's work names the role; with JOURNAL_STREAM
# naming stderr (as systemd sets it for a unit) each line carries its <N> syslog
# priority instead of a time stamp; log-level = error keeps only errors; what
# stops a role is logged as ERROR and exits 1; the agent's failure line names the
# address and the reason.
set -u
source "$(dirname "$0")/../lib.sh"

start_broker || { fail "start mosquitto"; exit 1; }
LP=$(free_port)
DEAD=$(free_port) # nobody listens there: the agent's connect fails
CONF=$TEST_TMP/two.conf
printf '%s\n' "[net4mqtt]" "mqtt-url = $BROKER_URL_BASE/logging" "log-level = info" "status-listen = off" \
	"[agent]" "id = log-agent" "target = 127.0.0.1:$DEAD" \
	"[local-port web]" "agent-id = log-agent" "listen = 127.0.0.1:$LP" >"$CONF"

# run_until_up NAME [env...]: `run -c $CONF` in the background, stderr to NAME.err, until it listens
run_until_up() {
	local name=$1; shift
	env "$@" "$N4M" run -c "$CONF" 2>"$TEST_TMP/$name.err" >/dev/null &
	RUN_PID=$!
	bg_track "$RUN_PID"
	wait_for 10 port_listening "$LP" && wait_for 10 grep -q 'mqtt: connected' "$TEST_TMP/$name.err"
}
stop_run() {
	kill "$RUN_PID" 2>/dev/null
	wait_for 10 bash -c "! kill -0 $RUN_PID 2>/dev/null"
}

need "run -c without -f starts and logs to stderr" run_until_up plain
printf 'x' | timeout 5 nc -N 127.0.0.1 "$LP" >/dev/null 2>&1
failed_line() { grep -m1 'agent: flow [0-9]*: closed' "$TEST_TMP/$1.err"; }
check "the agent's failure line names the address and the reason: $(failed_line plain)" \
	wait_for 10 grep -q "agent: flow [0-9]*: closed: cannot connect to 127.0.0.1:$DEAD: Connection refused" "$TEST_TMP/plain.err"
stop_run
sed -n 's/^/    | /p' "$TEST_TMP/plain.err" | head -n 14
check "each line is 'HH:MM:SS.mmm LEVEL ...'" \
	bash -c "! grep -Evq '^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} (ERROR|WARN |INFO |DEBUG|TRACE) ' '$TEST_TMP/plain.err'"
check "the agent's lines name it: 'agent: broker ...', 'agent: id log-agent: ...'" \
	bash -c "grep -q ' INFO  agent: broker 127.0.0.1:$BROKER_PORT' '$TEST_TMP/plain.err' && grep -q ' INFO  agent: id log-agent: default target' '$TEST_TMP/plain.err'"
check "the local-port's lines name its section: 'local-port web: listening on tcp ...'" \
	grep -q " INFO  local-port web: listening on tcp 127.0.0.1:$LP" "$TEST_TMP/plain.err"
check "... and its flow's end: 'local-port web: flow N: closed: connection refused'" \
	grep -q " INFO  local-port web: flow [0-9]*: closed: connection refused" "$TEST_TMP/plain.err"
check "every line names a role or the process's shared part (mqtt, status, signal)" \
	bash -c "! grep -Ev ' (agent|local-port web|mqtt|status|signal [0-9]+): ' '$TEST_TMP/plain.err'"
check "the stop's statistics name each role" \
	bash -c "grep -q 'agent: stats: flows' '$TEST_TMP/plain.err' && grep -q 'local-port web: stats: flows' '$TEST_TMP/plain.err'"

# The journal: systemd sets JOURNAL_STREAM=DEV:INODE of the unit's stderr stream.
touch "$TEST_TMP/journal.err"
stream=$(stat -c '%d:%i' "$TEST_TMP/journal.err")
need "run -c with JOURNAL_STREAM naming its stderr starts" run_until_up journal "JOURNAL_STREAM=$stream"
stop_run
check "to the journal, each line starts with its <N> priority and no time: $(grep -m1 'broker' "$TEST_TMP/journal.err")" \
	bash -c "grep -q '^<6>INFO  agent: broker 127.0.0.1' '$TEST_TMP/journal.err' && grep -q '^<4>WARN  agent: no --allow' '$TEST_TMP/journal.err' && ! grep -Evq '^<[0-7]>' '$TEST_TMP/journal.err'"
need "with a JOURNAL_STREAM inherited from elsewhere it starts" run_until_up other "JOURNAL_STREAM=1:1"
stop_run
check "... the time-stamped lines stay: stderr is not the journal" \
	bash -c "grep -Eq '^[0-9:.]{12} INFO  agent: broker' '$TEST_TMP/other.err' && ! grep -q '^<' '$TEST_TMP/other.err'"

# log-level = error: the no --allow warning goes, an error that stops a role stays.
sed -i 's/^log-level = info/log-level = error/' "$CONF"
"$PY" -c 'import socket,time,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(30)' "$LP" &
bg_track $!
wait_for 10 port_listening "$LP"
timeout 10 "$N4M" run -c "$CONF" >/dev/null 2>"$TEST_TMP/busy.err"
rc=$?
sed 's/^/    | /' "$TEST_TMP/busy.err"
check "a busy listen port stops run -c with exit 1 (rc $rc)" test "$rc" -eq 1
check "... logged as ERROR, naming the role and the address: $(head -n1 "$TEST_TMP/busy.err")" \
	grep -Eq "ERROR local-port web: cannot listen on 127.0.0.1:$LP: Address already in use" "$TEST_TMP/busy.err"
check "... and log-level = error shows no warning" bash -c "! grep -q 'WARN' '$TEST_TMP/busy.err'"

# A single-role command names its role on every line too, the shared ones included.
n4m single agent -m "$BROKER_URL_BASE/logging" -i single-agent
check "a single-role command's lines all name it: 'agent: mqtt: connected ...'" \
	wait_for 10 grep -q ' INFO  agent: mqtt: connected to 127.0.0.1' "$TEST_TMP/single.log"

finish
