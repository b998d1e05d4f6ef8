#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m in lib.sh
# The agent's allowlist (--allow CIDR[:PORTS]) and the flow limit (--max-flows):
# an allowed destination works; one outside the list (by address, by port, or
# by a name that resolves outside it) is refused fast with the close signal and
# a log line, while other flows carry on; the default target is always
# allowed; without --allow the agent warns at start. A local at --max-flows
# refuses the next connection with a clear log line and keeps the open ones.
# Started as root, agents and locals keep no capability (no_new_privs); --user
# switches to an unprivileged user, and an unknown user is a clear error.
set -u
source "$(dirname "$0")/../lib.sh"

PREFIX=e2e/allow
AGENT=allow-agent

start_broker || { fail "mosquitto starts"; exit 1; }
URL="$BROKER_URL_BASE/$PREFIX"

mkdir -p "$TEST_TMP/ok" "$TEST_TMP/no" "$TEST_TMP/dflt"
echo "allowed $RANDOM" >"$TEST_TMP/ok/index.html"
echo "forbidden $RANDOM" >"$TEST_TMP/no/index.html"
echo "default $RANDOM" >"$TEST_TMP/dflt/index.html"
OK=$(free_port)
start_http "$TEST_TMP/ok" "$OK" || { fail "http server starts"; exit 1; }
NO=$(free_port)
start_http "$TEST_TMP/no" "$NO" || { fail "second http server starts"; exit 1; }
DFLT=$(free_port)
start_http "$TEST_TMP/dflt" "$DFLT" || { fail "third http server starts"; exit 1; }

n4m agent agent -m "$URL?client_id=$AGENT" -i "$AGENT" -t "127.0.0.1:$DFLT" \
	--allow "127.0.0.1/32:$OK" --allow "10.0.0.0/8"
n4m open agent -m "$URL?client_id=open-agent" -i open-agent -t "127.0.0.1:$DFLT"
SOCKS=$(free_port)
n4m socks local-socks -m "$URL?client_id=allow-socks" -i allow-socks -a "$AGENT" -l "127.0.0.1:$SOCKS"
LP=$(free_port)
n4m lp local-port -m "$URL?client_id=allow-lp" -i allow-lp -a "$AGENT" -l "127.0.0.1:$LP" --max-flows 3
need "listeners up" wait_for 10 bash -c "ss -Htln 'sport = :$SOCKS' | grep -q . && ss -Htln 'sport = :$LP' | grep -q ."
need "agent online" wait_status "$URL/$AGENT/-/v/-"
need "open-agent online" wait_status "$URL/open-agent/-/v/-"

check "an agent with --allow does not warn about it" bash -c "! grep -q 'no --allow' '$TEST_TMP/agent.log'"
check "an agent without --allow warns that anyone may reach any address" \
	grep -q "WARN  agent: no --allow: whoever may publish to $PREFIX/open-agent/+/i/# can reach any address" \
	"$TEST_TMP/open.log"

# curl_socks SECS URL: body on stdout; rc 124 means it hung
curl_socks() { timeout "$1" curl -sS --socks5-hostname "127.0.0.1:$SOCKS" "$2" 2>"$TEST_TMP/curl.err"; }

body=$(curl_socks 10 "http://127.0.0.1:$OK/")
check "allowed 127.0.0.1:$OK through the agent (got '$body')" test "$body" = "$(cat "$TEST_TMP/ok/index.html")"

t=$SECONDS
body=$(curl_socks 20 "http://127.0.0.1:$NO/")
rc=$?
check "127.0.0.1:$NO (port not listed) is refused: curl fails fast (rc $rc, $((SECONDS - t)) s, body '$body')" \
	test "$rc" -ne 0 -a "$rc" -ne 124 -a -z "$body"
check "the agent logs the refusal" grep -q "127.0.0.1:$NO is not allowed (--allow): refused" "$TEST_TMP/agent.log"

body=$(curl_socks 20 "http://localhost:$NO/")
rc=$?
check "a name resolving outside the list (localhost:$NO) is refused too (rc $rc)" \
	test "$rc" -ne 0 -a "$rc" -ne 124 -a -z "$body"
body=$(curl_socks 10 "http://localhost:$OK/")
check "... while localhost:$OK (allowed address and port) works (got '$body')" \
	test "$body" = "$(cat "$TEST_TMP/ok/index.html")"

body=$(timeout 10 curl -sS "http://127.0.0.1:$LP/" 2>/dev/null)
check "the default target 127.0.0.1:$DFLT, not in the list, is always allowed (got '$body')" \
	test "$body" = "$(cat "$TEST_TMP/dflt/index.html")"
line=$(stats agent "$agent_PID")
check "the agent counts the refusals ($(stat_field "$line" refused))" test "$(stat_field "$line" refused)" -ge 2
check "the agent is still running" all_running "$agent_PID"

# Privileges: started as root, the agent and the locals keep no capability (the
# agent CAP_NET_RAW alone, for its echo requests, where net.ipv4.ping_group_range
# keeps it from ICMP datagram sockets); --user drops root.
caps() { sed -n "s/^$2:\t//p" "/proc/$1/status"; }
if [ "$(id -u)" = 0 ]; then
	agent_caps=0000000000000000
	grep -q "ICMP echo with a raw socket" "$TEST_TMP/agent.log" && agent_caps=0000000000002000 # CAP_NET_RAW
	check "the agent (started as root) has no capabilities left but $agent_caps ($(caps "$agent_PID" CapEff), bounding $(caps "$agent_PID" CapBnd); ping_group_range $(sysctl -n net.ipv4.ping_group_range | tr '\t' ' '))" \
		test "$(caps "$agent_PID" CapEff)" = $agent_caps -a "$(caps "$agent_PID" CapBnd)" = $agent_caps
	check "... and no_new_privs" test "$(caps "$agent_PID" NoNewPrivs)" = 1
	check "the local-socks neither ($(caps "$socks_PID" CapEff))" test "$(caps "$socks_PID" CapEff)" = 0000000000000000
	n4m nobody agent -m "$URL?client_id=nobody-agent" -i nobody-agent -t "127.0.0.1:$DFLT" --user nobody
	NLP=$(free_port)
	n4m nlp local-port -m "$URL?client_id=nobody-lp" -i nobody-lp -a nobody-agent -l "127.0.0.1:$NLP" --user nobody
	check "an agent with --user nobody comes up" wait_status "$URL/nobody-agent/-/v/-"
	check "... runs as nobody ($(caps "$nobody_PID" Uid | cut -f1))" \
		test "$(caps "$nobody_PID" Uid | cut -f1)" = "$(id -u nobody)"
	check "... and carries flows" wait_for 10 bash -c \
		"[ \"\$(curl -s -m 5 http://127.0.0.1:$NLP/)\" = '$(cat "$TEST_TMP/dflt/index.html")' ]"
	n4m baduser agent -m "$URL?client_id=baduser" -i baduser --user no-such-user-$$
	check "--user with an unknown user exits with a clear error" wait_for 10 bash -c \
		"! kill -0 $baduser_PID 2>/dev/null && grep -q 'cannot drop privileges to user no-such-user-$$' '$TEST_TMP/baduser.log'"
else
	skip "privileges: not root"
fi

# --max-flows 3 on the local-port: three held connections, the fourth is refused.
for i in 1 2 3; do
	(sleep 30 | timeout 30 nc 127.0.0.1 "$LP") >"$TEST_TMP/hold$i.log" 2>&1 &
	bg_track $!
done
check "three connections are open through the local" \
	wait_for 10 bash -c "[ \"\$(ss -Htn state established 'dport = :$LP' | wc -l)\" -ge 3 ]"
body=$(timeout 10 curl -sS "http://127.0.0.1:$LP/" 2>"$TEST_TMP/curl4.err")
rc=$?
check "a fourth is refused at once (rc $rc, $(head -c 80 "$TEST_TMP/curl4.err"))" test "$rc" -ne 0 -a "$rc" -ne 124
check "with a clear log line" grep -q "refusing new flows: 3 open (--max-flows 3)" "$TEST_TMP/lp.log"
check "the three held connections are still open" \
	bash -c "[ \"\$(ss -Htn state established 'dport = :$LP' | wc -l)\" -ge 3 ]"
finish
