#!/usr/bin/env bash
# Runs every test: the cmocka unit binaries, the checks of the source tree
# (tests/checks), then each end-to-end script. A check or e2e script prints
# "PASS: what" / "FAIL: what" / "SKIP: what" lines and exits non-zero when
# anything failed. The last line is "N passed, M failed".
set -u
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
only=${TESTS:-}
# a misspelled name would otherwise run nothing and say "0 failed"
for want in $only; do
	[ -f "tests/e2e/$want.sh" ] || [ -f "tests/checks/$want.sh" ] || {
		echo "run.sh: TESTS names $want, which is neither tests/e2e/$want.sh nor tests/checks/$want.sh" >&2
		exit 2
	}
done
passed=0 failed=0 skipped=0
log_dir=$build/test-logs
rm -rf "$log_dir"
mkdir -p "$log_dir"
if [ "${SAN:-}" = 1 ]; then
	# every sanitizer report lands in a file; any file at the end is a failure
	export ASAN_OPTIONS="log_path=$top/$log_dir/asan:detect_leaks=1"
	export UBSAN_OPTIONS="log_path=$top/$log_dir/ubsan:print_stacktrace=1"
fi

count_cmocka() { # file
	local p f
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$1" | tail -n 1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$1" | tail -n 1)
	echo "${p:-0} ${f:-0}"
}

for t in "$build"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	out=$log_dir/$name.log
	timeout 120 "$t" >"$out" 2>&1
	rc=$?
	read -r p f < <(count_cmocka "$out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	passed=$((passed + p)); failed=$((failed + f))
	if [ "$f" -eq 0 ]; then echo "ok   unit $name ($p)"; else echo "FAIL unit $name"; grep -E 'FAILED|ERROR|Failure|error' "$out" | head -20; fi
done

# run_script SCRIPT: runs one check or e2e script; prints its result (one write, so that
# workers' results do not interleave) and adds "PASSED FAILED SKIPPED" to $log_dir/counts.
run_script() {
	local t=$1 name kind out start rc p f s secs block
	name=$(basename "$t" .sh)
	kind=$(basename "$(dirname "$t")")
	[ "$kind" = checks ] && kind=check
	out=$log_dir/$kind-$name.log
	start=$(date +%s)
	N4M_BIN=$top/$build/net4mqtt N4M_BUILD=$top/$build timeout 600 bash "$t" >"$out" 2>&1 </dev/null
	rc=$?
	p=$(grep -c '^PASS: ' "$out"); f=$(grep -c '^FAIL: ' "$out"); s=$(grep -c '^SKIP: ' "$out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "FAIL: $name exited with $rc" >>"$out"
	fi
	secs=$(($(date +%s) - start))
	if [ "$f" -eq 0 ]; then
		block=$(printf 'ok   %-6s%s (%s checks, %ss)\n' "$kind" "$name" "$p" "$secs"; grep '^SKIP: ' "$out")
	else
		block=$(printf 'FAIL %-6s%s (%ss), log: %s\n' "$kind" "$name" "$secs" "$out"
			grep -E '^(FAIL|SKIP): ' "$out"
			tail -n 30 "$out" | sed 's/^/    | /')
	fi
	printf '%s\n' "$block"
	echo "$p $f $s" >>"$log_dir/counts"
}

# A script with a line "# run alone: WHY" in its header runs after the others, one at a
# time: what it asserts needs the machine to itself (a timing a script beside it would stretch).
scripts=() alone=()
for t in tests/checks/*.sh tests/e2e/*.sh; do
	name=$(basename "$t" .sh)
	if [ -n "$only" ] && ! grep -qxF "$name" < <(tr -s ' ' '\n' <<<"$only"); then continue; fi
	if head -n 30 "$t" | grep -q '^# run alone: '; then alone+=("$t"); else scripts+=("$t"); fi
done

# JOBS=N: N workers take the scripts in turn (each claims one with mkdir), each with its own
# share of the ports free_port picks from (10000-31999, below the kernel's ephemeral ports).
jobs=${JOBS:-1}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: JOBS=$jobs is not a number of workers" >&2; exit 2; }
worker() { # K
	local t claim
	export N4M_PORT_SPAN=$((22000 / jobs))
	export N4M_PORT_BASE=$((10000 + $1 * N4M_PORT_SPAN))
	for t in "${scripts[@]}"; do
		claim=$log_dir/claims/$(basename "$(dirname "$t")")-$(basename "$t" .sh)
		mkdir "$claim" 2>/dev/null || continue
		run_script "$t"
	done
}
mkdir -p "$log_dir/claims"
: >"$log_dir/counts"
for ((k = 0; k < jobs; k++)); do worker "$k" & done
wait
for t in "${alone[@]}"; do
	(export N4M_PORT_BASE=10000 N4M_PORT_SPAN=22000 && run_script "$t")
done
while read -r p f s; do
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
done <"$log_dir/counts"

for r in "$log_dir"/asan.* "$log_dir"/ubsan.*; do
	[ -e "$r" ] || continue
	echo "FAIL sanitizer report $r:"
	head -n 30 "$r" | sed 's/^/    | /'
	failed=$((failed + 1))
done

if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
