/* The arm64 device tree, written with libfdt's sequential-write API. Node
 * shapes follow the kernel's bindings (Documentation/devicetree/bindings:
 * arm/cpus.yaml, arm/psci.yaml, interrupt-controller/arm,gic-v3.yaml and
 * arm,gic.yaml, timer/arm,arch_timer.yaml, serial/8250.yaml, virtio/mmio.yaml,
 * pci/host-generic-pci.yaml) and the addresses of layout.h. */
#include "arch/arm64/fdt.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libfdt.h>

#include "arch/arm64/layout.h"

#define GIC_SPI 0
#define GIC_PPI 1
#define IRQ_EDGE_RISING 1
#define IRQ_LEVEL_HIGH  4
#define GICV3_REDIST_STRIDE 0x20000ULL   /* RD_base + SGI_base frames per vCPU */
#define GICV2_DIST_SIZE     0x1000ULL    /* what KVM decodes (KVM_VGIC_V2_DIST_SIZE) */
#define GICV2_CPU_SIZE      0x2000ULL    /* KVM_VGIC_V2_CPU_SIZE */
#define UART_CLOCK_HZ       1843200      /* the classic 16550 crystal; divisors as on a PC */

uint64_t arm64_vcpu_mpidr(int id)
{
	uint64_t u = (uint64_t)id;
	return (u & 0xf) | ((u >> 4) & 0xff) << 8 | ((u >> 12) & 0xff) << 16;
}

/* Sequential writes, stopping at the first error (kept in w->err). */
struct fdtw {
	void *fdt;
	int err;
};

static void chk(struct fdtw *w, int r)
{
	if (r < 0 && !w->err)
		w->err = r;
}

static void begin(struct fdtw *w, const char *name) { if (!w->err) chk(w, fdt_begin_node(w->fdt, name)); }
static void end(struct fdtw *w) { if (!w->err) chk(w, fdt_end_node(w->fdt)); }
static void prop_str(struct fdtw *w, const char *n, const char *v) { if (!w->err) chk(w, fdt_property_string(w->fdt, n, v)); }
static void prop_u32(struct fdtw *w, const char *n, uint32_t v) { if (!w->err) chk(w, fdt_property_u32(w->fdt, n, v)); }
static void prop_u64(struct fdtw *w, const char *n, uint64_t v) { if (!w->err) chk(w, fdt_property_u64(w->fdt, n, v)); }
static void prop_empty(struct fdtw *w, const char *n) { if (!w->err) chk(w, fdt_property(w->fdt, n, NULL, 0)); }

/* A property of 32-bit cells, given host-order values. */
static void prop_cells(struct fdtw *w, const char *n, const uint32_t *v, int count)
{
	fdt32_t be[16 * 10];   /* the largest: PCI's interrupt-map */

	if (w->err)
		return;
	if (count > (int)(sizeof(be) / sizeof(be[0]))) {
		w->err = -FDT_ERR_INTERNAL;
		return;
	}
	for (int i = 0; i < count; i++)
		be[i] = cpu_to_fdt32(v[i]);
	chk(w, fdt_property(w->fdt, n, be, count * (int)sizeof(be[0])));
}

/* Strings lists ("a\0b\0"). */
static void prop_strs(struct fdtw *w, const char *n, const char *v, size_t len)
{
	if (!w->err)
		chk(w, fdt_property(w->fdt, n, v, (int)len));
}

#define HI(x) ((uint32_t)((uint64_t)(x) >> 32))
#define LO(x) ((uint32_t)(x))

/* reg = <addr size> with #address-cells = #size-cells = 2. */
static void prop_reg2(struct fdtw *w, uint64_t a, uint64_t s)
{
	uint32_t v[4] = { HI(a), LO(a), HI(s), LO(s) };
	prop_cells(w, "reg", v, 4);
}

static void node_name(char *buf, size_t len, const char *base, uint64_t addr)
{
	snprintf(buf, len, "%s@%llx", base, (unsigned long long)addr);
}

static void add_cpus(struct fdtw *w, const struct arm64_fdt_config *c)
{
	char name[32];

	begin(w, "cpus");
	prop_u32(w, "#address-cells", 1);
	prop_u32(w, "#size-cells", 0);
	for (int i = 0; i < c->ncpus; i++) {
		uint64_t mpidr = arm64_vcpu_mpidr(i);
		node_name(name, sizeof(name), "cpu", mpidr);
		begin(w, name);
		prop_str(w, "device_type", "cpu");
		prop_str(w, "compatible", "arm,armv8");
		prop_str(w, "enable-method", "psci");
		prop_u32(w, "reg", (uint32_t)mpidr);
		end(w);
	}
	end(w);

	/* PSCI 0.2 function ids; KVM answers them (KVM_ARM_VCPU_PSCI_0_2). */
	begin(w, "psci");
	prop_str(w, "compatible", "arm,psci-0.2");
	prop_str(w, "method", "hvc");
	end(w);
}

static void add_gic(struct fdtw *w, const struct arm64_fdt_config *c)
{
	char name[32];

	node_name(name, sizeof(name), "intc", ARM64_GIC_DIST_BASE);
	begin(w, name);
	if (c->gic_version == 3) {
		uint32_t reg[8] = { HI(ARM64_GIC_DIST_BASE), LO(ARM64_GIC_DIST_BASE),
				    HI(ARM64_GIC_DIST_SIZE), LO(ARM64_GIC_DIST_SIZE),
				    HI(ARM64_GIC_REDIST_BASE), LO(ARM64_GIC_REDIST_BASE),
				    0, LO(GICV3_REDIST_STRIDE * (uint64_t)c->ncpus) };
		prop_str(w, "compatible", "arm,gic-v3");
		prop_cells(w, "reg", reg, 8);
	} else {
		uint32_t reg[8] = { HI(ARM64_GIC_DIST_BASE), LO(ARM64_GIC_DIST_BASE),
				    0, LO(GICV2_DIST_SIZE),
				    HI(ARM64_GICV2_CPU_BASE), LO(ARM64_GICV2_CPU_BASE),
				    0, LO(GICV2_CPU_SIZE) };
		prop_str(w, "compatible", "arm,cortex-a15-gic");
		prop_cells(w, "reg", reg, 8);
	}
	prop_u32(w, "#interrupt-cells", 3);
	prop_empty(w, "interrupt-controller");
	/* Address cells of its own: interrupt-map entries (PCI INTx) carry a
	 * parent unit address of this many cells. */
	prop_u32(w, "#address-cells", 2);
	prop_u32(w, "#size-cells", 2);
	prop_empty(w, "ranges");
	prop_u32(w, "phandle", ARM64_FDT_GIC_PHANDLE);
	end(w);
}

static void add_timer(struct fdtw *w, const struct arm64_fdt_config *c)
{
	/* Secure, non-secure, virtual, hypervisor physical timer PPIs. On a
	 * GICv2 the flags also name the CPUs the PPI reaches. */
	uint32_t f = IRQ_LEVEL_HIGH;
	if (c->gic_version == 2)
		f |= ((1u << c->ncpus) - 1) << 8;
	uint32_t irqs[12] = { GIC_PPI, 13, f, GIC_PPI, 14, f, GIC_PPI, 11, f, GIC_PPI, 10, f };

	begin(w, "timer");
	prop_str(w, "compatible", "arm,armv8-timer");
	prop_cells(w, "interrupts", irqs, 12);
	prop_empty(w, "always-on");
	end(w);
}

static void add_uart(struct fdtw *w)
{
	char name[32];
	uint32_t irq[3] = { GIC_SPI, ARM64_UART_SPI, IRQ_LEVEL_HIGH };

	node_name(name, sizeof(name), "serial", ARM64_UART_BASE);
	begin(w, name);
	prop_str(w, "compatible", "ns16550a");
	prop_reg2(w, ARM64_UART_BASE, 8);
	prop_u32(w, "clock-frequency", UART_CLOCK_HZ);
	prop_cells(w, "interrupts", irq, 3);
	end(w);
}

/* Linux's pvpanic-mmio driver: the guest says "panicked" on panic. */
static void add_pvpanic(struct fdtw *w)
{
	char name[32];

	node_name(name, sizeof(name), "pvpanic", ARM64_PVPANIC_BASE);
	begin(w, name);
	prop_str(w, "compatible", "qemu,pvpanic-mmio");
	prop_reg2(w, ARM64_PVPANIC_BASE, ARM64_PVPANIC_SIZE);
	end(w);
}

static int add_mmio_devs(struct fdtw *w, const struct arm64_fdt_config *c)
{
	char name[40];

	for (int i = 0; i < c->nr_mmio_devs; i++) {
		const struct arch_mmio_dev *d = &c->mmio_devs[i];
		uint32_t irq[3] = { GIC_SPI, d->irq, IRQ_EDGE_RISING };

		/* The ACPI id vmm/ gives virtio-mmio; nothing else is announced. */
		if (!d->hid || strcmp(d->hid, "LNRO0005") || d->irq >= ARM64_NR_SPIS)
			return -EINVAL;
		node_name(name, sizeof(name), "virtio_mmio", d->base);
		begin(w, name);
		prop_str(w, "compatible", "virtio,mmio");
		prop_reg2(w, d->base, d->size);
		prop_cells(w, "interrupts", irq, 3);
		prop_empty(w, "dma-coherent");
		end(w);
	}
	return 0;
}

static void add_pci(struct fdtw *w)
{
	char name[32];
	uint32_t ranges[] = {
		0x01000000, 0, 0,                   /* I/O space, bus address 0 */
		HI(ARM64_PCI_IO_CPU_BASE), LO(ARM64_PCI_IO_CPU_BASE),
		HI(ARM64_PCI_IO_SIZE), LO(ARM64_PCI_IO_SIZE),
		0x02000000, HI(ARM64_PCI_MMIO_BASE), LO(ARM64_PCI_MMIO_BASE),   /* 32-bit memory, 1:1 */
		HI(ARM64_PCI_MMIO_BASE), LO(ARM64_PCI_MMIO_BASE),
		HI(ARM64_PCI_MMIO_SIZE), LO(ARM64_PCI_MMIO_SIZE),
	};
	uint32_t bus_range[2] = { 0, (uint32_t)(ARM64_PCI_ECAM_SIZE >> 20) - 1 };
	/* INTA..D of slot s reach SPI base + (s + pin) % 4: the swizzle
	 * repeats every 4 slots, so the mask keeps slot bits 1:0 and the pin. */
	uint32_t mask[4] = { 0x1800, 0, 0, 7 };
	uint32_t map[16 * 10];
	int n = 0;

	for (uint32_t slot = 0; slot < 4; slot++) {
		for (uint32_t pin = 1; pin <= 4; pin++) {
			uint32_t e[10] = { slot << 11, 0, 0, pin, ARM64_FDT_GIC_PHANDLE, 0, 0,
					   GIC_SPI, ARM64_PCI_INTX_SPI + (slot + pin - 1) % 4,
					   IRQ_LEVEL_HIGH };
			memcpy(&map[n], e, sizeof(e));
			n += 10;
		}
	}
	node_name(name, sizeof(name), "pcie", ARM64_PCI_ECAM_BASE);
	begin(w, name);
	prop_str(w, "compatible", "pci-host-ecam-generic");
	prop_str(w, "device_type", "pci");
	prop_reg2(w, ARM64_PCI_ECAM_BASE, ARM64_PCI_ECAM_SIZE);
	prop_cells(w, "bus-range", bus_range, 2);
	prop_u32(w, "#address-cells", 3);
	prop_u32(w, "#size-cells", 2);
	prop_u32(w, "#interrupt-cells", 1);
	prop_u32(w, "linux,pci-domain", 0);
	prop_empty(w, "dma-coherent");
	prop_cells(w, "ranges", ranges, (int)(sizeof(ranges) / sizeof(ranges[0])));
	prop_cells(w, "interrupt-map-mask", mask, 4);
	prop_cells(w, "interrupt-map", map, n);
	end(w);
}

int arm64_fdt_build(void *buf, size_t size, const struct arm64_fdt_config *c)
{
	static const char compat[] = "linux,dummy-virt";
	struct fdtw w = { buf, 0 };
	char name[32];
	int r;

	if (c->ncpus < 1 || c->ncpus > (c->gic_version == 2 ? 8 : 64) ||
	    (c->gic_version != 2 && c->gic_version != 3) || !c->cmdline ||
	    c->nr_mmio_devs < 0 || c->nr_mmio_devs > ARCH_MAX_MMIO_DEVS || size > INT32_MAX)
		return -EINVAL;
	chk(&w, fdt_create(buf, (int)size));
	if (!w.err)
		chk(&w, fdt_finish_reservemap(buf));
	begin(&w, "");
	prop_u32(&w, "#address-cells", 2);
	prop_u32(&w, "#size-cells", 2);
	prop_strs(&w, "compatible", compat, sizeof(compat));
	prop_str(&w, "model", "kvmini");
	prop_u32(&w, "interrupt-parent", ARM64_FDT_GIC_PHANDLE);

	begin(&w, "chosen");
	prop_str(&w, "bootargs", c->cmdline);
	node_name(name, sizeof(name), "/serial", ARM64_UART_BASE);
	prop_str(&w, "stdout-path", name);
	if (c->initrd_size) {
		prop_u64(&w, "linux,initrd-start", c->initrd_start);
		prop_u64(&w, "linux,initrd-end", c->initrd_start + c->initrd_size);
	}
	end(&w);

	node_name(name, sizeof(name), "memory", c->mem_base);
	begin(&w, name);
	prop_str(&w, "device_type", "memory");
	prop_reg2(&w, c->mem_base, c->mem_size);
	end(&w);

	add_cpus(&w, c);
	add_gic(&w, c);
	add_timer(&w, c);
	add_uart(&w);
	add_pvpanic(&w);
	if ((r = add_mmio_devs(&w, c)))
		return r;
	if (c->has_pci)
		add_pci(&w);
	end(&w);
	if (!w.err)
		chk(&w, fdt_finish(buf));
	if (w.err)
		return w.err == -FDT_ERR_NOSPACE ? -ENOSPC : -EINVAL;
	return 0;
}
