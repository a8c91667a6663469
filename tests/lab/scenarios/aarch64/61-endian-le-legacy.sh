#!/bin/sh
# The control: the same guest, little-endian throughout, on a legacy
# virtio-mmio disk (little-endian rings). Guest: tests/guests/arm64/vblk.S
# (MODE_LE).
. "$(dirname "$0")/common.sh"
[ -f "${GUESTS:-/nonexistent}/vblk-run.sh" ] ||
	fail "no arm64 test guests in L1 (GUESTS='${GUESTS:-}'; built by tests/guests/arm64/build.sh)"
. "$GUESTS/vblk-run.sh"
vblk_run le legacy "transport=mmio,version=1"
