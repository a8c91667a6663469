#!/bin/sh
# tests/guests/arm64/build.sh [--qemu] OUTDIR [CC]
#
# Builds the arm64 test guests as raw arm64 Images (64-byte Image header,
# text_offset 0, little-endian flags; kvmini loads them at 0x40000000):
#   OUTDIR/vblk-le.img vblk-be.img vblk-switch.img vblk-snap.img
# from vblk.S with MODE_LE / MODE_BE / MODE_SWITCH / MODE_SNAP, and copies vblk-run.sh
# (the lab scenarios' helper) beside them: OUTDIR is what the lab ships into
# L1 as $GUESTS.
# --qemu builds vblk-*-qemu.img instead, for QEMU's own "virt" machine (PL011
# console, first virtio-mmio device at 0x0a003e00): a check of the guest
# without kvmini, e.g.
#   qemu-system-aarch64 -M virt -cpu max -m 256 -nographic -kernel vblk-be-qemu.img \
#     -global virtio-mmio.force-legacy=true \
#     -drive if=none,id=d,format=raw,file=disk.img -device virtio-blk-device,drive=d
# CC defaults to aarch64-linux-gnu-gcc (gcc on an arm64 host); objcopy is
# taken with the same prefix.
set -eu
suffix="" extra=""
if [ "${1:-}" = --qemu ]; then
	suffix=-qemu extra="-DUART_PL011 -DVMMIO_BASE=0x0a003e00"
	shift
fi
out=${1:?usage: build.sh [--qemu] OUTDIR [CC]}
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -ge 2 ]; then
	cc=$2
elif [ "$(uname -m)" = aarch64 ]; then
	cc=gcc
else
	cc=aarch64-linux-gnu-gcc
fi
case "$cc" in
*gcc) prefix=${cc%gcc} ;;
*) prefix="" ;;
esac
mkdir -p "$out"
for m in le be switch snap; do
	M=$(echo "$m" | tr a-z A-Z)
	# shellcheck disable=SC2086 # $extra is a list of flags
	"$cc" -nostdlib -ffreestanding -static -no-pie -DMODE_$M $extra \
		-Wl,-T,"$here/vblk.ld" -Wl,--build-id=none -Wl,-z,max-page-size=4096 \
		-o "$out/vblk-$m$suffix.elf" "$here/vblk.S"
	"${prefix}objcopy" -O binary "$out/vblk-$m$suffix.elf" "$out/vblk-$m$suffix.img"
done
cp "$here/vblk-run.sh" "$out/"
echo "build.sh: $(cd "$out" && ls vblk-*"$suffix".img | tr '\n' ' ')in $out"
