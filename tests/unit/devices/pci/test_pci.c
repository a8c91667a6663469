/* PCI type-0 configuration space: ids, read-only masks, BAR sizing and
 * decoding callbacks, capability list, extended space, INTx gating. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "pci/pci.h"

struct upd {
	int bar;
	uint64_t old_addr, new_addr;
	bool enabled;
};

struct fx {
	struct pci_dev p;
	struct upd u[16];
	int nu, nhost;
	int levels[16];
	int nlevels;
};

static void rec_update(struct pci_dev *p, int bar, uint64_t old_addr, uint64_t new_addr,
		       bool enabled)
{
	struct fx *f = p->owner;

	if (f->nu < 16)
		f->u[f->nu++] = (struct upd){ bar, old_addr, new_addr, enabled };
}

static void host_update(void *opaque, struct pci_dev *p, int bar, uint64_t o, uint64_t n, bool e)
{
	((struct fx *)opaque)->nhost++;
}

static void irq_set(void *opaque, int level)
{
	struct fx *f = opaque;

	if (f->nlevels < 16)
		f->levels[f->nlevels++] = level;
}

static const struct pci_dev_ops rec_ops = { .bar_update = rec_update };

static struct fx F;

static int setup(void **state)
{
	memset(&F, 0, sizeof(F));
	pci_dev_init(&F.p, 0x1af4, 0x1042, 0x010000, 1, 0x1af4, 2, (struct irq_line){ irq_set, &F });
	F.p.ops = &rec_ops;
	F.p.owner = &F;
	F.p.host_bar_update = host_update;
	F.p.host_opaque = &F;
	assert_int_equal(pci_set_bar(&F.p, 0, PCI_BAR_IO, false, 0x20, NULL, NULL), 0);
	assert_int_equal(pci_set_bar(&F.p, 1, PCI_BAR_MEM32, false, 0x1000, NULL, NULL), 0);
	assert_int_equal(pci_set_bar(&F.p, 4, PCI_BAR_MEM64, true, 0x4000, NULL, NULL), 0);
	*state = &F;
	return 0;
}

static int teardown(void **state)
{
	pci_dev_destroy(&F.p);
	return 0;
}

static void test_ids(void **state)
{
	struct pci_dev *p = &F.p;

	assert_int_equal(pci_cfg_read(p, PCI_VENDOR_ID, 2), 0x1af4);
	assert_int_equal(pci_cfg_read(p, PCI_DEVICE_ID, 2), 0x1042);
	assert_int_equal(pci_cfg_read(p, 0, 4), 0x10421af4);
	assert_int_equal(pci_cfg_read(p, PCI_REVISION_ID, 4), 0x01000001);   /* class|rev */
	assert_int_equal(pci_cfg_read(p, PCI_HEADER_TYPE, 1), 0);
	assert_int_equal(pci_cfg_read(p, PCI_SUBSYSTEM_VENDOR, 4), 0x00021af4);
	assert_int_equal(pci_cfg_read(p, PCI_INTERRUPT_PIN, 1), 1);
	/* Unaligned and odd reads are byte-wise views of the same image. */
	assert_int_equal(pci_cfg_read(p, 1, 2), 0x421a);
}

static void test_read_only(void **state)
{
	struct pci_dev *p = &F.p;

	pci_cfg_write(p, PCI_VENDOR_ID, 4, 0xdeadbeef);
	assert_int_equal(pci_cfg_read(p, 0, 4), 0x10421af4);
	pci_cfg_write(p, PCI_REVISION_ID, 4, 0xffffffff);
	assert_int_equal(pci_cfg_read(p, PCI_REVISION_ID, 4), 0x01000001);
	pci_cfg_write(p, PCI_STATUS, 2, 0xffff);
	assert_int_equal(pci_cfg_read(p, PCI_STATUS, 2), 0);
	pci_cfg_write(p, PCI_INTERRUPT_PIN, 1, 3);
	assert_int_equal(pci_cfg_read(p, PCI_INTERRUPT_PIN, 1), 1);
	/* Command: only IO, MEM, MASTER, INTx disable stick. */
	pci_cfg_write(p, PCI_COMMAND, 2, 0xffff);
	assert_int_equal(pci_cfg_read(p, PCI_COMMAND, 2), 0x0407);
	pci_cfg_write(p, PCI_COMMAND, 2, 0);
	/* Interrupt line is scratch. */
	pci_cfg_write(p, PCI_INTERRUPT_LINE, 1, 11);
	assert_int_equal(pci_cfg_read(p, PCI_INTERRUPT_LINE, 1), 11);
	/* Unused BARs are hard-wired to 0. */
	pci_cfg_write(p, PCI_BAR0 + 8, 4, 0xffffffff);
	assert_int_equal(pci_cfg_read(p, PCI_BAR0 + 8, 4), 0);
	/* Bad sizes or offsets: all-ones, writes ignored. */
	assert_int_equal(pci_cfg_read(p, 0, 3), 0xffffff);
	assert_int_equal(pci_cfg_read(p, 4095, 2), 0xffff);
}

static void test_bar_sizing(void **state)
{
	struct pci_dev *p = &F.p;

	assert_int_equal(pci_cfg_read(p, PCI_BAR0, 4), 0x1);           /* I/O */
	assert_int_equal(pci_cfg_read(p, PCI_BAR0 + 4, 4), 0x0);       /* mem32 */
	assert_int_equal(pci_cfg_read(p, PCI_BAR0 + 16, 4), 0xc);      /* mem64 pref */
	for (int n = 0; n < 6; n++)
		pci_cfg_write(p, PCI_BAR0 + 4 * (uint32_t)n, 4, 0xffffffff);
	assert_int_equal(pci_cfg_read(p, PCI_BAR0, 4), 0xffffffe1);
	assert_int_equal(pci_cfg_read(p, PCI_BAR0 + 4, 4), 0xfffff000);
	assert_int_equal(pci_cfg_read(p, PCI_BAR0 + 16, 4), 0xffffc00c);
	assert_int_equal(pci_cfg_read(p, PCI_BAR0 + 20, 4), 0xffffffff);
	assert_int_equal(pci_cfg_read(p, PCI_BAR0 + 12, 4), 0);
	/* Sizing with decoding off reports nothing. */
	assert_int_equal(F.nu, 0);
	/* Addresses take the programmed bits only. */
	pci_cfg_write(p, PCI_BAR0 + 4, 4, 0xe0001234);
	assert_int_equal(pci_bar_addr(p, 1), 0xe0001000);
	pci_cfg_write(p, PCI_BAR0 + 16, 4, 0x00004000);
	pci_cfg_write(p, PCI_BAR0 + 20, 4, 0x1);
	assert_true(pci_bar_addr(p, 4) == 0x100004000ull);
}

static void test_bar_update(void **state)
{
	struct pci_dev *p = &F.p;

	pci_program_bar(p, 1, 0xe0000000);
	pci_program_bar(p, 0, 0xc000);
	pci_program_bar(p, 4, 0x800000000ull);
	assert_int_equal(F.nu, 0);
	assert_false(pci_bar_decoding(p, 1));

	pci_cfg_write(p, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(F.nu, 2);
	assert_int_equal(F.u[0].bar, 1);
	assert_true(F.u[0].old_addr == PCI_BAR_UNMAPPED);
	assert_int_equal(F.u[0].new_addr, 0xe0000000);
	assert_true(F.u[0].enabled);
	assert_int_equal(F.u[1].bar, 4);
	assert_true(F.u[1].new_addr == 0x800000000ull);
	assert_int_equal(F.nhost, 2);

	/* Moving a decoding BAR. */
	pci_cfg_write(p, PCI_BAR0 + 4, 4, 0xe0010000);
	assert_int_equal(F.nu, 3);
	assert_int_equal(F.u[2].old_addr, 0xe0000000);
	assert_int_equal(F.u[2].new_addr, 0xe0010000);
	assert_true(F.u[2].enabled);
	/* Rewriting the same value is no change. */
	pci_cfg_write(p, PCI_BAR0 + 4, 4, 0xe0010000);
	assert_int_equal(F.nu, 3);

	/* I/O decoding on: only the I/O BAR reports. */
	pci_cfg_write(p, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
	assert_int_equal(F.nu, 4);
	assert_int_equal(F.u[3].bar, 0);
	assert_int_equal(F.u[3].new_addr, 0xc000);

	/* Sizing the 64-bit BAR while decoding: the all-ones pattern does not
	 * decode; the restored address does again (through a transient mixed
	 * address, as on hardware: that is why OSes turn decoding off). */
	pci_cfg_write(p, PCI_BAR0 + 16, 4, 0xffffffff);
	pci_cfg_write(p, PCI_BAR0 + 20, 4, 0xffffffff);
	assert_false(pci_bar_decoding(p, 4));
	assert_false(F.u[F.nu - 1].enabled);
	pci_program_bar(p, 4, 0x800000000ull);
	assert_true(pci_bar_decoding(p, 4));
	assert_true(F.u[F.nu - 1].enabled);
	assert_true(F.u[F.nu - 1].new_addr == 0x800000000ull);

	/* Memory decoding off. */
	int before = F.nu;
	pci_cfg_write(p, PCI_COMMAND, 2, PCI_COMMAND_IO);
	assert_int_equal(F.nu, before + 2);
	assert_false(F.u[before].enabled);
	assert_int_equal(F.u[before].old_addr, 0xe0010000);
	assert_false(pci_bar_decoding(p, 1));
	assert_true(pci_bar_decoding(p, 0));
}

static void test_caps(void **state)
{
	struct pci_dev *p = &F.p;
	int a = pci_add_cap(p, PCI_CAP_ID_MSIX, 12);
	int b = pci_add_cap(p, PCI_CAP_ID_VNDR, 16);
	int c = pci_add_cap(p, PCI_CAP_ID_VNDR, 19);
	int d;
	uint8_t ids[3];
	int n = 0;

	assert_int_equal(a, 0x40);
	assert_int_equal(b, 0x4c);
	assert_int_equal(c, 0x5c);
	assert_true(pci_cfg_read(p, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	for (uint32_t off = pci_cfg_read(p, PCI_CAPABILITY_LIST, 1); off;
	     off = pci_cfg_read(p, off + 1, 1)) {
		assert_true(n < 3);
		assert_int_equal(off & 3, 0);
		ids[n++] = (uint8_t)pci_cfg_read(p, off, 1);
	}
	assert_int_equal(n, 3);
	assert_int_equal(ids[0], PCI_CAP_ID_MSIX);
	assert_int_equal(ids[2], PCI_CAP_ID_VNDR);
	/* Capability bytes are read-only by default; the next pointers too. */
	pci_cfg_write(p, (uint32_t)b, 4, 0xffffffff);
	assert_int_equal(pci_cfg_read(p, (uint32_t)b, 2), 0x5c09);
	/* No room left past 256. */
	d = pci_add_cap(p, PCI_CAP_ID_VNDR, 200);
	assert_true(d < 0);
}

static void test_extended_space(void **state)
{
	struct pci_dev *p = &F.p;

	assert_int_equal(pci_cfg_read(p, 0x100, 4), 0xffffffff);
	assert_int_equal(pci_cfg_read(p, 0xffc, 4), 0xffffffff);
	assert_int_equal(pci_cfg_read(p, 0xfe, 4), 0xffff0000);   /* straddles 256 */
	p->express = true;
	assert_int_equal(pci_cfg_read(p, 0x100, 4), 0);
}

static void test_intx(void **state)
{
	struct pci_dev *p = &F.p;

	pci_set_intx(p, 1);
	assert_int_equal(F.nlevels, 1);
	assert_int_equal(F.levels[0], 1);
	assert_true(pci_cfg_read(p, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	pci_set_intx(p, 1);                     /* no new edge */
	assert_int_equal(F.nlevels, 1);
	/* INTx disable drops the line, the status bit stays. */
	pci_cfg_write(p, PCI_COMMAND, 2, PCI_COMMAND_INTX_DISABLE);
	assert_int_equal(F.nlevels, 2);
	assert_int_equal(F.levels[1], 0);
	assert_true(pci_cfg_read(p, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	pci_cfg_write(p, PCI_COMMAND, 2, 0);
	assert_int_equal(F.levels[2], 1);
	pci_set_intx(p, 0);
	assert_int_equal(F.levels[3], 0);
	assert_false(pci_cfg_read(p, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
}

static void test_bad_bars(void **state)
{
	struct pci_dev *p = &F.p;

	assert_int_equal(pci_set_bar(p, 5, PCI_BAR_MEM64, false, 16, NULL, NULL), -22);
	assert_int_equal(pci_set_bar(p, 6, PCI_BAR_MEM32, false, 16, NULL, NULL), -22);
	assert_int_equal(pci_set_bar(p, 2, PCI_BAR_MEM32, false, 0, NULL, NULL), -22);
	/* Sizes round up to a power of two. */
	assert_int_equal(pci_set_bar(p, 2, PCI_BAR_MEM32, false, 0x1800, NULL, NULL), 0);
	assert_true(p->bar[2].size == 0x2000);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test_setup_teardown(test_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_sizing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_caps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extended_space, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_bars, setup, teardown),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
