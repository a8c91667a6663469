/* GICv3 / GICv2 through the KVM device API
 * (Documentation/virt/kvm/devices/arm-vgic-v3.rst, arm-vgic.rst). */
#include "arch/arm64/gic.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "arch/arm64/layout.h"

#define GICV2_MAX_CPUS 8

static int set_attr(int fd, uint32_t group, uint64_t attr, const void *val)
{
	struct kvm_device_attr a = { .group = group, .attr = attr, .addr = (uint64_t)(uintptr_t)val };
	return ioctl(fd, KVM_SET_DEVICE_ATTR, &a) < 0 ? -errno : 0;
}

static int create(int vm_fd, uint32_t type)
{
	struct kvm_create_device d = { .type = type };
	return ioctl(vm_fd, KVM_CREATE_DEVICE, &d) < 0 ? -errno : (int)d.fd;
}

/* Addresses, then the interrupt count. 0, or -errno and what failed. */
static int configure(struct arm64_gic *g, const char **what)
{
	uint32_t nr_irqs = 32 + ARM64_NR_SPIS;   /* SGIs and PPIs, then our SPIs */
	uint64_t dist = ARM64_GIC_DIST_BASE, redist = ARM64_GIC_REDIST_BASE;
	uint64_t cpu = ARM64_GICV2_CPU_BASE;
	int v3 = g->version == 3;
	int r;

	*what = "distributor address";
	r = set_attr(g->fd, KVM_DEV_ARM_VGIC_GRP_ADDR,
		     v3 ? KVM_VGIC_V3_ADDR_TYPE_DIST : KVM_VGIC_V2_ADDR_TYPE_DIST, &dist);
	if (r)
		return r;
	*what = v3 ? "redistributor address" : "CPU interface address";
	r = v3 ? set_attr(g->fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST, &redist)
	       : set_attr(g->fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V2_ADDR_TYPE_CPU, &cpu);
	if (r)
		return r;
	*what = "number of interrupts";
	return set_attr(g->fd, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr_irqs);
}

int arm64_gic_create(int vm_fd, int ncpus, struct arm64_gic *g, char *err, size_t errlen)
{
	const char *what;
	int r, v3_err;

	g->version = 3;
	g->fd = create(vm_fd, KVM_DEV_TYPE_ARM_VGIC_V3);
	if (g->fd < 0) {
		/* A GICv2-only host (or one without v2 compatibility for v3). */
		v3_err = g->fd;
		if (ncpus > GICV2_MAX_CPUS) {
			snprintf(err, errlen, "--cpus: this host has no GICv3 (%s), and a GICv2 "
				 "takes at most %d vCPUs", strerror(-v3_err), GICV2_MAX_CPUS);
			return -EINVAL;
		}
		g->version = 2;
		g->fd = create(vm_fd, KVM_DEV_TYPE_ARM_VGIC_V2);
		if (g->fd < 0) {
			snprintf(err, errlen, "KVM_CREATE_DEVICE: no in-kernel GIC (v3: %s, v2: %s)",
				 strerror(-v3_err), strerror(-g->fd));
			return g->fd;
		}
	}
	if ((r = configure(g, &what)))
		snprintf(err, errlen, "GICv%d: cannot set the %s: %s", g->version, what, strerror(-r));
	return r;
}

int arm64_gic_init(struct arm64_gic *g, char *err, size_t errlen)
{
	int r = set_attr(g->fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL);
	if (r)
		snprintf(err, errlen, "GICv%d: KVM_DEV_ARM_VGIC_CTRL_INIT: %s", g->version, strerror(-r));
	return r;
}

void arm64_gic_destroy(struct arm64_gic *g)
{
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
}
