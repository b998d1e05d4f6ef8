#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m_ns
# The gateway's kernel and fake-ip options, end to end in network namespaces:
#
#   lan 192.168.77.2 ── gw 192.168.77.1 ── 10.77.0.1 ─ 10.77.0.2 agent "site"
#       192.168.77.3     (mosquitto, gateway;           10.20.0.2:8080 its default target
#       (--bypass)        main: default via 10.77.0.2)
#
# Checks: --table 100 --rule-priority 500 put the rule and the routes there
# (nothing at 1883); --fake-ip-range 198.51.100.0/24 makes the DNS answers fall
# in it and is routed in table 100; -d net4mqtt.internal names agents under that
# suffix (and no longer under net4mqtt.local); --bypass 192.168.77.3/32 keeps
# that source in the main table (the TUN sees none of its packets) and the
# monitor puts the rule back when it is deleted; --fake-ip-cache: after a
# restart (now from a config file, run -c) the addresses handed out before
# still carry flows, and the same names get the same addresses; SIGHUP moves a
# bypass rule, and a changed table takes a restart; a clean stop removes every
# rule. Refused overlaps: `run -c FILE --check` exits 2 with the exact line.
set -u
source "$(dirname "$0")/../lib.sh"
S=$$
source "$(dirname "$0")/../netns-lib.sh"

PREFIX=e2e/gwopt
GWID=gwo-$S
AGENT=site$S
NS_LAN=n4m-opt-lan-$S NS_GW=n4m-opt-gw-$S NS_AG=n4m-opt-ag-$S
ALL_NS=("$NS_LAN" "$NS_GW" "$NS_AG")
DOMAIN=net4mqtt.internal
CACHE=$TEST_TMP/fakeip.cache
FAKE4='^198\.51\.100\.[0-9]+$'
FAKE6='^fdfe:dcba:9876:1::[0-9a-f]+$'

trap ns_cleanup EXIT

# ---- refused at --check: no root needed ----
CHECK_CONF=$TEST_TMP/check.conf
# check_refused WANT KEY=VALUE...: a [gateway] with these keys; --check exits 2 with WANT
check_refused() {
	local want=$1 out rc
	shift
	{
		echo "[gateway]"
		echo "agent-id = far"
		printf '%s\n' "$@"
	} >"$CHECK_CONF"
	out=$(timeout 10 "$N4M" run -c "$CHECK_CONF" --check 2>&1)
	rc=$?
	check "run --check refuses $* (rc $rc): $out" \
		bash -c '[ "$1" -eq 2 ] && [ "$2" = "$3" ]' _ "$rc" "$out" "net4mqtt: $CHECK_CONF:1: [gateway]: $want"
}
check_refused "--fake-ip-range 198.19.0.0/16 (the default) overlaps --route 198.19.0.0/24: give the pool another --fake-ip-range" \
	"route = 198.19.0.0/24" "dns = yes"
check_refused "--fake-ip-range 10.20.0.0/16 overlaps --route 10.20.0.0/24: give the pool another --fake-ip-range" \
	"route = 10.20.0.0/24" "dns = yes" "fake-ip-range = 10.20.0.0/16"
check_refused "--fake-ip-range 198.51.100.0/24 overlaps --exclude 198.51.100.128/25: give the pool another --fake-ip-range" \
	"route = 10.20.0.0/24" "exclude = 198.51.100.128/25" "dns = yes" "fake-ip-range = 198.51.100.0/24"
check_refused "--fake-ip-range 198.18.0.0/16 overlaps the TUN's own 198.18.0.0/30" \
	"route = 10.20.0.0/24" "dns = yes" "fake-ip-range = 198.18.0.0/16"
check_refused "--fake-ip-range fdfe:dcba:9876::/120 overlaps the TUN's own fdfe:dcba:9876::/126" \
	"route = 10.20.0.0/24" "dns = yes" "fake-ip-range = fdfe:dcba:9876::/120"
check_refused "--route 198.18.0.0/24 overlaps the TUN's own 198.18.0.0/30" "route = 198.18.0.0/24"
check_refused "--route 10.20.0.0/24=far: that prefix is given already (--route 10.20.0.0/24)" \
	"route = 10.20.0.0/24" "route = 10.20.0.0/24=far"
check_refused "--exclude 10.20.0.0/24: that prefix is given already (--route 10.20.0.0/24)" \
	"route = 10.20.0.0/24" "exclude = 10.20.0.0/24"
# a key's own error names its line
printf '[gateway]\nagent-id = far\nroute = 10.20.0.0/24\nbypass = 0.0.0.0/0\n' >"$CHECK_CONF"
out=$(timeout 10 "$N4M" run -c "$CHECK_CONF" --check 2>&1)
rc=$?
check "run --check refuses bypass = 0.0.0.0/0 on its line (rc $rc): $out" bash -c '[ "$1" -eq 2 ] && [ "$2" = "$3" ]' _ \
	"$rc" "$out" "net4mqtt: $CHECK_CONF:4: bypass: bad --bypass 0.0.0.0/0: a default route would keep every host out of the gateway (give the hosts' addresses)"
printf '[gateway]\nagent-id = far\nroute = 10.20.0.0/24\nroute = 0.0.0.0/0\nroute = 10.20.0.0/25\ndns = yes\nbypass = 192.168.77.3/32\nbypass = fd77::3/128\n' >"$CHECK_CONF"
out=$(timeout 10 "$N4M" run -c "$CHECK_CONF" --check 2>&1)
check "... while a default route, a more specific route and two bypass keys pass ($out)" \
	bash -c '[[ $1 == *": ok"* ]]' _ "$out"

if [ "$(id -u)" != 0 ] || ! ip netns add "$NS_LAN" 2>/dev/null; then
	skip "gateway_options: network namespaces need root"
	finish
	exit
fi

topology() {
	site_link && addr "$NS_LAN" l 192.168.77.3/24 || return 1
	ip -n "$NS_AG" addr add 10.20.0.2/32 dev lo || return 1
	# main's own way there, which a bypassed source takes: gw's default route
	# via the agent's namespace, which routes the LAN back
	ip -n "$NS_GW" route add default via 10.77.0.2 && ip -n "$NS_AG" route add 192.168.77.0/24 via 10.77.0.1 || return 1
	mkdir -p "/etc/netns/$NS_LAN" && echo "nameserver 198.18.0.1" >"/etc/netns/$NS_LAN/resolv.conf"
}
lan() { ip netns exec "$NS_LAN" "$@"; }
dig_short() { timeout 15 ip netns exec "$NS_LAN" dig +short +time=2 +tries=2 "$@" 2>&1; }
rcode_of() { timeout 15 ip netns exec "$NS_LAN" dig +time=2 +tries=2 "$@" 2>&1 | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'; }
rules() { ip -n "$NS_GW" rule show; }
rules6() { ip -n "$NS_GW" -6 rule show; }
# IPv4 packets the kernel has sent into the TUN: all of them but IPv6's (the
# kernel's own MLD reports go out on it at times of its choosing)
tun_tx4() {
	ip netns exec "$NS_GW" bash -c 'tx=$(cat /sys/class/net/n4m0/statistics/tx_packets)
		v6=$(awk '"'"'$1 == "Ip6OutRequests" || $1 == "Ip6OutForwDatagrams" { n += $2 } END { print n + 0 }'"'"' /proc/net/dev_snmp6/n4m0)
		echo $((tx - v6))'
}
dns_up() { ip netns exec "$NS_GW" ss -Huln 'sport = :53' | grep -q 198.18.0.1; }

need "three namespaces, veth pairs, addresses, resolv.conf" topology

mkdir -p "$TEST_TMP/www"
echo "the agent's default target" >"$TEST_TMP/www/index.html"
(cd "$TEST_TMP/www" && exec ip netns exec "$NS_AG" "$PY" -m http.server --bind 10.20.0.2 8080) \
	>"$TEST_TMP/http.log" 2>&1 &
bg_track $!
printf 'listener 1883 10.77.0.1\nlistener 1883 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n' \
	>"$TEST_TMP/m.conf"
bg_ns "$NS_GW" mosquitto env $BROKER_ENV mosquitto -c "$TEST_TMP/m.conf"
need "the web server and the broker listen" wait_for 10 bash -c \
	"ip netns exec $NS_AG ss -Htln 'sport = :8080' | grep -q . && ip netns exec $NS_GW ss -Htln 'sport = :1883' | grep -q ."
n4m_ns "$NS_AG" agent agent -m "mqtt://10.77.0.1:1883/$PREFIX" -i "$AGENT" -t 10.20.0.2:8080

GW_OPTS=(-m "mqtt://127.0.0.1:1883/$PREFIX" -i "$GWID" -a "$AGENT" --route 10.20.0.0/24
	--table 100 --rule-priority 500 --bypass 192.168.77.3/32 --bypass fd77::3/128
	--dns -d "$DOMAIN" --fake-ip-range 198.51.100.0/24 --fake-ip-cache "$CACHE")
n4m_ns "$NS_GW" gateway gateway "${GW_OPTS[@]}"
need "the gateway sees the agent online" wait_for 15 grep -q "peer $AGENT/- online" "$TEST_TMP/gateway.log"
need "the gateway's DNS listens" wait_for 10 dns_up

# 1. --table, --rule-priority
check "ip rule: 500: from all lookup 100 ($(rules | grep -E '^500:'))" bash -c "ip -n $NS_GW rule show | grep -qx '500:	from all lookup 100'"
check "... for IPv6 too" bash -c "ip -n $NS_GW -6 rule show | grep -qx '500:	from all lookup 100'"
check "no rule or table 1883" bash -c "! ip -n $NS_GW rule show | grep -q 1883 && [ -z \"\$(ip -n $NS_GW route show table 1883 2>/dev/null)\" ]"
check "table 100 holds the route 10.20.0.0/24 into the TUN" has "10.20.0.0/24 dev n4m0" ip -n "$NS_GW" route show table 100
body=$(lan curl -s -m 10 http://10.20.0.2:8080/)
check "lan: curl http://10.20.0.2:8080/ through table 100 (got '$body')" test "$body" = "the agent's default target"

# 2. --fake-ip-range and -d
check "table 100 holds the fake-ip range 198.51.100.0/24" has "198.51.100.0/24 dev n4m0" ip -n "$NS_GW" route show table 100
check "... and the default IPv6 range" has "fdfe:dcba:9876:1::/64 dev n4m0" ip -n "$NS_GW" -6 route show table 100
a1=$(dig_short @198.18.0.1 "$AGENT.$DOMAIN" A)
aaaa=$(dig_short @198.18.0.1 "$AGENT.$DOMAIN" AAAA)
check "A $AGENT.$DOMAIN (-d $DOMAIN) is in 198.51.100.0/24 ($a1)" bash -c "[[ '$a1' =~ $FAKE4 ]]"
check "AAAA is in fdfe:dcba:9876:1::/64 ($aaaa)" bash -c "[[ '$aaaa' =~ $FAKE6 ]]"
check "$AGENT.net4mqtt.local is no agent's name now: REFUSED (no --dns-upstream)" \
	test "$(rcode_of @198.18.0.1 "$AGENT.net4mqtt.local" A)" = REFUSED
body=$(lan curl -s -m 10 "http://$AGENT.$DOMAIN:8080/")
check "lan: curl http://$AGENT.$DOMAIN:8080/ by name (got '$body')" test "$body" = "the agent's default target"
b1=$(dig_short @198.18.0.1 "other$S.$DOMAIN" A)
check "another agent's name gets another address ($b1)" bash -c "[[ '$b1' =~ $FAKE4 ]] && [ '$b1' != '$a1' ]"

# 3. --bypass
check "ip rule: 498: from 192.168.77.3 lookup main ($(rules | grep -E '^498:'))" \
	bash -c "ip -n $NS_GW rule show | grep -qx '498:	from 192.168.77.3 lookup main'"
check "... and from fd77::3 (IPv6)" bash -c "ip -n $NS_GW -6 rule show | grep -qx '498:	from fd77::3 lookup main'"
check "ip route get 10.20.0.2 from 192.168.77.2 iif gl$S: the TUN" \
	has "dev n4m0" ip -n "$NS_GW" route get 10.20.0.2 from 192.168.77.2 iif "gl$S"
got=$(ip -n "$NS_GW" route get 10.20.0.2 from 192.168.77.3 iif "gl$S" 2>&1)
check "ip route get 10.20.0.2 from 192.168.77.3 iif gl$S: main's default route, not the TUN ($got)" \
	bash -c "grep -q 'via 10.77.0.2 dev ga$S' <<<'$got' && ! grep -q n4m0 <<<'$got'"
tx=$(tun_tx4)
flows=$(grep -c "from $GWID/$AGENT to" "$TEST_TMP/agent.log")
body=$(lan curl -s -m 10 --interface 192.168.77.3 http://10.20.0.2:8080/)
check "lan: curl from the bypassed 192.168.77.3 reaches 10.20.0.2 by main's route (got '$body')" \
	test "$body" = "the agent's default target"
lan curl -s -m 5 --interface 192.168.77.3 "http://$a1:8080/" >/dev/null
check "... and the fake-ip address, which only the TUN has, not at all" test $? -ne 0
check "the TUN got no IPv4 packet of either ($tx before, $(tun_tx4) after)" test "$(tun_tx4)" = "$tx"
check "... and the agent no flow ($flows before, $(grep -c "from $GWID/$AGENT to" "$TEST_TMP/agent.log") after)" \
	test "$(grep -c "from $GWID/$AGENT to" "$TEST_TMP/agent.log")" = "$flows"
ip -n "$NS_GW" rule del from 192.168.77.3 lookup main priority 498
check "a bypass rule deleted by hand is put back" wait_for 5 bash -c \
	"ip -n $NS_GW rule show | grep -qx '498:	from 192.168.77.3 lookup main'"
check "... with a log line" wait_for 5 grep -q 'the --bypass rule from 192.168.77.3/32 was gone: put back' "$TEST_TMP/gateway.log"

# 4. --fake-ip-cache, written within seconds of a change; a restart keeps the addresses
check "the cache file holds both names within 10 s" wait_for 10 bash -c \
	"grep -qE '^[0-9]+ $AGENT.$DOMAIN $AGENT default\$' '$CACHE' && grep -qE '^[0-9]+ other$S.$DOMAIN other$S default\$' '$CACHE'"
check "... and says its ranges" grep -qx 'ranges 198.51.100.0/24 fdfe:dcba:9876:1::/64' "$CACHE"
check "... with no temporary file beside it" test "$(find "$TEST_TMP" -maxdepth 1 -name 'fakeip.cache*' | wc -l)" = 1
kill "$gateway_PID"
check "the gateway exits on SIGTERM" wait_for 10 bash -c "! kill -0 $gateway_PID 2>/dev/null"
check "its rules are gone: no lookup 100, no bypass rule" \
	bash -c "! ip -n $NS_GW rule show | grep -qE 'lookup 100|192.168.77.3' && ! ip -n $NS_GW -6 rule show | grep -qE 'lookup 100|fd77::3'"

CONF=$TEST_TMP/gw.conf
write_conf() { # extra [gateway] lines...
	{
		echo "[net4mqtt]"
		echo "mqtt-url = mqtt://127.0.0.1:1883/$PREFIX"
		echo "log-level = debug"
		echo "status-listen = off"
		echo "[gateway]"
		echo "id = $GWID"
		echo "agent-id = $AGENT"
		echo "route = 10.20.0.0/24"
		echo "rule-priority = 500"
		echo "dns = yes"
		echo "domain = $DOMAIN"
		echo "fake-ip-range = 198.51.100.0/24"
		echo "fake-ip-cache = $CACHE"
		printf '%s\n' "$@"
	} >"$CONF.new" && mv "$CONF.new" "$CONF"
}
write_conf "table = 100" "bypass = 192.168.77.3/32"
need "the same settings as a config file check out" "$N4M" run -c "$CONF" --check
bg_ns "$NS_GW" gw2 "$N4M" run -c "$CONF" -f
need "the restarted gateway sees the agent online" wait_for 15 grep -q "peer $AGENT/- online" "$TEST_TMP/gw2.log"
need "its DNS listens" wait_for 10 dns_up
check "it restored the 2 names from the cache" grep -q "fake-ip cache $CACHE: 2 names restored, 0 dropped" "$TEST_TMP/gw2.log"
flows=$(grep -c "from $GWID/$AGENT to - (default target" "$TEST_TMP/agent.log")
body=$(lan curl -s -m 10 "http://$a1:8080/")
check "lan: curl http://$a1:8080/, the address handed out before the restart, with no new query (got '$body')" \
	test "$body" = "the agent's default target"
check "the flow went to $AGENT's default target" \
	test "$(grep -c "from $GWID/$AGENT to - (default target" "$TEST_TMP/agent.log")" -gt "$flows"
b2=$(dig_short @198.18.0.1 "other$S.$DOMAIN" A) # the other order: a fresh pool would swap them
a2=$(dig_short @198.18.0.1 "$AGENT.$DOMAIN" A)
check "the same names get the same addresses, asked in the other order ($a1 $b1, now $a2 $b2)" test "$a1 $b1" = "$a2 $b2"
body=$(lan curl -s -m 10 --resolve "$AGENT.$DOMAIN:8080:$a1" "http://$AGENT.$DOMAIN:8080/")
check "lan: curl --resolve $AGENT.$DOMAIN:8080:$a1 (got '$body')" test "$body" = "the agent's default target"

# 5. SIGHUP: the bypass rule moves; a changed table takes a restart
hup() {
	local before
	before=$(grep -cE 'reload: (done|.*still running)' "$TEST_TMP/gw2.log")
	kill -HUP "$gw2_PID"
	wait_for 10 bash -c "[ \$(grep -cE 'reload: (done|.*still running)' '$TEST_TMP/gw2.log') -gt $before ]"
}
write_conf "table = 100" "bypass = 192.168.77.4/32"
check "SIGHUP with bypass = 192.168.77.4/32" hup
check "the rule from 192.168.77.3 is gone" bash -c "! ip -n $NS_GW rule show | grep -q 192.168.77.3"
check "the rule from 192.168.77.4 is in at 498" bash -c "ip -n $NS_GW rule show | grep -qx '498:	from 192.168.77.4 lookup main'"
flows=$(grep -c "from $GWID/$AGENT to 10.20.0.2:8080" "$TEST_TMP/agent.log")
body=$(lan curl -s -m 10 --interface 192.168.77.3 http://10.20.0.2:8080/)
check "lan: 192.168.77.3 goes through the TUN again: the agent carried it (got '$body')" \
	bash -c '[ "$1" = "$2" ] && [ "$(grep -c "$3" "$4")" -gt "$5" ]' _ "$body" "the agent's default target" \
	"from $GWID/$AGENT to 10.20.0.2:8080" "$TEST_TMP/agent.log" "$flows"
write_conf "table = 101" "bypass = 192.168.77.4/32"
check "SIGHUP with table = 101" hup
check "the log says that takes a restart" grep -q 'gateway: reload: keys other than .* take a restart' "$TEST_TMP/gw2.log"
check "the rule still looks up table 100" bash -c "ip -n $NS_GW rule show | grep -qx '500:	from all lookup 100' && ! ip -n $NS_GW rule show | grep -q 'lookup 101'"
kill "$gw2_PID"
check "the gateway exits on SIGTERM" wait_for 10 bash -c "! kill -0 $gw2_PID 2>/dev/null"
check "its rules are gone" bash -c "! ip -n $NS_GW rule show | grep -qE 'lookup 100|192.168.77.4'"
check "the cache was written at the stop: still both names" \
	bash -c "grep -qE '^[0-9]+ $AGENT.$DOMAIN ' '$CACHE' && grep -qE '^[0-9]+ other$S.$DOMAIN ' '$CACHE'"
finish
