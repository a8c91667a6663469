#!/bin/sh
# The ext4 write-reboot-read round trip with the io_uring block engine asked
# for by name; KVMINI_STATS says that engine served it.
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/disk.sh"
export KVMINI_STATS=1
disk_roundtrip aio-uring "aio=io_uring"
for b in write read; do
	grep -q 'stats: disk0: aio io_uring' "$WORK/aio-uring-$b.stderr" || fail "KVMINI_STATS does not name io_uring ($b)"
done
