#!/bin/sh
# Multi-queue virtio-blk: queues=4 on 2 vCPUs over 2 I/O threads. The guest
# sees four hardware queues (/sys/block/vda/mq), each with its own MSI-X
# vector, and four parallel writers' data survives a reboot (round trip).
# Linux's virtio_blk takes at most nr_cpu_ids queues, so the guest is told
# it may have 4 CPUs (possible_cpus=4) while 2 are online.
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/disk.sh"
GUEST_APPEND="possible_cpus=4"
img=$WORK/mq.img
dd if=/dev/zero of="$img" bs=1M count=0 seek=64 2>/dev/null
run_guest mq "$BZIMAGE" \
	'echo MQ=$(ls /sys/block/vda/mq | wc -l); echo VECS=$(grep -c "virtio.*req" /proc/interrupts); for i in 0 1 2 3; do dd if=/dev/urandom of=/tmp/p$i bs=1M count=2 2>/dev/null; dd if=/tmp/p$i of=/dev/vda bs=1M seek=$((i * 4)) oflag=direct 2>/dev/null & done; wait; sync; for i in 0 1 2 3; do echo P$i=$(sha256sum /tmp/p$i | cut -c1-64); done' \
	--cpus 2 --iothreads 2 --disk "$img,queues=4" --timeout "$L2_TIMEOUT"
expect_rc 0
expect_console '^MQ=4$'
expect_console '^VECS=4$'
for i in 0 1 2 3; do
	want=$(tr -d '\r' <"$CONSOLE" | sed -n "s/^P$i=//p")
	got=$(dd if="$img" bs=1M skip=$((i * 4)) count=2 2>/dev/null | sha256sum | cut -d' ' -f1)
	[ -n "$want" ] && [ "$want" = "$got" ] || fail "writer $i: image holds $got, guest wrote $want"
done
echo "4 queues, 4 vectors, 4 writers' data in the image"
disk_roundtrip mq-roundtrip "queues=4" --cpus 2 --iothreads 2
