#!/bin/sh
# virtio-net and virtio-blk on modern-only PCI: address on the tap's subnet, ping, 3 MiB
# each way with matching checksums, MSI-X interrupts.
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/net.sh"
net_roundtrip net-pci-modern ktap0 "transport=pci,legacy=off"
expect_console 'PCI-MSI.*virtio[0-9]-input'
expect_console 'PCI-MSI.*virtio[0-9]-req'
