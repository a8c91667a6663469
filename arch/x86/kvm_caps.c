/* What the x86 code relies on KVM for, checked before a VM is built so a
 * KVM without it is one clear line rather than a failed ioctl halfway
 * through building the machine. Optional features (ioeventfd, irqfd) are
 * vmm/'s, with their fallbacks. */
#include <linux/kvm.h>

#include "arch/arch.h"

#define CAP(c) .cap = c, .name = #c

static const struct arch_kvm_cap x86_caps[] = {
	{ CAP(KVM_CAP_USER_MEMORY), .use = "guest RAM (KVM_SET_USER_MEMORY_REGION)" },
	{ CAP(KVM_CAP_SET_TSS_ADDR), .use = "the real-mode TSS (KVM_SET_TSS_ADDR)" },
	{ CAP(KVM_CAP_SET_IDENTITY_MAP_ADDR), .use = "the identity-map page (KVM_SET_IDENTITY_MAP_ADDR)" },
	{ CAP(KVM_CAP_IRQCHIP), .use = "the in-kernel LAPIC, IOAPIC and PIC" },
	{ CAP(KVM_CAP_PIT2), .use = "the in-kernel PIT (KVM_CREATE_PIT2)" },
	{ CAP(KVM_CAP_EXT_CPUID), .use = "CPUID (KVM_GET_SUPPORTED_CPUID, KVM_SET_CPUID2)" },
	/* vm_stop_vcpus: a vCPU about to enter KVM_RUN when the kick arrives
	 * would otherwise run on until its next exit. */
	{ CAP(KVM_CAP_IMMEDIATE_EXIT), .use = "stopping vCPUs (kvm_run.immediate_exit)" },
	/* MSI-X always works through KVM_SIGNAL_MSI; MSI routes with irqfds
	 * are the fast path on top. */
	{ CAP(KVM_CAP_SIGNAL_MSI), .use = "MSI-X interrupts of PCI devices (KVM_SIGNAL_MSI)", .pci_only = 1 },
};

const struct arch_kvm_cap *arch_kvm_caps(size_t *n)
{
	*n = sizeof(x86_caps) / sizeof(x86_caps[0]);
	return x86_caps;
}
