#!/bin/sh
# --guest-status on legacy virtio-mmio (version=1): exit 5 gives 5. A guest
# that powers off itself, without reporting, gives 240.
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/console.sh"
guest_status_more
