#!/bin/sh
# --guest-status on legacy virtio-mmio (version=1): exit 5 gives 5. A guest
# that powers off itself, without reporting, gives 240.
. "$(dirname "$0")/common.sh"
run_guest status-mmio1 "$KERNEL" "exit 5" --guest-status --port x,transport=mmio,version=1 \
	--timeout "$L2_TIMEOUT"
expect_console 'KVMINI-GUEST-CMD-EXIT 5'
expect_rc 5
run_guest status-none "$KERNEL" "sync; poweroff -f" --guest-status --timeout "$L2_TIMEOUT"
expect_console 'KVMINI-GUEST-UP'
expect_rc 240
