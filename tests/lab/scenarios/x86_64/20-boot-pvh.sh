#!/bin/sh
# As boot-bzimage, through the PVH entry of the ELF vmlinux.
. "$(dirname "$0")/common.sh"
run_guest pvh "$VMLINUX" "true" --cpus 2 --timeout "$L2_TIMEOUT"
expect_console 'KVMINI-GUEST-UP cpus=2 '
expect_console 'KVMINI-GUEST-CMD-EXIT 0'
expect_rc 0
show_console "$CONSOLE" # short with quiet: worth seeing every time
