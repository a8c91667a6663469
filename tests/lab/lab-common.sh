# tests/lab/lab-common.sh — shared by lab.sh and boot.sh (bash, sourced).
#
# Mode: "direct" runs on the host's /dev/kvm; "lab" boots an L1 Linux under
# qemu-system-x86_64 (TCG, AMD SVM offered) or qemu-system-aarch64 (TCG, EL2
# offered) and runs kvmini inside it.
#   KVMINI_LAB=0 forces direct, KVMINI_LAB=1 forces the lab; otherwise direct
#   when /dev/kvm exists and is hardware-backed for the guest's architecture:
#   x86_64: the CPU has vmx or svm and /dev/kvm is not kvm_pvm; aarch64: the
#   host is aarch64.
#   KVMINI_LAB_TCG=multi|single: QEMU's TCG runs L1's two CPUs on two host
#   threads (multi, the default) or takes turns on one (single). Building and
#   destroying VMs in a tight loop hangs the whole x86_64 L1 under multi now
#   and then (no output, no lockup report): 3 of 3 runs of 40 x 2 s of
#   --on-reboot restart hung, after 50 to 650 VMs; under single 60 x 2 s
#   (about 1,500 VMs) ran through. tests/kvm's tiny guests use single. Linux
#   guests must not: under single, 7 of 21 scenarios failed, the L2 kernel
#   faulting on its per-CPU (%gs) accesses or hanging.
# Call lab_arch ARCH (x86_64 when never called) before the others.

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$LAB_DIR/../.." && pwd)
. "$REPO_DIR/images/elf-libs.sh"
KVMINI_CACHE=${KVMINI_CACHE:-$HOME/.cache/kvmini}
export KVMINI_CACHE

lab_die() { echo "${LAB_PROG:-lab}: error: $*" >&2; exit 2; }
lab_log() { echo "${LAB_PROG:-lab}: $*" >&2; }

# lab_mode [linux|tiny]: where kvmini runs. The one place this is decided;
# tests/lab/test-mode.sh checks every branch. Sets LAB_MODE to "direct" or
# "lab" and LAB_MODE_WHY to the reason.
#   linux (default): Linux guests. Direct only where KVM is hardware-backed
#     for LAB_ARCH: x86_64 needs /dev/kvm, vmx or svm in /proc/cpuinfo, and
#     not kvm_pvm (a software hypervisor on which Linux takes minutes to
#     print its first line); aarch64 needs an aarch64 host with /dev/kvm.
#   tiny: the freestanding test guests of tests/kvm, a few thousand
#     instructions each. Direct wherever /dev/kvm is usable (kvm_pvm
#     included) on a host of LAB_ARCH.
#   KVMINI_LAB=0 forces direct, KVMINI_LAB=1 the lab, for either.
# LAB_HOST_ROOT (default empty) prefixes /dev/kvm, /sys/module and
# /proc/cpuinfo, and LAB_HOST_MACHINE replaces `uname -m`: for the tests.
lab_mode() {
	local need=${1:-linux} root=${LAB_HOST_ROOT:-} machine=${LAB_HOST_MACHINE:-$(uname -m)}
	local kvm=$root/dev/kvm
	case "${KVMINI_LAB:-}" in
	0) LAB_MODE=direct LAB_MODE_WHY="KVMINI_LAB=0"; return ;;
	1) LAB_MODE=lab LAB_MODE_WHY="KVMINI_LAB=1"; return ;;
	"") ;;
	*) lab_die "KVMINI_LAB='$KVMINI_LAB': use 0 (direct) or 1 (nested lab)" ;;
	esac
	LAB_MODE=lab
	if [ "$machine" != "$LAB_ARCH" ]; then
		LAB_MODE_WHY="this host is $machine, not $LAB_ARCH"
	elif [ ! -c "$kvm" ]; then
		LAB_MODE_WHY="no /dev/kvm on this host"
	elif [ ! -r "$kvm" ] || [ ! -w "$kvm" ]; then
		LAB_MODE_WHY="/dev/kvm is not readable and writable by this user"
	elif [ "$need" = tiny ]; then
		LAB_MODE=direct LAB_MODE_WHY="/dev/kvm is usable here"
		[ -d "$root/sys/module/kvm_pvm" ] && LAB_MODE_WHY="$LAB_MODE_WHY (kvm_pvm: slow, but fine for tiny guests)"
	elif [ "$LAB_ARCH" = aarch64 ]; then
		LAB_MODE=direct LAB_MODE_WHY="/dev/kvm on an aarch64 host"
	elif [ -d "$root/sys/module/kvm_pvm" ]; then
		LAB_MODE_WHY="/dev/kvm here is kvm_pvm, a software hypervisor that runs a Linux guest far too slowly"
	elif ! grep -Eqw 'vmx|svm' "$root/proc/cpuinfo" 2>/dev/null; then
		LAB_MODE_WHY="the CPU offers no vmx/svm, so /dev/kvm is not hardware-backed"
	else
		LAB_MODE=direct LAB_MODE_WHY="/dev/kvm is hardware-backed"
	fi
}

# lab_arch ARCH: the guest (and L1) architecture, x86_64 or aarch64. Sets
# LAB_ARCH, LAB_KERNELS (the kernel files of the image directory: the first
# is L1's kernel and the L2 default), LAB_QEMU (L1's qemu command, without
# console and kernel) and LAB_APPEND (L1's command line).
lab_arch() {
	LAB_TCG=${KVMINI_LAB_TCG:-multi}
	case $LAB_TCG in
	multi|single) ;;
	*) lab_die "KVMINI_LAB_TCG=$LAB_TCG: not multi or single" ;;
	esac
	case "$1" in
	x86_64)
		LAB_ARCH=x86_64
		LAB_KERNELS=(bzImage vmlinux)
		# QEMU's TCG offers AMD SVM with nested paging.
		LAB_QEMU=(qemu-system-x86_64 -accel tcg,thread=$LAB_TCG -cpu max -smp 2 -m 2048
			-nographic -nodefaults -no-reboot)
		LAB_APPEND="console=ttyS0 rdinit=/init panic=-1 quiet"
		;;
	aarch64|arm64)
		LAB_ARCH=aarch64
		LAB_KERNELS=(Image)
		# virtualization=on: EL2 for L1, which runs KVM in VHE mode (built
		# into Debian's arm64 kernel); GICv3 for its vGIC.
		LAB_QEMU=(qemu-system-aarch64 -M virt,virtualization=on,gic-version=3
			-cpu max,pauth-impdef=on -accel tcg,thread=$LAB_TCG -smp 2 -m 2048
			-nographic -nodefaults -no-reboot)
		LAB_APPEND="console=ttyAMA0 rdinit=/init panic=-1 quiet"
		;;
	*) lab_die "--arch $1: not x86_64 or aarch64" ;;
	esac
}
lab_arch x86_64

# Sets IMG to the image directory of LAB_ARCH, building the images when they
# are missing or stale: build-guest.sh compares its stamp (package versions
# and its own checksum) and returns at once when the cache is current, so a
# cache left by an older checkout never serves a guest without today's modules.
lab_images() {
	IMG=$KVMINI_CACHE/$LAB_ARCH
	"$REPO_DIR/images/build-guest.sh" --arch "$LAB_ARCH" >&2 ||
		lab_die "images/build-guest.sh --arch $LAB_ARCH failed"
	local f
	for f in "${LAB_KERNELS[@]}" guest-initrd.cpio.gz busybox modules/kvm.order; do
		[ -e "$IMG/$f" ] || lab_die "images/build-guest.sh left no $IMG/$f"
	done
}

# lab_check_kvmini PATH: dies unless PATH is an ELF executable for LAB_ARCH.
lab_check_kvmini() {
	local want m
	case "$LAB_ARCH" in x86_64) want="X86-64" ;; aarch64) want="AArch64" ;; esac
	m=$(readelf -h "$1" 2>/dev/null | sed -n 's/^ *Machine: *//p')
	[ -n "$m" ] || lab_die "kvmini '$1' is not an ELF file"
	case "$m" in *"$want"*) ;; *) lab_die "kvmini '$1' is built for $m, not $LAB_ARCH" ;; esac
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
	# A foreign busybox cannot list its applets here: build-guest.sh did.
	if [ -f "$IMG/busybox.applets" ]; then a=$(cat "$IMG/busybox.applets"); else a=$("$IMG/busybox" --list); fi
	for a in $a; do
		[ "$a" = busybox ] || ln -s busybox "$r/bin/$a"
	done
	while read -r a; do cp "$IMG/modules/$a" "$r/lib/modules/"; done <"$IMG/modules/kvm.order"
	cp "$IMG/modules/kvm.order" "$r/lib/modules/"
	cp "$kvmini" "$r/lab/bin/kvmini"
	if [ "$LAB_ARCH" = aarch64 ] && [ "$(uname -m)" != aarch64 ]; then
		# A cross-built kvmini: ldd cannot run it. Its interpreter and
		# DT_NEEDED libraries come from the cross sysroot (or the arm64
		# multiarch directories) into L1's /lib/aarch64-linux-gnu, which
		# ld-linux-aarch64.so.1 searches. A static kvmini needs nothing.
		elf_copy_libs "$r" "$kvmini" lib/aarch64-linux-gnu \
			/usr/aarch64-linux-gnu/lib /usr/lib/aarch64-linux-gnu /lib/aarch64-linux-gnu ||
			lab_die "cannot gather kvmini's shared libraries (install libc6-dev-arm64-cross, or link kvmini statically)"
		# libgcc_s is loaded at run time (glibc's backtrace(), which the
		# seccomp trap uses to say where a forbidden call came from).
		for lib in /usr/aarch64-linux-gnu/lib/libgcc_s.so.1 /usr/lib/aarch64-linux-gnu/libgcc_s.so.1; do
			[ -e "$lib" ] && { cp -L "$lib" "$r/lib/aarch64-linux-gnu/"; break; }
		done
	elif ldd "$kvmini" >/dev/null 2>&1; then
		# Every shared object ldd names, the dynamic loader included, at its path.
		for lib in $(ldd "$kvmini" | grep -o '/[^ ]*'); do
			mkdir -p "$r$(dirname "$lib")"
			cp -L "$lib" "$r$lib"
		done
		# ... and libgcc_s, loaded at run time by glibc's backtrace().
		lib=$(gcc -print-file-name=libgcc_s.so.1 2>/dev/null)
		[ -e "/lib/$(uname -m)-linux-gnu/libgcc_s.so.1" ] && lib=/lib/$(uname -m)-linux-gnu/libgcc_s.so.1
		if [ -e "$lib" ]; then
			mkdir -p "$r/lib/$(uname -m)-linux-gnu"
			cp -L "$lib" "$r/lib/$(uname -m)-linux-gnu/libgcc_s.so.1"
		fi
	fi
	# Host programs a run needs beyond busybox (LAB_HOST_TOOLS, e.g. bash,
	# script, setpriv), with their libraries, into /lab/hostbin. Only for an
	# L1 of the host's own architecture.
	if [ -n "${LAB_HOST_TOOLS:-}" ]; then
		mkdir -p "$r/lab/hostbin"
		for a in $LAB_HOST_TOOLS; do
			lib=$(command -v "$a") || lab_die "LAB_HOST_TOOLS: '$a' not found on this host"
			cp -L "$lib" "$r/lab/hostbin/$a"
			for lib in $(ldd "$lib" 2>/dev/null | grep -o '/[^ ]*'); do
				mkdir -p "$r$(dirname "$lib")"
				[ -e "$r$lib" ] || cp -L "$lib" "$r$lib"
			done
		done
	fi
	for a in "${LAB_KERNELS[@]}" guest-initrd.cpio.gz; do cp "$IMG/$a" "$r/lab/images/"; done
	if [ -n "$scen" ]; then
		cp "$scen"/*.sh "$r/lab/scenarios/" 2>/dev/null || true
	fi
	# Test guests (e.g. tests/guests/arm64/build.sh output): /lab/guests = $GUESTS.
	if [ -n "${KVMINI_LAB_GUESTS:-}" ]; then
		mkdir -p "$r/lab/guests"
		cp "$KVMINI_LAB_GUESTS"/* "$r/lab/guests/"
	fi
	# Helpers shared by every architecture's scenarios (LAB_COMMON).
	mkdir -p "$r/lab/common"
	cp "$LAB_DIR"/scenarios/common/*.sh "$r/lab/common/" 2>/dev/null || true
	# boot.sh: files named on its command line, as /lab/extra/<name>.
	if [ -n "${LAB_EXTRA+x}" ] && [ ${#LAB_EXTRA[@]} -gt 0 ]; then
		mkdir -p "$r/lab/extra"
		cp "${LAB_EXTRA[@]}" "$r/lab/extra/"
	fi
	cp "$LAB_DIR/run-scenarios.sh" "$r/lab/"
	cp "$LAB_DIR/l1-init.sh" "$r/init"
	chmod 755 "$r/init"
	printf '%s\n' "$config" "LAB_ARCH=$LAB_ARCH" >"$r/lab/config"
	mknod -m 600 "$r/dev/console" c 5 1 2>/dev/null || true
	(cd "$r" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$out"
	rm -rf "$r"
}

# Quote each argument for the L1 shell (single quotes, ' escaped).
lab_quote() {
	local a out=""
	for a in "$@"; do
		out+="'${a//\'/\'\\\'\'}' "
	done
	printf '%s' "$out"
}
