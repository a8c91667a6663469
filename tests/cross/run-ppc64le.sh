#!/usr/bin/env bash
# Cross-build the ppc64 byte-order code for ppc64le — arch/ppc64/endian.c and
# the KVM read in arch/ppc64/endian_kvm.c, which builds only for powerpc64 —
# and run its unit tests under qemu-ppc64le-static. test_ppc64_endian_kvm
# replaces the MSR read (ppc64_get_msr) with a stub, so no ppc64 KVM is
# needed. The pure byte-order tests of arm64 and ppc64 run here too.
#
#   bash tests/cross/run-ppc64le.sh [BUILD_DIR]   (default /tmp/kvmini-ppc64le)
#
# Needs: gcc-powerpc64le-linux-gnu libc6-dev-ppc64el-cross
# libcmocka-dev:ppc64el qemu-user-static (see tests/cross/ppc64le.cmake).
# Exit status: 0 all built and passed; 1 otherwise; 2 missing tools.
set -uo pipefail
cd "$(dirname "$0")/../.."
src=$PWD
build=${1:-/tmp/kvmini-ppc64le}
sysroot=/usr/powerpc64le-linux-gnu
emu=qemu-ppc64le-static
# Keep the sysroot's ld.so and libc paired (see run-unit-s390x.sh).
emu_args=(-L "$sysroot" -E LD_LIBRARY_PATH="$sysroot/lib")
tests="test_ppc64_endian_kvm test_ppc64_endian test_arm64_endian"

for tool in powerpc64le-linux-gnu-gcc "$emu" cmake; do
	command -v "$tool" >/dev/null || { echo "run-ppc64le: $tool not found"; exit 2; }
done
[ -e /usr/lib/powerpc64le-linux-gnu/libcmocka.so ] ||
	{ echo "run-ppc64le: libcmocka-dev:ppc64el not installed"; exit 2; }

# Logs go inside the build directory (build*/ is ignored by git).
logs=$build/logs
mkdir -p "$logs" || exit 1
cmake -S "$src" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$src/tests/cross/ppc64le.cmake" \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DCMOCKA_LIB=/usr/lib/powerpc64le-linux-gnu/libcmocka.so -DCMOCKA_INCLUDE=/usr/include \
	>"$logs/configure.log" 2>&1 ||
	{ echo "run-ppc64le: configure failed"; tail -30 "$logs/configure.log"; exit 1; }
# The stubbed test is registered only for a powerpc64 target: if it is
# missing, endian_kvm.c was not built either.
registered=$(ctest --test-dir "$build" -N -L unit)   # not piped into grep -q: pipefail
grep -q 'unit\.test_ppc64_endian_kvm$' <<<"$registered" ||
	{ echo "run-ppc64le: test_ppc64_endian_kvm not registered (is CMAKE_SYSTEM_PROCESSOR ppc64le?)"; exit 1; }

status=0 pass=0 fail=0
for t in $tests; do
	if ! cmake --build "$build" -j"$(nproc)" --target "$t" >"$logs/$t.log" 2>&1; then
		echo "FAIL  $t (does not build for ppc64le; see $logs/$t.log)"
		tail -20 "$logs/$t.log"
		fail=$((fail + 1)); status=1
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
echo "run-ppc64le: $pass passed, $fail failed (ppc64le under $emu)"
exit $status
