#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m in lib.sh
# The agent cannot reach the destination: the client's connection is closed
# promptly (an error from curl, not a hang), the agent keeps serving other
# flows, and a destination name that does not resolve also ends promptly.
set -u
source "$(dirname "$0")/../lib.sh"

PREFIX=e2e/unreachable
AGENT=unr-agent

start_broker || { fail "mosquitto starts"; exit 1; }
URL="$BROKER_URL_BASE/$PREFIX"

mkdir -p "$TEST_TMP/www"
echo "the working server $RANDOM" >"$TEST_TMP/www/index.html"
HTTP=$(free_port)
start_http "$TEST_TMP/www" "$HTTP" || { fail "http server starts"; exit 1; }
CLOSED=$(free_port) # nobody listens here

n4m agent agent -m "$URL?client_id=$AGENT" -i "$AGENT" -t "127.0.0.1:$CLOSED"
LP=$(free_port)
n4m local local-port -m "$URL?client_id=unr-local" -i unr-local -a "$AGENT" -l "127.0.0.1:$LP"
LPW=$(free_port)
n4m localw local-port -m "$URL?client_id=unr-localw" -i unr-localw -a "$AGENT" -l "127.0.0.1:$LPW" \
	-t "127.0.0.1:$HTTP"
LPN=$(free_port)
n4m localn local-port -m "$URL?client_id=unr-localn" -i unr-localn -a "$AGENT" -l "127.0.0.1:$LPN" \
	-t "nonexistent.invalid:80"
need "local-ports listen" wait_for 10 bash -c \
	"for p in $LP $LPW $LPN; do ss -Htln \"sport = :\$p\" | grep -q . || exit 1; done"
need "agent publishes its online status" wait_status "$BROKER_URL_BASE/$PREFIX/$AGENT/-/v/-"

# 0. An agent id nobody uses (a typo): the local's flow ends once it hears
# nothing for 30 s (FLOW_AGENT_SILENCE_S), instead of hanging. Started first,
# checked last, so the rest of the test runs meanwhile.
LPG=$(free_port)
n4m localg local-port -m "$URL?client_id=unr-localg" -i unr-localg -a no-such-agent -l "127.0.0.1:$LPG"
need "the local-port to a missing agent listens" wait_for 10 port_listening "$LPG"
# Under the sanitizers this 30 s wait is left to the plain run (make test): it
# is one timer, and CI has 20 minutes for both runs.
GHOST=1
[ -n "${ASAN_OPTIONS:-}" ] && GHOST=0
[ $GHOST = 1 ] && { (timeout 60 curl -sS -o /dev/null "http://127.0.0.1:$LPG/" 2>"$TEST_TMP/ghost.err"; echo $? >"$TEST_TMP/ghost.rc") & }
GHOST_START=$SECONDS

# curl_rc SECS URL: curl's exit code (124 if `timeout` had to stop it), error text in $TEST_TMP/curl.err
curl_rc() {
	rm -f "$TEST_TMP/curl.out"
	timeout "$1" curl -sS -o "$TEST_TMP/curl.out" "$2" 2>"$TEST_TMP/curl.err"
	echo $?
}
ends_with_error() { # rc what
	if [ "$1" -eq 124 ]; then
		fail "$2: curl hung until timeout stopped it"
	elif [ "$1" -eq 0 ]; then
		fail "$2: curl succeeded"
	else
		pass "$2: curl fails with rc $1 ($(head -c 100 "$TEST_TMP/curl.err"))"
	fi
}

# 1. The agent's default target is a closed port.
rc=$(curl_rc 10 "http://127.0.0.1:$LP/")
ends_with_error "$rc" "agent target is a closed port"
check "the agent logs that it cannot connect" grep -q 'cannot connect' "$TEST_TMP/agent.log"

# nc sees the same: its connection is closed by the far side, not left open.
out=$(printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 nc 127.0.0.1 "$LP")
rc=$?
check "nc to a closed target is closed by the tunnel (nc rc $rc, not 124; got ${#out} bytes)" \
	test "$rc" -ne 124 -a -z "$out"

# 2. The agent still serves a flow to a working server.
rc=$(curl_rc 10 "http://127.0.0.1:$LPW/")
check "afterwards the same agent still serves a working target (rc $rc)" \
	cmp -s "$TEST_TMP/www/index.html" "$TEST_TMP/curl.out"

# 3. A destination name that does not resolve.
rc=$(curl_rc 20 "http://127.0.0.1:$LPN/")
ends_with_error "$rc" "target nonexistent.invalid:80 does not resolve"

# The same through local-socks: the client names a closed port.
SP=$(free_port)
n4m socks local-socks -m "$URL?client_id=unr-socks" -i unr-socks -a "$AGENT" -l "127.0.0.1:$SP"
wait_for 10 port_listening "$SP" || fail "local-socks listens"
timeout 10 curl -sS -o "$TEST_TMP/curl.out" --socks5 "127.0.0.1:$SP" "http://127.0.0.1:$CLOSED/" 2>"$TEST_TMP/curl.err"
ends_with_error "$?" "local-socks to a closed port"
timeout 20 curl -sS -o "$TEST_TMP/curl.out" --socks5-hostname "127.0.0.1:$SP" "http://nonexistent.invalid:$HTTP/" \
	2>"$TEST_TMP/curl.err"
ends_with_error "$?" "local-socks to a name that does not resolve"

# Several unreachable flows at once all end, and the agent is fine.
pids=()
for i in 1 2 3 4 5; do
	(timeout 10 curl -sS -o /dev/null "http://127.0.0.1:$LP/" 2>/dev/null; echo $? >"$TEST_TMP/many.$i") &
	pids+=($!)
done
wait "${pids[@]}"
rcs=$(cat "$TEST_TMP"/many.* | tr '\n' ' ')
check "5 clients at once to the closed target all get an error, none hangs (rcs $rcs)" \
	bash -c "! grep -Eqw '0|124' <<<'$rcs'"
rc=$(curl_rc 10 "http://127.0.0.1:$LPW/")
check "and the working target still works (rc $rc)" cmp -s "$TEST_TMP/www/index.html" "$TEST_TMP/curl.out"
if [ $GHOST = 1 ]; then
	wait_for 45 test -s "$TEST_TMP/ghost.rc"
	rc=$(cat "$TEST_TMP/ghost.rc" 2>/dev/null || echo none)
	check "a flow to an agent id nobody uses ends with an error after $((SECONDS - GHOST_START)) s, no hang (rc $rc: $(head -c 80 "$TEST_TMP/ghost.err"))" \
		bash -c "[ '$rc' != none ] && [ '$rc' -ne 0 ] && [ '$rc' -ne 124 ]"
	check "the local says why" grep -q 'no answer in 30 s from agent no-such-agent, whose status was never seen' \
		"$TEST_TMP/localg.log"
else
	skip "a flow to an agent id nobody uses: its 30 s wait runs in make test, not under the sanitizers"
fi
check "agent and local-ports still running" all_running "$agent_PID" "$local_PID" "$localw_PID" "$localn_PID" "$socks_PID"
finish
