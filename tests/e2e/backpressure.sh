#!/usr/bin/env bash
# Memory stays bounded with a slow receiver, and the flow ends visibly:
#  A. upload: a client pushes 200 MB through local-port to a destination that
#     accepts and never reads;
#  B. download: a server sends without end to a client that never reads.
# The agent's and the local's RSS are sampled all along and must stay under a
# ceiling (a resource limit, not a timing threshold).
# All three run with --plain-streams: this is tcp as net4mqtt carries it, with
# no flow control, where only the cap keeps memory bounded. (Between our own
# peers, tcpx flow control stalls the sender instead: streams_flow_control.sh.)
set -u
source "$(dirname "$0")/../lib.sh"
TOOL=$(cd "$(dirname "$0")" && pwd)/helpers/nettool.py
PREFIX=e2e/backpressure
AGENT=bp-agent
LOCAL=bp-local
RSS_CAP_KB=$((64 * 1024))
UPLOAD=$((200 << 20))

flows_open_is() { [ "$(stat_field "$(stats "$1" "$2")" "flows open")" = "$3" ]; }
msgs_down() { sed -n 's/.*received \([0-9]*\) msgs.*/\1/p' <<<"$1"; }
msgs_down_over() { [ "$(msgs_down "$(stats "$1" "$2")")" -gt "$3" ]; }

# sample_rss SECONDS DONE_CMD...: samples both RSS every 0.1 s until DONE_CMD
# succeeds or SECONDS pass; raises MAX_AGENT_KB, MAX_LOCAL_KB to the peaks seen.
sample_rss() {
	local secs=$1 a l end=$((SECONDS + $1))
	shift
	while [ "$SECONDS" -lt "$end" ]; do
		a=$(rss_kb "$agent_PID") l=$(rss_kb "$local_PID")
		[ "${a:-0}" -gt "$MAX_AGENT_KB" ] && MAX_AGENT_KB=$a
		[ "${l:-0}" -gt "$MAX_LOCAL_KB" ] && MAX_LOCAL_KB=$l
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

start_broker || { fail "mosquitto starts"; exit 1; }
URL="$BROKER_URL_BASE/$PREFIX"
SINK=$(free_port)
FLOOD=$(free_port)
LP_UP=$(free_port)
LP_DOWN=$(free_port)
$PY "$TOOL" sink "$SINK" >"$TEST_TMP/sink.out" 2>&1 &
bg_track $!
$PY "$TOOL" flood "$FLOOD" 0 >"$TEST_TMP/flood.out" 2>&1 &
bg_track $!
wait_for 10 port_listening "$SINK" && wait_for 10 port_listening "$FLOOD" || { fail "test servers start"; exit 1; }

# -v: a debug line per message would dwarf what is measured
"$N4M" -v agent --plain-streams -m "$URL?client_id=$AGENT" -i "$AGENT" -t "127.0.0.1:$SINK" >"$TEST_TMP/agent.log" 2>&1 &
agent_PID=$!
bg_track "$agent_PID"
# one local-port process, one listening port per test: the upload goes to the
# agent's default target (the sink)
"$N4M" -v local-port --plain-streams -m "$URL?client_id=$LOCAL" -i "$LOCAL" -a "$AGENT" -l "127.0.0.1:$LP_UP" >"$TEST_TMP/local.log" 2>&1 &
local_PID=$!
bg_track "$local_PID"
"$N4M" -v local-port --plain-streams -m "$URL?client_id=$LOCAL-down" -i "$LOCAL-down" -a "$AGENT" -l "127.0.0.1:$LP_DOWN" \
	-t "127.0.0.1:$FLOOD" >"$TEST_TMP/local-down.log" 2>&1 &
local_down_PID=$!
bg_track "$local_down_PID"
check "both local-ports listen" wait_for 10 bash -c "ss -Htln 'sport = :$LP_UP' | grep -q . && ss -Htln 'sport = :$LP_DOWN' | grep -q ."
check "agent is online" wait_status "$BROKER_URL_BASE/$PREFIX/$AGENT/-/v/-"
check "the locals have seen the agent's status" wait_for 10 bash -c \
	"grep -q 'peer $AGENT/- online' '$TEST_TMP/local.log' && grep -q 'peer $AGENT/- online' '$TEST_TMP/local-down.log'"

### A. upload to a destination that never reads
mkfifo "$TEST_TMP/up.ctl"
exec 3<>"$TEST_TMP/up.ctl"
timeout 120 $PY "$TOOL" upload "$LP_UP" "$UPLOAD" hold <&3 >"$TEST_TMP/upload.out" 2>&1 &
UP_PID=$!
bg_track "$UP_PID"
MAX_AGENT_KB=0 MAX_LOCAL_KB=0
sample_rss 60 grep -q '^upload:' "$TEST_TMP/upload.out"
up=$(grep '^upload:' "$TEST_TMP/upload.out")
echo "    client: ${up:-no result in 60 s}"
echo "    max RSS during the upload: agent $MAX_AGENT_KB kB, local $MAX_LOCAL_KB kB"
check "upload: the client's push of 200 MB came to an end (sent, error or stall)" test -n "$up"
check_rss "upload: agent RSS stayed under $((RSS_CAP_KB / 1024)) MB (max $MAX_AGENT_KB kB)" "$MAX_AGENT_KB" "$RSS_CAP_KB"
check_rss "upload: local RSS stayed under $((RSS_CAP_KB / 1024)) MB (max $MAX_LOCAL_KB kB)" "$MAX_LOCAL_KB" "$RSS_CAP_KB"
# samples can miss a short peak; the kernel's high-water mark cannot
hwm=$(hwm_kb "$agent_PID")
check_rss "upload: agent peak RSS (VmHWM) under $((RSS_CAP_KB / 1024)) MB ($hwm kB)" "${hwm:-0}" "$RSS_CAP_KB"
hwm=$(hwm_kb "$local_PID")
check_rss "upload: local peak RSS (VmHWM) under $((RSS_CAP_KB / 1024)) MB ($hwm kB)" "${hwm:-0}" "$RSS_CAP_KB"
check "upload: the destination accepted the flow" grep -q '^accepted 1' "$TEST_TMP/sink.out"
check "upload: the agent log says the flow was ended for a slow destination" \
	grep -q 'destination too slow: send buffer over its cap' "$TEST_TMP/agent.log"
check "upload: the client is told the flow ended (EOF/reset on its read side, or its send fails or stalls)" \
	grep -Eq '(error|stalled)|read side: (eof|error)' <<<"$up"
# What the client sees is what it can act on: bytes its sends "delivered"
# after the agent dropped the flow are lost without a word.
if grep -q 'all sent' <<<"$up"; then
	fail "upload: the client's sends fail or stall once the agent has dropped the flow (they all succeeded: $up; agent: $(grep -o 'closed: destination too slow.*' "$TEST_TMP/agent.log" | head -n 1))"
else
	pass "upload: the client's sends fail or stall once the agent has dropped the flow ($up)"
fi

# Late bytes of the ended flow, after the agent's linger, must not open a new
# connection to the destination carrying the middle of a stream.
check "upload: the agent forgets the ended flow (flows open 0)" wait_for 30 flows_open_is agent "$agent_PID" 0
line=$(stats agent "$agent_PID")
down_before=$(msgs_down "$line")
opened_before=$(stat_field "$line" opened)
echo late >&3
wait_for 30 grep -q '^late:' "$TEST_TMP/upload.out"
late=$(grep '^late:' "$TEST_TMP/upload.out")
if grep -q '^late: sent' <<<"$late"; then
	if wait_for 10 msgs_down_over agent "$agent_PID" "${down_before:-0}"; then
		line=$(stats agent "$agent_PID")
		opened=$(stat_field "$line" opened)
		check "upload: late bytes do not open a new flow at the agent (opened $opened_before -> $opened)" \
			test "$opened" = "$opened_before"
		# a new agent flow connects right after it opens: give that connect its time
		[ "$opened" = "$opened_before" ] || wait_for 10 grep -q '^accepted 2' "$TEST_TMP/sink.out"
		accepted=$(grep -c '^accepted' "$TEST_TMP/sink.out")
		check "upload: the destination saw one connection, not a second one starting mid-stream (saw $accepted)" \
			test "$accepted" -eq 1
	else
		pass "upload: late bytes were dropped by the local (never reached the agent)"
	fi
else
	pass "upload: late bytes were refused to the client (${late:-no answer})"
fi
exec 3>&-

### B. download to a client that never reads
mkfifo "$TEST_TMP/down.ctl"
exec 4<>"$TEST_TMP/down.ctl"
timeout 120 $PY "$TOOL" noread "$LP_DOWN" <&4 >"$TEST_TMP/noread.out" 2>&1 &
NR_PID=$!
bg_track "$NR_PID"
check "download: the server is sending" wait_for 20 grep -q '^flood: client connected' "$TEST_TMP/flood.out"
agent_PID_up=$agent_PID local_PID_up=$local_PID
local_PID=$local_down_PID
MAX_AGENT_KB=0 MAX_LOCAL_KB=0
overflow() { grep -q 'send buffer over its cap' "$TEST_TMP/local-down.log"; }
flood_done() { grep -q '^flood: sent' "$TEST_TMP/flood.out"; }
sample_rss 30 overflow
check "download: the local log says the flow was ended (send buffer over its cap)" overflow
# keep sampling while the server goes on (or until its connection ends)
sample_rss 30 flood_done
echo "    max RSS during the download: agent $MAX_AGENT_KB kB, local $MAX_LOCAL_KB kB"
check_rss "download: agent RSS stayed under $((RSS_CAP_KB / 1024)) MB (max $MAX_AGENT_KB kB)" "$MAX_AGENT_KB" "$RSS_CAP_KB"
check_rss "download: local RSS stayed under $((RSS_CAP_KB / 1024)) MB (max $MAX_LOCAL_KB kB)" "$MAX_LOCAL_KB" "$RSS_CAP_KB"
hwm=$(hwm_kb "$agent_PID")
check_rss "download: agent peak RSS (VmHWM) under $((RSS_CAP_KB / 1024)) MB ($hwm kB)" "${hwm:-0}" "$RSS_CAP_KB"
hwm=$(hwm_kb "$local_PID")
check_rss "download: local peak RSS (VmHWM) under $((RSS_CAP_KB / 1024)) MB ($hwm kB)" "${hwm:-0}" "$RSS_CAP_KB"
echo go >&4
wait_for 40 grep -q '^noread:' "$TEST_TMP/noread.out"
nr=$(grep '^noread:' "$TEST_TMP/noread.out")
check "download: the client sees the flow end with an error or EOF (${nr:-nothing})" \
	grep -Eq 'then (error|eof)' <<<"$nr"
fl=$(grep '^flood: sent' "$TEST_TMP/flood.out")
line=$(stats local-down "$local_down_PID")
check "download: the server's connection is ended too, not fed into a dead flow (${fl:-server still sending after 30 s; local: $(stat_field "$line" unknown_flow) messages for an unknown flow})" \
	grep -q 'error' <<<"$fl"
exec 4>&-

agent_PID=$agent_PID_up local_PID=$local_PID_up
check "all three processes still run" all_running "$agent_PID" "$local_PID" "$local_down_PID"

finish
