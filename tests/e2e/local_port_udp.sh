#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m in lib.sh
# local-port -u: datagrams of 1, 1000 and 8000 bytes cross to a UDP echo server
# behind the agent and come back whole (boundaries kept), and two client
# sockets each get their own replies.
set -u
source "$(dirname "$0")/../lib.sh"

TOOL=$(cd "$(dirname "$0")" && pwd)/helpers/udptool.py
PREFIX=e2e/lp-udp
AGENT=lpudp-agent

start_broker || { fail "mosquitto starts"; exit 1; }
URL="$BROKER_URL_BASE/$PREFIX"

ECHO=$(free_port)
$PY "$TOOL" echo 127.0.0.1 "$ECHO" "$TEST_TMP/echo.seen" >"$TEST_TMP/echo.log" 2>&1 &
bg_track $!
wait_for 10 udp_bound "$ECHO" || { fail "UDP echo server starts"; exit 1; }

n4m agent agent -m "$URL?client_id=$AGENT" -i "$AGENT" -t "127.0.0.1:$ECHO"
LP=$(free_port)
n4m local local-port -m "$URL?client_id=lpudp-local" -i lpudp-local -a "$AGENT" -u -l "127.0.0.1:$LP"
need "local-port -u binds its UDP port" wait_for 10 udp_bound "$LP"
if port_listening "$LP"; then fail "local-port -u opens no TCP listener"; else pass "local-port -u opens no TCP listener"; fi
need "agent publishes its online status" wait_status "$BROKER_URL_BASE/$PREFIX/$AGENT/-/v/-"
need "local publishes its online status" wait_status "$BROKER_URL_BASE/$PREFIX/-/lpudp-local/v/-"

res=$(timeout 30 $PY "$TOOL" sizes 127.0.0.1 "$LP" 1 1000 8000 2>&1)
check "datagrams of 1, 1000, 8000 bytes come back whole, one reply each ($res)" \
	grep -q '^sizes ok' <<<"$res"
check "the echo server received them as 1, 1000 and 8000 byte datagrams" \
	bash -c "cut -d' ' -f1 '$TEST_TMP/echo.seen' | sort -n | tr '\n' ' ' | grep -qx '1 1000 8000 '"

res=$(timeout 30 $PY "$TOOL" pair 127.0.0.1 "$LP" 2>&1)
check "two client sockets each get their own replies ($res)" grep -q '^pair ok' <<<"$res"
srcs=$(tail -n 6 "$TEST_TMP/echo.seen" | awk '{print $3}' | sort -u | wc -l)
check "the two clients are two flows at the server (distinct sources: $srcs)" test "$srcs" -eq 2

res=$(timeout 30 $PY "$TOOL" sizes 127.0.0.1 "$LP" 8000 1 1000 1 2>&1)
check "a second round on a new socket, sizes mixed and repeated, comes back whole ($res)" \
	grep -q '^sizes ok' <<<"$res"

# Between our own peers (max_packet 65536 in their status) big datagrams fit too.
res=$(timeout 30 $PY "$TOOL" sizes 127.0.0.1 "$LP" 20000 60000 2>&1)
check "datagrams of 20000 and 60000 bytes come back whole between our own peers ($res)" \
	grep -q '^sizes ok' <<<"$res"

check "agent and local-port still running" all_running "$agent_PID" "$local_PID"
finish
