#!/bin/sh
# virtio-blk on transitional virtio-pci driven through the legacy I/O BAR
# (virtio_pci.force_legacy=1; on arm64 the BAR sits in the host bridge's
# memory-mapped I/O window): no VERSION_1, data across a reboot.
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/disk.sh"
GUEST_APPEND="virtio_pci.force_legacy=1" disk_roundtrip pci-legacy "transport=pci,legacy=on"
