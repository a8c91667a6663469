#!/bin/sh
# virtio-net (and a disk) on virtio-mmio version 2: the same transfers.
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/net.sh"
net_roundtrip net-mmio ktap2 "transport=mmio,version=2"
