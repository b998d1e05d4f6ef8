#!/usr/bin/env bash
# `make run` as root: the gateway in namespaces of its own. A LAN host whose
# default route is the gateway reaches a server network behind an agent, with
# no configuration of its own:
#   lan (192.168.77.2) -> gw (TUN n4m0, mosquitto) -> MQTT -> agent ns -> server 10.20.0.2
set -u
N4M=$(cd "$(dirname "${1:-build/net4mqtt}")" && pwd)/$(basename "${1:-build/net4mqtt}")
source "$(dirname "$0")/lib.sh"

S=$$
LAN=n4m-lan-$S GW=n4m-gw-$S FAR=n4m-far-$S
demo_cleanup() {
	cleanup
	for ns in "$LAN" "$GW" "$FAR"; do ip netns del "$ns" 2>/dev/null; done
}
trap demo_cleanup EXIT
trap 'echo; echo "stopping"; exit 0' INT TERM

for ns in "$LAN" "$GW" "$FAR"; do
	ip netns add "$ns" || exit 1
	ip -n "$ns" link set lo up
done
ip link add lan0 netns "$LAN" type veth peer name lan$S netns "$GW"
ip link add up0 netns "$FAR" type veth peer name far$S netns "$GW"
ip -n "$LAN" addr add 192.168.77.2/24 dev lan0
ip -n "$LAN" link set lan0 up
ip -n "$LAN" route add default via 192.168.77.1
ip -n "$GW" addr add 192.168.77.1/24 dev lan$S
ip -n "$GW" link set lan$S up
ip -n "$GW" addr add 10.77.0.1/30 dev far$S
ip -n "$GW" link set far$S up
ip netns exec "$GW" sysctl -qw net.ipv4.ip_forward=1
ip -n "$FAR" addr add 10.77.0.2/30 dev up0
ip -n "$FAR" link set up0 up
ip -n "$FAR" addr add 10.20.0.2/32 dev lo

mkdir -p "$TEST_TMP/www"
echo "hello from 10.20.0.2, behind the agent, through the gateway" >"$TEST_TMP/www/index.html"
(cd "$TEST_TMP/www" && exec ip netns exec "$FAR" "$PY" -m http.server --bind 10.20.0.2 80) \
	>"$TEST_TMP/http.log" 2>&1 &
bg_track $!
{
	echo "listener 1883 10.77.0.1"
	echo "listener 1883 127.0.0.1"
	echo "allow_anonymous true"
	echo "max_queued_messages 100000"
	echo "set_tcp_nodelay true"
} >"$TEST_TMP/mosquitto.conf"
GLIBC_TUNABLES=$BROKER_MALLOC ip netns exec "$GW" mosquitto -c "$TEST_TMP/mosquitto.conf" \
	>"$TEST_TMP/mosquitto.log" 2>&1 &
bg_track $!
ip netns exec "$FAR" "$N4M" -v agent -m mqtt://10.77.0.1:1883/net4mqtt -i site-b -t 10.20.0.2:80 &
bg_track $!
ip netns exec "$GW" "$N4M" -v gateway -m mqtt://127.0.0.1:1883/net4mqtt -i gw -a site-b \
	--route 10.20.0.0/24 &
bg_track $!
up() { ip netns exec "$LAN" curl -s -m 2 -o /dev/null http://10.20.0.2/; }
wait_for 15 up || { echo "the gateway did not come up; see the log above"; exit 1; }

cat <<EOT

The gateway is running (namespaces $LAN, $GW, $FAR). From the LAN host, which
only knows its default route via 192.168.77.1:

  ip netns exec $LAN curl http://10.20.0.2/
  ip netns exec $LAN ping -c 1 198.18.0.1                # the gateway's TUN answers
  ip netns exec $GW ip route show table 1883             # what the gateway routes
  ip netns exec $GW mosquitto_sub -t 'net4mqtt/#' -v     # the flows on MQTT

Ctrl-C removes all of it.
EOT
wait
