/* The arm64 machine: an in-kernel GIC, vCPUs that boot through PSCI, the
 * device tree, pvpanic, and the glue from the generic arch interface to the
 * Image loader. Power-off and reset arrive as PSCI calls that KVM turns into
 * KVM_EXIT_SYSTEM_EVENT (vmm/vcpu.c), so there are no reset registers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include "arch/arch.h"
#include "arch/arm64/cpu.h"
#include "arch/arm64/endian.h"
#include "arch/arm64/fdt.h"
#include "arch/arm64/gic.h"
#include "arch/arm64/layout.h"
#include "arm64_image.h"

#define ARM64_SPI_INTID(spi) (32u + (spi))   /* INTIDs 0-31 are SGIs and PPIs */

struct irq_pin {
	int vm_fd;
	uint32_t spi;
};

struct arm64_state {
	struct arch_host *host;
	struct arm64_gic gic;
	struct kvm_vcpu_init target;
	int has_pci;
	struct arm64_boot_result boot;
	struct irq_pin pins[ARM64_NR_SPIS];
};

int arch_ram_regions(uint64_t mem_size, struct arch_ram_region *r, int max)
{
	if (max < 1)
		return 0;
	r[0] = (struct arch_ram_region){ ARM64_RAM_BASE, mem_size };
	return 1;
}

/* pvpanic: reading tells the guest which events we understand (bit 0
 * PANICKED); the guest writes the event on panic. */
static void pvpanic_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	memset(data, 0, len);
	if (off == 0)
		data[0] = 0x01;
}

static void pvpanic_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct arm64_state *a = dev;

	if (off == 0 && (data[0] & 0x01))
		a->host->sys_event(a->host->opaque, SYS_EVENT_PANIC);
}

static const struct io_ops pvpanic_ops = { pvpanic_read, pvpanic_write };

int arch_vm_init(struct arch_host *h, char *err, size_t errlen)
{
	struct arm64_state *a = calloc(1, sizeof(*a));
	int r;

	if (!a)
		return -ENOMEM;
	a->host = h;
	a->gic.fd = -1;
	h->priv = a;
	if ((r = arm64_preferred_target(h->vm_fd, &a->target))) {
		snprintf(err, errlen, "KVM_ARM_PREFERRED_TARGET: %s", strerror(-r));
		return r;
	}
	if ((r = h->map_mmio(h->opaque, ARM64_PVPANIC_BASE, ARM64_PVPANIC_SIZE, &pvpanic_ops, a))) {
		snprintf(err, errlen, "cannot map pvpanic: %s", strerror(-r));
		return r;
	}
	/* Before the vCPUs: a GICv2 cannot be created once they run, and the
	 * GICv3 redistributors are laid out as vCPUs appear. */
	return arm64_gic_create(h->vm_fd, h->ncpus, &a->gic, err, errlen);
}

void arch_vm_destroy(struct arch_host *h)
{
	struct arm64_state *a = h->priv;

	if (a) {
		arm64_gic_destroy(&a->gic);
		free(a);
	}
	h->priv = NULL;
}

int arch_boot_check(uint64_t mem_size, const struct arch_boot *b, char *err, size_t errlen)
{
	struct arm64_boot_result r;

	return arm64_boot_plan(ARM64_RAM_BASE, mem_size, b->kernel, b->kernel_size,
			       b->initrd ? b->initrd_size : 0, b->cmdline, &r, err, errlen);
}

int arch_load(struct arch_host *h, const struct arch_boot *b, char *err, size_t errlen)
{
	struct arm64_state *a = h->priv;
	int r;

	r = arm64_boot_load(h->mem, ARM64_RAM_BASE, h->mem_size, b->kernel, b->kernel_size,
			    b->initrd, b->initrd_size, b->cmdline, &a->boot, err, errlen);
	if (r)
		return r;
	struct arm64_fdt_config c = {
		.ncpus = h->ncpus,
		.gic_version = a->gic.version,
		.mem_base = ARM64_RAM_BASE, .mem_size = h->mem_size,
		.cmdline = b->cmdline,
		.initrd_start = a->boot.initrd_addr, .initrd_size = a->boot.initrd_size,
		.mmio_devs = h->mmio_devs, .nr_mmio_devs = h->nr_mmio_devs,
		.has_pci = a->has_pci,
	};
	void *dtb = gm_ptr(h->mem, a->boot.dtb_addr, ARM64_DTB_MAX);
	if (!dtb)
		r = -EFAULT;
	else
		r = arm64_fdt_build(dtb, ARM64_DTB_MAX, &c);
	if (r)
		snprintf(err, errlen, "cannot build the device tree: %s", strerror(-r));
	return r;
}

int arch_vcpu_init(struct arch_host *h, int fd, int id, char *err, size_t errlen)
{
	struct arm64_state *a = h->priv;
	uint64_t mpidr;
	int r;

	if ((r = arm64_vcpu_init(fd, &a->target, id == 0))) {
		snprintf(err, errlen, "vCPU %d: KVM_ARM_VCPU_INIT: %s", id, strerror(-r));
		return r;
	}
	if (id == 0 && (r = arm64_vcpu_set_boot_regs(fd, a->boot.kernel_addr, a->boot.dtb_addr))) {
		snprintf(err, errlen, "vCPU %d: setting boot registers: %s", id, strerror(-r));
		return r;
	}
	/* The device tree was written before the vCPUs existed; it names
	 * them by the MPIDR KVM gives by default. Say so if that changes. */
	if ((r = arm64_vcpu_get_mpidr(fd, &mpidr))) {
		snprintf(err, errlen, "vCPU %d: reading MPIDR_EL1: %s", id, strerror(-r));
		return r;
	}
	if (mpidr != arm64_vcpu_mpidr(id)) {
		snprintf(err, errlen, "vCPU %d: KVM gave MPIDR 0x%llx, the device tree says 0x%llx",
			 id, (unsigned long long)mpidr, (unsigned long long)arm64_vcpu_mpidr(id));
		return -EINVAL;
	}
	/* vmm/ creates and initialises the vCPUs in order: after the last
	 * one the GIC can be initialised (it needs them all, and no vCPU may
	 * be added afterwards). */
	if (id == h->ncpus - 1)
		return arm64_gic_init(&a->gic, err, errlen);
	return 0;
}

static void kvm_irq_set(void *opaque, int level)
{
	struct irq_pin *p = opaque;
	struct kvm_irq_level l = {
		.irq = (uint32_t)KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT | ARM64_SPI_INTID(p->spi),
		.level = (uint32_t)level,
	};
	ioctl(p->vm_fd, KVM_IRQ_LINE, &l);
}

/* Interrupt numbers in kvmini are SPI numbers: KVM_IRQ_LINE takes INTID =
 * 32 + SPI, and the default GSI routing (kvm_vgic_setup_default_irq_routing,
 * and arch_irq_routes below) sends GSI n to irqchip pin n = SPI n, so one
 * number serves KVM_IRQ_LINE, irqfd and the device tree's <GIC_SPI n>. */
struct irq_line arch_irq_line(struct arch_host *h, uint32_t spi)
{
	struct arm64_state *a = h->priv;

	if (spi >= ARM64_NR_SPIS)
		return (struct irq_line){ 0 };
	a->pins[spi] = (struct irq_pin){ h->vm_fd, spi };
	return (struct irq_line){ kvm_irq_set, &a->pins[spi] };
}

int arch_irq_routes(struct arch_host *h, struct kvm_irq_routing_entry *e, int max,
		    unsigned *first_free)
{
	int n = 0;

	for (unsigned spi = 0; spi < ARM64_NR_SPIS && n < max; spi++)
		e[n++] = (struct kvm_irq_routing_entry){
			.gsi = spi, .type = KVM_IRQ_ROUTING_IRQCHIP, .u.irqchip = { 0, spi },
		};
	*first_free = ARM64_NR_SPIS;
	return n;
}

void arch_console_slot(struct arch_host *h, struct arch_console *c)
{
	*c = (struct arch_console){ .base = ARM64_UART_BASE, .is_pio = 0, .irq = ARM64_UART_SPI };
}

int arch_virtio_mmio_slot(struct arch_host *h, int index, uint64_t *base, uint32_t *irq)
{
	if (index < 0 || index >= ARM64_VIRTIO_MMIO_MAX || index >= ARCH_MAX_MMIO_DEVS)
		return -ENOSPC;
	*base = ARM64_VIRTIO_MMIO_BASE + (uint64_t)index * ARM64_VIRTIO_MMIO_STRIDE;
	*irq = ARM64_VIRTIO_MMIO_SPI + (uint32_t)index;
	return 0;
}

/* PCI I/O space is memory-mapped: port p is at ARM64_PCI_IO_CPU_BASE + p.
 * BARs are placed from port 0x1000 up, as a PC BIOS would; the guest may
 * reassign them (Linux does, without linux,pci-probe-only). */
int arch_pci_layout(struct arch_host *h, struct arch_pci_layout *l)
{
	struct arm64_state *a = h->priv;

	a->has_pci = 1;
	*l = (struct arch_pci_layout){
		.ecam_base = ARM64_PCI_ECAM_BASE, .ecam_size = ARM64_PCI_ECAM_SIZE,
		.mem32_base = ARM64_PCI_MMIO_BASE, .mem32_size = ARM64_PCI_MMIO_SIZE,
		.io_base = 0x1000, .io_size = ARM64_PCI_IO_SIZE - 0x1000,
		.io_cpu_base = ARM64_PCI_IO_CPU_BASE,
		.intx_gsi_base = ARM64_PCI_INTX_SPI,
		.config_ports = 0,
	};
	return 0;
}

void arch_vcpu_dump(int vcpu_fd, FILE *out)
{
	arm64_vcpu_dump(vcpu_fd, out);
}

int arch_vcpu_is_big_endian(int vcpu_fd)
{
	/* KVM_GET_ONE_REG of PSTATE and SCTLR_EL1, then arm64_is_big_endian()
	 * (endian_kvm.c); -1 (the default applies) when they cannot tell. */
	return arm64_vcpu_is_big_endian(vcpu_fd);
}

/* ---- snapshots: the GIC (gic_state.c); vCPUs are snapshot.c's ---- */

int arch_vm_save(struct arch_host *h, struct state_w *w, char *err, size_t errlen)
{
	struct arm64_state *a = h->priv;

	return arm64_gic_save(&a->gic, h->ncpus, w, err, errlen);
}

int arch_vm_load(struct arch_host *h, struct state_r *r)
{
	struct arm64_state *a = h->priv;

	return arm64_gic_load(&a->gic, h->ncpus, r);
}

int arch_restore_platform(struct arch_host *h, char *err, size_t errlen)
{
	return 0;   /* arch_load writes only memory (the Image, the device tree) */
}
