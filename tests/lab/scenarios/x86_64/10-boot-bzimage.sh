#!/bin/sh
# bzImage, 2 vCPUs, 512M, console to a file: the guest comes up with both
# CPUs, runs a command and powers off (status 0). The command shows the
# console's interrupt line: the 16550 must be driven by IRQ 4 through the
# IOAPIC with a non-zero count (interrupt-driven, not polled).
. "$(dirname "$0")/common.sh"
run_guest bzimage "$BZIMAGE" "grep ttyS /proc/interrupts" --cpus 2 --timeout "$L2_TIMEOUT"
expect_console 'KVMINI-GUEST-UP cpus=2 '
# (Linux numbers the IRQ itself, e.g. 26, when there is no legacy PIC.)
expect_console '^ *[0-9]+:( +[0-9]+)+ +IO-APIC +4-edge +ttyS0'
tr -d '\r' <"$CONSOLE" | grep -E 'IO-APIC +4-edge +ttyS0' | grep -Eq '^ *[0-9]+:( +0)* +[1-9]' ||
	fail "the UART's interrupt count is zero (console polled?)"
expect_console 'KVMINI-GUEST-CMD-EXIT 0'
expect_rc 0
show_console "$CONSOLE" # short with quiet: worth seeing every time
