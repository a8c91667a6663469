/* The byte order of an arm64 vCPU (DESIGN.md, "The endianness rule"): which
 * order a legacy virtio device takes when this vCPU resets it.
 *
 * arm64_is_big_endian() is a pure function of two register values, built and
 * unit-tested on every host (library kvmini_endian). The KVM reads live in
 * endian_kvm.c, which is compiled only for aarch64 and is part of
 * kvmini_endian there. */
#ifndef KVMINI_ARCH_ARM64_ENDIAN_H
#define KVMINI_ARCH_ARM64_ENDIAN_H

#include <stdint.h>

/* PSTATE as KVM reports it (core register regs.pstate): the SPSR_EL2 layout
 * (Arm ARM, register SPSR_EL2, field M; Linux uapi asm/ptrace.h PSR_MODE32_BIT,
 * PSR_MODE_MASK, PSR_AA32_E_BIT). */
#define ARM64_PSTATE_nRW      (UINT64_C(1) << 4)   /* M[4]: 1 = AArch32 */
#define ARM64_PSTATE_EL_SHIFT 2                     /* AArch64: M[3:2] = EL */
#define ARM64_PSTATE_EL_MASK  (UINT64_C(3) << ARM64_PSTATE_EL_SHIFT)
#define ARM64_CPSR_E          (UINT64_C(1) << 9)    /* AArch32: data big-endian */

/* SCTLR_EL1 (Arm ARM, register SCTLR_EL1; Linux asm/sysreg.h SCTLR_ELx_EE,
 * SCTLR_EL1_E0E). */
#define ARM64_SCTLR_E0E       (UINT64_C(1) << 24)   /* EL0 data accesses big-endian */
#define ARM64_SCTLR_EE        (UINT64_C(1) << 25)   /* EL1 data accesses (and walks) */

/* Is a vCPU in this state doing big-endian data accesses?
 *   AArch32 (PSTATE.nRW = 1): CPSR.E, in every mode (SETEND flips it).
 *   AArch64 EL0: SCTLR_EL1.E0E.   AArch64 EL1: SCTLR_EL1.EE.
 * Returns 1 big-endian, 0 little-endian, -1 when these two registers cannot
 * tell: AArch64 EL2/EL3, whose byte order is SCTLR_EL2/EL3.EE. kvmini does
 * not give vCPUs EL2 (KVM_ARM_VCPU_HAS_EL2), so that means a bad read; -1 is
 * the virtio_platform convention for "use the architecture's default". */
int arm64_is_big_endian(uint64_t pstate, uint64_t sctlr_el1);

/* ---- endian_kvm.c: aarch64 builds only ---- */

/* Reads PSTATE (KVM_REG_ARM_CORE regs.pstate) and SCTLR_EL1
 * (op0 3, op1 0, CRn 1, CRm 0, op2 0) with KVM_GET_ONE_REG.
 * 0, or -errno (nothing written on failure). */
int arm64_vcpu_read_endian_regs(int vcpu_fd, uint64_t *pstate, uint64_t *sctlr);

/* Both steps in one, shaped for arch_vcpu_is_big_endian(): 1, 0, or -1 when
 * the registers cannot be read or cannot tell (the default then applies). */
int arm64_vcpu_is_big_endian(int vcpu_fd);

#endif
