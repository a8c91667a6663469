/* The flattened device tree kvmini hands an arm64 kernel in X0: CPUs and
 * PSCI, memory, /chosen, the GIC, the architected timer, the UART, the
 * virtio-mmio windows and the PCI host bridge. Built with libfdt; no KVM. */
#ifndef KVMINI_ARCH_ARM64_FDT_H
#define KVMINI_ARCH_ARM64_FDT_H

#include <stddef.h>
#include <stdint.h>

#include "arch/arch.h"

#define ARM64_FDT_GIC_PHANDLE 1

struct arm64_fdt_config {
	int ncpus;
	int gic_version;                  /* 3, or 2 (fallback) */
	uint64_t mem_base, mem_size;
	const char *cmdline;
	uint64_t initrd_start, initrd_size;   /* size 0: no initrd */
	const struct arch_mmio_dev *mmio_devs;
	int nr_mmio_devs;
	int has_pci;
};

/* MPIDR_EL1 affinity KVM gives vCPU id (reset_mpidr(): Aff0 = id[3:0],
 * Aff1 = id[11:4], Aff2 = id[19:12]); the cpu nodes' reg. */
uint64_t arm64_vcpu_mpidr(int id);

/* Writes the tree into buf (size bytes, at most ARM64_DTB_MAX is ever
 * needed). 0, or -EINVAL (bad config) / -ENOSPC (buf too small). */
int arm64_fdt_build(void *buf, size_t size, const struct arm64_fdt_config *c);

#endif
