#!/bin/sh
# bzImage, 2 vCPUs, 512M, console to a file: the guest comes up with both
# CPUs, runs a command and powers off (status 0).
. "$(dirname "$0")/common.sh"
run_guest bzimage "$BZIMAGE" "true" --cpus 2 --timeout "$L2_TIMEOUT"
expect_console 'KVMINI-GUEST-UP cpus=2 '
expect_console 'KVMINI-GUEST-CMD-EXIT 0'
expect_rc 0
show_console "$CONSOLE" # short with quiet: worth seeing every time
