#!/usr/bin/env bash
# The test command (README.md): builds kvmini twice, normally and with
# AddressSanitizer + UndefinedBehaviorSanitizer, and runs every test in both:
# cmocka unit tests, direct /dev/kvm checks with tiny guests, and the Linux
# boot scenarios (in the nested lab unless /dev/kvm is hardware-backed); and
# the unit tests once more, cross-built for big-endian s390x; and the ppc64
# byte-order code cross-built for ppc64le; and a short run of every fuzz
# target (tests/fuzz).
#
#   bash tests/run.sh            everything
#   KVMINI_TEST_LABELS='unit|kvm' bash tests/run.sh   skip the Linux boots
#
# Guest images are built on first use by images/build-guest.sh into
# ${KVMINI_CACHE:-~/.cache/kvmini}.
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
labels=${KVMINI_TEST_LABELS:-}
status=0

build() {   # build DIR CMAKE-ARGS...
	local dir=$1; shift
	cmake -S . -B "$dir" "$@" >/dev/null && cmake --build "$dir" -j"$jobs" >/dev/null ||
		{ echo "tests/run.sh: build in $dir failed"; cmake --build "$dir" 2>&1 | tail -30; exit 1; }
}

build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
build build-asan -DCMAKE_BUILD_TYPE=Debug -DKVMINI_SANITIZE=ON

# The device code must be right on a big-endian host too: the unit tests,
# cross-built for s390x, under qemu-s390x-static (skipped with a note when the
# cross tools are missing; images/install-deps.sh installs them).
if [ -z "$labels" ] || [[ "unit" =~ $labels ]]; then
	echo "=== unit tests on s390x (big-endian)"
	bash tests/cross/run-unit-s390x.sh build-s390x
	case $? in
	0) ;;
	2) echo "tests/run.sh: s390x cross tools missing: big-endian run skipped" ;;
	*) status=1 ;;
	esac
	# arm64: kvmini (arch/arm64, libfdt) and every unit test cross-built
	# for aarch64, the tests run under qemu-aarch64-static.
	echo "=== arm64 build and unit tests"
	bash tests/cross/run-unit-aarch64.sh build-aarch64
	case $? in
	0) ;;
	2) echo "tests/run.sh: aarch64 cross tools missing: arm64 build and run skipped" ;;
	*) status=1 ;;
	esac
	# ppc64's byte-order code, its KVM read included (behind a stub), built
	# for ppc64le and run under qemu-ppc64le-static.
	echo "=== ppc64 byte-order tests on ppc64le"
	bash tests/cross/run-ppc64le.sh build-ppc64le
	case $? in
	0) ;;
	2) echo "tests/run.sh: ppc64le cross tools missing: ppc64le run skipped" ;;
	*) status=1 ;;
	esac
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for dir in build-asan build; do
	echo "=== tests in $dir"
	ctest --test-dir "$dir" --output-on-failure ${labels:+-L "$labels"} || status=1
done

# ---- fuzz targets (tests/fuzz, issue 12) ----
# A clang build with libFuzzer, ASan and UBSan in build-fuzz; ctest label
# fuzz: every target replays its regression inputs, then fuzzes for
# KVMINI_FUZZ_SECONDS (default 15) from its corpus; any crash fails. The
# long run is bash tests/fuzz/run.sh --minutes 10. Skipped with a note when
# clang cannot link libFuzzer (images/install-deps.sh installs it; under CI
# that is a failure).
if [ -z "$labels" ] || [[ "fuzz" =~ $labels ]]; then
	echo "=== fuzz targets, short run, in build-fuzz"
	probe=$(mktemp -d)
	if echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' |
		clang -x c -fsanitize=fuzzer,address,undefined -o "$probe/probe" - 2>/dev/null; then
		CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKVMINI_FUZZ=ON \
			-DKVMINI_TESTS=OFF -DKVMINI_FUZZ_SECONDS="${KVMINI_FUZZ_SECONDS:-15}" >/dev/null &&
			cmake --build build-fuzz -j"$jobs" --target fuzz_targets >/dev/null ||
			{ echo "tests/run.sh: build in build-fuzz failed";
			  cmake --build build-fuzz --target fuzz_targets 2>&1 | tail -30; exit 1; }
		ctest --test-dir build-fuzz --output-on-failure -L fuzz -j"$jobs" || status=1
	else
		echo "tests/run.sh: clang with libFuzzer missing: fuzz targets skipped"
		[ -n "${CI:-}" ] && status=1   # CI installed it (install-deps.sh): must not skip
	fi
	rm -rf "$probe"
fi

# arm64 Linux boots: the arm64 kvmini of build-aarch64 (cross-built above)
# boots its scenarios in the nested lab's arm64 L1 (tests/lab, ctest label
# lab.aarch64; qemu-system-aarch64 under TCG), or directly on an arm64 host.
if [ -z "$labels" ] || [[ "lab" =~ $labels ]]; then
	if [ -x build-aarch64/kvmini ]; then
		echo "=== arm64 Linux boots in build-aarch64"
		# Up to date even when the unit step above was skipped.
		cmake --build build-aarch64 -j"$jobs" --target kvmini >/dev/null || status=1
		ctest --test-dir build-aarch64 --output-on-failure -L 'lab\.aarch64' || status=1
	else
		echo "tests/run.sh: no arm64 kvmini in build-aarch64: arm64 Linux boots skipped"
	fi
fi
exit $status
