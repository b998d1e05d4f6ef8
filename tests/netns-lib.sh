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
