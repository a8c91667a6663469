# Network scenario helpers (sourced after <arch>/common.sh; KERNEL: the guest kernel).
#
# net_roundtrip TAG TAP "NET-OPTIONS" [kvmini args...]
#   Boots a guest with --net tap=TAP,NET-OPTIONS (kvmini creates the tap).
#   L1 gives the tap 192.0.2.1/24 (TEST-NET-1: the traffic never leaves the
#   L1 machine, which has no network card) and serves a 3 MiB file; the
#   guest takes 192.0.2.2, pings L1, downloads the file and serves 3 MiB of
#   its own, which L1 downloads. Both checksums must match on both sides.
#   A disk on the same transport sits beside the card: the guest writes the
#   downloaded file onto it raw, and L1 finds those bytes in the image.
L1_IP=192.0.2.1
GUEST_IP=192.0.2.2

net_roundtrip() {
	ntag=$1 tap=$2 nopts=$3
	shift 3
	www=$WORK/$ntag-www
	mkdir -p "$www"
	head -c 3145728 /dev/urandom >"$www/down.bin"
	down_sha=$(sha256sum "$www/down.bin" | cut -d' ' -f1)
	disk=$WORK/$ntag-disk.img
	dd if=/dev/zero of="$disk" bs=1M count=0 seek=32 2>/dev/null
	CONSOLE=$WORK/$ntag.console
	# The guest's side, one quoted init argument (no double quotes inside).
	g="ip link set eth0 up && ip addr add $GUEST_IP/24 dev eth0"
	g="$g && ping -c 3 -W 10 $L1_IP"
	g="$g && wget -q -O /tmp/down http://$L1_IP:8080/down.bin && echo DOWN=\$(sha256sum /tmp/down | cut -d' ' -f1)"
	g="$g && dd if=/tmp/down of=/dev/vda bs=1M conv=fsync 2>/dev/null && echo DISK-WRITTEN"
	g="$g && mkdir -p /tmp/www && head -c 3145728 /dev/urandom >/tmp/www/up.bin"
	g="$g && httpd -p $GUEST_IP:8081 -h /tmp/www && echo UP=\$(sha256sum /tmp/www/up.bin | cut -d' ' -f1)"
	g="$g && i=0; while [ \$i -lt 120 ] && ! wget -q -O /dev/null http://$L1_IP:8080/done; do sleep 1; i=\$((i+1)); done"
	g="$g; grep -E 'virtio|eth' /proc/interrupts; echo FEATURES=\$(cat /sys/bus/virtio/devices/*/features)"
	g="$g; dmesg | grep -iE 'pci.*(error|fail|fatal|conflict|not reserved|disabled|can.t|invalid)' | grep -v FEATURES= | sed 's/^/PCI-COMPLAINT: /'"
	cl="$CMDLINE_BASE${GUEST_APPEND:+ $GUEST_APPEND} -- \"$g\""
	echo "run: kvmini run --net tap=$tap,$nopts $*"
	t=$(now)
	KVMINI_STATS=1 "$KVMINI" run --kernel "$KERNEL" --initrd "$INITRD" --cmdline "$cl" --memory "$L2_MEMORY" \
		--console "file:$CONSOLE" --net "tap=$tap,$nopts" --disk "$disk,$nopts" \
		--timeout "$L2_TIMEOUT" "$@" &
	kpid=$!
	i=0
	while ! ip link show "$tap" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 200 ] || { kill $kpid; fail "kvmini never created tap $tap"; }
		sleep 0.1
	done
	ip addr add "$L1_IP/24" dev "$tap" && ip link set "$tap" up || fail "cannot configure $tap"
	httpd -f -p "$L1_IP:8080" -h "$www" &
	hpid=$!
	# Wait for the guest's upload to be ready, fetch it, then say "done".
	i=0
	while ! tr -d '\r' <"$CONSOLE" 2>/dev/null | grep -q '^UP='; do
		i=$((i + 1))
		if [ $i -gt 1200 ] || ! kill -0 $kpid 2>/dev/null; then break; fi
		sleep 0.1
	done
	# UP= comes after the guest's httpd listens; retry anyway, briefly.
	i=0
	until wget -q -O "$WORK/$ntag-up.bin" "http://$GUEST_IP:8081/up.bin"; do
		i=$((i + 1))
		[ $i -lt 10 ] || { echo "L1: download from the guest failed"; break; }
		sleep 0.5
	done
	touch "$www/done"
	wait $kpid
	RC=$?
	SECS=$(since "$t")
	kill $hpid 2>/dev/null
	echo "kvmini exit status $RC after ${SECS}s"
	expect_rc 0
	expect_console ' 0% packet loss'
	expect_console "^DOWN=$down_sha\$"
	up_sha=$(sha256sum "$WORK/$ntag-up.bin" 2>/dev/null | cut -d' ' -f1)
	expect_console "^UP=$up_sha\$"
	expect_console '^DISK-WRITTEN'
	disk_sha=$(head -c 3145728 "$disk" | sha256sum | cut -d' ' -f1)
	[ "$disk_sha" = "$down_sha" ] || fail "the disk image does not hold the downloaded file"
	if tr -d '\r' <"$CONSOLE" | grep -q '^PCI-COMPLAINT: '; then
		fail "the guest complained about PCI"
	fi
	case "$nopts" in
	*packed=on*)
		f=$(tr -d '\r' <"$CONSOLE" | sed -n 's/^FEATURES=//p' | head -n1)
		for x in $f; do
			[ "$(echo "$x" | cut -c35)" = 1 ] || fail "a device did not negotiate RING_PACKED ($x)"
		done
		echo "RING_PACKED on every device: $f" ;;
	esac
	echo "3 MiB each way: down $down_sha, up $up_sha; the same 3 MiB landed on the disk"
	echo "interrupts: $(tr -d '\r' <"$CONSOLE" | grep -E 'virtio' | tr -s ' ' | head -4 | tr '\n' ';')"
}
