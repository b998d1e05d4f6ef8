# Shared helpers for the end-to-end tests: a private mosquitto, free ports,
# bounded waits, PASS/FAIL lines, and cleanup of everything a test started.
# Source it; then `trap cleanup EXIT` is already set.

N4M=${N4M_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/net4mqtt}
TEST_TMP=$(mktemp -d "/tmp/n4m-test.$$.XXXX")
chmod 755 "$TEST_TMP" # mosquitto started as root reads its files as user mosquitto
N4M_PIDS=()
N4M_FAILS=0

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; N4M_FAILS=$((N4M_FAILS + 1)); }
skip() { echo "SKIP: $*"; }
check() { # description command...
	local what=$1; shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}

cleanup() {
	local pid
	for pid in "${N4M_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
	for pid in "${N4M_PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null
	done
	[ -n "${N4M_KEEP_TMP:-}" ] || rm -rf "$TEST_TMP"
}
trap cleanup EXIT

# Remember a background process so cleanup stops it.
bg_track() { N4M_PIDS+=("$1"); }

# The test ports: N4M_PORT_SPAN of them from N4M_PORT_BASE on (tests/run.sh gives each
# worker its own share), below the kernel's ephemeral ports.
: "${N4M_PORT_BASE:=10000}" "${N4M_PORT_SPAN:=22000}"

# A TCP port nobody listens on now (loopback), among the test ports, and not one this
# script was given before (two picks before either is bound could be the same port).
free_port() {
	local p
	for _ in $(seq 200); do
		p=$((N4M_PORT_BASE + RANDOM % N4M_PORT_SPAN))
		grep -qx "$p" "$TEST_TMP/ports-given" 2>/dev/null && continue
		if ! ss -Htan "sport = :$p" | grep -q . && ! ss -Huan "sport = :$p" | grep -q .; then
			echo "$p" >>"$TEST_TMP/ports-given"
			echo "$p"; return 0
		fi
	done
	return 1
}

# wait_for SECONDS command...: polls every 50 ms until the command succeeds.
wait_for() { # SECONDS command...: polls every 50 ms until it succeeds or the time is up
	local deadline=$((SECONDS + $1)); shift
	while :; do
		"$@" && return 0
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

port_listening() { ss -Htln "sport = :$1" | grep -q .; }

# seal_keys DIR NAME...: for each NAME, a private key DIR/NAME.key (mode 600, from
# net4mqtt genkey) and its public key DIR/NAME.pub.
seal_keys() {
	local dir=$1 who
	shift
	mkdir -p "$dir" || return 1
	for who; do
		(umask 077 && "$N4M" genkey >"$dir/$who.key") && "$N4M" pubkey <"$dir/$who.key" >"$dir/$who.pub" || return 1
	done
}
udp_bound() { ss -Huln "sport = :$1" | grep -q .; }

# The environment every test broker starts in: none, mosquitto as shipped.
# make bench sets it (tests/bench/run.sh) for its tuned-broker figures.
BROKER_ENV=${BROKER_ENV:-}

# start_broker [PORT [extra mosquitto.conf lines]]: mosquitto with its Debian defaults (a
# listener and anonymous access, nothing tuned); sets BROKER_PORT, BROKER_PID, BROKER_URL_BASE.
start_broker() {
	BROKER_PORT=${1:-$(free_port)}
	local conf=$TEST_TMP/mosquitto-$BROKER_PORT.conf
	{
		echo "listener $BROKER_PORT 127.0.0.1"
		echo "allow_anonymous true"
		echo "persistence false"
		shift 2>/dev/null
		printf '%s\n' "$@"
	} >"$conf"
	# shellcheck disable=SC2086 # BROKER_ENV is zero or more VAR=VALUE words
	env $BROKER_ENV mosquitto -c "$conf" >"$TEST_TMP/mosquitto-$BROKER_PORT.log" 2>&1 &
	BROKER_PID=$!
	bg_track "$BROKER_PID"
	BROKER_URL_BASE="mqtt://127.0.0.1:$BROKER_PORT"
	wait_for 10 port_listening "$BROKER_PORT"
}

stop_broker() {
	kill "$BROKER_PID" 2>/dev/null
	wait_for 10 bash -c "! kill -0 $BROKER_PID 2>/dev/null"
}

# n4m NAME args...: starts net4mqtt in the background, log in $TEST_TMP/NAME.log, pid in NAME_PID.
n4m() {
	local name=$1; shift
	"$N4M" -vv "$@" >"$TEST_TMP/$name.log" 2>&1 &
	local pid=$!
	bg_track "$pid"
	printf -v "${name//-/_}_PID" '%s' "$pid"
}

# wait_status URL-of-status-topic: until a retained or live status there says online (10 s).
wait_status() {
	local deadline=$((SECONDS + 10))
	while [ "$SECONDS" -lt "$deadline" ]; do
		timeout -k 1 3 mosquitto_sub -L "$1" -C 1 -W 2 2>/dev/null | grep -q '"online":true' && return 0
	done
	return 1
}

# An HTTP server on loopback serving $1 (directory) on port $2.
start_http() {
	(cd "$1" && exec /usr/bin/python3 -m http.server --bind 127.0.0.1 "$2") >"$TEST_TMP/http-$2.log" 2>&1 &
	bg_track $!
	wait_for 10 port_listening "$2"
}

PY=/usr/bin/python3 # Debian's python3, with python3-paho-mqtt

# need what command...: a check the rest of the script cannot do without.
need() { # a check the rest of the test depends on: stop if it fails
	local before=$N4M_FAILS
	check "$@"
	[ "$N4M_FAILS" -eq "$before" ] || exit 1
}

# stats NAME PID: asks net4mqtt NAME for its counters (SIGUSR1) and prints the stats line.
stats() {
	local log=$TEST_TMP/$1.log before
	before=$(grep -c ' stats: ' "$log")
	kill -USR1 "$2" 2>/dev/null || return 1
	wait_for 5 bash -c "[ \$(grep -c ' stats: ' '$log') -gt $before ]" || return 1
	grep ' stats: ' "$log" | tail -n 1
}
# stat_field LINE "flows open": the number after that name in a stats line.
stat_field() { sed -n "s/.*\b$2 \([0-9][0-9]*\).*/\1/p" <<<"$1"; }
# all_running PID...: every one of them is alive (kill -0 A B succeeds if any one is).
all_running() {
	local p
	for p in "$@"; do kill -0 "$p" 2>/dev/null || return 1; done
}
# check_rss DESCRIPTION KB CAP_KB: a memory ceiling; skipped under sanitizers, whose
# shadow memory and quarantine make RSS meaningless.
check_rss() {
	if [ -n "${ASAN_OPTIONS:-}" ]; then
		skip "$1 (under sanitizers: $2 kB)"
	else
		check "$1" test "${2:-0}" -gt 0 -a "${2:-0}" -lt "$3"
	fi
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; } # peak RSS

finish() {
	[ "$N4M_FAILS" -eq 0 ]
}
