#!/bin/sh
# --guest-status: the status of the guest's command is kvmini's, written by
# the guest image's init to the kvmini.exit port of the virtio-console
# device (PCI): true 0, false 1, exit 7.
. "$(dirname "$0")/common.sh"
for c in "0 true" "1 false" "7 exit 7"; do
	want=${c%% *} cmd=${c#* }
	run_guest "status-$want" "$KERNEL" "$cmd" --guest-status --timeout "$L2_TIMEOUT"
	expect_console "KVMINI-GUEST-CMD-EXIT $want"
	expect_rc "$want"
done
