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
	# RING_PACKED (34): negotiated exactly when offered (packed=on).
	case "$1" in
	*packed=on*) [ "$(bit 34)" = 1 ] || fail "RING_PACKED offered but not negotiated ($f)" ;;
	*) [ "$(bit 34)" != 1 ] || fail "RING_PACKED negotiated but not offered ($f)" ;;
	esac
	echo "features: $f"
}

# packed_mixed: two disks on PCI, the first on packed rings and the second
# on split ones, written at once; each device negotiated what it was
# offered, and both images hold what the guest wrote.
packed_mixed() {
	a=$WORK/mixed-a.img b=$WORK/mixed-b.img
	dd if=/dev/zero of="$a" bs=1M count=0 seek=16 2>/dev/null
	dd if=/dev/zero of="$b" bs=1M count=0 seek=16 2>/dev/null
	run_guest mixed "$KERNEL" \
		'for d in /sys/bus/virtio/devices/*; do echo DEV=$(basename $(readlink $d/driver))=$(cut -c35 $d/features); done; dd if=/dev/urandom of=/tmp/p bs=1M count=4 2>/dev/null; dd if=/tmp/p of=/dev/vda bs=1M oflag=direct 2>/dev/null & dd if=/tmp/p of=/dev/vdb bs=1M oflag=direct 2>/dev/null & wait; echo P=$(sha256sum /tmp/p | cut -c1-64)' \
		--disk "$a,transport=pci,packed=on" --disk "$b,transport=pci" --timeout "$L2_TIMEOUT"
	expect_rc 0
	[ "$(tr -d '\r' <"$CONSOLE" | grep -c '^DEV=virtio_blk=1$')" = 1 ] || fail "not exactly one disk on packed rings"
	[ "$(tr -d '\r' <"$CONSOLE" | grep -c '^DEV=virtio_blk=0$')" = 1 ] || fail "not exactly one disk on split rings"
	p=$(tr -d '\r' <"$CONSOLE" | sed -n 's/^P=//p')
	for img in "$a" "$b"; do
		[ "$(head -c 4194304 "$img" | sha256sum | cut -d' ' -f1)" = "$p" ] || fail "$img does not hold the guest's data"
	done
	echo "packed vda and split vdb side by side: both hold $p"
}

# durability: the guest writes numbered 4 KiB records, each with fsync
# (a FLUSH), and prints ACK n once fsync returned; L1 kills kvmini with
# SIGKILL mid-stream. A second boot must read every acknowledged record
# intact, and no record may be torn (each is all old or all new).
durability() {
	img=$WORK/durable.img
	dd if=/dev/zero of="$img" bs=1M count=0 seek=16 2>/dev/null
	CONSOLE=$WORK/durable-write.console
	gcmd='i=1; while [ $i -le 2000 ]; do (printf REC-%08d- $i; yes $i | head -c 4083) | head -c 4096 >/tmp/r; dd if=/tmp/r of=/dev/vda bs=4096 seek=$i count=1 oflag=direct conv=fsync 2>/dev/null || break; echo ACK $i; i=$((i + 1)); done'
	echo "run: kvmini (killed with SIGKILL after ACK 60)"
	"$KVMINI" run --kernel "$KERNEL" --initrd "$INITRD" --cmdline "$CMDLINE_BASE -- \"$gcmd\"" \
		--memory "$L2_MEMORY" --console "file:$CONSOLE" --disk "$img" --timeout "$L2_TIMEOUT" &
	kpid=$!
	i=0
	while ! tr -d '\r' <"$CONSOLE" 2>/dev/null | grep -q '^ACK 60$'; do
		kill -0 $kpid 2>/dev/null || fail "kvmini ended before ACK 60"
		i=$((i + 1)); [ $i -lt $((L2_TIMEOUT * 10)) ] || { kill -KILL $kpid; fail "no ACK 60"; }
		sleep 0.1
	done
	kill -KILL $kpid
	wait $kpid
	last=$(tr -d '\r' <"$CONSOLE" | sed -n 's/^ACK \([0-9]*\)$/\1/p' | tail -n1)
	echo "kvmini killed with SIGKILL after ACK $last"
	check=$((last + 5))
	run_guest durable-read "$KERNEL" \
		"i=1; while [ \$i -le $check ]; do s=\$(dd if=/dev/vda bs=4096 skip=\$i count=1 2>/dev/null | sha256sum | cut -c1-16); echo R \$i \$s; i=\$((i + 1)); done" \
		--disk "$img" --timeout "$L2_TIMEOUT"
	expect_rc 0
	zero=$(head -c 4096 /dev/zero | sha256sum | cut -c1-16)
	n=1 torn=0
	while [ $n -le $check ]; do
		want=$( (printf REC-%08d- $n; yes $n | head -c 4083) | head -c 4096 | sha256sum | cut -c1-16)
		got=$(tr -d '\r' <"$CONSOLE" | sed -n "s/^R $n \([0-9a-f]*\)$/\1/p")
		if [ $n -le "$last" ]; then
			[ "$got" = "$want" ] || fail "acknowledged record $n is not intact ($got, expected $want)"
		elif [ "$got" != "$want" ] && [ "$got" != "$zero" ]; then
			torn=$((torn + 1))
		fi
		n=$((n + 1))
	done
	[ $torn = 0 ] || fail "$torn records are torn (neither old nor new)"
	[ "$(tr -d '\r' <"$CONSOLE" | grep -c '^R ')" = $check ] || fail "the second boot read $(tr -d '\r' <"$CONSOLE" | grep -c '^R ') records, not $check"
	echo "all $last acknowledged records intact after SIGKILL; none torn"
}
