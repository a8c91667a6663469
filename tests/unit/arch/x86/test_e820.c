/* Tests for the x86 memory map: the E820 table handed to the guest and the
 * RAM regions the VMM backs, around the EBDA/BIOS area and the 32-bit hole. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "arch/arch.h"
#include "arch/x86/layout.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

/* The BIOS area [EBDA, 1 MiB) is reported reserved although it is backed
 * by RAM (the ACPI tables live there). */
#define BIOS_HOLE (X86_HIMEM_START - X86_EBDA_START)

struct want {
	uint64_t addr, size;
	uint32_t type;
};

static void check_map(uint64_t mem, const struct want *w, int nw)
{
	struct e820_entry e[X86_E820_MAX];
	uint64_t ram = 0, all = 0;
	int n;

	memset(e, 0xA5, sizeof(e));
	n = x86_e820_build(mem, e, X86_E820_MAX);
	assert_int_equal(n, nw);
	for (int i = 0; i < n; i++) {
		assert_int_equal(e[i].addr, w[i].addr);
		assert_int_equal(e[i].size, w[i].size);
		assert_int_equal(e[i].type, w[i].type);
		assert_true(e[i].size > 0);
		assert_true(e[i].addr + e[i].size > e[i].addr);
		if (i)
			assert_true(e[i - 1].addr + e[i - 1].size <= e[i].addr);
		/* Nothing RAM in the 32-bit hole. */
		if (e[i].type == E820_RAM)
			assert_true(e[i].addr + e[i].size <= X86_MMIO_HOLE_START ||
				    e[i].addr >= X86_MMIO_HOLE_END);
		if (e[i].type == E820_RAM)
			ram += e[i].size;
		all += e[i].size;
	}
	/* Every byte of guest memory is in the map; all of it but the BIOS
	 * area is usable RAM. */
	assert_int_equal(all, mem);
	assert_int_equal(ram, mem - BIOS_HOLE);
	/* Entries past the count are untouched. */
	for (int i = n; i < X86_E820_MAX; i++)
		assert_int_equal(e[i].type, 0xA5A5A5A5u);
}

/* The RAM regions cover exactly the E820 map's span, below and above the
 * hole, and add up to mem. */
static void check_regions(uint64_t mem, uint64_t low, uint64_t high)
{
	struct arch_ram_region r[4];
	int n;

	memset(r, 0xA5, sizeof(r));
	n = arch_ram_regions(mem, r, 4);
	assert_int_equal(n, high ? 2 : 1);
	assert_int_equal(r[0].gpa, 0);
	assert_int_equal(r[0].size, low);
	if (high) {
		assert_int_equal(r[1].gpa, 1ULL << 32);
		assert_int_equal(r[1].size, high);
	}
	assert_int_equal(r[0].size + (n > 1 ? r[1].size : 0), mem);
	assert_int_equal(x86_lowmem_size(mem), low);
}

#define RES { X86_EBDA_START, BIOS_HOLE, E820_RESERVED }
#define CONV { 0, 0x9FC00, E820_RAM }

static void mem_16m(void **state)
{
	const struct want w[] = { CONV, RES, { 0x100000, 15 * MiB, E820_RAM } };

	(void)state;
	check_map(16 * MiB, w, 3);
	check_regions(16 * MiB, 16 * MiB, 0);
}

static void mem_512m(void **state)
{
	const struct want w[] = { CONV, RES, { 0x100000, 511 * MiB, E820_RAM } };

	(void)state;
	check_map(512 * MiB, w, 3);
	check_regions(512 * MiB, 512 * MiB, 0);
}

static void mem_3g(void **state)
{
	const struct want w[] = { CONV, RES, { 0x100000, 0xC0000000 - 0x100000, E820_RAM } };

	(void)state;
	check_map(0xC0000000ULL, w, 3);
	check_regions(0xC0000000ULL, 0xC0000000ULL, 0);
}

static void mem_3g_plus_page(void **state)
{
	const struct want w[] = { CONV, RES, { 0x100000, 0xC0000000 - 0x100000, E820_RAM },
				  { 0x100000000ULL, 4096, E820_RAM } };

	(void)state;
	check_map(0xC0000000ULL + 4096, w, 4);
	check_regions(0xC0000000ULL + 4096, 0xC0000000ULL, 4096);
}

static void mem_4g(void **state)
{
	const struct want w[] = { CONV, RES, { 0x100000, 0xC0000000 - 0x100000, E820_RAM },
				  { 0x100000000ULL, 1 * GiB, E820_RAM } };

	(void)state;
	check_map(4 * GiB, w, 4);
	check_regions(4 * GiB, 3 * GiB, 1 * GiB);
}

static void mem_8g(void **state)
{
	const struct want w[] = { CONV, RES, { 0x100000, 0xC0000000 - 0x100000, E820_RAM },
				  { 0x100000000ULL, 5 * GiB, E820_RAM } };

	(void)state;
	check_map(8 * GiB, w, 4);
	check_regions(8 * GiB, 3 * GiB, 5 * GiB);
}

static void max_too_small(void **state)
{
	struct e820_entry e[4];
	struct arch_ram_region r[2];

	(void)state;
	for (int max = 0; max < 4; max++)
		assert_int_equal(x86_e820_build(512 * MiB, e, max), -1);
	assert_int_equal(x86_e820_build(512 * MiB, e, 4), 3);
	assert_int_equal(x86_e820_build(8 * GiB, e, 4), 4);
	assert_int_equal(arch_ram_regions(8 * GiB, r, 0), -1);
	assert_int_equal(arch_ram_regions(8 * GiB, r, 1), -1);
	assert_int_equal(arch_ram_regions(8 * GiB, r, 2), 2);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(mem_16m),
		cmocka_unit_test(mem_512m),
		cmocka_unit_test(mem_3g),
		cmocka_unit_test(mem_3g_plus_page),
		cmocka_unit_test(mem_4g),
		cmocka_unit_test(mem_8g),
		cmocka_unit_test(max_too_small),
	};

	return cmocka_run_group_tests(t, NULL, NULL);
}
