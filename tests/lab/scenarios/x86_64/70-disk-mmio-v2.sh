#!/bin/sh
# virtio-blk on virtio-mmio version 2 (modern), notifications through ioeventfd.
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/disk.sh"
disk_roundtrip mmio-v2 "transport=mmio,version=2"
