/* x86 guest physical address map. One place for every fixed address so the
 * loaders, the ACPI tables and the E820 map cannot disagree. */
#ifndef KVMINI_ARCH_X86_LAYOUT_H
#define KVMINI_ARCH_X86_LAYOUT_H

#include <stdint.h>

#include "x86_bootproto.h"

#define X86_GDT_ADDR         0x0500ULL
#define X86_BOOT_PARAMS_ADDR 0x7000ULL   /* Linux zero page */
#define X86_PVH_INFO_ADDR    0x6000ULL   /* hvm_start_info + memmap + modlist */
#define X86_PML4_ADDR        0x9000ULL
#define X86_PDPT_ADDR        0xA000ULL
#define X86_PD_ADDR          0xB000ULL   /* 4 pages: identity map of 4 GiB in 2 MiB pages */
#define X86_CMDLINE_ADDR     0x20000ULL
#define X86_CMDLINE_MAX      4096ULL
#define X86_EBDA_START       0x9FC00ULL  /* [EBDA, 1 MiB) is reserved in E820 */
#define X86_ACPI_ADDR        0xE0000ULL  /* RSDP must sit in 0xE0000..0xFFFFF for legacy scans */
#define X86_ACPI_SIZE        0x10000ULL
#define X86_RESET_VECTOR     0xFFFF0ULL  /* where a real-mode reset (f000:fff0) lands */
#define X86_HIMEM_START      0x100000ULL /* 1 MiB: bzImage protected-mode code */

/* The 32-bit hole: RAM stops here and resumes at 4 GiB. */
#define X86_MMIO_HOLE_START  0xC0000000ULL
#define X86_MMIO_HOLE_END    0x100000000ULL
#define X86_PCI_MEM32_BASE   0xC0000000ULL  /* BARs: the first 256 MiB of the hole */
#define X86_PCI_MEM32_SIZE   0x10000000ULL
#define X86_VIRTIO_MMIO_BASE 0xD0000000ULL  /* virtio-mmio windows, 4 KiB each */
#define X86_PCI_ECAM_BASE    0xE0000000ULL  /* ECAM for bus 0 (1 MiB) */
#define X86_PCI_ECAM_SIZE    0x100000ULL
#define X86_PCI_IO_BASE      0xC000         /* I/O BARs */
#define X86_PCI_IO_SIZE      0x4000
#define X86_PCI_INTX_GSI     20             /* INTA-D of slot s: GSI 20 + (s + pin) % 4 */
#define X86_IOAPIC_ADDR      0xFEC00000ULL
#define X86_LAPIC_ADDR       0xFEE00000ULL
#define X86_TSS_ADDR         0xFFFBD000ULL  /* KVM_SET_TSS_ADDR: three pages */
#define X86_IDMAP_ADDR       0xFFFBC000ULL  /* KVM_SET_IDENTITY_MAP_ADDR: one page */

/* Platform I/O ports (ACPI hardware-reduced registers and friends). */
#define X86_PORT_COM1        0x3F8
#define X86_IRQ_COM1         4
#define X86_PORT_SLEEP_CTL   0x600   /* FADT SLEEP_CONTROL_REG: SLP_TYP<<2 | SLP_EN(1<<5) */
#define X86_PORT_SLEEP_STS   0x601   /* FADT SLEEP_STATUS_REG */
#define X86_PORT_RESET       0x602   /* FADT RESET_REG */
#define X86_RESET_VALUE      0x01
#define X86_PORT_PVPANIC     0x505   /* QEMU0001 pvpanic */
#define X86_PORT_I8042_CMD   0x64    /* 0xFE here pulses the reset line */
#define X86_PORT_RST_CNT     0xCF9   /* PIIX reset control */
#define X86_S5_SLP_TYP       5       /* value in DSDT \_S5 */

#define X86_SCI_IRQ          9

#define X86_E820_MAX 8

/* Fills the guest's memory map for mem_size bytes of RAM; returns the count. */
int x86_e820_build(uint64_t mem_size, struct e820_entry *e, int max);

/* How mem_size bytes of RAM split around the 32-bit hole. */
static inline uint64_t x86_lowmem_size(uint64_t mem_size)
{
	return mem_size < X86_MMIO_HOLE_START ? mem_size : X86_MMIO_HOLE_START;
}

#endif
