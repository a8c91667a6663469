#!/bin/sh
# /init of the nested lab's L1 (tests/lab/lab.sh and boot.sh put it there).
# Loads KVM (x86_64: kvm-amd; arm64: built in, only tun is loaded), then either runs the scenarios (LAB_MODE=run) or starts kvmini on
# the console (LAB_MODE=interactive), and powers L1 off.
export PATH=/bin:/sbin
# Host programs some runs need beyond busybox (lab-common.sh LAB_HOST_TOOLS).
[ -d /lab/hostbin ] && PATH=/lab/hostbin:$PATH
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts 2>/dev/null   # ptys, for script(1)
mkdir -p /work
mount -t tmpfs -o size=1024m work /work
. /lab/config
# Keep kernel messages (e.g. KVM's "Unhandled WRMSR") from splitting our
# result lines; panics still print. Failures dump dmesg instead.
echo 1 >/proc/sys/kernel/printk

echo "LAB-L1-UP kernel=$(uname -r) cpus=$(grep -c '^processor' /proc/cpuinfo) uptime=$(cut -d' ' -f1 /proc/uptime)"
while read -r m; do
	insmod "/lib/modules/$m" 2>/dev/null
done </lib/modules/kvm.order
if [ ! -c /dev/kvm ]; then
	echo "LAB-ERROR /dev/kvm missing after loading $(tr '\n' ' ' </lib/modules/kvm.order)"
	grep -Ec '(vmx|svm)' /proc/cpuinfo | sed 's/^/LAB-ERROR cpus with vmx|svm: /'
	dmesg | tail -n 30 | sed 's/^/  [dmesg] /'
	echo "LAB-ABORT no /dev/kvm in L1"
	poweroff -f
fi
echo "LAB-KVM-UP modules=\"$(lsmod | awk 'NR > 1 { printf "%s ", $1 }')\" uptime=$(cut -d' ' -f1 /proc/uptime)"

export KVMINI=/lab/bin/kvmini INITRD=/lab/images/guest-initrd.cpio.gz
if [ "${LAB_ARCH:-x86_64}" = aarch64 ]; then
	export IMAGE=/lab/images/Image
else
	export BZIMAGE=/lab/images/bzImage VMLINUX=/lab/images/vmlinux
fi
export LAB_DIRECT=0 LAB_WORK=/work LAB_COMMON=/lab/common GUESTS=/lab/guests

if [ "$LAB_MODE" = interactive ]; then
	eval "set -- $LAB_ARGS"
	echo "L1: starting: kvmini $*"
	# cttyhack gives kvmini the serial line as its controlling terminal.
	setsid cttyhack "$KVMINI" "$@"
	echo "LAB-KVMINI-EXIT rc=$?"
else
	dmesg -c >/dev/null
	sh /lab/run-scenarios.sh /lab/scenarios "$LAB_TIMEOUT"
	if dmesg | grep -q .; then
		echo "L1 kernel messages during the run (last 40):"
		dmesg | tail -n 40 | sed 's/^/  [L1-dmesg] /'
	fi
fi
sync
poweroff -f
