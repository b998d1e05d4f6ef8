#!/usr/bin/env bash
# UDP flows expire: 200 client sockets each get their datagram echoed through
# local-port -u and the agent; with --udp-timeout 2 the flow tables empty out
# (stats 'flows open 0'), and datagrams after the expiry still get replies,
# from a new source and from the source of an expired flow.
set -u
source "$(dirname "$0")/../lib.sh"
TOOL=$(cd "$(dirname "$0")" && pwd)/helpers/nettool.py
PREFIX=e2e/udp-expiry
AGENT=udp-agent
LOCAL=udp-local
N=200

flows_open() { stat_field "$(stats "$1" "$2")" "flows open"; }
flows_open_is() { [ "$(flows_open "$1" "$2")" = "$3" ]; }

start_broker || { fail "mosquitto starts"; exit 1; }
URL="$BROKER_URL_BASE/$PREFIX"
ECHO=$(free_port)
LP=$(free_port)
SRC=$(free_port) # a fixed client source port, used before and after expiry
$PY "$TOOL" echo-udp "$ECHO" >"$TEST_TMP/echo.log" 2>&1 &
bg_track $!
wait_for 10 udp_bound "$ECHO" || { fail "UDP echo server starts"; exit 1; }

n4m agent agent -m "$URL?client_id=$AGENT" -i "$AGENT" -t "127.0.0.1:$ECHO" --udp-timeout 2
n4m local local-port -u -m "$URL?client_id=$LOCAL" -i "$LOCAL" -a "$AGENT" -l "127.0.0.1:$LP" --udp-timeout 2
check "local-port is bound on UDP" wait_for 10 udp_bound "$LP"
check "agent is online" wait_status "$BROKER_URL_BASE/$PREFIX/$AGENT/-/v/-"
check "the local has seen the agent's status" wait_for 10 grep -q "peer $AGENT/- online" "$TEST_TMP/local.log"

res=$(timeout 40 $PY "$TOOL" udp-once "$LP" "$SRC" 2>&1)
check "a datagram from port $SRC gets its reply ($res)" test "$res" = "udp-once: reply ok"

res=$(timeout 60 $PY "$TOOL" udp-many "$LP" "$N" 2>&1)
check "$N client sockets each get their own datagram back ($res)" test "$res" = "udp: $N of $N replied, 0 wrong"
line=$(stats agent "$agent_PID")
echo "    agent ${line#* stats: }"
opened=$(stat_field "$line" opened)
check "the agent opened a flow per client ($opened of $((N + 1)))" test "${opened:-0}" -ge $((N + 1))

check "the agent's UDP flows expire: flows open reaches 0 within 30 s" wait_for 30 flows_open_is agent "$agent_PID" 0
check "the local's UDP flows expire: flows open reaches 0 within 30 s" wait_for 30 flows_open_is local "$local_PID" 0
line=$(stats agent "$agent_PID")
closed=$(stat_field "$line" closed)
check "the agent counts every flow closed ($closed of $((N + 1)))" test "${closed:-0}" -ge $((N + 1))
check "the agent has no UDP socket left toward the echo server" \
	bash -c "! ss -Hun 'dport = :$ECHO' | grep -q ."

res=$(timeout 40 $PY "$TOOL" udp-once "$LP" "$SRC" 2>&1)
check "after expiry, a datagram from the expired flow's source port gets its reply ($res)" \
	test "$res" = "udp-once: reply ok"
res=$(timeout 40 $PY "$TOOL" udp-once "$LP" "$(free_port)" 2>&1)
check "after expiry, a datagram from a new source gets its reply ($res)" test "$res" = "udp-once: reply ok"
opened=$(stat_field "$(stats agent "$agent_PID")" opened)
res=$(timeout 60 $PY "$TOOL" udp-many "$LP" 50 2>&1)
check "after expiry, 50 new client sockets get their replies ($res)" test "$res" = "udp: 50 of 50 replied, 0 wrong"
now=$(stat_field "$(stats agent "$agent_PID")" opened) # flows open would race the 2 s expiry
check "the agent opened a new flow for each ($opened -> $now)" test "${now:-0}" -ge $((${opened:-0} + 50))
check "agent still running" all_running "$agent_PID"
check "local still running" all_running "$local_PID"

finish
