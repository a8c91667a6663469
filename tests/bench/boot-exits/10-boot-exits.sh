#!/bin/sh
# Where a Linux boot's KVM exits go (a lab scenario: bash
# tests/bench/boot-exits.sh). Boots the guest image three times:
# 2 vCPUs, 512M, one virtio-blk disk on PCI, guest command "true", to
# power-off. L1 traces every exit of the VM (tracefs: kvm:kvm_exit,
# kvm:kvm_pio, kvm:kvm_mmio), so the exits KVM answers in the kernel (PIT,
# PIC, LAPIC) count as well as those that reach kvmini; kvmini's own
# counters come from KVMINI_STATS=1 and --result. Prints, per boot, one line
# per exit reason, per port and per MMIO page, each with its count.
. "$(dirname "$0")/common.sh"
BOOTS=3
T=/sys/kernel/tracing
grep -q ' /sys/kernel/tracing ' /proc/mounts || mount -t tracefs tracefs $T 2>/dev/null
[ -w $T/trace ] || fail "no tracefs in L1"
echo 16384 >$T/buffer_size_kb
img=$WORK/d.img
dd if=/dev/zero of="$img" bs=1M count=0 seek=16 2>/dev/null
i=0
while [ $i -lt "$BOOTS" ]; do
	i=$((i + 1))
	echo 0 >$T/tracing_on
	: >$T/trace
	for e in kvm_exit kvm_pio kvm_mmio; do echo 1 >$T/events/kvm/$e/enable; done
	echo 1 >$T/tracing_on
	KVMINI_STATS=1 run_guest "boot$i" "$KERNEL" "true" --cpus 2 --disk "$img" \
		--timeout "$L2_TIMEOUT" --result "$WORK/boot$i.json"
	echo 0 >$T/tracing_on
	expect_rc 0
	echo "EXITS-JSON boot$i $(tr -d '\n' <"$WORK/boot$i.json" | sed 's/.*"exits"/"exits"/')"
	# kvm_exit: "reason NAME"; kvm_pio: "pio_write at 0x3f8 size 1 count 1 ...";
	# kvm_mmio: "mmio write len 4 gpa 0xfee000b0 val ...".
	awk -v b="boot$i" '
	/ kvm_exit: / { for (k = 1; k < NF; k++) if ($k == "reason") { r[$(k + 1)]++; n++ } }
	/ kvm_pio: / { for (k = 1; k < NF; k++) if ($k == "at") { p[$(k - 1) " " $(k + 1)]++ } }
	/ kvm_mmio: / { for (k = 1; k < NF; k++) if ($k == "gpa") {
		g = $(k + 1); sub(/...$/, "000", g); m[$(k - 3) " " g]++ } }
	END {
		printf "TRACE %s exits %d\n", b, n
		for (x in r) printf "TRACE %s reason %s %d\n", b, x, r[x]
		for (x in p) printf "TRACE %s port %s %d\n", b, x, p[x]
		for (x in m) printf "TRACE %s mmio %s %d\n", b, x, m[x]
	}' $T/trace | sort -k3,3 -k5,5nr
	grep -h overrun $T/per_cpu/cpu*/stats | tr '\n' ' '; echo
done
for e in kvm_exit kvm_pio kvm_mmio; do echo 0 >$T/events/kvm/$e/enable; done
