#!/bin/sh
# The ext4 write-reboot-read round trip on the thread-pool block engine
# (what disks use where io_uring is refused).
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/disk.sh"
export KVMINI_STATS=1
disk_roundtrip aio-threads "aio=threads" 2>"$WORK/stats"
cat "$WORK/stats"
grep -q 'stats: disk0: aio threads' "$WORK/stats" || fail "KVMINI_STATS does not name threads"
