#!/usr/bin/env bash
# Build the unit tests for s390x (big-endian) and run them under
# qemu-s390x-static: the endianness rule must hold on a big-endian host too
# (DESIGN.md). devices/ and its tests must build; other unit tests are run
# when they build for a non-x86 target and reported as skipped otherwise.
#
#   bash tests/cross/run-unit-s390x.sh [BUILD_DIR]   (default /tmp/kvmini-s390x)
#
# Needs: gcc-s390x-linux-gnu libc6-dev-s390x-cross libcmocka-dev:s390x
# qemu-user-static (see tests/cross/s390x.cmake). Exit status: 0 all built
# device tests and all runnable tests passed; 1 otherwise; 2 missing tools.
set -uo pipefail
cd "$(dirname "$0")/../.."
src=$PWD
build=${1:-/tmp/kvmini-s390x}
sysroot=/usr/s390x-linux-gnu
emu=qemu-s390x-static
# -L alone mixes glibc builds: the sysroot's ld64.so.1 (libc6-s390x-cross)
# then finds libc.so.6 of multiarch libc6:s390x (pulled in by
# libcmocka-dev:s390x) through the host's ld.so.cache, and a different
# Debian revision of the two dies at start-up with "stack smashing
# detected". Putting the sysroot's lib first keeps ld.so and libc paired.
emu_args=(-L "$sysroot" -E LD_LIBRARY_PATH="$sysroot/lib")

for tool in s390x-linux-gnu-gcc "$emu" cmake; do
	command -v "$tool" >/dev/null || { echo "run-unit-s390x: $tool not found"; exit 2; }
done
[ -e /usr/lib/s390x-linux-gnu/libcmocka.so ] ||
	{ echo "run-unit-s390x: libcmocka-dev:s390x not installed"; exit 2; }

logs=$build/logs   # inside the build directory, not beside it
mkdir -p "$logs"
cmake -S "$src" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$src/tests/cross/s390x.cmake" \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DCMOCKA_LIB=/usr/lib/s390x-linux-gnu/libcmocka.so -DCMOCKA_INCLUDE=/usr/include \
	>"$logs/configure.log" 2>&1 ||
	{ echo "run-unit-s390x: configure failed"; tail -30 "$logs/configure.log"; exit 1; }
arch=$(sed -n 's/^KVMINI_ARCH[^=]*=//p' "$build/CMakeCache.txt")
grep -q 'x86' <<<"$arch" && { echo "run-unit-s390x: KVMINI_ARCH=$arch, expected none"; exit 1; }

status=0
# Device code is the point of this exercise: it must build.
if ! cmake --build "$build" -j"$(nproc)" --target kvmini_devices >"$logs/devices.log" 2>&1; then
	echo "run-unit-s390x: kvmini_devices failed to build for s390x"
	tail -30 "$logs/devices.log"
	exit 1
fi

# Every registered unit test (ctest -N lists "unit.<target>").
tests=$(ctest --test-dir "$build" -N -L unit | sed -n 's/.*unit\.\(test_[A-Za-z0-9_]*\)$/\1/p')
[ -n "$tests" ] || { echo "run-unit-s390x: no unit tests registered"; exit 1; }
pass=0 fail=0 skip=0
for t in $tests; do
	if ! cmake --build "$build" -j"$(nproc)" --target "$t" >"$logs/$t.log" 2>&1; then
		# Which source does the test come from? (tests/CMakeLists.txt)
		what=$(sed -n "s/^ *kvmini_unit_test($t \([^ )]*\).*/\1/p" "$src/tests/CMakeLists.txt")
		if [[ $what == unit/devices/* ]]; then
			echo "FAIL  $t (device test does not build; see $logs/$t.log)"
			fail=$((fail + 1)); status=1
		else
			echo "SKIP  $t (does not build for s390x; see $logs/$t.log)"
			skip=$((skip + 1))
		fi
		continue
	fi
	exe=$(find "$build" -type f -name "$t" -perm -u+x | head -1)
	if (cd "$(dirname "$exe")" && timeout 300 "$emu" "${emu_args[@]}" "./$t") >"$logs/$t.out" 2>&1; then
		echo "PASS  $t ($(grep -o '[0-9]* test(s) run' "$logs/$t.out" | head -1))"
		pass=$((pass + 1))
	else
		echo "FAIL  $t"
		grep -E '^\[  (ERROR|FAILED) |^\[   LINE|Segmentation|Aborted' "$logs/$t.out" | head -20
		fail=$((fail + 1)); status=1
	fi
done
echo "run-unit-s390x: $pass passed, $fail failed, $skip skipped (big-endian s390x under $emu)"
exit $status
