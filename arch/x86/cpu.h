#ifndef KVMINI_ARCH_X86_CPU_H
#define KVMINI_ARCH_X86_CPU_H

#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>

/* KVM_GET_SUPPORTED_CPUID, allocated; NULL on failure. */
struct kvm_cpuid2 *x86_supported_cpuid(int kvm_fd);
/* Per-vCPU CPUID: APIC ids and a flat topology of ncpus cores. */
int x86_vcpu_set_cpuid(int vcpu_fd, const struct kvm_cpuid2 *tmpl, int id, int ncpus);
int x86_vcpu_set_msrs(int vcpu_fd);
int x86_vcpu_set_fpu(int vcpu_fd);
int x86_vcpu_set_lapic(int vcpu_fd);
/* Boot CPU entry state: 64-bit long mode (Linux boot protocol) or 32-bit
 * protected mode without paging (PVH). */
int x86_vcpu_set_boot_regs(int vcpu_fd, int long_mode, uint64_t rip, uint64_t arg);
void x86_vcpu_dump(int vcpu_fd, FILE *out);

#endif
