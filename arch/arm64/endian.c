/* arm64 byte order from PSTATE and SCTLR_EL1: no KVM, no host assumptions
 * (see endian.h). The rule is the one QEMU (arm_cpu_virtio_is_big_endian)
 * and kvmtool (kvm_cpu__get_endianness) apply: the byte order of the data
 * accesses the vCPU makes at its current exception level. */
#include "arch/arm64/endian.h"

int arm64_is_big_endian(uint64_t pstate, uint64_t sctlr_el1)
{
	if (pstate & ARM64_PSTATE_nRW)   /* AArch32: PSTATE is the CPSR */
		return (pstate & ARM64_CPSR_E) != 0;

	switch ((pstate & ARM64_PSTATE_EL_MASK) >> ARM64_PSTATE_EL_SHIFT) {
	case 0:
		return (sctlr_el1 & ARM64_SCTLR_E0E) != 0;
	case 1:
		return (sctlr_el1 & ARM64_SCTLR_EE) != 0;
	default:                         /* EL2, EL3: SCTLR_ELx, not ours */
		return -1;
	}
}
