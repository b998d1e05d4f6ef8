#!/usr/bin/env bash
# The C sources hold the style of .clang-format (make format applies it).
# clang-format's output changes between major versions: the style is the one
# Debian 12's clang-format 14 writes; another version skips the check.
set -u
cd "$(dirname "$0")/../.." || exit 1
want=14
if ! command -v clang-format >/dev/null; then
	echo "SKIP: clang-format missing (apt-get install clang-format)"
	exit 0
fi
have=$(clang-format --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p')
if [ "$have" != "$want" ]; then
	echo "SKIP: clang-format $have, not $want: its style differs"
	exit 0
fi
# one clang-format for every file; its complaints name the files
out=$(git ls-files -z '*.c' '*.h' | xargs -0 clang-format --dry-run -Werror 2>&1)
bad=$(sed -n 's/^\([^:]*\.[ch]\):[0-9]*:[0-9]*: error:.*/\1/p' <<<"$out" | sort -u)
if [ -z "$out" ]; then
	echo "PASS: every C file is formatted as .clang-format says"
else
	echo "FAIL: not formatted (make format): $(echo ${bad:-$out})"
	exit 1
fi
