#!/bin/sh
# --console virtio with console=hvc0 alone: the guest's console is hvc0 on
# a virtio-console device. Its output (KVMINI-GUEST-UP, the command's)
# reaches kvmini's stdout, and kvmini's stdin reaches the guest: the
# command reads a line from its console and answers it.
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/console.sh"
console_hvc0
