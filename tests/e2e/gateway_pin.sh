#!/usr/bin/env bash
# No loops: the broker lies inside a subnet the gateway routes into its TUN.
# The gateway pins the broker to the main table, so its own MQTT connection
# never enters the tunnel, while other addresses of that subnet do.
#   gw ns (gateway; 10.20.0.1/24 on a veth) -- far ns (10.20.0.5: mosquitto, agent; 10.20.0.9: web)
set -u
source "$(dirname "$0")/../lib.sh"

S=$$
GW=n4m-pin-gw-$S FAR=n4m-pin-far-$S
pin_cleanup() {
	cleanup
	ip netns del "$GW" 2>/dev/null
	ip netns del "$FAR" 2>/dev/null
}
trap pin_cleanup EXIT
if [ "$(id -u)" != 0 ] || ! ip netns add "$GW" 2>/dev/null; then
	skip "network namespaces need root"
	exit 0
fi
ip netns add "$FAR"
for ns in "$GW" "$FAR"; do ip -n "$ns" link set lo up; done
ip link add pg$S netns "$GW" type veth peer name pf$S netns "$FAR"
ip -n "$GW" addr add 10.20.0.1/24 dev pg$S
ip -n "$GW" link set pg$S up
ip -n "$FAR" addr add 10.20.0.5/24 dev pf$S
ip -n "$FAR" link set pf$S up
ip -n "$FAR" addr add 10.20.0.9/32 dev lo

mkdir -p "$TEST_TMP/www"
echo "the web behind the agent" >"$TEST_TMP/www/index.html"
(cd "$TEST_TMP/www" && exec ip netns exec "$FAR" "$PY" -m http.server --bind 10.20.0.9 80) \
	>"$TEST_TMP/http.log" 2>&1 &
bg_track $!
printf 'listener 1883 10.20.0.5\nlistener 1883 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\nset_tcp_nodelay true\n' \
	>"$TEST_TMP/m.conf"
ip netns exec "$FAR" env $BROKER_ENV mosquitto -c "$TEST_TMP/m.conf" >"$TEST_TMP/m.log" 2>&1 &
bg_track $!
ip netns exec "$FAR" "$N4M" -vv agent -m mqtt://127.0.0.1:1883/pin -i far-agent -t 10.20.0.9:80 \
	>"$TEST_TMP/agent.log" 2>&1 &
bg_track $!
ip netns exec "$GW" "$N4M" -vv gateway -m mqtt://10.20.0.5:1883/pin -i pin-gw -a far-agent \
	--route 10.20.0.0/24 >"$TEST_TMP/gateway.log" 2>&1 &
GW_PID=$!
bg_track $GW_PID

check "the web server in the far namespace listens on 10.20.0.9:80" \
	wait_for 10 bash -c "ip netns exec $FAR ss -Htln 'sport = :80' | grep -q ."
check "the gateway pins the broker 10.20.0.5 to the main table" \
	wait_for 10 bash -c "ip -n $GW rule | grep -q 'to 10.20.0.5 lookup main'"
check "the gateway's MQTT connection to a broker inside its routed subnet comes up" \
	wait_for 15 grep -q 'mqtt: connected' "$TEST_TMP/gateway.log"
check "the gateway sees the agent online through that connection" \
	wait_for 15 grep -q 'peer far-agent/- online' "$TEST_TMP/gateway.log"
check "other addresses of the subnet still go into the TUN ($(ip -n "$GW" route get 10.20.0.9 2>&1 | head -n 1))" \
	bash -c "ip -n $GW route get 10.20.0.9 | grep -q 'dev n4m0'"
body=$(ip netns exec "$GW" curl -s -m 10 http://10.20.0.9/)
check "a connection to 10.20.0.9 crosses the tunnel (got '$body')" test "$body" = "the web behind the agent"
check "the agent carried it" grep -q 'from pin-gw/far-agent to 10.20.0.9:80' "$TEST_TMP/agent.log"
kill "$GW_PID"
check "the gateway exits on SIGTERM" wait_for 10 bash -c "! kill -0 $GW_PID 2>/dev/null"
check "the pin rule is removed at exit" bash -c "! ip -n $GW rule | grep -q 'lookup main' || ! ip -n $GW rule | grep -q 10.20.0.5"
finish
