#!/bin/sh
# The order at reset sticks: the guest resets a legacy virtio-mmio disk while
# little-endian, then turns big-endian (EE=1) and must still lay out rings,
# headers and read config little-endian; then it resets the device again,
# now from the big-endian vCPU, and drives it with big-endian rings. Guest:
# tests/guests/arm64/vblk.S (MODE_SWITCH).
. "$(dirname "$0")/common.sh"
[ -f "${GUESTS:-/nonexistent}/vblk-run.sh" ] ||
	fail "no arm64 test guests in L1 (GUESTS='${GUESTS:-}'; built by tests/guests/arm64/build.sh)"
. "$GUESTS/vblk-run.sh"
vblk_run switch legacy "transport=mmio,version=1"
expect_console 'phase B'
