#!/usr/bin/env bash
# shellcheck disable=SC2154 # BROKER_* are set by start_broker in lib.sh
# Out of descriptors: a `run -c` process with an agent and 15 local-port sections
# (16 roles, the most a process takes) has its open-file limit lowered to a few
# above what it uses. Clients then crowd the last section's port: accept fails with
# EMFILE. That listener pauses for a second at a time and says so at most once a
# second, naming its section and address (an unguarded libevent listener retries at
# once, forever, as the 17th listener of a process did when the guard had a table
# of 16: a gateway's four beside 14 local-ports). Once the clients leave, it
# accepts again and a download through it is whole; so is one through the first.
# An agent alone with no descriptor free ends each flow it cannot open, saying
# "Too many open files", and serves again once it has descriptors.
set -u
source "$(dirname "$0")/../lib.sh"

SECTIONS=15
start_broker || { fail "start mosquitto"; exit 1; }
mkdir -p "$TEST_TMP/www"
head -c $((256 << 10)) /dev/urandom >"$TEST_TMP/www/file.bin"
HTTP=$(free_port)
(cd "$TEST_TMP/www" && exec "$PY" -m http.server --bind 127.0.0.1 "$HTTP") >"$TEST_TMP/http.log" 2>&1 &
bg_track $!

CONF=$TEST_TMP/fd.conf
PORTS=()
{
	printf '%s\n' "[net4mqtt]" "mqtt-url = $BROKER_URL_BASE/e2e/fd" "status-listen = off" \
		"[agent]" "id = fd-agent-$$" "target = 127.0.0.1:$HTTP"
	for i in $(seq "$SECTIONS"); do
		PORTS+=("$(free_port)")
		printf '%s\n' "[local-port lp$i]" "agent-id = fd-agent-$$" "listen = 127.0.0.1:${PORTS[-1]}"
	done
} >"$CONF"
FIRST=${PORTS[0]} LAST=${PORTS[-1]}
n4m run run -c "$CONF" -f
need "every section listens" wait_for 20 port_listening "$LAST"
need "the process is connected" wait_for 10 grep -q 'mqtt: connected' "$TEST_TMP/run.log"
download() { curl -s -m 20 -o "$TEST_TMP/$2" "http://127.0.0.1:$1/file.bin" && cmp -s "$TEST_TMP/$2" "$TEST_TMP/www/file.bin"; }
need "a download through the last section works" download "$LAST" before.bin

used=$(find "/proc/$run_PID/fd" -mindepth 1 -maxdepth 1 | wc -l)
limit=$((used + 6))
need "the open-file limit is lowered to $limit ($used in use)" prlimit --pid "$run_PID" --nofile="$limit:$limit"

# 40 clients connect to the last section and hold on: the kernel queues what the
# process can no longer accept (ten more than its 6 free descriptors are enough)
exec 3> >("$PY" -c '
import socket, sys
held = []
for _ in range(40):
    try:
        held.append(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2))
    except OSError as e:
        print("connect:", e, flush=True)
print("held", len(held), flush=True)
sys.stdin.read()
' "$LAST" >"$TEST_TMP/hold.out" 2>&1)
wait_for 90 grep -q '^held' "$TEST_TMP/hold.out"
held=$(sed -n 's/^held //p' "$TEST_TMP/hold.out")
if [ "${held:-0}" -lt 16 ]; then # what the runner shows of a failed script: its last lines
	sed 's/^/hold: /' "$TEST_TMP/hold.out"
	tail -n 12 "$TEST_TMP/run.log" | sed 's/^/run.log: /'
	kill -0 "$run_PID" 2>/dev/null || echo "the run -c process has exited"
fi
need "clients are connected to the last section (${held:-none} of 40: $(grep -v '^held' "$TEST_TMP/hold.out" | sort | uniq -c | head -3 | tr -s ' \n' ' '))" \
	test "${held:-0}" -ge 16
pause_line="lp$SECTIONS: accept on 127.0.0.1:$LAST: Too many open files: not accepting for a second"
check "the last section says it is out of descriptors, naming itself and its address" \
	wait_for 10 grep -qF "$pause_line" "$TEST_TMP/run.log"
t0=$SECONDS
lines0=$(grep -cF "accept on" "$TEST_TMP/run.log")
wait_for 3 bash -c "[ \$(grep -cF 'accept on' '$TEST_TMP/run.log') -gt $((lines0 + 1)) ]" # two more pauses
secs=$((SECONDS - t0 + 1))
lines=$(($(grep -cF "accept on" "$TEST_TMP/run.log") - lines0))
check "... at most once a second ($lines lines in about $secs s)" test "$lines" -le "$((secs + 1))"
check "... and nothing else floods the log ($(wc -l <"$TEST_TMP/run.log") lines)" \
	test "$(wc -l <"$TEST_TMP/run.log")" -lt 2000

exec 3>&- # the clients leave
check "once they have left, the last section accepts again: a download through it is whole" \
	wait_for 30 download "$LAST" after.bin
check "... and through the first section" download "$FIRST" first.bin
check "the process is still running" kill -0 "$run_PID"

# An agent alone with no descriptor to spare (its limit set to what it uses): a flow
# it cannot open ends at once, saying why, and the client sees its connection end;
# with descriptors again, the next download is whole.
LONE=fd-lone-$$ LP=$(free_port)
n4m lone agent -m "$BROKER_URL_BASE/e2e/fd-lone?client_id=$LONE" -i "$LONE" -t "127.0.0.1:$HTTP"
n4m lonelp local-port -m "$BROKER_URL_BASE/e2e/fd-lone?client_id=$LONE-lp" -i "$LONE-lp" -a "$LONE" \
	-l "127.0.0.1:$LP"
need "a lone agent and its local-port are up" wait_for 20 port_listening "$LP"
need "a download through them works" wait_for 10 download "$LP" lone-before.bin
need "... and the agent has closed that flow's socket" \
	wait_for 10 grep -q 'flow 1: closed' "$TEST_TMP/lone.log"
# the limit bounds descriptor numbers: set it to the lowest free one
free_fd=$(ls "/proc/$lone_PID/fd" | sort -n | awk '$1 == n { n++; next } { exit } END { print n + 0 }')
need "the agent's open-file limit is lowered to its lowest free descriptor, $free_fd" \
	prlimit --pid "$lone_PID" --nofile="$free_fd:"
curl -s -m 20 -o /dev/null "http://127.0.0.1:$LP/file.bin"
rc=$?
check "a download through it then ends without data, not by the client's timeout (curl exit $rc)" \
	test "$rc" -ne 0 -a "$rc" -ne 28
check "the agent says why: \"cannot connect to ...: Too many open files\" (not \"no address\")" \
	wait_for 5 grep -qF "cannot connect to 127.0.0.1:$HTTP: Too many open files" "$TEST_TMP/lone.log"
warnings() { grep -cF "no socket for a destination: Too many open files" "$TEST_TMP/lone.log"; }
t0=$SECONDS warned0=$(warnings)
check "... and warns: \"no socket for a destination: Too many open files\"" test "$warned0" -ge 1
for _ in $(seq 20); do curl -s -m 20 -o /dev/null "http://127.0.0.1:$LP/file.bin"; done
secs=$((SECONDS - t0 + 1))
check "20 more such flows end too" wait_for 5 bash -c \
	"[ \$(grep -cF 'Too many open files (socket->mqtt 0' '$TEST_TMP/lone.log') -ge 21 ]"
warned=$(($(warnings) - warned0))
check "... with the warning at most once a second ($warned lines in about $secs s)" \
	test "$warned" -le "$((secs + 1))"
need "the limit is raised again" prlimit --pid "$lone_PID" --nofile=1024:
check "... and the next download is whole" download "$LP" lone-after.bin
check "the agent is still running" kill -0 "$lone_PID"
finish
