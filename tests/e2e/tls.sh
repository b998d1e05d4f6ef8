# mqtts:// to a mosquitto TLS listener: verified with ?cafile=, client certificates
# with ?cert=&key=, and a broker signed by another CA refused with a clear error;
# a certificate for another host name than the URL's is refused too (host name verification).
# The same with mosquitto_sub's flags (--cafile --cert --key --insecure), --tls-version
# against a broker that speaks TLS 1.2 only, and --sni: the name a TLS server is sent,
# and the name the certificate is checked against when connecting by IP address.
source "$(dirname "$0")/../lib.sh"
cd "$TEST_TMP" || exit 1

mkcert() { # name subject-alt-name signer-prefix (empty: self-signed CA)
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" -keyout "$1.key" -out "$1.pem" \
		-addext "basicConstraints=critical,CA:TRUE" 2>/dev/null
}
mkleaf() { # name CA san
	openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$1.key" -out "$1.csr" 2>/dev/null &&
		printf 'subjectAltName=%s\n' "$3" >"$1.ext" &&
		openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 2 \
			-extfile "$1.ext" -out "$1.pem" 2>/dev/null
}
umask 022
mkcert ca && mkcert other-ca && mkleaf server ca "DNS:localhost,IP:127.0.0.1" &&
	mkleaf client ca "DNS:client" && chmod 644 ./*.key || { fail "generate certificates with openssl"; exit 1; }

tls_port=$(free_port)
start_broker "$(free_port)" \
	"listener $tls_port 127.0.0.1" "cafile $TEST_TMP/ca.pem" "certfile $TEST_TMP/server.pem" \
	"keyfile $TEST_TMP/server.key" "require_certificate true" || { fail "start mosquitto with TLS"; exit 1; }
wait_for 10 port_listening "$tls_port"

echo_port=$(free_port)
socat TCP-LISTEN:"$echo_port",bind=127.0.0.1,reuseaddr,fork EXEC:cat &
bg_track $!
wait_for 10 port_listening "$echo_port"

q="cafile=$TEST_TMP/ca.pem&cert=$TEST_TMP/client.pem&key=$TEST_TMP/client.key"
lp=$(free_port)
n4m agent agent -m "mqtts://localhost:$tls_port/tls?$q" -i tls-agent -t "127.0.0.1:$echo_port"
n4m local local-port -m "mqtts://localhost:$tls_port/tls?$q" -i tls-local -a tls-agent -l "127.0.0.1:$lp"
wait_for 10 port_listening "$lp"
connected() { grep -q 'mqtt: connected' "$TEST_TMP/$1.log"; }
check "agent connects over TLS with ?cafile= and a client certificate" wait_for 10 connected agent
check "local-port connects over TLS" wait_for 10 connected local

reply=$(printf 'over-tls\n' | timeout 10 nc -N 127.0.0.1 "$lp")
check "data crosses the TLS broker connection" [ "$reply" = "over-tls" ]

n4m wrongca agent -m "mqtts://localhost:$tls_port/tls?cafile=$TEST_TMP/other-ca.pem&cert=$TEST_TMP/client.pem&key=$TEST_TMP/client.key" -i wrong
refused() { grep -q 'certificate verify failed' "$TEST_TMP/wrongca.log"; }
check "a broker signed by another CA is refused: the log says certificate verify failed" wait_for 10 refused
check "and never reports a connection" bash -c "! grep -q 'mqtt: connected' '$TEST_TMP/wrongca.log'"
grep -iE 'certificate|tls|ssl' "$TEST_TMP/wrongca.log" | head -3

n4m nocert agent -m "mqtts://localhost:$tls_port/tls?cafile=$TEST_TMP/ca.pem" -i nocert
lost() { grep -q 'cannot connect\|lost connection' "$TEST_TMP/nocert.log"; }
check "a client without the required certificate is not let in" wait_for 10 lost

# Host name verification: certificates from the right CA, for the wrong name.
mkleaf elsewhere ca "DNS:elsewhere.invalid" && mkleaf lhonly ca "DNS:localhost" && chmod 644 ./*.key ||
	{ fail "generate the wrong-name certificates"; exit 1; }
wrong_port=$(free_port)
lh_port=$(free_port)
start_broker "$(free_port)" \
	"listener $wrong_port 127.0.0.1" "cafile $TEST_TMP/ca.pem" "certfile $TEST_TMP/elsewhere.pem" "keyfile $TEST_TMP/elsewhere.key" \
	"listener $lh_port 127.0.0.1" "cafile $TEST_TMP/ca.pem" "certfile $TEST_TMP/lhonly.pem" "keyfile $TEST_TMP/lhonly.key" ||
	{ fail "start mosquitto with the wrong-name certificates"; exit 1; }
wait_for 10 port_listening "$wrong_port" && wait_for 10 port_listening "$lh_port"
n4m wrongname agent -m "mqtts://localhost:$wrong_port/tls?cafile=$TEST_TMP/ca.pem" -i wrongname
n4m ipurl agent -m "mqtts://127.0.0.1:$lh_port/tls?cafile=$TEST_TMP/ca.pem" -i ipurl
n4m rightname agent -m "mqtts://localhost:$lh_port/tls?cafile=$TEST_TMP/ca.pem" -i rightname
name_refused() { grep -q 'host name verification failed' "$TEST_TMP/$1.log"; }
check "a broker certificate for elsewhere.invalid, URL host localhost: refused, the log says host name verification failed" \
	wait_for 10 name_refused wrongname
check "... and never reports a connection" bash -c "! grep -q 'mqtt: connected' '$TEST_TMP/wrongname.log'"
grep -m 1 'host name verification failed' "$TEST_TMP/wrongname.log"
check "a certificate for DNS:localhost only, URL host 127.0.0.1 (no IP SAN): refused the same way" \
	wait_for 10 name_refused ipurl
check "... and never reports a connection" bash -c "! grep -q 'mqtt: connected' '$TEST_TMP/ipurl.log'"
check "the same certificate with URL host localhost connects (the chain is fine, the name was the problem)" \
	wait_for 10 connected rightname
check "... with no host name error" bash -c "! grep -q 'host name verification failed' '$TEST_TMP/rightname.log'"

# ---- the same with flags instead of URL query parameters ----
never_connected() { ! grep -q 'mqtt: connected' "$TEST_TMP/$1.log"; }
lp2=$(free_port)
n4m fagent agent -m "mqtts://localhost:$tls_port/tlsflags" --cafile "$TEST_TMP/ca.pem" \
	--cert "$TEST_TMP/client.pem" --key "$TEST_TMP/client.key" -i flags-agent -t "127.0.0.1:$echo_port"
n4m flocal local-port -m "mqtts://localhost:$tls_port/tlsflags" --cafile "$TEST_TMP/ca.pem" \
	--cert "$TEST_TMP/client.pem" --key "$TEST_TMP/client.key" -i flags-local -a flags-agent -l "127.0.0.1:$lp2"
check "agent with --cafile --cert --key (no query in the URL) connects" wait_for 10 connected fagent
check "local-port with the same flags connects" wait_for 10 connected flocal
wait_for 10 port_listening "$lp2"
reply=$(printf 'flags-tls\n' | timeout 10 nc -N 127.0.0.1 "$lp2")
check "data crosses the TLS connection set up by flags (got '$reply')" [ "$reply" = "flags-tls" ]

n4m fwrongca agent -m "mqtts://localhost:$tls_port/tlsflags" --cafile "$TEST_TMP/other-ca.pem" \
	--cert "$TEST_TMP/client.pem" --key "$TEST_TMP/client.key" -i flags-wrong
verify_failed() { grep -q 'certificate verify failed' "$TEST_TMP/$1.log"; }
check "--cafile of another CA: refused, the log says certificate verify failed" wait_for 10 verify_failed fwrongca
check "... and never reports a connection" never_connected fwrongca

n4m fname agent -m "mqtts://localhost:$wrong_port/tlsflags" --cafile "$TEST_TMP/ca.pem" -i flags-name
n4m finsecure agent -m "mqtts://localhost:$wrong_port/tlsflags" --cafile "$TEST_TMP/ca.pem" --insecure -i flags-insecure
check "a certificate for elsewhere.invalid with --cafile only: host name verification failed" \
	wait_for 10 name_refused fname
check "... and never reports a connection" never_connected fname
check "the same with --insecure connects (the chain is still checked by --cafile)" wait_for 10 connected finsecure
n4m finsecure_ca agent -m "mqtts://localhost:$wrong_port/tlsflags" --cafile "$TEST_TMP/other-ca.pem" --insecure -i flags-insecure-ca
check "--insecure with a CA that did not sign it: still certificate verify failed" wait_for 10 verify_failed finsecure_ca
check "... and never reports a connection" never_connected finsecure_ca

# ---- --tls-version: a broker whose OpenSSL speaks TLS 1.2 at most ----
cat >"$TEST_TMP/tls12.cnf" <<'EOF_CNF'
openssl_conf = n4m_init
[n4m_init]
ssl_conf = n4m_ssl
[n4m_ssl]
system_default = n4m_tls12
[n4m_tls12]
MaxProtocol = TLSv1.2
EOF_CNF
t12_port=$(free_port)
BROKER_ENV="OPENSSL_CONF=$TEST_TMP/tls12.cnf" start_broker "$(free_port)" \
	"listener $t12_port 127.0.0.1" "cafile $TEST_TMP/ca.pem" "certfile $TEST_TMP/server.pem" \
	"keyfile $TEST_TMP/server.key" || { fail "start mosquitto with TLS 1.2 at most"; exit 1; }
wait_for 10 port_listening "$t12_port"
n4m v13 agent -m "mqtts://localhost:$t12_port/tlsver" --cafile "$TEST_TMP/ca.pem" --tls-version tlsv1.3 -i v13
n4m v12 agent -m "mqtts://localhost:$t12_port/tlsver" --cafile "$TEST_TMP/ca.pem" --tls-version tlsv1.2 -i v12
n4m v13ok agent -m "mqtts://localhost:$tls_port/tlsver" --cafile "$TEST_TMP/ca.pem" --cert "$TEST_TMP/client.pem" \
	--key "$TEST_TMP/client.key" --tls-version tlsv1.3 -i v13ok
version_refused() { grep -Eq 'protocol version|unsupported protocol' "$TEST_TMP/v13.log"; }
check "--tls-version tlsv1.3 to a TLS 1.2 broker: refused, the log says why" wait_for 10 version_refused
grep -Em 1 'protocol version|unsupported protocol' "$TEST_TMP/v13.log"
check "... and never reports a connection" never_connected v13
check "--tls-version tlsv1.2 to the same broker connects" wait_for 10 connected v12
check "--tls-version tlsv1.3 to a broker with TLS 1.3 connects" wait_for 10 connected v13ok
n4m v13sni agent -m "mqtts://127.0.0.1:$t12_port/tlsver" --cafile "$TEST_TMP/ca.pem" --sni localhost \
	--tls-version tlsv1.3 -i v13sni
sni_version_refused() { grep -Eq 'protocol version|unsupported protocol' "$TEST_TMP/v13sni.log"; }
check "... and with --sni (TLS set up by net4mqtt): tlsv1.3 to the TLS 1.2 broker is refused too" \
	wait_for 10 sni_version_refused
check "... and never reports a connection" never_connected v13sni

# ---- --sni ----
# What a TLS server is sent: a Python server that writes down the SNI name of each handshake.
sni_port=$(free_port)
$PY -c '
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
def seen(sock, name, c):
    with open(sys.argv[4], "a") as f:
        f.write("%s\n" % name)
ctx.sni_callback = seen
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
while True:
    c, _ = s.accept()
    try:
        ctx.wrap_socket(c, server_side=True).close()
    except (ssl.SSLError, OSError):
        c.close()
' "$sni_port" "$TEST_TMP/lhonly.pem" "$TEST_TMP/lhonly.key" "$TEST_TMP/sni.seen" >"$TEST_TMP/sni-server.log" 2>&1 &
bg_track $!
wait_for 10 port_listening "$sni_port"
n4m snisent agent -m "mqtts://127.0.0.1:$sni_port/sni" --cafile "$TEST_TMP/ca.pem" --sni localhost -i snisent
sni_seen() { grep -qx "$1" "$TEST_TMP/sni.seen" 2>/dev/null; }
check "--sni localhost with the URL host 127.0.0.1: the server is sent localhost" wait_for 10 sni_seen localhost
check "... and never the URL's host" bash -c "! grep -qvx localhost '$TEST_TMP/sni.seen'"

# What the certificate is checked against: the --sni name, not the address connected to.
n4m sniok agent -m "mqtts://127.0.0.1:$lh_port/sni" --cafile "$TEST_TMP/ca.pem" --sni localhost -i sniok
n4m sniwrong agent -m "mqtts://127.0.0.1:$lh_port/sni" --cafile "$TEST_TMP/ca.pem" --sni elsewhere.invalid -i sniwrong
check "a certificate for DNS:localhost only, URL host 127.0.0.1, --sni localhost: connects" wait_for 10 connected sniok
mismatch() { grep -q "certificate (sni elsewhere.invalid): hostname mismatch" "$TEST_TMP/sniwrong.log"; }
check "the same with --sni elsewhere.invalid: refused, the log says hostname mismatch" wait_for 10 mismatch
grep -m 1 'hostname mismatch' "$TEST_TMP/sniwrong.log"
check "... and never reports a connection" never_connected sniwrong
n4m sniinsecure agent -m "mqtts://127.0.0.1:$lh_port/sni" --cafile "$TEST_TMP/ca.pem" --sni elsewhere.invalid --insecure -i sniinsecure
check "... and with --insecure it connects" wait_for 10 connected sniinsecure
n4m snica agent -m "mqtts://127.0.0.1:$lh_port/sni" --cafile "$TEST_TMP/other-ca.pem" --sni localhost -i snica
check "--sni with a CA that did not sign the broker's certificate: certificate verify failed" \
	wait_for 10 verify_failed snica
check "... and never reports a connection" never_connected snica

# ---- the same keys in the config file's [net4mqtt] ----
cat >"$TEST_TMP/tls.conf" <<EOF_CONF
[net4mqtt]
mqtt-url = mqtts://127.0.0.1:$tls_port/tlsconf
cafile = $TEST_TMP/ca.pem
cert = $TEST_TMP/client.pem
key = $TEST_TMP/client.key
tls-version = tlsv1.3
sni = localhost
status-listen = off

[agent]
id = conf-tls
EOF_CONF
n4m conf run -c "$TEST_TMP/tls.conf" -f
check "run -c with cafile, cert, key, tls-version and sni in [net4mqtt] connects" wait_for 10 connected conf
finish
