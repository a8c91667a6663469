# Disk scenario helpers (sourced after <arch>/common.sh).
# KERNEL: the guest kernel. PCI_IRQ_RE: what the guest's /proc/interrupts
# must show for a virtio device on PCI (default: PCI-MSI, as on x86; arm64
# without a GIC ITS has no MSI and sets its own).
#
# disk_roundtrip TAG "KVMINI-DISK-OPTIONS" [kvmini args...]
#   Boot 1 makes an ext4 file system on /dev/vda, writes 4 MiB of random data
#   and its sha256 and powers off; boot 2 (a new kvmini on the same image)
#   recomputes the sha256 and must print the same. Both boots also report the
#   features the guest driver negotiated (/sys/bus/virtio/devices/*/features,
#   one character per bit): INDIRECT_DESC (28) and EVENT_IDX (29) must be on;
#   VERSION_1 (32) on for version=2, off for version=1.
disk_roundtrip() {
	dtag=$1 dopts=$2
	shift 2
	img=$WORK/$dtag.img
	rm -f "$img"
	dd if=/dev/zero of="$img" bs=1M count=0 seek=64 2>/dev/null || fail "cannot create $img"
	feat="echo FEATURES=\$(cat /sys/bus/virtio/devices/*/features); grep virtio /proc/interrupts; dmesg | grep -iE 'pci.*(error|fail|fatal|conflict|not reserved|disabled|can.t|invalid)' | grep -v FEATURES= | sed 's/^/PCI-COMPLAINT: /'"
	run_guest "$dtag-write" "$KERNEL" \
		"$feat; mkdir -p /mnt && mkfs.ext4 -q /dev/vda && mount -t ext4 /dev/vda /mnt && dd if=/dev/urandom of=/mnt/data bs=1M count=4 2>/dev/null && sha256sum /mnt/data >/mnt/data.sha && echo SHA1=\$(cut -d' ' -f1 /mnt/data.sha) && umount /mnt && sync" \
		--disk "$img,$dopts" --timeout "$L2_TIMEOUT" "$@"
	expect_rc 0
	expect_console 'KVMINI-GUEST-CMD-EXIT 0'
	check_features "$dopts"
	check_pci "$dopts"
	sha1=$(tr -d '\r' <"$CONSOLE" | sed -n 's/^SHA1=\([0-9a-f]\{64\}\)$/\1/p')
	[ -n "$sha1" ] || fail "boot 1 printed no checksum"
	# The file system really is on the host file: ext4 magic 0xEF53 at 1080.
	magic=$(dd if="$img" bs=1 skip=1080 count=2 2>/dev/null | od -An -tx1 | tr -d ' \n')
	[ "$magic" = 53ef ] || fail "no ext4 superblock in the image file (got '$magic')"
	run_guest "$dtag-read" "$KERNEL" \
		"$feat; mkdir -p /mnt && mount -t ext4 /dev/vda /mnt && echo SHA2=\$(sha256sum /mnt/data | cut -d' ' -f1) && echo STORED=\$(cut -d' ' -f1 /mnt/data.sha) && umount /mnt" \
		--disk "$img,$dopts" --timeout "$L2_TIMEOUT" "$@"
	expect_rc 0
	expect_console 'KVMINI-GUEST-CMD-EXIT 0'
	expect_console "^SHA2=$sha1\$"
	expect_console "^STORED=$sha1\$"
	echo "checksum $sha1 survived the reboot"
}

# check_pci DISK-OPTIONS: on PCI, the guest logs no PCI complaints and its
# virtio interrupts match PCI_IRQ_RE (default PCI-MSI).
check_pci() {
	case "$1" in *transport=mmio*) return 0 ;; esac
	if tr -d '\r' <"$CONSOLE" | grep -q '^PCI-COMPLAINT: '; then
		fail "the guest complained about PCI: $(tr -d '\r' <"$CONSOLE" | grep '^PCI-COMPLAINT: ' | head -3)"
	fi
	re=${PCI_IRQ_RE:-PCI-MSI.*virtio}
	expect_console "$re"
	echo "interrupts: $(tr -d '\r' <"$CONSOLE" | grep -E "$re" | tr -s ' ' | head -3 | tr '\n' ';')"
}

# check_features DISK-OPTIONS: reads FEATURES= from $CONSOLE.
check_features() {
	f=$(tr -d '\r' <"$CONSOLE" | sed -n 's/^FEATURES=\([01]*\)$/\1/p' | head -n1)
	[ -n "$f" ] || fail "the guest shows no virtio device features"
	bit() { echo "$f" | cut -c$(($1 + 1)); }
	[ "$(bit 28)" = 1 ] || fail "INDIRECT_DESC not negotiated ($f)"
	[ "$(bit 29)" = 1 ] || fail "EVENT_IDX not negotiated ($f)"
	case "$1 ${GUEST_APPEND:-}" in
	*version=1*|*force_legacy=1*) [ "$(bit 32)" != 1 ] || fail "a legacy device negotiated VERSION_1 ($f)" ;;
	*) [ "$(bit 32)" = 1 ] || fail "a modern device without VERSION_1 ($f)" ;;
	esac
	echo "features: $f"
}
