#!/bin/sh
# --expect: the console shows the pattern, kvmini stops the VM with status 0.
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/ci.sh"
ci_expect
