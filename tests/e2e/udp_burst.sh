#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m in lib.sh
# A burst of UDP datagrams arrives (issue 13), on mosquitto with its Debian
# defaults: one client socket sends 1000 datagrams of 1000 bytes back to back
# through local-port -u and an agent to a UDP echo server (which counts them):
# at least 990 reach the server and at least 990 of its echoes come back to the
# client. Three bursts in a row on fresh client sockets, each checked; finally
# both processes still run.
set -u
source "$(dirname "$0")/../lib.sh"
ST=$(cd "$(dirname "$0")" && pwd)/helpers/streamtool.py
PREFIX=e2e/udp-burst
AGENT=burst-agent
N=1000 SIZE=1000 MIN=990 BURSTS=3

start_broker || { fail "mosquitto starts"; exit 1; }
URL="$BROKER_URL_BASE/$PREFIX"
ECHO=$(free_port)
$PY "$ST" udp-echo "$ECHO" "$TEST_TMP/echo.count" >"$TEST_TMP/echo.log" 2>&1 &
bg_track $!
need "the UDP echo server is bound" wait_for 10 udp_bound "$ECHO"

LP=$(free_port)
n4m agent agent -m "$URL?client_id=$AGENT" -i "$AGENT" -t "127.0.0.1:$ECHO"
n4m local local-port -u -m "$URL?client_id=burst-local" -i burst-local -a "$AGENT" -l "127.0.0.1:$LP"
need "local-port -u is bound" wait_for 10 udp_bound "$LP"
need "the agent is online" wait_status "$URL/$AGENT/-/v/-"
need "the local has seen the agent's status" wait_for 10 grep -q "peer $AGENT/- online" "$TEST_TMP/local.log"

server_count() { sed -n 's/^udp-echo got \([0-9]*\)$/\1/p' "$TEST_TMP/echo.count" 2>/dev/null | grep . || echo 0; }
# the server writes its count whenever it has been idle a moment
count_at_least() { [ "$(server_count)" -ge "$1" ] 2>/dev/null; }

before=0
for b in $(seq "$BURSTS"); do
	res=$(timeout 90 $PY "$ST" udp-burst "$LP" "$N" "$SIZE" 2>&1)
	echoed=$(sed -n 's/.*echoed \([0-9]*\) distinct.*/\1/p' <<<"$res")
	wait_for 10 count_at_least $((before + MIN))
	got=$(($(server_count) - before))
	before=$(server_count)
	echo "    burst $b: $res; the server received $got"
	check "burst $b: at least $MIN of $N datagrams of $SIZE bytes reach the server through local-port -u and the agent (got $got)" \
		test "$got" -ge "$MIN"
	check "burst $b: at least $MIN of the server's echoes come back to the client ($res)" \
		test "${echoed:-0}" -ge "$MIN"
	check "burst $b: no echo came back wrong ($res)" grep -q ', 0 wrong$' <<<"$res"
done

echo "    agent $(stats agent "$agent_PID" | grep -o 'stats:.*')"
echo "    local $(stats local "$local_PID" | grep -o 'stats:.*')"
check "the agent and the local still run" all_running "$agent_PID" "$local_PID"
finish
