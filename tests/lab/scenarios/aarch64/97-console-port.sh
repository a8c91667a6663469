#!/bin/sh
# Named virtio-console ports carry data both ways: "feed" (in=FILE) gives
# the guest 200 kB, then end-of-file; the guest writes 300 kB to "sink"
# (out=FILE). Both checksums must match on both sides.
. "$(dirname "$0")/common.sh"
head -c 200000 /dev/urandom >"$WORK/in.bin"
in_sha=$(sha256sum <"$WORK/in.bin" | cut -d' ' -f1)
g='w() { i=0; while [ $i -lt 100 ]; do for p in /sys/class/virtio-ports/*; do [ x$(cat $p/name 2>/dev/null) = x$1 ] && echo /dev/${p##*/} && return; done; sleep 0.1; i=$((i+1)); done; }'
g="$g; F=\$(w feed); S=\$(w sink); echo PORTS \$F \$S; ls /sys/class/virtio-ports"
g="$g; cat \$F >/tmp/got; echo GOT=\$(sha256sum </tmp/got | cut -c1-64)"
g="$g; head -c 300000 /dev/urandom >/tmp/sent; cat /tmp/sent >\$S; echo SENT=\$(sha256sum </tmp/sent | cut -c1-64)"
KVMINI_STATS=1 run_guest port "$KERNEL" "$g" --timeout "$L2_TIMEOUT" \
	--port "feed,in=$WORK/in.bin" --port "sink,out=$WORK/out.bin" --guest-status
expect_rc 0
expect_console "^GOT=$in_sha\$"
out_sha=$(sha256sum <"$WORK/out.bin" | cut -d' ' -f1)
expect_console "^SENT=$out_sha\$"
echo "200 kB in ($in_sha), 300 kB out ($out_sha)"
