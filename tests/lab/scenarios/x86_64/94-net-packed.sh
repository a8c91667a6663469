#!/bin/sh
# virtio-net (and a disk) on packed virtqueues, on a transitional PCI device
# driven through its modern interface: 3 MiB each way, checksums match.
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/net.sh"
net_roundtrip net-packed ktap0 "transport=pci,packed=on"
