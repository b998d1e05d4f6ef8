#!/usr/bin/env bash
# shellcheck disable=SC2154 # BROKER_* are set by start_broker in lib.sh
# net4mqtt run -c FILE as a user sees it: --check says "FILE: ok", or FILE:LINE: KEY
# errors and exit 2. One process runs an [agent], [local-port web], [local-port udp],
# [local-port echo] and a [local-socks] on ONE MQTT connection, and each carries
# traffic. /metrics is well-formed Prometheus text whose byte and message counters
# match exactly what was sent, during and after a transfer; /status is JSON,
# /status.txt and `net4mqtt status` show the roles. SIGHUP applies a new allowlist
# and SOCKS user without dropping an established flow; a broken file on reload is
# reported with FILE:LINE and ignored. With "log = syslog" the log goes to syslog (a test
# socket bind-mounted on /dev/log in a private mount namespace). A busy listen port
# makes `run` exit 1 at once, and the running process carries on.
set -u
source "$(dirname "$0")/../lib.sh"

UDPTOOL=$(cd "$(dirname "$0")" && pwd)/helpers/udptool.py
PREFIX=e2e/run-config
SIDE=e2e/run-config-side # for the processes that must not meet the main one
AGENT=rc-agent
LOG=$TEST_TMP/main.log

start_broker || { fail "mosquitto starts"; exit 1; }
URL="$BROKER_URL_BASE/$PREFIX"

# Distinct free ports (free_port alone may pick one twice before anything binds).
PORTS=()
for _ in $(seq 12); do
	while p=$(free_port) && [[ " ${PORTS[*]} " == *" $p "* ]]; do :; done
	PORTS+=("$p")
done
read -r WEB HTTP2 HTTP3 ECHO UECHO LP_WEB LP_WEB2 LP_UDP LP_ECHO SP STATUS SPARE <<<"${PORTS[*]}"

# write_conf FILE PASS WEB_LISTEN ALLOWED_PORT...: the config file, written atomically
# (a reload never reads half of it); the agent allows 127.0.0.1 on these ports.
write_conf() {
	local file=$1 pass=$2 web_listen=$3 p
	shift 3
	{
		echo "# net4mqtt run -c: the roles of one appliance"
		echo "[net4mqtt]"
		echo "mqtt-url = $URL?client_id=rc-main"
		echo "log-level = debug"
		echo "status-listen = 127.0.0.1:$STATUS"
		echo "max-flows = 50 ; every role's"
		echo
		echo "[agent]"
		echo "id = $AGENT"
		echo "target = 127.0.0.1:$WEB"
		for p in "$@"; do echo "allow = 127.0.0.1/32:$p"; done
		echo
		echo "[local-port web]"
		echo "listen = 127.0.0.1:$web_listen"
		echo "agent-id = $AGENT"
		echo
		echo "[local-port udp]"
		echo "listen = 127.0.0.1:$LP_UDP"
		echo "target = 127.0.0.1:$UECHO"
		echo "agent-id = $AGENT"
		echo "udp = yes"
		echo
		echo "[local-port echo]"
		echo "listen = 127.0.0.1:$LP_ECHO"
		echo "target = 127.0.0.1:$ECHO"
		echo "agent-id = $AGENT"
		echo
		echo "[local-socks]"
		echo "id = rc-socks"
		echo "listen = 127.0.0.1:$SP"
		echo "agent-id = $AGENT"
		echo "socks-user = alice:$pass"
	} >"$file.tmp" && mv "$file.tmp" "$file"
}
CONF=$TEST_TMP/net4mqtt.conf
write_conf "$CONF" one "$LP_WEB" "$ECHO" "$UECHO" "$HTTP2" "$HTTP3"

# ---- --check ----
out=$(timeout 10 "$N4M" run -c "$CONF" --check 2>&1)
rc=$?
check "run -c FILE --check on a good file: exit 0 and '$out'" \
	bash -c "[ $rc -eq 0 ] && grep -q '^$CONF: ok' <<<'$out'"

BAD=$TEST_TMP/bad.conf
sed -e 's/^max-flows = .*/max-flows = lots/' -e 's/^\[agent\]$/[agent]\ntun = n4m1/' "$CONF" >"$BAD"
L1=$(grep -n '^max-flows' "$BAD" | cut -d: -f1)
L2=$(grep -n '^tun' "$BAD" | cut -d: -f1)
timeout 10 "$N4M" run -c "$BAD" --check >"$TEST_TMP/bad.out" 2>"$TEST_TMP/bad.err"
rc=$?
check "--check on a file with two errors: exit 2 (rc $rc), nothing on stdout" \
	bash -c "[ $rc -eq 2 ] && [ ! -s '$TEST_TMP/bad.out' ]"
check "... stderr says $BAD:$L1: max-flows: ($(grep ":$L1:" "$TEST_TMP/bad.err"))" \
	grep -q "^net4mqtt: $BAD:$L1: max-flows: .*not lots" "$TEST_TMP/bad.err"
check "... and $BAD:$L2: tun: ($(grep ":$L2:" "$TEST_TMP/bad.err"))" \
	grep -q "^net4mqtt: $BAD:$L2: tun: not a key of \[agent\]" "$TEST_TMP/bad.err"
check "... one line each ($(grep -c . "$TEST_TMP/bad.err") lines)" test "$(grep -c . "$TEST_TMP/bad.err")" -eq 2

sed "s/^status-listen = .*/status-listen = 0.0.0.0:$STATUS/" "$CONF" >"$BAD"
L=$(grep -n '^status-listen' "$BAD" | cut -d: -f1)
timeout 10 "$N4M" run -c "$BAD" --check >/dev/null 2>"$TEST_TMP/bad.err"
rc=$?
check "status-listen = 0.0.0.0:$STATUS is refused at --check (rc $rc): $(head -n 1 "$TEST_TMP/bad.err")" \
	bash -c "[ $rc -eq 2 ] && grep -q '^net4mqtt: $BAD:$L: status-listen: .*not a loopback address' '$TEST_TMP/bad.err'"

# ---- the servers behind the agent ----
mkdir -p "$TEST_TMP/www"
head -c 300000 /dev/urandom >"$TEST_TMP/www/file"
echo "second server $RANDOM" >"$TEST_TMP/www/index.html"
# The agent's default target: serves GET /NAME from www, and counts anything else
# (a "sink"): reads to EOF, logs "sink N", answers "got N\n".
cat >"$TEST_TMP/websink.py" <<'EOF'
import os, socket, sys, threading
host, port, root, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

def http(c, head):
    while b"\r\n\r\n" not in head:
        d = c.recv(4096)
        if not d:
            return
        head += d
    name = os.path.basename(head.split(b" ")[1].decode()) or "index.html"
    try:
        with open(os.path.join(root, name), "rb") as f:
            body = f.read()
        c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    except OSError:
        c.sendall(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")

def sink(c, n):
    while True:
        d = c.recv(65536)
        if not d:
            break
        n += len(d)
    with open(log, "a") as f:
        f.write("sink %d\n" % n)
    c.sendall(b"got %d\n" % n)

def serve(c):
    c.settimeout(60)
    try:
        first = c.recv(4, socket.MSG_WAITALL)
        if first == b"GET ":
            http(c, first)
        elif first:
            sink(c, len(first))
    except OSError as e:
        print("error", e, flush=True)
    finally:
        c.close()

s = socket.create_server((host, port))
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
"$PY" "$TEST_TMP/websink.py" 127.0.0.1 "$WEB" "$TEST_TMP/www" "$TEST_TMP/sink.log" >"$TEST_TMP/websink.log" 2>&1 &
bg_track $!
start_http "$TEST_TMP/www" "$HTTP2" || fail "http server 2 starts"
start_http "$TEST_TMP/www" "$HTTP3" || fail "http server 3 starts"
socat "TCP-LISTEN:$ECHO,bind=127.0.0.1,reuseaddr,fork" PIPE >"$TEST_TMP/echo.log" 2>&1 &
bg_track $!
"$PY" "$UDPTOOL" echo 127.0.0.1 "$UECHO" "$TEST_TMP/uecho.seen" >"$TEST_TMP/uecho.log" 2>&1 &
bg_track $!
servers_up() { port_listening "$WEB" && port_listening "$ECHO" && udp_bound "$UECHO"; }
need "the servers behind the agent are up" wait_for 10 servers_up

# ---- one process, every role, one MQTT connection ----
"$N4M" run -c "$CONF" -f >"$LOG" 2>&1 &
MAIN=$!
bg_track "$MAIN"
roles_up() {
	port_listening "$LP_WEB" && port_listening "$LP_ECHO" && port_listening "$SP" &&
		port_listening "$STATUS" && udp_bound "$LP_UDP"
}
need "run -c: the four local listeners and the status server are up" wait_for 10 roles_up
need "the agent publishes its online status" wait_status "$URL/$AGENT/-/v/-"

conns() { ss -Htnp state established "( dport = :$BROKER_PORT )" | grep -c "pid=$MAIN,"; }
check "five roles, ONE connection to the broker ($(conns))" test "$(conns)" -eq 1

body=$(timeout 20 curl -sS "http://127.0.0.1:$LP_WEB/file" | sha256sum)
check "[local-port web]: curl of a 300 KB file through it, byte-exact" \
	test "$body" = "$(sha256sum <"$TEST_TMP/www/file")"
res=$(timeout 30 "$PY" "$UDPTOOL" sizes 127.0.0.1 "$LP_UDP" 1 1000 8000 2>&1)
check "[local-port udp]: datagrams of 1, 1000, 8000 bytes come back whole ($res)" grep -q '^sizes ok' <<<"$res"
# socks NAME USER:PASS PORT: curl through the SOCKS port; body in $TEST_TMP/NAME.out, prints curl's rc
socks() {
	timeout 20 curl -sS -o "$TEST_TMP/$1.out" -x "socks5://$2@127.0.0.1:$SP" \
		"http://127.0.0.1:$3/file" 2>"$TEST_TMP/$1.err"
	echo $?
}
same() { cmp -s "$TEST_TMP/www/file" "$TEST_TMP/$1.out"; }
rc=$(socks s1 alice:one "$HTTP2")
check "[local-socks]: curl --socks5 with user:pass to 127.0.0.1:$HTTP2, byte-exact (rc $rc)" same s1
mkfifo "$TEST_TMP/echo.fifo"
timeout 60 nc 127.0.0.1 "$LP_ECHO" <"$TEST_TMP/echo.fifo" >"$TEST_TMP/echo.out" 2>&1 &
ECHO_NC=$!
bg_track "$ECHO_NC"
exec 8<>"$TEST_TMP/echo.fifo"
echo "line one $$" >&8
check "[local-port echo]: a long-lived flow to a socat echo server echoes" \
	wait_for 10 grep -q "^line one $$\$" "$TEST_TMP/echo.out"
check "still one connection to the broker after traffic on every role ($(conns))" test "$(conns)" -eq 1

# ---- /metrics ----
cat >"$TEST_TMP/promcheck.py" <<'EOF'
# Prometheus text format 0.0.4: every sample's family has a # TYPE before it, families
# are contiguous, no sample is given twice, values are numbers. Prints "ok N samples".
import re, sys
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
SAMPLE = re.compile(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:%s(?:,%s)*)?\})? (\S+)( -?[0-9]+)?' % (LABEL, LABEL))
types, seen, done, last, n = {}, set(), set(), None, 0
for i, line in enumerate(sys.stdin, 1):
    line = line.rstrip("\n")
    def bad(why):
        print("line %d: %s: %r" % (i, why, line))
        sys.exit(1)
    if not line or line.startswith("# HELP "):
        continue
    if line.startswith("# TYPE "):
        parts = line.split(" ")
        if len(parts) != 4 or parts[3] not in ("counter", "gauge", "histogram", "summary", "untyped"):
            bad("bad TYPE line")
        if parts[2] in types:
            bad("second TYPE for a family")
        types[parts[2]] = parts[3]
        continue
    if line.startswith("#"):
        continue
    m = SAMPLE.fullmatch(line)
    if not m:
        bad("not a sample")
    try:
        float(m.group(3))
    except ValueError:
        bad("value is not a number")
    name = m.group(1)
    fam = name if name in types else re.sub(r"_(bucket|sum|count)$", "", name)
    if fam not in types:
        bad("no # TYPE for its family")
    if fam != last and fam in done:
        bad("family not contiguous")
    if last is not None and fam != last:
        done.add(last)
    last = fam
    key = name + (m.group(2) or "")
    if key in seen:
        bad("sample given twice")
    seen.add(key)
    n += 1
print("ok %d samples" % n)
sys.exit(0 if n else 1)
EOF
scrape() { curl -s -m 5 "http://127.0.0.1:$STATUS/metrics"; }
# metric TEXT 'name{labels}': that sample's value
metric() { awk -v k="$2" 'index($0, k " ") == 1 { print $NF }' <<<"$1"; }
flows() { metric "$1" "net4mqtt_flows{role=\"$2\",protocol=\"$3\"}"; }
bytes() { metric "$1" "net4mqtt_mqtt_bytes_total{role=\"$2\",direction=\"$3\"}"; }
# the clients' bytes, without the framing of our streams (tcpx) that MQTT bytes include
fbytes() { metric "$1" "net4mqtt_flow_bytes_total{role=\"$2\",direction=\"$3\"}"; }
msgs() { metric "$1" "net4mqtt_mqtt_messages_total{role=\"$2\",direction=\"$3\"}"; }
# delta BEFORE AFTER FN ROLE DIR: how much a counter grew
delta() { echo $(($("$3" "$2" "$4" "$5") - $("$3" "$1" "$4" "$5"))); }
promcheck() { "$PY" "$TEST_TMP/promcheck.py" <<<"$1"; }

M0=$(scrape)
res=$(promcheck "$M0")
check "/metrics is well-formed Prometheus text: every family has # TYPE ($res)" grep -q '^ok' <<<"$res"
check "/metrics: net4mqtt_mqtt_connected 1" test "$(metric "$M0" net4mqtt_mqtt_connected)" = 1
check "/metrics: the agent's counters are there (flows opened $(metric "$M0" 'net4mqtt_flows_opened_total{role="agent"}'))" \
	test "$(metric "$M0" 'net4mqtt_flows_opened_total{role="agent"}')" -ge 4

# N bytes up through [local-port web] to the sink, held open while /metrics is read.
N=5000000
mkfifo "$TEST_TMP/up.fifo"
timeout 60 nc -N 127.0.0.1 "$LP_WEB" <"$TEST_TMP/up.fifo" >"$TEST_TMP/sink.reply" 2>&1 &
UP_NC=$!
bg_track "$UP_NC"
exec 7<>"$TEST_TMP/up.fifo"
head -c "$N" /dev/urandom >&7
web_flow_is() { [ "$(flows "$(scrape)" "local-port web" tcp)" = "$1" ]; }
check "during the upload: net4mqtt_flows{role=\"local-port web\",protocol=\"tcp\"} is 1" wait_for 10 web_flow_is 1
web_up_reaches() { [ "$(delta "$M0" "$(scrape)" fbytes "local-port web" up)" -ge "$N" ]; }
wait_for 20 web_up_reaches || fail "the upload's $N bytes are published in 20 s"
M1=$(scrape)
check "during: [local-port web] flow bytes up grew by exactly $N ($(delta "$M0" "$M1" fbytes "local-port web" up))" \
	test "$(delta "$M0" "$M1" fbytes "local-port web" up)" -eq "$N"
agent_down_reaches() { [ "$(delta "$M0" "$(scrape)" fbytes agent down)" -ge "$N" ]; }
wait_for 20 agent_down_reaches || fail "the agent receives the $N bytes in 20 s"
M1=$(scrape)
check "during: the agent's flow bytes down grew by exactly $N ($(delta "$M0" "$M1" fbytes agent down))" \
	test "$(delta "$M0" "$M1" fbytes agent down)" -eq "$N"
check "during: the agent has 2 tcp flows open, the echo flow and this one ($(flows "$M1" agent tcp))" \
	test "$(flows "$M1" agent tcp)" -eq 2
res=$(promcheck "$M1")
check "/metrics during the transfer is well-formed ($res)" grep -q '^ok' <<<"$res"
exec 7>&- # EOF: nc -N shuts down its side, the sink answers "got N" and closes
check "the sink got the $N bytes and answered ($(cat "$TEST_TMP/sink.reply"))" \
	wait_for 20 grep -qx "got $N" "$TEST_TMP/sink.reply"
check "... and counted $N" grep -qx "sink $N" "$TEST_TMP/sink.log"
check "MQTT carried at least those bytes up ($(delta "$M0" "$(scrape)" bytes "local-port web" up))" \
	test "$(delta "$M0" "$(scrape)" bytes "local-port web" up)" -ge "$N"
check "after: the flow is closed: flows{role=\"local-port web\",protocol=\"tcp\"} is 0" wait_for 10 web_flow_is 0
M2=$(scrape)
R=$(wc -c <"$TEST_TMP/sink.reply")
check "after: [local-port web] up $N, down $R (the reply) ($(delta "$M0" "$M2" fbytes "local-port web" up), $(delta "$M0" "$M2" fbytes "local-port web" down))" \
	test "$(delta "$M0" "$M2" fbytes "local-port web" up)" -eq "$N" -a \
	"$(delta "$M0" "$M2" fbytes "local-port web" down)" -eq "$R"
check "after: the agent down $N, up $R ($(delta "$M0" "$M2" fbytes agent down), $(delta "$M0" "$M2" fbytes agent up))" \
	test "$(delta "$M0" "$M2" fbytes agent down)" -eq "$N" -a "$(delta "$M0" "$M2" fbytes agent up)" -eq "$R"
check "after: [local-port udp] and [local-socks] saw none of it" \
	test "$(delta "$M0" "$M2" fbytes "local-port udp" up)" -eq 0 -a "$(delta "$M0" "$M2" fbytes local-socks down)" -eq 0

# K datagrams of S bytes through [local-port udp]: messages and bytes exactly, each way.
counters() { scrape | grep '^net4mqtt_mqtt_'; }
quiet() { local a; a=$(counters); sleep 0.3; [ "$a" = "$(counters)" ]; }
wait_for 10 quiet || fail "the counters settle after the TCP flow"
K=20
S=700
U0=$(scrape)
SIZES=()
for _ in $(seq "$K"); do SIZES+=("$S"); done
res=$(timeout 30 "$PY" "$UDPTOOL" sizes 127.0.0.1 "$LP_UDP" "${SIZES[@]}" 2>&1)
check "$K datagrams of $S bytes through [local-port udp] come back ($res)" grep -q '^sizes ok' <<<"$res"
wait_for 10 quiet || fail "the counters settle after the datagrams"
U1=$(scrape)
for d in up down; do
	check "[local-port udp] direction=$d: $K messages, $((K * S)) bytes ($(delta "$U0" "$U1" msgs "local-port udp" $d), $(delta "$U0" "$U1" bytes "local-port udp" $d))" \
		test "$(delta "$U0" "$U1" msgs "local-port udp" $d)" -eq "$K" -a \
		"$(delta "$U0" "$U1" bytes "local-port udp" $d)" -eq $((K * S))
	check "the agent direction=$d: $K messages, $((K * S)) bytes ($(delta "$U0" "$U1" msgs agent $d), $(delta "$U0" "$U1" bytes agent $d))" \
		test "$(delta "$U0" "$U1" msgs agent $d)" -eq "$K" -a "$(delta "$U0" "$U1" bytes agent $d)" -eq $((K * S))
done
check "[local-port udp] has 2 udp flows open, one per client socket so far ($(flows "$U1" "local-port udp" udp))" \
	test "$(flows "$U1" "local-port udp" udp)" -eq 2

# ---- /status, /status.txt, net4mqtt status ----
curl -s -m 5 "http://127.0.0.1:$STATUS/status" >"$TEST_TMP/status.json"
check "/status is valid JSON" "$PY" -m json.tool "$TEST_TMP/status.json" /dev/null
check "/status lists $AGENT online and the five roles" "$PY" -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert any(a['id'] == '$AGENT' and a['online'] for a in d['agents']), d['agents']
names = sorted(r['name'] for r in d['roles'])
assert names == ['agent', 'local-port echo', 'local-port udp', 'local-port web', 'local-socks'], names
assert d['mqtt']['connected'] is True" "$TEST_TMP/status.json"
# roles_table FILE: the roles table has a row for each role, and the agent online
roles_table() {
	local r
	grep -q '^Roles:' "$1" || return 1
	for r in agent "local-port web" "local-port udp" "local-port echo" local-socks; do
		grep -Eq "^  $r +" "$1" || return 1
	done
	grep -Eq "^  $AGENT +online" "$1"
}
curl -s -m 5 "http://127.0.0.1:$STATUS/status.txt" >"$TEST_TMP/status.txt"
check "/status.txt: the roles table and $AGENT online" roles_table "$TEST_TMP/status.txt"
timeout 10 "$N4M" status --status-listen "127.0.0.1:$STATUS" >"$TEST_TMP/status1.txt" 2>&1
check "net4mqtt status --status-listen 127.0.0.1:$STATUS prints it (rc $?)" roles_table "$TEST_TMP/status1.txt"
timeout 10 "$N4M" status -c "$CONF" >"$TEST_TMP/status2.txt" 2>&1
check "net4mqtt status -c FILE prints it (rc $?)" roles_table "$TEST_TMP/status2.txt"
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$STATUS/nope")
check "an unknown path is 404 ($code)" test "$code" = 404

# ---- SIGHUP ----
# hup PATTERN: SIGHUP, then wait until the log has one more line matching PATTERN
hup() {
	local before
	before=$(grep -c -- "$1" "$LOG")
	kill -HUP "$MAIN"
	wait_for 10 eval "[ \$(grep -c -- '$1' '$LOG') -gt $before ]"
}
rc=$(socks s2 alice:one "$HTTP3")
check "before the reload, 127.0.0.1:$HTTP3 through SOCKS (rc $rc)" same s2

write_conf "$CONF" one "$LP_WEB" "$UECHO" "$HTTP3" # no more $ECHO and $HTTP2
check "SIGHUP after dropping two allow rules: 'reload: done'" hup 'reload: done'
check "... the agent has 2 allow rules now" grep -q 'agent: reload: now 2 allow rules' "$LOG"
echo "line two $$" >&8
check "the established echo flow still echoes after the reload" \
	wait_for 10 grep -q "^line two $$\$" "$TEST_TMP/echo.out"
rc=$(socks s3 alice:one "$HTTP2")
check "a new SOCKS connection to the now-refused 127.0.0.1:$HTTP2 fails (rc $rc: $(head -c 80 "$TEST_TMP/s3.err"))" \
	test "$rc" -ne 0 -a "$rc" -ne 124 -a ! -s "$TEST_TMP/s3.out"
check "... the agent says why" grep -q "127.0.0.1:$HTTP2 is not allowed (--allow): refused" "$LOG"
rc=$(socks s4 alice:one "$HTTP3")
check "one to the still-allowed 127.0.0.1:$HTTP3 works (rc $rc)" same s4
reply=$(echo "new" | timeout 10 nc -N 127.0.0.1 "$LP_ECHO")
rc=$?
check "a new flow through [local-port echo] to the now-refused 127.0.0.1:$ECHO is closed with nothing (rc $rc, '$reply')" \
	test "$rc" -ne 124 -a -z "$reply"

# A broken file: said with FILE:LINE, and the old config runs on.
write_conf "$CONF" one "$LP_WEB" "$UECHO" "$HTTP3" "$HTTP2"
sed -i 's/^\[agent\]$/[agent]\nmtu = 99/' "$CONF"
L=$(grep -n '^mtu' "$CONF" | cut -d: -f1)
check "SIGHUP with a broken file: the log says it's still running" hup 'still running'
check "... with $CONF:$L: mtu: ($(grep -o "reload: $CONF:$L: .*" "$LOG" | head -n 1))" \
	grep -q "reload: $CONF:$L: mtu: not a key of \[agent\]" "$LOG"
check "net4mqtt is still running" all_running "$MAIN"
echo "line three $$" >&8
check "the established echo flow still echoes" wait_for 10 grep -q "^line three $$\$" "$TEST_TMP/echo.out"
rc=$(socks s5 alice:one "$HTTP3")
check "SOCKS to 127.0.0.1:$HTTP3 still works (rc $rc)" same s5
rc=$(socks s6 alice:one "$HTTP2")
check "nothing of the broken file was applied: 127.0.0.1:$HTTP2 is still refused (rc $rc)" \
	test "$rc" -ne 0 -a "$rc" -ne 124
body=$(timeout 20 curl -sS "http://127.0.0.1:$LP_WEB/file" | sha256sum)
check "[local-port web] still works" test "$body" = "$(sha256sum <"$TEST_TMP/www/file")"

# A new SOCKS password, and a key that needs a restart (web's listen).
write_conf "$CONF" two "$LP_WEB2" "$UECHO" "$HTTP3"
check "SIGHUP with a new socks-user: 'reload: done'" hup 'reload: done'
rc=$(socks s7 alice:one "$HTTP3")
check "the old SOCKS password is refused now (rc $rc)" test "$rc" -ne 0 -a "$rc" -ne 124 -a ! -s "$TEST_TMP/s7.out"
rc=$(socks s8 alice:two "$HTTP3")
check "the new one is accepted (rc $rc)" same s8
check "a changed listen is logged as taking a restart" \
	grep -q 'local-port web: reload: keys other than .* changed: they take a restart' "$LOG"
check "... and [local-port web] still listens on the old port only" \
	bash -c "ss -Htln 'sport = :$LP_WEB' | grep -q . && ! ss -Htln 'sport = :$LP_WEB2' | grep -q ."
echo "line four $$" >&8
check "the echo flow has lived through three reloads" wait_for 10 grep -q "^line four $$\$" "$TEST_TMP/echo.out"
check "still one connection to the broker ($(conns))" test "$(conns)" -eq 1
exec 8>&-

# ---- a busy listen port, a busy status port ----
BUSY=$TEST_TMP/busy.conf
printf '%s\n' "[net4mqtt]" "mqtt-url = $BROKER_URL_BASE/$SIDE" "status-listen = off" \
	"[local-port fine]" "listen = 127.0.0.1:$SPARE" "[local-port busy]" "listen = 127.0.0.1:$LP_WEB" >"$BUSY"
timeout 10 "$N4M" run -c "$BUSY" --check >/dev/null 2>&1
check "a file whose listen port is busy passes --check (rc $?): that is for run to find" test $? -eq 0
t=$SECONDS
timeout 10 "$N4M" run -c "$BUSY" -f >"$TEST_TMP/busy.out" 2>&1
rc=$?
check "run with [local-port busy] on the busy port $LP_WEB exits 1 in $((SECONDS - t)) s (rc $rc): $(grep -m1 'cannot listen' "$TEST_TMP/busy.out")" \
	bash -c "[ $rc -eq 1 ] && grep -q 'cannot listen on 127.0.0.1:$LP_WEB: .*in use' '$TEST_TMP/busy.out'"
check "... and [local-port fine] is gone with it" bash -c "! ss -Htln 'sport = :$SPARE' | grep -q ."
printf '%s\n' "[net4mqtt]" "mqtt-url = $BROKER_URL_BASE/$SIDE" "status-listen = 127.0.0.1:$STATUS" \
	"[local-port fine]" "listen = 127.0.0.1:$SPARE" >"$BUSY"
timeout 10 "$N4M" run -c "$BUSY" -f >"$TEST_TMP/busy2.out" 2>&1
rc=$?
check "a second process on the same status-listen exits 1 (rc $rc): $(grep -m1 'status server' "$TEST_TMP/busy2.out")" \
	bash -c "[ $rc -eq 1 ] && grep -q 'status server on 127.0.0.1:$STATUS: .*in use' '$TEST_TMP/busy2.out'"
check "the running process is unaffected" all_running "$MAIN"
body=$(timeout 20 curl -sS "http://127.0.0.1:$LP_WEB/file" | sha256sum)
check "... [local-port web] still works" test "$body" = "$(sha256sum <"$TEST_TMP/www/file")"
check "... and its status server answers" test "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$STATUS/metrics")" = 200

# ---- log = syslog ----
# /dev/log is replaced only inside a private mount namespace: a tmpfs on /dev holding
# the few device nodes a process needs and, bound on /dev/log, a socket of this test.
syslog_test() {
	local sock=$TEST_TMP/log.sock conf=$TEST_TMP/syslog.conf pid
	"$PY" -c "
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
while True:
    with open(sys.argv[2], 'ab') as f:
        f.write(s.recv(65536) + b'\n')" "$sock" "$TEST_TMP/syslog.got" >"$TEST_TMP/syslogd.log" 2>&1 &
	bg_track $!
	wait_for 10 test -S "$sock" || { fail "the test's syslog socket is bound"; return; }
	mkdir -p "$TEST_TMP/dev"
	cat >"$TEST_TMP/ns.sh" <<'EOF'
set -e
T=$1
shift
mount --bind /dev "$T/dev"
mount -t tmpfs -o mode=755 n4m-dev /dev
for n in null zero full random urandom; do
	touch "/dev/$n"
	mount --bind "$T/dev/$n" "/dev/$n"
done
ln -s /proc/self/fd /dev/fd
touch /dev/log
mount --bind "$T/log.sock" /dev/log
exec "$@"
EOF
	printf '%s\n' "[net4mqtt]" "mqtt-url = $BROKER_URL_BASE/$SIDE?client_id=rc-syslog" "log-level = info" \
		"status-listen = off" "log = syslog" "[agent]" "id = rc-syslog-agent" >"$conf"
	unshare --mount --propagation private bash "$TEST_TMP/ns.sh" "$TEST_TMP" \
		"$N4M" run -c "$conf" >"$TEST_TMP/syslog-run.out" 2>&1 &
	pid=$!
	bg_track "$pid"
	wait_for 10 grep -q 'broker' "$TEST_TMP/syslog.got" 2>/dev/null
	check "with log = syslog, net4mqtt logs to syslog: ident net4mqtt[PID], facility daemon ($(grep -m1 'broker' "$TEST_TMP/syslog.got" 2>/dev/null))" \
		grep -Eq "^<(2[4-9]|3[01])>.* net4mqtt\[[0-9]+\]: agent: broker 127.0.0.1:$BROKER_PORT" "$TEST_TMP/syslog.got"
	check "... and nothing of it on stderr" bash -c "! grep -q 'broker 127.0.0.1' '$TEST_TMP/syslog-run.out'"
	kill "$pid" 2>/dev/null
	check "SIGTERM stops it" wait_for 10 bash -c "! kill -0 $pid 2>/dev/null"
}
had_dev_log=$([ -e /dev/log ] && echo yes || echo no)
if [ "$(id -u)" != 0 ]; then
	skip "syslog: needs root for a mount namespace"
elif ! unshare --mount --propagation private true 2>/dev/null; then
	skip "syslog: unshare --mount is not allowed here"
else
	syslog_test
	check "the host's /dev/log is as it was (exists: $had_dev_log)" \
		test "$([ -e /dev/log ] && echo yes || echo no)" = "$had_dev_log"
fi

# ---- a clean stop ----
kill -TERM "$MAIN"
wait_for 10 bash -c "! kill -0 $MAIN 2>/dev/null"
wait "$MAIN"
rc=$?
check "SIGTERM: the process exits 0 (rc $rc)" test "$rc" -eq 0
finish
