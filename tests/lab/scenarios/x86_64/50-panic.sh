#!/bin/sh
# The guest panics (sysrq c). With pvpanic (modules in the guest initrd) the
# panic is reported and kvmini exits 4; without, panic=-1 reboots: status 3.
. "$(dirname "$0")/common.sh"
if zcat "$INITRD" | cpio -t 2>/dev/null | grep -q 'pvpanic'; then
	want=4
	echo "guest has pvpanic modules: expecting status 4"
else
	want=3
	echo "guest has no pvpanic: expecting status 3 (panic=-1 reboots)"
fi
run_guest panic "$BZIMAGE" "echo c > /proc/sysrq-trigger" --cpus 1 --on-reboot exit --timeout "$L2_TIMEOUT"
expect_console 'KVMINI-GUEST-UP'
expect_rc "$want"
