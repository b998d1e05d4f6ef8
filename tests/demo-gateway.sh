#!/usr/bin/env bash
# `make run` as root: the gateway in namespaces of its own. A LAN host whose
# default route is the gateway reaches a server network behind an agent, with
# no configuration of its own:
#   lan (192.168.77.2) -> gw (TUN n4m0, mosquitto) -> MQTT -> agent ns -> server 10.20.0.2
set -u
N4M=$(cd "$(dirname "${1:-build/net4mqtt}")" && pwd)/$(basename "${1:-build/net4mqtt}")
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/gateway-topology.sh"

demo_cleanup() {
	cleanup
	gw_topology_down
}
trap demo_cleanup EXIT
trap 'echo; echo "stopping"; exit 0' INT TERM

mkdir -p "$TEST_TMP/www"
echo "hello from 10.20.0.2, behind the agent, through the gateway" >"$TEST_TMP/www/index.html"
gw_topology_up "$N4M" || { echo "the gateway did not come up: $(tail -n 3 "$TEST_TMP"/gw-*.log)"; exit 1; }
(cd "$TEST_TMP/www" && exec ip netns exec "$GW_FAR" "$PY" -m http.server --bind 10.20.0.2 80) \
	>"$TEST_TMP/http.log" 2>&1 &
bg_track $!
# the server first, so that the probe below is not a failed flow in the agent's log
served() { ip netns exec "$GW_FAR" ss -Htln "sport = :80" | grep -q .; }
wait_for 10 served || { echo "the web server behind the agent did not start: $(cat "$TEST_TMP/http.log")"; exit 1; }
up() { ip netns exec "$GW_LAN" curl -s -m 2 -o /dev/null http://10.20.0.2/; }
wait_for 15 up || { echo "no answer through the gateway: $(tail -n 5 "$TEST_TMP"/gw-*.log)"; exit 1; }
tail -n +1 -f "$TEST_TMP/gw-gateway.log" "$TEST_TMP/gw-agent.log" &
bg_track $!

cat <<EOT

The gateway is running (namespaces $GW_LAN, $GW_GW, $GW_FAR). From the LAN host,
which only knows its default route via 192.168.77.1:

  ip netns exec $GW_LAN curl http://10.20.0.2/
  ip netns exec $GW_LAN curl http://site-b.net4mqtt.local/   # by name: the gateway's DNS (fake-ip)
  ip netns exec $GW_LAN dig @198.18.0.1 site-b.net4mqtt.local
  ip netns exec $GW_GW $N4M status                          # flows, agents, counters
  ip netns exec $GW_GW curl -s 127.0.0.1:9810/metrics       # the same for Prometheus
  ip netns exec $GW_GW ip route show table 1883             # what the gateway routes
  \$EDITOR $GW_CONF; kill -HUP $GW_GATEWAY_PID            # change its routes, flows stay
  ip netns exec $GW_GW mosquitto_sub -t 'net4mqtt/#' -v     # the flows on MQTT

Ctrl-C removes all of it.
EOT
wait
