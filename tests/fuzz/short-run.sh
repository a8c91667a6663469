#!/usr/bin/env bash
# One fuzz target's share of the test command (ctest -L fuzz, from
# tests/run.sh): replay every committed regression input, then fuzz for
# SECONDS starting from the committed corpus. Fails on any crash, leak,
# sanitizer report, timeout or out-of-memory; the input is left in the
# build directory (fuzz-artifacts/NAME/) and named on the output.
#
#   short-run.sh BINARY NAME SECONDS
set -uo pipefail
bin=$1 name=$2 secs=$3
here=$(cd "$(dirname "$0")" && pwd)
corpus=$here/corpus/$name
regress=$here/regressions/$name
art=$(dirname "$bin")/fuzz-artifacts/$name
work=$(mktemp -d "${TMPDIR:-/tmp}/kvmini-fuzz-$name.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$art"
opts=(-timeout=10 -rss_limit_mb=2048 -artifact_prefix="$art/" -print_final_stats=1)

# Regressions first, one run each: a fixed bug must stay fixed.
if [ -d "$regress" ] && [ -n "$(ls -A "$regress" 2>/dev/null)" ]; then
	echo "== $name: replaying $(ls "$regress" | wc -l) regression input(s)"
	"$bin" "${opts[@]}" "$regress"/* >"$work/replay.log" 2>&1 || {
		tail -n 60 "$work/replay.log"
		echo "FAIL: $name: a regression input crashes again"
		exit 1
	}
fi
dirs=()
for d in "$corpus" "$regress"; do
	[ -d "$d" ] && dirs+=("$d")
done
echo "== $name: fuzzing for ${secs}s from ${#dirs[@]} corpus dir(s)"
# New inputs go to $work (the first directory), never into the repository.
"$bin" "${opts[@]}" -max_total_time="$secs" "$work" "${dirs[@]}" >"$work/fuzz.log" 2>&1
rc=$?
grep -E '^#[0-9]+ +DONE|^stat::' "$work/fuzz.log" | head -n 20
if [ $rc -ne 0 ]; then
	tail -n 80 "$work/fuzz.log"
	echo "FAIL: $name: fuzzer exit status $rc; the input is in $art/"
	exit 1
fi
echo "PASS: $name"
