#!/usr/bin/env bash
# tests/lab/test-mode.sh — every branch of lab_mode (tests/lab/lab-common.sh),
# the one place that decides whether kvmini runs directly on this host or
# inside the nested lab. A fake host root stands in for /dev/kvm,
# /sys/module and /proc/cpuinfo (LAB_HOST_ROOT), uname -m for the machine.
set -u
LAB_PROG=test-mode
. "$(dirname "$0")/lab-common.sh"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
fails=0 n=0

# host KVM=none|dev|unusable PVM=0|1 CPU=vmx|svm|none: builds the fake root.
host() {
	rm -rf "${root:?}"/*
	mkdir -p "$root/dev" "$root/sys/module" "$root/proc"
	case $1 in
	dev) ln -s /dev/null "$root/dev/kvm" ;;           # a character device
	file) : >"$root/dev/kvm" ;;                       # not a device at all
	esac
	[ "$2" = 1 ] && mkdir -p "$root/sys/module/kvm_pvm"
	case $3 in
	none) printf 'processor\t: 0\nflags\t\t: fpu sse2 lm\n' >"$root/proc/cpuinfo" ;;
	*) printf 'processor\t: 0\nflags\t\t: fpu sse2 %s lm\n' "$3" >"$root/proc/cpuinfo" ;;
	esac
}

# expect ARCH MACHINE NEED WANT [KVMINI_LAB]
expect() {
	local arch=$1 machine=$2 need=$3 want=$4 force=${5:-}
	n=$((n + 1))
	lab_arch "$arch"
	KVMINI_LAB=$force LAB_HOST_ROOT=$root LAB_HOST_MACHINE=$machine lab_mode "$need"
	if [ "$LAB_MODE" = "$want" ]; then
		echo "ok   $arch on $machine, need $need, KVMINI_LAB='$force': $LAB_MODE ($LAB_MODE_WHY)"
	else
		echo "FAIL $arch on $machine, need $need, KVMINI_LAB='$force': $LAB_MODE, expected $want ($LAB_MODE_WHY)"
		fails=$((fails + 1))
	fi
}

echo "# hardware KVM (vmx, then svm): everything direct"
host dev 0 vmx
expect x86_64 x86_64 linux direct
expect x86_64 x86_64 tiny direct
host dev 0 svm
expect x86_64 x86_64 linux direct
echo "# kvm_pvm: Linux in the lab, tiny guests direct"
host dev 1 none
expect x86_64 x86_64 linux lab
expect x86_64 x86_64 tiny direct
echo "# /dev/kvm but no vmx/svm (some other software KVM): Linux in the lab"
host dev 0 none
expect x86_64 x86_64 linux lab
expect x86_64 x86_64 tiny direct
echo "# no /dev/kvm (today's CI machines), or one that is not a device: all in the lab"
host none 0 none
expect x86_64 x86_64 linux lab
expect x86_64 x86_64 tiny lab
host file 0 vmx
expect x86_64 x86_64 tiny lab
echo "# a guest of another architecture: in its own lab"
host dev 0 vmx
expect aarch64 x86_64 linux lab
expect aarch64 x86_64 tiny lab
expect aarch64 aarch64 linux direct
host none 0 none
expect aarch64 aarch64 linux lab
echo "# forced"
host none 0 none
expect x86_64 x86_64 linux direct 0
host dev 0 vmx
expect x86_64 x86_64 linux lab 1
expect x86_64 x86_64 tiny lab 1
echo "# an unreadable /dev/kvm (not root): the lab"
if [ "$(id -u)" != 0 ]; then
	host dev 0 vmx
	chmod 0 "$root/dev" 2>/dev/null
	expect x86_64 x86_64 tiny lab
	chmod 755 "$root/dev"
fi
echo "# a bad KVMINI_LAB is refused"
n=$((n + 1))
if msg=$( (KVMINI_LAB=yes LAB_HOST_ROOT=$root lab_mode linux) 2>&1); then
	echo "FAIL KVMINI_LAB=yes accepted"; fails=$((fails + 1))
else
	echo "ok   KVMINI_LAB=yes refused: $msg"
fi
echo "# KVMINI_LAB_TCG picks how TCG runs L1's CPUs; anything else is refused"
for t in single multi; do
	n=$((n + 1))
	KVMINI_LAB_TCG=$t lab_arch x86_64
	if [[ " ${LAB_QEMU[*]} " == *" -accel tcg,thread=$t "* ]]; then
		echo "ok   KVMINI_LAB_TCG=$t: ${LAB_QEMU[*]:0:3}"
	else
		echo "FAIL KVMINI_LAB_TCG=$t: ${LAB_QEMU[*]}"; fails=$((fails + 1))
	fi
done
n=$((n + 1))
if msg=$( (KVMINI_LAB_TCG=many lab_arch aarch64) 2>&1); then
	echo "FAIL KVMINI_LAB_TCG=many accepted"; fails=$((fails + 1))
else
	echo "ok   KVMINI_LAB_TCG=many refused: $msg"
fi
echo "$((n - fails))/$n passed"
[ $fails = 0 ]
