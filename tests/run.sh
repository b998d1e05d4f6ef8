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

for t in tests/checks/*.sh tests/e2e/*.sh; do
	name=$(basename "$t" .sh)
	kind=$(basename "$(dirname "$t")")
	[ "$kind" = checks ] && kind=check
	if [ -n "$only" ] && ! grep -qxF "$name" < <(tr -s ' ' '\n' <<<"$only"); then continue; fi
	out=$log_dir/$kind-$name.log
	start=$(date +%s)
	N4M_BIN=$top/$build/net4mqtt N4M_BUILD=$top/$build timeout 600 bash "$t" >"$out" 2>&1 </dev/null
	rc=$?
	p=$(grep -c '^PASS: ' "$out"); f=$(grep -c '^FAIL: ' "$out"); s=$(grep -c '^SKIP: ' "$out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "FAIL: $name exited with $rc" >>"$out"
	fi
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	secs=$(($(date +%s) - start))
	if [ "$f" -eq 0 ]; then
		printf 'ok   %-6s%s (%s checks, %ss)\n' "$kind" "$name" "$p" "$secs"
		grep '^SKIP: ' "$out"
	else
		printf 'FAIL %-6s%s (%ss), log: %s\n' "$kind" "$name" "$secs" "$out"
		grep -E '^(FAIL|SKIP): ' "$out"
		tail -n 30 "$out" | sed 's/^/    | /'
	fi
done

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
