#!/usr/bin/env bash
# shellcheck disable=SC2154 # BROKER_* are set by start_broker in lib.sh
# The status server's page at /, in headless Chromium (--dump-dom, virtual time), against
# `net4mqtt run -c` with an agent, a local-port and a client that keeps sending: the page loads
# without errors, shows the agent online and the flow, whose byte count grows from one load
# to the next; a screenshot is kept in the test logs (web.png). The page fed a synthetic
# /status of 1000 flows lists them all (the time per refresh is printed). A status-listen
# beyond loopback is refused at start without status-password; with one, /, /status,
# /metrics and /status.txt answer 401 without the password or with a wrong one, 200 with it,
# and `net4mqtt status` gets in with it.
set -u
source "$(dirname "$0")/../lib.sh"

PREFIX=e2e/web
AGENT=web-agent
LOGS=${N4M_BUILD:-$(dirname "$0")/../../build}/test-logs
mkdir -p "$LOGS"

PORTS=()
for _ in $(seq 5); do
	while p=$(free_port) && [[ " ${PORTS[*]} " == *" $p "* ]]; do :; done
	PORTS+=("$p")
done
read -r STATUS STATUS2 LP ECHO SYNTH <<<"${PORTS[*]}"

# page URL BUDGET_MS [chromium args...]: the DOM after BUDGET_MS of virtual time (the page's
# timers run that long; virtual time waits for pending fetches), stderr in $TEST_TMP/chromium.err.
page() {
	local url=$1 budget=$2
	shift 2
	timeout -k 5 60 chromium --headless=new --no-sandbox --disable-gpu --no-first-run \
		--user-data-dir="$TEST_TMP/chromium" --enable-logging=stderr --v=0 \
		--virtual-time-budget="$budget" "$@" --dump-dom "$url" 2>"$TEST_TMP/chromium.err"
}
no_page_errors() { # DOM-FILE: the page's #errors is empty and Chromium logged no console error
	grep -q '<pre id="errors" hidden=""></pre>' "$1" &&
		! grep -E 'CONSOLE.*(Uncaught|Error)' "$TEST_TMP/chromium.err"
}
refreshes() { sed -n 's/.*<span id="refreshes">\([0-9]*\)<.*/\1/p' "$1"; }
export -f refreshes port_listening
# The up bytes of the local-port's flow in a DOM: the first data-bytes of its row.
flow_bytes() { grep -o '<tr data-key="[^"]*"><td>local-port web</td>.*' "$1" | head -n 1 |
	grep -o 'data-bytes="[0-9]*"' | head -n 1 | tr -dc 0-9; }

start_broker || { fail "mosquitto starts"; exit 1; }
URL="$BROKER_URL_BASE/$PREFIX"

# ---- beyond loopback: only with a password ----
PW="pw-$RANDOM-$RANDOM"
printf '%s\n' "$PW" >"$TEST_TMP/status.pw"
chmod 600 "$TEST_TMP/status.pw"
write_conf() { # FILE STATUS-LISTEN [extra [net4mqtt] line]
	{
		echo "[net4mqtt]"
		echo "mqtt-url = $URL?client_id=web-$RANDOM"
		echo "status-listen = $2"
		[ -z "${3:-}" ] || echo "$3"
		echo "[agent]"
		echo "id = $AGENT-$RANDOM"
	} >"$1"
}
write_conf "$TEST_TMP/open.conf" "0.0.0.0:$STATUS2"
timeout 10 "$N4M" run -c "$TEST_TMP/open.conf" >"$TEST_TMP/open.out" 2>"$TEST_TMP/open.err"
rc=$?
check "status-listen = 0.0.0.0:$STATUS2 without status-password: run exits 2 at start, one line: $(cat "$TEST_TMP/open.err")" \
	bash -c "[ $rc -eq 2 ] && [ \$(grep -c . '$TEST_TMP/open.err') -eq 1 ] &&
		grep -q 'status-listen: .*is not a loopback address.*status-password' '$TEST_TMP/open.err' &&
		! port_listening $STATUS2"
timeout 10 "$N4M" agent -m "$URL" --status-listen "0.0.0.0:$STATUS2" >/dev/null 2>"$TEST_TMP/open.err"
rc=$?
check "agent --status-listen 0.0.0.0:$STATUS2 without --status-password: exit 2: $(cat "$TEST_TMP/open.err")" \
	bash -c "[ $rc -eq 2 ] && grep -q 'not a loopback address.*--status-password FILE' '$TEST_TMP/open.err'"

write_conf "$TEST_TMP/locked.conf" "0.0.0.0:$STATUS2" "status-password = @$TEST_TMP/status.pw"
"$N4M" run -c "$TEST_TMP/locked.conf" >"$TEST_TMP/locked.log" 2>&1 &
bg_track $!
need "with status-password = @FILE it listens on 0.0.0.0:$STATUS2" wait_for 10 port_listening "$STATUS2"
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
export -f code
for path in / /status /metrics /status.txt; do
	u="http://127.0.0.1:$STATUS2$path"
	check "$path: no password 401, a wrong one 401, the right one 200 (any user name)" \
		bash -c "[ \$(code '$u') = 401 ] && [ \$(code -u admin:wrong-$PW '$u') = 401 ] &&
			[ \$(code -u admin:${PW}x '$u') = 401 ] && [ \$(code -u admin:$PW '$u') = 200 ] &&
			[ \$(code -u someone:$PW '$u') = 200 ]"
done
check "a 401 asks for basic auth (WWW-Authenticate: Basic)" \
	bash -c "curl -s -D - -o /dev/null 'http://127.0.0.1:$STATUS2/status' | grep -qi '^WWW-Authenticate: Basic realm='"
out=$(timeout 10 "$N4M" status -c "$TEST_TMP/locked.conf" 2>&1)
check "net4mqtt status -c FILE sends FILE's status-password: $(head -n 1 <<<"$out")" grep -q '^Broker: ' <<<"$out"
out=$(timeout 10 "$N4M" status --status-listen "127.0.0.1:$STATUS2" 2>&1)
rc=$?
check "net4mqtt status without it: exit 1, says it wants a password: $out" \
	bash -c "[ $rc -eq 1 ] && grep -q 'wants a password' <<<'$out'"
out=$(timeout 10 "$N4M" status --status-listen "127.0.0.1:$STATUS2" --status-password "$TEST_TMP/status.pw" 2>&1)
check "net4mqtt status --status-password FILE: $(head -n 1 <<<"$out")" grep -q '^Broker: ' <<<"$out"

if [ -n "${ASAN_OPTIONS:-}" ]; then
	skip "the page in Chromium (under sanitizers: the plain run shows it; CI's time is short)"
	finish
	exit
fi
if ! command -v chromium >/dev/null; then
	skip "the page in Chromium: chromium is not installed (make deps installs it)"
	finish
	exit
fi
page "http://admin:$PW@127.0.0.1:$STATUS2/" 2500 >"$TEST_TMP/locked.dom"
check "Chromium opens the page with the password in the URL and it refreshes ($(refreshes "$TEST_TMP/locked.dom") refreshes)" \
	bash -c "[ \"\$(refreshes '$TEST_TMP/locked.dom')\" -ge 2 ] 2>/dev/null"

# ---- the page of a running appliance ----
socat "TCP-LISTEN:$ECHO,bind=127.0.0.1,reuseaddr,fork" PIPE >/dev/null 2>&1 &
bg_track $!
{
	echo "[net4mqtt]"
	echo "mqtt-url = $URL?client_id=web-main"
	echo "status-listen = 127.0.0.1:$STATUS"
	echo "[agent]"
	echo "id = $AGENT"
	echo "target = 127.0.0.1:$ECHO"
	echo "[local-port web]"
	echo "listen = 127.0.0.1:$LP"
	echo "agent-id = $AGENT"
} >"$TEST_TMP/web.conf"
"$N4M" run -c "$TEST_TMP/web.conf" >"$TEST_TMP/main.log" 2>&1 &
bg_track $!
need "net4mqtt run -c listens (status and local-port)" \
	wait_for 10 bash -c "$(declare -f port_listening); port_listening $STATUS && port_listening $LP && port_listening $ECHO"
# A client that keeps one flow busy: 1000 bytes every 100 ms, echoed back, for at most 60 s.
"$PY" - "$LP" >"$TEST_TMP/client.log" 2>&1 <<'EOF' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
end = time.time() + 60
while time.time() < end:
    s.sendall(b"x" * 1000)
    got = 0
    while got < 1000:
        got += len(s.recv(65536))
    time.sleep(0.1)
EOF
bg_track $!
STATUS_URL="http://127.0.0.1:$STATUS"
need "/status lists the agent online and the client's flow" wait_for 15 bash -c \
	"curl -s $STATUS_URL/status | grep -q '\"id\":\"$AGENT\",\"online\":true' &&
	 curl -s $STATUS_URL/status | grep -q '\"role\":\"local-port web\"'"
check "/ is the page: HTML, its own script, a CSP that loads nothing from elsewhere" \
	bash -c "curl -s -D - $STATUS_URL/ | tr -d '\r' >'$TEST_TMP/index.http' &&
		grep -q '^Content-Type: text/html' '$TEST_TMP/index.http' &&
		grep -q \"^Content-Security-Policy: default-src 'none'\" '$TEST_TMP/index.http' &&
		grep -q '<title>net4mqtt</title>' '$TEST_TMP/index.http'"

page "$STATUS_URL/" 2500 >"$TEST_TMP/dom1"
check "the page loads with no console errors ($(grep -c CONSOLE "$TEST_TMP/chromium.err") console lines)" \
	no_page_errors "$TEST_TMP/dom1"
check "it refreshed from /status at least twice ($(refreshes "$TEST_TMP/dom1"))" \
	bash -c "[ \"\$(refreshes '$TEST_TMP/dom1')\" -ge 2 ] 2>/dev/null"
check "it shows agent $AGENT online" \
	grep -q "<tr data-agent=\"$AGENT\"><td>$AGENT</td><td class=\"online\">online</td>" "$TEST_TMP/dom1"
check "it shows the broker connected with its reconnects" \
	grep -q '<span class="connected">connected</span>, 0 reconnects' "$TEST_TMP/dom1"
B1=$(flow_bytes "$TEST_TMP/dom1")
check "it lists the local-port's flow, tcpx to $AGENT, with its bytes (${B1:-none})" \
	bash -c "grep -q '<td>local-port web</td><td>tcpx</td><td>$AGENT</td>' '$TEST_TMP/dom1' && [ '${B1:-0}' -gt 0 ]"
grows() {
	page "$STATUS_URL/" 1500 >"$TEST_TMP/dom2"
	B2=$(flow_bytes "$TEST_TMP/dom2")
	[ "${B2:-0}" -gt "${B1:-0}" ]
}
check "loaded again, the flow's byte count has grown (${B1:-none} -> ...)" wait_for 20 grows
echo "    bytes up: $B1 then ${B2:-none}"
rm -f "$LOGS/web.png"
(cd "$TEST_TMP" && page "$STATUS_URL/" 2500 --hide-scrollbars --window-size=1280,1000 --screenshot="$LOGS/web.png" >/dev/null)
check "a screenshot is kept: $LOGS/web.png ($(stat -c %s "$LOGS/web.png" 2>/dev/null) bytes)" \
	bash -c "head -c 8 '$LOGS/web.png' | grep -q PNG"

# ---- 1000 flows: the page as served, fed a synthetic /status ----
mkdir -p "$TEST_TMP/synth"
curl -s "$STATUS_URL/" >"$TEST_TMP/synth/index.html"
synth_status() { # FLOWS: a /status with that many flows listed (and half as many again counted)
	"$PY" - "$1" <<'EOF'
import json, sys
n = int(sys.argv[1])
flows = [{"role": "local-socks", "id": i, "proto": "tcpx" if i % 3 else "udp",
          "key": "ag%d/-/tcp/10.0.%d.%d:%d/192.0.2.%d:443" % (i % 7, i // 250, i % 250, 20000 + i, i % 200),
          "bytes_up": i * 1000, "bytes_down": i * 7919, "age_s": i} for i in range(n)]
roles = [{"name": "local-socks", "role": "local-socks", "id": "-", "flows_open": n, "flows_opened": n,
          "bytes_up": 1, "bytes_down": 2, "msgs_up": 0, "msgs_down": 0, "refused": 0, "over_limit": 0, "pools": []}]
print(json.dumps({"version": "synthetic", "uptime_s": 1, "mqtt": {"broker": "b", "port": 1883, "prefix": "p",
      "client_id": "c", "connected": True, "reconnects": 0}, "config": None, "roles": roles,
      "agents": [{"id": "ag%d" % i, "online": True, "role": "agent", "routes": []} for i in range(7)],
      "flows": flows, "flows_listed": n, "flows_total": n + n // 2}))
EOF
}
start_http "$TEST_TMP/synth" "$SYNTH" || fail "a server for the synthetic /status starts"
run_synth() { # FLOWS: 20 refreshes of the page; prints the real time it took in ms
	local t0
	synth_status "$1" >"$TEST_TMP/synth/status"
	t0=$(date +%s%N)
	page "http://127.0.0.1:$SYNTH/index.html" 20500 >"$TEST_TMP/synth-$1.dom"
	echo $((($(date +%s%N) - t0) / 1000000))
}
T0=$(run_synth 0)
T1000=$(run_synth 1000)
R=$(refreshes "$TEST_TMP/synth-1000.dom")
ROWS=$(grep -o '<tr data-key="ag' "$TEST_TMP/synth-1000.dom" | wc -l)
check "1000 flows: '1000 shown (the server lists 1000 of 1500)', no errors, $R refreshes" \
	bash -c "grep -q '1000 shown (the server lists 1000 of 1500)' '$TEST_TMP/synth-1000.dom' &&
		grep -q '<pre id=\"errors\" hidden=\"\"></pre>' '$TEST_TMP/synth-1000.dom' && [ '${R:-0}' -ge 15 ]"
check "... only the rows in view are drawn ($ROWS), the first by age first" \
	bash -c "[ $ROWS -gt 0 ] && [ $ROWS -lt 100 ] &&
		grep -o '<tr data-key=\"ag[^\"]*\"' '$TEST_TMP/synth-1000.dom' | head -n 1 | grep -q '10.0.0.0:20000/'"
echo "    20 refreshes of 1000 flows took ${T1000} ms of real time, of 0 flows ${T0} ms:" \
	"$(((T1000 - T0) / ${R:-20})) ms more per refresh (fetch, JSON, filter, sort, the rows in view)"
# #q= and #sort= in the address: a filter and an order that a bookmark keeps
page "http://127.0.0.1:$SYNTH/index.html#q=ag3&sort=-age_s" 1500 >"$TEST_TMP/synth-q.dom"
check "#q=ag3&sort=-age_s: 143 shown of 1000, the oldest first" \
	bash -c "grep -q '143 shown of 1000' '$TEST_TMP/synth-q.dom' &&
		grep -o '<tr data-key=\"ag[^\"]*\"' '$TEST_TMP/synth-q.dom' | head -n 1 | grep -q 'ag3/-/tcp/10.0.3.247:20997/'"

finish
