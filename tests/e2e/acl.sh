#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m in lib.sh
# The mosquitto ACL in examples/mosquitto/acl, with a password file and no
# anonymous access: user names are node ids (agent-a, local-1, local-2).
# Checks: anonymous clients and wrong passwords are turned away; local-1
# reaches agent-a's target through the confined broker; local-1 cannot publish
# into local-2's flows (agent-a never sees the flow, while the same message
# from local-2 opens it); local-1 cannot pose as agent-a on local-2's o topic
# (local-2's subscriber gets agent-a's message, never the forgery) nor read it;
# local-1 cannot overwrite agent-a's retained status.
set -u
source "$(dirname "$0")/../lib.sh"
TOP=$(cd "$(dirname "$0")/../.." && pwd)
TOOL=$TOP/tests/e2e/helpers/nettool.py
PREFIX=net4mqtt # examples/mosquitto/acl is written for this prefix

cp "$TOP/examples/mosquitto/acl" "$TEST_TMP/acl" || { fail "examples/mosquitto/acl exists"; exit 1; }
PW=$TEST_TMP/passwd
mosquitto_passwd -b -c "$PW" agent-a "pw-a-$$" && mosquitto_passwd -b "$PW" local-1 "pw-1-$$" &&
	mosquitto_passwd -b "$PW" local-2 "pw-2-$$" || { fail "mosquitto_passwd writes the password file"; exit 1; }
chmod 644 "$PW" "$TEST_TMP/acl" # mosquitto started as root reads them as user mosquitto
start_broker "$(free_port)" "allow_anonymous false" "password_file $PW" "acl_file $TEST_TMP/acl" ||
	{ fail "mosquitto starts with the password file and the ACL"; exit 1; }
BP=$BROKER_PORT
# as USER ARGS...: a mosquitto client authenticated as USER (command: mosquitto_pub or mosquitto_sub)
as() { local user=$1 cmd=$2; shift 2; "$cmd" -h 127.0.0.1 -p "$BP" -u "$user" -P "$(pass_of "$user")" "$@"; }
# must WHAT command...: a check the rest cannot do without (unlike need, blind to earlier failures)
must() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; exit 1; fi
}
pass_of() { case $1 in agent-a) echo "pw-a-$$" ;; local-1) echo "pw-1-$$" ;; local-2) echo "pw-2-$$" ;; *) echo wrong ;; esac; }

out=$(timeout 10 mosquitto_sub -h 127.0.0.1 -p "$BP" -t '#' -C 1 -W 5 2>&1)
check "an anonymous client cannot connect ($out)" grep -qi 'not authori[sz]ed' <<<"$out"
out=$(timeout 10 mosquitto_sub -h 127.0.0.1 -p "$BP" -u local-1 -P wrong -t '#' -C 1 -W 5 2>&1)
check "local-1 with a wrong password cannot connect ($out)" grep -qi 'not authori[sz]ed' <<<"$out"

ECHO=$(free_port)
SINK=$(free_port)
$PY "$TOOL" echo-tcp "$ECHO" >"$TEST_TMP/echo.log" 2>&1 &
bg_track $!
$PY "$TOOL" sink "$SINK" >"$TEST_TMP/sink.out" 2>&1 &
bg_track $!
must "test servers start" wait_for 10 bash -c "ss -Htln 'sport = :$ECHO or sport = :$SINK' | grep -c . | grep -qx 2"

LP=$(free_port)
n4m agent agent -m "mqtt://agent-a:pw-a-$$@127.0.0.1:$BP/$PREFIX?client_id=agent-a" -i agent-a -t "127.0.0.1:$ECHO"
n4m local local-port -m "mqtt://local-1:pw-1-$$@127.0.0.1:$BP/$PREFIX?client_id=local-1" -i local-1 -a agent-a \
	-l "127.0.0.1:$LP"
check "agent-a connects with its password" wait_for 10 grep -q 'mqtt: connected to' "$TEST_TMP/agent.log"
check "local-1 connects with its password" wait_for 10 grep -q 'mqtt: connected to' "$TEST_TMP/local.log"
check "agent-a's retained status is readable (by local-2) and online" \
	wait_status "mqtt://local-2:pw-2-$$@127.0.0.1:$BP/$PREFIX/agent-a/-/v/-"
check "local-1 has seen agent-a online (statuses pass the ACL)" wait_for 10 grep -q 'peer agent-a/- online' "$TEST_TMP/local.log"
check "agent-a has seen local-1 online" wait_for 10 grep -q 'peer -/local-1 online' "$TEST_TMP/agent.log"
check "local-1 listens" wait_for 10 port_listening "$LP"
res=$(timeout 60 $PY "$TOOL" echo-once "$LP" 300000 2>&1)
check "local-1 through agent-a: 300 KB echoed byte-exact ($res)" test "$res" = "echo ok"
res=$(timeout 60 $PY "$TOOL" concurrent "$LP" 10 1000 50000 2>&1)
check "local-1 through agent-a: 10 concurrent flows (${res%%$'\n'*})" grep -q ' 10 ok, 0 failed' <<<"$res"

### local-1 publishes into local-2's flow topic: the broker drops it
opened_before=$(stat_field "$(stats agent "$agent_PID")" opened)
forged=$PREFIX/agent-a/local-2/i/tcp/127.0.0.1:11111/127.0.0.1:$SINK
as local-1 mosquitto_pub -q 1 -t "$forged" -m "forged by local-1"
rc=$?
check "local-1's publish into local-2's i topic was acknowledged (rc $rc; MQTT 3.1.1 cannot say no)" test "$rc" -eq 0
# the control: the same kind of message from local-2 itself, sent after the forgery was acknowledged
as local-2 mosquitto_pub -q 1 -t "$PREFIX/agent-a/local-2/i/tcp/127.0.0.1:22222/127.0.0.1:$SINK" -m "from local-2"
check "control: local-2's own message opens a flow at agent-a to the sink" \
	wait_for 10 grep -q "127.0.0.1:22222 from local-2/agent-a to 127.0.0.1:$SINK" "$TEST_TMP/agent.log"
check "control: the sink accepted that connection" wait_for 10 grep -q '^accepted 1' "$TEST_TMP/sink.out"
check "agent-a never opened local-1's forged flow (no 127.0.0.1:11111 in its log)" \
	bash -c "! grep -q '127.0.0.1:11111' '$TEST_TMP/agent.log'"
opened=$(stat_field "$(stats agent "$agent_PID")" opened)
check "agent-a opened one flow, local-2's (opened $opened_before -> $opened)" test "$opened" = "$((opened_before + 1))"
check "the sink saw one connection, not two ($(grep -c '^accepted' "$TEST_TMP/sink.out"))" \
	test "$(grep -c '^accepted' "$TEST_TMP/sink.out")" -eq 1

### local-1 poses as agent-a toward local-2, and tries to read local-2's replies
o2=$PREFIX/agent-a/local-2/o/tcp/127.0.0.1:33333/-
marker=$PREFIX/agent-a/local-1/o/tcp/127.0.0.1:44444/-
# local-2 listens on its o topics; local-1 subscribes to local-2's and to its own
timeout 30 stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$BP" -u local-2 -P "pw-2-$$" -d -v -t "$PREFIX/+/local-2/o/#" \
	-C 1 -W 20 >"$TEST_TMP/sub-local2.out" 2>&1 &
bg_track $!
timeout 30 stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$BP" -u local-1 -P "pw-1-$$" -d -v -t "$PREFIX/+/local-2/o/#" \
	-t "$PREFIX/+/local-1/o/#" -C 1 -W 20 >"$TEST_TMP/sub-local1.out" 2>&1 &
bg_track $!
must "both subscribers have their SUBACK" wait_for 10 bash -c \
	"grep -q 'received SUBACK' '$TEST_TMP/sub-local2.out' && grep -q 'received SUBACK' '$TEST_TMP/sub-local1.out'"
as local-1 mosquitto_pub -q 1 -t "$o2" -m "forged by local-1"
as agent-a mosquitto_pub -q 1 -t "$o2" -m "from agent-a"
as agent-a mosquitto_pub -q 1 -t "$marker" -m "marker for local-1"
check "local-2's subscriber got a message on its o topic" wait_for 10 grep -q "^$PREFIX/" "$TEST_TMP/sub-local2.out"
first=$(grep "^$PREFIX/" "$TEST_TMP/sub-local2.out" | head -n 1)
check "... and the first is agent-a's, the forgery never reached it (got '$first')" test "$first" = "$o2 from agent-a"
check "local-1's subscriber got the marker on its own o topic" wait_for 10 grep -q "^$PREFIX/" "$TEST_TMP/sub-local1.out"
first=$(grep "^$PREFIX/" "$TEST_TMP/sub-local1.out" | head -n 1)
check "... before it, nothing of local-2's: local-1 cannot read local-2's replies (got '$first')" \
	test "$first" = "$marker marker for local-1"

### local-1 tries to mark agent-a offline (its retained status)
as local-1 mosquitto_pub -q 1 -r -t "$PREFIX/agent-a/-/v/-" -m "{}"
st=$(timeout 10 mosquitto_sub -h 127.0.0.1 -p "$BP" -u local-2 -P "pw-2-$$" -t "$PREFIX/agent-a/-/v/-" -C 1 -W 5 2>/dev/null)
check "agent-a's retained status is still online after local-1's forged {} ($st)" grep -q '"online":true' <<<"$st"
check "local-1's process did not see agent-a go offline" bash -c "! grep -q 'peer agent-a/- went offline' '$TEST_TMP/local.log'"
res=$(timeout 60 $PY "$TOOL" echo-once "$LP" 100000 2>&1)
check "local-1 through agent-a still works ($res)" test "$res" = "echo ok"
check "agent-a and local-1 still run" all_running "$agent_PID" "$local_PID"
finish
