/* The in-kernel interrupt controller: a GICv3 (KVM_DEV_TYPE_ARM_VGIC_V3), or
 * a GICv2 when the host refuses v3, at the addresses of layout.h. */
#ifndef KVMINI_ARCH_ARM64_GIC_H
#define KVMINI_ARCH_ARM64_GIC_H

#include <stddef.h>

struct arm64_gic {
	int fd;
	int version;      /* 3 or 2 */
};

/* Creates the device and sets its addresses and interrupt count; before any
 * vCPU exists. 0 or -errno with a message. */
int arm64_gic_create(int vm_fd, int ncpus, struct arm64_gic *g, char *err, size_t errlen);

/* KVM_DEV_ARM_VGIC_CTRL_INIT: after every vCPU is created and initialised,
 * before the first KVM_RUN. irqfds and KVM_IRQ_LINE work only after it. */
int arm64_gic_init(struct arm64_gic *g, char *err, size_t errlen);

void arm64_gic_destroy(struct arm64_gic *g);

/* Snapshots (gic_state.c): a GICv3's registers and line levels, saved with
 * every vCPU parked; loaded after CTRL_INIT and the vCPUs' registers. A
 * GICv2 is refused. */
struct state_r;
struct state_w;
int arm64_gic_save(const struct arm64_gic *g, int ncpus, struct state_w *w, char *err,
		   size_t errlen);
int arm64_gic_load(const struct arm64_gic *g, int ncpus, struct state_r *r);

#endif
