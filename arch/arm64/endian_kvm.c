/* The KVM side of arm64's byte order: reads the two registers endian.c
 * decides on. aarch64 builds only (<asm/kvm.h> of arm64). */
#include <errno.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

#include "arch/arm64/endian.h"

/* Core registers are addressed by their offset in struct kvm_regs, in
 * 32-bit words (KVM_REG_ARM_CORE_REG); pstate is 64 bits wide. */
#define PSTATE_REG_ID (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | \
		       KVM_REG_ARM_CORE_REG(regs.pstate))
/* SCTLR_EL1: op0 3, op1 0, CRn 1, CRm 0, op2 0. */
#define SCTLR_EL1_REG_ID ARM64_SYS_REG(3, 0, 1, 0, 0)

static int get_one_reg(int vcpu_fd, uint64_t id, uint64_t *val)
{
	struct kvm_one_reg reg = { .id = id, .addr = (uint64_t)(uintptr_t)val };

	return ioctl(vcpu_fd, KVM_GET_ONE_REG, &reg) < 0 ? -errno : 0;
}

int arm64_vcpu_read_endian_regs(int vcpu_fd, uint64_t *pstate, uint64_t *sctlr)
{
	uint64_t p, s;
	int r;

	if ((r = get_one_reg(vcpu_fd, PSTATE_REG_ID, &p)) < 0)
		return r;
	if ((r = get_one_reg(vcpu_fd, SCTLR_EL1_REG_ID, &s)) < 0)
		return r;
	*pstate = p;
	*sctlr = s;
	return 0;
}

int arm64_vcpu_is_big_endian(int vcpu_fd)
{
	uint64_t pstate, sctlr;

	if (arm64_vcpu_read_endian_regs(vcpu_fd, &pstate, &sctlr) < 0)
		return -1;
	return arm64_is_big_endian(pstate, sctlr);
}
