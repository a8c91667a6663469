#!/bin/sh
# images/build-bench.sh — build the I/O benchmark guest: fio and iperf3 in an
# initramfs, for tests/bench/bench.sh.
#
# Usage:
#   images/build-bench.sh            build (or reuse) the benchmark initramfs
#   images/build-bench.sh --force    rebuild even if the cache is up to date
#   images/build-bench.sh --print    print the output directory and exit
#
# Output, in ${KVMINI_CACHE:-$HOME/.cache/kvmini}/x86_64/bench/:
#   bench-initrd.cpio   uncompressed newc initramfs (an L2 under the nested
#                       lab unpacks it faster than it would decompress it):
#                       busybox, the virtio modules, Debian's fio and iperf3
#                       with every library they need (DT_NEEDED, recursively)
#   root/               the same tree, unpacked: tests/bench runs fio and
#                       iperf3 from it on the VMM's own host (the host-direct
#                       ceiling, the iperf3 server) through root/lib64's
#                       dynamic loader, whatever the host has installed
#   packages.txt        the Debian packages (name=version) it came from
#   .stamp              what the above were built from
# The kernel, busybox and modules are images/build-guest.sh's (run first,
# if needed), so the benchmark boots the same kernel as the boot tests.
#
# The packages are fio, iperf3 and the library packages of their dependency
# closure (Depends/PreDepends, following only lib* and zlib1g packages),
# fetched with apt-get download into ../dl and unpacked with dpkg-deb -x;
# images/elf-libs.sh then copies just the shared objects the two programs
# need. Nothing is installed on the host.
#
# The guest's /init mounts proc, sys, devtmpfs and /tmp, loads the virtio
# modules, prints
#   KVMINI-BENCH-GUEST-UP cpus=<N> kernel=<uname -r>
# and runs /bench/guest.sh (tests/bench/bench.sh appends a second cpio
# archive holding it and the fio jobs), then powers off. Without
# /bench/guest.sh it starts a shell on the console.
set -eu

FORCE=0 PRINT=0
while [ $# -gt 0 ]; do
	case "$1" in
	--force) FORCE=1; shift ;;
	--print) PRINT=1; shift ;;
	-h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "build-bench.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
done

CACHE=${KVMINI_CACHE:-$HOME/.cache/kvmini}
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
IMAGES_DIR=$(dirname "$SELF")
IMG=$CACHE/x86_64
OUT=$IMG/bench
DL=$CACHE/dl
[ $PRINT = 1 ] && { echo "$OUT"; exit 0; }

log() { echo "build-bench: $*" >&2; }
die() { echo "build-bench: error: $*" >&2; exit 1; }

[ "$(uname -m)" = x86_64 ] || die "the benchmark guest is x86_64 only (this host is $(uname -m))"
for t in apt-cache apt-get dpkg-deb cpio readelf cksum; do
	command -v "$t" >/dev/null 2>&1 || die "'$t' not found; run images/install-deps.sh"
done
. "$IMAGES_DIR/elf-libs.sh"

# The kernel, busybox and modules come from build-guest.sh.
"$IMAGES_DIR/build-guest.sh" >&2 || die "images/build-guest.sh failed"
for f in bzImage busybox modules/guest.order .stamp; do
	[ -e "$IMG/$f" ] || die "$IMG/$f missing after images/build-guest.sh"
done

# --- which packages -------------------------------------------------------------
# fio and iperf3, then breadth-first over Depends/PreDepends, keeping library
# packages only (fio's own Depends name python3 and init-system-helpers,
# which it does not need to run).
closure() {
	seen=" " todo="fio iperf3"
	while [ -n "$todo" ]; do
		# One apt-cache call per level: each call costs seconds.
		# shellcheck disable=SC2086
		todo=$(apt-cache depends --no-recommends --no-suggests --no-conflicts \
			--no-breaks --no-replaces --no-enhances $todo 2>/dev/null |
			sed -n 's/^ *|\{0,1\}\(Pre\)\{0,1\}Depends: \([a-z0-9][^ :<]*\)$/\2/p' |
			grep -E '^(lib|zlib1g$)' | sort -u |
			while read -r p; do case "$seen" in *" $p "*) ;; *) echo "$p" ;; esac; done)
		for p in $todo; do seen="$seen$p "; done
	done
	echo "$seen fio iperf3" | tr ' ' '\n' | sed '/^$/d' | sort -u
}
PKGS=$(closure)
echo "$PKGS" | grep -qx fio || die "apt-cache knows no fio (run apt-get update?)"
# name=version, one a line, from one apt-cache call.
# shellcheck disable=SC2086
VERS=$(apt-cache show --no-all-versions $PKGS 2>/dev/null |
	awk '/^Package: / { p = $2 } /^Version: / && p != "" { print p "=" $2; p = "" }' | sort -u)
for p in $PKGS; do
	echo "$VERS" | grep -q "^$p=" || die "no version for $p (run apt-get update?)"
done
SCRIPT_SUM=$(cat "$SELF" "$IMAGES_DIR/elf-libs.sh" | cksum | cut -d' ' -f1)
STAMP="guest=$(cksum <"$IMG/.stamp" | cut -d' ' -f1) pkgs=$(echo "$VERS" | cksum | cut -d' ' -f1) script=$SCRIPT_SUM"
if [ $FORCE = 0 ] && [ -f "$OUT/.stamp" ] && [ "$(cat "$OUT/.stamp")" = "$STAMP" ] &&
	[ -f "$OUT/bench-initrd.cpio" ] && [ -x "$OUT/root/usr/bin/fio" ]; then
	log "up to date in $OUT"
	exit 0
fi
log "building from $(echo "$VERS" | grep -E '^(fio|iperf3)=' | tr '\n' ' ')and $(($(echo "$VERS" | wc -l) - 2)) library packages"

# --- download and unpack ------------------------------------------------------------
mkdir -p "$DL"
# Debian file names escape the epoch colon as %3a.
deb_path() { echo "$DL/${1}_$(echo "$2" | sed 's/:/%3a/')_$3.deb"; }
want=""
for pv in $VERS; do
	p=${pv%%=*} v=${pv#*=}
	[ -s "$(deb_path "$p" "$v" amd64)" ] || [ -s "$(deb_path "$p" "$v" all)" ] || want="$want $pv"
done
if [ -n "$want" ]; then
	log "downloading$want"
	# shellcheck disable=SC2086
	(cd "$DL" && apt-get download -q $want 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) ||
		die "apt-get download failed"
fi
TMP=$(mktemp -d "$CACHE/.bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM
P=$TMP/pkgs
mkdir -p "$P"
for pv in $VERS; do
	p=${pv%%=*} v=${pv#*=}
	f=$(deb_path "$p" "$v" amd64)
	[ -s "$f" ] || f=$(deb_path "$p" "$v" all)
	[ -s "$f" ] || die "download of $pv did not produce a .deb in $DL"
	dpkg-deb -x "$f" "$P"
done

# --- the tree -------------------------------------------------------------------------
NEW=$TMP/out
R=$NEW/root
mkdir -p "$R/bin" "$R/sbin" "$R/usr/bin" "$R/proc" "$R/sys" "$R/dev" "$R/tmp" "$R/root" \
	"$R/lib/modules" "$R/bench"
cp "$IMG/busybox" "$R/bin/busybox"
for a in $("$R/bin/busybox" --list); do
	[ "$a" = busybox ] || ln -s busybox "$R/bin/$a"
done
while read -r m; do cp "$IMG/modules/$m" "$R/lib/modules/"; done <"$IMG/modules/guest.order"
cp "$IMG/modules/guest.order" "$R/lib/modules/load.order"
LIBDIR=lib/x86_64-linux-gnu
SEARCH="$P/lib/x86_64-linux-gnu $P/usr/lib/x86_64-linux-gnu $P/usr/lib/x86_64-linux-gnu/ceph"
for prog in fio iperf3; do
	[ -f "$P/usr/bin/$prog" ] || die "no usr/bin/$prog in the $prog package"
	cp "$P/usr/bin/$prog" "$R/usr/bin/$prog"
	# shellcheck disable=SC2086
	elf_copy_libs "$R" "$R/usr/bin/$prog" "$LIBDIR" $SEARCH ||
		die "$prog needs a library that none of the packages holds"
done
# glibc loads libgcc_s at run time (thread cancellation, unwinding).
[ -e "$R/$LIBDIR/libgcc_s.so.1" ] || cp -L "$P/lib/x86_64-linux-gnu/libgcc_s.so.1" "$R/$LIBDIR/" 2>/dev/null ||
	cp -L "$P/usr/lib/x86_64-linux-gnu/libgcc_s.so.1" "$R/$LIBDIR/" 2>/dev/null || true
# Both must run on their own libraries: the loader of the tree, no host cache.
for prog in fio iperf3; do
	env -i "$R/lib64/ld-linux-x86-64.so.2" --inhibit-cache --library-path "$R/$LIBDIR" \
		"$R/usr/bin/$prog" --version >"$TMP/ver" 2>&1 || {
		cat "$TMP/ver" >&2
		die "$prog does not run from the tree"
	}
	log "$prog: $(head -n1 "$TMP/ver")"
done
mknod -m 600 "$R/dev/console" c 5 1 2>/dev/null || true
cat >"$R/init" <<'EOF'
#!/bin/sh
# kvmini benchmark guest init (images/build-bench.sh).
export PATH=/bin:/sbin:/usr/bin HOME=/root TERM=${TERM:-linux}
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmp /tmp
ip link set lo up 2>/dev/null
while read -r m; do
	name=$(basename "$m" .ko | tr - _)
	params=$(tr ' ' '\n' </proc/cmdline | sed -n "s/^$name\\.//p")
	insmod "/lib/modules/$m" $params 2>/dev/null
done </lib/modules/load.order
echo "KVMINI-BENCH-GUEST-UP cpus=$(grep -c '^processor' /proc/cpuinfo) kernel=$(uname -r)"
if [ -f /bench/guest.sh ]; then
	sh /bench/guest.sh
	echo "KVMINI-BENCH-GUEST-EXIT $?"
else
	echo "kvmini benchmark guest shell (fio, iperf3); exit it to power off"
	setsid cttyhack sh -l
fi
sync
poweroff -f
EOF
chmod 755 "$R/init"
(cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$NEW/bench-initrd.cpio"
echo "$VERS" >"$NEW/packages.txt"
echo "$STAMP" >"$NEW/.stamp"
log "initramfs: $(($(wc -c <"$NEW/bench-initrd.cpio") / 1048576)) MiB, $(ls "$R/$LIBDIR" | wc -l) libraries"
rm -rf "$OUT.old"
[ -d "$OUT" ] && mv "$OUT" "$OUT.old"
mv "$NEW" "$OUT"
rm -rf "$OUT.old"
log "done: $OUT"
