#!/bin/sh
# The guest sleeps; kvmini's --timeout ends it with status 124. The limit is
# above the lab's L2 boot time, so the guest must have come up first.
. "$(dirname "$0")/common.sh"
T=${TIMEOUT_SCENARIO_LIMIT:-30}
run_guest timeout "$KERNEL" "sleep 600" --cpus 1 --timeout "$T"
expect_console 'KVMINI-GUEST-UP'
expect_rc 124
