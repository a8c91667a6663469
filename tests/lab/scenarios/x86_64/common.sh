# Helpers for the x86_64 lab scenarios (sourced; busybox sh in the lab).
# Environment from run-scenarios.sh: KVMINI BZIMAGE VMLINUX INITRD WORK
# LAB_DIRECT LAB_COMMON. The helpers themselves (run_guest, expect_rc, ...,
# disk.sh, net.sh) are shared with the other architectures in
# tests/lab/scenarios/common ($LAB_COMMON).
CMDLINE_BASE="console=ttyS0 quiet panic=-1"
KERNEL=$BZIMAGE
LAB_COMMON=${LAB_COMMON:-$(dirname "$0")/../common}
. "$LAB_COMMON/common.sh"
