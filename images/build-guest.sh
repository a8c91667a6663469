#!/bin/sh
# images/build-guest.sh — build the guest kernel images and initramfs.
#
# Usage:
#   images/build-guest.sh            build (or reuse) the images in the cache
#   images/build-guest.sh --force    rebuild even if the cache is up to date
#   images/build-guest.sh --print    print the output directory and exit
#   images/build-guest.sh --arch aarch64 [--force|--print]
#                                    the same for arm64 guests (default x86_64)
#
# Everything lives outside the repository, in
#   ${KVMINI_CACHE:-$HOME/.cache/kvmini}/
#     dl/                       downloaded .deb files
#     x86_64/bzImage            Debian cloud kernel (linux-image-*-cloud-amd64)
#     x86_64/vmlinux            the ELF inside the bzImage (carries the PVH note)
#     x86_64/modules/           virtio, pvpanic and kvm modules (flat, *.ko),
#                               modules.dep, guest.order and kvm.order (the
#                               load order, dependencies first)
#     x86_64/busybox            busybox-static (also used by the nested lab)
#     x86_64/kernel.release     `uname -r` of the kernel
#     x86_64/guest-initrd.cpio.gz   busybox initramfs for a guest
#     x86_64/.stamp             what the above were built from
#     aarch64/Image             Debian's arm64 kernel (linux-image-*-arm64:arm64),
#                               an uncompressed arm64 Image ("ARM\x64" at 0x38)
#     aarch64/modules/          as for x86_64; guest.order also has ext4 (a
#                               module there), kvm.order only tun (KVM is
#                               built in); Debian's arm64 kernel has no pvpanic
#     aarch64/busybox           busybox-static:arm64
#     aarch64/busybox.applets   its applet names (it cannot run on an x86 host)
#     aarch64/kernel.release, guest-initrd.cpio.gz, .stamp   as for x86_64
#
# arm64 packages come from the arm64 dpkg architecture (dpkg --add-architecture
# arm64 && apt-get update; images/install-deps.sh does it). The guest's
# mkfs.ext4 is e2fsprogs:arm64 with its libraries (apt-get download too), and
# busybox's applet list comes from running it under qemu-aarch64-static.
#
# The kernel package is resolved from the meta package linux-image-cloud-amd64
# (override with KVMINI_KERNEL_PKG=linux-image-6.1.0-NN-cloud-amd64), for
# arm64 from linux-image-arm64:arm64. The work
# is skipped when .stamp matches the package versions and this script.
# Needs: apt-get/apt-cache (Debian), dpkg-deb, lz4, cpio, gzip, readelf
# (binutils). Run images/install-deps.sh first on a fresh machine. Root is not
# required (apt-get download works as any user).
#
# The guest's /init:
#   mounts proc, sys, devtmpfs; loads virtio + pvpanic modules; prints
#     KVMINI-GUEST-UP cpus=<N> kernel=<uname -r>
#   then, if the kernel command line had "-- <command>", runs sh -c "<command>"
#   and prints KVMINI-GUEST-CMD-EXIT <rc>; otherwise starts a shell on the
#   console. The command's (or the shell's) exit status goes, as decimal text
#   and a newline, to the virtio-console port named kvmini.exit if there is
#   one (kvmini run --guest-status). Finally it powers off (poweroff -f).
#   With console=hvc0 alone (kvmini run --console virtio) the kernel has no
#   console for init until virtio_console is loaded: init then opens
#   /dev/console once hvc0 is there.
#   Example cmdline: "console=ttyS0 quiet panic=-1 -- cat /proc/interrupts"
#   (arm64: "console=ttyS0" too: kvmini's arm64 console is a 16550.)
set -eu

ARCH=x86_64
FORCE=0 PRINT=0
while [ $# -gt 0 ]; do
	case "$1" in
	--force) FORCE=1; shift ;;
	--print) PRINT=1; shift ;;
	--arch) ARCH=${2:-}; shift 2 2>/dev/null || shift ;;
	--arch=*) ARCH=${1#--arch=}; shift ;;
	-h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "build-guest.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
done

CACHE=${KVMINI_CACHE:-$HOME/.cache/kvmini}
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
IMAGES_DIR=$(dirname "$SELF")
case "$ARCH" in
x86_64)
	DEBARCH=amd64
	META_PKG=linux-image-cloud-amd64
	# Modules the guest initramfs loads, and the ones the nested lab's L1 needs.
	GUEST_MODULES="virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev
	  virtio_pci virtio_mmio virtio_blk failover net_failover virtio_net
	  virtio_console pvpanic pvpanic_mmio pvpanic_pci"
	# (L1 also gets tun, for the tap devices of the network scenarios.)
	KVM_MODULES="irqbypass kvm kvm_amd kvm_intel tun"
	TOOLS="apt-cache apt-get dpkg-deb lz4 cpio gzip readelf"
	;;
aarch64|arm64)
	ARCH=aarch64
	DEBARCH=arm64
	META_PKG=linux-image-arm64
	# virtio and virtio_ring are built in; ext4 is a module in Debian's arm64
	# kernel (with jbd2, mbcache, crc16), and mounting it needs crc32c.
	# pvpanic is not configured at all (names kept for later kernels).
	GUEST_MODULES="virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev
	  virtio_pci virtio_mmio virtio_blk failover net_failover virtio_net
	  virtio_console pvpanic pvpanic_mmio pvpanic_pci crc32c_generic ext4"
	# KVM is built in (CONFIG_KVM=y); L1 needs only tun.
	KVM_MODULES="tun"
	# mkfs.ext4 for the guest: e2fsprogs:arm64 and the packages holding what
	# its DT_NEEDED lists (checked when they are copied).
	E2FS_PKGS="e2fsprogs libext2fs2 libcom-err2 libblkid1 libuuid1 libc6"
	TOOLS="apt-cache apt-get dpkg-deb cpio gzip readelf qemu-aarch64-static"
	;;
*) echo "build-guest.sh: --arch: '$ARCH' is not x86_64 or aarch64" >&2; exit 2 ;;
esac
OUT=$CACHE/$ARCH
DL=$CACHE/dl
[ $PRINT = 1 ] && { echo "$OUT"; exit 0; }
# Packages of another dpkg architecture are named NAME:ARCH.
QUAL=""
[ "$(dpkg --print-architecture 2>/dev/null)" = "$DEBARCH" ] || QUAL=":$DEBARCH"

log() { echo "build-guest: $*" >&2; }
die() { echo "build-guest: error: $*" >&2; exit 1; }

for t in $TOOLS; do
	command -v "$t" >/dev/null 2>&1 || die "'$t' not found; run images/install-deps.sh"
done
if [ -n "$QUAL" ] && ! dpkg --print-foreign-architectures | grep -qx "$DEBARCH"; then
	die "dpkg architecture $DEBARCH missing: run images/install-deps.sh (or dpkg --add-architecture $DEBARCH && apt-get update)"
fi
# Run a program of the guest's architecture on this host.
run_target() {
	case "$ARCH:$(uname -m)" in
	x86_64:x86_64|aarch64:aarch64) "$@" ;;
	aarch64:*) qemu-aarch64-static "$@" ;;
	esac
}

# --- resolve package versions -------------------------------------------------
pkg_version() {
	apt-cache show --no-all-versions "$1$QUAL" 2>/dev/null | sed -n 's/^Version: //p' | head -n1
}
KPKG=${KVMINI_KERNEL_PKG:-$(apt-cache depends "$META_PKG$QUAL" 2>/dev/null |
	sed -n 's/^ *Depends: \(linux-image-[0-9][^:]*\)\(:.*\)\{0,1\}$/\1/p' | head -n1)}
[ -n "$KPKG" ] || die "cannot resolve $META_PKG$QUAL to a kernel package (run apt-get update?)"
KVER=$(pkg_version "$KPKG")
BBVER=$(pkg_version busybox-static)
[ -n "$KVER" ] && [ -n "$BBVER" ] || die "no version for $KPKG$QUAL or busybox-static$QUAL (run apt-get update?)"
SCRIPT_SUM=$(cksum <"$SELF" | cut -d' ' -f1)
STAMP="kernel=$KPKG/$KVER busybox=$BBVER script=$SCRIPT_SUM"
E2FS_VERS=""
if [ "$ARCH" = aarch64 ]; then
	for p in $E2FS_PKGS; do
		v=$(pkg_version "$p")
		[ -n "$v" ] || die "no version for $p$QUAL (run apt-get update?)"
		E2FS_VERS="$E2FS_VERS $p=$v"
	done
	STAMP="$STAMP e2fs=$(echo "$E2FS_VERS" | cksum | cut -d' ' -f1) elflibs=$(cksum <"$IMAGES_DIR/elf-libs.sh" | cut -d' ' -f1)"
	KFILES="Image guest-initrd.cpio.gz"
else
	KFILES="bzImage vmlinux guest-initrd.cpio.gz"
fi

uptodate=1
[ $FORCE = 0 ] && [ -f "$OUT/.stamp" ] && [ "$(cat "$OUT/.stamp")" = "$STAMP" ] || uptodate=0
for f in $KFILES; do [ -f "$OUT/$f" ] || uptodate=0; done
if [ $uptodate = 1 ]; then
	log "up to date ($STAMP) in $OUT"
	exit 0
fi
log "building $ARCH from $KPKG $KVER and busybox-static $BBVER"

# --- download -------------------------------------------------------------------
mkdir -p "$DL" "$CACHE"
# Debian file names escape the epoch colon as %3a.
deb_path() { echo "$DL/${1}_$(echo "$2" | sed 's/:/%3a/')_$DEBARCH.deb"; }
fetch() {
	f=$(deb_path "$1" "$2")
	if [ ! -s "$f" ]; then
		log "downloading $1=$2"
		# apt-get download writes into the current directory; as root it warns
		# that _apt cannot write there, which is harmless.
		(cd "$DL" && apt-get download -q "$1$QUAL=$2" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) ||
			die "apt-get download $1$QUAL=$2 failed"
		[ -s "$f" ] || die "download of $1$QUAL=$2 did not produce $f"
	fi
	echo "$f"
}
KDEB=$(fetch "$KPKG" "$KVER")
BBDEB=$(fetch busybox-static "$BBVER")
E2FS_DEBS=""
for pv in $E2FS_VERS; do
	E2FS_DEBS="$E2FS_DEBS $(fetch "${pv%%=*}" "${pv#*=}")"
done

TMP=$(mktemp -d "$CACHE/.build.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM
NEW=$TMP/out
mkdir -p "$NEW/modules"

log "unpacking"
dpkg-deb -x "$KDEB" "$TMP/k"
dpkg-deb -x "$BBDEB" "$TMP/bb"
cp "$TMP/bb/bin/busybox" "$NEW/busybox"
REL=$(ls "$TMP/k/lib/modules" | head -n1)
[ -n "$REL" ] || die "no lib/modules in $KDEB"
echo "$REL" >"$NEW/kernel.release"
if [ "$ARCH" = aarch64 ]; then
	# --- Image: Debian's arm64 vmlinuz is an uncompressed Image -------------------
	# (Documentation/arch/arm64/booting.rst: magic "ARM\x64" at offset 0x38.)
	# Should a later one be gzip-compressed, decompress it.
	case "$(od -An -tx1 -N2 "$TMP/k/boot/vmlinuz-$REL" | tr -d ' ')" in
	1f8b) gzip -dc <"$TMP/k/boot/vmlinuz-$REL" >"$NEW/Image" || die "vmlinuz: gzip failed" ;;
	*) cp "$TMP/k/boot/vmlinuz-$REL" "$NEW/Image" ;;
	esac
	[ "$(od -An -tx1 -j 56 -N4 "$NEW/Image" | tr -d ' ')" = 41524d64 ] ||
		die "vmlinuz-$REL is not an arm64 Image (no \"ARM\\x64\" magic at 0x38)"
	log "Image: arm64 Image, $(wc -c <"$NEW/Image") bytes"
else
cp "$TMP/k/boot/vmlinuz-$REL" "$NEW/bzImage"

# --- vmlinux: the ELF inside the bzImage ---------------------------------------------
# Boot protocol (Documentation/arch/x86/boot.rst): setup_sects at 0x1f1 (0
# means 4), payload_offset (u32 at 0x248) and payload_length (u32 at 0x24c)
# relative to the protected-mode code, which starts at (setup_sects+1)*512.
u8() { od -An -tu1 -j "$2" -N1 "$1" | tr -d ' '; }
u32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; } # host is little-endian x86_64
BZ=$NEW/bzImage
[ "$(dd if="$BZ" bs=1 skip=514 count=4 2>/dev/null)" = HdrS ] || die "bzImage has no HdrS header"
SS=$(u8 "$BZ" 497)
[ "$SS" = 0 ] && SS=4
POFF=$(u32 "$BZ" 584)
PLEN=$(u32 "$BZ" 588)
START=$(((SS + 1) * 512 + POFF))
log "payload: setup_sects=$SS offset=$START length=$PLEN"
tail -c +$((START + 1)) "$BZ" | head -c "$PLEN" >"$TMP/payload"
MAGIC=$(od -An -tx1 -N4 "$TMP/payload" | tr -d ' ')
case "$MAGIC" in
02214c18) # LZ4 legacy frame. The kernel appends the 4-byte uncompressed size,
	# which lz4 reads as a bogus block header: it reports an error after
	# writing all data, so judge the result by its ELF header instead.
	lz4 -dc <"$TMP/payload" >"$NEW/vmlinux" 2>"$TMP/lz4.err" || true ;;
1f8b*) gzip -dc <"$TMP/payload" >"$NEW/vmlinux" 2>/dev/null || true ;;
fd377a58*) xz -dc <"$TMP/payload" >"$NEW/vmlinux" 2>/dev/null || true ;;
28b52ffd) zstd -dc <"$TMP/payload" >"$NEW/vmlinux" 2>/dev/null || true ;;
*) die "unknown payload compression (magic $MAGIC)" ;;
esac
[ "$(od -An -c -N4 "$NEW/vmlinux" | tr -d ' ')" = '177ELF' ] || {
	cat "$TMP/lz4.err" >&2 2>/dev/null || true
	die "payload did not decompress to an ELF"
}
readelf -n "$NEW/vmlinux" | grep -Eq 'Unknown note type: \(0x00000012\)|PHYS32_ENTRY' ||
	die "vmlinux has no Xen PVH note (XEN_ELFNOTE_PHYS32_ENTRY, type 0x12)"
log "vmlinux: ELF with PVH entry note, $(wc -c <"$NEW/vmlinux") bytes"
fi

# --- modules --------------------------------------------------------------------------
KMOD=$TMP/k/lib/modules/$REL
# Map module name -> file; names treat '-' and '_' alike.
# Index "name path" once (names with '_' for '-'): the lookups below are many.
find "$KMOD" -name '*.ko*' | awk '{ n = $0; sub(/.*\//, "", n); sub(/\.ko.*/, "", n); gsub(/-/, "_", n); print n, $0 }' >"$TMP/modindex"
mod_file() {
	awk -v n="$(echo "$1" | tr - _)" '$1 == n { print $2; found = 1; exit } END { exit !found }' "$TMP/modindex"
}
# The module as a plain .ko in $NEW/modules (decompressing .ko.xz/.ko.zst/.ko.gz).
mod_stage() {
	local f b
	f=$1
	b=$(basename "$f"); b=${b%%.ko*}.ko
	case "$f" in
	*.ko.xz) xz -dc "$f" >"$NEW/modules/$b" ;;
	*.ko.zst) zstd -qdc "$f" >"$NEW/modules/$b" ;;
	*.ko.gz) gzip -dc "$f" >"$NEW/modules/$b" ;;
	*) cp "$f" "$NEW/modules/$b" ;;
	esac
	echo "$b"
}
mod_depends() { readelf -p .modinfo "$NEW/modules/$1" 2>/dev/null | sed -n 's/.*depends=//p' | tr , ' '; }
# Depth-first: dependencies before dependants. Appends to $2 (an order file).
SEEN=" "
add_module() {
	local n f b deps dlist d # recursive: dash and busybox sh support local
	n=$(echo "$1" | tr - _)
	case "$SEEN" in *" $n "*) return 0 ;; esac
	SEEN="$SEEN$n "
	f=$(mod_file "$n") || { log "note: no module $n in this kernel (built in or absent)"; return 0; }
	b=$(mod_stage "$f")
	deps=$(mod_depends "$b")
	dlist=""
	for d in $deps; do
		add_module "$d" "$2"
		dlist="$dlist $(basename "$(mod_file "$d")" | sed 's/\.ko.*/.ko/')"
	done
	echo "$b:$dlist" >>"$NEW/modules/modules.dep"
	echo "$b" >>"$2"
}
: >"$NEW/modules/modules.dep"
: >"$TMP/guest.order"
: >"$TMP/kvm.order"
for m in $GUEST_MODULES; do add_module "$m" "$TMP/guest.order"; done
SEEN=" " # the kvm list is independent of the guest list
for m in $KVM_MODULES; do add_module "$m" "$TMP/kvm.order"; done
sort -u "$NEW/modules/modules.dep" -o "$NEW/modules/modules.dep"
cp "$TMP/guest.order" "$NEW/modules/guest.order"
cp "$TMP/kvm.order" "$NEW/modules/kvm.order"
log "guest modules: $(tr '\n' ' ' <"$NEW/modules/guest.order")"
log "kvm modules: $(tr '\n' ' ' <"$NEW/modules/kvm.order")"

# --- guest initramfs --------------------------------------------------------------------
R=$TMP/root
mkdir -p "$R/bin" "$R/sbin" "$R/proc" "$R/sys" "$R/dev" "$R/tmp" "$R/root" "$R/lib/modules"
cp "$NEW/busybox" "$R/bin/busybox"
APPLETS=$(run_target "$R/bin/busybox" --list) || die "cannot list busybox's applets"
[ -n "$APPLETS" ] || die "busybox lists no applets"
[ "$ARCH" = x86_64 ] || echo "$APPLETS" >"$NEW/busybox.applets"
for a in $APPLETS; do
	[ "$a" = busybox ] || ln -s busybox "$R/bin/$a"
done
# mkfs.ext4 for the disk scenarios: busybox only makes ext2. Take the build
# host's e2fsprogs (a Debian package of the guest's architecture) with the
# shared libraries ldd names.
if [ "$ARCH" = aarch64 ]; then
	# e2fsprogs:arm64 and its libraries, unpacked (they cannot run here).
	mkdir -p "$TMP/e2fs"
	for d in $E2FS_DEBS; do dpkg-deb -x "$d" "$TMP/e2fs"; done
	[ -f "$TMP/e2fs/sbin/mke2fs" ] || die "no sbin/mke2fs in e2fsprogs:arm64"
	cp "$TMP/e2fs/sbin/mke2fs" "$R/sbin/mke2fs.real"
	ln -s mke2fs.real "$R/sbin/mkfs.ext4"
	. "$IMAGES_DIR/elf-libs.sh"
	elf_copy_libs "$R" "$TMP/e2fs/sbin/mke2fs" lib/aarch64-linux-gnu \
		"$TMP/e2fs/lib/aarch64-linux-gnu" "$TMP/e2fs/usr/lib/aarch64-linux-gnu" ||
		die "mke2fs:arm64 needs a library none of $E2FS_PKGS has"
	# Run it once under emulation, as the guest would.
	if [ "$(uname -m)" = aarch64 ]; then
		chk="chroot $R /sbin/mke2fs.real -V"
	else
		chk="qemu-aarch64-static -L $R $R/sbin/mke2fs.real -V"
	fi
	$chk >/dev/null 2>&1 || die "the guest's mke2fs does not run ($chk)"
	log "guest mkfs.ext4: e2fsprogs:arm64 with $(ls "$R/lib/aarch64-linux-gnu" | tr '\n' ' ')"
elif [ -x /sbin/mke2fs ] && [ "$(uname -m)" = x86_64 ]; then
	cp /sbin/mke2fs "$R/sbin/mke2fs.real"
	ln -s mke2fs.real "$R/sbin/mkfs.ext4"
	for lib in $(ldd /sbin/mke2fs | awk '/=>/ { print $3 } /^[[:space:]]*\// { print $1 }'); do
		mkdir -p "$R$(dirname "$lib")"
		cp -L "$lib" "$R$lib"
	done
else
	log "no /sbin/mke2fs on this host: the guest has no mkfs.ext4"
fi
while read -r m; do cp "$NEW/modules/$m" "$R/lib/modules/"; done <"$NEW/modules/guest.order"
cp "$NEW/modules/guest.order" "$R/lib/modules/load.order"
# The kernel's built-in initramfs already has /dev/console; add it anyway when
# we can (root), so the archive also works with a kernel that lacks one.
mknod -m 600 "$R/dev/console" c 5 1 2>/dev/null || true
cat >"$R/init" <<'EOF'
#!/bin/sh
# kvmini guest init (images/build-guest.sh). Arguments after " -- " on the
# kernel command line form a command run with sh -c.
export PATH=/bin:/sbin HOME=/root TERM=${TERM:-linux}
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmp /tmp
# console=hvc0 alone: the kernel had no console to give us (hvc0 comes with
# the virtio_console module below); hold /dev/null until it is there.
noconsole=0
[ -e /proc/self/fd/1 ] || { noconsole=1; exec </dev/null >/dev/null 2>&1; }
# insmod, unlike modprobe, ignores "module.param=value" on the kernel
# command line (e.g. virtio_pci.force_legacy=1): hand those over ourselves.
while read -r m; do
	name=$(basename "$m" .ko | tr - _)
	params=$(tr ' ' '\n' </proc/cmdline | sed -n "s/^$name\\.//p")
	insmod "/lib/modules/$m" $params 2>/dev/null
done </lib/modules/load.order
if [ $noconsole = 1 ]; then
	# hvc0 registers once the device has said which port is the console.
	# (Not probed by opening /dev/console: its last close would throw away
	# input that came in meanwhile.)
	i=0
	while [ $i -lt 100 ] && ! grep -q . /proc/consoles; do sleep 0.1; i=$((i + 1)); done
	grep -q . /proc/consoles && exec </dev/console >/dev/console 2>&1
fi
# report_status RC: RC to the virtio-console port named kvmini.exit, if the
# device has one. Port names arrive shortly after the driver loads, and
# kvmini names every port: wait (10 s at most) until each has its name.
report_status() {
	set -- /sys/bus/virtio/drivers/virtio_console/virtio*
	[ -e "$1" ] || return 0
	i=0
	while [ $i -lt 100 ]; do
		any=0 all=1
		for p in /sys/class/virtio-ports/*; do
			[ -e "$p" ] || continue
			any=1
			[ -e "$p/name" ] || all=0
		done
		[ $any = 1 ] && [ $all = 1 ] && break
		sleep 0.1
		i=$((i + 1))
	done
	for p in /sys/class/virtio-ports/*; do
		[ "$(cat "$p/name" 2>/dev/null)" = kvmini.exit ] || continue
		d=/dev/${p##*/}
		# no udev here; devtmpfs should have made it
		[ -c "$d" ] || mknod "$d" c $(tr : ' ' <"$p/dev")
		echo "$rc" >"$d"
	done
}
echo "KVMINI-GUEST-UP cpus=$(grep -c '^processor' /proc/cpuinfo) kernel=$(uname -r)"
if [ $# -gt 0 ]; then
	sh -c "$*"
	rc=$?
	echo "KVMINI-GUEST-CMD-EXIT $rc"
else
	echo "kvmini guest shell; exit it to power off"
	setsid cttyhack sh -l
	rc=$?
fi
report_status "$rc"
sync
poweroff -f
EOF
chmod 755 "$R/init"
(cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -9n >"$NEW/guest-initrd.cpio.gz"
log "guest initrd: $(wc -c <"$NEW/guest-initrd.cpio.gz") bytes"

echo "$STAMP" >"$NEW/.stamp"
rm -rf "$OUT.old"
[ -d "$OUT" ] && mv "$OUT" "$OUT.old"
mv "$NEW" "$OUT"
rm -rf "$OUT.old"
log "done: $OUT"
