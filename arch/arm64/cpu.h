/* arm64 vCPU state through KVM: KVM_ARM_VCPU_INIT with PSCI, the boot
 * registers of booting.rst, and a register dump for crash reports. */
#ifndef KVMINI_ARCH_ARM64_CPU_H
#define KVMINI_ARCH_ARM64_CPU_H

#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>

/* KVM_ARM_PREFERRED_TARGET: the vCPU model this host offers. 0 or -errno. */
int arm64_preferred_target(int vm_fd, struct kvm_vcpu_init *init);

/* KVM_ARM_VCPU_INIT with PSCI 0.2; every vCPU but the boot CPU starts
 * powered off until the guest's PSCI CPU_ON (handled inside KVM). */
int arm64_vcpu_init(int vcpu_fd, const struct kvm_vcpu_init *target, int boot_cpu);

/* booting.rst §4 "Call the kernel image": X0 = DTB, X1-X3 = 0, PC = entry,
 * PSTATE = EL1h with D, A, I, F masked. 0 or -errno. */
int arm64_vcpu_set_boot_regs(int vcpu_fd, uint64_t entry, uint64_t dtb);

/* MPIDR_EL1 as KVM set it. 0 or -errno. */
int arm64_vcpu_get_mpidr(int vcpu_fd, uint64_t *mpidr);

void arm64_vcpu_dump(int vcpu_fd, FILE *out);

#endif
