# N agent/local pairs on one broker, for tests/e2e/scale.sh and make bench's
# scale row. Source it after lib.sh and start_broker.
#
# Pair i is an [agent pI] (id SCALE_PFX-agI, default target: one shared echo
# server) and a [local-port pI] (listen 127.0.0.1:SCALE_BASE+i, agent-id
# SCALE_PFX-agI). `net4mqtt run -c` takes at most HUB_NODES_MAX roles per
# process, so the agents are in processes of that many [agent] sections and
# the locals in processes of that many [local-port] sections, each process on
# its own MQTT connection with its own status server (for /status).
#
#   scale_up N           starts them; 0 once every local port listens and every
#                        local process sees its agents online (30 + N/8 s at most each)
#   scale_flows SIDE     prints the flows open now and ever opened, summed over
#                        the agent (a) or local (l) processes
#   scale_running        every process is alive
#   scale_down           stops them (and the echo server)
# Sets SCALE_BASE, SCALE_PIDS (every net4mqtt), SCALE_APIDS, SCALE_LPIDS, SCALE_ECHO_PID.

SCALE_TOOL=${SCALE_TOOL:-${N4M_BUILD:-$(dirname "$N4M")}/bench/scale_pairs}
SCALE_PFX=${SCALE_PFX:-sc}
# the roles one process may have (gateway/core/hub.h)
SCALE_PER=$(sed -n 's/^#define HUB_NODES_MAX \([0-9]*\).*/\1/p' \
	"$(dirname "${BASH_SOURCE[0]}")/../gateway/core/hub.h")
SCALE_PER=${SCALE_PER:-16}

# 1000 pairs need a few thousand descriptors (the client's and echo server's
# sockets, the processes' flows): the soft limit up to the hard one.
ulimit -n "$(ulimit -Hn)" 2>/dev/null

# scale_free_range COUNT: the first of COUNT consecutive loopback ports nobody uses,
# among free_port's (N4M_PORT_BASE, N4M_PORT_SPAN) and below the ephemeral range (where
# the processes' own connections to the broker, made while others start listening,
# would take some).
scale_free_range() {
	local used base p ok lo first=$N4M_PORT_BASE
	lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
	lo=${lo:-32768}
	[ "$lo" -le $((first + N4M_PORT_SPAN)) ] || lo=$((first + N4M_PORT_SPAN))
	[ "$lo" -gt $((first + $1)) ] || lo=60000
	used=$(ss -Htan | awk '{ n = split($4, a, ":"); print a[n] }'; ss -Huan | awk '{ n = split($4, a, ":"); print a[n] }'
		cat "$TEST_TMP/ports-given" 2>/dev/null)
	for _ in $(seq 50); do
		base=$((first + RANDOM % (lo - first - $1)))
		ok=1
		for p in $used; do
			if [ "$p" -ge "$base" ] && [ "$p" -lt $((base + $1)) ]; then ok=0; break; fi
		done
		[ "$ok" = 1 ] && { echo "$base"; return 0; }
	done
	return 1
}

# The check of the processes' /status: "online" (every local process sees each
# of its pairs' agents online) or "open"; prints the flows open and the flows
# ever opened, each summed over the processes.
SCALE_STATUS_PY='
import json, sys, urllib.request
mode, spec = sys.argv[1], sys.argv[2]
total = opened = 0
for line in open(spec):
    port, *agents = line.split()
    try:
        with urllib.request.urlopen("http://127.0.0.1:%s/status" % port, timeout=5) as r:
            s = json.load(r)
    except Exception as e:
        print("status %s: %s" % (port, e))
        sys.exit(1)
    total += sum(r["flows_open"] for r in s["roles"])
    opened += sum(r["flows_opened"] for r in s["roles"])
    online = {a["id"] for a in s["agents"] if a["online"]}
    if mode == "online" and not set(agents) <= online:
        print("status %s: %d of %d agents online" % (port, len(set(agents) & online), len(agents)))
        sys.exit(1)
print(total, opened)
'

scale_up() {
	local n=$1 procs i k conf first last sport
	procs=$(((n + SCALE_PER - 1) / SCALE_PER))
	SCALE_N=$n
	SCALE_PIDS=() SCALE_APIDS=() SCALE_LPIDS=()
	# the local ports, one status port per process, and the echo server's: all in the
	# range found free (a port picked apart from it could fall inside it)
	SCALE_BASE=$(scale_free_range $((n + 2 * procs + 1))) || { echo "scale: no free port range" >&2; return 1; }
	SCALE_ECHO=$((SCALE_BASE + n + 2 * procs))
	"$SCALE_TOOL" echo -p "$SCALE_ECHO" >"$TEST_TMP/scale-echo.log" 2>&1 &
	SCALE_ECHO_PID=$!
	bg_track "$SCALE_ECHO_PID"
	: >"$TEST_TMP/scale-agents.spec"
	: >"$TEST_TMP/scale-locals.spec"
	for k in $(seq 0 $((procs - 1))); do
		first=$((k * SCALE_PER))
		last=$((first + SCALE_PER - 1))
		[ "$last" -lt "$n" ] || last=$((n - 1))
		for side in a l; do
			conf=$TEST_TMP/scale-$side$k.conf
			if [ $side = a ]; then sport=$((SCALE_BASE + n + k)); else sport=$((SCALE_BASE + n + procs + k)); fi
			{
				echo "[net4mqtt]"
				echo "mqtt-url = $BROKER_URL_BASE/scale?client_id=$SCALE_PFX-$side$k"
				echo "log-level = info"
				echo "status-listen = 127.0.0.1:$sport"
				for i in $(seq "$first" "$last"); do
					echo
					if [ $side = a ]; then
						echo "[agent p$i]"
						echo "id = $SCALE_PFX-ag$i"
						echo "target = 127.0.0.1:$SCALE_ECHO"
						echo "allow = 127.0.0.1/32:$SCALE_ECHO"
					else
						echo "[local-port p$i]"
						echo "id = $SCALE_PFX-lp$i"
						echo "listen = 127.0.0.1:$((SCALE_BASE + i))"
						echo "agent-id = $SCALE_PFX-ag$i"
					fi
				done
			} >"$conf"
			"$N4M" run -c "$conf" -f >"$TEST_TMP/scale-$side$k.log" 2>&1 &
			bg_track $!
			SCALE_PIDS+=($!)
			if [ $side = a ]; then
				SCALE_APIDS+=($!)
				echo "$sport" >>"$TEST_TMP/scale-agents.spec"
			else
				SCALE_LPIDS+=($!)
				echo "$sport $(for i in $(seq "$first" "$last"); do printf '%s ' "$SCALE_PFX-ag$i"; done)" \
					>>"$TEST_TMP/scale-locals.spec"
			fi
		done
	done
	# 1000 pairs take a minute or so on 2 CPUs: every process learns every peer's status
	wait_for $((30 + n / 8)) scale_listening && wait_for $((30 + n / 8)) scale_online
}

# every local port and status port listens
scale_listening() {
	local want=$((SCALE_N + 2 * ${#SCALE_LPIDS[@]}))
	[ "$(ss -Htln | awk -v lo="$SCALE_BASE" -v hi=$((SCALE_BASE + want)) '{
		n = split($4, a, ":"); if (a[n] >= lo && a[n] < hi) c++ } END { print c + 0 }')" -ge "$want" ] &&
		port_listening "$SCALE_ECHO"
}

scale_online() {
	"$PY" -c "$SCALE_STATUS_PY" online "$TEST_TMP/scale-locals.spec" >"$TEST_TMP/scale-online.out" 2>&1
}

scale_flows() {
	local spec=$TEST_TMP/scale-agents.spec
	[ "$1" = l ] && spec=$TEST_TMP/scale-locals.spec
	"$PY" -c "$SCALE_STATUS_PY" open "$spec" 2>&1
}

scale_running() { all_running "${SCALE_PIDS[@]}"; }

scale_down() {
	local p
	for p in "${SCALE_PIDS[@]}" "$SCALE_ECHO_PID"; do kill "$p" 2>/dev/null; done
	for p in "${SCALE_PIDS[@]}" "$SCALE_ECHO_PID"; do
		wait_for 10 bash -c "! kill -0 $p 2>/dev/null" || kill -9 "$p" 2>/dev/null
	done
	SCALE_PIDS=()
}
