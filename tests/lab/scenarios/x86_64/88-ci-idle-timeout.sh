#!/bin/sh
# --idle-timeout: a guest silent for 8 s ends the run with status 7.
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/ci.sh"
ci_idle
