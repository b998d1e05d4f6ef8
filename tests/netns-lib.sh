# Helpers for end-to-end tests in network namespaces; source after lib.sh and
# set S (the suffix of veth names, e.g. $$) first.

# veth NS_A NAME_A NS_B NAME_B: a pair between two namespaces, both ends up.
veth() {
	ip link add "$2$S" netns "$1" type veth peer name "$4$S" netns "$3" &&
		ip -n "$1" link set "$2$S" up && ip -n "$3" link set "$4$S" up
}
addr() { ip -n "$1" addr add "$3" dev "$2$S"; }
addr6() { ip -n "$1" -6 addr add "$3" dev "$2$S" nodad; }
sysctl_ns() { ip netns exec "$1" sysctl -qw "$2"; }

# bg_ns NS NAME command...: runs a command inside NS in the background, output in
# $TEST_TMP/NAME.log; its pid (ip netns exec execs it) in NAME_PID.
bg_ns() {
	local ns=$1 name=$2
	shift 2
	ip netns exec "$ns" "$@" >"$TEST_TMP/$name.log" 2>&1 &
	local pid=$!
	bg_track "$pid"
	printf -v "${name//-/_}_PID" '%s' "$pid"
}
n4m_ns() { local ns=$1 name=$2; shift 2; bg_ns "$ns" "$name" "$N4M" -vv "$@"; }
ns_tcp_listening() { ip netns exec "$1" ss -Htln "sport = :$2" | grep -q .; }
ns_udp_bound() { ip netns exec "$1" ss -Huln "sport = :$2" | grep -q .; }
# ns_status NS URL: a retained or live status at URL (from inside NS) says online; 10 s.
ns_status() {
	local deadline=$((SECONDS + 10))
	while [ "$SECONDS" -lt "$deadline" ]; do
		timeout -k 1 3 ip netns exec "$1" mosquitto_sub -L "$2" -C 1 -W 2 2>/dev/null |
			grep -q '"online":true' && return 0
	done
	return 1
}
# has TEXT command...: the command's output contains TEXT (a fixed string).
has() {
	local text=$1
	shift
	"$@" 2>&1 | grep -qF -- "$text"
}

# ns_up NS...: each namespace (made if missing: a test's root check makes its
# first one), its loopback up, no router advertisements.
ns_up() {
	local ns
	for ns; do
		[ -e "/run/netns/$ns" ] || ip netns add "$ns" || return 1
		ip -n "$ns" link set lo up || return 1
		sysctl_ns "$ns" net.ipv6.conf.default.accept_ra=0
		sysctl_ns "$ns" net.ipv6.conf.all.accept_ra=0
	done
}

# lan_via_gw LAN GW [NET]: a LAN host NET.2 and fd77::2 (NET: 192.168.77)
# whose default routes point at GW (NET.1, fd77::1), which forwards.
lan_via_gw() {
	local lan=$1 gw=$2 net=${3:-192.168.77}
	veth "$lan" l "$gw" gl || return 1
	addr "$lan" l "$net.2/24" && addr6 "$lan" l fd77::2/64 || return 1
	addr "$gw" gl "$net.1/24" && addr6 "$gw" gl fd77::1/64 || return 1
	ip -n "$lan" route add default via "$net.1" && ip -n "$lan" -6 route add default via fd77::1 || return 1
	sysctl_ns "$gw" net.ipv4.ip_forward=1 && sysctl_ns "$gw" net.ipv6.conf.all.forwarding=1
}

# ns_cleanup: every process first (a namespace lives on while one runs in it), then
# the namespaces in ALL_NS and the files ip netns exec gives them (/etc/netns/NS).
ns_cleanup() {
	cleanup
	local ns
	for ns in "${ALL_NS[@]}"; do
		ip netns del "$ns" 2>/dev/null
		rm -rf "/etc/netns/${ns:?}"
	done
}

# ns_test NAME NS...: the test's namespaces (ALL_NS), deleted at exit; without root
# the test NAME is skipped.
ns_test() {
	local name=$1
	shift
	ALL_NS=("$@")
	trap ns_cleanup EXIT
	if [ "$(id -u)" != 0 ] || ! ip netns add "$1" 2>/dev/null; then
		skip "$name: network namespaces need root"
		exit 0
	fi
}

# site_link: NS_LAN behind NS_GW (lan_via_gw), and NS_GW to the agent's site NS_AG:
#   lan 192.168.77.2 ── gw 192.168.77.1 ── 10.77.0.1/30 ── 10.77.0.2 agent
#   fd77::2             fd77::1
site_link() {
	ns_up "$NS_LAN" "$NS_GW" "$NS_AG" && lan_via_gw "$NS_LAN" "$NS_GW" || return 1
	veth "$NS_GW" ga "$NS_AG" ag || return 1
	addr "$NS_GW" ga 10.77.0.1/30 && addr "$NS_AG" ag 10.77.0.2/30
}
# site_topology: site_link, with 10.20.0.2 and fd20::2 on the agent site's loopback.
site_topology() {
	site_link || return 1
	ip -n "$NS_AG" addr add 10.20.0.2/32 dev lo && ip -n "$NS_AG" -6 addr add fd20::2/128 dev lo nodad
}
