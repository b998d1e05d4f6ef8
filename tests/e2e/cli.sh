#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m in lib.sh
# The command line: -V, -h, bad URLs / commands / listen addresses exit 2 with
# a one-line error, -k with -u is refused, a busy listen port fails
# clearly; the MQTT password and TLS options' bad values are one exact line and exit 2;
# a multi-level prefix carries traffic; user:password in the URL
# against a mosquitto with a password file, and a wrong password is refused.
set -u
source "$(dirname "$0")/../lib.sh"

TOOL=$(cd "$(dirname "$0")" && pwd)/helpers/tcptool.py
PREFIX=site/a/n4m

# run NAME args...: runs net4mqtt (bounded), exit code in RC, stdout/stderr in $TEST_TMP/NAME.{out,err}
run() {
	local name=$1; shift
	timeout 5 "$N4M" "$@" >"$TEST_TMP/$name.out" 2>"$TEST_TMP/$name.err" </dev/null
	RC=$?
}
err_lines() { grep -c . "$TEST_TMP/$1.err"; }
first_err() { head -n 1 "$TEST_TMP/$1.err"; }

run version -V
check "-V exits 0 and prints a version ($(cat "$TEST_TMP/version.out"))" \
	bash -c "[ $RC -eq 0 ] && grep -Eq '^net4mqtt [0-9]+\.[0-9]+\.[0-9]+' '$TEST_TMP/version.out'"
run version-long --version
check "--version prints the same" cmp -s "$TEST_TMP/version.out" "$TEST_TMP/version-long.out"
run help -h
check "-h exits 0 and lists the commands" \
	bash -c "[ $RC -eq 0 ] && grep -q 'agent' '$TEST_TMP/help.out' && grep -q 'local-port' '$TEST_TMP/help.out' && grep -q 'local-socks' '$TEST_TMP/help.out'"
for c in agent local-port local-socks; do
	run "help-$c" "$c" -h
	check "$c -h exits 0 and shows its usage" \
		bash -c "[ $RC -eq 0 ] && grep -q 'Usage: net4mqtt $c' '$TEST_TMP/help-$c.out'"
done

# genkey and pubkey: a 44-character base64 key, a different one each time; pubkey of it is
# another such key, the same every time; junk on pubkey's stdin is one line and exit 1.
run genkey genkey
run genkey2 genkey
check "genkey prints a new 44-character base64 key" \
	bash -c "[ $RC -eq 0 ] && grep -Eqx '[A-Za-z0-9+/]{43}=' '$TEST_TMP/genkey.out' && ! cmp -s '$TEST_TMP/genkey.out' '$TEST_TMP/genkey2.out'"
"$N4M" pubkey <"$TEST_TMP/genkey.out" >"$TEST_TMP/pub1.out" 2>&1
"$N4M" pubkey <"$TEST_TMP/genkey.out" >"$TEST_TMP/pub2.out" 2>&1
check "pubkey prints the key's public key, the same each time" \
	bash -c "grep -Eqx '[A-Za-z0-9+/]{43}=' '$TEST_TMP/pub1.out' && cmp -s '$TEST_TMP/pub1.out' '$TEST_TMP/pub2.out' && ! cmp -s '$TEST_TMP/pub1.out' '$TEST_TMP/genkey.out'"
echo junk | "$N4M" pubkey >"$TEST_TMP/pubbad.out" 2>"$TEST_TMP/pubbad.err"
RC=$?
check "pubkey refuses what is not a key: exit 1, one line ($(first_err pubbad))" \
	bash -c "[ $RC -eq 1 ] && [ $(err_lines pubbad) -eq 1 ] && [ ! -s '$TEST_TMP/pubbad.out' ]"
run genkey-arg genkey extra
check "genkey with an argument: exit 2, one line ($(first_err genkey-arg))" \
	bash -c "[ $RC -eq 2 ] && [ $(err_lines genkey-arg) -eq 1 ]"

# Bad URLs: exit 2, one line on stderr about the URL.
i=0
for url in "http://x" "mqtt://" "mqtt://h:99999" "mqtt://h:0" "mqtt://h:port/x"; do
	i=$((i + 1))
	run "badurl$i" agent -m "$url"
	check "agent -m '$url' exits 2 (rc $RC) with one line about the URL: $(first_err "badurl$i")" \
		bash -c "[ $RC -eq 2 ] && [ $(err_lines "badurl$i") -eq 1 ] && grep -qi 'url' '$TEST_TMP/badurl$i.err'"
done
run badurl-lp local-port -m "http://x"
check "local-port -m http://x exits 2 too (rc $RC)" test "$RC" -eq 2

run unknown frobnicate
check "an unknown command exits 2 (rc $RC) and names it: $(first_err unknown)" \
	bash -c "[ $RC -eq 2 ] && grep -q 'frobnicate' '$TEST_TMP/unknown.err'"
run unknown-opt agent --no-such-option
check "an unknown option exits 2 (rc $RC)" test "$RC" -eq 2
run no-command
check "no command at all exits 2 (rc $RC)" test "$RC" -eq 2

run kcp-udp local-port -k -u
check "local-port -k -u exits 2 (rc $RC): kcp carries TCP only: $(first_err kcp-udp)" \
	bash -c "[ $RC -eq 2 ] && grep -qi 'kcp' '$TEST_TMP/kcp-udp.err'"

i=0
for l in "999.1.1.1:80" "nonsense" "127.0.0.1:99999" "[::1:80" "127.0.0.1"; do
	i=$((i + 1))
	run "badlisten$i" local-port -l "$l"
	check "local-port -l '$l' exits 2 (rc $RC): $(first_err "badlisten$i")" \
		bash -c "[ $RC -eq 2 ] && [ $(err_lines "badlisten$i") -eq 1 ]"
done
run badtarget agent -t "no-port-here"
check "agent -t without a port exits 2 (rc $RC): $(first_err badtarget)" test "$RC" -eq 2

# Options of the gateway's DNS and advertised routes: wrong values or wrong commands exit 2.
i=0
for args in "agent --advertise 10.0.0.0/33" "agent --advertise nonsense" "local-port --advertise 10.0.0.0/8" \
	"local-socks --dns" "agent --auto-routes" "gateway --route 10.0.0.0/8 --dns-upstream 10.0.0.53" \
	"gateway --route 10.0.0.0/8 --dns-hijack" "gateway --route 10.0.0.0/8 --remote-domain a.b=x" \
	"gateway --dns" "gateway --auto-routes --dns --remote-domain example.internal" \
	"gateway --auto-routes --dns --remote-domain bad/name=a" "gateway --auto-routes --dns --dns-upstream 10.0.0.300" \
	"gateway --auto-routes --dns --dns-upstream 10.0.0.53" "local-port --packet-size 100" \
	"agent --packet-size 65537" "local-socks --packet-size 40k"; do
	i=$((i + 1))
	# shellcheck disable=SC2086 # words on purpose
	run "badopt$i" $args
	check "net4mqtt $args exits 2 (rc $RC): $(first_err "badopt$i")" \
		bash -c "[ $RC -eq 2 ] && [ $(err_lines "badopt$i") -eq 1 ]"
	[[ $args == "local-port --advertise"* ]] &&
		check "... naming the option, not its argument" grep -q -- "--advertise" "$TEST_TMP/badopt$i.err"
done
# The gateway's table, rule priority, bypass and fake-ip options: the exact line, exit 2.
G="gateway -a far --route 10.20.0.0/24"
while IFS='|' read -r args want; do
	i=$((i + 1))
	# shellcheck disable=SC2086 # words on purpose
	run "badgw$i" $G $args
	check "net4mqtt gateway $args exits 2 (rc $RC) with: $want" \
		bash -c '[ "$1" -eq 2 ] && [ "$(cat "$2")" = "net4mqtt: $3" ]' _ "$RC" "$TEST_TMP/badgw$i.err" "$want"
done <<'EOF_CASES'
--table 0|bad --table 0: want 1..2147483647 but not 253, 254 or 255 (the kernel's default, main and local tables)
--table 254|bad --table 254: want 1..2147483647 but not 253, 254 or 255 (the kernel's default, main and local tables)
--table 4294967296|bad --table 4294967296: want 1..2147483647 but not 253, 254 or 255 (the kernel's default, main and local tables)
--rule-priority 0|bad --rule-priority 0: want 3..32765 (0, 32766 and 32767 are the kernel's rules; the broker pin and --bypass take the two below it)
--rule-priority 32766|bad --rule-priority 32766: want 3..32765 (0, 32766 and 32767 are the kernel's rules; the broker pin and --bypass take the two below it)
--bypass ::/0|bad --bypass ::/0: a default route would keep every host out of the gateway (give the hosts' addresses)
--bypass 10.1.0.0/16 --bypass 10.1.0.0/16|--bypass 10.1.0.0/16 is given twice
--dns --fake-ip-range 198.51.100.0/31|bad --fake-ip-range 198.51.100.0/31: an IPv4 range wants a prefix length of /8 to /30
--dns --fake-ip-range fd00::/121|bad --fake-ip-range fd00::/121: an IPv6 range wants a prefix length of /8 to /120
--dns --fake-ip-range 198.51.100.7/24|bad --fake-ip-range 198.51.100.7/24: host bits are set (give the network address)
--dns --fake-ip-range 10.0.0.0/8|--fake-ip-range 10.0.0.0/8 overlaps --route 10.20.0.0/24: give the pool another --fake-ip-range
--dns --fake-ip-range 198.18.0.0/24|--fake-ip-range 198.18.0.0/24 overlaps the TUN's own 198.18.0.0/30
--route fdfe:dcba:9876::1/128|--route fdfe:dcba:9876::1/128 overlaps the TUN's own fdfe:dcba:9876::/126
--route 10.20.0.0/24|--route 10.20.0.0/24: that prefix is given already (--route 10.20.0.0/24)
--fake-ip-cache /tmp/x|--dns-hijack, --remote-domain, --dns-upstream, --fake-ip-range and --fake-ip-cache go with --dns
EOF_CASES
# The MQTT password and TLS options: each bad value, its exact line, exit 2, for every command.
while IFS='|' read -r args want; do
	i=$((i + 1))
	# shellcheck disable=SC2086 # words on purpose
	run "badmqtt$i" $args
	check "net4mqtt $args exits 2 (rc $RC) with: $want" \
		bash -c '[ "$1" -eq 2 ] && [ "$(cat "$2")" = "net4mqtt: $3" ]' _ "$RC" "$TEST_TMP/badmqtt$i.err" "$want"
done <<'EOF_CASES'
agent -m mqtt://u@h/p --password-file /nonexistent/pw|cannot read --password-file /nonexistent/pw: No such file or directory
local-port -m mqtt://u@h/p --password-file /|cannot read --password-file /: Is a directory
local-socks -m mqtt://u@h/p --password-file /dev/null|--password-file /dev/null is empty
agent -m mqtt://h/p --password-file /etc/hostname|--password-file wants a user name in the MQTT URL: mqtt[s]://USER@HOST/PREFIX
agent -m mqtts://h/p --tls-version tlsv1.1|bad --tls-version tlsv1.1: want tlsv1.2 (1.2 or newer) or tlsv1.3
local-port -m mqtts://h/p --tls-version 1.3|bad --tls-version 1.3: want tlsv1.2 (1.2 or newer) or tlsv1.3
agent -m mqtts://h/p?tls_version=tlsv1.0|bad MQTT URL: tls_version=tlsv1.0: want tlsv1.2 (1.2 or newer) or tlsv1.3
agent -m mqtts://h/p --sni 10.0.0.1|bad --sni 10.0.0.1: want a DNS name (RFC 6066 sends no IP address)
agent -m mqtts://h/p --sni bad!name|bad --sni bad!name: want a DNS name (RFC 6066 sends no IP address)
agent -m mqtts://h/p --cafile /nonexistent/ca.pem|cannot read --cafile /nonexistent/ca.pem: No such file or directory
local-socks -m mqtts://h/p --capath /nonexistent|cannot read --capath /nonexistent: No such file or directory
agent -m mqtts://h/p --cert /dev/null|--cert and --key go together: a client certificate and its key
agent --cafile /dev/null|--cafile goes with an mqtts:// URL (mqtt:// is not encrypted)
local-port -m mqtt://h/p --insecure|--insecure goes with an mqtts:// URL (mqtt:// is not encrypted)
EOF_CASES
run help-agent-tls agent -h
check "agent -h documents --password-file and the TLS flags" bash -c \
	"for o in '--password-file FILE' NET4MQTT_PASSWORD '--cafile FILE' '--capath DIR' '--cert FILE' '--key FILE' '--insecure' '--tls-version V' '--sni NAME'; do
		grep -q -- \"\$o\" '$TEST_TMP/help-agent-tls.out' || exit 1; done"
run help-agent-adv agent -h
check "agent -h documents --advertise" grep -q -- '--advertise CIDR' "$TEST_TMP/help-agent-adv.out"
run help-gw gateway -h
check "gateway -h documents --auto-routes and --dns" \
	bash -c "grep -q -- '--auto-routes' '$TEST_TMP/help-gw.out' && grep -q -- '--dns-upstream' '$TEST_TMP/help-gw.out'"
check "gateway -h documents --table, --rule-priority, --bypass, --fake-ip-range, --fake-ip-cache and -d" bash -c \
	"for o in '--table N' '--rule-priority N' '--bypass CIDR' '--fake-ip-range CIDR' '--fake-ip-cache FILE' '-d, --domain'; do
		grep -q -- \"\$o\" '$TEST_TMP/help-gw.out' || exit 1; done"
check "... and says .local is mDNS's" grep -q "mDNS's (RFC 6762)" "$TEST_TMP/help-gw.out"

# Listening on a port already in use (TCP and UDP): a non-zero exit, a clear message.
start_broker || { fail "mosquitto starts"; exit 1; }
BUSY=$(free_port)
$PY -c "
import socket, sys
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(('127.0.0.1', $BUSY)); t.listen()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('127.0.0.1', $BUSY))
import signal; signal.pause()" >/dev/null 2>&1 &
bg_track $!
wait_for 10 bash -c "ss -Htln 'sport = :$BUSY' | grep -q . && ss -Huln 'sport = :$BUSY' | grep -q ." ||
	fail "a helper holds port $BUSY"
for c in "local-port" "local-socks" "local-port -u"; do
	run busy $c -m "$BROKER_URL_BASE/e2e/cli-busy" -l "127.0.0.1:$BUSY"
	check "$c on a busy port exits non-zero (rc $RC, not 124) with a clear message: $(first_err busy)" \
		bash -c "[ $RC -ne 0 ] && [ $RC -ne 124 ] && grep -qi 'in use' '$TEST_TMP/busy.err' && grep -q '$BUSY' '$TEST_TMP/busy.err'"
done

# A multi-level prefix carries traffic.
LINE=$(free_port)
$PY "$TOOL" line-server 127.0.0.1 "$LINE" "$TEST_TMP/line.got" "pong" >"$TEST_TMP/line.log" 2>&1 &
bg_track $!
wait_for 10 port_listening "$LINE" || fail "line server starts"
n4m agent agent -m "$BROKER_URL_BASE/$PREFIX?client_id=cli-agent" -i cli-agent -t "127.0.0.1:$LINE"
LP=$(free_port)
n4m local local-port -m "$BROKER_URL_BASE/$PREFIX?client_id=cli-local" -i cli-local -a cli-agent -l "127.0.0.1:$LP"
wait_for 10 port_listening "$LP" || fail "local-port listens"
check "the agent's status is at $PREFIX/cli-agent/-/v/-" \
	wait_status "$BROKER_URL_BASE/$PREFIX/cli-agent/-/v/-"
reply=$(printf 'multi-level\n' | timeout 10 nc -N 127.0.0.1 "$LP")
check "agent and local-port on prefix $PREFIX carry traffic (got '$reply')" test "$reply" = "pong"

# user:password against a broker with a password file.
PW=$TEST_TMP/passwd
mosquitto_passwd -b -c "$PW" n4muser 's3cret' 2>/dev/null &&
	mosquitto_passwd -b "$PW" 'we@ird' 'p@ss:w/rd%' 2>/dev/null || fail "mosquitto_passwd creates a password file"
chmod 644 "$PW"
AUTHP=$(free_port)
conf=$TEST_TMP/auth.conf
printf '%s\n' "per_listener_settings true" "listener $AUTHP 127.0.0.1" "allow_anonymous false" \
	"password_file $PW" "persistence false" "max_queued_messages 100000" >"$conf"
mosquitto -c "$conf" >"$TEST_TMP/mosquitto-auth.log" 2>&1 &
bg_track $!
wait_for 10 port_listening "$AUTHP" || fail "mosquitto with a password file starts"
AURL="mqtt://n4muser:s3cret@127.0.0.1:$AUTHP/e2e/cli-auth"
n4m aagent agent -m "$AURL?client_id=auth-agent" -i auth-agent -t "127.0.0.1:$LINE"
# the second user's name and password percent-encoded: we@ird / p@ss:w/rd%
LPA=$(free_port)
n4m alocal local-port -m "mqtt://we%40ird:p%40ss%3Aw%2Frd%25@127.0.0.1:$AUTHP/e2e/cli-auth?client_id=auth-local" \
	-i auth-local -a auth-agent -l "127.0.0.1:$LPA"
connected() { grep -q 'mqtt: connected' "$TEST_TMP/$1.log"; }
check "the agent logs in with user:password from the URL" wait_for 10 connected aagent
check "local-port logs in with a percent-encoded user and password" wait_for 10 connected alocal
wait_for 10 port_listening "$LPA" || fail "local-port (auth) listens"
wait_status "mqtt://n4muser:s3cret@127.0.0.1:$AUTHP/e2e/cli-auth/auth-agent/-/v/-" || fail "the agent's status is online on the password broker"
reply=$(printf 'with auth\n' | timeout 10 nc -N 127.0.0.1 "$LPA")
check "traffic crosses the broker that requires a password (got '$reply')" test "$reply" = "pong"

n4m wrongpw agent -m "mqtt://n4muser:wrong@127.0.0.1:$AUTHP/e2e/cli-auth?client_id=wrong-agent" -i wrong-agent
n4m nopw agent -m "mqtt://127.0.0.1:$AUTHP/e2e/cli-auth?client_id=nopw-agent" -i nopw-agent
refused() { grep -Eqi 'refused|not authori' "$TEST_TMP/$1.log"; }
wait_for 10 refused wrongpw
check "a wrong password is refused with a clear log line: $(grep -Eim1 'refused|not authori' "$TEST_TMP/wrongpw.log")" \
	refused wrongpw
check "and the wrong password never reports a connection" bash -c "! grep -q 'mqtt: connected' '$TEST_TMP/wrongpw.log'"
check "no credentials at all is refused too" wait_for 10 refused nopw
check "the refused agent keeps running (it retries)" kill -0 "$wrongpw_PID"
finish
