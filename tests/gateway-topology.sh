# The gateway's namespaces, for make run (as root) and make bench. Source after lib.sh:
#   gw_topology_up N4M_BIN  -> GW_LAN GW_GW GW_FAR (namespace names), GW_URL (broker, from GW_GW),
#   GW_CONF (the gateway's config file: run -c, status on 127.0.0.1:9810 in GW_GW)
#   lan (192.168.77.2, default via the gateway) -> gw (TUN, mosquitto) -> far (agent
#   "site-b", and 10.20.0.2 on its loopback, the server network); the gateway
#   answers DNS on 198.18.0.1, the LAN host's resolver (site-b.net4mqtt.local)
# gw_topology_down removes the namespaces (lib.sh's cleanup stops the processes).

gw_topology_down() {
	local ns
	for ns in "${GW_LAN:-}" "${GW_GW:-}" "${GW_FAR:-}"; do
		[ -n "$ns" ] || continue
		ip netns del "$ns" 2>/dev/null
		rm -rf "/etc/netns/$ns"
	done
	return 0
}

gw_topology_up() { # N4M_BIN
	local n4m=$1 s=$$ ns
	GW_LAN=n4m-lan-$s GW_GW=n4m-gw-$s GW_FAR=n4m-far-$s
	for ns in "$GW_LAN" "$GW_GW" "$GW_FAR"; do
		ip netns add "$ns" || return 1
		ip -n "$ns" link set lo up
	done
	ip link add lan0 netns "$GW_LAN" type veth peer name lan$s netns "$GW_GW"
	ip link add up0 netns "$GW_FAR" type veth peer name far$s netns "$GW_GW"
	ip -n "$GW_LAN" addr add 192.168.77.2/24 dev lan0
	ip -n "$GW_LAN" link set lan0 up
	ip -n "$GW_LAN" route add default via 192.168.77.1
	mkdir -p "/etc/netns/$GW_LAN" && echo "nameserver 198.18.0.1" >"/etc/netns/$GW_LAN/resolv.conf"
	ip -n "$GW_GW" addr add 192.168.77.1/24 dev lan$s
	ip -n "$GW_GW" link set lan$s up
	ip -n "$GW_GW" addr add 10.77.0.1/30 dev far$s
	ip -n "$GW_GW" link set far$s up
	ip netns exec "$GW_GW" sysctl -qw net.ipv4.ip_forward=1
	ip -n "$GW_FAR" addr add 10.77.0.2/30 dev up0
	ip -n "$GW_FAR" link set up0 up
	ip -n "$GW_FAR" addr add 10.20.0.2/32 dev lo
	{
		echo "listener 1883 10.77.0.1"
		echo "listener 1883 127.0.0.1"
		echo "allow_anonymous true"
	} >"$TEST_TMP/gw-mosquitto.conf" # mosquitto as shipped
	ip netns exec "$GW_GW" env $BROKER_ENV mosquitto -c "$TEST_TMP/gw-mosquitto.conf" \
		>"$TEST_TMP/gw-mosquitto.log" 2>&1 &
	bg_track $!
	# the broker first, or the agent's log starts with a failed connect
	wait_for 10 ip netns exec "$GW_GW" bash -c 'ss -Htln "sport = :1883" | grep -q .' || return 1
	GW_URL=mqtt://127.0.0.1:1883/net4mqtt
	ip netns exec "$GW_FAR" "$n4m" -v agent -m mqtt://10.77.0.1:1883/net4mqtt -i site-b --allow 10.20.0.0/24 \
		-t "${GW_AGENT_TARGET:-10.20.0.2:80}" >"$TEST_TMP/gw-agent.log" 2>&1 &
	bg_track $!
	GW_CONF=$TEST_TMP/gw.conf
	cat >"$GW_CONF" <<-EOF
		[net4mqtt]
		mqtt-url = $GW_URL
		log-level = info
		status-listen = 127.0.0.1:9810

		[gateway]
		id = gw
		agent-id = site-b
		route = 10.20.0.0/24
		dns = yes
	EOF
	ip netns exec "$GW_GW" "$n4m" run -c "$GW_CONF" >"$TEST_TMP/gw-gateway.log" 2>&1 &
	GW_GATEWAY_PID=$!
	bg_track $!
	wait_for 15 grep -q 'peer site-b/- online' "$TEST_TMP/gw-gateway.log"
}
