#!/bin/sh
# The ext4 write-reboot-read round trip on the thread-pool block engine
# (what disks use where io_uring is refused).
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/disk.sh"
export KVMINI_STATS=1
disk_roundtrip aio-threads "aio=threads"
for b in write read; do
	grep -q 'stats: disk0: aio threads' "$WORK/aio-threads-$b.stderr" || fail "KVMINI_STATS does not name threads ($b)"
done
