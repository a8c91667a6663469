#!/bin/sh
# --fail-on: a kernel WARNING on the console ends the run with status 6.
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/ci.sh"
ci_fail_on
