#!/bin/sh
# Named virtio-console ports carry data both ways: "feed" (in=FILE) gives
# the guest 200 kB, then end-of-file; the guest writes 300 kB to "sink"
# (out=FILE). Both checksums must match on both sides.
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/console.sh"
console_port
