#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m in lib.sh
# Two mosquitto brokers on loopback, B bridged to A (a `connection` section in
# B's configuration, `topic PREFIX/# both 0`): the locals are on A, the agent
# on B, so every message crosses the bridge. try_private true (mosquitto's
# default) matters: without it, A hands B the locals' statuses as live
# messages with the retain flag cleared, and they are not retained on B. Checks: the agent's retained
# status is seen on A and the local's on B; a 5 MB upload and a 5 MB reply
# (sha256 both ways) through local-port; 20 concurrent echo flows; UDP echo
# with datagram boundaries; the agent's clean exit ({}) reaches the local
# across the bridge.
set -u
source "$(dirname "$0")/../lib.sh"
HELPERS=$(cd "$(dirname "$0")" && pwd)/helpers
TOOL=$HELPERS/nettool.py
TCPTOOL=$HELPERS/tcptool.py
PREFIX=e2e/bridge-$$
AGENT=bridge-agent-$$
LOCAL=bridge-local-$$
BRIDGE=bridge-b-$$
SIZE=$((5 * 1000 * 1000))

# retained_on PORT TOPIC: the retained message there (nothing if none within 5 s)
retained_on() { timeout 10 mosquitto_sub -h 127.0.0.1 -p "$1" --retained-only -t "$2" -C 1 -W 5 2>/dev/null; }
online_on() { retained_on "$1" "$2" | grep -q '"online":true'; }
bridge_up() { [ "$(retained_on "$PA" "\$SYS/broker/connection/$BRIDGE/state")" = 1 ]; }

start_broker || { fail "broker A starts"; exit 1; }
PA=$BROKER_PORT A_PID=$BROKER_PID
start_broker "$(free_port)" \
	"connection $BRIDGE" \
	"address 127.0.0.1:$PA" \
	"remote_clientid $BRIDGE" \
	"topic $PREFIX/# both 0" \
	"cleansession true" \
	"try_private true" \
	"restart_timeout 1" || { fail "broker B starts"; exit 1; }
PB=$BROKER_PORT B_PID=$BROKER_PID
need "B's bridge to A is up (B's retained notification on A says 1)" wait_for 20 bridge_up

ECHO=$(free_port)
UECHO=$(free_port)
EOFSRV=$(free_port)
$PY "$TOOL" echo-tcp "$ECHO" >"$TEST_TMP/echo.log" 2>&1 &
bg_track $!
$PY "$TOOL" echo-udp "$UECHO" >"$TEST_TMP/uecho.log" 2>&1 &
bg_track $!
$PY "$TCPTOOL" eof-server 127.0.0.1 "$EOFSRV" "$SIZE" "$TEST_TMP/eof-server.out" >"$TEST_TMP/eof-server.log" 2>&1 &
bg_track $!
servers_up() { port_listening "$ECHO" && port_listening "$EOFSRV" && udp_bound "$UECHO"; }
need "test servers start" wait_for 10 servers_up

LP=$(free_port)
LP2=$(free_port)
UP=$(free_port)
n4m agent agent -m "mqtt://127.0.0.1:$PB/$PREFIX?client_id=$AGENT" -i "$AGENT" -t "127.0.0.1:$EOFSRV"
URL_A="mqtt://127.0.0.1:$PA/$PREFIX"
n4m local local-port -m "$URL_A?client_id=$LOCAL" -i "$LOCAL" -a "$AGENT" -l "127.0.0.1:$LP"
n4m local2 local-port -m "$URL_A?client_id=$LOCAL-2" -i "$LOCAL-2" -a "$AGENT" -l "127.0.0.1:$LP2" -t "127.0.0.1:$ECHO"
n4m ludp local-port -u -m "$URL_A?client_id=$LOCAL-u" -i "$LOCAL-u" -a "$AGENT" -l "127.0.0.1:$UP" -t "127.0.0.1:$UECHO"
check "the agent is connected to B" wait_for 10 grep -q "mqtt: connected to 127.0.0.1:$PB" "$TEST_TMP/agent.log"
check "the locals are connected to A" wait_for 10 bash -c \
	"for f in local local2 ludp; do grep -q 'mqtt: connected to 127.0.0.1:$PA' \"$TEST_TMP/\$f.log\" || exit 1; done"
check "the agent's retained online status is on B" wait_for 10 online_on "$PB" "$PREFIX/$AGENT/-/v/-"
check "the agent's retained online status crossed the bridge: it is on A" wait_for 10 online_on "$PA" "$PREFIX/$AGENT/-/v/-"
check "the local's retained online status crossed the bridge: it is on B" wait_for 10 online_on "$PB" "$PREFIX/-/$LOCAL/v/-"
check "each local has seen the agent online" wait_for 10 bash -c \
	"for f in local local2 ludp; do grep -q 'peer $AGENT/- online' \"$TEST_TMP/\$f.log\" || exit 1; done"
check "the agent has seen the locals online" wait_for 10 grep -q "peer -/$LOCAL online" "$TEST_TMP/agent.log"
check "local-ports listen" wait_for 10 bash -c "ss -Htln 'sport = :$LP or sport = :$LP2' | grep -c . | grep -qx 2 && ss -Huln 'sport = :$UP' | grep -q ."

res=$(timeout 120 $PY "$TCPTOOL" shut-client 127.0.0.1 "$LP" "$SIZE" "$SIZE" 2>&1)
check "TCP: 5 MB up and 5 MB back across the bridge, sha256 of the upload and the reply match ($res)" \
	grep -q '^halfclose ok' <<<"$res"
check "TCP: the server read all 5 MB ($(cat "$TEST_TMP/eof-server.out" 2>/dev/null))" \
	grep -qx "read $SIZE bytes" "$TEST_TMP/eof-server.out"
res=$(timeout 120 $PY "$TOOL" concurrent "$LP2" 20 1000 200000 2>&1)
check "TCP: 20 concurrent echo flows across the bridge are byte-exact (${res%%$'\n'*})" grep -q ' 20 ok, 0 failed' <<<"$res"
res=$(timeout 60 $PY "$TOOL" udp-many "$UP" 50 2>&1)
check "UDP: 50 sockets each get their own datagram echoed across the bridge ($res)" \
	test "$res" = "udp: 50 of 50 replied, 0 wrong"
res=$(timeout 40 $PY "$TOOL" udp-once "$UP" "$(free_port)" 2>&1)
check "UDP: one more datagram from a fixed source port ($res)" test "$res" = "udp-once: reply ok"
check "both brokers and every net4mqtt process still run" \
	all_running "$A_PID" "$B_PID" "$agent_PID" "$local_PID" "$local2_PID" "$ludp_PID"

kill -TERM "$agent_PID"
check "the agent exits on SIGTERM" wait_for 15 bash -c "! kill -0 $agent_PID 2>/dev/null"
offline_on_a() { [ "$(retained_on "$PA" "$PREFIX/$AGENT/-/v/-")" = "{}" ]; }
check "its offline status {} crossed the bridge: retained on A" wait_for 10 offline_on_a
check "the local on A sees the agent go offline" wait_for 10 grep -q "peer $AGENT/- went offline" "$TEST_TMP/local.log"
finish
