#!/bin/sh
# images/install-deps.sh — install the host packages kvmini needs to build
# and test (Debian/Ubuntu, apt). Idempotent: packages already installed are
# left alone, and nothing is fetched when all are present.
#
# Usage (as root):  images/install-deps.sh
#   Not root: prints the apt-get command to run instead and exits 1.
#
# What for:
#   build       cmake gcc make libc6-dev linux-libc-dev pkg-config
#   unit tests  libcmocka-dev
#   disks       liburing-dev and liburing-dev:arm64 (the io_uring block
#               engine; the s390x and ppc64le unit-test builds go without
#               and test the thread-pool engine there)
#   images      busybox-static cpio lz4 zstd xz-utils gzip binutils (readelf)
#               e2fsprogs (disk images) file ca-certificates
#   nested lab  qemu-system-x86, qemu-system-arm (qemu-system-aarch64) (tests/lab,
#               L1 guest under TCG; the arm64 lab also needs the arm64 dpkg
#               architecture, added for the arm64 packages below)
#   ACPI        acpica-tools (iasl, acpidump: disassemble our tables in tests)
#   big-endian  gcc-s390x-linux-gnu libc6-dev-s390x-cross libcmocka-dev:s390x
#   unit tests  qemu-user-static (tests/cross/run-unit-s390x.sh; adds the
#               s390x dpkg architecture)
#   arm64       gcc-aarch64-linux-gnu libc6-dev-arm64-cross libfdt-dev:arm64
#               libcmocka-dev:arm64 (tests/cross/run-unit-aarch64.sh; adds the
#               arm64 dpkg architecture), device-tree-compiler (dtc: checks
#               the device tree). Not libfdt-dev (amd64): it conflicts with
#               libfdt-dev:arm64, and only the arm64 build uses libfdt
#   ppc64le     gcc-powerpc64le-linux-gnu libc6-dev-ppc64el-cross
#               libcmocka-dev:ppc64el (tests/cross/run-ppc64le.sh; adds the
#               ppc64el dpkg architecture)
#   fuzzing     clang libclang-rt-14-dev (libFuzzer: -fsanitize=fuzzer for
#               Debian 12's clang 14; tests/fuzz, the fuzz step of tests/run.sh)
#   benchmarks  python3 (statistics and the JSON report), gnuplot-nox (the
#               PNG chart) for tests/bench/bench.sh; fio (the host-direct
#               reference of tests/bench/blkpath.sh)
# Extra packages: KVMINI_EXTRA_PKGS="fio ..." images/install-deps.sh
set -eu

PKGS="cmake gcc make libc6-dev linux-libc-dev pkg-config libcmocka-dev liburing-dev
  liburing-dev:arm64
  qemu-system-x86 qemu-system-arm busybox-static cpio lz4 zstd xz-utils gzip binutils
  e2fsprogs acpica-tools file ca-certificates
  gcc-s390x-linux-gnu libc6-dev-s390x-cross libcmocka-dev:s390x qemu-user-static
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross libfdt-dev:arm64 libcmocka-dev:arm64
  device-tree-compiler
  gcc-powerpc64le-linux-gnu libc6-dev-ppc64el-cross libcmocka-dev:ppc64el
  python3 gnuplot-nox fio
  clang libclang-rt-14-dev
  ${KVMINI_EXTRA_PKGS:-}"

native=$(dpkg --print-architecture)
# is_installed NAME[:ARCH]: installed for ARCH (default: the native one, or
# arch "all")? Once a foreign architecture is added a bare name can match
# several instances, one line each, so compare line by line.
is_installed() {
	case $1 in
	*:*) want=${1#*:} ;;
	*) want=$native ;;
	esac
	dpkg-query -W -f='${db:Status-Status} ${Architecture}\n' "$1" 2>/dev/null |
		grep -Eq "^installed ($want|all)\$"
}

missing=""
for p in $PKGS; do
	is_installed "$p" || missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi
echo "install-deps: missing:$missing"

# Foreign-architecture packages (name:arch) need their dpkg architecture.
foreign=$(printf '%s\n' $missing | sed -n 's/^[^:]*:\([a-z0-9]*\)$/\1/p' | sort -u)
add_arch=""
for a in $foreign; do
	dpkg --print-foreign-architectures | grep -qx "$a" || add_arch="$add_arch $a"
done

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: not root; run:"
	for a in $add_arch; do echo "  sudo dpkg --add-architecture $a"; done
	echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends$missing"
	exit 1
fi
for a in $add_arch; do
	echo "install-deps: adding dpkg architecture $a"
	dpkg --add-architecture "$a"
done

export DEBIAN_FRONTEND=noninteractive
apt_get() { apt-get -q -y -o Dpkg::Use-Pty=0 "$@"; }

# A half-synced index of a foreign architecture makes `apt-get update` exit
# 100 although the native index is fine: tolerate it and check the install.
apt_get update >/dev/null 2>&1 || echo "install-deps: apt-get update failed (tolerated; checking the install)"
if ! apt_get install --no-install-recommends $missing >/tmp/install-deps.$$.log 2>&1; then
	if grep -q 'package cache was built for different architectures' /tmp/install-deps.$$.log; then
		echo "install-deps: stale apt cache; removing /var/cache/apt/*.bin and retrying"
		rm -f /var/cache/apt/*.bin
		apt_get update >/dev/null 2>&1 || true
	fi
	apt_get install --no-install-recommends $missing >/tmp/install-deps.$$.log 2>&1 || true
fi

still=""
for p in $missing; do
	is_installed "$p" || still="$still $p"
done
if [ -n "$still" ]; then
	tail -n 20 /tmp/install-deps.$$.log >&2
	rm -f /tmp/install-deps.$$.log
	echo "install-deps: error: still missing:$still" >&2
	exit 1
fi
rm -f /tmp/install-deps.$$.log
echo "install-deps: installed:$missing"
