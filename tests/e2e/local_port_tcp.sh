#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m in lib.sh
# local-port TCP: a line with nc both ways byte-exact, a 5 MB download with curl
# and a 3 MiB upload with nc (sha256), -t on local-port overriding the agent's default target, and IPv6
# listen and target addresses ([::1]).
set -u
source "$(dirname "$0")/../lib.sh"

TOOL=$(cd "$(dirname "$0")" && pwd)/helpers/tcptool.py
PREFIX=e2e/lp-tcp
AGENT=lptcp-agent

start_broker || { fail "mosquitto starts"; exit 1; }
URL="$BROKER_URL_BASE/$PREFIX"

# The agent's default target: a line server that records what it read.
LINE=$(free_port)
$PY "$TOOL" line-server 127.0.0.1 "$LINE" "$TEST_TMP/line.got" "pong from the line server" \
	>"$TEST_TMP/line-server.log" 2>&1 &
bg_track $!
# An HTTP server with a 5 MB random file.
mkdir -p "$TEST_TMP/www"
head -c $((5 * 1024 * 1024)) /dev/urandom >"$TEST_TMP/www/big.bin"
echo "index of the http server" >"$TEST_TMP/www/index.html"
HTTP=$(free_port)
start_http "$TEST_TMP/www" "$HTTP" || { fail "http server starts"; exit 1; }
wait_for 10 port_listening "$LINE" || { fail "line server starts"; exit 1; }

n4m agent agent -m "$URL?client_id=$AGENT" -i "$AGENT" -t "127.0.0.1:$LINE"
LP=$(free_port)
n4m local local-port -m "$URL?client_id=lptcp-local" -i lptcp-local -a "$AGENT" -l "127.0.0.1:$LP"
LPH=$(free_port)
n4m localh local-port -m "$URL?client_id=lptcp-localh" -i lptcp-localh -a "$AGENT" \
	-l "127.0.0.1:$LPH" -t "127.0.0.1:$HTTP"
need "local-port listens" wait_for 10 port_listening "$LP"
need "local-port with -t listens" wait_for 10 port_listening "$LPH"
need "agent publishes its online status" wait_status "$BROKER_URL_BASE/$PREFIX/$AGENT/-/v/-"

# 1. nc: a line up, a line down.
line="hello $(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n') \\ \$tab	end"
reply=$(printf '%s\n' "$line" | timeout 10 nc -N 127.0.0.1 "$LP")
rc=$?
check "nc through local-port gets the server's reply byte-exact (rc $rc, got '$reply')" \
	test "$reply" = "pong from the line server"
printf '%s\n' "$line" >"$TEST_TMP/line.sent"
check "the server received the client's line byte-exact" cmp -s "$TEST_TMP/line.sent" "$TEST_TMP/line.got"

# 2. curl: 5 MB over local-port -t to the http server, while a subscriber notes the
# size of every message: none over the default --packet-size (40960 bytes with
# topic and header), and the bulk near it.
rm -f "$TEST_TMP/big.out"
mosquitto_sub -d -L "$BROKER_URL_BASE/$PREFIX/#" -F '%l' >"$TEST_TMP/sizes" 2>&1 &
SIZES_PID=$!
bg_track "$SIZES_PID"
wait_for 10 grep -q SUBACK "$TEST_TMP/sizes"
timeout 60 curl -sS -o "$TEST_TMP/big.out" "http://127.0.0.1:$LPH/big.bin" 2>"$TEST_TMP/curl-big.err"
rc=$?
wait_for 10 bash -c "[ \$(awk '/^[0-9]+\$/ && \$1 > 30000' '$TEST_TMP/sizes' | wc -l) -ge 100 ]"
kill "$SIZES_PID"
largest=$(grep -x '[0-9]*' "$TEST_TMP/sizes" | sort -n | tail -n 1)
check "a bulk download is carried in messages near 40960 bytes and never over (largest payload ${largest:-none})" \
	test "${largest:-0}" -gt 30000 -a "${largest:-0}" -le 40960
want=$(sha256sum <"$TEST_TMP/www/big.bin" | cut -d' ' -f1)
got=$(sha256sum <"$TEST_TMP/big.out" 2>/dev/null | cut -d' ' -f1)
size=$(stat -c %s "$TEST_TMP/big.out" 2>/dev/null || echo 0)
check "curl downloads 5 MB through local-port, sha256 matches (rc $rc, $size bytes)" \
	test "$rc" -eq 0 -a "$want" = "$got"

# 3 MiB up: the server reads to EOF and answers with the sha256 of what it read.
# (Below the agent's 4 MiB per-flow cap toward a destination: in tcp mode nothing
# slows the sender down, so a bigger upload to a server that lags on a loaded
# machine is reset by design, "destination too slow".)
UPS=$(free_port)
$PY "$TOOL" eof-server 127.0.0.1 "$UPS" 0 "$TEST_TMP/upload.got" >"$TEST_TMP/upload-server.log" 2>&1 &
bg_track $!
wait_for 10 port_listening "$UPS" || fail "upload server starts"
LPU=$(free_port)
n4m localu local-port -m "$URL?client_id=lptcp-localu" -i lptcp-localu -a "$AGENT" \
	-l "127.0.0.1:$LPU" -t "127.0.0.1:$UPS"
wait_for 10 port_listening "$LPU" || fail "local-port for the upload listens"
head -c $((3 * 1024 * 1024)) "$TEST_TMP/www/big.bin" >"$TEST_TMP/up.bin"
got=$(timeout 60 nc -N 127.0.0.1 "$LPU" <"$TEST_TMP/up.bin")
check "nc uploads 3 MiB through local-port, the server's sha256 matches ($(cat "$TEST_TMP/upload.got" 2>/dev/null))" \
	test "$got" = "sha256 $(sha256sum <"$TEST_TMP/up.bin" | cut -d' ' -f1)"

# 3. -t overrides the agent's default target: the same agent, two destinations.
page=$(timeout 10 curl -sS "http://127.0.0.1:$LPH/index.html")
check "local-port -t reaches the http server, not the agent's default target" \
	test "$page" = "index of the http server"
reply=$(printf 'again\n' | timeout 10 nc -N 127.0.0.1 "$LP")
check "local-port without -t still reaches the agent's default target" \
	test "$reply" = "pong from the line server"

# 4. IPv6: local-port on [::1]:P, agent default target [::1]:Q.
if ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/' &&
	$PY -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null; then
	LINE6=$(free_port)
	$PY "$TOOL" line-server ::1 "$LINE6" "$TEST_TMP/line6.got" "pong over v6" \
		>"$TEST_TMP/line6-server.log" 2>&1 &
	bg_track $!
	wait_for 10 port_listening "$LINE6" || fail "line server on [::1] starts"
	n4m agent6 agent -m "$URL?client_id=lptcp-agent6" -i lptcp-agent6 -t "[::1]:$LINE6"
	LP6=$(free_port)
	n4m local6 local-port -m "$URL?client_id=lptcp-local6" -i lptcp-local6 -a lptcp-agent6 -l "[::1]:$LP6"
	check "local-port listens on [::1]:$LP6" wait_for 10 bash -c "ss -Htln 'sport = :$LP6' | grep -q '\[::1\]'"
	need "v6 agent publishes its online status" wait_status "$BROKER_URL_BASE/$PREFIX/lptcp-agent6/-/v/-"
	reply=$(printf 'over v6\n' | timeout 10 nc -6 -N ::1 "$LP6")
	check "nc to [::1] through an agent whose target is [::1] gets the reply (got '$reply')" \
		test "$reply" = "pong over v6"
	check "the [::1] server received the line byte-exact" \
		bash -c "printf 'over v6\n' | cmp -s - '$TEST_TMP/line6.got'"
else
	skip "IPv6 loopback ::1 is not configured"
fi

check "agent still running" all_running "$agent_PID"
finish
