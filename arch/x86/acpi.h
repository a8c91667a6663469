/* ACPI tables for the x86 guest: RSDP, XSDT, FADT (hardware-reduced), MADT,
 * DSDT (and later MCFG). Built into a buffer that is guest memory at a known
 * guest physical address, so table pointers are guest addresses. */
#ifndef KVMINI_ARCH_X86_ACPI_H
#define KVMINI_ARCH_X86_ACPI_H

#include <stddef.h>
#include <stdint.h>

/* A memory-mapped device to announce in the DSDT, e.g. virtio-mmio with HID
 * "LNRO0005". */
struct acpi_mmio_dev {
	const char *hid;
	uint64_t base;
	uint32_t size;
	uint32_t gsi;
};

#define ACPI_MAX_MMIO_DEVS 32

/* A PCI host bridge on segment 0, bus 0 (ECAM announced in the MCFG table). */
struct acpi_pci {
	uint64_t ecam_base;
	uint32_t ecam_size;        /* 1 MiB per bus */
	uint32_t mem32_base, mem32_size;   /* window for 32-bit BARs */
	uint64_t mem64_base, mem64_size;   /* window for 64-bit BARs (size 0: none) */
	uint32_t intx_gsi_base;    /* INTA..INTD of slot s: GSI base + (s + pin) % 4 */
};

struct acpi_config {
	int ncpus;                 /* Local APIC ids 0..ncpus-1 */
	uint32_t lapic_addr;
	uint32_t ioapic_addr;
	uint8_t ioapic_id;         /* conventionally ncpus */
	uint16_t sleep_ctl_port;   /* FADT SLEEP_CONTROL_REG (1 byte, SystemIO) */
	uint16_t sleep_sts_port;   /* FADT SLEEP_STATUS_REG */
	uint16_t reset_port;       /* FADT RESET_REG */
	uint8_t reset_value;
	uint8_t s5_slp_typ;        /* \_S5 package value */
	uint16_t sci_irq;
	uint16_t pvpanic_port;     /* 0: no pvpanic device */
	uint16_t com1_port;        /* 0: no COM1 device in DSDT */
	uint8_t com1_irq;
	const struct acpi_mmio_dev *mmio_devs;
	int nr_mmio_devs;
	const struct acpi_pci *pci;   /* NULL: no PCI */
};

/* Builds all tables into buf, which the guest sees at base_gpa, with the RSDP
 * at the start of buf (keep base_gpa in 0xE0000..0xFFFFF so legacy scans find
 * it). Returns 0 and stores the RSDP's guest address, or -ENOSPC / -EINVAL. */
int acpi_build(uint8_t *buf, uint64_t base_gpa, size_t size,
	       const struct acpi_config *cfg, uint64_t *rsdp_gpa);

/* ACPI checksum: the byte that makes the sum of len bytes zero. */
uint8_t acpi_checksum(const void *p, size_t len);

#endif
