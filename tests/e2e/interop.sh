#!/usr/bin/env bash
# Wire compatibility with net4mqtt (Rust, binbat/live777 libs/net4mqtt).
# A Python peer (helpers/n4m_peer.py, paho-mqtt) plays the Rust side on a real
# mosquitto and checks topics and payloads byte for byte:
#   A. Python is a net4mqtt local (no status), our agent is under test
#   B. Python is a net4mqtt agent (no status), our local-ports (tcp, tcp -t, udp) are under test;
#      then an agent with live777's status {"online":true} (no max_packet)
#   C. our local-port <-> our agent: they see each other's max_packet and use > 10 KiB messages
# Toward a peer without max_packet every packet must stay <= 10240 bytes (rumqttc's limit).
# shellcheck disable=SC2154,SC2119 # n4m NAME sets NAME_PID (dashes as underscores)
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
source "$here/../lib.sh"
HELPER=$here/helpers/n4m_peer.py
t_start=$(date +%s)

if ! command -v mosquitto >/dev/null || ! command -v mosquitto_sub >/dev/null ||
	! "$PY" -c 'import paho.mqtt.client' 2>/dev/null; then
	skip "interop: needs mosquitto, mosquitto_sub and python3-paho-mqtt"
	exit 0
fi
[ -x "$N4M" ] || { fail "interop: $N4M is built"; exit 1; }

# n distinct free ports
ports() {
	local n=$1 p got=()
	while [ "${#got[@]}" -lt "$n" ]; do
		p=$(free_port) || return 1
		[[ " ${got[*]} " == *" $p "* ]] || got+=("$p")
	done
	echo "${got[@]}"
}

# peer NAME ARGS...: runs the helper (bounded), shows its lines, counts its FAILs.
peer() {
	local name=$1; shift
	local out=$TEST_TMP/peer-$name.out rc f
	timeout 120 "$PY" "$HELPER" --port "$BROKER_PORT" --prefix "$PFX" "$@" >"$out" 2>&1
	rc=$?
	cat "$out"
	f=$(grep -c '^FAIL: ' "$out")
	N4M_FAILS=$((N4M_FAILS + f))
	if [ "$rc" -eq 124 ]; then
		fail "interop helper $name finished within 120 s"
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		fail "interop helper $name exited with $rc"
	fi
	[ "$rc" -eq 0 ] && [ "$f" -eq 0 ]
}

show_log() { # name: the tail of a net4mqtt log, to explain a failure
	echo "---- $1.log (last 40 lines) ----"
	tail -n 40 "$TEST_TMP/$1.log" 2>/dev/null | sed 's/^/    | /'
}

alive() { kill -0 "$1" 2>/dev/null; }
gone() { ! kill -0 "$1" 2>/dev/null; }

start_broker || { fail "interop: mosquitto starts"; exit 1; }
PFX=n4m-interop # one level: net4mqtt takes the first topic level as the prefix
URL=$BROKER_URL_BASE/$PFX

# ---- A: Python is a net4mqtt local; our agent is under test
read -r ECHO UECHO CLOSED <<<"$(ports 3)"
n4m agent-x agent -m "$URL" -i agent-x -t "127.0.0.1:$ECHO"
peer A-online status-online --topic "$PFX/agent-x/-/v/-" || show_log agent-x
peer A local-vs-agent --agent agent-x --echo "$ECHO" --udp-echo "$UECHO" --closed "$CLOSED" ||
	show_log agent-x
check "A: the agent is still running after the flows" alive "$agent_x_PID"
kill "$agent_x_PID"
check "A: the agent exits on SIGTERM" wait_for 10 gone "$agent_x_PID"
peer A-offline status-offline --topic "$PFX/agent-x/-/v/-" || show_log agent-x

# ---- B: Python is a net4mqtt agent; our local-ports are under test
read -r LP LP2 LPU <<<"$(ports 3)"
n4m loc-y local-port -m "$URL" -i loc-y -a py-agent -l "127.0.0.1:$LP"
n4m loc-z local-port -m "$URL" -i loc-z -a py-agent -l "127.0.0.1:$LP2" -t 10.0.0.1:80
n4m loc-u local-port -m "$URL" -i loc-u -a py-agent -l "127.0.0.1:$LPU" -u
ready=0
wait_for 10 port_listening "$LP" && wait_for 10 port_listening "$LP2" && wait_for 10 udp_bound "$LPU" &&
	ready=1
check "B: the three local-ports listen" test "$ready" = 1
if peer B-online status-online --topic "$PFX/-/loc-y/v/-" --topic "$PFX/-/loc-z/v/-" \
	--topic "$PFX/-/loc-u/v/-" && [ "$ready" = 1 ]; then
	peer B agent-vs-local --local loc-y --lport "$LP" --local2 loc-z --lport2 "$LP2" \
		--dst2 10.0.0.1:80 --local-udp loc-u --lport-udp "$LPU" ||
		{ show_log loc-y; show_log loc-z; show_log loc-u; }
else
	show_log loc-y; show_log loc-z; show_log loc-u
fi
for n in loc_y loc_z loc_u; do
	pid_var=${n}_PID
	check "B: local-port ${n//_/-} is still running after the flows" alive "${!pid_var}"
done

# ---- B': an agent with live777's status ({"online":true}, no max_packet): still <= 10 KiB
LPL=$(free_port)
peer B-live-status publish-retained --topic "$PFX/py-live/-/v/-" --payload '{"online":true}'
n4m loc-l local-port -m "$URL" -i loc-l -a py-live -l "127.0.0.1:$LPL"
if check "B': the local-port listens and has seen the liveion-like agent's status" \
	wait_for 10 bash -c "grep -q 'peer py-live/- online' '$TEST_TMP/loc-l.log' && ss -Htln 'sport = :$LPL' | grep -q ."; then
	peer B-live live-agent --agent py-live --local loc-l --lport "$LPL" || show_log loc-l
else
	show_log loc-l
fi

# ---- C: our local-port <-> our agent, > 10 KiB messages between them
read -r ECHO2 LPC <<<"$(ports 2)"
n4m ag-c agent -m "$URL" -i ag-c -t "127.0.0.1:$ECHO2"
n4m loc-c local-port -m "$URL" -i loc-c -a ag-c -l "127.0.0.1:$LPC"
# each has seen the other's status (and its max_packet) before the first flow
if check "C: local-port and agent learn each other's status" \
	wait_for 10 bash -c "grep -q 'peer ag-c/- online' '$TEST_TMP/loc-c.log' &&
		grep -q 'peer -/loc-c online' '$TEST_TMP/ag-c.log' && ss -Htln 'sport = :$LPC' | grep -q ."; then
	peer C pair --agent ag-c --local loc-c --lport "$LPC" --echo "$ECHO2" ||
		{ show_log loc-c; show_log ag-c; }
else
	show_log loc-c; show_log ag-c
fi

echo "interop: $(($(date +%s) - t_start)) s"
finish
