# tests/lab/lab-common.sh — shared by lab.sh and boot.sh (bash, sourced).
#
# Mode: "direct" runs on the host's /dev/kvm; "lab" boots an L1 Linux under
# qemu-system-x86_64 (TCG, AMD SVM offered) and runs kvmini inside it.
#   KVMINI_LAB=0 forces direct, KVMINI_LAB=1 forces the lab; otherwise direct
#   when /dev/kvm exists, the CPU has vmx or svm and /dev/kvm is not kvm_pvm.

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$LAB_DIR/../.." && pwd)
KVMINI_CACHE=${KVMINI_CACHE:-$HOME/.cache/kvmini}
export KVMINI_CACHE

lab_die() { echo "${LAB_PROG:-lab}: error: $*" >&2; exit 2; }
lab_log() { echo "${LAB_PROG:-lab}: $*" >&2; }

# Sets LAB_MODE to "direct" or "lab" and LAB_MODE_WHY to the reason.
lab_mode() {
	case "${KVMINI_LAB:-}" in
	0) LAB_MODE=direct LAB_MODE_WHY="KVMINI_LAB=0"; return ;;
	1) LAB_MODE=lab LAB_MODE_WHY="KVMINI_LAB=1"; return ;;
	esac
	if [ ! -c /dev/kvm ]; then
		LAB_MODE=lab LAB_MODE_WHY="no /dev/kvm on this host"
	elif [ -d /sys/module/kvm_pvm ]; then
		LAB_MODE=lab LAB_MODE_WHY="/dev/kvm here is kvm_pvm, a software hypervisor that runs a Linux guest far too slowly"
	elif ! grep -Eqw 'vmx|svm' /proc/cpuinfo; then
		LAB_MODE=lab LAB_MODE_WHY="the CPU offers no vmx/svm, so /dev/kvm is not hardware-backed"
	else
		LAB_MODE=direct LAB_MODE_WHY="/dev/kvm is hardware-backed"
	fi
}

# Sets IMG to the x86_64 image directory, building the images if missing.
lab_images() {
	IMG=$KVMINI_CACHE/x86_64
	local f
	for f in bzImage vmlinux guest-initrd.cpio.gz busybox modules/kvm.order; do
		if [ ! -e "$IMG/$f" ]; then
			lab_log "guest images missing in $IMG; building them (images/build-guest.sh)"
			"$REPO_DIR/images/build-guest.sh" || lab_die "images/build-guest.sh failed"
			break
		fi
	done
}

# lab_initramfs OUT KVMINI SCENARIO_DIR CONFIG_TEXT
# Writes an uncompressed newc cpio (the kernel unpacks it faster under TCG
# than it would decompress anything) holding busybox, the kvm modules, kvmini
# with its shared libraries at their host paths, the L2 images and scenarios.
lab_initramfs() {
	local out=$1 kvmini=$2 scen=$3 config=$4
	local r lib a
	r=$(mktemp -d "${TMPDIR:-/tmp}/kvmini-l1.XXXXXX")
	mkdir -p "$r"/{bin,sbin,proc,sys,dev,tmp,work,lib/modules,lab/bin,lab/images,lab/scenarios}
	cp "$IMG/busybox" "$r/bin/busybox"
	for a in $("$IMG/busybox" --list); do
		[ "$a" = busybox ] || ln -s busybox "$r/bin/$a"
	done
	while read -r a; do cp "$IMG/modules/$a" "$r/lib/modules/"; done <"$IMG/modules/kvm.order"
	cp "$IMG/modules/kvm.order" "$r/lib/modules/"
	cp "$kvmini" "$r/lab/bin/kvmini"
	# Every shared object ldd names, the dynamic loader included, at its path.
	if ldd "$kvmini" >/dev/null 2>&1; then
		for lib in $(ldd "$kvmini" | grep -o '/[^ ]*'); do
			mkdir -p "$r$(dirname "$lib")"
			cp -L "$lib" "$r$lib"
		done
	fi
	cp "$IMG/bzImage" "$IMG/vmlinux" "$IMG/guest-initrd.cpio.gz" "$r/lab/images/"
	if [ -n "$scen" ]; then
		cp "$scen"/*.sh "$r/lab/scenarios/" 2>/dev/null || true
	fi
	# boot.sh: files named on its command line, as /lab/extra/<name>.
	if [ -n "${LAB_EXTRA+x}" ] && [ ${#LAB_EXTRA[@]} -gt 0 ]; then
		mkdir -p "$r/lab/extra"
		cp "${LAB_EXTRA[@]}" "$r/lab/extra/"
	fi
	cp "$LAB_DIR/run-scenarios.sh" "$r/lab/"
	cp "$LAB_DIR/l1-init.sh" "$r/init"
	chmod 755 "$r/init"
	printf '%s\n' "$config" >"$r/lab/config"
	mknod -m 600 "$r/dev/console" c 5 1 2>/dev/null || true
	(cd "$r" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$out"
	rm -rf "$r"
}

# The qemu command line for L1 (QEMU's TCG offers AMD SVM with nested paging).
LAB_QEMU=(qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 -m 2048
	-nographic -nodefaults -no-reboot)
LAB_APPEND="console=ttyS0 rdinit=/init panic=-1 quiet"

# Quote each argument for the L1 shell (single quotes, ' escaped).
lab_quote() {
	local a out=""
	for a in "$@"; do
		out+="'${a//\'/\'\\\'\'}' "
	done
	printf '%s' "$out"
}
