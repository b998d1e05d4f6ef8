#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m in lib.sh
# local-socks --socks-user (RFC 1929): curl with the right username/password
# gets the page (-U and socks5h://user:pass@); a wrong password, a wrong user
# and no credentials at all are refused, and the log names the user but never
# the password; malformed sub-negotiations (wrong version, empty fields, a NUL
# byte, cut short then closed) are refused without disturbing the process;
# greeting, credentials, CONNECT and data in one write work; --socks-user
# @FILE works the same.
set -u
source "$(dirname "$0")/../lib.sh"

PREFIX=e2e/socksauth
AGENT=sauth-agent
USER1=alice PASS1=s3cret
USER2=bob PASS2="f1le-$RANDOM-pw" # from a file: only the file holds it
BADPASS="n0t-the-pw-$RANDOM"

start_broker || { fail "mosquitto starts"; exit 1; }
URL="$BROKER_URL_BASE/$PREFIX"

mkdir -p "$TEST_TMP/www"
head -c 200000 /dev/urandom >"$TEST_TMP/www/file"
echo "socks auth index $RANDOM" >"$TEST_TMP/www/index.html"
HTTP=$(free_port)
start_http "$TEST_TMP/www" "$HTTP" || { fail "http server starts"; exit 1; }

printf '%s:%s\n' "$USER2" "$PASS2" >"$TEST_TMP/creds"
chmod 600 "$TEST_TMP/creds"

n4m agent agent -m "$URL?client_id=$AGENT" -i "$AGENT" -t "127.0.0.1:$HTTP"
SP=$(free_port)
n4m socks local-socks -m "$URL?client_id=sauth-local" -i sauth-local -a "$AGENT" \
	-l "127.0.0.1:$SP" --socks-user "$USER1:$PASS1"
SF=$(free_port)
n4m socksf local-socks -m "$URL?client_id=sauth-localf" -i sauth-localf -a "$AGENT" \
	-l "127.0.0.1:$SF" --socks-user "@$TEST_TMP/creds"
need "local-socks (--socks-user USER:PASS) listens" wait_for 10 port_listening "$SP"
need "local-socks (--socks-user @FILE) listens" wait_for 10 port_listening "$SF"
need "agent publishes its online status" wait_status "$BROKER_URL_BASE/$PREFIX/$AGENT/-/v/-"

# fetch NAME curl-args...: body to $TEST_TMP/NAME.out, prints curl's exit code.
fetch() {
	local name=$1; shift
	rm -f "$TEST_TMP/$name.out"
	timeout 20 curl -sS -o "$TEST_TMP/$name.out" "$@" 2>"$TEST_TMP/$name.err"
	echo $?
}
same() { cmp -s "$TEST_TMP/www/$1" "$TEST_TMP/$2.out"; }
# refused NAME RC: curl gave up (not a timeout) and got no page.
refused() { [ "$2" -ne 0 ] && [ "$2" -ne 124 ] && ! same file "$1"; }
# log_has NAME TEXT: a fixed string in that net4mqtt's log, waited for (it is written after the reply).
log_has() { wait_for 5 grep -qF -- "$2" "$TEST_TMP/$1.log"; }
log_lacks() { ! grep -qF -- "$2" "$TEST_TMP/$1.log"; }
WEB=http://127.0.0.1:$HTTP/file

rc=$(fetch ok-U --socks5-hostname "127.0.0.1:$SP" -U "$USER1:$PASS1" "$WEB")
check "curl --socks5-hostname -U $USER1:$PASS1: 200 KB byte-exact (rc $rc)" same file ok-U
rc=$(fetch ok-url -x "socks5h://$USER1:$PASS1@127.0.0.1:$SP" "$WEB")
check "curl -x socks5h://$USER1:$PASS1@...: byte-exact (rc $rc)" same file ok-url
rc=$(fetch ok-local-dns --socks5 "127.0.0.1:$SP" -U "$USER1:$PASS1" "$WEB")
check "curl --socks5 (local DNS) with credentials: byte-exact (rc $rc)" same file ok-local-dns

rc=$(fetch badpass --socks5-hostname "127.0.0.1:$SP" -U "$USER1:$BADPASS" "$WEB")
check "a wrong password is refused (rc $rc: $(head -c 100 "$TEST_TMP/badpass.err"))" \
	refused badpass "$rc"
check "the refusal is logged, naming $USER1" \
	log_has socks "client refused: wrong username or password for user \"$USER1\""
check "the log does not hold the wrong password" log_lacks socks "$BADPASS"

rc=$(fetch baduser --socks5-hostname "127.0.0.1:$SP" -U "mallory:$PASS1" "$WEB")
check "a wrong user with the right password is refused (rc $rc)" refused baduser "$rc"
check "that refusal names mallory" log_has socks "for user \"mallory\""

rc=$(fetch nocreds --socks5-hostname "127.0.0.1:$SP" "$WEB")
check "a client offering only NO AUTHENTICATION is refused (rc $rc: $(head -c 100 "$TEST_TMP/nocreds.err"))" \
	refused nocreds "$rc"
check "and logged as such" log_has socks "client refused: no username/password offered"

# Raw sub-negotiations. Each case prints "reply HEX then eof|still open|error ...".
cat >"$TEST_TMP/authraw.py" <<'EOF'
import socket, struct, sys

case, port = sys.argv[1], int(sys.argv[2])
GREET = b"\x05\x01\x02"  # offers username/password only
BIND = b"\x05\x02\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", 80)


def userpass(user, pw, ver=1):
    return bytes([ver, len(user)]) + user + bytes([len(pw)]) + pw


def recv_rest(s):
    buf = b""
    try:
        while True:
            d = s.recv(4096)
            if not d:
                return buf, "eof"
            buf += d
    except socket.timeout:
        return buf, "still open"
    except OSError as e:
        return buf, f"error {e.errno}"


s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.settimeout(10)
if case == "pipelined":  # greeting, credentials, CONNECT, HTTP request in one write
    hport = int(sys.argv[3])
    s.sendall(GREET + userpass(b"alice", b"s3cret")
              + b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", hport)
              + b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")
    rest, how = recv_rest(s)
    head, _, body = rest.partition(b"\r\n\r\n")
    print(f"pipelined {rest[:2].hex()} {rest[2:4].hex()} {rest[4:14].hex()} {how} "
          f"body {body.decode(errors='replace').strip()}")
    sys.exit(0)
sends = {
    # then a BIND request: answered 05 07 only once in the request state
    "good": [GREET, userpass(b"alice", b"s3cret"), BIND],
    "both-offered": [b"\x05\x02\x00\x02", userpass(b"alice", b"s3cret"), BIND],
    "wrong-version": [GREET, userpass(b"alice", b"s3cret", ver=5)],
    "zero-ulen": [GREET, b"\x01\x00\x06s3cret"],
    "zero-plen": [GREET, b"\x01\x05alice\x00"],
    "nul-in-pass": [GREET, userpass(b"alice", b"s3cret\x00x")],
    "control-user": [GREET, userpass(b"ev\nil\x1b", b"s3cret")],
    "truncated": [GREET, b"\x01\x05al"],
}[case]
got = b""
for i, data in enumerate(sends):
    s.sendall(data)
    if i < len(sends) - 1:  # the 2-byte answer to each message before the next one
        want = len(got) + 2
        while len(got) < want:
            d = s.recv(want - len(got))
            if not d:
                break
            got += d
if case == "truncated":
    s.shutdown(socket.SHUT_WR)  # cut short, then closed
rest, how = recv_rest(s)
print(f"reply {(got + rest).hex() or '-'} then {how}")
EOF
raw() { timeout 25 "$PY" "$TEST_TMP/authraw.py" "$@" 2>&1 | tail -n 1; }

r=$(raw both-offered "$SP")
check "a greeting offering NO AUTH and username/password gets 05 02, then on as usual ($r)" \
	grep -Eqx 'reply 050201000507[0-9a-f]* then (eof|error .*)' <<<"$r"
r=$(raw good "$SP")
check "raw: the right credentials get 01 00, then a BIND request its 05 07 ($r)" \
	grep -Eqx 'reply 050201000507[0-9a-f]* then (eof|error .*)' <<<"$r"
r=$(raw wrong-version "$SP")
check "raw: sub-negotiation version 5 is closed without a status ($r)" \
	grep -Eqx 'reply 0502 then (eof|error .*)' <<<"$r"
check "and logged as malformed" log_has socks "client refused: malformed username/password request"
r=$(raw zero-ulen "$SP")
check "raw: ULEN 0 is closed without a status ($r)" grep -Eqx 'reply 0502 then (eof|error .*)' <<<"$r"
r=$(raw zero-plen "$SP")
check "raw: PLEN 0 is closed without a status ($r)" grep -Eqx 'reply 0502 then (eof|error .*)' <<<"$r"
r=$(raw nul-in-pass "$SP")
check "raw: a NUL byte in the password (s3cret\\0x) gets failure 01 01 and is closed ($r)" \
	grep -Eqx 'reply 05020101 then (eof|error .*)' <<<"$r"
r=$(raw control-user "$SP")
check "raw: a user name with control bytes gets 01 01 ($r)" \
	grep -Eqx 'reply 05020101 then (eof|error .*)' <<<"$r"
check "and the log shows it escaped, on one line" log_has socks 'for user "ev\x0ail\x1b"'
r=$(raw truncated "$SP")
check "raw: a sub-negotiation cut short and closed gets no status ($r)" \
	grep -Eqx 'reply 0502 then (eof|error .*)' <<<"$r"
r=$(raw pipelined "$SP" "$HTTP")
check "greeting, credentials, CONNECT and data in one write: 05 02, 01 00, 05 00, then the page ($r)" \
	grep -qx "pipelined 0502 0100 05000001000000000000 eof body $(cat "$TEST_TMP/www/index.html")" <<<"$r"

check "local-socks is still running after all that" all_running "$socks_PID"
rc=$(fetch after --socks5-hostname "127.0.0.1:$SP" -U "$USER1:$PASS1" "$WEB")
check "a correct client still works afterwards (rc $rc)" same file after
check "the password $PASS1 never appears in the log" log_lacks socks "$PASS1"

# --socks-user @FILE
rc=$(fetch file-ok --socks5-hostname "127.0.0.1:$SF" -U "$USER2:$PASS2" "$WEB")
check "--socks-user @FILE: the file's credentials work (rc $rc)" same file file-ok
rc=$(fetch file-bad --socks5-hostname "127.0.0.1:$SF" -U "$USER2:$PASS2-x" "$WEB")
check "--socks-user @FILE: a wrong password is refused (rc $rc)" refused file-bad "$rc"
check "--socks-user @FILE: the refusal names $USER2" \
	log_has socksf "wrong username or password for user \"$USER2\""
rc=$(fetch file-other --socks5-hostname "127.0.0.1:$SF" -U "$USER1:$PASS1" "$WEB")
check "--socks-user @FILE: the other instance's credentials are refused (rc $rc)" \
	refused file-other "$rc"
check "--socks-user @FILE: the password never appears in the log" log_lacks socksf "$PASS2"

check "both local-socks and the agent still running" \
	all_running "$socks_PID" "$socksf_PID" "$agent_PID"
finish
