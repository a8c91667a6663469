/* ACPI tables for the x86 guest, following ACPI 6.3 (section numbers below
 * refer to it). The machine is "hardware-reduced" (§4.1): no PM1 event or
 * control blocks, no PM timer, no GPE blocks, no SMI_CMD, no FACS. Power-off
 * goes through the FADT sleep registers, reset through the FADT reset
 * register, and every device Linux must find (virtio-mmio above all) is
 * declared in the DSDT.
 *
 * Tables are written byte by byte in little-endian order, never through C
 * structs, so the result does not depend on the host's byte order. */
#include "arch/x86/acpi.h"
#include "arch/x86/aml.h"

#include <errno.h>
#include <string.h>

#define ACPI_OEM_ID       "KVMINI"
#define ACPI_OEM_TABLE_ID "KVMINI  "
#define ACPI_CREATOR_ID   "KVMI"
#define ACPI_HDR_LEN      36        /* §5.2.6 System Description Table Header */

#define RSDP_LEN          36        /* §5.2.5.3, revision 2 */
#define RSDP_V1_LEN       20        /* the part covered by the first checksum */
#define FADT_LEN          276       /* §5.2.9, revision 6 */
#define FADT_REVISION     6
#define FADT_MINOR        3         /* ACPI 6.3 */
#define MADT_REVISION     5         /* ACPI 6.3 */
#define DSDT_REVISION     2         /* 2+: AML integers are 64-bit (§5.2.11.1) */
#define NR_SDT_ENTRIES    3         /* FADT, MADT, MCFG; the DSDT hangs off the FADT */
#define MCFG_LEN          60        /* header, 8 reserved, one allocation */

/* FADT Fixed Feature Flags (§5.2.9). */
#define FADT_F_WBINVD          (1u << 0)
#define FADT_F_PWR_BUTTON      (1u << 4)
#define FADT_F_SLP_BUTTON      (1u << 5)
#define FADT_F_RESET_REG_SUP   (1u << 10)
#define FADT_F_HW_REDUCED_ACPI (1u << 20)

/* FADT IA-PC Boot Architecture Flags (§5.2.9.3). */
#define BOOT_ARCH_8042         (1u << 1)
#define BOOT_ARCH_VGA_NOT_PRESENT (1u << 2)
#define BOOT_ARCH_MSI_NOT_SUPPORTED (1u << 3)
#define BOOT_ARCH_CMOS_RTC_NOT_PRESENT (1u << 5)

/* Generic Address Structure (§5.2.3.2). */
#define GAS_SYSTEM_IO   1
#define GAS_ACCESS_BYTE 1

/* MADT (§5.2.12) flags and interrupt controller structure types. */
#define MADT_PCAT_COMPAT   1u
#define MADT_LAPIC         0
#define MADT_IOAPIC        1
#define MADT_INT_OVERRIDE  2
#define MADT_LAPIC_NMI     4
#define MADT_LAPIC_LEN     8
#define MADT_IOAPIC_LEN    12
#define MADT_OVERRIDE_LEN  10
#define MADT_NMI_LEN       6
#define MPS_INTI_ACTIVE_HIGH 0x1    /* §5.2.12.5 MPS INTI flags: polarity bits 1:0 */
#define MPS_INTI_LEVEL       0xC    /* trigger mode bits 3:2 */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

uint8_t acpi_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum = (uint8_t)(sum + *b++);
	return (uint8_t)-sum;
}

static void put_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put32(t + 4, len);
	t[8] = rev;
	t[9] = 0;                           /* checksum, set by seal() */
	memcpy(t + 10, ACPI_OEM_ID, 6);
	memcpy(t + 16, ACPI_OEM_TABLE_ID, 8);
	put32(t + 24, 1);                   /* OEM revision */
	memcpy(t + 28, ACPI_CREATOR_ID, 4);
	put32(t + 32, 1);                   /* creator revision */
}

static void seal(uint8_t *t, size_t len)
{
	t[9] = 0;
	t[9] = acpi_checksum(t, len);
}

/* Generic Address Structure for one byte-wide I/O port. */
static void put_gas_io8(uint8_t *p, uint16_t port)
{
	p[0] = GAS_SYSTEM_IO;
	p[1] = 8;                           /* register bit width */
	p[2] = 0;                           /* bit offset */
	p[3] = GAS_ACCESS_BYTE;
	put64(p + 4, port);
}

/* §5.2.5.3. The first checksum covers the ACPI 1.0 part (20 bytes), the
 * extended one the whole structure. */
static void build_rsdp(uint8_t *p, uint32_t rsdt, uint64_t xsdt)
{
	memset(p, 0, RSDP_LEN);
	memcpy(p, "RSD PTR ", 8);
	memcpy(p + 9, ACPI_OEM_ID, 6);
	p[15] = 2;                          /* revision: ACPI 2.0+ */
	put32(p + 16, rsdt);
	put32(p + 20, RSDP_LEN);
	put64(p + 24, xsdt);
	p[8] = acpi_checksum(p, RSDP_V1_LEN);
	p[32] = acpi_checksum(p, RSDP_LEN);
}

/* RSDT (§5.2.7) and XSDT (§5.2.8) list the same tables with 4- and 8-byte
 * pointers. Linux uses the XSDT; the RSDT costs 44 bytes and keeps
 * RsdtAddress meaningful for tools and OSes that only read ACPI 1.0. */
static size_t build_sdt(uint8_t *t, const char *sig, int width, const uint64_t *ent, int n)
{
	size_t len = ACPI_HDR_LEN + (size_t)(width * n);

	put_header(t, sig, (uint32_t)len, 1);
	for (int i = 0; i < n; i++) {
		if (width == 4)
			put32(t + ACPI_HDR_LEN + 4 * i, (uint32_t)ent[i]);
		else
			put64(t + ACPI_HDR_LEN + 8 * i, ent[i]);
	}
	seal(t, len);
	return len;
}

/* FADT, §5.2.9 (its field table gives the offsets used below). */
static size_t build_fadt(uint8_t *t, const struct acpi_config *cfg, uint64_t dsdt)
{
	uint16_t boot_arch;

	memset(t, 0, FADT_LEN);
	put_header(t, "FACP", FADT_LEN, FADT_REVISION);
	/* FIRMWARE_CTRL (36) and X_FIRMWARE_CTRL (132) stay 0: a
	 * hardware-reduced platform has no FACS (§5.2.10). */
	put32(t + 40, (uint32_t)dsdt);      /* DSDT; equals X_DSDT */
	t[45] = 0;                          /* Preferred_PM_Profile: unspecified */
	put16(t + 46, cfg->sci_irq);        /* SCI_INT */
	/* SMI_CMD, the PM1/PM2/PM_TMR/GPE blocks and their lengths stay 0:
	 * in hardware-reduced mode OSPM must ignore them (§5.2.9, §4.1). */

	/* IAPC_BOOT_ARCH (§5.2.9.3):
	 * - LEGACY_DEVICES (bit 0) clear: every legacy device we have (COM1)
	 *   is described in the DSDT; Linux uses the bit only to allow PnP BIOS.
	 * - 8042 (bit 1) clear: there is no keyboard controller; Linux then
	 *   skips probing ports 0x60/0x64 (i8042 "firmware absent").
	 * - VGA Not Present (bit 2) set: no VGA; keeps the OS off 0x3C0-0x3DF
	 *   and the legacy framebuffer.
	 * - MSI Not Supported (bit 3) clear: virtio-pci uses MSI-X, and Linux
	 *   turns MSI off globally when this bit is set.
	 * - CMOS RTC Not Present (bit 5) set: we emulate no MC146818 at
	 *   0x70/0x71; Linux then registers no rtc_cmos device and takes wall
	 *   clock time from kvmclock. */
	boot_arch = BOOT_ARCH_VGA_NOT_PRESENT | BOOT_ARCH_CMOS_RTC_NOT_PRESENT;
	put16(t + 109, boot_arch);

	/* Flags: HW_REDUCED_ACPI is the point of this table. WBINVD must be
	 * set by any new system (§5.2.9, flag table). PWR_BUTTON/SLP_BUTTON set mean
	 * "no fixed-feature button", which is true. RESET_REG_SUP: the reset
	 * register below works. */
	put32(t + 112, FADT_F_HW_REDUCED_ACPI | FADT_F_RESET_REG_SUP | FADT_F_WBINVD |
		       FADT_F_PWR_BUTTON | FADT_F_SLP_BUTTON);
	put_gas_io8(t + 116, cfg->reset_port);   /* RESET_REG */
	t[128] = cfg->reset_value;               /* RESET_VALUE */
	/* ARM_BOOT_ARCH (129) stays 0. */
	t[131] = FADT_MINOR;                     /* FADT Minor Version */
	put64(t + 140, dsdt);                    /* X_DSDT */
	/* Hardware-reduced sleep (§4.8.3.7): OSPM writes SLP_TYP<<2 | SLP_EN
	 * to SLEEP_CONTROL_REG and polls WAK_STS in SLEEP_STATUS_REG. */
	put_gas_io8(t + 244, cfg->sleep_ctl_port);
	put_gas_io8(t + 256, cfg->sleep_sts_port);
	memcpy(t + 268, "KVMINI\0\0", 8);      /* Hypervisor Vendor Identity */
	seal(t, FADT_LEN);
	return FADT_LEN;
}

static size_t madt_len(const struct acpi_config *cfg)
{
	int nover = cfg->sci_irq < 16 ? 2 : 1;

	return ACPI_HDR_LEN + 8 + (size_t)cfg->ncpus * MADT_LAPIC_LEN + MADT_IOAPIC_LEN +
	       (size_t)nover * MADT_OVERRIDE_LEN + MADT_NMI_LEN;
}

static uint8_t *put_override(uint8_t *p, uint8_t irq, uint32_t gsi, uint16_t flags)
{
	p[0] = MADT_INT_OVERRIDE;
	p[1] = MADT_OVERRIDE_LEN;
	p[2] = 0;                           /* bus: ISA */
	p[3] = irq;
	put32(p + 4, gsi);
	put16(p + 8, flags);
	return p + MADT_OVERRIDE_LEN;
}

/* MADT, §5.2.12. */
static size_t build_madt(uint8_t *t, const struct acpi_config *cfg)
{
	size_t len = madt_len(cfg);
	uint8_t *p = t + ACPI_HDR_LEN + 8;

	memset(t, 0, len);
	put_header(t, "APIC", (uint32_t)len, MADT_REVISION);
	put32(t + 36, cfg->lapic_addr);
	/* KVM's in-kernel irqchip includes the two 8259s (§5.2.12: the OS
	 * masks them when it switches to APIC mode). */
	put32(t + 40, MADT_PCAT_COMPAT);
	for (int i = 0; i < cfg->ncpus; i++, p += MADT_LAPIC_LEN) {
		p[0] = MADT_LAPIC;
		p[1] = MADT_LAPIC_LEN;
		p[2] = (uint8_t)i;              /* ACPI processor UID */
		p[3] = (uint8_t)i;              /* APIC ID: KVM numbers vCPUs so */
		put32(p + 4, 1);                /* Enabled */
	}
	p[0] = MADT_IOAPIC;
	p[1] = MADT_IOAPIC_LEN;
	p[2] = cfg->ioapic_id;
	put32(p + 4, cfg->ioapic_addr);
	put32(p + 8, 0);                    /* GSI base */
	p += MADT_IOAPIC_LEN;
	/* KVM's default IRQ routing wires the PIT (ISA IRQ 0) to IOAPIC pin 2,
	 * as PC firmware always did; flags 0 = conforms to the ISA bus. */
	p = put_override(p, 0, 2, 0);
	/* The SCI defaults to shareable, level, active low (§5.2.9 SCI_INT),
	 * a PCI-style line. We keep it level but active high, so the VMM
	 * asserts it by raising the KVM IRQ line like every other source;
	 * without this override Linux would program the pin active low. */
	if (cfg->sci_irq < 16)
		p = put_override(p, (uint8_t)cfg->sci_irq, cfg->sci_irq,
				 MPS_INTI_LEVEL | MPS_INTI_ACTIVE_HIGH);
	/* LINT1 of every local APIC is the NMI input (virtual wire mode). */
	p[0] = MADT_LAPIC_NMI;
	p[1] = MADT_NMI_LEN;
	p[2] = 0xFF;                        /* all processors */
	put16(p + 3, 0);                    /* flags: conforms to the bus */
	p[5] = 1;                           /* LINT1 */
	seal(t, len);
	return len;
}

static void dsdt_com1(struct aml *a, const struct acpi_config *cfg)
{
	struct aml_res r;

	aml_device_begin(a, "COM1");
	aml_name_begin(a, "_HID");
	aml_eisaid(a, "PNP0501");           /* 16550A-compatible UART */
	aml_name_begin(a, "_UID");
	aml_integer(a, 0);
	aml_name_begin(a, "_CRS");
	aml_res_init(&r);
	aml_res_io(&r, cfg->com1_port, 8);
	aml_res_isa_irq(&r, cfg->com1_irq, 0, 0, 0);
	aml_res_buffer(a, &r);
	aml_end(a);
}

/* QEMU's pvpanic ISA device: Linux's pvpanic driver binds to "QEMU0001"
 * and writes panic events to the port. */
static void dsdt_pvpanic(struct aml *a, const struct acpi_config *cfg)
{
	struct aml_res r;

	aml_device_begin(a, "PEVT");
	aml_name_begin(a, "_HID");
	aml_string(a, "QEMU0001");
	aml_name_begin(a, "_CRS");
	aml_res_init(&r);
	aml_res_io(&r, cfg->pvpanic_port, 1);
	aml_res_buffer(a, &r);
	aml_method_begin(a, "_STA", 0);
	aml_return(a);
	aml_integer(a, 0x0F);               /* present, enabled, shown, working */
	aml_end(a);
	aml_end(a);
}

/* virtio-mmio: Linux's virtio_mmio driver matches "LNRO0005" and takes the
 * register window and the interrupt from _CRS. */
static void dsdt_mmio_dev(struct aml *a, const struct acpi_mmio_dev *d, int idx)
{
	static const char hex[] = "0123456789ABCDEF";
	char name[5] = { 'V', 'R', hex[(idx >> 4) & 0xF], hex[idx & 0xF], 0 };
	struct aml_res r;

	aml_device_begin(a, name);
	aml_name_begin(a, "_HID");
	aml_string(a, d->hid);
	aml_name_begin(a, "_UID");
	aml_integer(a, (uint64_t)idx);
	aml_name_begin(a, "_CRS");
	aml_res_init(&r);
	aml_res_mem32_fixed(&r, (uint32_t)d->base, d->size, 1);
	aml_res_irq(&r, d->gsi, 0, 0, 0);
	aml_res_buffer(a, &r);
	aml_end(a);
}

/* DSDT (§5.2.11.1): the header, then AML. Returns its length or -errno. */
/* The PCI host bridge (PCI Firmware Spec 3.2 §4.1.1): a PCIe root complex
 * (PNP0A08, compatible PNP0A03) with its bus, I/O and memory windows, and
 * the INTx routing as GSIs swizzled by slot. */
static void dsdt_pci(struct aml *a, const struct acpi_pci *pci)
{
	struct aml_res r;

	aml_device_begin(a, "PCI0");
	aml_name_begin(a, "_HID");
	aml_eisaid(a, "PNP0A08");
	aml_name_begin(a, "_CID");
	aml_eisaid(a, "PNP0A03");
	aml_name_begin(a, "_SEG");
	aml_integer(a, 0);
	aml_name_begin(a, "_BBN");
	aml_integer(a, 0);
	aml_name_begin(a, "_UID");
	aml_integer(a, 0);
	aml_name_begin(a, "_CRS");
	aml_res_init(&r);
	aml_res_addr(&r, 2, AML_ADDR_BUS, 0, 0, 0);
	aml_res_io(&r, 0xCF8, 8);                                /* config ports */
	aml_res_addr(&r, 2, AML_ADDR_IO, 3, 0x0000, 0x0CF7);
	aml_res_addr(&r, 2, AML_ADDR_IO, 3, 0x0D00, 0xFFFF);
	aml_res_addr(&r, 4, AML_ADDR_MEMORY, 1 /* RW, non-cacheable */, pci->mem32_base,
		     (uint64_t)pci->mem32_base + pci->mem32_size - 1);
	if (pci->mem64_size)
		aml_res_addr(&r, 8, AML_ADDR_MEMORY, 1 | 3 << 1 /* RW, prefetchable */,
			     pci->mem64_base, pci->mem64_base + pci->mem64_size - 1);
	aml_res_buffer(a, &r);
	/* _PRT: Package { Address (slot << 16 | 0xFFFF), Pin, Source 0, GSI } */
	aml_name_begin(a, "_PRT");
	aml_package_begin(a, 31 * 4);
	for (unsigned slot = 1; slot < 32; slot++) {
		for (unsigned pin = 0; pin < 4; pin++) {
			aml_package_begin(a, 4);
			aml_integer(a, (uint64_t)slot << 16 | 0xFFFF);
			aml_integer(a, pin);
			aml_integer(a, 0);
			aml_integer(a, pci->intx_gsi_base + (slot + pin) % 4);
			aml_end(a);
		}
	}
	aml_end(a);
	aml_end(a);

	/* The ECAM window is a motherboard resource: Linux only trusts MCFG
	 * when the area is reserved here (or in E820). */
	aml_device_begin(a, "MRES");
	aml_name_begin(a, "_HID");
	aml_eisaid(a, "PNP0C02");
	aml_name_begin(a, "_UID");
	aml_integer(a, 1);
	aml_name_begin(a, "_CRS");
	aml_res_init(&r);
	aml_res_mem32_fixed(&r, (uint32_t)pci->ecam_base, pci->ecam_size, 0);
	aml_res_buffer(a, &r);
	aml_end(a);
}

/* MCFG (PCI Firmware Spec 3.2 §4.1.2): one ECAM allocation for segment 0. */
static size_t build_mcfg(uint8_t *t, const struct acpi_pci *pci)
{
	memset(t, 0, MCFG_LEN);
	put64(t + 44, pci->ecam_base);
	put16(t + 52, 0);                                 /* segment */
	t[54] = 0;                                        /* start bus */
	t[55] = (uint8_t)((pci->ecam_size >> 20) - 1);    /* end bus */
	put_header(t, "MCFG", MCFG_LEN, 1);
	seal(t, MCFG_LEN);
	return MCFG_LEN;
}

static long build_dsdt(uint8_t *t, size_t cap, const struct acpi_config *cfg)
{
	struct aml a;
	int err;

	if (cap < ACPI_HDR_LEN)
		return -ENOSPC;
	aml_init(&a, t + ACPI_HDR_LEN, cap - ACPI_HDR_LEN);
	/* \_S5_: SLP_TYPa, SLP_TYPb, then two reserved elements (§7.4.2). */
	aml_name_begin(&a, "_S5_");
	aml_package_begin(&a, 4);
	aml_integer(&a, cfg->s5_slp_typ);
	aml_integer(&a, cfg->s5_slp_typ);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_end(&a);

	aml_scope_begin(&a, "\\_SB_");
	if (cfg->com1_port)
		dsdt_com1(&a, cfg);
	if (cfg->pvpanic_port)
		dsdt_pvpanic(&a, cfg);
	for (int i = 0; i < cfg->nr_mmio_devs; i++)
		dsdt_mmio_dev(&a, &cfg->mmio_devs[i], i);
	if (cfg->pci)
		dsdt_pci(&a, cfg->pci);
	aml_end(&a);

	err = aml_finish(&a);
	if (err)
		return err;
	put_header(t, "DSDT", (uint32_t)(ACPI_HDR_LEN + a.len), DSDT_REVISION);
	seal(t, ACPI_HDR_LEN + a.len);
	return (long)(ACPI_HDR_LEN + a.len);
}

static int check_config(const struct acpi_config *cfg)
{
	/* xAPIC ids are 8 bits and 0xFF is the broadcast id. */
	if (cfg->ncpus < 1 || cfg->ncpus > 255)
		return -EINVAL;
	/* IRQ 0 is the PIT, overridden to GSI 2 above. */
	if (cfg->sci_irq == 0)
		return -EINVAL;
	if (cfg->com1_port && cfg->com1_irq > 15)
		return -EINVAL;
	if (cfg->nr_mmio_devs < 0 || cfg->nr_mmio_devs > ACPI_MAX_MMIO_DEVS ||
	    (cfg->nr_mmio_devs && !cfg->mmio_devs))
		return -EINVAL;
	if (cfg->pci && (!cfg->pci->ecam_size || cfg->pci->ecam_size % (1u << 20) ||
			 cfg->pci->ecam_size > 256u << 20 || cfg->pci->ecam_base + cfg->pci->ecam_size > 1ULL << 32 ||
			 !cfg->pci->mem32_size ||
			 (uint64_t)cfg->pci->mem32_base + cfg->pci->mem32_size > 1ULL << 32 ||
			 cfg->pci->intx_gsi_base + 4 > 24))
		return -EINVAL;
	for (int i = 0; i < cfg->nr_mmio_devs; i++) {
		const struct acpi_mmio_dev *d = &cfg->mmio_devs[i];

		/* Memory32Fixed holds a 32-bit window. */
		if (!d->hid || !d->hid[0] || d->base > UINT32_MAX ||
		    d->base + d->size > 1ULL << 32)
			return -EINVAL;
	}
	return 0;
}

static size_t align8(size_t off)
{
	return (off + 7) & ~(size_t)7;
}

int acpi_build(uint8_t *buf, uint64_t base_gpa, size_t size,
	       const struct acpi_config *cfg, uint64_t *rsdp_gpa)
{
	size_t xsdt, rsdt, fadt, madt, mcfg, dsdt;
	uint64_t ent[NR_SDT_ENTRIES];
	int nent = 2;
	long dsdt_len;
	int err;

	if (!buf || !cfg || !rsdp_gpa)
		return -EINVAL;
	/* Legacy RSDP scans look at 16-byte boundaries (§5.2.5.1), and the
	 * RSDT and the FADT's DSDT field hold 32-bit addresses. */
	if ((base_gpa & 15) || base_gpa + size > 1ULL << 32)
		return -EINVAL;
	err = check_config(cfg);
	if (err)
		return err;

	xsdt = align8(RSDP_LEN);
	rsdt = align8(xsdt + ACPI_HDR_LEN + 8 * NR_SDT_ENTRIES);
	fadt = align8(rsdt + ACPI_HDR_LEN + 4 * NR_SDT_ENTRIES);
	madt = align8(fadt + FADT_LEN);
	mcfg = align8(madt + madt_len(cfg));
	dsdt = align8(mcfg + (cfg->pci ? MCFG_LEN : 0));
	if (dsdt > size)
		return -ENOSPC;

	/* The DSDT goes last because only it has a variable AML body; it is
	 * built first so that a short buffer fails before anything else. */
	dsdt_len = build_dsdt(buf + dsdt, size - dsdt, cfg);
	if (dsdt_len < 0)
		return (int)dsdt_len;
	memset(buf, 0, dsdt);               /* padding between tables */
	build_fadt(buf + fadt, cfg, base_gpa + dsdt);
	build_madt(buf + madt, cfg);
	ent[0] = base_gpa + fadt;
	ent[1] = base_gpa + madt;
	if (cfg->pci) {
		build_mcfg(buf + mcfg, cfg->pci);
		ent[nent++] = base_gpa + mcfg;
	}
	build_sdt(buf + xsdt, "XSDT", 8, ent, nent);
	build_sdt(buf + rsdt, "RSDT", 4, ent, nent);
	build_rsdp(buf, (uint32_t)(base_gpa + rsdt), base_gpa + xsdt);
	*rsdp_gpa = base_gpa;
	return 0;
}
