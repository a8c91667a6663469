#!/usr/bin/env bash
# One direct test case: cases.sh CASE KVMINI GUEST_PVH GUEST_BZIMAGE
# The test guests act on the first letter of their command line (see
# guests/common.S): p power off, r/k/c reset, n panic, t triple fault, h hang,
# e echo input until 'q'.
set -u
case_name=$1 KVMINI=$2 PVH=$3 BZ=$4 VBLK=${5:-}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
out=$T/out err=$T/err con=$T/console

fail() { echo "FAIL [$case_name]: $*"; echo "--- stdout"; cat "$out" 2>/dev/null; echo "--- stderr"; cat "$err" 2>/dev/null; echo "--- console"; cat "$con" 2>/dev/null; exit 1; }

# run EXPECTED_STATUS kvmini-args...: runs kvmini with no stdin, checks status
run() {
	local want=$1; shift
	timeout -s KILL 50 "$KVMINI" "$@" </dev/null >"$out" 2>"$err"
	local st=$?
	[ "$st" = "$want" ] || fail "exit status $st, expected $want (args: $*)"
}
has() { grep -qF -- "$2" "$1" || fail "'$2' not found in $(basename "$1")"; }
hasnt() { ! grep -qF -- "$2" "$1" || fail "'$2' unexpectedly found in $(basename "$1")"; }

# A bad argument: status 2, exactly one line on stderr naming it, nothing on stdout.
bad_arg() {
	local name=$1; shift
	run 2 "$@"
	[ "$(wc -l <"$err")" = 1 ] || fail "expected exactly one line on stderr"
	grep -q "^kvmini: .*$name" "$err" || fail "stderr does not name '$name'"
	[ ! -s "$out" ] || fail "unexpected stdout"
}

case $case_name in
pvh-poweroff)  run 0 run --kernel "$PVH" --cmdline "p pvh" --console "file:$con"; has "$con" "PVH-OK cmdline=p pvh"; [ ! -s "$err" ] || fail "stderr not empty on poweroff" ;;
bz-poweroff)   run 0 run --kernel "$BZ" --cmdline "p bz" --console "file:$con"; has "$con" "BZ64-OK cmdline=p bz"; has "$con" "E820=3" ;;
initrd-pvh)    echo "INITRD-MARKER-42" >"$T/initrd"; run 0 run --kernel "$PVH" --initrd "$T/initrd" --cmdline p --console "file:$con"; has "$con" "INITRD-MARKER-42" ;;
initrd-bz)     echo "INITRD-MARKER-43" >"$T/initrd"; run 0 run --kernel "$BZ" --initrd "$T/initrd" --cmdline p --console "file:$con"; has "$con" "INITRD-MARKER-43" ;;
console-stdio) run 0 run --kernel "$PVH" --cmdline "p to-stdout"; has "$out" "PVH-OK cmdline=p to-stdout" ;;
console-none)  run 0 run --kernel "$PVH" --cmdline p --console none; [ ! -s "$out" ] || fail "output with --console none" ;;
reboot-acpi)   run 3 run --kernel "$PVH" --cmdline r --console none; has "$err" "rebooted" ;;
reboot-i8042)  run 3 run --kernel "$BZ" --cmdline k --console none ;;
reboot-cf9)    run 3 run --kernel "$BZ" --cmdline c --console none ;;
reboot-restart)
	# Each reboot restarts the guest in place, so only the timeout ends it.
	run 124 run --kernel "$PVH" --cmdline r --on-reboot restart --timeout 2 --console "file:$con"
	n=$(grep -c "PVH-OK" "$con"); [ "$n" -ge 2 ] || fail "guest started $n times, expected several" ;;
panic)         run 4 run --kernel "$PVH" --cmdline n --console none; has "$err" "panic" ;;
crash)
	# A triple fault: status 5 and the registers on stderr. (Under a
	# software hypervisor the emulator may report it as an internal error.)
	run 5 run --kernel "$PVH" --cmdline t --console none; has "$err" "registers"; has "$err" "rip" ;;
timeout)       run 124 run --kernel "$BZ" --cmdline h --timeout 0.5 --console none; has "$err" "--timeout" ;;
sigterm|sigint)
	sig=TERM want=143; [ "$case_name" = sigint ] && sig=INT want=130
	"$KVMINI" run --kernel "$BZ" --cmdline h --console none </dev/null >"$out" 2>"$err" &
	pid=$!; sleep 0.5; kill -$sig $pid; wait $pid; st=$?
	[ "$st" = "$want" ] || fail "status $st after SIG$sig, expected $want"; has "$err" "SIG$sig" ;;
console-input)
	# Input reaches the guest through the UART's receive interrupt-free path (polling).
	printf 'hello-input q' | timeout 30 "$KVMINI" run --kernel "$BZ" --cmdline e >"$out" 2>"$err"
	st=$?; [ "$st" = 0 ] || fail "status $st"; has "$out" "hello-input" ;;
console-tty)
	# On a terminal: raw mode while running, Ctrl-A x quits with 130, and the
	# terminal settings are restored afterwards. script(1) provides the pty.
	command -v script >/dev/null || { echo "SKIP: no script(1)"; exit 0; }
	(sleep 1; printf 'typed'; sleep 0.5; printf '\001x') |
		timeout 30 script -qec "stty -g >$T/before; \"$KVMINI\" run --kernel \"$BZ\" --cmdline e 2>$err; echo \$? >$T/rc; stty -g >$T/after" /dev/null >"$out"
	[ "$(cat "$T/rc")" = 130 ] || fail "status $(cat "$T/rc") after Ctrl-A x, expected 130"
	has "$out" "typed"
	has "$err" "Ctrl-A x"
	cmp -s "$T/before" "$T/after" || fail "terminal settings not restored: $(cat "$T/before") vs $(cat "$T/after")" ;;
smp4)          run 0 run --kernel "$PVH" --cpus 4 --cmdline p --console none ;;
memory-above-4g) run 0 run --kernel "$PVH" --memory 5G --cmdline p --console none ;;

args-none)               run 2; grep -q "^kvmini: missing command" "$err" || fail "message" ;;
args-help)               run 0 --help; has "$out" "usage: kvmini run"; has "$out" "Exit status" ;;
args-version)            run 0 --version; grep -q "^kvmini [0-9]" "$out" || fail "version line" ;;
args-unknown-command)    bad_arg "frobnicate" frobnicate ;;
args-unknown-option)     bad_arg "--frob" run --kernel "$PVH" --frob 1 ;;
args-missing-value)      bad_arg "--kernel" run --kernel ;;
args-memory-junk)        bad_arg "--memory" run --kernel "$PVH" --memory 12X ;;
args-memory-small)       bad_arg "--memory" run --kernel "$PVH" --memory 1M ;;
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
devices-pci)
	# Disks and a network card on PCI (transitional and modern-only) and on
	# virtio-mmio are created, placed and torn down cleanly.
	if [ "$(id -u)" != 0 ] || [ ! -c /dev/net/tun ]; then echo "SKIP: needs root and /dev/net/tun"; exit 0; fi
	truncate -s 8M "$T/a" "$T/b"
	run 0 run --kernel "$PVH" --cmdline p --console none --disk "$T/a" --disk "$T/b,legacy=off" \
		--disk "$T/a,transport=mmio,version=1" --net tap=kvminit0 --net tap=kvminit1,transport=mmio,mac=02:00:00:00:00:07
	! ip link show kvminit0 >/dev/null 2>&1 || ip tuntap del dev kvminit0 mode tap 2>/dev/null
	! ip link show kvminit1 >/dev/null 2>&1 || ip tuntap del dev kvminit1 mode tap 2>/dev/null ;;
args-disk-empty-path)    bad_arg "--disk" run --kernel "$PVH" --disk ",readonly=on" ;;
args-disk-too-many)      truncate -s 1M "$T/d"; set -- ; for i in 1 2 3 4 5 6 7 8 9; do set -- "$@" --disk "$T/d"; done
                         bad_arg "--disk" run --kernel "$PVH" "$@" ;;
disks-setup)
	# Several disks of both layouts are created, mapped and torn down cleanly
	# (the tiny guest does not drive them; the lab does).
	truncate -s 8M "$T/a" "$T/b"
	run 0 run --kernel "$PVH" --cmdline p --console none --disk "$T/a" --disk "$T/b,version=1,readonly=on" --disk "$T/a,cache=writeback" ;;
vblk-mmio-v2|vblk-mmio-v1|vblk-mmio-v2-noioeventfd|vblk-mmio-v1-noioeventfd|vblk-readonly)
	# The vblk guest drives a real virtio-blk device from inside the VM:
	# sector 0 holds a marker it must read, sector 1 gets its pattern.
	ver=2 kind=modern extra= opts=
	case $case_name in *v1*) ver=1 kind=legacy ;; esac
	case $case_name in *noioeventfd) extra=--no-ioeventfd ;; esac
	[ "$case_name" = vblk-readonly ] && opts=,readonly=on
	head -c 1048576 /dev/zero >"$T/disk"
	printf 'kvmini-vblk-s0' | dd of="$T/disk" conv=notrunc 2>/dev/null
	run 0 run --kernel "$VBLK" --disk "$T/disk,transport=mmio,version=$ver$opts" --console "file:$con" $extra
	if [ "$case_name" = vblk-readonly ]; then
		has "$con" "VBLK FAIL write"     # the device refused the write (IOERR)
		[ "$(dd if="$T/disk" bs=512 skip=1 count=1 2>/dev/null | tr -d '\0' | wc -c)" = 0 ] ||
			fail "a read-only disk was written"
	else
		has "$con" "VBLK PASS $kind"
		want=$(awk 'BEGIN { for (i = 0; i < 512; i++) printf "%02x", (i * 7 + 3) % 256 }')
		got=$(dd if="$T/disk" bs=512 skip=1 count=1 2>/dev/null | od -An -v -tx1 | tr -d ' \n')
		[ "$got" = "$want" ] || fail "sector 1 of the image does not hold the guest's pattern"
	fi ;;
args-no-dev-kvm)
	# A host without /dev/kvm: hide it in a private mount namespace.
	if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then echo "SKIP: needs root and unshare"; exit 0; fi
	timeout 20 unshare -m sh -c "mount -t tmpfs none /dev && exec \"$KVMINI\" run --kernel \"$PVH\"" </dev/null >"$out" 2>"$err"
	st=$?; [ "$st" = 2 ] || fail "status $st without /dev/kvm"
	grep -q "^kvmini: /dev/kvm: No such file" "$err" || fail "message"
	[ "$(wc -l <"$err")" = 1 ] || fail "expected one line" ;;
*) echo "unknown case $case_name"; exit 1 ;;
esac
echo "PASS [$case_name]"
