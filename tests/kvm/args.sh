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

case $case_name in
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
*) echo "unknown case $case_name"; exit 1 ;;
esac
echo "PASS [$case_name] where=host"
