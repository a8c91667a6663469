# vblk-run.sh — the lab side of the vblk test guest (sourced by
# tests/lab/scenarios/aarch64/6x-endian-*.sh after their common.sh; busybox
# sh in L1). build.sh copies it next to the images, so it travels into L1
# with them ($GUESTS).
#
# vblk_run MODE KIND DISKOPTS [kvmini args...]
#   MODE  le | be | switch (the image $GUESTS/vblk-MODE.img)
#   KIND  legacy | modern  (what the guest must report: it reads Version)
# Boots the guest on a fresh 1 MiB disk (sector 0 holds the marker the guest
# reads back) and passes when kvmini exits 0, the console says
# "VBLK PASS MODE-KIND", and sector 1 of the image file is the guest's byte
# pattern (so the write went through the device, byte for byte).
VBLK_SECTOR1_SHA256=c9d8e3352f9f790d8b0be13cb1c18ed7963009888be04acc065ee5efbd934076

vblk_run() {
	mode=$1 kind=$2 opts=$3
	shift 3
	img=$GUESTS/vblk-$mode.img
	[ -f "$img" ] || fail "missing guest image $img (tests/guests/arm64/build.sh)"
	disk=$WORK/vblk-disk.img
	dd if=/dev/zero of="$disk" bs=512 count=2048 2>/dev/null || fail "cannot create $disk"
	printf 'kvmini-endian-s0' | dd of="$disk" conv=notrunc 2>/dev/null
	CONSOLE=$WORK/vblk-$mode.console
	echo "run: kvmini run --kernel vblk-$mode.img --disk disk.img,$opts --memory 64M --timeout 60 $*"
	t=$(now)
	"$KVMINI" run --kernel "$img" --disk "$disk,$opts" --memory 64M \
		--console "file:$CONSOLE" --timeout 60 "$@"
	RC=$?
	echo "kvmini exit status $RC after $(since "$t")s"
	show_console "$CONSOLE"
	expect_rc 0
	expect_console "^VBLK PASS $mode-$kind\$"
	sum=$(dd if="$disk" bs=512 skip=1 count=1 2>/dev/null | sha256sum | cut -d' ' -f1)
	[ "$sum" = "$VBLK_SECTOR1_SHA256" ] ||
		fail "sector 1 of the disk image is not the guest's pattern (sha256 $sum)"
}

# vblk_snap_run KIND DISKOPTS: the snapshot flow with $GUESTS/vblk-snap.img
# (vblk.S MODE_SNAP): the guest, big-endian, resets KIND (legacy | modern)
# disk, writes and reads sector 1, says VBLK WAITING and waits for a byte on
# its console. kvmini ctl snapshots it there and kvmini is killed (SIGKILL);
# kvmini restore starts a new process from the snapshot and feeds the byte
# (stdin). The restored guest must read sector 1 back and write sector 2
# through the same ring in the same byte order, and the image must hold
# both sectors. Prints how long the restore took to run the guest again.
VBLK_SECTOR2_SHA256=205671f7bc4ba5c0589baa514222f66e6e2c62e464f7ed0a00f7f451439c4bac

# vblk_wait_for CONSOLE PID: until the guest says VBLK WAITING (60 s).
vblk_wait_for() {
	n=0
	until { tr -d '\r' <"$1"; } 2>/dev/null | grep -q '^VBLK WAITING$'; do
		kill -0 $2 2>/dev/null || { show_console "$1"; fail "kvmini ended before VBLK WAITING"; }
		n=$((n + 1)); [ $n -lt 600 ] || { kill -KILL $2; fail "no VBLK WAITING"; }
		sleep 0.1
	done
}

vblk_snap_run() {
	kind=$1 opts=$2
	img=$GUESTS/vblk-snap.img
	[ -f "$img" ] || fail "missing guest image $img (tests/guests/arm64/build.sh)"
	disk=$WORK/vblk-disk.img
	dd if=/dev/zero of="$disk" bs=512 count=2048 2>/dev/null || fail "cannot create $disk"
	printf 'kvmini-endian-s0' | dd of="$disk" conv=notrunc 2>/dev/null
	# A fresh start of the same guest first, for comparison: its --result
	# says when the first console line came (kvmini ctl quit ends it).
	cp "$disk" "$WORK/fresh-disk.img"
	"$KVMINI" run --kernel "$img" --disk "$WORK/fresh-disk.img,$opts" --memory 64M \
		--console "file:$WORK/fresh.console" --api-socket "$WORK/fresh.sock" \
		--result "$WORK/fresh.json" --timeout 60 &
	kpid=$!
	vblk_wait_for "$WORK/fresh.console" $kpid
	"$KVMINI" ctl "$WORK/fresh.sock" quit >/dev/null || fail "ctl quit"
	wait $kpid
	[ $? = 143 ] || fail "kvmini ctl quit: kvmini did not end with 143"
	CONSOLE=$WORK/vblk-snap.console
	echo "run: kvmini run --kernel vblk-snap.img --disk disk.img,$opts --api-socket api.sock"
	t=$(now)
	"$KVMINI" run --kernel "$img" --disk "$disk,$opts" --memory 64M --console "file:$CONSOLE" \
		--api-socket "$WORK/api.sock" --timeout 120 &
	kpid=$!
	vblk_wait_for "$CONSOLE" $kpid
	waited=$(since "$t")
	s=$("$KVMINI" ctl "$WORK/api.sock" snapshot "$WORK/snap") || { kill -KILL $kpid; fail "ctl snapshot: $s"; }
	echo "snapshot: $s"
	kill -KILL $kpid
	wait $kpid
	sum=$(dd if="$disk" bs=512 skip=1 count=1 2>/dev/null | sha256sum | cut -d' ' -f1)
	[ "$sum" = "$VBLK_SECTOR1_SHA256" ] || fail "sector 1 is not the guest's pattern before the restore"
	echo "killed kvmini (SIGKILL) $waited s after it started; restoring"
	CONSOLE=$WORK/vblk-restored.console
	t=$(now)
	printf g | KVMINI_STATS=1 "$KVMINI" restore "$WORK/snap" --console stdio --timeout 60 \
		--result "$WORK/restore.json" >"$CONSOLE" 2>"$WORK/restore.stderr"
	RC=$?
	echo "kvmini restore exit status $RC after $(since "$t")s"
	cat "$WORK/restore.stderr"
	show_console "$CONSOLE"
	expect_rc 0
	expect_console '^vblk: resumed$'
	expect_console "^VBLK PASS snap-$kind\$"
	tr -d '\r' <"$CONSOLE" | grep -q '^vblk: mode' && fail "the restored guest started over"
	sum=$(dd if="$disk" bs=512 skip=1 count=1 2>/dev/null | sha256sum | cut -d' ' -f1)
	[ "$sum" = "$VBLK_SECTOR1_SHA256" ] || fail "sector 1 of the image is not the guest's pattern"
	sum=$(dd if="$disk" bs=512 skip=2 count=1 2>/dev/null | sha256sum | cut -d' ' -f1)
	[ "$sum" = "$VBLK_SECTOR2_SHA256" ] || fail "sector 2 of the image is not the restored guest's pattern ($sum)"
	boot=$(sed -n 's/.*"first_output_s": \([0-9.]*\).*/\1/p' "$WORK/fresh.json")
	res=$(sed -n 's/.*"first_output_s": \([0-9.]*\).*/\1/p' "$WORK/restore.json")
	load=$(sed -n 's/.*runs again \([0-9.]*\) ms.*/\1/p' "$WORK/restore.stderr")
	echo "MEASURE fresh start: first console line ${boot}s; restore: guest running ${load} ms after start, first console line ${res}s (vblk.S)"
	echo "both sectors in the image: sector 1 from before the snapshot, sector 2 from after the restore"
}
