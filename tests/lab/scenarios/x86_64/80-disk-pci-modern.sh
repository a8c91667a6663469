#!/bin/sh
# virtio-blk on modern-only virtio-pci (legacy=off): MSI-X interrupts, no
# PCI complaints in the guest's log, data across a reboot.
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/disk.sh"
disk_roundtrip pci-modern "transport=pci,legacy=off"
