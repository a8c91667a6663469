/* The x86 machine: in-kernel irqchip and PIT, the platform I/O ports behind
 * ACPI power-off / reset and pvpanic, page tables and GDT for the boot CPU,
 * and the glue from the generic arch interface to the x86 loaders. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include "arch/arch.h"
#include "arch/x86/acpi.h"
#include "arch/x86/cpu.h"
#include "arch/x86/layout.h"
#include "boot.h"
#include "le.h"

#define X86_MAX_IRQ_PINS 24

struct irq_pin {
	int vm_fd;
	uint32_t gsi;
};

struct x86_state {
	struct arch_host *host;
	int has_pci;
	struct irq_pin pins[X86_MAX_IRQ_PINS];   /* IOAPIC pins handed out as irq_lines */
	struct kvm_cpuid2 *cpuid;
	struct x86_boot_result boot;
	struct e820_entry e820[X86_E820_MAX];
	int nr_e820;
};

/* ---- platform ports: ACPI sleep/reset registers, i8042 reset, PIIX RST_CNT, pvpanic ---- */

static void plat_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	memset(data, 0, len);
}

static void sleep_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct x86_state *x = dev;
	uint64_t port = X86_PORT_SLEEP_CTL + off;
	uint8_t v = data[0];

	if (port == X86_PORT_SLEEP_CTL) {
		/* ACPI 6.4 §4.8.3.7: SLP_EN (bit 5) with SLP_TYP (bits 4:2). */
		if ((v & 0x20) && ((v >> 2) & 7) == X86_S5_SLP_TYP)
			x->host->sys_event(x->host->opaque, SYS_EVENT_POWEROFF);
	} else if (port == X86_PORT_RESET && v == X86_RESET_VALUE) {
		x->host->sys_event(x->host->opaque, SYS_EVENT_RESET);
	}
}

static const struct io_ops sleep_ops = { plat_read, sleep_write };

static void i8042_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	memset(data, 0, len);   /* status: output buffer empty, input buffer empty */
}

static void i8042_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct x86_state *x = dev;
	if (data[0] == 0xFE)    /* pulse the CPU reset line */
		x->host->sys_event(x->host->opaque, SYS_EVENT_RESET);
}

static const struct io_ops i8042_ops = { i8042_read, i8042_write };

/* 0xCF9 shares the PCI config-address dword at 0xCF8: with a PCI host it
 * arrives as offset 1 of the host bridge's passthrough, without one as a
 * window of its own at offset 0. */
static void rstcnt_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct x86_state *x = dev;
	uint64_t port = x->has_pci ? 0xCF8 + off : X86_PORT_RST_CNT + off;

	if (port == X86_PORT_RST_CNT && (data[0] & 0x04))   /* RST_CPU */
		x->host->sys_event(x->host->opaque, SYS_EVENT_RESET);
}

static const struct io_ops rstcnt_ops = { plat_read, rstcnt_write };

/* pvpanic: reading tells the guest which events we understand (bit 0
 * PANICKED, bit 1 CRASH_LOADED); the guest writes the event on panic. */
static void pvpanic_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	memset(data, 0, len);
	data[0] = 0x01;
}

static void pvpanic_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct x86_state *x = dev;
	if (data[0] & 0x01)
		x->host->sys_event(x->host->opaque, SYS_EVENT_PANIC);
}

static const struct io_ops pvpanic_ops = { pvpanic_read, pvpanic_write };

/* Port 0x80 (POST codes) and friends that Linux pokes for delays: accept silently. */
static void sink_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len) {}
static void ff_read(void *dev, uint64_t off, uint8_t *data, uint32_t len) { memset(data, 0xFF, len); }
static const struct io_ops sink_ops = { ff_read, sink_write };

static int map_platform(struct arch_host *h, struct x86_state *x)
{
	int r = 0;
	r = r ?: h->map_pio(h->opaque, X86_PORT_SLEEP_CTL, 3, &sleep_ops, x);
	r = r ?: h->map_pio(h->opaque, X86_PORT_I8042_CMD, 1, &i8042_ops, x);
	r = r ?: h->map_pio(h->opaque, X86_PORT_PVPANIC, 1, &pvpanic_ops, x);
	r = r ?: h->map_pio(h->opaque, 0x80, 1, &sink_ops, x);
	return r;
}

int arch_vm_init(struct arch_host *h, char *err, size_t errlen)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	struct x86_state *x = calloc(1, sizeof(*x));
	uint64_t idmap = X86_IDMAP_ADDR;

	if (!x)
		return -ENOMEM;
	x->host = h;
	h->priv = x;
	if (ioctl(h->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)X86_TSS_ADDR) < 0 ||
	    ioctl(h->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0) {
		snprintf(err, errlen, "KVM: cannot set TSS/identity-map address: %s", strerror(errno));
		return -errno;
	}
	if (ioctl(h->vm_fd, KVM_CREATE_IRQCHIP) < 0) {
		snprintf(err, errlen, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
		return -errno;
	}
	if (ioctl(h->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		snprintf(err, errlen, "KVM_CREATE_PIT2: %s", strerror(errno));
		return -errno;
	}
	x->cpuid = x86_supported_cpuid(h->kvm_fd);
	if (!x->cpuid) {
		snprintf(err, errlen, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
		return -EIO;
	}
	int r = map_platform(h, x);
	if (r)
		snprintf(err, errlen, "cannot map platform I/O ports: %s", strerror(-r));
	return r;
}

void arch_vm_destroy(struct arch_host *h)
{
	struct x86_state *x = h->priv;
	if (x) {
		free(x->cpuid);
		free(x);
	}
	h->priv = NULL;
}

/* There is no BIOS, but Linux may still jump to the reset vector: on a
 * hardware-reduced ACPI machine it prefers EFI reboot and, with no EFI
 * runtime, falls back to machine_real_restart() -> f000:fff0. Firmware
 * would reset the machine there, so we do: write the ACPI reset register. */
static int write_reset_stub(struct guest_mem *gm)
{
	static const uint8_t stub[] = {
		0xB0, X86_RESET_VALUE,                          /* mov al, value */
		0xBA, X86_PORT_RESET & 0xFF, X86_PORT_RESET >> 8, /* mov dx, port */
		0xEE,                                           /* out dx, al */
		0xF4,                                           /* hlt */
		0xEB, 0xFD,                                     /* jmp hlt */
	};
	return gm_write(gm, X86_RESET_VECTOR, stub, sizeof(stub));
}

/* GDT: null, null, code (64- or 32-bit), data, TSS; identity map of 4 GiB. */
static int write_boot_tables(struct guest_mem *gm, int long_mode)
{
	uint8_t *gdt = gm_ptr(gm, X86_GDT_ADDR, 5 * 8);
	uint8_t *pml4 = gm_ptr(gm, X86_PML4_ADDR, 0x1000);
	uint8_t *pdpt = gm_ptr(gm, X86_PDPT_ADDR, 0x1000);
	uint8_t *pd = gm_ptr(gm, X86_PD_ADDR, 4 * 0x1000);

	if (!gdt || !pml4 || !pdpt || !pd || write_reset_stub(gm))
		return -EFAULT;
	le64_put(gdt + 0, 0);
	le64_put(gdt + 8, 0);
	le64_put(gdt + 16, long_mode ? 0x00AF9B000000FFFFULL : 0x00CF9B000000FFFFULL);
	le64_put(gdt + 24, 0x00CF93000000FFFFULL);
	le64_put(gdt + 32, 0x00008B0000000067ULL);
	memset(pml4, 0, 0x1000);
	memset(pdpt, 0, 0x1000);
	le64_put(pml4, X86_PDPT_ADDR | 3);
	for (uint64_t i = 0; i < 4; i++)
		le64_put(pdpt + 8 * i, (X86_PD_ADDR + i * 0x1000) | 3);
	for (uint64_t i = 0; i < 4 * 512; i++)
		le64_put(pd + 8 * i, (i << 21) | 0x83);   /* present, writable, 2 MiB */
	return 0;
}

/* IOAPIC pins free for virtio-mmio: not the PIT (2), COM1 (4), RTC (8), SCI
 * (9), the i8042 (1, 12), or PCI INTx (20-23); edge-triggered, as the DSDT
 * says. */
static const uint8_t virtio_gsis[] = { 5, 6, 7, 10, 11, 14, 15, 16, 17, 18, 19 };

int arch_virtio_mmio_slot(struct arch_host *h, int index, uint64_t *base, uint32_t *irq)
{
	if (index < 0 || index >= (int)sizeof(virtio_gsis) || index >= ARCH_MAX_MMIO_DEVS)
		return -ENOSPC;
	*base = X86_VIRTIO_MMIO_BASE + (uint64_t)index * 0x1000;
	*irq = virtio_gsis[index];
	return 0;
}

static int write_acpi(struct arch_host *h, uint64_t *rsdp)
{
	struct x86_state *x = h->priv;
	struct acpi_mmio_dev devs[ARCH_MAX_MMIO_DEVS];
	static const struct acpi_pci pci = {
		.ecam_base = X86_PCI_ECAM_BASE, .ecam_size = X86_PCI_ECAM_SIZE,
		.mem32_base = X86_PCI_MEM32_BASE, .mem32_size = X86_PCI_MEM32_SIZE,
		.intx_gsi_base = X86_PCI_INTX_GSI,
	};

	for (int i = 0; i < h->nr_mmio_devs; i++)
		devs[i] = (struct acpi_mmio_dev){ h->mmio_devs[i].hid, h->mmio_devs[i].base,
						  h->mmio_devs[i].size, h->mmio_devs[i].irq };
	struct acpi_config c = {
		.ncpus = h->ncpus,
		.lapic_addr = (uint32_t)X86_LAPIC_ADDR,
		.ioapic_addr = (uint32_t)X86_IOAPIC_ADDR,
		.ioapic_id = (uint8_t)h->ncpus,
		.sleep_ctl_port = X86_PORT_SLEEP_CTL,
		.sleep_sts_port = X86_PORT_SLEEP_STS,
		.reset_port = X86_PORT_RESET,
		.reset_value = X86_RESET_VALUE,
		.s5_slp_typ = X86_S5_SLP_TYP,
		.sci_irq = X86_SCI_IRQ,
		.pvpanic_port = X86_PORT_PVPANIC,
		.com1_port = X86_PORT_COM1,
		.com1_irq = X86_IRQ_COM1,
		.mmio_devs = devs,
		.nr_mmio_devs = h->nr_mmio_devs,
		.pci = x->has_pci ? &pci : NULL,
	};
	uint8_t *buf = gm_ptr(h->mem, X86_ACPI_ADDR, X86_ACPI_SIZE);
	if (!buf)
		return -EFAULT;
	memset(buf, 0, X86_ACPI_SIZE);
	return acpi_build(buf, X86_ACPI_ADDR, X86_ACPI_SIZE, &c, rsdp);
}

static struct x86_boot_layout boot_layout(uint64_t mem_size)
{
	return (struct x86_boot_layout){
		.lowmem_end = x86_lowmem_size(mem_size),
		.kernel_addr = X86_HIMEM_START,
		.zero_page = X86_BOOT_PARAMS_ADDR,
		.pvh_info = X86_PVH_INFO_ADDR,
		.cmdline_addr = X86_CMDLINE_ADDR,
		.cmdline_max = X86_CMDLINE_MAX,
	};
}

int arch_boot_check(uint64_t mem_size, const struct arch_boot *b, char *err, size_t errlen)
{
	struct x86_boot_layout L = boot_layout(mem_size);
	struct x86_boot_result r;

	return x86_boot_plan(&L, b->kernel, b->kernel_size, b->initrd ? b->initrd_size : 0,
			     b->cmdline, &r, err, errlen);
}

int arch_load(struct arch_host *h, const struct arch_boot *b, char *err, size_t errlen)
{
	struct x86_state *x = h->priv;
	struct x86_boot_layout L = boot_layout(h->mem_size);
	int r;

	if (!x->has_pci && (r = h->map_pio(h->opaque, X86_PORT_RST_CNT, 1, &rstcnt_ops, x))) {
		snprintf(err, errlen, "cannot map port 0xCF9: %s", strerror(-r));
		return r;
	}
	x->nr_e820 = x86_e820_build(h->mem_size, x->e820, X86_E820_MAX);
	L.e820 = x->e820;
	L.nr_e820 = x->nr_e820;
	if ((r = write_acpi(h, &L.rsdp))) {
		snprintf(err, errlen, "cannot build ACPI tables: %s", strerror(-r));
		return r;
	}
	r = x86_boot_load(h->mem, &L, b->kernel, b->kernel_size, b->initrd, b->initrd_size,
			  b->cmdline, &x->boot, err, errlen);
	if (r)
		return r;
	if ((r = write_boot_tables(h->mem, x->boot.mode == X86_ENTRY_64))) {
		snprintf(err, errlen, "cannot write boot page tables");
		return r;
	}
	return 0;
}

int arch_pci_layout(struct arch_host *h, struct arch_pci_layout *l)
{
	struct x86_state *x = h->priv;

	x->has_pci = 1;
	*l = (struct arch_pci_layout){
		.ecam_base = X86_PCI_ECAM_BASE, .ecam_size = X86_PCI_ECAM_SIZE,
		.mem32_base = X86_PCI_MEM32_BASE, .mem32_size = X86_PCI_MEM32_SIZE,
		.io_base = X86_PCI_IO_BASE, .io_size = X86_PCI_IO_SIZE,
		.intx_gsi_base = X86_PCI_INTX_GSI,
		.config_ports = 1,
		.cf8_passthrough = &rstcnt_ops, .cf8_passthrough_opaque = x,
	};
	return 0;
}

int arch_vcpu_init(struct arch_host *h, int fd, int id, char *err, size_t errlen)
{
	struct x86_state *x = h->priv;
	int r;
	const char *what;

	if ((r = x86_vcpu_set_cpuid(fd, x->cpuid, id, h->ncpus))) {
		what = "KVM_SET_CPUID2";
	} else if ((r = x86_vcpu_set_msrs(fd))) {
		what = "KVM_SET_MSRS";
	} else if ((r = x86_vcpu_set_fpu(fd))) {
		what = "KVM_SET_FPU";
	} else if ((r = x86_vcpu_set_lapic(fd))) {
		what = "KVM_SET_LAPIC";
	} else if (id == 0 && (r = x86_vcpu_set_boot_regs(fd, x->boot.mode == X86_ENTRY_64,
							    x->boot.entry, x->boot.arg))) {
		what = "setting boot registers";
	} else {
		return 0;
	}
	snprintf(err, errlen, "vCPU %d: %s: %s", id, what, strerror(-r));
	return r;
}

static void kvm_irq_set(void *opaque, int level)
{
	struct irq_pin *p = opaque;
	struct kvm_irq_level l = { .irq = p->gsi, .level = (uint32_t)level };
	ioctl(p->vm_fd, KVM_IRQ_LINE, &l);
}

struct irq_line arch_irq_line(struct arch_host *h, uint32_t gsi)
{
	struct x86_state *x = h->priv;
	if (gsi >= X86_MAX_IRQ_PINS)
		return (struct irq_line){ 0 };
	x->pins[gsi] = (struct irq_pin){ h->vm_fd, gsi };
	return (struct irq_line){ kvm_irq_set, &x->pins[gsi] };
}

void arch_console_slot(struct arch_host *h, struct arch_console *c)
{
	*c = (struct arch_console){ .base = X86_PORT_COM1, .is_pio = 1, .irq = X86_IRQ_COM1 };
}

/* KVM's own default (kvm_setup_default_irq_routing): GSI 0-15 reach both
 * 8259s and the IOAPIC (GSI 0, the PIT, on IOAPIC pin 2), 16-23 the IOAPIC. */
int arch_irq_routes(struct arch_host *h, struct kvm_irq_routing_entry *e, int max,
		    unsigned *first_free)
{
	int n = 0;

	for (unsigned gsi = 0; gsi < X86_MAX_IRQ_PINS && n + 2 <= max; gsi++) {
		if (gsi < 16)
			e[n++] = (struct kvm_irq_routing_entry){
				.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = { gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
					       gsi % 8 },
			};
		e[n++] = (struct kvm_irq_routing_entry){
			.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { KVM_IRQCHIP_IOAPIC, gsi == 0 ? 2 : gsi },
		};
	}
	*first_free = X86_MAX_IRQ_PINS;
	return n;
}

void arch_vcpu_dump(int vcpu_fd, FILE *out)
{
	x86_vcpu_dump(vcpu_fd, out);
}

int arch_vcpu_is_big_endian(int vcpu_fd)
{
	return 0;   /* x86 is little-endian in every mode: no syscall needed */
}

int arch_restore_platform(struct arch_host *h, char *err, size_t errlen)
{
	struct x86_state *x = h->priv;
	int r;

	/* as arch_load: 0xCF9 on a port of its own when no PCI host shares it */
	if (!x->has_pci && (r = h->map_pio(h->opaque, X86_PORT_RST_CNT, 1, &rstcnt_ops, x))) {
		snprintf(err, errlen, "cannot map port 0xCF9: %s", strerror(-r));
		return r;
	}
	return 0;
}
