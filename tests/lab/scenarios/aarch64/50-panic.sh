#!/bin/sh
# The guest panics (sysrq c). Debian's arm64 kernel has no pvpanic, so
# panic=-1 reboots (PSCI SYSTEM_RESET): status 3; with pvpanic modules in the
# guest initrd, status 4.
. "$(dirname "$0")/common.sh"
if zcat "$INITRD" | cpio -t 2>/dev/null | grep -q 'pvpanic'; then
	want=4
	echo "guest has pvpanic modules: expecting status 4"
else
	want=3
	echo "guest has no pvpanic: expecting status 3 (panic=-1 reboots)"
fi
run_guest panic "$KERNEL" "echo c > /proc/sysrq-trigger" --cpus 1 --on-reboot exit --timeout "$L2_TIMEOUT"
expect_console 'KVMINI-GUEST-UP'
expect_rc "$want"
