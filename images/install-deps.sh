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
#   images      busybox-static cpio lz4 zstd xz-utils gzip binutils (readelf)
#               e2fsprogs (disk images) file ca-certificates
#   nested lab  qemu-system-x86 (tests/lab, L1 guest under TCG)
#   ACPI        acpica-tools (iasl, acpidump: disassemble our tables in tests)
# Extra packages: KVMINI_EXTRA_PKGS="fio ..." images/install-deps.sh
set -eu

PKGS="cmake gcc make libc6-dev linux-libc-dev pkg-config libcmocka-dev
  qemu-system-x86 busybox-static cpio lz4 zstd xz-utils gzip binutils
  e2fsprogs acpica-tools file ca-certificates ${KVMINI_EXTRA_PKGS:-}"

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi
echo "install-deps: missing:$missing"

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: not root; run:"
	echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends$missing"
	exit 1
fi

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
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || still="$still $p"
done
if [ -n "$still" ]; then
	tail -n 20 /tmp/install-deps.$$.log >&2
	rm -f /tmp/install-deps.$$.log
	echo "install-deps: error: still missing:$still" >&2
	exit 1
fi
rm -f /tmp/install-deps.$$.log
echo "install-deps: installed:$missing"
