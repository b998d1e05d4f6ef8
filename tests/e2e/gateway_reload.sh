#!/usr/bin/env bash
# The gateway from a config file (run -c): SIGHUP adds and removes routes and
# exclusions while a TCP connection through an unchanged route stays up;
# a broken file changes nothing; /metrics and /status follow.
#   gw ns (run -c: [gateway]) -- veth -- far ns (mosquitto 10.30.0.5; agent "far";
#   10.20.0.9 and 10.21.0.9 on lo: a web server on each, an echo server on 10.20.0.9:7)
set -u
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../netns-lib.sh"

S=$$
GW=n4m-rl-gw-$S FAR=n4m-rl-far-$S
trap 'cleanup; ip netns del "$GW" 2>/dev/null; ip netns del "$FAR" 2>/dev/null' EXIT
if [ "$(id -u)" != 0 ] || ! ip netns add "$GW" 2>/dev/null; then
	skip "network namespaces need root"
	exit 0
fi
topology() {
	ns_up "$GW" "$FAR" && veth "$GW" rg "$FAR" rf &&
		addr "$GW" rg 10.30.0.1/24 && addr "$FAR" rf 10.30.0.5/24 &&
		ip -n "$FAR" addr add 10.20.0.9/32 dev lo && ip -n "$FAR" addr add 10.21.0.9/32 dev lo
}
need "two namespaces with a veth between them" topology

for site in 20 21; do
	mkdir -p "$TEST_TMP/www$site"
	echo "site $site" >"$TEST_TMP/www$site/index.html"
	(cd "$TEST_TMP/www$site" && exec ip netns exec "$FAR" "$PY" -m http.server --bind 10.$site.0.9 80) \
		>"$TEST_TMP/http$site.log" 2>&1 &
	bg_track $!
done
bg_ns "$FAR" echo socat TCP-LISTEN:7,bind=10.20.0.9,fork,reuseaddr EXEC:cat
printf 'listener 1883 10.30.0.5\nallow_anonymous true\nmax_queued_messages 100000\nset_tcp_nodelay true\n' \
	>"$TEST_TMP/m.conf"
bg_ns "$FAR" broker env $BROKER_ENV mosquitto -c "$TEST_TMP/m.conf"
n4m_ns "$FAR" agent agent -m mqtt://10.30.0.5:1883/reload -i far

CONF=$TEST_TMP/gw.conf
write_conf() { # extra [gateway] lines...
	{
		echo "[net4mqtt]"
		echo "mqtt-url = mqtt://10.30.0.5:1883/reload"
		echo "log-level = info"
		echo "status-listen = 127.0.0.1:9810"
		echo
		echo "[gateway]"
		echo "id = rgw"
		echo "agent-id = far"
		echo "route = 10.20.0.0/24"
		printf '%s\n' "$@"
	} >"$CONF.new"
	mv "$CONF.new" "$CONF"
}
write_conf
need "the config checks out" "$N4M" run -c "$CONF" --check
bg_ns "$GW" gateway "$N4M" run -c "$CONF" -f
GW_PID=$gateway_PID

in_tun() { ip -n "$GW" route get "$1" 2>/dev/null | grep -q 'dev n4m0'; }
web() { ip netns exec "$GW" curl -s -m 5 "http://$1/"; }
metric() { ip netns exec "$GW" curl -s -m 5 http://127.0.0.1:9810/metrics | awk -v m="$1" '$1 == m {print $2}'; }
reloads() { grep -c 'reload: reading' "$TEST_TMP/gateway.log"; }
hup() { # waits for the reload to be logged as done or refused
	local before
	before=$(grep -cE 'reload: (done|.*still running)' "$TEST_TMP/gateway.log")
	kill -HUP "$GW_PID"
	wait_for 10 bash -c "[ \$(grep -cE 'reload: (done|.*still running)' '$TEST_TMP/gateway.log') -gt $before ]"
}

need "the web servers listen" wait_for 10 bash -c \
	"ip netns exec $FAR ss -Htln 'sport = :80' | grep -c . | grep -q 2"
need "the gateway sees the agent online" wait_for 15 grep -q 'peer far/- online' "$TEST_TMP/gateway.log"
check "10.20.0.0/24 goes into the TUN" in_tun 10.20.0.9
check "10.21.0.0/24 does not, yet" bash -c "! ip -n $GW route get 10.21.0.9 >/dev/null 2>&1"
check "a web page through the configured route" test "$(web 10.20.0.9)" = "site 20"

# a long-lived connection through the route that stays
coproc ECHO { ip netns exec "$GW" socat - TCP:10.20.0.9:7 2>/dev/null; }
bg_track "$ECHO_PID"
echoes() { # LINE: sends it on the held connection and reads it back
	local got=
	echo "$1" >&"${ECHO[1]}" && read -r -t 5 got <&"${ECHO[0]}"
	[ "$got" = "$1" ]
}
need "a held connection to 10.20.0.9:7 echoes" echoes "before any reload"
nat=$(metric net4mqtt_nat_entries)
check "/metrics counts the held connection in the NAT table ($nat entries)" test "${nat:-0}" -ge 1
check "/metrics counts one gateway route" test "$(metric net4mqtt_gateway_routes)" = 1

write_conf "route = 10.21.0.0/24" "exclude = 10.20.0.128/25"
check "SIGHUP is taken" hup
check "the reload added 10.21.0.0/24" grep -q 'reload: added route 10.21.0.0/24 to far' "$TEST_TMP/gateway.log"
check "after the reload 10.21.0.0/24 goes into the TUN" wait_for 5 in_tun 10.21.0.9
check "a web page through the new route" test "$(web 10.21.0.9)" = "site 21"
check "the new exclusion keeps 10.20.0.200 out of the TUN" bash -c "! ip -n $GW route get 10.20.0.200 2>/dev/null | grep -q n4m0"
check "the held connection still echoes after the reload" echoes "after adding a route"
check "/status lists the new route and the exclusion" bash -c "ip netns exec $GW curl -s -m 5 \
	http://127.0.0.1:9810/status | $PY -c 'import json,sys
d = json.load(sys.stdin)
r = {(x[\"prefix\"], x[\"source\"]) for x in d[\"roles\"][0][\"routes\"]}
sys.exit(not {(\"10.21.0.0/24\", \"configured\"), (\"10.20.0.128/25\", \"exclude\")} <= r)'"
check "/metrics counts 3 routes" test "$(metric net4mqtt_gateway_routes)" = 3
check "the TUN queues 4096 packets for us, not the default 500 ($(ip -n "$GW" link show n4m0 | grep -o 'qlen [0-9]*'))" \
	bash -c "ip -n '$GW' link show n4m0 | grep -q 'qlen 4096'"
qf=$(metric 'net4mqtt_tun_drops_total{reason="queue_full"}')
check "/metrics says how many packets the TUN's queue dropped before we read them ($qf; /sys: $(ip netns exec "$GW" cat /sys/class/net/n4m0/statistics/tx_dropped 2>&1))" \
	test "$qf" = "$(ip netns exec "$GW" cat /sys/class/net/n4m0/statistics/tx_dropped 2>/dev/null)"

write_conf
check "SIGHUP again" hup
check "the reload removed 10.21.0.0/24" grep -q 'reload: removed route 10.21.0.0/24' "$TEST_TMP/gateway.log"
check "10.21.0.0/24 no longer goes into the TUN" wait_for 5 bash -c "! ip -n $GW route get 10.21.0.9 2>/dev/null | grep -q n4m0"
check "the exclusion is gone: 10.20.0.200 goes into the TUN again" in_tun 10.20.0.200
check "the held connection still echoes" echoes "after removing a route"

printf '[gateway\nroute = 10.22.0.0/24\n' >"$CONF"
check "SIGHUP with a broken file" hup
check "the log names the file and line of the error" grep -q "reload: $CONF:1: section header without" "$TEST_TMP/gateway.log"
check "the log says the old config still runs" grep -q 'still running the config read before' "$TEST_TMP/gateway.log"
check "the routes are untouched" in_tun 10.20.0.9
check "the held connection still echoes" echoes "after a broken reload"

write_conf "tun = other0"
check "SIGHUP with a changed TUN name" hup
check "the log says that takes a restart" grep -q 'gateway: reload: keys other than .* take a restart' "$TEST_TMP/gateway.log"
check "... and said so only then, not for the route changes" \
	test "$(grep -c 'take a restart' "$TEST_TMP/gateway.log")" = 1
check "the held connection still echoes" echoes "at the end"
check "the gateway still runs" kill -0 "$GW_PID"
check "it served every reload on one process: $(reloads) reloads" test "$(reloads)" = 4
finish
