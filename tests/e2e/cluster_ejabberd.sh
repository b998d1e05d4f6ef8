#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m_ns in netns-lib.sh
# A clustered broker: two ejabberd nodes (mod_mqtt) joined with `ejabberdctl
# join_cluster`, each in its own network namespace, with its own Erlang node
# name, config, spool and log directories under $TEST_TMP (not the system
# service), one shared cookie, and a fixed distribution port instead of epmd.
#   ns A (10.61.0.1): ejabberd node A, the agent (connected to A), a web server, a UDP echo
#   ns B (10.61.0.2): ejabberd node B, the locals, URL mqtt://B,A/PREFIX (B first)
#   ns B also runs a gateway (same URL list) routing 10.62.5.0/24, where A has a web address
# Checks: the locals and the gateway connect to B; downloads (sha256) and UDP
# echoes cross the cluster; node B is killed; they move on to A (the next
# broker of the list), republish their retained status there, subscribe
# again, and new flows work within a bounded wait.
# ejabberd's mod_mqtt keeps retained messages per node (23.01): a status
# retained on A is not seen by a subscriber on B. Live messages cross the
# cluster: the agent starts last, so that its online status reaches the
# locals and the gateway live (a gateway drops packets for an agent whose
# status it has not seen).
set -u
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../netns-lib.sh"
TOOL=$(cd "$(dirname "$0")" && pwd)/helpers/nettool.py

S=$$
NA=n4m-ejA-$S NB=n4m-ejB-$S
IPA=10.61.0.1 IPB=10.61.0.2
PREFIX=e2e/cluster-$S
AGENT=cl-agent-$S LOCAL=cl-local-$S
USER=n4m PASS=cluster-$S
COOKIE=n4m-cluster-$S
DIST_PORT=5210 # Erlang distribution, the same on both nodes (no epmd)
SIZE=$((3 * 1000 * 1000))

ej_pids() { cat "$TEST_TMP"/ej-[ab]/ejabberd.pid 2>/dev/null; }
cluster_cleanup() {
	local p
	# the beams are detached (their parent is gone): by their pid files
	for p in $(ej_pids); do kill -9 "$p" 2>/dev/null; done
	cleanup
	ip netns del "$NA" 2>/dev/null
	ip netns del "$NB" 2>/dev/null
}
trap cluster_cleanup EXIT

if [ "$(id -u)" != 0 ] || ! ip netns add "$NA" 2>/dev/null; then
	skip "network namespaces need root"
	exit 0
fi
if ! command -v ejabberdctl >/dev/null || ! id ejabberd >/dev/null 2>&1; then
	skip "ejabberd is not installed (apt-get install ejabberd; make deps installs it)"
	exit 0
fi
ns_up "$NA" "$NB" || { fail "namespaces"; exit 1; }
veth "$NA" ca "$NB" cb && addr "$NA" ca $IPA/24 && addr "$NB" cb $IPB/24 ||
	{ fail "veth between the namespaces"; exit 1; }

# ej_conf a|b IP: the node's ejabberd.yml and ejabberdctl.cfg, its spool and log dirs
ej_conf() {
	local d=$TEST_TMP/ej-$1
	mkdir -p "$d/spool" "$d/logs"
	cat >"$d/ejabberd.yml" <<-EOF
		hosts:
		  - localhost
		loglevel: info
		listen:
		  -
		    port: 1883
		    ip: "0.0.0.0"
		    module: mod_mqtt
		    backlog: 100
		modules:
		  mod_mqtt:
		    access_publish:
		      "#":
		        - allow
		    access_subscribe:
		      "#":
		        - allow
	EOF
	# our own ejabberdctl.cfg: the system's would set EJABBERD_CONFIG_PATH back to /etc
	cat >"$d/ejabberdctl.cfg" <<-EOF
		ERLANG_NODE=n4m$1@$2
		ERL_DIST_PORT=$DIST_PORT
		EJABBERD_PID_PATH=$d/ejabberd.pid
		ERL_OPTIONS="-setcookie $COOKIE"
	EOF
	chown -R ejabberd: "$d" # ejabberdctl run as root drops to the ejabberd user
}
# ejctl a|b command...: ejabberdctl of that node, inside its namespace, bounded
ejctl() {
	local n=$1 ns=$NA d=$TEST_TMP/ej-$1
	shift
	[ "$n" = b ] && ns=$NB
	timeout -k 2 30 ip netns exec "$ns" ejabberdctl --ctl-config "$d/ejabberdctl.cfg" \
		--config "$d/ejabberd.yml" --spool "$d/spool" --logs "$d/logs" "$@"
}
ej_listening() { ns_tcp_listening "$1" 1883; }
ej_gone() { ! ns_tcp_listening "$1" 1883; }
ej_log_tail() { # on a failure: what the nodes said
	local n
	for n in a b; do
		echo "--- ejabberd node $n:"
		tail -n 15 "$TEST_TMP/ej-$n/logs/ejabberd.log" 2>/dev/null
	done
}

t0=$SECONDS
ej_conf a $IPA
ej_conf b $IPB
ejctl a start && ejctl b start || { fail "ejabberdctl start"; exit 1; }
need "ejabberd node A starts: mod_mqtt listens on $IPA:1883" wait_for 30 ej_listening "$NA"
need "ejabberd node B starts: mod_mqtt listens on $IPB:1883" wait_for 30 ej_listening "$NB"
t_start=$((SECONDS - t0))
out=$(ejctl b join_cluster "n4ma@$IPA" 2>&1)
check "node B joins node A's cluster (${out//$'\n'/ })" test $? -eq 0
in_cluster() { ejctl a list_cluster 2>/dev/null | grep -c "n4m[ab]@" | grep -qx 2; }
need "ejabberdctl list_cluster on A shows both nodes" wait_for 20 in_cluster
need "node B's mod_mqtt listens after the join" wait_for 20 ej_listening "$NB"
out=$(ejctl a register "$USER" localhost "$PASS" 2>&1)
need "an MQTT user registered on A (${out//$'\n'/ })" test $? -eq 0
echo "ejabberd: two nodes started in ${t_start} s, clustered and ready $((SECONDS - t0)) s after the start"

# A message published on A reaches a subscriber on B: the cluster carries MQTT.
# Published again every 0.2 s until the subscriber (whose SUBSCRIBE cannot be
# seen from outside) has it, at most 10 s.
probe_across() {
	timeout -k 1 12 ip netns exec "$NB" mosquitto_sub -h $IPB -u "$USER" -P "$PASS" \
		-t "$PREFIX/probe" -C 1 -W 10 >"$TEST_TMP/probe.out" 2>&1 &
	local p=$! i
	for i in $(seq 50); do
		ip netns exec "$NA" mosquitto_pub -h $IPA -u "$USER" -P "$PASS" -t "$PREFIX/probe" -m across
		grep -qx across "$TEST_TMP/probe.out" && break
		sleep 0.2
	done
	wait "$p"
	grep -qx across "$TEST_TMP/probe.out"
}
check "a message published on A reaches a subscriber on B" probe_across

# ns A: what the agent reaches
mkdir -p "$TEST_TMP/www"
head -c "$SIZE" /dev/urandom >"$TEST_TMP/www/blob"
want=$(sha256sum <"$TEST_TMP/www/blob" | cut -d' ' -f1)
HP=8080 UE=7007
WEB=10.62.5.9 # for the gateway: an address of A inside the subnet it routes to the agent
ip -n "$NA" addr add $WEB/32 dev lo
(cd "$TEST_TMP/www" && exec ip netns exec "$NA" "$PY" -m http.server --bind 0.0.0.0 $HP) \
	>"$TEST_TMP/http.log" 2>&1 &
bg_track $!
bg_ns "$NA" uecho "$PY" "$TOOL" echo-udp $UE
servers_up() { ns_tcp_listening "$NA" $HP && ns_udp_bound "$NA" $UE; }
need "the web server and the UDP echo in A" wait_for 10 servers_up

URL_A="mqtt://$USER:$PASS@$IPA:1883/$PREFIX"
URL_BA="mqtt://$USER:$PASS@$IPB:1883,$IPA:1883/$PREFIX" # B first, then A
LP=8081 UP=8082
# The locals and the gateway first, the agent then: its status reaches them as a
# live message (ejabberd does not show a status retained on A to a subscriber on B).
n4m_ns "$NB" local local-port -m "$URL_BA?client_id=$LOCAL" -i "$LOCAL" -a "$AGENT" -l 127.0.0.1:$LP
n4m_ns "$NB" ludp local-port -u -m "$URL_BA?client_id=$LOCAL-u" -i "$LOCAL-u" -a "$AGENT" \
	-l 127.0.0.1:$UP -t 127.0.0.1:$UE
n4m_ns "$NB" gw gateway -m "$URL_BA?client_id=$LOCAL-gw" -i "$LOCAL-gw" -a "$AGENT" --route 10.62.5.0/24
on_b() { local f; for f in local ludp gw; do grep -q "mqtt: connected to $IPB:1883" "$TEST_TMP/$f.log" || return 1; done; }
check "the locals and the gateway are connected to node B (the first of their list)" wait_for 15 on_b
check "the start log lists both brokers" grep -q "brokers $IPB:1883,$IPA:1883 prefix" "$TEST_TMP/local.log"
n4m_ns "$NA" agent agent -m "$URL_A?client_id=$AGENT" -i "$AGENT" -t 127.0.0.1:$HP
check "the agent is connected to node A" wait_for 15 grep -q "mqtt: connected to $IPA:1883" "$TEST_TMP/agent.log"
see_agent() { local f; for f in local ludp gw; do grep -q "peer $AGENT/- online" "$TEST_TMP/$f.log" || return 1; done; }
check "the locals and the gateway see the agent online (its status across the cluster)" wait_for 15 see_agent
ports_up() { ns_tcp_listening "$NB" $LP && ns_udp_bound "$NB" $UP; }
check "local-ports listen in B" wait_for 10 ports_up

download() { ip netns exec "$NB" curl -s -m 30 "http://127.0.0.1:$LP/blob" | sha256sum | cut -d' ' -f1; }
got=$(download)
check "TCP: a 3 MB download from A's web server through node B and A is intact (sha256 ${got:0:16}...)" \
	test "$got" = "$want"
res=$(timeout 40 ip netns exec "$NB" "$PY" "$TOOL" udp-once $UP 9001 2>&1)
check "UDP: a datagram echoed across the cluster ($res)" test "$res" = "udp-once: reply ok"
res=$(timeout 60 ip netns exec "$NB" "$PY" "$TOOL" udp-many $UP 20 2>&1)
check "UDP: 20 sockets each get their own datagram back ($res)" test "$res" = "udp: 20 of 20 replied, 0 wrong"
gw_download() { ip netns exec "$NB" curl -s -m 30 "http://$WEB:$HP/blob" | sha256sum | cut -d' ' -f1; }
gw_download_ok() { [ "$(gw_download)" = "$want" ]; }
check "gateway: a download from $WEB (routed into the TUN) crosses the cluster intact" \
	wait_for 20 gw_download_ok
check "the agent carried the gateway's flow" grep -q "from $LOCAL-gw/$AGENT to $WEB:$HP" "$TEST_TMP/agent.log"

# Node B dies (SIGKILL: no goodbye). The locals go on with A, the next of their list.
t1=$SECONDS
kill -9 "$(cat "$TEST_TMP/ej-b/ejabberd.pid")"
check "node B is gone (nothing listens on $IPB:1883)" wait_for 10 ej_gone "$NB"
check "the local logs the loss and names the next broker" wait_for 15 \
	grep -q "mqtt: lost connection to $IPB:1883: .*; reconnecting to $IPA:1883" "$TEST_TMP/local.log"
on_a() { local f; for f in local ludp gw; do grep -q "mqtt: connected to $IPA:1883" "$TEST_TMP/$f.log" || return 1; done; }
check "the locals and the gateway reconnect to node A" wait_for 20 on_a
retained_on_a() {
	timeout -k 1 8 ip netns exec "$NA" mosquitto_sub -h $IPA -u "$USER" -P "$PASS" --retained-only \
		-t "$1" -C 1 -W 5 2>/dev/null | grep -q '"online":true'
}
check "the local republished its retained online status on node A" \
	wait_for 15 retained_on_a "$PREFIX/-/$LOCAL/v/-"
download_ok() { [ "$(download)" = "$want" ]; }
check "TCP: a new download through node A alone is intact, within 30 s of B's death" wait_for 30 download_ok
echo "failover: a download worked again $((SECONDS - t1)) s after node B was killed"
res=$(timeout 40 ip netns exec "$NB" "$PY" "$TOOL" udp-once $UP 9002 2>&1)
check "UDP: a datagram echoed through node A ($res)" test "$res" = "udp-once: reply ok"
check "gateway: a new download through node A alone is intact" wait_for 30 gw_download_ok
line=$(stats local "$local_PID")
n=$(stat_field "$line" reconnects)
check "the local's stats count one mqtt reconnect (saw '${n:-no stats line}')" test "${n:-x}" = 1
check "node A and every net4mqtt process still run" \
	all_running "$agent_PID" "$local_PID" "$ludp_PID" "$gw_PID"
check "node A still serves MQTT" ej_listening "$NA"
[ "$N4M_FAILS" -eq 0 ] || ej_log_tail
echo "the whole test took $((SECONDS - t0)) s"
finish
