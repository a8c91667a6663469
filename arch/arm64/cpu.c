/* arm64 vCPUs: init, boot registers, dump. */
#include "arch/arm64/cpu.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>

/* Core registers are addressed by their offset in struct kvm_regs, in
 * 32-bit words (asm/kvm.h KVM_REG_ARM_CORE_REG). */
#define CORE_REG(x) (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | KVM_REG_ARM_CORE_REG(x))
#define REG_X(n)    (CORE_REG(regs.regs[0]) + 2 * (uint64_t)(n))   /* 64-bit = 2 words */

#define MPIDR_EL1   ARM64_SYS_REG(3, 0, 0, 0, 5)
#define SCTLR_EL1   ARM64_SYS_REG(3, 0, 1, 0, 0)
#define ESR_EL1     ARM64_SYS_REG(3, 0, 5, 2, 0)
#define FAR_EL1     ARM64_SYS_REG(3, 0, 6, 0, 0)
#define MPIDR_AFF_MASK 0xff00ffffffULL

/* PSTATE: EL1 using SP_EL1 (M = 0b0101), D, A, I, F masked (asm/ptrace.h). */
#define PSTATE_EL1H_DAIF (0x5ULL | 0x3c0ULL)

static int get_reg(int fd, uint64_t id, uint64_t *v)
{
	struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)v };
	return ioctl(fd, KVM_GET_ONE_REG, &r) < 0 ? -errno : 0;
}

static int set_reg(int fd, uint64_t id, uint64_t v)
{
	struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)&v };
	return ioctl(fd, KVM_SET_ONE_REG, &r) < 0 ? -errno : 0;
}

int arm64_preferred_target(int vm_fd, struct kvm_vcpu_init *init)
{
	memset(init, 0, sizeof(*init));
	return ioctl(vm_fd, KVM_ARM_PREFERRED_TARGET, init) < 0 ? -errno : 0;
}

int arm64_vcpu_init(int vcpu_fd, const struct kvm_vcpu_init *target, int boot_cpu)
{
	struct kvm_vcpu_init init = *target;

	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	if (!boot_cpu)
		init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
	return ioctl(vcpu_fd, KVM_ARM_VCPU_INIT, &init) < 0 ? -errno : 0;
}

int arm64_vcpu_set_boot_regs(int vcpu_fd, uint64_t entry, uint64_t dtb)
{
	int r = 0;

	r = r ?: set_reg(vcpu_fd, CORE_REG(regs.pstate), PSTATE_EL1H_DAIF);
	r = r ?: set_reg(vcpu_fd, REG_X(0), dtb);
	for (int i = 1; i <= 3; i++)
		r = r ?: set_reg(vcpu_fd, REG_X(i), 0);
	r = r ?: set_reg(vcpu_fd, CORE_REG(regs.pc), entry);
	return r;
}

int arm64_vcpu_get_mpidr(int vcpu_fd, uint64_t *mpidr)
{
	int r = get_reg(vcpu_fd, MPIDR_EL1, mpidr);
	if (!r)
		*mpidr &= MPIDR_AFF_MASK;
	return r;
}

void arm64_vcpu_dump(int vcpu_fd, FILE *out)
{
	uint64_t x[31], pc, sp, pstate, sp_el1, elr, spsr, esr = 0, far = 0, sctlr = 0;
	int r = 0;

	for (int i = 0; i < 31; i++)
		r = r ?: get_reg(vcpu_fd, REG_X(i), &x[i]);
	r = r ?: get_reg(vcpu_fd, CORE_REG(regs.pc), &pc);
	r = r ?: get_reg(vcpu_fd, CORE_REG(regs.sp), &sp);
	r = r ?: get_reg(vcpu_fd, CORE_REG(regs.pstate), &pstate);
	r = r ?: get_reg(vcpu_fd, CORE_REG(sp_el1), &sp_el1);
	r = r ?: get_reg(vcpu_fd, CORE_REG(elr_el1), &elr);
	r = r ?: get_reg(vcpu_fd, CORE_REG(spsr[0]), &spsr);   /* KVM_SPSR_EL1 */
	if (r) {
		fprintf(out, "  (registers unavailable: %s)\n", strerror(-r));
		return;
	}
	/* System registers are a bonus: print what KVM gives. */
	get_reg(vcpu_fd, ESR_EL1, &esr);
	get_reg(vcpu_fd, FAR_EL1, &far);
	get_reg(vcpu_fd, SCTLR_EL1, &sctlr);
	fprintf(out, "  pc  %016llx pstate %08llx sp_el0 %016llx sp_el1 %016llx\n"
		"  elr_el1 %016llx spsr_el1 %08llx esr_el1 %08llx far_el1 %016llx sctlr_el1 %08llx\n",
		(unsigned long long)pc, (unsigned long long)pstate, (unsigned long long)sp,
		(unsigned long long)sp_el1, (unsigned long long)elr, (unsigned long long)spsr,
		(unsigned long long)esr, (unsigned long long)far, (unsigned long long)sctlr);
	for (int i = 0; i < 31; i++)
		fprintf(out, "%sx%-2d %016llx%s", i % 4 ? " " : "  ", i, (unsigned long long)x[i],
			i % 4 == 3 || i == 30 ? "\n" : "");
}
