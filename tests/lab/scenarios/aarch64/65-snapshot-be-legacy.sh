#!/bin/sh
# Snapshot and restore (issue 13) of a big-endian guest driving a legacy
# virtio-mmio disk: the device was reset from a big-endian vCPU, so its rings
# are big-endian. The restored device must be big-endian before the guest
# runs again (no reset happens), and the guest carries on through the same
# ring: sector 1 read back, sector 2 written. Guest: tests/guests/arm64/vblk.S
# (MODE_SNAP); the flow: vblk-run.sh vblk_snap_run.
. "$(dirname "$0")/common.sh"
[ -f "${GUESTS:-/nonexistent}/vblk-run.sh" ] ||
	fail "no arm64 test guests in L1 (GUESTS='${GUESTS:-}'; built by tests/guests/arm64/build.sh)"
. "$GUESTS/vblk-run.sh"
vblk_snap_run legacy "transport=mmio,version=1"
