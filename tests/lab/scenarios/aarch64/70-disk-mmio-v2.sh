#!/bin/sh
# virtio-blk on virtio-mmio version 2 (modern, in the device tree): ext4
# written, checksummed, read back after a second boot.
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/disk.sh"
disk_roundtrip mmio-v2 "transport=mmio,version=2"
