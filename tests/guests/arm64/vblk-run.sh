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
