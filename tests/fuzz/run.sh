#!/usr/bin/env bash
# The long fuzz run: each target in turn (one at a time, at nice 19) for
# the given minutes, from the committed corpus plus what earlier runs in
# this build directory found. Prints per target execs/s and coverage (cov:
# and ft: of libFuzzer's final stats line) and the crashes found.
#
#   bash tests/fuzz/run.sh [--minutes N] [--build DIR] [--keep-going] [target...]
#
#   --minutes N   per target (default 10; fractions allowed)
#   --build DIR   the clang build tree (default build-fuzz; configured and
#                 built here when needed)
#   --keep-going  do not stop a target at its first crash (libFuzzer's fork
#                 mode with -ignore_crashes): the run lasts the full time and
#                 every crash found is kept
#   target        fuzz_uart, fuzz_virtq_split, ... (default: all; names
#                 without the fuzz_ prefix work too)
#
# Crashing inputs land in DIR/fuzz-artifacts/TARGET/; reproduce one with
# DIR/tests/fuzz/TARGET FILE. A fixed bug's input belongs in
# tests/fuzz/regressions/TARGET/ (the short run replays it).
set -uo pipefail
cd "$(dirname "$0")/../.."
minutes=10 build=build-fuzz keep=0 targets=()
while [ $# -gt 0 ]; do
	case $1 in
	--minutes) minutes=$2; shift 2 ;;
	--minutes=*) minutes=${1#*=}; shift ;;
	--build) build=$2; shift 2 ;;
	--build=*) build=${1#*=}; shift ;;
	--keep-going) keep=1; shift ;;
	-h|--help) sed -n '2,20p' "$0"; exit 0 ;;
	-*) echo "run.sh: $1: unknown option" >&2; exit 2 ;;
	*) t=$1; [[ $t == fuzz_* ]] || t=fuzz_$t; targets+=("$t"); shift ;;
	esac
done
secs=$(awk -v m="$minutes" 'BEGIN { s = int(m * 60); print (s < 1 ? 1 : s) }')

if [ ! -f "$build/CMakeCache.txt" ]; then
	CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKVMINI_FUZZ=ON \
		-DKVMINI_TESTS=OFF >/dev/null || exit 1
fi
nice -n 10 cmake --build "$build" -j"$(nproc)" --target fuzz_targets >/dev/null ||
	{ cmake --build "$build" --target fuzz_targets 2>&1 | tail -30; exit 1; }
if [ ${#targets[@]} -eq 0 ]; then
	for f in "$build"/tests/fuzz/fuzz_*; do
		[ -x "$f" ] && targets+=("$(basename "$f")")
	done
fi

results=()
status=0
for t in "${targets[@]}"; do
	bin=$build/tests/fuzz/$t
	[ -x "$bin" ] || { echo "run.sh: no target $t in $build" >&2; exit 2; }
	work=$build/fuzz-corpus/$t art=$build/fuzz-artifacts/$t
	mkdir -p "$work" "$art"
	log=$build/fuzz-logs/$t.log
	mkdir -p "$(dirname "$log")"
	dirs=("$work")
	for d in tests/fuzz/corpus/$t tests/fuzz/regressions/$t; do
		[ -d "$d" ] && dirs+=("$d")
	done
	before=$(ls "$art" | grep -c '^\(crash\|leak\|timeout\|oom\)-')
	extra=()
	[ $keep = 1 ] && extra=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
	echo "== $t: ${secs}s ($(date -u +%H:%M:%S) UTC), log $log"
	nice -n 19 "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$art/" "${extra[@]}" "${dirs[@]}" >"$log" 2>&1
	rc=$?
	after=$(ls "$art" | grep -c '^\(crash\|leak\|timeout\|oom\)-')
	last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1)
	cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	runs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")
	eps=$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}' | tail -n 1)
	# fork mode (--keep-going) prints no stat:: lines: runs over time
	[ -n "$eps" ] || eps=$(awk -v r="${runs:-0}" -v s="$secs" 'BEGIN { printf "%d", r / s }')
	crashes=$((after - before))
	[ $rc -ne 0 ] && [ $crashes -eq 0 ] && crashes="? (exit $rc)"
	[ "$crashes" != 0 ] && status=1
	results+=("$(printf '%-20s %10s %8s %8s %12s %8s  %s' "$t" "${eps:-?}" "${cov:-?}" "${ft:-?}" \
		"${runs:-?}" "$minutes" "$crashes")")
	echo "${results[-1]}"
done
echo
printf '%-20s %10s %8s %8s %12s %8s  %s\n' target exec/s cov ft runs minutes crashes
printf '%s\n' "${results[@]}"
echo "($(date -u +%Y-%m-%d) on $(hostname), $(nproc) cores; artifacts in $build/fuzz-artifacts/)"
exit $status
