#!/bin/sh
# virtio-blk on packed virtqueues over virtio-mmio version 2.
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/disk.sh"
disk_roundtrip packed-mmio "transport=mmio,version=2,packed=on"
