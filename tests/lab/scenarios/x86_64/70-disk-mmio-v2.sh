#!/bin/sh
# virtio-blk on virtio-mmio version 2 (modern), notifications through ioeventfd.
. "$(dirname "$0")/common.sh"; . "$(dirname "$0")/disk.sh"
disk_roundtrip mmio-v2 "transport=mmio,version=2"
