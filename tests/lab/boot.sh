#!/bin/bash
# tests/lab/boot.sh — boot a Linux guest to a console with kvmini.
#
# Usage:
#   tests/lab/boot.sh [kvmini run options...]
#   KVMINI=path/to/kvmini tests/lab/boot.sh --cpus 2 --memory 512M
#
# Runs `kvmini run --kernel <bzImage> --initrd <guest initrd>
#   --cmdline "console=ttyS0 quiet panic=-1" [your options]`
# with the Debian cloud kernel and busybox initramfs of images/build-guest.sh
# (built on first use). Your --kernel, --initrd or --cmdline replace the
# defaults; "--cmdline '... -- cmd'" runs cmd in the guest instead of a shell.
# The guest gives you a shell; `exit` (or Ctrl-D) powers it off.
#
# kvmini: $KVMINI, else build/kvmini in the repository.
# arm64 guests: KVMINI_GUEST_ARCH=aarch64 (kvmini: $KVMINI, else
# build-aarch64/kvmini; kernel: the arm64 Image of build-guest.sh --arch
# aarch64; L1 under qemu-system-aarch64).
# Where /dev/kvm is hardware-backed, kvmini runs right here. Elsewhere (our
# kvm_pvm machines, or KVMINI_LAB=1) it boots the nested lab: an L1 Linux under
# qemu-system-x86_64 (TCG) loads KVM and starts kvmini on its console with the
# same options; files named by --kernel/--initrd/--disk are copied into L1.
# Leaving the L2 guest powers L1 off too; Ctrl-A x quits qemu at any time.
set -u
LAB_PROG=boot.sh
. "$(dirname "$0")/lab-common.sh"

lab_arch "${KVMINI_GUEST_ARCH:-x86_64}"
if [ "$LAB_ARCH" = aarch64 ]; then
	KVMINI=${KVMINI:-$REPO_DIR/build-aarch64/kvmini}
else
	KVMINI=${KVMINI:-$REPO_DIR/build/kvmini}
fi
[ -x "$KVMINI" ] || lab_die "no kvmini at '$KVMINI' (build it, or set KVMINI=path)"
lab_check_kvmini "$KVMINI"
lab_images
lab_mode

have() { local a; for a in "${USER_ARGS[@]}"; do [ "$a" = "$1" ] && return 0; done; return 1; }
USER_ARGS=("$@")

if [ "$LAB_MODE" = direct ]; then
	args=(run)
	have --kernel || args+=(--kernel "$IMG/${LAB_KERNELS[0]}")
	have --initrd || args+=(--initrd "$IMG/guest-initrd.cpio.gz")
	have --cmdline || args+=(--cmdline "console=ttyS0 quiet panic=-1")
	echo "boot.sh: $LAB_MODE_WHY: running kvmini directly" >&2
	exec "$KVMINI" "${args[@]}" "$@"
fi

# Lab: rewrite host files named by options to their copies in L1's /lab/extra.
args=(run)
have --kernel || args+=(--kernel "/lab/images/${LAB_KERNELS[0]}")
have --initrd || args+=(--initrd /lab/images/guest-initrd.cpio.gz)
have --cmdline || args+=(--cmdline "console=ttyS0 quiet panic=-1")
extra=()
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel|--initrd|--disk)
		[ $# -ge 2 ] || lab_die "$1 needs a value"
		if [ -f "$2" ]; then
			extra+=("$(realpath "$2")")
			args+=("$1" "/lab/extra/$(basename "$2")")
		else
			args+=("$1" "$2")
		fi
		shift 2 ;;
	*) args+=("$1"); shift ;;
	esac
done

cat >&2 <<EOF
boot.sh: booting inside the nested lab, because $LAB_MODE_WHY.
boot.sh: ${LAB_QEMU[0]} (TCG) boots an L1 Debian kernel with KVM
boot.sh: and runs on its console:  kvmini ${args[*]}
boot.sh: L1 takes a few seconds, the L2 guest about as long again. Exit the guest
boot.sh: shell to power off L2 and L1; Ctrl-A x quits qemu at once.
EOF
initramfs=$(mktemp "${TMPDIR:-/tmp}/kvmini-l1.XXXXXX.cpio")
trap 'rm -f "$initramfs"' EXIT
LAB_EXTRA=("${extra[@]}")
lab_initramfs "$initramfs" "$KVMINI" "" "LAB_MODE=interactive
LAB_ARGS=\"$(lab_quote "${args[@]}" | sed 's/["\\$`]/\\&/g')\""
"${LAB_QEMU[@]}" -chardev stdio,id=con,mux=on,signal=off -serial chardev:con -mon chardev=con \
	-kernel "$IMG/${LAB_KERNELS[0]}" -initrd "$initramfs" -append "$LAB_APPEND"
