#!/usr/bin/env bash
# One case that runs a tiny guest under KVM: cases.sh CASE KVMINI GUEST_PVH
# GUEST_BZIMAGE GUEST_VBLK
#
# Needs a working /dev/kvm: tests/kvm/run-cases.sh runs these directly on
# this host when it has one, and otherwise inside the nested lab's L1 (whose
# KVM is real). The test guests act on the first letter of their command
# line (see guests/common.S): p power off, r/k/c reset, n panic, t triple
# fault, h hang, e echo input until 'q'. The case names are read by
# tests/kvm/CMakeLists.txt: a line "name)" or "a|b)" starts one.
set -u
case_name=$1 KVMINI=$2 PVH=$3 BZ=$4 VBLK=${5:-}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
out=$T/out err=$T/err con=$T/console
. "$(dirname "$0")/lib.sh"

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
	# The signal is sent once the guest has printed, so kvmini's handlers
	# are in place however slowly it starts (the nested lab is slow).
	sig=TERM want=143; [ "$case_name" = sigint ] && sig=INT want=130
	"$KVMINI" run --kernel "$BZ" --cmdline h --console "file:$con" </dev/null >"$out" 2>"$err" &
	pid=$!
	wait_for "$con" BZ64-OK || { kill -KILL $pid; fail "the guest printed nothing in 30 s"; }
	kill -$sig $pid; wait $pid; st=$?
	[ "$st" = "$want" ] || fail "status $st after SIG$sig, expected $want"; has "$err" "SIG$sig" ;;
console-input)
	# Input reaches the guest through the UART's receive interrupt-free path (polling).
	printf 'hello-input q' | timeout 30 "$KVMINI" run --kernel "$BZ" --cmdline e >"$out" 2>"$err"
	st=$?; [ "$st" = 0 ] || fail "status $st"; has "$out" "hello-input" ;;
console-tty)
	# On a terminal: raw mode while running, Ctrl-A x quits with 130, and the
	# terminal settings are restored afterwards. script(1) (util-linux; the
	# lab ships the host's) provides the pty. Keys are typed once the guest
	# has printed, i.e. once kvmini has the terminal in raw mode.
	(wait_for "$out" BZ64-OK; printf 'typed'; sleep 0.5; printf '\001x') |
		timeout 30 script -qec "stty -g >$T/before; \"$KVMINI\" run --kernel \"$BZ\" --cmdline e 2>$err; echo \$? >$T/rc; stty -g >$T/after" /dev/null >"$out"
	[ "$(cat "$T/rc")" = 130 ] || fail "status $(cat "$T/rc") after Ctrl-A x, expected 130"
	has "$out" "typed"
	has "$err" "Ctrl-A x"
	cmp -s "$T/before" "$T/after" || fail "terminal settings not restored: $(cat "$T/before") vs $(cat "$T/after")" ;;
smp4)          run 0 run --kernel "$PVH" --cpus 4 --cmdline p --console none ;;
memory-above-4g) run 0 run --kernel "$PVH" --memory 5G --cmdline p --console none ;;

devices-pci)
	# Disks and a network card on PCI (transitional and modern-only) and on
	# virtio-mmio are created, placed and torn down cleanly.
	if [ "$(id -u)" != 0 ] || [ ! -c /dev/net/tun ]; then echo "SKIP: needs root and /dev/net/tun"; exit 0; fi
	truncate -s 8M "$T/a" "$T/b" "$T/c"
	run 0 run --kernel "$PVH" --cmdline p --console none --disk "$T/a" --disk "$T/b,legacy=off" \
		--disk "$T/c,transport=mmio,version=1" --net tap=kvminit0 --net tap=kvminit1,transport=mmio,mac=02:00:00:00:00:07
	! ip link show kvminit0 >/dev/null 2>&1 || ip tuntap del dev kvminit0 mode tap 2>/dev/null
	! ip link show kvminit1 >/dev/null 2>&1 || ip tuntap del dev kvminit1 mode tap 2>/dev/null ;;
disks-setup)
	# Several disks of both layouts are created, mapped and torn down cleanly
	# (the tiny guest does not drive them; the lab does).
	truncate -s 8M "$T/a" "$T/b" "$T/c"
	run 0 run --kernel "$PVH" --cmdline p --console none --disk "$T/a" --disk "$T/b,version=1,readonly=on" --disk "$T/c,cache=writeback" ;;
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
restart-kernel-gone|restart-kernel-changed)
	# --on-reboot restart loads the kernel from its file again each time
	# (kvmini keeps no copy): a file removed or changed since the start
	# ends the run with one clear line, and no half-loaded guest runs.
	cp "$PVH" "$T/k"
	"$KVMINI" run --kernel "$T/k" --cmdline r --on-reboot restart --timeout 20 \
		--console "file:$con" </dev/null >"$out" 2>"$err" &
	pid=$!
	wait_for "$con" PVH-OK || { kill -KILL $pid; fail "the guest printed nothing in 30 s"; }
	if [ "$case_name" = restart-kernel-gone ]; then
		rm "$T/k"; why="is gone since kvmini started"
	else
		printf 'xx' >>"$T/k"; why="changed size since kvmini started"
	fi
	wait $pid; st=$?
	[ "$st" = 2 ] || fail "status $st, expected 2"
	has "$err" "kvmini: --kernel: '$T/k' $why"
	n=$(grep -c PVH-OK "$con"); [ "$n" -ge 1 ] || fail "no boot before the change" ;;
seccomp-active)
	# Every thread of a running kvmini (main, vCPUs, I/O threads, block
	# workers) has a filter: Seccomp 2 in /proc/PID/task/*/status.
	truncate -s 8M "$T/d" "$T/e"
	"$KVMINI" run --kernel "$BZ" --cmdline h --cpus 2 --console "file:$con" \
		--disk "$T/d" --disk "$T/e,aio=threads,transport=mmio" </dev/null >"$out" 2>"$err" &
	pid=$!
	wait_for "$con" BZ64-OK || { kill -KILL $pid; fail "the guest printed nothing in 30 s"; }
	n=0
	for s in /proc/$pid/task/*/status; do
		grep -q '^Seccomp:[[:space:]]*2$' "$s" || { kill -KILL $pid; fail "thread $(basename "$(dirname "$s")") has $(grep Seccomp: "$s")"; }
		n=$((n + 1))
	done
	kill -TERM $pid; wait $pid
	[ $n -ge 5 ] || fail "only $n threads"
	echo "$n threads, all filtered" ;;
seccomp-forbidden)
	# A vCPU thread that makes a call outside its list (fakekvm makes one
	# before KVM_RUN) ends kvmini with SIGSYS and one line naming it;
	# --seccomp=log lets the same run finish.
	g=$(dirname "$PVH")
	timeout 30 env FAKEKVM=forward,forbid-on-run LD_PRELOAD="$g/fakekvm.so" \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		"$KVMINI" run --kernel "$PVH" --cmdline p --console none </dev/null >"$out" 2>"$err"
	st=$?
	[ "$st" = $((128 + 31)) ] || fail "status $st, expected 159 (SIGSYS)"
	has "$err" "kvmini: seccomp: the vCPU thread made a forbidden system call: socket"
	timeout 30 env FAKEKVM=forward,forbid-on-run LD_PRELOAD="$g/fakekvm.so" \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		"$KVMINI" run --kernel "$PVH" --cmdline p --console none --seccomp log </dev/null >"$out" 2>"$err"
	st=$?
	[ "$st" = 0 ] || fail "status $st with --seccomp=log, expected 0" ;;
direct-path)
	# The direct code path, on a host whose /dev/kvm works: in the lab that
	# is L1 itself, so this proves there what a user's hardware host does.
	# run-cases.sh must pick direct mode by itself (KVMINI_LAB unset) and
	# run two cases there.
	g=$(dirname "$PVH")
	mkdir -p "$T/s" && tar xf "$g/scripts.tar" -C "$T/s" || fail "no scripts.tar beside the guests"
	env -u KVMINI_LAB bash "$T/s/tests/kvm/run-cases.sh" --kvmini "$KVMINI" --guests "$g" \
		--results "$T/res" --only pvh-poweroff,vblk-mmio-v2 >"$out" 2>&1 || fail "run-cases.sh failed"
	has "$out" "mode: direct"
	[ "$(grep -c ' PASS .*where=direct$' "$T/res")" = 2 ] || fail "not 2 direct passes: $(cat "$T/res")" ;;
vblk-kvm-no-ioeventfd|vblk-kvm-no-irqfd)
	# A KVM without ioeventfd (or irqfd): fakekvm.so (tests/kvm/fakekvm.c)
	# sits in front of the real /dev/kvm, answers 0 for the capability and
	# refuses its ioctl, as a kernel without it would. kvmini must fall back
	# (kicks on the vCPU thread; KVM_IRQ_LINE), say so exactly once, never
	# call the missing ioctl (fakekvm would print "fakekvm: ..."), and the
	# vblk guest's disk must still work.
	cap=KVM_CAP_IOEVENTFD note="kvmini: note: KVM has no ioeventfd;"
	[ "$case_name" = vblk-kvm-no-irqfd ] && cap=KVM_CAP_IRQFD note="kvmini: note: KVM has no irqfd;"
	so=$(cd "$(dirname "$PVH")" && pwd)/fakekvm.so
	[ -f "$so" ] || fail "$so is missing"
	head -c 1048576 /dev/zero >"$T/disk"
	printf 'kvmini-vblk-s0' | dd of="$T/disk" conv=notrunc 2>/dev/null
	timeout -s KILL 50 env FAKEKVM="forward,no-cap=$cap" LD_PRELOAD="$so" \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		"$KVMINI" run --kernel "$VBLK" --disk "$T/disk,transport=mmio" --console "file:$con" \
		</dev/null >"$out" 2>"$err"
	st=$?; [ "$st" = 0 ] || fail "exit status $st, expected 0"
	has "$con" "VBLK PASS modern"
	[ "$(grep -cF -- "$note" "$err")" = 1 ] || fail "'$note' must appear exactly once"
	[ "$(wc -l <"$err")" = 1 ] || fail "stderr holds more than the note"
	want=$(awk 'BEGIN { for (i = 0; i < 512; i++) printf "%02x", (i * 7 + 3) % 256 }')
	got=$(dd if="$T/disk" bs=512 skip=1 count=1 2>/dev/null | od -An -v -tx1 | tr -d ' \n')
	[ "$got" = "$want" ] || fail "sector 1 of the image does not hold the guest's pattern" ;;
*) echo "unknown case $case_name"; exit 1 ;;
esac
echo "PASS [$case_name]"
