#!/bin/sh
# The driver unbound and bound again while readers and a writer keep the
# disk busy: the device is reset with requests about, must answer none of
# them after the reset, and must work again after the bind. Data written
# before stays intact and the guest's log shows no I/O error.
. "$(dirname "$0")/common.sh"
img=$WORK/unbind.img
dd if=/dev/zero of="$img" bs=1M count=0 seek=64 2>/dev/null
run_guest unbind "$BZIMAGE" \
	'dd if=/dev/urandom of=/tmp/pat bs=1M count=8 2>/dev/null; dd if=/tmp/pat of=/dev/vda bs=1M seek=16 oflag=direct 2>/dev/null; echo S1=$(sha256sum /tmp/pat | cut -c1-64); dmesg -c >/dev/null; p=; for i in 1 2 3 4; do (while dd if=/dev/vda of=/dev/null bs=64k count=256 iflag=direct 2>/dev/null; do :; done) & p=$(echo $p $!); done; (while dd if=/dev/zero of=/dev/vda bs=64k seek=800 count=256 oflag=direct 2>/dev/null; do :; done) & p=$(echo $p $!); sleep 2; d=$(basename $(readlink /sys/block/vda/device)); echo $d >/sys/bus/virtio/drivers/virtio_blk/unbind && echo UNBOUND=$d; kill $p 2>/dev/null; wait; echo $d >/sys/bus/virtio/drivers/virtio_blk/bind && echo BOUND; sleep 1; echo S2=$(dd if=/dev/vda bs=1M skip=16 count=8 iflag=direct 2>/dev/null | sha256sum | cut -c1-64); dmesg | grep -iE error\|fail\|timed.out\|BUG\|WARNING | sed s/^/DMESG:\ /' \
	--cpus 2 --disk "$img" --timeout "$L2_TIMEOUT"
expect_rc 0
expect_console '^UNBOUND=virtio'
expect_console '^BOUND$'
s1=$(tr -d '\r' <"$CONSOLE" | sed -n 's/^S1=//p')
s2=$(tr -d '\r' <"$CONSOLE" | sed -n 's/^S2=//p')
[ -n "$s1" ] && [ "$s1" = "$s2" ] || fail "data before the unbind ($s1) read back as $s2"
if tr -d '\r' <"$CONSOLE" | grep -q '^DMESG: '; then
	fail "the guest logged: $(tr -d '\r' <"$CONSOLE" | grep '^DMESG: ' | head -5)"
fi
echo "unbind/bind under load: data intact ($s1), no errors logged"
