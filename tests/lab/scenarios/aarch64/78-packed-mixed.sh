#!/bin/sh
# One disk on packed rings, one on split rings, in the same guest.
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/disk.sh"
packed_mixed
