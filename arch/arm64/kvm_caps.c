/* What the arm64 code relies on KVM for, checked before a VM is built so a
 * KVM without it is one clear line rather than a failed ioctl halfway
 * through building the machine. Optional features (ioeventfd, irqfd) are
 * vmm/'s, with their fallbacks. PCI devices use INTx here (no ITS, so no
 * MSI): nothing extra for them. */
#include <linux/kvm.h>

#include "arch/arch.h"

#define CAP(c) .cap = c, .name = #c

static const struct arch_kvm_cap arm64_caps[] = {
	{ CAP(KVM_CAP_USER_MEMORY), .use = "guest RAM (KVM_SET_USER_MEMORY_REGION)" },
	{ CAP(KVM_CAP_ONE_REG), .use = "vCPU registers (KVM_GET_ONE_REG, KVM_SET_ONE_REG)" },
	{ CAP(KVM_CAP_ARM_PSCI_0_2), .use = "PSCI 0.2: starting secondary vCPUs, power-off and reset" },
	{ CAP(KVM_CAP_IRQCHIP), .use = "an in-kernel GIC" },
	{ CAP(KVM_CAP_DEVICE_CTRL), .use = "creating the GIC (KVM_CREATE_DEVICE)" },
	/* vm_stop_vcpus: a vCPU about to enter KVM_RUN when the kick arrives
	 * would otherwise run on until its next exit. */
	{ CAP(KVM_CAP_IMMEDIATE_EXIT), .use = "stopping vCPUs (kvm_run.immediate_exit)" },
};

const struct arch_kvm_cap *arch_kvm_caps(size_t *n)
{
	*n = sizeof(arm64_caps) / sizeof(arm64_caps[0]);
	return arm64_caps;
}
