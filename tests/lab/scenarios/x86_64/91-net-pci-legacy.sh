#!/bin/sh
# virtio-net on transitional PCI driven as legacy (virtio_pci.force_legacy=1):
# the net header travels in the legacy layout; the same transfers.
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/net.sh"
GUEST_APPEND="virtio_pci.force_legacy=1" net_roundtrip net-pci-legacy ktap1 "transport=pci,legacy=on"
f=$(tr -d '\r' <"$CONSOLE" | sed -n 's/^FEATURES=\([01]*\)$/\1/p')
[ "$(echo "$f" | cut -c33)" != 1 ] || fail "legacy driver negotiated VERSION_1 ($f)"
