#!/bin/sh
# virtio-blk on virtio-mmio version 1 (legacy layout: rings in the byte order
# of the vCPU that reset the device, little-endian here).
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/disk.sh"
disk_roundtrip mmio-v1 "transport=mmio,version=1"
