#!/bin/sh
# virtio-blk on virtio-mmio version 2, notifications on the vCPU thread.
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/disk.sh"
disk_roundtrip mmio-v2-sync "transport=mmio,version=2" --no-ioeventfd
