#!/bin/sh
# The same snapshot and restore as 65-snapshot-be-legacy with a modern
# virtio-mmio disk: the guest is big-endian, the rings little-endian, before
# and after the restore. Guest: tests/guests/arm64/vblk.S (MODE_SNAP).
. "$(dirname "$0")/common.sh"
[ -f "${GUESTS:-/nonexistent}/vblk-run.sh" ] ||
	fail "no arm64 test guests in L1 (GUESTS='${GUESTS:-}'; built by tests/guests/arm64/build.sh)"
. "$GUESTS/vblk-run.sh"
vblk_snap_run modern "transport=mmio,version=2"
