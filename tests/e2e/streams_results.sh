#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m in lib.sh
# Connect results and server-first protocols (issue 13), on mosquitto with its
# Debian defaults, through local-socks and local-port, tcp and -k:
#  1. SOCKS5 CONNECT to a closed port on 127.0.0.1 gets reply code 05 (connection
#     refused), and curl --socks5 says so (the SOCKS error, not "Empty reply");
#     a name that does not resolve (the agent resolves it) gets 04 (host
#     unreachable); an open port gets 00 and carries data.
#  2. A banner server (it sends "220 hello" on accept, then echoes): a client that
#     connects and sends nothing reads the banner, through local-port and through
#     local-socks.
# Finally every process still runs.
set -u
source "$(dirname "$0")/../lib.sh"
ST=$(cd "$(dirname "$0")" && pwd)/helpers/streamtool.py
PREFIX=e2e/streams-results
AGENT=results-agent
T0=$SECONDS
info() { echo "info: $* [$((SECONDS - T0)) s]"; }

start_broker || { fail "mosquitto starts"; exit 1; }
URL="$BROKER_URL_BASE/$PREFIX"
ECHO=$(free_port)
$PY "$ST" echo "$ECHO" >"$TEST_TMP/echo.log" 2>&1 &
bg_track $!
BANNER=$(free_port)
$PY "$ST" banner "$BANNER" >"$TEST_TMP/banner.log" 2>&1 &
bg_track $!
mkdir -p "$TEST_TMP/www"
echo "an open port $RANDOM" >"$TEST_TMP/www/index.html"
HTTP=$(free_port)
start_http "$TEST_TMP/www" "$HTTP" || { fail "http server starts"; exit 1; }
need "echo and banner servers listen" wait_for 10 bash -c \
	"ss -Htln 'sport = :$ECHO' | grep -q . && ss -Htln 'sport = :$BANNER' | grep -q ."
CLOSED=$(free_port) # nobody listens here

LP=$(free_port) LK=$(free_port) SP=$(free_port) SK=$(free_port)
n4m agent agent -m "$URL?client_id=$AGENT" -i "$AGENT" -t "127.0.0.1:$BANNER"
n4m lp local-port -m "$URL?client_id=res-lp" -i res-lp -a "$AGENT" -l "127.0.0.1:$LP"
n4m lk local-port -k -m "$URL?client_id=res-lk" -i res-lk -a "$AGENT" -l "127.0.0.1:$LK"
n4m sp local-socks -m "$URL?client_id=res-sp" -i res-sp -a "$AGENT" -l "127.0.0.1:$SP"
n4m sk local-socks -k -m "$URL?client_id=res-sk" -i res-sk -a "$AGENT" -l "127.0.0.1:$SK"
need "the local-ports and local-socks listen" wait_for 10 bash -c \
	"for p in $LP $LK $SP $SK; do ss -Htln \"sport = :\$p\" | grep -q . || exit 1; done"
need "the agent is online" wait_status "$URL/$AGENT/-/v/-"
need "every local has seen the agent's status" wait_for 10 bash -c \
	"for n in lp lk sp sk; do grep -q 'peer $AGENT/- online' \"$TEST_TMP/\$n.log\" || exit 1; done"

# curl_socks NAME PROXY-OPTION PROXY URL: curl's rc; its error text in $TEST_TMP/NAME.err
curl_socks() {
	timeout 30 curl -sS -o "$TEST_TMP/$1.out" "$2" "$3" "$4" 2>"$TEST_TMP/$1.err"
	echo $?
}
err_of() { head -c 160 "$TEST_TMP/$1.err" | tr '\n' ' '; }

### 1. connect results through local-socks
for mode in tcp kcp; do
	if [ "$mode" = tcp ]; then port=$SP; else port=$SK; fi
	res=$(timeout 30 $PY "$ST" socks-connect "$port" 127.0.0.1 "$CLOSED" 2>&1)
	check "local-socks $mode: CONNECT to closed port 127.0.0.1:$CLOSED gets reply 05, connection refused ($res)" \
		test "$res" = "rep 05"
	rc=$(curl_socks "closed-$mode" --socks5 "127.0.0.1:$port" "http://127.0.0.1:$CLOSED/")
	# curl 7.88: "(97) Can't complete SOCKS5 connection to 127.0.0.1. (5)"
	check "local-socks $mode: curl --socks5 to the closed port fails with the SOCKS refusal (rc $rc: $(err_of "closed-$mode"))" \
		bash -c "[ $rc -ne 0 ] && [ $rc -ne 52 ] && [ $rc -ne 124 ] &&
			grep -Eqi 'SOCKS5? connection to 127.0.0.1\. \(5\)|SOCKS.*refused' '$TEST_TMP/closed-$mode.err'"
	check "local-socks $mode: and not \"Empty reply from server\"" \
		bash -c "! grep -qi 'empty reply' '$TEST_TMP/closed-$mode.err'"

	res=$(timeout 30 $PY "$ST" socks-connect "$port" nonexistent.invalid 80 2>&1)
	check "local-socks $mode: CONNECT to nonexistent.invalid:80 (the agent finds no such name) gets reply 04, host unreachable ($res)" \
		test "$res" = "rep 04"
	rc=$(curl_socks "nxdomain-$mode" --socks5-hostname "127.0.0.1:$port" "http://nonexistent.invalid/")
	check "local-socks $mode: curl --socks5-hostname to nonexistent.invalid fails with the SOCKS error, not an empty reply (rc $rc: $(err_of "nxdomain-$mode"))" \
		bash -c "[ $rc -ne 0 ] && [ $rc -ne 52 ] && [ $rc -ne 124 ] &&
			grep -Eqi 'SOCKS5? connection to nonexistent\.invalid\. \(4\)|SOCKS.*unreachable' '$TEST_TMP/nxdomain-$mode.err'"

	res=$(timeout 30 $PY "$ST" socks-connect "$port" 127.0.0.1 "$ECHO" 2>&1)
	check "local-socks $mode: CONNECT to an open port gets reply 00 ($res)" test "$res" = "rep 00"
	rc=$(curl_socks "open-$mode" --socks5 "127.0.0.1:$port" "http://127.0.0.1:$HTTP/index.html")
	check "local-socks $mode: curl --socks5 to an open port gets the page (rc $rc $(err_of "open-$mode"))" \
		cmp -s "$TEST_TMP/www/index.html" "$TEST_TMP/open-$mode.out"
	info "local-socks $mode results done"
done

### 2. a server that speaks first
for mode in tcp kcp; do
	if [ "$mode" = tcp ]; then port=$LP; else port=$LK; fi
	res=$(timeout 30 $PY "$ST" banner-client "$port" 2>&1)
	check "local-port $mode: a client that sends nothing reads the server's banner, then its echo works ($res)" \
		test "$res" = "banner ok: '220 hello'"
	if [ "$mode" = tcp ]; then port=$SP; else port=$SK; fi
	res=$(timeout 30 $PY "$ST" banner-client "$port" socks "$BANNER" 2>&1)
	check "local-socks $mode: after CONNECT, a client that sends nothing reads the server's banner ($res)" \
		test "$res" = "banner ok: '220 hello'"
done
info "banners done"

check "the agent and every local still run" all_running "$agent_PID" "$lp_PID" "$lk_PID" "$sp_PID" "$sk_PID"
finish
