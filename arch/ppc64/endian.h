/* The byte order of a 64-bit Power vCPU (DESIGN.md, "The endianness rule"):
 * which order a legacy virtio device takes when this vCPU resets it.
 *
 * ppc64_is_big_endian() is a pure function, built and unit-tested on every
 * host (library kvmini_endian). The KVM read lives in endian_kvm.c, compiled
 * only for powerpc64 and part of kvmini_endian there. */
#ifndef KVMINI_ARCH_PPC64_ENDIAN_H
#define KVMINI_ARCH_PPC64_ENDIAN_H

#include <stdint.h>

/* MSR[LE], Power ISA bit 63 of the 64-bit MSR in IBM numbering: the least
 * significant bit (Linux asm/reg.h MSR_LE_LG 0). Not MSR[ILE] (bit 16 from
 * the right), the byte order interrupts are taken in. */
#define PPC64_MSR_LE (UINT64_C(1) << 0)

/* 1 when the vCPU runs big-endian (MSR[LE] clear), 0 little-endian. */
int ppc64_is_big_endian(uint64_t msr);

/* ---- endian_kvm.c: powerpc64 builds only ---- */

/* Reads the vCPU's MSR: 0, or -errno. Points at ppc64_kvm_get_msr; a test
 * replaces it to exercise ppc64_vcpu_is_big_endian without KVM. */
extern int (*ppc64_get_msr)(int vcpu_fd, uint64_t *msr);

/* The KVM implementation: KVM_GET_REGS, struct kvm_regs .msr. */
int ppc64_kvm_get_msr(int vcpu_fd, uint64_t *msr);

/* Shaped for arch_vcpu_is_big_endian(): 1 big, 0 little, -1 when the MSR
 * cannot be read (the architecture's default then applies). */
int ppc64_vcpu_is_big_endian(int vcpu_fd);

#endif
