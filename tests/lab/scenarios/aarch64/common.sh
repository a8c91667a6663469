# Helpers for the aarch64 lab scenarios (sourced; busybox sh in the lab).
# Environment from run-scenarios.sh: KVMINI IMAGE INITRD WORK LAB_DIRECT
# LAB_COMMON LAB_WORK. The helpers (run_guest, expect_rc, ..., disk.sh,
# net.sh) are shared with x86_64 in tests/lab/scenarios/common.
#
# kvmini's arm64 machine: the kernel is an arm64 Image, the console a 16550
# "ttyS0" (MMIO, in the device tree), power-off and reset through PSCI.
CMDLINE_BASE="console=ttyS0 quiet panic=-1"
KERNEL=$IMAGE
# PCI interrupts: without a GIC ITS there is no MSI(-X) on arm64, so virtio-pci
# uses INTx through the GIC; an ITS would show up as ITS-MSI. Either will do.
PCI_IRQ_RE='(GIC|MSI).* virtio[0-9]'
LAB_COMMON=${LAB_COMMON:-$(dirname "$0")/../common}
. "$LAB_COMMON/common.sh"
