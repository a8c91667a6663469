#!/bin/sh
# virtio-blk on virtio-mmio version 1, notifications on the vCPU thread.
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/disk.sh"
disk_roundtrip mmio-v1-sync "transport=mmio,version=1" --no-ioeventfd
