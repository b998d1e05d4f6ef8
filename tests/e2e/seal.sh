#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m
# Encrypted flows (issue 18, docs/protocol.md "Encrypted flows"), on one broker:
#  a. a keyed agent (run -c, its keys from the config file) and a keyed
#     local-port: a file with a marker string arrives intact, and a subscriber
#     on PREFIX/# sees neither the marker nor the destination; an unkeyed pair
#     on the same prefix carries the same file in the clear (the scan can fail);
#  b. strangers: a local whose key the agent does not list, a local that pins a
#     wrong agent key, an unkeyed local: each opens nothing, gets no message
#     back, and the agent counts the drop;
#  c. local-socks, sealed, holds a flow: a captured message of it published
#     again is dropped (counted) and the flow goes on; a captured open
#     published again opens nothing; a flipped byte resets the flow;
#  d. KCP and UDP through sealed local-ports;
#  e. SIGHUP with another --seal-peers file: a newly listed local gets in, a
#     delisted one's flow ends, the others' flows go on;
#  f. the options' mistakes are one line and exit 2;
#  h. a command-line agent rereads its --seal-peers on SIGHUP too;
#  i. the epoch: a keyed agent killed (its signed will) and started again is
#     offline, then online, at the local; its old online status published again
#     is ignored as replayed;
#  g. statuses: a keyed agent's is signed; a "{}" published on it, or on a
#     keyed local's, is ignored by the peer that knows the key (counted), and
#     a flow between them goes on.
#  j. a key file every user may read is accepted, with one warning.
set -u
source "$(dirname "$0")/../lib.sh"
HELPERS=$(cd "$(dirname "$0")" && pwd)/helpers
SEAL=$HELPERS/sealtool.py
FLOW=$HELPERS/flowtool.py
UDPT=$HELPERS/udptool.py
PREFIX=e2e/seal-$$
AGENT=seal-agent-$$
PLAIN_AGENT=plain-agent-$$
MARKER=N4M-SECRET-MARKER-7f3a

start_broker || { fail "mosquitto starts"; exit 1; }
URL="$BROKER_URL_BASE/$PREFIX"
HTTP=$(free_port)
ECHO=$(free_port)
UECHO=$(free_port)
MA=$(free_port)
mkdir -p "$TEST_TMP/www" "$TEST_TMP/keys"
{
	head -c $((3 << 20)) /dev/urandom
	for _ in $(seq 200); do echo "$MARKER"; done
	head -c $((1 << 20)) /dev/urandom
} >"$TEST_TMP/www/secret.bin"
start_http "$TEST_TMP/www" "$HTTP" || { fail "http server starts"; exit 1; }
socat "TCP-LISTEN:$ECHO,bind=127.0.0.1,reuseaddr,fork" EXEC:cat 2>/dev/null &
bg_track $!
$PY "$UDPT" echo 127.0.0.1 "$UECHO" "$TEST_TMP/uecho.log" &
bg_track $!

K=$TEST_TMP/keys
need "keys" seal_keys "$K" agent l1 l2 l3 wrong
PIN="$AGENT=$(cat "$K/agent.pub")"
WRONG_PIN="$AGENT=$(cat "$K/wrong.pub")"
printf '# who may open flows\n%s laptop-1\n%s socks-1\n' "$(cat "$K/l1.pub")" "$(cat "$K/l3.pub")" >"$K/peers"

cat >"$TEST_TMP/agent.conf" <<EOF
[net4mqtt]
mqtt-url = $URL?client_id=$AGENT
status-listen = 127.0.0.1:$MA
seal-key = $K/agent.key

[agent]
id = $AGENT
target = 127.0.0.1:$HTTP
seal-peers = $K/peers
EOF
"$N4M" -vv run -c "$TEST_TMP/agent.conf" >"$TEST_TMP/agent.log" 2>&1 &
agent_PID=$!
bg_track "$agent_PID"
# everything on the prefix, from before the first flow
$PY "$SEAL" record 127.0.0.1 "$BROKER_PORT" "$PREFIX/#" "$TEST_TMP/wire.rec" >"$TEST_TMP/record.out" 2>&1 &
bg_track $!
need "the recorder is subscribed" wait_for 10 grep -q recording "$TEST_TMP/record.out"

# local NAME KEY PIN ARGS...: a keyed local-port, id NAME-PID
local_port() {
	local name=$1 key=$2 pin=$3; shift 3
	n4m "$name" local-port -m "$URL" -i "$name-$$" -a "$AGENT" --seal-key "$key" --seal-peer "$pin" "$@"
}
LP1=$(free_port)
local_port l1 "$K/l1.key" "$PIN" -l "127.0.0.1:$LP1"
need "agent is online" wait_status "$BROKER_URL_BASE/$PREFIX/$AGENT/-/v/-"
need "local-port l1 listens" wait_for 10 port_listening "$LP1"
need "l1 has seen the agent's status" wait_for 10 grep -q "peer $AGENT/- online" "$TEST_TMP/l1.log"

# metric NAME [PORT]: its value in the agent's /metrics (or that port's)
metric() { curl -s -m 5 "http://127.0.0.1:${2:-$MA}/metrics" | awk -v m="$1" 'index($1, m) == 1 {s += $2} END {print s + 0}'; }
metric_over() { [ "$(metric "$1" "${3:-}")" -gt "$2" ]; }
sha() { sha256sum <"$1" 2>/dev/null | cut -d' ' -f1; }
same() { test "$(sha "$1")" = "$(sha "$2")"; }
# connected NAME...: each of these processes has its MQTT connection (sealed flows need no
# more: they wait for no status, and each process sees a dozen peers' statuses at once, whose
# log lines are rate-limited)
connected() {
	local name
	for name in "$@"; do grep -q 'mqtt: connected' "$TEST_TMP/$name.log" || return 1; done
}
# o_messages LOCAL_ID: messages the recorder saw on that local's o topics (answers to it)
o_messages() { grep -c "^$PREFIX/$AGENT/$1/o/" "$TEST_TMP/wire.rec"; }

# a. the file through the sealed tunnel; what the broker saw
curl -s -m 60 -o "$TEST_TMP/secret.l1" "http://127.0.0.1:$LP1/secret.bin"
check "a: the file arrives intact through an encrypted flow (sha256)" same "$TEST_TMP/secret.l1" "$TEST_TMP/www/secret.bin"
check "a: the flow's topics are seal topics" wait_for 5 grep -q "^$PREFIX/$AGENT/l1-$$/o/seal/[0-9a-f]\{16\}/- " "$TEST_TMP/wire.rec"
check "a: no plain data topic of l1 on the broker" bash -c "! grep -Eq '^$PREFIX/$AGENT/l1-$$/[io]/(tcp|tcpx|kcp|kcpx|udp)/' '$TEST_TMP/wire.rec'"
$PY "$SEAL" scan "$TEST_TMP/wire.rec" "$MARKER" "127.0.0.1:$HTTP" "secret.bin" >"$TEST_TMP/scan-a.out"
check "a: a subscriber on $PREFIX/# saw messages" grep -q 'scanned [1-9]' "$TEST_TMP/scan-a.out"
check "a: ... but never the marker in the file" bash -c "! grep -q 'found $MARKER' '$TEST_TMP/scan-a.out'"
check "a: ... nor the destination address" bash -c "! grep -q 'found 127.0.0.1:$HTTP' '$TEST_TMP/scan-a.out'"
check "a: ... nor the request (the path)" bash -c "! grep -q 'found secret.bin' '$TEST_TMP/scan-a.out'"

# the same through an unkeyed pair on the same broker and prefix: keyed and unkeyed coexist
PLP=$(free_port)
n4m plain-agent agent -m "$URL" -i "$PLAIN_AGENT" -t "127.0.0.1:$HTTP" --allow 127.0.0.1/32
n4m plain-local local-port -m "$URL" -i "plain-$$" -a "$PLAIN_AGENT" -l "127.0.0.1:$PLP"
need "the plain local-port listens" wait_for 10 port_listening "$PLP"
need "the plain local has seen its agent" wait_for 10 grep -q "peer $PLAIN_AGENT/- online" "$TEST_TMP/plain-local.log"
curl -s -m 60 -o "$TEST_TMP/secret.plain" "http://127.0.0.1:$PLP/secret.bin"
check "a: an unkeyed pair on the same prefix carries the file too (sha256)" same "$TEST_TMP/secret.plain" "$TEST_TMP/www/secret.bin"
$PY "$SEAL" scan "$TEST_TMP/wire.rec" "$MARKER" >"$TEST_TMP/scan-plain.out"
check "a: the unkeyed pair's flow shows the marker to the same subscriber (the scan finds it)" grep -q "found $MARKER" "$TEST_TMP/scan-plain.out"
curl -s -m 30 -o "$TEST_TMP/secret.l1b" "http://127.0.0.1:$LP1/secret.bin"
check "a: the keyed pair still works beside it" same "$TEST_TMP/secret.l1b" "$TEST_TMP/www/secret.bin"

# b. strangers get nothing, not even an answer
stranger() { # NAME WHAT METRIC: curl through it fails, nothing comes back on its o topics
	local name=$1 what=$2 m=$3 port=$4 before
	before=$(metric "$m")
	curl -s -m 2 -o "$TEST_TMP/$name.out" "http://127.0.0.1:$port/secret.bin" # a byte would come at once
	local rc=$?
	check "b: $what: curl gets no byte (curl $rc)" test "$rc" -ne 0 -a ! -s "$TEST_TMP/$name.out"
	check "b: $what: the agent counts the drop ($m)" wait_for 5 metric_over "$m" "$before"
	check "b: $what: no message came back on its topics" test "$(o_messages "$name-$$")" -eq 0
}
LP2=$(free_port)
local_port l2 "$K/l2.key" "$PIN" -l "127.0.0.1:$LP2"
LPW=$(free_port)
local_port wrongpin "$K/l1.key" "$WRONG_PIN" -l "127.0.0.1:$LPW"
LPU=$(free_port)
n4m unkeyed local-port -m "$URL" -i "unkeyed-$$" -a "$AGENT" -l "127.0.0.1:$LPU"
need "the strangers listen" wait_for 10 bash -c "ss -Htln | grep -q ':$LP2 ' && ss -Htln | grep -q ':$LPW ' && ss -Htln | grep -q ':$LPU '"
need "the strangers are connected" wait_for 10 connected l2 wrongpin unkeyed
check "b: a local that pinned a wrong agent key ignores the agent's status: not signed by that key" \
	wait_for 10 grep -q "peer $AGENT/-: a status not signed by its key: ignored" "$TEST_TMP/wrongpin.log"
stranger l2 "a local whose key the agent does not list" 'net4mqtt_drops_total{role="agent",reason="seal_open_refused"}' "$LP2"
check "b: the agent says whose key it refused" grep -q "by key $(cut -c1-20 "$K/l2.pub").*which --seal-peers does not list" "$TEST_TMP/agent.log"
stranger wrongpin "a local that pinned a wrong agent key" 'net4mqtt_drops_total{role="agent",reason="seal_open_refused"}' "$LPW"
stranger unkeyed "an unkeyed local" 'net4mqtt_drops_total{role="agent",reason="seal_plain"}' "$LPU"
check "b: the agent still serves its listed local" bash -c "curl -s -m 30 http://127.0.0.1:$LP1/secret.bin | sha256sum | grep -q $(sha "$TEST_TMP/www/secret.bin")"

# c. captured messages published again: a replay is dropped, a flipped byte resets
SP=$(free_port)
MS=$(free_port)
n4m socks local-socks -m "$URL" -i "socks-$$" -a "$AGENT" --seal-key "$K/l3.key" --seal-peer "$PIN" -l "127.0.0.1:$SP" \
	--status-listen "127.0.0.1:$MS"
need "local-socks listens" wait_for 10 port_listening "$SP"
need "local-socks is connected" wait_for 10 connected socks
mkfifo "$TEST_TMP/hold.ctl"
exec 3<>"$TEST_TMP/hold.ctl"
timeout 120 $PY "$FLOW" socks-hold "$SP" 127.0.0.1 "$ECHO" <&3 >"$TEST_TMP/hold.out" 2>&1 &
bg_track $!
need "c: a flow through sealed local-socks is up (one echo round)" wait_for 15 grep -q '^up' "$TEST_TMP/hold.out"
rounds_ok() { [ "$(grep -c '^round ok' "$TEST_TMP/hold.out")" -ge "$1" ]; }
echo >&3
need "c: a second echo round" wait_for 10 rounds_ok 1
check "c: the agent's /status lists the flow as sealed, with its destination" bash -c \
	"curl -s -m 5 http://127.0.0.1:$MA/status | grep -q '\"key\":\"$AGENT/socks-$$/tcpx/[^\"]*/127.0.0.1:$ECHO\"[^}]*\"sealed\":true'"
SOCKS_I="$PREFIX/$AGENT/socks-$$/i/seal/"
wait_for 5 grep -q "^$SOCKS_I" "$TEST_TMP/wire.rec" # the recorder is a process of its own
replayed=$(metric 'net4mqtt_drops_total{role="agent",reason="seal_replayed"}')
$PY "$SEAL" replay 127.0.0.1 "$BROKER_PORT" "$TEST_TMP/wire.rec" "$SOCKS_I" D >"$TEST_TMP/replay.out" 2>&1
check "c: a captured data message of the flow is published again" grep -q '^replayed ' "$TEST_TMP/replay.out"
check "c: the agent drops it as a replay (counted)" wait_for 5 metric_over 'net4mqtt_drops_total{role="agent",reason="seal_replayed"}' "$replayed"
echo >&3
check "c: the flow goes on after the replay (another echo round)" wait_for 10 rounds_ok 2
opened=$(metric 'net4mqtt_flows_opened_total{role="agent"}')
refused=$(metric 'net4mqtt_drops_total{role="agent",reason="seal_open_refused"}')
$PY "$SEAL" replay 127.0.0.1 "$BROKER_PORT" "$TEST_TMP/wire.rec" "$PREFIX/$AGENT/l1-$$/i/seal/" H >"$TEST_TMP/replay-open.out" 2>&1
check "c: a captured open (of a flow that ended) is published again" grep -q '^replayed ' "$TEST_TMP/replay-open.out"
check "c: the agent refuses it (counted)" wait_for 5 metric_over 'net4mqtt_drops_total{role="agent",reason="seal_open_refused"}' "$refused"
check "c: ... and opens no flow for it" test "$(metric 'net4mqtt_flows_opened_total{role="agent"}')" -eq "$opened"
bad=$(metric 'net4mqtt_drops_total{role="agent",reason="seal_bad"}')
$PY "$SEAL" replay 127.0.0.1 "$BROKER_PORT" "$TEST_TMP/wire.rec" "$SOCKS_I" D flip >"$TEST_TMP/flip.out" 2>&1
check "c: a data message with a flipped byte is published" grep -q '^replayed ' "$TEST_TMP/flip.out"
check "c: the agent counts it as failing its check" wait_for 5 metric_over 'net4mqtt_drops_total{role="agent",reason="seal_bad"}' "$bad"
check "c: the flow is reset (the client sees an error, not an end)" wait_for 10 grep -q '^ended: error' "$TEST_TMP/hold.out"
exec 3>&-
check "c: a new flow through local-socks works after the reset" bash -c "curl -s -m 30 --socks5 127.0.0.1:$SP http://127.0.0.1:$HTTP/secret.bin | sha256sum | grep -q $(sha "$TEST_TMP/www/secret.bin")"

# d. KCP and UDP, sealed
LPK=$(free_port)
local_port kcp "$K/l1.key" "$PIN" -l "127.0.0.1:$LPK" -k -i "kcp-$$"
LPD=$(free_port)
local_port udp "$K/l1.key" "$PIN" -l "127.0.0.1:$LPD" -u -t "127.0.0.1:$UECHO" -i "udp-$$"
need "the kcp and udp local-ports are up" wait_for 10 bash -c "ss -Htln | grep -q ':$LPK ' && ss -Huln | grep -q ':$LPD '"
need "they are connected" wait_for 10 connected kcp udp
curl -s -m 60 -o "$TEST_TMP/secret.kcp" "http://127.0.0.1:$LPK/secret.bin"
check "d: KCP through an encrypted flow: the file arrives intact" same "$TEST_TMP/secret.kcp" "$TEST_TMP/www/secret.bin"
check "d: its topics are seal topics" wait_for 5 grep -q "^$PREFIX/$AGENT/kcp-$$/i/seal/" "$TEST_TMP/wire.rec"
out=$($PY "$UDPT" sizes 127.0.0.1 "$LPD" 1 100 1400 8000 2>&1)
check "d: UDP through an encrypted flow: datagrams of 1..8000 bytes come back whole ($out)" grep -q '^sizes ok' <<<"$out"
check "d: its topics are seal topics" wait_for 5 grep -q "^$PREFIX/$AGENT/udp-$$/i/seal/" "$TEST_TMP/wire.rec"

# e. reload: list l2, delist l1; l1's held flow ends, l3's (socks) goes on
exec 4<>"$TEST_TMP/hold.ctl"
timeout 120 $PY "$FLOW" socks-hold "$SP" 127.0.0.1 "$ECHO" <&4 >"$TEST_TMP/hold-socks.out" 2>&1 &
bg_track $!
LPE=$(free_port)
local_port l1e "$K/l1.key" "$PIN" -l "127.0.0.1:$LPE" -t "127.0.0.1:$ECHO"
need "e: l1e listens" wait_for 10 port_listening "$LPE"
need "e: l1e is connected" wait_for 10 connected l1e
timeout 120 $PY "$FLOW" hold "$LPE" </dev/null >"$TEST_TMP/hold-l1.out" 2>&1 &
bg_track $!
need "e: a socks flow (l3) and a local-port flow (l1) are up" wait_for 15 bash -c "grep -q '^up' '$TEST_TMP/hold-socks.out' && grep -q '^up' '$TEST_TMP/hold-l1.out'"
printf '%s socks-1\n%s laptop-2\n' "$(cat "$K/l3.pub")" "$(cat "$K/l2.pub")" >"$K/peers"
kill -HUP "$agent_PID"
check "e: the agent reloads its list" wait_for 10 grep -q "reload: 2 locals' keys" "$TEST_TMP/agent.log"
check "e: the delisted local's flow ends" wait_for 10 grep -q '^ended' "$TEST_TMP/hold-l1.out"
echo >&4
check "e: the listed local's flow goes on (an echo round after the reload)" wait_for 10 grep -q '^round ok' "$TEST_TMP/hold-socks.out"
check "e: the newly listed local gets in" bash -c "curl -s -m 30 http://127.0.0.1:$LP2/secret.bin | sha256sum | grep -q $(sha "$TEST_TMP/www/secret.bin")"
curl -s -m 2 -o "$TEST_TMP/after.l1" "http://127.0.0.1:$LP1/secret.bin"
check "e: the delisted local gets nothing" test ! -s "$TEST_TMP/after.l1"

# g. statuses of keyed peers
retained() { timeout 10 mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -t "$1" --retained-only -C 1 -W 3 2>/dev/null; }
AGENT_TOPIC=$PREFIX/$AGENT/-/v/-
SOCKS_TOPIC=$PREFIX/-/socks-$$/v/-
signed_status() { retained "$AGENT_TOPIC" | grep -Eq '"seal":1,"epoch":[0-9]+,"sig":"[A-Za-z0-9+/=]{88}"}$'; }
check "g: the keyed agent's status is signed (seal, epoch, sig)" signed_status
forged_l=$(metric net4mqtt_status_forged_total "$MS")
forged_a=$(metric net4mqtt_status_forged_total)
mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -r -q 1 -t "$AGENT_TOPIC" -m '{}'
mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -r -q 1 -t "$SOCKS_TOPIC" -m '{}'
check "g: the local ignores a \"{}\" on the keyed agent's topic (counted)" wait_for 10 metric_over net4mqtt_status_forged_total "$forged_l" "$MS"
check "g: the agent ignores a \"{}\" on the keyed local's topic (counted)" wait_for 10 metric_over net4mqtt_status_forged_total "$forged_a"
check "g: the local never took the agent for offline" bash -c "! grep -q 'peer $AGENT/- says offline' '$TEST_TMP/socks.log'"
check "g: the agent never took the local for offline" bash -c "! grep -q 'peer -/socks-$$ says offline' '$TEST_TMP/agent.log'"
echo >&4
check "g: the flow between them goes on (an echo round)" wait_for 10 bash -c "[ \$(grep -c '^round ok' '$TEST_TMP/hold-socks.out') -ge 2 ]"
exec 4>&-

# h. the command-line agent: SIGHUP rereads its list
AGENT2=seal-agent2-$$
: >"$K/peers2"
n4m agent2 agent -m "$URL" -i "$AGENT2" -t "127.0.0.1:$HTTP" --seal-key "$K/agent.key" --seal-peers "$K/peers2"
LPH=$(free_port)
MH=$(free_port)
n4m l1h local-port -m "$URL" -i "l1h-$$" -a "$AGENT2" -l "127.0.0.1:$LPH" --seal-key "$K/l1.key" \
	--seal-peer "$AGENT2=$(cat "$K/agent.pub")" --status-listen "127.0.0.1:$MH"
need "h: the second agent is online" wait_status "$BROKER_URL_BASE/$PREFIX/$AGENT2/-/v/-"
need "h: its local listens and is connected" wait_for 10 bash -c "ss -Htln | grep -q ':$LPH ' && grep -q 'mqtt: connected' '$TEST_TMP/l1h.log'"
curl -s -m 2 -o "$TEST_TMP/h.before" "http://127.0.0.1:$LPH/secret.bin"
check "h: with an empty list, the local gets nothing" test ! -s "$TEST_TMP/h.before"
echo "$(cat "$K/l1.pub") laptop-1" >"$K/peers2"
kill -HUP "$agent2_PID"
check "h: SIGHUP rereads the list" wait_for 10 grep -q "reload: 1 locals' keys" "$TEST_TMP/agent2.log"
curl -s -m 30 -o "$TEST_TMP/h.after" "http://127.0.0.1:$LPH/secret.bin"
check "h: the local now listed gets the file" same "$TEST_TMP/h.after" "$TEST_TMP/www/secret.bin"

# i. the epoch of signed statuses
AGENT2_TOPIC=$PREFIX/$AGENT2/-/v/-
retained "$AGENT2_TOPIC" | tr -d "\n" >"$TEST_TMP/agent2.old-status" # as published: no newline
check "i: the second agent's signed online status is captured" grep -q '"online":true,.*"sig"' "$TEST_TMP/agent2.old-status"
says() { grep -c "peer $AGENT2/- $1" "$TEST_TMP/l1h.log"; }
offline_before=$(says "says offline")
kill -9 "$agent2_PID"
check "i: the local takes the killed agent's signed will (offline)" wait_for 15 bash -c "[ \$(grep -c 'peer $AGENT2/- says offline' '$TEST_TMP/l1h.log') -gt $offline_before ]"
online_before=$(says online)
n4m agent2 agent -m "$URL" -i "$AGENT2" -t "127.0.0.1:$HTTP" --seal-key "$K/agent.key" --seal-peers "$K/peers2"
check "i: ... and its new online status (a new epoch) when it is back" wait_for 15 bash -c "[ \$(grep -c 'peer $AGENT2/- online' '$TEST_TMP/l1h.log') -gt $online_before ]"
curl -s -m 30 -o "$TEST_TMP/i.after" "http://127.0.0.1:$LPH/secret.bin"
check "i: flows work through the agent started again" same "$TEST_TMP/i.after" "$TEST_TMP/www/secret.bin"
forged=$(metric net4mqtt_status_forged_total "$MH")
mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -q 1 -t "$AGENT2_TOPIC" -f "$TEST_TMP/agent2.old-status"
check "i: the old online status, published again, is ignored (counted)" wait_for 10 metric_over net4mqtt_status_forged_total "$forged" "$MH"
check "i: ... as older than the last one" grep -q "peer $AGENT2/-: a status older than the last one (replayed): ignored" "$TEST_TMP/l1h.log"
check "every process is still running" all_running "$agent_PID" "$l1_PID" "$l2_PID" "$socks_PID" "$plain_agent_PID"

# g, last: the keyed local's real offline status, signed, is taken (not counted as forged)
forged_a=$(metric net4mqtt_status_forged_total)
kill "$socks_PID"
check "g: the agent takes the keyed local's signed offline status when it stops" \
	wait_for 10 grep -q "peer -/socks-$$ says offline" "$TEST_TMP/agent.log"
check "g: ... and counts nothing forged" test "$(metric net4mqtt_status_forged_total)" -eq "$forged_a"

# f. mistakes in the options: one line, exit 2
usage_error() { # WHAT PATTERN ARGS...
	local what=$1 pattern=$2; shift 2
	local out rc
	out=$(timeout 5 "$N4M" "$@" 2>&1 </dev/null)
	rc=$?
	check "f: $what: exit 2 and one line naming it ($out)" test "$rc" -eq 2 -a "$(wc -l <<<"$out")" -eq 1 -a -n "$(grep -- "$pattern" <<<"$out")"
}
usage_error "--seal-peer without --seal-key" "needs --seal-key" local-port -m "$URL" --seal-peer "$PIN"
usage_error "an agent's --seal-key without --seal-peers" "needs --seal-peers" agent -m "$URL" --seal-key "$K/agent.key"
usage_error "a bad public key" "want AGENT=KEY" local-port -m "$URL" --seal-key "$K/l1.key" --seal-peer "$AGENT=notakey"
usage_error "a missing key file" "cannot read --seal-key" local-port -m "$URL" --seal-key "$K/none.key" --seal-peer "$PIN"
echo junk >"$K/peers.bad"
usage_error "a bad line in --seal-peers" "peers.bad:1" agent -m "$URL" --seal-key "$K/agent.key" --seal-peers "$K/peers.bad"

# j. a key file every user may read: accepted, with one warning (it is read twice: the check, the start)
cp "$K/l1.key" "$K/open.key" && chmod 644 "$K/open.key"
n4m openkey local-port -m "$URL" -i "open-$$" -a "$AGENT" --seal-key "$K/open.key" --seal-peer "$PIN" \
	-l "127.0.0.1:$(free_port)"
check "j: a key file of mode 0644 is accepted" wait_for 10 connected openkey
warned=$(grep -c -- "--seal-key $K/open.key can be read by every user (mode 0644)" "$TEST_TMP/openkey.log")
check "j: ... with one warning naming it and its mode (saw $warned)" test "$warned" -eq 1
finish
