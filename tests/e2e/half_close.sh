#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m in lib.sh
# Half-close through local-port + agent: a client that shuts down its sending
# side still gets the whole reply (the server only answers at EOF, so the EOF
# crossed the tunnel); and the reverse: the server ends its sending side first,
# the client sends afterwards and the server still receives it.
set -u
source "$(dirname "$0")/../lib.sh"

TOOL=$(cd "$(dirname "$0")" && pwd)/helpers/tcptool.py
PREFIX=e2e/half-close
AGENT=hc-agent

start_broker || { fail "mosquitto starts"; exit 1; }
URL="$BROKER_URL_BASE/$PREFIX"

EOFS=$(free_port)
$PY "$TOOL" eof-server 127.0.0.1 "$EOFS" 200000 "$TEST_TMP/eof-server.out" >"$TEST_TMP/eof-server.log" 2>&1 &
bg_track $!
FIRST=$(free_port)
$PY "$TOOL" first-server 127.0.0.1 "$FIRST" "greeting then my EOF" "$TEST_TMP/first-server.out" \
	>"$TEST_TMP/first-server.log" 2>&1 &
bg_track $!
wait_for 10 port_listening "$EOFS" && wait_for 10 port_listening "$FIRST" || { fail "servers start"; exit 1; }

n4m agent agent -m "$URL?client_id=$AGENT" -i "$AGENT" -t "127.0.0.1:$EOFS"
LP=$(free_port)
n4m local local-port -m "$URL?client_id=hc-local" -i hc-local -a "$AGENT" -l "127.0.0.1:$LP"
LP2=$(free_port)
n4m local2 local-port -m "$URL?client_id=hc-local2" -i hc-local2 -a "$AGENT" -l "127.0.0.1:$LP2" \
	-t "127.0.0.1:$FIRST"
need "local-ports listen" wait_for 10 bash -c "ss -Htln 'sport = :$LP' | grep -q . && ss -Htln 'sport = :$LP2' | grep -q ."
need "agent publishes its online status" wait_status "$BROKER_URL_BASE/$PREFIX/$AGENT/-/v/-"

# 1. Client shuts down its write side, then reads the whole reply.
res=$(timeout 30 $PY "$TOOL" shut-client 127.0.0.1 "$LP" 100000 200000 2>&1)
check "a client that sends 100 KB then SHUT_WR gets the server's whole reply, answered at EOF ($res)" \
	grep -q '^halfclose ok' <<<"$res"
check "the server read exactly 100000 bytes before EOF ($(cat "$TEST_TMP/eof-server.out" 2>/dev/null))" \
	grep -qx 'read 100000 bytes' "$TEST_TMP/eof-server.out"

res=$(timeout 30 $PY "$TOOL" shut-client 127.0.0.1 "$LP" 1 200000 2>&1)
check "the same with a 1-byte request ($res)" grep -q '^halfclose ok' <<<"$res"

# nc -N: the everyday form of the same thing.
got=$(printf 'abc' | timeout 10 nc -N 127.0.0.1 "$LP" | head -n 1)
check "nc -N (shutdown after stdin EOF) gets the reply line ($got)" \
	test "$got" = "sha256 $(printf abc | sha256sum | cut -d' ' -f1)"

# 2. The reverse: the server ends its sending side first, the client sends after.
rm -f "$TEST_TMP/first-server.out"
res=$(timeout 30 $PY "$TOOL" late-client 127.0.0.1 "$LP2" $'hello\n' "sent after the server's EOF" 2>&1)
check "the client receives the server's data and then its EOF" \
	grep -qx "got b'greeting then my EOF'" <<<"$res"
check "the client can still send after the server's EOF" grep -qx 'late sent' <<<"$res"
check "the server receives what the client sent after the server's EOF" \
	wait_for 15 bash -c "[ \"\$(cat '$TEST_TMP/first-server.out' 2>/dev/null)\" = \"\$(printf 'hello\nsent after the server'\\''s EOF')\" ]"
echo "server got: $(cat "$TEST_TMP/first-server.out" 2>/dev/null | od -c | head -3)"
check "the client's connection ends once both sides are done ($(tail -n 1 <<<"$res"))" \
	grep -q '^closed' <<<"$res"

check "agent and local-ports still running" all_running "$agent_PID" "$local_PID" "$local2_PID"
finish
