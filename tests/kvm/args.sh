#!/usr/bin/env bash
# One bad-argument case: args.sh CASE KVMINI GUEST_PVH GUEST_BZIMAGE
#
# Every case here must give its answer before kvmini touches /dev/kvm, so
# they all run on this host whatever its KVM (none, software, hardware):
# kvmini validates its whole command line, the kernel, initrd, console,
# disks and taps first, and only a run whose arguments are all valid may
# report a missing or unusable /dev/kvm. The case names are read by
# tests/kvm/CMakeLists.txt (ctest kvm.<case>): a line "name)" starts one.
set -u
case_name=$1 KVMINI=$2 PVH=$3 BZ=$4
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
out=$T/out err=$T/err con=$T/console
. "$(dirname "$0")/lib.sh"

# The LD_PRELOAD stand-in for /dev/kvm (fakekvm.c), built beside the guests.
FAKEKVM_SO=$(cd "$(dirname "$PVH")" && pwd)/fakekvm.so

need() {
	if [ "$(id -u)" != 0 ] || ! command -v "$1" >/dev/null; then echo "SKIP: needs root and $1"; exit 0; fi
}

# via WRAPPER... -- KVMINI-ARGS...: kvmini started through a wrapper command
# (setpriv, env); its exit status in st.
via() {
	local w=()
	while [ "$1" != -- ]; do w+=("$1"); shift; done
	shift
	timeout -s KILL 50 "${w[@]}" "$KVMINI" "$@" </dev/null >"$out" 2>"$err"
	st=$?
}

# Root without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH: file modes bind it
# as they bind anyone.
NODAC=(setpriv --bounding-set -dac_override,-dac_read_search)

# fakekvm BEHAVIOUR KVMINI-ARGS...: kvmini with fakekvm.so in place of
# /dev/kvm (FAKEKVM: see fakekvm.c). ASan wants its runtime first among the
# libraries, and a preloaded one comes before it.
fakekvm() {
	local how=$1; shift
	[ -f "$FAKEKVM_SO" ] || fail "$FAKEKVM_SO is not built"
	via env FAKEKVM="$how" LD_PRELOAD="$FAKEKVM_SO" \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" -- "$@"
}

# one_line TEXT: status 2, nothing on stdout, and exactly one line on
# stderr, starting "kvmini: TEXT" (TEXT is a grep -F string).
one_line() {
	[ "$st" = 2 ] || fail "exit status $st, expected 2"
	[ "$(wc -l <"$err")" = 1 ] || fail "expected exactly one line on stderr"
	[ "$(head -c $((8 + ${#1})) "$err")" = "kvmini: $1" ] || fail "stderr does not start 'kvmini: $1'"
	[ ! -s "$out" ] || fail "unexpected stdout"
}

case $case_name in
args-none)               run 2; grep -q "^kvmini: missing command" "$err" || fail "message" ;;
args-help)               run 0 --help; has "$out" "usage: kvmini run"; has "$out" "Exit status" ;;
args-version)            run 0 --version; grep -q "^kvmini [0-9]" "$out" || fail "version line" ;;
args-unknown-command)    bad_arg "frobnicate" frobnicate ;;
args-unknown-option)     bad_arg "--frob" run --kernel "$PVH" --frob 1 ;;
args-missing-value)      bad_arg "--kernel" run --kernel ;;
args-memory-junk)        bad_arg "--memory" run --kernel "$PVH" --memory 12X ;;
args-memory-small)       bad_arg "--memory" run --kernel "$PVH" --memory 1M ;;
args-hugepages-odd)      bad_arg "--hugepages" run --kernel "$PVH" --hugepages --memory 17M
                         grep -q "multiple of 2 MiB" "$err" || fail "message" ;;
args-hugepages-none)     # 1 TiB of huge pages is free on no host this runs on
                         bad_arg "--hugepages" run --kernel "$PVH" --hugepages --memory 1T
                         grep -q "needs 524288 free 2 MiB huge pages" "$err" || fail "message" ;;
args-restore-hugepages)  via -- restore "$T" --hugepages
                         one_line "--hugepages: a restored guest's RAM is the snapshot's memory file" ;;
args-cpus-zero)          bad_arg "--cpus" run --kernel "$PVH" --cpus 0 ;;
args-cpus-many)          bad_arg "--cpus" run --kernel "$PVH" --cpus 1000 ;;
args-console)            bad_arg "--console" run --kernel "$PVH" --console tty ;;
args-timeout)            bad_arg "--timeout" run --kernel "$PVH" --timeout -3 ;;
args-on-reboot)          bad_arg "--on-reboot" run --kernel "$PVH" --on-reboot maybe ;;
args-no-kernel)          bad_arg "--kernel" run --memory 1G ;;
args-kernel-missing)     bad_arg "--kernel" run --kernel "$T/nope" ;;
args-kernel-dir)         bad_arg "--kernel" run --kernel "$T" ;;
args-kernel-text)        echo "not a kernel" >"$T/k"; bad_arg "--kernel" run --kernel "$T/k" ;;
args-kernel-elf-no-pvh)  bad_arg "PVH" run --kernel "$(type -P true)" ;;
args-initrd-missing)     bad_arg "--initrd" run --kernel "$PVH" --initrd "$T/nope" ;;
args-too-little-memory)  head -c 20M /dev/zero >"$T/big"; bad_arg "--memory" run --kernel "$PVH" --initrd "$T/big" --memory 16M ;;
args-cmdline-too-long)   bad_arg "--cmdline" run --kernel "$BZ" --cmdline "p $(head -c 3000 /dev/zero | tr '\0' x)" ;;
args-console-file-dir)   bad_arg "--console" run --kernel "$PVH" --console "file:$T" ;;
args-disk-missing)       bad_arg "--disk" run --kernel "$PVH" --disk "$T/nope.img" ;;
args-disk-option)        truncate -s 1M "$T/d"; bad_arg "--disk" run --kernel "$PVH" --disk "$T/d,version=3" ;;
args-disk-unknown-key)   truncate -s 1M "$T/d"; bad_arg "--disk" run --kernel "$PVH" --disk "$T/d,color=red" ;;
args-disk-aio)           truncate -s 1M "$T/d"; bad_arg "--disk" run --kernel "$PVH" --disk "$T/d,aio=posix" ;;
args-disk-queues)        truncate -s 1M "$T/d"; bad_arg "--disk" run --kernel "$PVH" --disk "$T/d,queues=17" ;;
args-disk-poll)          truncate -s 1M "$T/d"; bad_arg "--disk" run --kernel "$PVH" --disk "$T/d,poll=10001" ;;
args-disk-iothread)      truncate -s 1M "$T/d"; bad_arg "--disk" run --kernel "$PVH" --iothreads 2 --disk "$T/d,iothread=2" ;;
args-iothreads)          bad_arg "--iothreads" run --kernel "$PVH" --iothreads 0 ;;
args-disk-legacy)        truncate -s 1M "$T/d"; bad_arg "--disk" run --kernel "$PVH" --disk "$T/d,legacy=maybe" ;;
args-net-no-tap)         bad_arg "--net" run --kernel "$PVH" --net mac=02:00:00:00:00:01 ;;
args-net-bad-mac)        bad_arg "--net" run --kernel "$PVH" --net tap=kt0,mac=01:00:00:00:00:01 ;;
args-net-no-permission)
	# No right to create taps: CAP_NET_ADMIN dropped (still root for /dev/kvm).
	if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then echo "SKIP: needs root and setpriv"; exit 0; fi
	timeout 20 setpriv --bounding-set -net_admin "$KVMINI" run --kernel "$PVH" --cmdline p --console none \
		--net tap=kvminotap0 </dev/null >"$out" 2>"$err"
	st=$?; [ "$st" = 2 ] || fail "status $st without CAP_NET_ADMIN"
	[ "$(wc -l <"$err")" = 1 ] || fail "expected one line"
	grep -q "^kvmini: --net: no permission to create/open tap kvminotap0" "$err" || fail "message" ;;
args-disk-empty-path)    bad_arg "--disk" run --kernel "$PVH" --disk ",readonly=on" ;;
args-disk-too-many)      truncate -s 1M "$T/d"; set -- ; for i in 1 2 3 4 5 6 7 8 9; do set -- "$@" --disk "$T/d"; done
                         bad_arg "--disk" run --kernel "$PVH" "$@" ;;
args-no-dev-kvm)
	# A host without /dev/kvm: hide it in a private mount namespace.
	if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then echo "SKIP: needs root and unshare"; exit 0; fi
	timeout 20 unshare -m sh -c "mount -t tmpfs none /dev && exec \"$KVMINI\" run --kernel \"$PVH\"" </dev/null >"$out" 2>"$err"
	st=$?; [ "$st" = 2 ] || fail "status $st without /dev/kvm"
	grep -q "^kvmini: /dev/kvm: No such file" "$err" || fail "message"
	[ "$(wc -l <"$err")" = 1 ] || fail "expected one line" ;;
args-kernel-unreadable)
	need setpriv; cp "$PVH" "$T/k"; chmod 000 "$T/k"
	via "${NODAC[@]}" -- run --kernel "$T/k"
	one_line "--kernel: cannot open '$T/k': Permission denied" ;;
args-initrd-unreadable)
	need setpriv; echo initrd >"$T/i"; chmod 000 "$T/i"
	via "${NODAC[@]}" -- run --kernel "$PVH" --initrd "$T/i"
	one_line "--initrd: cannot open '$T/i': Permission denied" ;;
args-initrd-dir)         bad_arg "--initrd" run --kernel "$PVH" --initrd "$T" ;;
args-bz-too-little-memory) head -c 20M /dev/zero >"$T/big"; bad_arg "--memory" run --kernel "$BZ" --initrd "$T/big" --memory 16M ;;
args-pvh-cmdline-too-long) bad_arg "--cmdline" run --kernel "$PVH" --cmdline "p $(head -c 5000 /dev/zero | tr '\0' x)" ;;
args-console-file-no-dir) bad_arg "--console" run --kernel "$PVH" --console "file:$T/nope/console" ;;
args-console-virtio)     bad_arg "--console" run --kernel "$PVH" --console virtio,tty ;;
args-console-virtio-transport) bad_arg "--console" run --kernel "$PVH" --console virtio,transport=usb ;;
args-port-name)          via -- run --kernel "$PVH" --port "a/b"
                         one_line "--port: 'a/b' is not a port name (1 to 63 letters, digits, '.', '_' or '-')" ;;
args-port-option)        bad_arg "--port" run --kernel "$PVH" --port "a,color=red" ;;
args-port-exit-name)     via -- run --kernel "$PVH" --guest-status --port kvmini.exit
                         one_line "--port: 'kvmini.exit': names starting 'kvmini.' are kvmini's own" ;;
args-port-twice)         bad_arg "--port" run --kernel "$PVH" --port a --port a ;;
args-port-out-dir)       via -- run --kernel "$PVH" --port "a,out=$T"
                         one_line "--port: cannot open '$T': Is a directory" ;;
args-port-in-missing)    via -- run --kernel "$PVH" --port "a,in=$T/nope"
                         one_line "--port: cannot open '$T/nope': No such file or directory" ;;
args-port-in-dir)        via -- run --kernel "$PVH" --port "a,in=$T"
                         one_line "--port: in=$T is not a regular file" ;;
args-disk-dir)
	via -- run --kernel "$PVH" --disk "$T"
	one_line "--disk: '$T' is a directory, not a disk image" ;;
args-disk-dir-readonly)  bad_arg "--disk: '$T' is not a regular file" run --kernel "$PVH" --disk "$T,readonly=on" ;;
args-disk-not-writable)
	# chmod 0444 binds root too once CAP_DAC_OVERRIDE is gone.
	need setpriv; truncate -s 1M "$T/d"; chmod 0444 "$T/d"
	via "${NODAC[@]}" -- run --kernel "$PVH" --disk "$T/d"
	one_line "--disk: cannot open '$T/d' for writing: Permission denied (add readonly=on"
	# Read-only is what it allows: the disk passes, and the run goes on to
	# KVM (a VM where there is one, "no KVM" where there is none).
	via "${NODAC[@]}" -- run --kernel "$PVH" --cmdline p --console none --disk "$T/d,readonly=on"
	hasnt "$err" "--disk" ;;
args-disk-unreadable)
	need setpriv; truncate -s 1M "$T/d"; chmod 000 "$T/d"
	via "${NODAC[@]}" -- run --kernel "$PVH" --disk "$T/d,readonly=on"
	one_line "--disk: cannot open '$T/d': Permission denied" ;;
args-disk-readonly-fs)
	# The image on a read-only bind mount, in a private mount namespace.
	need unshare; mkdir "$T/ro"; truncate -s 1M "$T/ro/d"
	timeout 20 unshare -m sh -c "mount --bind '$T/ro' '$T/ro' && mount -o remount,bind,ro '$T/ro' &&
		exec '$KVMINI' run --kernel '$PVH' --disk '$T/ro/d'" </dev/null >"$out" 2>"$err"
	st=$?; one_line "--disk: cannot open '$T/ro/d' for writing: Read-only file system (add readonly=on" ;;
args-net-tap-too-long)   bad_arg "--net: 'tap=kvminitaptoolong0': a tap name is 1 to 15" run --kernel "$PVH" --net tap=kvminitaptoolong0 ;;
args-net-mac-junk)       bad_arg "--net: 'mac=02:00:00:00:00': not a card's MAC" run --kernel "$PVH" --net tap=kt0,mac=02:00:00:00:00 ;;
args-net-no-tun)
	# No /dev/net/tun (the tun module not loaded): hidden in a private mount namespace.
	need unshare
	timeout 20 unshare -m sh -c "{ [ ! -d /dev/net ] || mount -t tmpfs none /dev/net; } &&
		exec '$KVMINI' run --kernel '$PVH' --net tap=kvminotun0" </dev/null >"$out" 2>"$err"
	st=$?; one_line "--net: cannot open tap kvminotun0: /dev/net/tun is missing" ;;
args-net-tap-removed)
	# A tap kvmini creates goes away again when a later check (here /dev/kvm) fails.
	need ip; [ -c /dev/net/tun ] || { echo "SKIP: no /dev/net/tun"; exit 0; }
	! ip link show kvminiargs0 >/dev/null 2>&1 || ip tuntap del dev kvminiargs0 mode tap
	fakekvm api=11 run --kernel "$PVH" --net tap=kvminiargs0
	one_line "/dev/kvm: KVM API version 11, kvmini needs 12"
	if ip link show kvminiargs0 >/dev/null 2>&1; then
		ip tuntap del dev kvminiargs0 mode tap; fail "tap kvminiargs0 left behind"
	fi ;;
args-bad-arg-before-kvm)
	# Every bad argument is named before /dev/kvm is looked at, whatever
	# state it is in: here one that would fail at once.
	truncate -s 20M "$T/big"
	fakekvm api=11 run --kernel "$PVH" --disk "$T/nope"; one_line "--disk: cannot open '$T/nope'"
	fakekvm api=11 run --kernel "$PVH" --console "file:$T"; one_line "--console: cannot open '$T'"
	fakekvm api=11 run --kernel "$PVH" --initrd "$T/big" --memory 16M; one_line "--memory: too small"
	fakekvm api=11 run --kernel "$BZ" --cmdline "$(head -c 2048 /dev/zero | tr '\0' x)"; one_line "--cmdline: too long"
	fakekvm api=11 run --kernel "$(type -P true)"; one_line "--kernel: ELF kernel has no PVH entry note" ;;

# Image locking (OFD locks, as QEMU's): another process's lock on the image
# is named before KVM; lock=off goes on regardless (to the fake KVM's
# refusal here, so the case means the same on every host).
args-disk-locked)
	truncate -s 1M "$T/d"
	python3 -c 'import fcntl, sys, time; f = open(sys.argv[1], "r+"); fcntl.lockf(f, fcntl.LOCK_EX); open(sys.argv[2], "w").close(); time.sleep(30)' "$T/d" "$T/held" &
	holder=$!
	for i in $(seq 100); do [ -e "$T/held" ] && break; sleep 0.1; done
	fakekvm api=11 run --kernel "$PVH" --disk "$T/d"
	one_line "--disk: '$T/d' is in use by another process (it holds a lock on it; add lock=off to share it anyway)"
	fakekvm api=11 run --kernel "$PVH" --disk "$T/d,readonly=on"
	one_line "--disk: '$T/d' is in use by another process (it holds an exclusive lock"
	fakekvm api=11 run --kernel "$PVH" --disk "$T/d,lock=off"
	one_line "/dev/kvm: KVM API version 11"
	kill $holder; wait $holder 2>/dev/null ;;
args-disk-shared-readonly)
	# Read-only users share an image; a writer may not join them, nor the
	# same image be given twice read-write.
	truncate -s 1M "$T/d"
	fakekvm api=11 run --kernel "$PVH" --disk "$T/d,readonly=on" --disk "$T/d,readonly=on,transport=mmio"
	one_line "/dev/kvm: KVM API version 11"
	fakekvm api=11 run --kernel "$PVH" --disk "$T/d,readonly=on" --disk "$T/d"
	one_line "--disk: '$T/d' is in use by another process"
	fakekvm api=11 run --kernel "$PVH" --disk "$T/d" --disk "$T/d"
	one_line "--disk: '$T/d' is in use by another process" ;;

# An unusable /dev/kvm, once every argument is good: one line, status 2.
args-dev-kvm-not-kvm)
	# /dev/null bind-mounted at /dev/kvm, in a private mount namespace
	# (/dev itself a fresh tmpfs, so it works whether or not /dev/kvm exists).
	need unshare; touch "$T/null"
	timeout 20 unshare -m sh -c "mount --bind /dev/null '$T/null' && mount -t tmpfs none /dev &&
		touch /dev/kvm && mount --bind '$T/null' /dev/kvm &&
		exec '$KVMINI' run --kernel '$PVH'" </dev/null >"$out" 2>"$err"
	st=$?; one_line "/dev/kvm: not a KVM device (KVM_GET_API_VERSION: Inappropriate ioctl for device)" ;;
# Not a bad argument, but as these, it needs no KVM: a fake one
# (fakekvm.c "exits") plays ten exits, and kvmini's exit accounting must
# count each where it happened, in --result and with KVMINI_STATS=1.
args-exit-stats)
	via env FAKEKVM=fake-vm,exits LD_PRELOAD="$FAKEKVM_SO" KVMINI_STATS=1 \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" -- \
		run --kernel "$PVH" --seccomp off --console "file:$con" --result "$T/r.json"
	[ "$st" = 0 ] || fail "exit status $st, expected 0 (poweroff)"
	[ "$(cat "$con")" = hi ] || fail "the console has '$(cat "$con")', not the guest's 'hi'"
	want='"exits": {"total": 10, "io": 6, "mmio": 3, "hlt": 0, "intr": 0, "system_event": 1, "shutdown": 0, "other": 0, "ports": 3, "mmio_pages": 1, "top_ports": [{"port": "0x3f8", "reads": 0, "writes": 3}, {"port": "0x3fd", "reads": 2, "writes": 0}, {"port": "0x80", "reads": 0, "writes": 1}], "top_mmio": [{"page": "0xfed00000", "reads": 2, "writes": 1}]}'
	grep -qF "$want" "$T/r.json" || fail "--result's exits: $(grep '"exits"' "$T/r.json")"
	has "$err" "kvmini: exits: 10 to kvmini, io 6, mmio 3, hlt 0, intr 0, system_event 1"
	has "$err" "kvmini: exits: port 0x3f8: 3 (0 reads, 3 writes)"
	has "$err" "kvmini: exits: mmio page 0xfed00000: 3 (2 reads, 1 writes)" ;;
args-dev-kvm-api-11)
	fakekvm api=11 run --kernel "$PVH"
	one_line "/dev/kvm: KVM API version 11, kvmini needs 12" ;;
args-dev-kvm-create-vm-eperm)
	fakekvm create-vm=EPERM run --kernel "$PVH" --console none
	one_line "/dev/kvm: KVM_CREATE_VM refused: Operation not permitted" ;;
args-dev-kvm-create-vm-einval)
	fakekvm create-vm=EINVAL run --kernel "$PVH" --console none
	one_line "/dev/kvm: KVM_CREATE_VM refused: Invalid argument" ;;
args-dev-kvm-no-pit2)
	fakekvm no-cap=KVM_CAP_PIT2 run --kernel "$PVH"
	one_line "/dev/kvm: KVM lacks KVM_CAP_PIT2, which kvmini needs for the in-kernel PIT" ;;
args-dev-kvm-no-immediate-exit)
	fakekvm no-cap=KVM_CAP_IMMEDIATE_EXIT,no-cap=KVM_CAP_IOEVENTFD run --kernel "$PVH"
	one_line "/dev/kvm: KVM lacks KVM_CAP_IMMEDIATE_EXIT, which kvmini needs for stopping vCPUs" ;;
args-dev-kvm-no-signal-msi)
	# Needed by PCI devices (MSI-X) only: the same KVM is fine for
	# virtio-mmio, and the run goes on to build the (fake) VM.
	truncate -s 1M "$T/d"
	fakekvm no-cap=KVM_CAP_SIGNAL_MSI run --kernel "$PVH" --disk "$T/d"
	one_line "/dev/kvm: KVM lacks KVM_CAP_SIGNAL_MSI, which kvmini needs for MSI-X interrupts"
	fakekvm no-cap=KVM_CAP_SIGNAL_MSI,create-vm=EPERM run --kernel "$PVH" --disk "$T/d,transport=mmio"
	one_line "/dev/kvm: KVM_CREATE_VM refused" ;;
args-restore-no-dir)     via -- restore; one_line "restore: missing the snapshot's directory" ;;
args-restore-missing)    via -- restore "$T/nope"
                         one_line "restore: cannot open '$T/nope/state': No such file or directory" ;;
args-restore-not-snapshot) echo junk >"$T/state"; via -- restore "$T"
                         one_line "restore: '$T/state': not a kvmini snapshot (no KVMISNAP header)" ;;
args-restore-other-arch)
	# a header that says aarch64 (format version 1, architecture 2)
	{ printf 'KVMISNAP\001\000\000\000\002\000\000\000'; head -c 52 /dev/zero; } >"$T/state"
	via -- restore "$T"
	one_line "restore: '$T/state': a snapshot of an aarch64 guest; this kvmini runs x86_64 guests" ;;
args-restore-newer)
	{ printf 'KVMISNAP\002\000\000\000\001\000\000\0000.9'; head -c 48 /dev/zero; } >"$T/state"
	via -- restore "$T"
	one_line "restore: '$T/state': snapshot format version 2 (kvmini 0.9) is newer than this kvmini reads (1)" ;;
args-api-socket-dir)     mkdir -m 777 "$T/w"; via -- run --kernel "$PVH" --api-socket "$T/w/s"
                         one_line "--api-socket: directory '$T/w' is writable by others (mode 0777)" ;;
args-ctl-no-socket)      via -- ctl "$T/nope" status
                         one_line "ctl: cannot connect to '$T/nope': No such file or directory" ;;
*) echo "unknown case $case_name"; exit 1 ;;
esac
echo "PASS [$case_name] where=host"
