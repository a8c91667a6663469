#!/bin/sh
# virtio-blk on modern-only virtio-pci (legacy=off) behind the device tree's
# generic ECAM host bridge: no PCI complaints in the guest's log, INTx (or
# MSI, with an ITS) interrupts, data across a reboot.
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/disk.sh"
disk_roundtrip pci-modern "transport=pci,legacy=off"
