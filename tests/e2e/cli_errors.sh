#!/usr/bin/env bash
# Every command-line mistake gets exactly one line on stderr naming the option or
# argument, nothing on stdout, and exit 2; the usage text is printed only for -h.
# A misspelled TESTS name stops `make test` instead of running nothing.
set -u
source "$(dirname "$0")/../lib.sh"
TOP=$(cd "$(dirname "$0")/../.." && pwd)

# case 'ARGS' 'the exact line': ARGS split on spaces
case_line() {
	local args=$1 want=$2 out err rc
	# shellcheck disable=SC2086 # words on purpose
	timeout 5 "$N4M" $args >"$TEST_TMP/out" 2>"$TEST_TMP/err" </dev/null
	rc=$?
	err=$(cat "$TEST_TMP/err")
	out=$(cat "$TEST_TMP/out")
	check "net4mqtt $args: exit 2, one line: $err" \
		test "$rc" -eq 2 -a "$err" = "$want" -a -z "$out"
}

case_line "--bogus" "net4mqtt: unknown option --bogus before the command (net4mqtt -h lists the commands and options)"
case_line "-x agent" "net4mqtt: unknown option -x before the command (net4mqtt -h lists the commands and options)"
case_line "" "net4mqtt: no command given (net4mqtt -h lists them)"
case_line "frobnicate" "net4mqtt: unknown command frobnicate (net4mqtt -h lists them)"
case_line "agent --bogus" "net4mqtt agent: unknown option --bogus (net4mqtt agent -h lists them)"
case_line "agent --bogus=1" "net4mqtt agent: unknown option --bogus (net4mqtt agent -h lists them)"
case_line "agent -Z" "net4mqtt agent: unknown option -Z (net4mqtt agent -h lists them)"
case_line "agent -t" "net4mqtt agent: -t needs a value"
case_line "local-port --listen" "net4mqtt local-port: --listen needs a value"
case_line "agent --route 10.0.0.0/8" "net4mqtt agent: --route is not an option of agent (net4mqtt agent -h lists them)"
case_line "local-socks stray" "net4mqtt local-socks: unexpected argument stray (every value follows its option)"
case_line "gateway --bogus" "net4mqtt gateway: unknown option --bogus (net4mqtt gateway -h lists them)"
case_line "run" "net4mqtt run: -c FILE is missing: which config file to run"
case_line "run --check" "net4mqtt run: -c FILE is missing: which config file to check"
case_line "run -c" "net4mqtt run: -c needs a value"
case_line "run --bogus" "net4mqtt run: unknown option --bogus (net4mqtt run -h lists them)"
case_line "run -c a.conf b.conf" "net4mqtt run: unexpected argument b.conf (the file goes after -c)"
case_line "run -c a.conf --default-status-listen nowhere" \
	"net4mqtt run: --default-status-listen: bad status address nowhere: want IP:PORT or [IPv6]:PORT"
case_line "run -c a.conf --status-password pw" \
	"net4mqtt run: --status-password belongs in FILE (status-password = @FILE)"
case_line "agent --status-listen 10.0.0.1:1" \
	"net4mqtt: status address 10.0.0.1:1 is not a loopback address: beyond this host the status server wants a password (--status-password FILE)"
case_line "status --status-password $TEST_TMP/none" \
	"net4mqtt status: cannot read --status-password $TEST_TMP/none: No such file or directory"
case_line "run -c $TEST_TMP/none.conf" "net4mqtt: cannot read $TEST_TMP/none.conf: No such file or directory"
case_line "status --bogus" "net4mqtt status: unknown option --bogus (net4mqtt status -h lists them)"
case_line "status --check" "net4mqtt status: --check is an option of run, not status"
case_line "status extra" "net4mqtt status: unexpected argument extra"
case_line "agent --advertise 10.1.2.3/8" "net4mqtt: --advertise 10.1.2.3/8 has host bits set: the subnet is 10.0.0.0/8"
case_line "agent --advertise 0.0.0.0/0" "net4mqtt: --advertise 0.0.0.0/0 is a default route: advertise the subnets behind this agent, not the whole Internet"
case_line "agent --advertise ::/0" "net4mqtt: --advertise ::/0 is a default route: advertise the subnets behind this agent, not the whole Internet"

# -h prints the usage on stdout and exits 0; it is the only way to get it.
for args in "-h" "agent -h" "run -h" "status -h"; do
	# shellcheck disable=SC2086 # words on purpose
	timeout 5 "$N4M" $args >"$TEST_TMP/out" 2>"$TEST_TMP/err"
	rc=$?
	check "net4mqtt $args: exit 0, usage on stdout ($(grep -c . "$TEST_TMP/out") lines), nothing on stderr" \
		bash -c "[ $rc -eq 0 ] && grep -q 'Usage: net4mqtt' '$TEST_TMP/out' && [ ! -s '$TEST_TMP/err' ]"
done

# make test with a misspelled name: exit 2 and a line that names it, not "0 failed".
TESTS="confg" timeout 30 bash "$TOP/tests/run.sh" "${N4M_BUILD:-build}" >"$TEST_TMP/run.out" 2>&1
rc=$?
check "TESTS=confg: tests/run.sh exits 2 (rc $rc): $(head -n1 "$TEST_TMP/run.out")" \
	bash -c "[ $rc -eq 2 ] && grep -q 'TESTS names confg, which is neither tests/e2e/confg.sh' '$TEST_TMP/run.out' && ! grep -q 'passed' '$TEST_TMP/run.out'"

finish
