#!/bin/sh
# virtio-blk on virtio-mmio version 1 (legacy layout), through ioeventfd.
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/disk.sh"
disk_roundtrip mmio-v1 "transport=mmio,version=1"
