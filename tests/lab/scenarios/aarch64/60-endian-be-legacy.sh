#!/bin/sh
# A big-endian vCPU (SCTLR_EL1.EE=1) resets a legacy virtio-mmio disk: the
# device must sample big-endian at that reset and then read big-endian
# descriptors, avail ring and request headers, write a big-endian used ring
# and show big-endian config space (capacity), while the virtio-mmio
# registers stay little-endian on the bus (the guest byte-reverses them).
# Guest: tests/guests/arm64/vblk.S (MODE_BE).
. "$(dirname "$0")/common.sh"
[ -f "${GUESTS:-/nonexistent}/vblk-run.sh" ] ||
	fail "no arm64 test guests in L1 (GUESTS='${GUESTS:-}'; built by tests/guests/arm64/build.sh)"
. "$GUESTS/vblk-run.sh"
vblk_run be legacy "transport=mmio,version=1"
