#!/bin/sh
# --console virtio with console=hvc0 alone: the guest's console is hvc0 on
# a virtio-console device. Its output (KVMINI-GUEST-UP, the command's)
# reaches kvmini's stdout, and kvmini's stdin reaches the guest: the
# command reads a line from its console and answers it.
. "$(dirname "$0")/common.sh"
CONSOLE=$WORK/hvc0.console
cl="console=hvc0 quiet panic=-1 -- \"read l; echo GOT-\$l; cat /sys/class/tty/console/active\""
echo "run: kvmini run --console virtio --cmdline '$cl' <<< hello-hvc0"
t=$(now)
printf 'hello-hvc0\n' | "$KVMINI" run --kernel "$KERNEL" --initrd "$INITRD" --cmdline "$cl" \
	--memory "$L2_MEMORY" --console virtio --timeout "$L2_TIMEOUT" >"$CONSOLE"
RC=$?
echo "kvmini exit status $RC after $(since "$t")s"
expect_rc 0
expect_console 'KVMINI-GUEST-UP'
expect_console '^GOT-hello-hvc0'
expect_console '^hvc0'
expect_console 'KVMINI-GUEST-CMD-EXIT 0'
show_console "$CONSOLE"
# To a file, on virtio-mmio, with both consoles (console=ttyS0 console=hvc0:
# the kernel writes to both, init's /dev/console is hvc0).
GUEST_APPEND="console=hvc0" run_guest hvc0-file "$KERNEL" "cat /sys/class/tty/console/active" \
	--timeout "$L2_TIMEOUT" --console "virtio,transport=mmio,file:$WORK/hvc0-file.console"
CONSOLE=$WORK/hvc0-file.console
expect_rc 0
expect_console 'KVMINI-GUEST-UP'
expect_console 'hvc0$'
expect_console 'KVMINI-GUEST-CMD-EXIT 0'
