#include "arch/x86/layout.h"

#include "arch/arch.h"

int x86_e820_build(uint64_t mem_size, struct e820_entry *e, int max)
{
	uint64_t low = x86_lowmem_size(mem_size);
	int n = 0;

	if (max < 4)
		return -1;
	/* Conventional memory up to the EBDA; the BIOS area above it holds our
	 * ACPI tables and must not be handed out as RAM. */
	e[n++] = (struct e820_entry){ 0, X86_EBDA_START, E820_RAM };
	e[n++] = (struct e820_entry){ X86_EBDA_START, X86_HIMEM_START - X86_EBDA_START, E820_RESERVED };
	e[n++] = (struct e820_entry){ X86_HIMEM_START, low - X86_HIMEM_START, E820_RAM };
	if (mem_size > low)
		e[n++] = (struct e820_entry){ X86_MMIO_HOLE_END, mem_size - low, E820_RAM };
	return n;
}

int arch_ram_regions(uint64_t mem_size, struct arch_ram_region *r, int max)
{
	uint64_t low = x86_lowmem_size(mem_size);
	int n = 0;

	if (max < 2)
		return -1;
	r[n++] = (struct arch_ram_region){ 0, low };
	if (mem_size > low)
		r[n++] = (struct arch_ram_region){ X86_MMIO_HOLE_END, mem_size - low };
	return n;
}
