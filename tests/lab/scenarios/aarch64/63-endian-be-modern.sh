#!/bin/sh
# Modern devices ignore the vCPU's byte order: a big-endian vCPU resets a
# virtio-mmio version 2 disk (VERSION_1 negotiated) and must use
# little-endian rings, headers and config space. Guest:
# tests/guests/arm64/vblk.S (MODE_BE).
. "$(dirname "$0")/common.sh"
[ -f "${GUESTS:-/nonexistent}/vblk-run.sh" ] ||
	fail "no arm64 test guests in L1 (GUESTS='${GUESTS:-}'; built by tests/guests/arm64/build.sh)"
. "$GUESTS/vblk-run.sh"
vblk_run be modern "transport=mmio,version=2"
