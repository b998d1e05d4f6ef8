#!/usr/bin/env bash
# kcp mode (-k): the TCP stream rides in KCP segments.
#  a. loss-free: 20 MB both ways through local-port -k (echo), local-socks -k
#     with curl, half-close;
#  b. lossy: local (prefix A) <-> mqtt_lossy_relay (5% loss each way) <-> agent
#     (prefix B): 10 MB each way arrives intact with -k, and arrives corrupted
#     or short in tcp mode (the test can fail);
#  c. flow control: a destination that stops reading: RSS stays bounded, the
#     client's send stalls, nothing is lost once the destination reads again;
#  d. junk KCP payloads on live and new kcp flows: counted, survived.
# KCP_PARTS="a b" runs only some parts.
set -u
source "$(dirname "$0")/../lib.sh" # PY, stats, stat_field, rss_kb, hwm_kb, need
HERE=$(cd "$(dirname "$0")" && pwd)
KT=$HERE/helpers/kcptool.py
TT=$HERE/helpers/tcptool.py
NT=$HERE/helpers/nettool.py
RELAY=${N4M_BUILD:-$HERE/../../build}/bench/mqtt_lossy_relay
PARTS=${KCP_PARTS:-a b c d}
PREFIX=e2e/kcp
PA=e2e/kcp-a
PB=e2e/kcp-b
LOSS=${KCP_LOSS:-0.05} # try KCP_LOSS=0.3
RSS_CAP_KB=$((64 * 1024))
MB=$((1 << 20))

# n4mv NAME args...: like n4m, at -v (a debug line per message would dwarf the transfers).
n4mv() {
	local name=$1; shift
	"$N4M" -v "$@" >"$TEST_TMP/$name.log" 2>&1 &
	bg_track $!
	printf -v "${name//-/_}_PID" '%s' "$!"
}
# bg NAME cmd...: a helper in the background, output in $TEST_TMP/NAME.out, pid in NAME_PID.
bg() {
	local name=$1; shift
	"$@" >"$TEST_TMP/$name.out" 2>&1 &
	bg_track $!
	printf -v "${name//-/_}_PID" '%s' "$!"
}
part() { [[ " $PARTS " == *" $1 "* ]]; }
sha_of() { $PY "$KT" sha "$1" "$2"; }
now_ms() { date +%s%3N; }
mbps() { awk -v b="$1" -v ms="$2" 'BEGIN { r = ms > 0 ? b / 1e6 / (ms / 1000) : 0; printf "%.1f", r }'; }
knows_peer() { grep -q "peer $2 online" "$TEST_TMP/$1.log"; }

bad_payload_over_0() { local v; v=$(stat_field "$(stats "$1" "$2")" bad_payload); [ "${v:-0}" -gt 0 ]; }
# all_alive PID...: every one runs (`kill -0 A B` succeeds if any one does).
all_alive() {
	local p
	for p in "$@"; do kill -0 "$p" 2>/dev/null || return 1; done
}
# settled NAME PID N: the process has closed at least N flows (asked by SIGUSR1, so it
# also still answers): a crash at a flow's end happens before the liveness check, not after.
closed_at_least() { local v; v=$(stat_field "$(stats "$1" "$2")" closed); [ "${v:-0}" -ge "$3" ]; }
settled() { wait_for 10 closed_at_least "$@"; }

# sample_rss SECONDS PID_A PID_L DONE_CMD...: samples both RSS every 0.1 s until
# DONE_CMD succeeds or SECONDS pass; raises MAX_A_KB, MAX_L_KB to the peaks seen.
sample_rss() {
	local end=$((SECONDS + $1)) pa=$2 pl=$3 a l
	shift 3
	while [ "$SECONDS" -lt "$end" ]; do
		a=$(rss_kb "$pa") l=$(rss_kb "$pl")
		[ "${a:-0}" -gt "$MAX_A_KB" ] && MAX_A_KB=$a
		[ "${l:-0}" -gt "$MAX_L_KB" ] && MAX_L_KB=$l
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

start_broker || { fail "mosquitto starts"; exit 1; }
URL=$BROKER_URL_BASE/$PREFIX
ECHO=$(free_port)
bg echo $PY "$NT" echo-tcp "$ECHO"
wait_for 10 port_listening "$ECHO" || { fail "echo server starts"; exit 1; }

### a. loss-free
part_a() {
	local AG=kcp-agent HTTP EOFS LP LS LH want got res t0 ms
	HTTP=$(free_port) EOFS=$(free_port) LP=$(free_port) LS=$(free_port) LH=$(free_port)
	mkdir -p "$TEST_TMP/www"
	head -c $((10 * MB)) /dev/urandom >"$TEST_TMP/www/blob"
	start_http "$TEST_TMP/www" "$HTTP" || { fail "a: http server starts"; return; }
	bg eofs $PY "$TT" eof-server 127.0.0.1 "$EOFS" 200000 "$TEST_TMP/eof-server.txt"
	n4mv a-agent agent -m "$URL?client_id=$AG" -i "$AG" -t "127.0.0.1:$ECHO"
	n4mv a-local local-port -k -m "$URL?client_id=kcp-a-port" -i kcp-a-port -a "$AG" -l "127.0.0.1:$LP"
	n4mv a-socks local-socks -k -m "$URL?client_id=kcp-a-socks" -i kcp-a-socks -a "$AG" -l "127.0.0.1:$LS"
	n4mv a-hc local-port -k -m "$URL?client_id=kcp-a-hc" -i kcp-a-hc -a "$AG" -l "127.0.0.1:$LH" \
		-t "127.0.0.1:$EOFS"
	check "a: local-port -k, local-socks -k and the half-close local listen" wait_for 10 bash -c \
		"ss -Htln 'sport = :$LP' | grep -q . && ss -Htln 'sport = :$LS' | grep -q . && ss -Htln 'sport = :$LH' | grep -q ."
	check "a: the locals know the agent (its status says max_packet: fast KCP)" wait_for 10 bash -c \
		"grep -q 'peer $AG/- online' '$TEST_TMP/a-local.log' && grep -q 'peer $AG/- online' '$TEST_TMP/a-socks.log' && grep -q 'peer $AG/- online' '$TEST_TMP/a-hc.log'"
	check "a: the agent knows the locals" wait_for 10 bash -c \
		"grep -q 'peer -/kcp-a-port online' '$TEST_TMP/a-agent.log' && grep -q 'peer -/kcp-a-hc online' '$TEST_TMP/a-agent.log'"

	want=$(sha_of $((20 * MB)) 11)
	t0=$(now_ms)
	res=$(timeout 60 $PY "$KT" echo-client "$LP" $((20 * MB)) 11 | tail -n 1)
	ms=$(($(now_ms) - t0))
	echo "    echo: $res ($(mbps $((20 * MB)) "$ms") MB/s each way)"
	check "a: 20 MB random both ways through local-port -k to an echo server, sha256 equal" \
		test "$res" = "echo sent $((20 * MB)) sha256 $want got $((20 * MB)) sha256 $want"

	want=$(sha256sum <"$TEST_TMP/www/blob" | cut -d' ' -f1)
	timeout 60 curl -sS --max-time 50 --socks5-hostname "127.0.0.1:$LS" \
		"http://127.0.0.1:$HTTP/blob" -o "$TEST_TMP/blob.got" 2>"$TEST_TMP/curl.err"
	got=$(sha256sum <"$TEST_TMP/blob.got" 2>/dev/null | cut -d' ' -f1)
	check "a: curl --socks5-hostname through local-socks -k fetches 10 MB, sha256 equal ($(stat -c %s "$TEST_TMP/blob.got" 2>/dev/null) bytes $(head -c 200 "$TEST_TMP/curl.err"))" \
		test "$got" = "$want"

	res=$(timeout 40 $PY "$TT" shut-client 127.0.0.1 "$LH" 1000000 200000 2>&1)
	check "a: half-close in kcp mode: 1 MB, SHUT_WR, the whole reply comes back ($res)" \
		grep -q '^halfclose ok' <<<"$res"
	check "a: the server read exactly 1000000 bytes before EOF ($(cat "$TEST_TMP/eof-server.txt" 2>/dev/null))" \
		grep -qx 'read 1000000 bytes' "$TEST_TMP/eof-server.txt"
	settled a-agent "$a_agent_PID" 3 && settled a-local "$a_local_PID" 1 && settled a-socks "$a_socks_PID" 1 &&
		settled a-hc "$a_hc_PID" 1
	check "a: agent and locals still running after their flows ended" \
		all_alive "$a_agent_PID" "$a_local_PID" "$a_socks_PID" "$a_hc_PID"
}

### b. lossy: local on prefix A, agent on prefix B, relay in between
# lossy_up NAME PORT SEED SERVER_OUT: a 10 MB upload; prints the server's line (or nothing)
lossy_up() {
	local res
	res=$(timeout 60 $PY "$KT" send-client "$2" $((10 * MB)) "$3" 2>&1 | tail -n 1)
	echo "    $1 client: $res" >&2
	wait_for 20 grep -qs '^\(got\|error\)' "$4"
	grep '^\(got\|error\)' "$4" | tail -n 1
}

part_b() {
	local AG=kcp-b-agent RK RT SD LKU LKD LTU LTD want_up want_down res t0 ms
	if [ ! -x "$RELAY" ]; then
		fail "b: $RELAY is built (make $RELAY)"
		return
	fi
	RK=$(free_port) RT=$(free_port) SD=$(free_port)
	LKU=$(free_port) LKD=$(free_port) LTU=$(free_port) LTD=$(free_port)
	bg relay "$RELAY" -h 127.0.0.1 -p "$BROKER_PORT" -a "$PA" -b "$PB" -l "$LOSS" -s 42
	relay_PID_B=$relay_PID
	check "b: the lossy relay is subscribed (ready)" wait_for 10 grep -qx ready "$TEST_TMP/relay.out"
	bg recv-k $PY "$KT" recv-server "$RK" "$TEST_TMP/recv-k.txt"
	bg recv-t $PY "$KT" recv-server "$RT" "$TEST_TMP/recv-t.txt"
	bg send-d $PY "$KT" send-server "$SD" $((10 * MB)) 22
	wait_for 10 bash -c "ss -Htln 'sport = :$RK' | grep -q . && ss -Htln 'sport = :$RT' | grep -q . && ss -Htln 'sport = :$SD' | grep -q ." ||
		fail "b: test servers listen"
	n4mv b-agent agent -m "$BROKER_URL_BASE/$PB?client_id=$AG" -i "$AG" -t "127.0.0.1:$RK"
	local A="$BROKER_URL_BASE/$PA"
	n4mv b-kup local-port -k -m "$A?client_id=b-kup" -i b-kup -a "$AG" -l "127.0.0.1:$LKU"
	n4mv b-kdown local-port -k -m "$A?client_id=b-kdown" -i b-kdown -a "$AG" -l "127.0.0.1:$LKD" -t "127.0.0.1:$SD"
	n4mv b-tup local-port -m "$A?client_id=b-tup" -i b-tup -a "$AG" -l "127.0.0.1:$LTU" -t "127.0.0.1:$RT"
	n4mv b-tdown local-port -m "$A?client_id=b-tdown" -i b-tdown -a "$AG" -l "127.0.0.1:$LTD" -t "127.0.0.1:$SD"
	check "b: the four locals listen" wait_for 10 bash -c \
		"for p in $LKU $LKD $LTU $LTD; do ss -Htln \"sport = :\$p\" | grep -q . || exit 1; done"
	check "b: the locals (prefix A) see the agent's status (prefix B) through the relay" wait_for 10 bash -c \
		"for n in b-kup b-kdown b-tup b-tdown; do grep -q 'peer $AG/- online' \"$TEST_TMP/\$n.log\" || exit 1; done"
	check "b: the agent sees the locals' status through the relay" wait_for 10 bash -c \
		"for n in b-kup b-kdown b-tup b-tdown; do grep -q \"peer -/\$n online\" '$TEST_TMP/b-agent.log' || exit 1; done"

	want_up=$(sha_of $((10 * MB)) 21)
	want_down=$(sha_of $((10 * MB)) 22)

	t0=$(now_ms)
	res=$(lossy_up kcp-up "$LKU" 21 "$TEST_TMP/recv-k.txt")
	ms=$(($(now_ms) - t0))
	echo "    kcp upload at ${LOSS} loss: $res ($(mbps $((10 * MB)) "$ms") MB/s)"
	check "b: 10 MB upload through local-port -k over $LOSS loss each way arrives intact" \
		grep -q "^got $((10 * MB)) bytes sha256 $want_up " <<<"$res"

	t0=$(now_ms)
	res=$(timeout 60 $PY "$KT" recv-client "$LKD" 2>&1 | tail -n 1)
	ms=$(($(now_ms) - t0))
	echo "    kcp download at ${LOSS} loss: $res ($(mbps $((10 * MB)) "$ms") MB/s)"
	check "b: 10 MB download through local-port -k over $LOSS loss each way arrives intact" \
		test "$res" = "got $((10 * MB)) bytes sha256 $want_down"

	res=$(lossy_up tcp-up "$LTU" 21 "$TEST_TMP/recv-t.txt")
	echo "    tcp upload at ${LOSS} loss: ${res:-nothing arrived}"
	check "b: the same upload in tcp mode (no -k) over the same relay arrives corrupted or short" \
		test -n "$res" -a "${res#got $((10 * MB)) bytes sha256 $want_up }" = "$res"
	# its one request message may be lost: then the flow never opens (5 s of
	# silence), which is short too
	res=$(timeout 60 $PY "$KT" recv-client "$LTD" 5 2>&1 | tail -n 1)
	echo "    tcp download at ${LOSS} loss: $res"
	check "b: the same download in tcp mode arrives corrupted or short" \
		test -n "$res" -a "$res" != "got $((10 * MB)) bytes sha256 $want_down"

	kill -USR1 "$relay_PID_B"
	wait_for 5 bash -c "grep -q '^B->A' '$TEST_TMP/relay.out'"
	sed 's/^/    relay: /' "$TEST_TMP/relay.out" | grep -v ready
	check "b: the relay really dropped messages both ways" bash -c \
		"grep '^A->B' '$TEST_TMP/relay.out' | tail -n 1 | grep -qv 'dropped 0 msgs' && grep '^B->A' '$TEST_TMP/relay.out' | tail -n 1 | grep -qv 'dropped 0 msgs'"
	settled b-agent "$b_agent_PID" 3 && settled b-kup "$b_kup_PID" 1 && settled b-kdown "$b_kdown_PID" 1
	check "b: agent, locals and relay still running after their flows ended" \
		all_alive "$b_agent_PID" "$b_kup_PID" "$b_kdown_PID" "$b_tup_PID" "$b_tdown_PID" "$relay_PID_B"
}

### c. flow control: the destination stops reading while the client pushes 50 MB
part_c() {
	local AG=kcp-c-agent RF LP FLAG=$TEST_TMP/c.flag size=$((50 * MB)) want st res hwm
	RF=$(free_port) LP=$(free_port)
	bg recv-f $PY "$KT" recv-server "$RF" "$TEST_TMP/recv-f.txt" "$FLAG"
	wait_for 10 port_listening "$RF" || fail "c: the stalling server listens"
	n4mv c-agent agent -m "$URL?client_id=$AG" -i "$AG" -t "127.0.0.1:$RF"
	n4mv c-local local-port -k -m "$URL?client_id=kcp-c" -i kcp-c -a "$AG" -l "127.0.0.1:$LP"
	check "c: local-port -k listens and knows the agent" wait_for 10 bash -c \
		"ss -Htln 'sport = :$LP' | grep -q . && grep -q 'peer $AG/- online' '$TEST_TMP/c-local.log'"
	want=$(sha_of "$size" 31)
	bg push timeout 120 $PY "$KT" send-client "$LP" "$size" 31
	MAX_A_KB=0 MAX_L_KB=0
	sample_rss 60 "$c_agent_PID" "$c_local_PID" grep -q '^\(stalled\|sent\|send FAIL\)' "$TEST_TMP/push.out"
	# a few more samples while it stays stalled
	sample_rss 2 "$c_agent_PID" "$c_local_PID" false
	st=$(grep -m1 '^\(stalled\|sent\|send FAIL\)' "$TEST_TMP/push.out")
	echo "    client: ${st:-no stall, no end in 60 s}; max RSS while stalled: agent $MAX_A_KB kB, local $MAX_L_KB kB"
	check "c: the client's send stalls before 50 MB while the destination does not read ($st)" \
		grep -q '^stalled at [0-9]' <<<"$st"
	check "c: the destination accepted and holds the flow" grep -q '^accepted' "$TEST_TMP/recv-f.txt"
	if [ -n "${ASAN_OPTIONS:-}" ]; then
		# ASAN's shadow memory and quarantine (256 MB of freed blocks) make RSS meaningless
		skip "c: RSS ceiling under sanitizers (agent $MAX_A_KB kB, local $MAX_L_KB kB)"
	else
		check "c: agent RSS under $((RSS_CAP_KB / 1024)) MB while stalled (max $MAX_A_KB kB)" test "$MAX_A_KB" -lt "$RSS_CAP_KB"
		check "c: local RSS under $((RSS_CAP_KB / 1024)) MB while stalled (max $MAX_L_KB kB)" test "$MAX_L_KB" -lt "$RSS_CAP_KB"
		hwm=$(hwm_kb "$c_agent_PID")
		check "c: agent peak RSS (VmHWM) under $((RSS_CAP_KB / 1024)) MB ($hwm kB)" test "${hwm:-0}" -gt 0 -a "${hwm:-0}" -lt "$RSS_CAP_KB"
		hwm=$(hwm_kb "$c_local_PID")
		check "c: local peak RSS (VmHWM) under $((RSS_CAP_KB / 1024)) MB ($hwm kB)" test "${hwm:-0}" -gt 0 -a "${hwm:-0}" -lt "$RSS_CAP_KB"
	fi
	touch "$FLAG"
	wait_for 60 grep -q '^\(got\|error\)' "$TEST_TMP/recv-f.txt"
	res=$(grep '^\(got\|error\)' "$TEST_TMP/recv-f.txt" | head -n 1)
	check "c: once it reads, the destination gets all 50 MB with the right sha256 (${res:-nothing in 60 s})" \
		grep -q "^got $size bytes sha256 $want " <<<"$res"
	wait_for 30 grep -q '^\(sent\|send FAIL\)' "$TEST_TMP/push.out"
	res=$(grep '^\(sent\|send FAIL\)' "$TEST_TMP/push.out")
	check "c: the client's send completed rather than failed (${res:-no end})" test "$res" = "sent $size bytes"
	settled c-agent "$c_agent_PID" 1 && settled c-local "$c_local_PID" 1
	check "c: agent and local still running after the flow ended" all_alive "$c_agent_PID" "$c_local_PID"
}

### d. junk KCP payloads on a live flow (both ends) and on a new flow
part_d() {
	local AG=kcp-d-agent LOCAL=kcp-d RD LP FLAG=$TEST_TMP/d.flag size=$((20 * MB)) want cport live res
	RD=$(free_port) LP=$(free_port)
	bg recv-j $PY "$KT" recv-server "$RD" "$TEST_TMP/recv-j.txt" "$FLAG"
	wait_for 10 port_listening "$RD" || fail "d: the server listens"
	n4mv d-agent agent -m "$URL?client_id=$AG" -i "$AG" -t "127.0.0.1:$ECHO"
	n4mv d-local local-port -k -m "$URL?client_id=$LOCAL" -i "$LOCAL" -a "$AG" -l "127.0.0.1:$LP" -t "127.0.0.1:$RD"
	check "d: local-port -k listens and knows the agent" wait_for 10 bash -c \
		"ss -Htln 'sport = :$LP' | grep -q . && grep -q 'peer $AG/- online' '$TEST_TMP/d-local.log'"
	want=$(sha_of "$size" 41)
	bg jpush timeout 120 $PY "$KT" send-client "$LP" "$size" 41
	# the destination holds the flow until the junk is in: the flow is live meanwhile
	wait_for 20 grep -qs '^accepted' "$TEST_TMP/recv-j.txt" || fail "d: the kcp flow reaches the destination"
	cport=$(sed -n 's/^port //p' "$TEST_TMP/jpush.out")
	live="$PREFIX/$AG/$LOCAL/%s/kcpx/127.0.0.1:$cport/127.0.0.1:$RD" # between our peers: kcpx
	# shellcheck disable=SC2059
	res=$(timeout 30 $PY "$KT" junk 127.0.0.1 "$BROKER_PORT" "$(printf "$live" i)" "$(printf "$live" o)" \
		"$PREFIX/$AG/$LOCAL/i/kcp/127.0.0.1:5555/-" "$PREFIX/$AG/$LOCAL/i/kcpx/127.0.0.1:5556/-" 2>&1)
	echo "    $res"
	check "d: the agent counts the junk as bad_payload" wait_for 10 bad_payload_over_0 d-agent "$d_agent_PID"
	check "d: the local counts the junk as bad_payload" wait_for 10 bad_payload_over_0 d-local "$d_local_PID"
	touch "$FLAG"
	# more junk while the data flows
	timeout 30 $PY "$KT" junk 127.0.0.1 "$BROKER_PORT" "$(printf "$live" i)" "$(printf "$live" o)" >/dev/null 2>&1
	# the first result is the transfer's; junk that lands after the flow ended may
	# open another connection to the destination, which reports later
	wait_for 60 grep -q '^\(got\|error\)' "$TEST_TMP/recv-j.txt"
	res=$(grep '^\(got\|error\)' "$TEST_TMP/recv-j.txt" | head -n 1)
	check "d: the kcp transfer under junk completes intact (${res:-nothing in 60 s})" \
		grep -q "^got $size bytes sha256 $want " <<<"$res"
	wait_for 30 grep -q '^\(sent\|send FAIL\)' "$TEST_TMP/jpush.out"
	check "d: the client's send completed ($(grep '^\(sent\|send FAIL\)' "$TEST_TMP/jpush.out"))" \
		grep -qx "sent $size bytes" "$TEST_TMP/jpush.out"
	settled d-agent "$d_agent_PID" 1 && settled d-local "$d_local_PID" 1
	check "d: agent and local still running after the flow ended" all_alive "$d_agent_PID" "$d_local_PID"
	echo "    agent $(stats d-agent "$d_agent_PID" | grep -o 'stats:.*')"
	echo "    local $(stats d-local "$d_local_PID" | grep -o 'stats:.*')"
}

for p in a b c d; do
	if part "$p"; then
		t0=$SECONDS
		"part_$p"
		echo "    part $p: $((SECONDS - t0)) s"
	fi
done
finish
