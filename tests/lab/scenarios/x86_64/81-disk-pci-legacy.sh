#!/bin/sh
# virtio-blk on transitional virtio-pci driven through the legacy I/O BAR
# (the guest boots with virtio_pci.force_legacy=1): no VERSION_1, PIO
# ioeventfd on QueueNotify, data across a reboot.
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/disk.sh"
GUEST_APPEND="virtio_pci.force_legacy=1" disk_roundtrip pci-legacy "transport=pci,legacy=on"
