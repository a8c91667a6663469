#!/bin/sh
# From boot-image's console (no boot of its own): the 16550's line in
# /proc/interrupts must have a non-zero count, i.e. the console is driven by
# its interrupt (a GIC SPI from the device tree), not polled.
. "$(dirname "$0")/common.sh"
CONSOLE=$LAB_WORK/boot-image.console
[ -s "$CONSOLE" ] || fail "boot-image left no console (did it run?)"
tr -d '\r' <"$CONSOLE" | grep -E 'ttyS' | grep -E '^ *[0-9]+:' ||
	fail "no ttyS line in the guest's /proc/interrupts (UART without an interrupt?)"
tr -d '\r' <"$CONSOLE" | grep -E '^ *[0-9]+:.*ttyS' | grep -Eq '^ *[0-9]+:( +0)* +[1-9]' ||
	fail "the UART's interrupt count is zero (console polled?)"
