#!/bin/sh
# virtio-net (and a disk) on legacy virtio-mmio (version 1): the net header
# and rings in the device's byte order as sampled at reset; the same
# transfers, and no VERSION_1.
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/net.sh"
net_roundtrip net-mmio-v1 ktap3 "transport=mmio,version=1"
f=$(tr -d '\r' <"$CONSOLE" | sed -n 's/^FEATURES=//p' | tr ' ' '\n' | grep -v '^$')
for one in $f; do
	[ "$(echo "$one" | cut -c33)" != 1 ] || fail "a version=1 device negotiated VERSION_1 ($one)"
done
echo "features: $(echo $f)"
