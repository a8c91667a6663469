#!/bin/sh
# virtio-blk on packed virtqueues, modern-only PCI: RING_PACKED negotiated,
# ext4 data across a reboot.
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/disk.sh"
disk_roundtrip packed-pci "transport=pci,legacy=off,packed=on"
