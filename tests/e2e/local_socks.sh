#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m in lib.sh
# local-socks: curl --socks5-hostname by IP, by "localhost" (resolved by the
# agent) and by kxdns name (AGENT.net4mqtt.local -> the agent's default
# target); a look-alike domain is not kxdns; curl --socks5 (local DNS); bad
# SOCKS input gets the right reply codes; a stalled handshake does not block
# other clients; local-socks survives all of it.
set -u
source "$(dirname "$0")/../lib.sh"

RAW=$(cd "$(dirname "$0")" && pwd)/helpers/socksraw.py
PREFIX=e2e/socks
AGENT=socks-agent

start_broker || { fail "mosquitto starts"; exit 1; }
URL="$BROKER_URL_BASE/$PREFIX"

mkdir -p "$TEST_TMP/www"
head -c 300000 /dev/urandom >"$TEST_TMP/www/file"
echo "default target index $RANDOM" >"$TEST_TMP/www/index.html"
HTTP=$(free_port)
start_http "$TEST_TMP/www" "$HTTP" || { fail "http server starts"; exit 1; }

n4m agent agent -m "$URL?client_id=$AGENT" -i "$AGENT" -t "127.0.0.1:$HTTP"
SP=$(free_port)
n4m socks local-socks -m "$URL?client_id=socks-local" -i socks-local -a "$AGENT" -l "127.0.0.1:$SP"
need "local-socks listens" wait_for 10 port_listening "$SP"
need "agent publishes its online status" wait_status "$BROKER_URL_BASE/$PREFIX/$AGENT/-/v/-"

# A client that sends half a greeting and stalls, held open in the background.
timeout 40 $PY "$RAW" stall "$SP" >"$TEST_TMP/stall.out" 2>&1 &
STALL_PID=$!
bg_track "$STALL_PID"
wait_for 10 grep -q '^stalled' "$TEST_TMP/stall.out" || fail "the stalling client connects"

# fetch NAME curl-args...: body to $TEST_TMP/NAME.out, prints curl's exit code.
fetch() {
	local name=$1; shift
	rm -f "$TEST_TMP/$name.out"
	timeout 20 curl -sS -o "$TEST_TMP/$name.out" "$@" 2>"$TEST_TMP/$name.err"
	echo $?
}
same() { cmp -s "$TEST_TMP/www/$1" "$TEST_TMP/$2.out"; }

rc=$(fetch ip --socks5-hostname "127.0.0.1:$SP" "http://127.0.0.1:$HTTP/file")
check "curl --socks5-hostname to http://127.0.0.1:$HTTP/file: 300 KB byte-exact (rc $rc)" same file ip
if grep -q '^stall ended' "$TEST_TMP/stall.out"; then
	skip "the half-greeting client was closed before that curl ended, so it did not run during the stall"
else
	check "so another client's curl is served while a half-greeting client stalls (rc $rc)" same file ip
fi

rc=$(fetch localhost --socks5-hostname "127.0.0.1:$SP" "http://localhost:$HTTP/file")
check "curl --socks5-hostname to http://localhost:$HTTP/file, the agent resolves the name (rc $rc)" \
	same file localhost

rc=$(fetch kxdns --socks5-hostname "127.0.0.1:$SP" "http://$AGENT.net4mqtt.local:1/")
check "kxdns http://$AGENT.net4mqtt.local:1/ reaches the agent's default target (rc $rc)" \
	same index.html kxdns

start=$(date +%s)
rc=$(fetch lookalike --socks5-hostname "127.0.0.1:$SP" "http://${AGENT}foo.net4mqtt.localx:1/")
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then
	pass "${AGENT}foo.net4mqtt.localx is not kxdns: curl fails (rc $rc: $(head -c 120 "$TEST_TMP/lookalike.err")) in $(($(date +%s) - start)) s"
else
	fail "${AGENT}foo.net4mqtt.localx is not kxdns: curl should fail, not succeed or hang (rc $rc)"
fi
if same index.html lookalike; then fail "the look-alike name did not get the default target's page"; else
	pass "the look-alike name did not get the default target's page"; fi
check "the agent was asked for ${AGENT}foo.net4mqtt.localx:1 itself, not its default target" \
	grep -q "to ${AGENT}foo.net4mqtt.localx:1\$" "$TEST_TMP/agent.log"

rc=$(fetch local-dns --socks5 "127.0.0.1:$SP" "http://127.0.0.1:$HTTP/file")
check "curl --socks5 (local DNS) by IP: byte-exact (rc $rc)" same file local-dns

# IPv6 destinations (ATYP 04), if ::1 is configured.
if ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/'; then
	H6=$(free_port)
	(cd "$TEST_TMP/www" && exec $PY -m http.server --bind ::1 "$H6") >"$TEST_TMP/http6.log" 2>&1 &
	bg_track $!
	wait_for 10 port_listening "$H6" || fail "http server on [::1] starts"
	rc=$(fetch v6 --socks5 "127.0.0.1:$SP" "http://[::1]:$H6/file")
	check "curl --socks5 to http://[::1]:$H6/file (IPv6 address type): byte-exact (rc $rc)" same file v6
	rc=$(fetch v6h --socks5-hostname "127.0.0.1:$SP" "http://[::1]:$H6/file")
	check "curl --socks5-hostname to http://[::1]:$H6/file: byte-exact (rc $rc)" same file v6h
else
	skip "IPv6 loopback ::1 is not configured"
fi

# raw NAME: runs one socksraw case, prints its line.
raw() { timeout 20 $PY "$RAW" "$@" 2>&1 | tail -n 1; }

r=$(raw socks4 "$SP")
check "a SOCKS4 client is closed without a SOCKS5 success ($r)" \
	grep -Eq '^reply (-|0[^5]|05[^0]|[^0]).* then (eof|error)' <<<"$r"
r=$(raw userpass-only "$SP")
check "a client offering only username/password gets 05 ff ($r)" grep -q '^reply 05ff then' <<<"$r"
r=$(raw no-methods "$SP")
check "a greeting offering no method (malformed: NMETHODS 0) is closed, 05 ff or nothing ($r)" \
	grep -Eq '^reply (05ff|-) then (eof|error)' <<<"$r"
r=$(raw bind "$SP")
check "a BIND request gets reply code 07 and is closed ($r)" grep -Eq '^reply 0507.* then (eof|error)' <<<"$r"
r=$(raw udp-associate "$SP")
check "a UDP ASSOCIATE request gets reply code 07 and is closed ($r)" grep -Eq '^reply 0507.* then (eof|error)' <<<"$r"
r=$(raw bad-atyp "$SP")
check "an unknown address type gets reply code 08 and is closed ($r)" grep -Eq '^reply 0508.* then (eof|error)' <<<"$r"

r=$(raw pipelined "$SP" "$HTTP")
check "greeting, CONNECT and the first data in one write: both replies, then the page ($r)" \
	grep -qx "pipelined 0500 050000010000000000000* eof body $(cat "$TEST_TMP/www/index.html")" <<<"$r"

check "local-socks is still running after bad input" all_running "$socks_PID"
rc=$(fetch after --socks5-hostname "127.0.0.1:$SP" "http://127.0.0.1:$HTTP/file")
check "a normal curl still works afterwards (rc $rc)" same file after

check "the stalled half-greeting client is closed by the server eventually" \
	wait_for 30 grep -q '^stall ended' "$TEST_TMP/stall.out"
check "local-socks and agent still running" all_running "$socks_PID" "$agent_PID"
finish
