/* The in-kernel GICv3's state for snapshots, through the device attribute
 * API (Documentation/virt/kvm/devices/arm-vgic-v3.rst): distributor
 * registers (KVM_DEV_ARM_VGIC_GRP_DIST_REGS), each vCPU's redistributor
 * (REDIST_REGS) and CPU interface (CPU_SYSREGS), and the line levels of
 * level-triggered interrupts (LEVEL_INFO).
 *
 * One list of registers serves both ways, in the order a restore must
 * write them (QEMU's arm_gicv3_kvm.c arrived at it): configuration before
 * pending state, so level and edge are told apart; routing before pending
 * state, so it lands on the right CPU; set/clear register pairs cleared
 * first. A register KVM will not read (an active-priority register beyond
 * the implemented priority bits, say) is saved as absent and not written. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include "arch/arm64/fdt.h"
#include "arch/arm64/gic.h"
#include "arch/arm64/layout.h"
#include "state.h"

#define GIC_VERSION 1
#define NR_IRQS (32 + ARM64_NR_SPIS)

#define GICD_CTLR       0x0000
#define GICD_STATUSR    0x0010
#define GICD_IGROUPR    0x0080
#define GICD_ISENABLER  0x0100
#define GICD_ICENABLER  0x0180
#define GICD_ISPENDR    0x0200
#define GICD_ICPENDR    0x0280
#define GICD_ISACTIVER  0x0300
#define GICD_ICACTIVER  0x0380
#define GICD_IPRIORITYR 0x0400
#define GICD_ICFGR      0x0c00
#define GICD_IROUTER    0x6000
#define GICR_CTLR       0x0000
#define GICR_STATUSR    0x0010
#define GICR_WAKER      0x0014
#define GICR_SGI        0x10000
#define GICR_IGROUPR0   (GICR_SGI + 0x0080)
#define GICR_ISENABLER0 (GICR_SGI + 0x0100)
#define GICR_ICENABLER0 (GICR_SGI + 0x0180)
#define GICR_ISPENDR0   (GICR_SGI + 0x0200)
#define GICR_ICPENDR0   (GICR_SGI + 0x0280)
#define GICR_ISACTIVER0 (GICR_SGI + 0x0300)
#define GICR_ICACTIVER0 (GICR_SGI + 0x0380)
#define GICR_IPRIORITYR (GICR_SGI + 0x0400)
#define GICR_ICFGR1     (GICR_SGI + 0x0c04)

#define ICC(op1, crn, crm, op2) ((uint64_t)ARM64_SYS_REG(3, op1, crn, crm, op2) & 0xffff)
#define ICC_PMR_EL1     ICC(0, 4, 6, 0)
#define ICC_BPR0_EL1    ICC(0, 12, 8, 3)
#define ICC_AP0R_EL1(n) ICC(0, 12, 8, 4 | (n))
#define ICC_AP1R_EL1(n) ICC(0, 12, 9, (n))
#define ICC_BPR1_EL1    ICC(0, 12, 12, 3)
#define ICC_CTLR_EL1    ICC(0, 12, 12, 4)
#define ICC_SRE_EL1     ICC(0, 12, 12, 5)
#define ICC_IGRPEN0_EL1 ICC(0, 12, 12, 6)
#define ICC_IGRPEN1_EL1 ICC(0, 12, 12, 7)

/* The affinity of vCPU id as the attribute's bits 63:32 want it:
 * Aff3.Aff2.Aff1.Aff0 (GICR_TYPER's layout), from MPIDR_EL1's. */
static uint64_t cpu_attr(int id)
{
	uint64_t m = arm64_vcpu_mpidr(id);

	return (((m >> 32) & 0xff) << 24 | (m & 0xffffff)) << 32;
}

struct reg {
	uint32_t group;
	uint64_t attr;
	uint64_t clear;               /* set/clear pair: this attr + 1 gets ~0 first; 0 none */
	bool wide;                    /* 64-bit (CPU sysregs) */
};

/* Calls fn for every register, in restore order; stops at a nonzero return. */
static int each_reg(int ncpus, int (*fn)(void *ctx, const struct reg *r), void *ctx)
{
	const uint32_t D = KVM_DEV_ARM_VGIC_GRP_DIST_REGS, R = KVM_DEV_ARM_VGIC_GRP_REDIST_REGS,
		       C = KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS, L = KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO;
	const uint64_t level = (uint64_t)VGIC_LEVEL_INFO_LINE_LEVEL << KVM_DEV_ARM_VGIC_LINE_LEVEL_INFO_SHIFT;
	int r;

#define EMIT(g, a, c, w) do {							\
	struct reg x = { (g), (a), (c), (w) };					\
	if ((r = fn(ctx, &x)))							\
		return r;							\
} while (0)
	EMIT(D, GICD_CTLR, 0, false);
	for (int cpu = 0; cpu < ncpus; cpu++) {
		uint64_t a = cpu_attr(cpu);
		EMIT(R, a | GICR_CTLR, 0, false);
		EMIT(R, a | GICR_STATUSR, 0, false);
		EMIT(R, a | GICR_WAKER, 0, false);
		EMIT(R, a | GICR_IGROUPR0, 0, false);
		EMIT(R, a | GICR_ISENABLER0, 1 + (a | GICR_ICENABLER0), false);
		EMIT(R, a | GICR_ICFGR1, 0, false);
		EMIT(L, a | level | 0, 0, false);
		EMIT(R, a | GICR_ISPENDR0, 1 + (a | GICR_ICPENDR0), false);
		EMIT(R, a | GICR_ISACTIVER0, 1 + (a | GICR_ICACTIVER0), false);
		for (int i = 0; i < 32; i += 4)
			EMIT(R, a | (GICR_IPRIORITYR + i), 0, false);
	}
	EMIT(D, GICD_STATUSR, 0, false);
	for (int irq = 32; irq < NR_IRQS; irq += 32)
		EMIT(D, GICD_ISENABLER + irq / 8, 1 + GICD_ICENABLER + irq / 8, false);
	for (int irq = 32; irq < NR_IRQS; irq += 32)
		EMIT(D, GICD_IGROUPR + irq / 8, 0, false);
	for (int irq = 32; irq < NR_IRQS; irq++) {
		EMIT(D, GICD_IROUTER + 8 * irq, 0, false);
		EMIT(D, GICD_IROUTER + 8 * irq + 4, 0, false);
	}
	for (int irq = 32; irq < NR_IRQS; irq += 16)
		EMIT(D, GICD_ICFGR + irq / 4, 0, false);
	for (int irq = 32; irq < NR_IRQS; irq += 32)
		EMIT(L, level | (uint64_t)irq, 0, false);
	for (int irq = 32; irq < NR_IRQS; irq += 32)
		EMIT(D, GICD_ISPENDR + irq / 8, 1 + GICD_ICPENDR + irq / 8, false);
	for (int irq = 32; irq < NR_IRQS; irq += 32)
		EMIT(D, GICD_ISACTIVER + irq / 8, 1 + GICD_ICACTIVER + irq / 8, false);
	for (int irq = 32; irq < NR_IRQS; irq += 4)
		EMIT(D, GICD_IPRIORITYR + irq, 0, false);
	for (int cpu = 0; cpu < ncpus; cpu++) {
		uint64_t a = cpu_attr(cpu);
		static const uint64_t icc[] = { ICC_SRE_EL1, ICC_CTLR_EL1, ICC_IGRPEN0_EL1,
						ICC_IGRPEN1_EL1, ICC_PMR_EL1, ICC_BPR0_EL1,
						ICC_BPR1_EL1 };
		for (size_t i = 0; i < sizeof(icc) / sizeof(icc[0]); i++)
			EMIT(C, a | icc[i], 0, true);
		for (int n = 0; n < 4; n++) {
			EMIT(C, a | ICC_AP0R_EL1(n), 0, true);
			EMIT(C, a | ICC_AP1R_EL1(n), 0, true);
		}
	}
#undef EMIT
	return 0;
}

static int attr_io(int fd, bool set, uint32_t group, uint64_t attr, void *v)
{
	struct kvm_device_attr a = { .group = group, .attr = attr, .addr = (uint64_t)(uintptr_t)v };

	return ioctl(fd, set ? KVM_SET_DEVICE_ATTR : KVM_GET_DEVICE_ATTR, &a) < 0 ? -errno : 0;
}

struct save_ctx {
	int fd;
	struct state_w *w;
	uint32_t count;
};

static int save_one(void *ctx, const struct reg *r)
{
	struct save_ctx *c = ctx;
	uint64_t v64 = 0;
	uint32_t v32 = 0;
	int e = attr_io(c->fd, false, r->group, r->attr, r->wide ? (void *)&v64 : (void *)&v32);

	sw_bool(c->w, e == 0);
	sw_u64(c->w, r->wide ? v64 : v32);
	c->count++;
	return 0;
}

int arm64_gic_save(const struct arm64_gic *g, int ncpus, struct state_w *w, char *err,
		   size_t errlen)
{
	struct save_ctx c = { g->fd, w, 0 };
	uint32_t ctlr;

	if (g->version != 3) {
		snprintf(err, errlen, "snapshots need a GICv3; this host gave the VM a GICv%d",
			 g->version);
		return -ENOTSUP;
	}
	/* The one register that must read: else this KVM cannot save a GIC. */
	if (attr_io(g->fd, false, KVM_DEV_ARM_VGIC_GRP_DIST_REGS, GICD_CTLR, &ctlr)) {
		snprintf(err, errlen, "GICv3: KVM does not let its registers be read: %s",
			 strerror(errno));
		return -ENOTSUP;
	}
	size_t at = sw_begin(w, STATE_TAG('G', 'I', 'C', '3'), GIC_VERSION);
	sw_u32(w, (uint32_t)ncpus);
	sw_u32(w, NR_IRQS);
	each_reg(ncpus, save_one, &c);
	sw_end(w, at);
	return 0;
}

struct load_ctx {
	int fd;
	struct state_r *r;
};

static int load_one(void *ctx, const struct reg *reg)
{
	struct load_ctx *c = ctx;
	bool present = sr_bool(c->r);
	uint64_t v = sr_u64(c->r);
	uint32_t v32 = (uint32_t)v, all = ~0u;
	int e;

	if (!sr_ok(c->r))
		return -EINVAL;
	if (!present)
		return 0;
	if (reg->clear && (e = attr_io(c->fd, true, reg->group, reg->clear - 1, &all)))
		return sr_fail(c->r, "GICv3: clearing group %u register 0x%llx: %s", reg->group,
			       (unsigned long long)(reg->clear - 1), strerror(-e));
	e = attr_io(c->fd, true, reg->group, reg->attr, reg->wide ? (void *)&v : (void *)&v32);
	if (e)
		return sr_fail(c->r, "GICv3: KVM refuses group %u register 0x%llx = 0x%llx: %s",
			       reg->group, (unsigned long long)reg->attr, (unsigned long long)v,
			       strerror(-e));
	return 0;
}

int arm64_gic_load(const struct arm64_gic *g, int ncpus, struct state_r *rr)
{
	struct state_r s;
	struct load_ctx c = { g->fd, &s };

	if (sr_section(rr, STATE_TAG('G', 'I', 'C', '3'), GIC_VERSION, NULL, &s, "GICv3"))
		return -EINVAL;
	uint32_t n = sr_u32(&s), irqs = sr_u32(&s);
	if (sr_ok(&s) && (n != (uint32_t)ncpus || irqs != NR_IRQS))
		return sr_fail(&s, "GICv3: %u vCPUs and %u interrupts saved, this one has %d and %d",
			       n, irqs, ncpus, NR_IRQS);
	if (sr_ok(&s) && g->version != 3)
		return sr_fail(&s, "a GICv3's state, but this host gave the VM a GICv%d", g->version);
	if (each_reg(ncpus, load_one, &c))
		return -EINVAL;
	return sr_end(&s, "GICv3");
}
