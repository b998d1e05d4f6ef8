#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m in lib.sh
# The global memory cap (--max-memory): six clients push at once through one
# agent to a destination that never reads. Each flow alone may queue 16 MiB,
# six of them 96 MiB; with --max-memory 16, once the heap is over the cap a
# flow may queue only 1 MiB, so flows that keep queueing are ended early
# ("destination too slow", saying why), the peak stays bounded, and once the
# heap is back under the cap new flows work again. (Without the cap: a
# peak far higher, and the log line about the heap is missing.) The cap is
# below one flow's 16 MiB so that it is reached whatever order the broker
# delivers the six uploads in: with 32, flows that happened to arrive one
# after another each hit their own 16 MiB first, and the heap never got there.
# All run with --plain-streams: the cap is what bounds tcp toward net4mqtt
# peers; between our own peers tcpx flow control stalls the sender first.
set -u
source "$(dirname "$0")/../lib.sh"
TOOL=$(cd "$(dirname "$0")" && pwd)/helpers/nettool.py
PREFIX=e2e/memcap
AGENT=memcap-agent
CAP_MIB=16
HWM_CAP_KB=$(((CAP_MIB + 32) * 1024)) # the cap, the process, and freed heap malloc keeps

start_broker || { fail "mosquitto starts"; exit 1; }
URL="$BROKER_URL_BASE/$PREFIX"
SINK=$(free_port)
$PY "$TOOL" sink "$SINK" >"$TEST_TMP/sink.out" 2>&1 &
bg_track $!
mkdir -p "$TEST_TMP/www"
echo "still serving $RANDOM" >"$TEST_TMP/www/index.html"
HTTP=$(free_port)
start_http "$TEST_TMP/www" "$HTTP" || { fail "http server starts"; exit 1; }
wait_for 10 port_listening "$SINK" || { fail "the sink listens"; exit 1; }

# -v: a debug line per message would dwarf what is measured
"$N4M" -v agent --plain-streams -m "$URL?client_id=$AGENT" -i "$AGENT" -t "127.0.0.1:$SINK" --max-memory "$CAP_MIB" \
	>"$TEST_TMP/agent.log" 2>&1 &
agent_PID=$!
bg_track "$agent_PID"
LP=$(free_port)
n4m local local-port --plain-streams -m "$URL?client_id=memcap-local" -i memcap-local -a "$AGENT" -l "127.0.0.1:$LP"
LPW=$(free_port)
n4m localw local-port --plain-streams -m "$URL?client_id=memcap-localw" -i memcap-localw -a "$AGENT" -l "127.0.0.1:$LPW" \
	-t "127.0.0.1:$HTTP"
need "local-ports listen" wait_for 10 bash -c "ss -Htln 'sport = :$LP' | grep -q . && ss -Htln 'sport = :$LPW' | grep -q ."
need "agent online" wait_status "$URL/$AGENT/-/v/-"

for i in 1 2 3 4 5 6; do
	timeout 120 $PY "$TOOL" upload "$LP" $((40 << 20)) >"$TEST_TMP/upload$i.out" 2>&1 &
	bg_track $!
done
check "the six uploads end (each sent all, or was cut off)" wait_for 90 bash -c \
	"[ \$(cat '$TEST_TMP'/upload*.out 2>/dev/null | grep -c '^upload:') -eq 6 ]"
hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$agent_PID/status")
check_rss "the agent's peak RSS stayed under $((HWM_CAP_KB / 1024)) MB, not 6 x 16 MiB (VmHWM $hwm kB)" \
	"$hwm" "$HWM_CAP_KB"
# the uploads end once the local has read them; the agent may still be working through the broker's backlog
if [ -n "${ASAN_OPTIONS:-}" ]; then
	# without the heap cap only a flow's own 16 MiB ends it, and how much of an upload
	# reaches a slowed agent depends on what the broker drops for it meanwhile
	skip "the heap cap under sanitizers: mallinfo2 does not see ASan's allocator"
else
	check "flows that kept queueing were ended: 'destination too slow'" \
		wait_for 30 grep -q "destination too slow" "$TEST_TMP/agent.log"
	check "... because the heap was over the cap, the log says" \
		wait_for 30 grep -q "1 MiB queued while the heap is over --max-memory" "$TEST_TMP/agent.log"
fi
check "the agent is still running" all_running "$agent_PID"
check "once the buffers are gone, a new flow works again" wait_for 30 bash -c \
	"[ \"\$(curl -s -m 5 http://127.0.0.1:$LPW/)\" = '$(cat "$TEST_TMP/www/index.html")' ]"
finish
