#!/bin/sh
# A read-only disk: the guest sees it read-only (VIRTIO_BLK_F_RO) and a write
# fails, and the image file is unchanged.
. "$(dirname "$0")/common.sh"
img=$WORK/ro.img
dd if=/dev/zero of="$img" bs=1M count=16 2>/dev/null
before=$(sha256sum "$img" | cut -d' ' -f1)
run_guest readonly "$KERNEL" \
	'echo RO=$(cat /sys/block/vda/ro); if echo x | dd of=/dev/vda bs=512 count=1 conv=fsync 2>/dev/null; then echo WRITE=ok; else echo WRITE=refused; fi' \
	--disk "$img,readonly=on" --timeout "$L2_TIMEOUT"
expect_rc 0
expect_console '^RO=1$'
expect_console '^WRITE=refused$'
[ "$(sha256sum "$img" | cut -d' ' -f1)" = "$before" ] || fail "the read-only image changed"
