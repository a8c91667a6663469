#!/bin/sh
# arm64 Image, 2 vCPUs, 512M, console to a file: the guest comes up with both
# CPUs (PSCI CPU_ON), runs a command and powers off (PSCI SYSTEM_OFF, status
# 0). The console is kept for console-irq.
. "$(dirname "$0")/common.sh"
run_guest boot "$KERNEL" "grep -E 'ttyS|uart|serial' /proc/interrupts; grep -c ^processor /proc/cpuinfo" --cpus 2 --timeout "$L2_TIMEOUT"
cp "$CONSOLE" "$LAB_WORK/boot-image.console" 2>/dev/null
expect_console 'KVMINI-GUEST-UP cpus=2 '
expect_console 'KVMINI-GUEST-CMD-EXIT 0'
expect_rc 0
show_console "$CONSOLE" # short with quiet: worth seeing every time
