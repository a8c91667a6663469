#!/bin/sh
# The guest stops before --expect's pattern (8); --guest-status moves
# kvmini's own outcomes to 240..255 (a reboot: 243).
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/ci.sh"
ci_no_expect
