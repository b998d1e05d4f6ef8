#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m
# Encrypted flows, a hole found in review (issue 18): a local's datagram flow whose open
# is not answered republishes the same open (the same bytes, the same stamp) each second
# for as long as its client keeps sending. Once that open is over 120 s old, the agent
# refuses it as stale for good: the flow never opens, though the agent is there and lists
# the local. Here the agent lists the local's key only after 125 s (a SIGHUP); the same is
# true of an agent down for over 120 s. Takes about 150 s.
set -u
source "$(dirname "$0")/../lib.sh"
PREFIX=e2e/sealstale-$$
AGENT=sealstale-agent-$$

start_broker || { fail "mosquitto starts"; exit 1; }
URL="$BROKER_URL_BASE/$PREFIX"
UECHO=$(free_port)
socat "UDP-LISTEN:$UECHO,bind=127.0.0.1,reuseaddr,fork" EXEC:cat 2>/dev/null &
bg_track $!
K=$TEST_TMP/keys
mkdir -p "$K"
umask 077
for who in agent l1; do "$N4M" genkey >"$K/$who.key"; done
umask 022
for who in agent l1; do "$N4M" pubkey <"$K/$who.key" >"$K/$who.pub"; done
: >"$K/peers"
n4m agent agent -m "$URL" -i "$AGENT" -t "127.0.0.1:$UECHO" --seal-key "$K/agent.key" --seal-peers "$K/peers"
need "agent is online" wait_status "$BROKER_URL_BASE/$PREFIX/$AGENT/-/v/-"
LPD=$(free_port)
n4m udp local-port -m "$URL" -i "udp-$$" -a "$AGENT" --seal-key "$K/l1.key" --seal-peer "$AGENT=$(cat "$K/agent.pub")" \
	-u -l "127.0.0.1:$LPD" -t "127.0.0.1:$UECHO"
need "the udp local-port is bound" wait_for 10 udp_bound "$LPD"
need "it is connected" wait_for 10 grep -q 'mqtt: connected' "$TEST_TMP/udp.log"
# one client socket (one flow), a datagram every half second for 170 s; replies logged
$PY -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
log = open(sys.argv[2], "a")
for i in range(340):
    s.sendto(b"ping %d" % i, ("127.0.0.1", int(sys.argv[1])))
    try:
        d = s.recv(2048)
        log.write(d.decode() + "\n"); log.flush()
    except socket.timeout:
        pass
' "$LPD" "$TEST_TMP/replies" &
bg_track $!
sleep 125
echo "$(cat "$K/l1.pub") l1" >"$K/peers"
kill -HUP "$agent_PID"
need "the agent now lists the local" wait_for 10 grep -q "reload: 1 locals' keys" "$TEST_TMP/agent.log"
check "the client's flow, still sending, gets its datagrams through once the agent lists it" \
	wait_for 20 test -s "$TEST_TMP/replies"
grep -o 'dropped: an open whose time stamp[^(]*' "$TEST_TMP/agent.log" | head -n 1
finish
