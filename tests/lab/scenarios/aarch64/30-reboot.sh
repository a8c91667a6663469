#!/bin/sh
# The guest reboots (reboot -f, PSCI SYSTEM_RESET): with --on-reboot exit
# kvmini exits 3.
. "$(dirname "$0")/common.sh"
run_guest reboot "$KERNEL" "reboot -f" --cpus 1 --on-reboot exit --timeout "$L2_TIMEOUT"
expect_console 'KVMINI-GUEST-UP'
expect_rc 3
