/* PCI host bridge: CF8/CFC and ECAM config cycles reach the right device and
 * register, absent devices read all-ones, BAR routing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "pci/pci_host.h"

struct win {
	uint64_t last_off;
	uint32_t last_len;
	uint8_t last_data[8];
	int reads, writes;
};

static void win_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	struct win *w = opaque;

	w->reads++;
	w->last_off = off;
	for (uint32_t i = 0; i < len; i++)
		data[i] = (uint8_t)(0xa0 + i);
}

static void win_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct win *w = opaque;

	w->writes++;
	w->last_off = off;
	w->last_len = len;
	memcpy(w->last_data, data, len);
}

static const struct io_ops win_ops = { win_read, win_write };

struct fx {
	struct pci_host h;
	struct pci_dev a, b;
	struct win wa, wb, pass;
	int slot_a, slot_b;
};

static struct fx F;

static int setup(void **state)
{
	memset(&F, 0, sizeof(F));
	pci_host_init(&F.h);
	pci_dev_init(&F.a, 0x1af4, 0x1041, 0x020000, 1, 0x1af4, 1, (struct irq_line){ 0 });
	pci_dev_init(&F.b, 0x1af4, 0x1042, 0x010000, 1, 0x1af4, 2, (struct irq_line){ 0 });
	assert_int_equal(pci_set_bar(&F.a, 1, PCI_BAR_MEM32, false, 0x1000, &win_ops, &F.wa), 0);
	assert_int_equal(pci_set_bar(&F.b, 0, PCI_BAR_IO, false, 0x40, &win_ops, &F.wb), 0);
	F.slot_a = pci_host_add(&F.h, &F.a, -1);
	F.slot_b = pci_host_add(&F.h, &F.b, 5);
	*state = &F;
	return 0;
}

static int teardown(void **state)
{
	pci_dev_destroy(&F.a);
	pci_dev_destroy(&F.b);
	pci_host_destroy(&F.h);
	return 0;
}

/* ---- little-endian bus helpers ---- */

static void put(uint8_t *b, uint32_t len, uint32_t v)
{
	for (uint32_t i = 0; i < len; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get(const uint8_t *b, uint32_t len)
{
	uint32_t v = 0;

	for (uint32_t i = 0; i < len; i++)
		v |= (uint32_t)b[i] << (8 * i);
	return v;
}

static void cf8(uint32_t v)
{
	uint8_t b[4];

	put(b, 4, v);
	pci_host_cf8_ops.write(&F.h, 0, b, 4);
}

static uint32_t cfc_rd(uint32_t port_off, uint32_t len)
{
	uint8_t b[4];

	memset(b, 0x55, sizeof(b));
	pci_host_cfc_ops.read(&F.h, port_off, b, len);
	return get(b, len);
}

static void cfc_wr(uint32_t port_off, uint32_t len, uint32_t v)
{
	uint8_t b[4];

	put(b, len, v);
	pci_host_cfc_ops.write(&F.h, port_off, b, len);
}

static uint32_t addr(uint32_t bus, uint32_t dev, uint32_t fn, uint32_t reg)
{
	return 0x80000000u | bus << 16 | dev << 11 | fn << 8 | reg;
}

static uint32_t ecam_rd(uint64_t off, uint32_t len)
{
	uint8_t b[4];

	memset(b, 0x55, sizeof(b));
	pci_host_ecam_ops.read(&F.h, off, b, len);
	return get(b, len);
}

static void ecam_wr(uint64_t off, uint32_t len, uint32_t v)
{
	uint8_t b[4];

	put(b, len, v);
	pci_host_ecam_ops.write(&F.h, off, b, len);
}

static uint64_t ecam(uint32_t bus, uint32_t dev, uint32_t fn, uint32_t reg)
{
	return (uint64_t)bus << 20 | dev << 15 | fn << 12 | reg;
}

/* ---- tests ---- */

static void test_slots(void **state)
{
	struct pci_dev extra;

	assert_int_equal(F.slot_a, 1);
	assert_int_equal(F.slot_b, 5);
	assert_int_equal(pci_host_add(&F.h, &extra, 5), -16);     /* EBUSY */
	assert_int_equal(pci_host_add(&F.h, &extra, 0), -22);
	assert_int_equal(pci_host_add(&F.h, &extra, 32), -22);
}

static void test_host_bridge(void **state)
{
	cf8(addr(0, 0, 0, 0));
	assert_int_equal(cfc_rd(0, 4), PCI_HOST_BRIDGE_DEVICE << 16 | PCI_HOST_BRIDGE_VENDOR);
	cf8(addr(0, 0, 0, 8));
	assert_int_equal(cfc_rd(0, 4) >> 8, PCI_HOST_BRIDGE_CLASS);
}

static void test_cf8_latch(void **state)
{
	uint8_t b[4];

	cf8(0x80000000u);
	pci_host_cf8_ops.read(&F.h, 0, b, 4);
	assert_int_equal(get(b, 4), 0x80000000u);
	/* Low two bits and reserved bits do not stick. */
	cf8(0xff00f8ffu);
	pci_host_cf8_ops.read(&F.h, 0, b, 4);
	assert_int_equal(get(b, 4), 0x8000f8fcu);
}

static void test_cfc_sizes(void **state)
{
	cf8(addr(0, 1, 0, 0));
	assert_int_equal(cfc_rd(0, 4), 0x10411af4);
	assert_int_equal(cfc_rd(0, 2), 0x1af4);
	assert_int_equal(cfc_rd(2, 2), 0x1041);
	assert_int_equal(cfc_rd(1, 1), 0x1a);
	assert_int_equal(cfc_rd(3, 1), 0x10);
	/* Device at slot 5, register 0x2c (subsystem). */
	cf8(addr(0, 5, 0, 0x2c));
	assert_int_equal(cfc_rd(2, 2), 2);
	/* Byte write to the interrupt line at 0x3c + 0, word write to command. */
	cf8(addr(0, 5, 0, 0x3c));
	cfc_wr(0, 1, 9);
	assert_int_equal(pci_cfg_read(&F.b, PCI_INTERRUPT_LINE, 1), 9);
	cf8(addr(0, 5, 0, 0x04));
	cfc_wr(0, 2, PCI_COMMAND_IO);
	assert_int_equal(pci_cfg_read(&F.b, PCI_COMMAND, 2), PCI_COMMAND_IO);
	/* Writes to device 5 left device 1 alone. */
	assert_int_equal(pci_cfg_read(&F.a, PCI_COMMAND, 2), 0);
	/* Out-of-window access: 4 bytes at port 0xCFE. */
	assert_int_equal(cfc_rd(2, 4), 0xffffffff);
}

static void test_absent(void **state)
{
	cf8(addr(0, 7, 0, 0));
	assert_int_equal(cfc_rd(0, 4), 0xffffffff);
	assert_int_equal(cfc_rd(0, 2), 0xffff);
	cfc_wr(0, 4, 0);   /* ignored, no crash */
	cf8(addr(0, 1, 1, 0));              /* function 1 */
	assert_int_equal(cfc_rd(0, 4), 0xffffffff);
	cf8(addr(1, 1, 0, 0));              /* bus 1 */
	assert_int_equal(cfc_rd(0, 4), 0xffffffff);
	cf8(addr(0, 1, 0, 0) & ~0x80000000u);  /* enable bit clear */
	assert_int_equal(cfc_rd(0, 4), 0xffffffff);
	/* Extended register space of a conventional function via ECAM. */
	assert_int_equal(ecam_rd(ecam(0, 1, 0, 0x100), 4), 0xffffffff);
}

static void test_ecam(void **state)
{
	assert_int_equal(ecam_rd(ecam(0, 1, 0, 0), 4), 0x10411af4);
	assert_int_equal(ecam_rd(ecam(0, 5, 0, 2), 2), 0x1042);
	assert_int_equal(ecam_rd(ecam(0, 5, 0, 0x0b), 1), 0x01);
	assert_int_equal(ecam_rd(ecam(0, 9, 0, 0), 4), 0xffffffff);
	assert_int_equal(ecam_rd(ecam(1, 1, 0, 0), 4), 0xffffffff);
	assert_int_equal(ecam_rd(ecam(0, 1, 2, 0), 4), 0xffffffff);
	ecam_wr(ecam(0, 1, 0, 0x3c), 1, 0x42);
	assert_int_equal(pci_cfg_read(&F.a, PCI_INTERRUPT_LINE, 1), 0x42);
	assert_int_equal(pci_cfg_read(&F.b, PCI_INTERRUPT_LINE, 1), 0);
	/* An access crossing into the next function's 4 KiB is refused. */
	assert_int_equal(ecam_rd(ecam(0, 1, 0, 0xffe), 4), 0xffffffff);
}

static void test_bar_routing(void **state)
{
	struct pci_host_window mem = { &F.h, 0xc0000000ull, false };
	struct pci_host_window io = { &F.h, 0x1000, true };
	uint8_t b[4];

	/* Program BARs through config cycles, as a guest would. */
	ecam_wr(ecam(0, 1, 0, 0x14), 4, 0xc0002000);
	ecam_wr(ecam(0, 5, 0, 0x10), 4, 0x1040);
	memset(b, 0, 4);
	/* Not decoding yet. */
	assert_int_equal(pci_host_bar_access(&F.h, false, 0xc0002010, b, 4, false), -2);
	assert_int_equal(get(b, 4), 0xffffffff);
	ecam_wr(ecam(0, 1, 0, 4), 2, PCI_COMMAND_MEMORY);
	ecam_wr(ecam(0, 5, 0, 4), 2, PCI_COMMAND_IO);

	pci_host_window_ops.read(&mem, 0x2010, b, 4);
	assert_int_equal(F.wa.reads, 1);
	assert_int_equal(F.wa.last_off, 0x10);
	assert_int_equal(b[0], 0xa0);
	put(b, 2, 0xbeef);
	pci_host_window_ops.write(&io, 0x48, b, 2);
	assert_int_equal(F.wb.writes, 1);
	assert_int_equal(F.wb.last_off, 0x8);
	assert_int_equal(get(F.wb.last_data, 2), 0xbeef);
	/* The I/O BAR is not in memory space, nor the memory BAR in I/O. */
	assert_int_equal(pci_host_bar_access(&F.h, false, 0x1048, b, 2, false), -2);
	assert_int_equal(pci_host_bar_access(&F.h, true, 0xc0002010, b, 2, false), -2);
	/* An access straddling the BAR's end misses. */
	assert_int_equal(pci_host_bar_access(&F.h, false, 0xc0002ffe, b, 4, false), -2);
	/* Moved BAR: old address misses, new one hits. */
	ecam_wr(ecam(0, 1, 0, 0x14), 4, 0xc0005000);
	assert_int_equal(pci_host_bar_access(&F.h, false, 0xc0002010, b, 4, false), -2);
	assert_int_equal(pci_host_bar_access(&F.h, false, 0xc0005ffc, b, 4, false), 0);
	assert_int_equal(F.wa.last_off, 0xffc);
}

static void pass_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	struct win *w = opaque;

	w->reads++;
	w->last_off = off;
	memset(data, 0x0e, len);
}

static const struct io_ops pass_ops = { pass_read, win_write };

static void test_cf8_passthrough(void **state)
{
	uint8_t b[4] = { 6, 0, 0, 0 };

	/* Without a passthrough, byte accesses at 0xCF9 go nowhere. */
	pci_host_cf8_ops.write(&F.h, 1, b, 1);
	F.h.cf8_passthrough = &pass_ops;
	F.h.cf8_passthrough_opaque = &F.pass;
	pci_host_cf8_ops.write(&F.h, 1, b, 1);
	assert_int_equal(F.pass.writes, 1);
	assert_int_equal(F.pass.last_off, 1);
	assert_int_equal(F.pass.last_data[0], 6);
	pci_host_cf8_ops.read(&F.h, 1, b, 1);
	assert_int_equal(b[0], 0x0e);
	/* The latch is untouched by them. */
	cf8(addr(0, 1, 0, 0));
	pci_host_cf8_ops.write(&F.h, 1, b, 1);
	assert_int_equal(cfc_rd(0, 2), 0x1af4);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test_setup_teardown(test_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_bridge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cf8_latch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cfc_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_absent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ecam, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_routing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cf8_passthrough, setup, teardown),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
