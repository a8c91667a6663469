#!/usr/bin/env bash
# Build kvmini and every unit test for arm64 (KVMINI_ARCH=arm64: arch/arm64,
# libfdt) and run the tests under qemu-aarch64-static. kvmini itself must
# build; it needs /dev/kvm on an arm64 host to run (the nested lab). The
# device tree the FDT test builds is also decompiled with dtc when present.
#
#   bash tests/cross/run-unit-aarch64.sh [BUILD_DIR]   (default /tmp/kvmini-aarch64)
#
# Needs: gcc-aarch64-linux-gnu libc6-dev-arm64-cross libfdt-dev:arm64
# libcmocka-dev:arm64 qemu-user-static (see tests/cross/aarch64.cmake);
# optional: device-tree-compiler. Exit status: 0 everything built and
# passed; 1 otherwise; 2 missing tools.
set -uo pipefail
cd "$(dirname "$0")/../.."
src=$PWD
build=${1:-/tmp/kvmini-aarch64}
mkdir -p "$build" && build=$(cd "$build" && pwd)   # absolute: tests run from their own directory
sysroot=/usr/aarch64-linux-gnu
emu=qemu-aarch64-static
# The sysroot's lib first keeps its ld.so paired with its own libc (see
# run-unit-s390x.sh for the failure mixing them causes).
emu_args=(-L "$sysroot" -E LD_LIBRARY_PATH="$sysroot/lib")

for tool in aarch64-linux-gnu-gcc "$emu" cmake; do
	command -v "$tool" >/dev/null || { echo "run-unit-aarch64: $tool not found"; exit 2; }
done
[ -e /usr/lib/aarch64-linux-gnu/libcmocka.so ] ||
	{ echo "run-unit-aarch64: libcmocka-dev:arm64 not installed"; exit 2; }
[ -e /usr/lib/aarch64-linux-gnu/libfdt.a ] || [ -e /usr/lib/aarch64-linux-gnu/libfdt.so ] ||
	{ echo "run-unit-aarch64: libfdt-dev:arm64 not installed"; exit 2; }

logs=$build/logs   # inside the build directory, not beside it
mkdir -p "$logs"
cmake -S "$src" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$src/tests/cross/aarch64.cmake" \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DCMOCKA_LIB=/usr/lib/aarch64-linux-gnu/libcmocka.so -DCMOCKA_INCLUDE=/usr/include \
	>"$logs/configure.log" 2>&1 ||
	{ echo "run-unit-aarch64: configure failed"; tail -30 "$logs/configure.log"; exit 1; }

# The whole tree builds for arm64: kvmini and every test.
if ! cmake --build "$build" -j"$(nproc)" >"$logs/build.log" 2>&1; then
	echo "run-unit-aarch64: the arm64 build failed"
	grep -E 'error|Error' "$logs/build.log" | head -30
	exit 1
fi
[ -x "$build/kvmini" ] || { echo "run-unit-aarch64: no kvmini executable (KVMINI_ARCH not arm64?)"; exit 1; }
echo "BUILT kvmini for arm64 ($build/kvmini)"

tests=$(ctest --test-dir "$build" -N -L unit | sed -n 's/.*unit\.\(test_[A-Za-z0-9_]*\)$/\1/p')
[ -n "$tests" ] || { echo "run-unit-aarch64: no unit tests registered"; exit 1; }
status=0 pass=0 fail=0
for t in $tests; do
	exe=$(find "$build" -type f -name "$t" -perm -u+x | head -1)
	envs=()
	[ "$t" = test_arm64_fdt ] && envs=(-E KVMINI_FDT_DUMP="$logs/fdt.dtb")
	if (cd "$(dirname "$exe")" && timeout 300 "$emu" "${emu_args[@]}" "${envs[@]}" "./$t") \
		>"$logs/$t.out" 2>&1; then
		echo "PASS  $t ($(grep -o '[0-9]* test(s) run' "$logs/$t.out" | head -1))"
		pass=$((pass + 1))
	else
		echo "FAIL  $t"
		grep -E '^\[  (ERROR|FAILED) |^\[   LINE|Segmentation|Aborted' "$logs/$t.out" | head -20
		fail=$((fail + 1)); status=1
	fi
done

# What a kernel will see: the tree decompiles cleanly and has the nodes
# Linux probes for.
if [ -s "$logs/fdt.dtb" ] && command -v dtc >/dev/null; then
	if dtc -q -I dtb -O dts -o "$logs/fdt.dts" "$logs/fdt.dtb" 2>"$logs/dtc.log"; then
		missing=""
		for want in 'compatible = "arm,gic-v3"' 'compatible = "arm,psci-0.2"' \
			'compatible = "arm,armv8-timer"' 'compatible = "ns16550a"' \
			'compatible = "virtio,mmio"' 'compatible = "qemu,pvpanic-mmio"' 'compatible = "pci-host-ecam-generic"' \
			'device_type = "memory"' 'stdout-path = "/serial@9000000"' 'linux,initrd-start'; do
			grep -qF "$want" "$logs/fdt.dts" || missing="$missing [$want]"
		done
		if [ -z "$missing" ]; then
			echo "PASS  dtc: the device tree decompiles with every expected node ($logs/fdt.dts)"
			pass=$((pass + 1))
		else
			echo "FAIL  dtc: missing$missing in $logs/fdt.dts"
			fail=$((fail + 1)); status=1
		fi
	else
		echo "FAIL  dtc cannot decompile $logs/fdt.dtb"; head -5 "$logs/dtc.log"
		fail=$((fail + 1)); status=1
	fi
else
	echo "run-unit-aarch64: dtc not installed (device-tree-compiler): decompile check skipped"
fi
echo "run-unit-aarch64: $pass passed, $fail failed (arm64 under $emu)"
exit $status
