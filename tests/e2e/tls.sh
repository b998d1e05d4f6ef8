# mqtts:// to a mosquitto TLS listener: verified with ?cafile=, client certificates
# with ?cert=&key=, and a broker signed by another CA refused with a clear error;
# a certificate for another host name than the URL's is refused too (host name verification).
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
finish
