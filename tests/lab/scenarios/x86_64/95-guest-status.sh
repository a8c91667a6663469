#!/bin/sh
# --guest-status: the status of the guest's command is kvmini's, written by
# the guest image's init to the kvmini.exit port of the virtio-console
# device (PCI): true 0, false 1, exit 7.
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/console.sh"
guest_status
