#!/usr/bin/env bash
# shellcheck disable=SC2154 # the NAME_PID variables are set by n4m
# A participant of the broker without keys (issue 18) cannot stop or swamp our peers:
#  a. a retained "{}" on the agent's status topic, then on the local's, while a
#     file transfers through local-port -> agent: the transfer goes on and
#     arrives intact (sha256), a new connection right after works, the status
#     topic holds the real status again, and /metrics counts the spoof;
#  b. statuses of 30,000 made-up peers (online, then their wills): each
#     process's RSS stays bounded, its log gets few lines, and a flow works;
#  c. tcpx OPENs for thousands of made-up flows from one made-up local id: the
#     agent holds at most --max-flows-per-peer of them, ends them after
#     --unused-timeout, and the real local's flows work all along.
set -u
source "$(dirname "$0")/../lib.sh"
HELPERS=$(cd "$(dirname "$0")" && pwd)/helpers
SPOOF=$HELPERS/spooftool.py
PREFIX=e2e/spoof
AGENT=spoof-agent-$$
LOCAL=spoof-local-$$
PER_PEER=40	# --max-flows-per-peer
UNUSED=3	# --unused-timeout: short, so the test need not wait long
FAKE_PEERS=15000 # agents, and as many locals
FAKE_FLOWS=2000
RSS_GROWTH_KB=$((40 * 1024)) # 4096 peers of ~2 KiB, and slack; unbounded, it was 65 MB in 10 s

start_broker || { fail "mosquitto starts"; exit 1; }
URL="$BROKER_URL_BASE/$PREFIX"
HTTP=$(free_port)
LP=$(free_port)
MA=$(free_port)
ML=$(free_port)
mkdir -p "$TEST_TMP/www"
head -c $((12 << 20)) /dev/urandom >"$TEST_TMP/www/big"
head -c 1000 /dev/urandom >"$TEST_TMP/www/small"
start_http "$TEST_TMP/www" "$HTTP" || { fail "http server starts"; exit 1; }

n4m agent agent -m "$URL?client_id=$AGENT" -i "$AGENT" -t "127.0.0.1:$HTTP" \
	--max-flows-per-peer "$PER_PEER" --unused-timeout "$UNUSED" --status-listen "127.0.0.1:$MA"
n4m local local-port -m "$URL?client_id=$LOCAL" -i "$LOCAL" -a "$AGENT" -l "127.0.0.1:$LP" \
	--status-listen "127.0.0.1:$ML"
AGENT_TOPIC=$PREFIX/$AGENT/-/v/-
LOCAL_TOPIC=$PREFIX/-/$LOCAL/v/-
need "local-port listens" wait_for 10 port_listening "$LP"
need "agent is online" wait_status "$BROKER_URL_BASE/$AGENT_TOPIC"
need "local is online" wait_status "$BROKER_URL_BASE/$LOCAL_TOPIC"
need "the local has seen the agent's status" wait_for 10 grep -q "peer $AGENT/- online" "$TEST_TMP/local.log"
need "the agent has seen the local's status" wait_for 10 grep -q "peer -/$LOCAL online" "$TEST_TMP/agent.log"

# metric PORT NAME{LABELS}: its value in that process's /metrics (a name with a label prefix matches)
metric() {
	curl -s -m 5 "http://127.0.0.1:$1/metrics" | awk -v m="$2" 'index($1, m) == 1 {s += $2} END {print s + 0}'
}
metric_over() { [ "$(metric "$1" "$2")" -gt "$3" ]; }
metric_is() { [ "$(metric "$1" "$2")" -eq "$3" ]; }
small_ok() { curl -s -m 5 -o "$TEST_TMP/small.out" "http://127.0.0.1:$LP/small" && cmp -s "$TEST_TMP/small.out" "$TEST_TMP/www/small"; }
size_over() { [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -gt "$2" ]; }
retained() { timeout 10 mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -t "$1" --retained-only -C 1 -W 3 2>/dev/null; }
retained_is_real() { retained "$1" | grep -q "\"online\":true,\"id\":\"$2\""; }
sha() { sha256sum <"$1" 2>/dev/null | cut -d' ' -f1; }

# a. "{}" on each status topic during a transfer
spoof_round() { # WHO TOPIC ID METRICS_PORT
	local who=$1 topic=$2 id=$3 mport=$4 out=$TEST_TMP/big.$1
	curl -s -m 60 --limit-rate 3M -o "$out" "http://127.0.0.1:$LP/big" &
	local curl_pid=$!
	bg_track "$curl_pid"
	check "$who: a transfer is under way" wait_for 20 size_over "$out" $((1 << 20))
	mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -r -q 1 -t "$topic" -m '{}'
	check "$who: the spoof is counted in /metrics" wait_for 10 metric_over "$mport" "net4mqtt_status_spoofed_total" 0
	check "$who: the status topic holds the real status again" wait_for 10 retained_is_real "$topic" "$id"
	check "$who: a new connection right after the spoof works" wait_for 5 small_ok
	wait "$curl_pid"
	local rc=$?
	check "$who: the running transfer finished intact (curl $rc, sha256)" \
		test "$rc" -eq 0 -a "$(sha "$out")" = "$(sha "$TEST_TMP/www/big")"
}
spoof_round agent "$AGENT_TOPIC" "$AGENT" "$MA"
check "agent: the local saw the spoofed offline status (and held the flows)" \
	grep -q "peer $AGENT/- says offline" "$TEST_TMP/local.log"
spoof_round local "$LOCAL_TOPIC" "$LOCAL" "$ML"
check "local: the agent saw the spoofed offline status (and held the flows)" \
	grep -q "peer -/$LOCAL says offline" "$TEST_TMP/agent.log"
for who in agent local; do
	check "$who: no flow was reset by the spoofs" bash -c "! grep -q 'went offline' '$TEST_TMP/$who.log'"
done

# b. a status flood
rss_a=$(rss_kb "$agent_PID") rss_l=$(rss_kb "$local_PID")
lines_a=$(wc -l <"$TEST_TMP/agent.log") lines_l=$(wc -l <"$TEST_TMP/local.log")
res=$(timeout 120 $PY "$SPOOF" statuses 127.0.0.1 "$BROKER_PORT" "$PREFIX" "$FAKE_PEERS" 2>&1)
check "the status flood was published ($res)" grep -q '^statuses: .* published' <<<"$res"
for who in agent local; do
	port=$MA role=agent
	[ "$who" = local ] && port=$ML role=local-port
	check "$who: the peer table filled and refused the rest (/metrics)" \
		wait_for 60 metric_over "$port" "net4mqtt_drops_total{role=\"$role\",reason=\"peer_table_full\"" 0
	# the wills came after every online status: one online peer left, the real one
	check "$who: every made-up peer's will has arrived" wait_for 60 metric_is "$port" net4mqtt_peers_online 1
done
check_rss "agent: RSS after the status flood within $RSS_GROWTH_KB kB of before ($rss_a kB -> $(rss_kb "$agent_PID") kB)" \
	"$(rss_kb "$agent_PID")" $((rss_a + RSS_GROWTH_KB))
check_rss "local: RSS after the status flood within $RSS_GROWTH_KB kB of before ($rss_l kB -> $(rss_kb "$local_PID") kB)" \
	"$(rss_kb "$local_PID")" $((rss_l + RSS_GROWTH_KB))
for who in agent local; do
	lines=lines_a; [ "$who" = local ] && lines=lines_l
	new=$(($(wc -l <"$TEST_TMP/$who.log") - ${!lines}))
	check "$who: the flood of $((4 * FAKE_PEERS)) statuses added $new log lines (< 1000)" test "$new" -lt 1000
done
check "a new connection works after the status flood" wait_for 10 small_ok
check "the agent and the local are still running" all_running "$agent_PID" "$local_PID"

# c. a fake-flow flood from one made-up local id
res=$(timeout 120 $PY "$SPOOF" opens 127.0.0.1 "$BROKER_PORT" "$PREFIX" "$AGENT" fake-flooder "$FAKE_FLOWS" 2>&1)
check "the fake-flow flood was published ($res)" grep -q '^opens: .* published' <<<"$res"
check "the agent refused flows over --max-flows-per-peer (/metrics)" \
	wait_for 30 metric_over "$MA" 'net4mqtt_drops_total{role="agent",reason="over_peer_limit"' 0
flows=$(metric "$MA" 'net4mqtt_flows{role="agent"')
check "the agent holds at most $PER_PEER of the made-up flows ($flows open)" test "$flows" -le "$PER_PEER"
check "the real local still gets a flow while they are held" wait_for 10 small_ok
check "the unused made-up flows end (--unused-timeout $UNUSED)" \
	wait_for $((UNUSED + 30)) metric_is "$MA" 'net4mqtt_flows{role="agent"' 0
check "they are counted as unused (/metrics)" metric_over "$MA" net4mqtt_flows_unused_total 0
check "a new connection works after the fake-flow flood" wait_for 10 small_ok

for who in agent local; do
	check "$who log has no crash or assertion" bash -c "! grep -Eiq 'assert|segfault|sanitizer' '$TEST_TMP/$who.log'"
done
finish
