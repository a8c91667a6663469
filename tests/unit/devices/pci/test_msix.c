/* MSI-X: capability registers, table accesses of 4 and 8 bytes, function and
 * per-vector masking with pending bits delivered on unmask, read-only PBA. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "pci/msix.h"

#define PBA_OFF 0x800

struct shot {
	uint16_t v;
	uint64_t addr;
	uint32_t data;
	bool masked;
};

struct fx {
	struct pci_dev p;
	struct msix m;
	struct shot fired[32], changed[64];
	int nfired, nchanged;
};

static struct fx F;

static void h_fire(void *opaque, uint16_t v, uint64_t addr, uint32_t data)
{
	struct fx *f = opaque;

	if (f->nfired < 32)
		f->fired[f->nfired++] = (struct shot){ v, addr, data, false };
}

static void h_changed(void *opaque, uint16_t v, uint64_t addr, uint32_t data, bool masked)
{
	struct fx *f = opaque;

	if (f->nchanged < 64)
		f->changed[f->nchanged++] = (struct shot){ v, addr, data, masked };
}

static void cfg_write(struct pci_dev *p, uint32_t off, uint32_t len)
{
	msix_cfg_write(&F.m, off, len);
}

static const struct pci_dev_ops ops = { .cfg_write = cfg_write };

static int setup(void **state)
{
	struct msix_host_ops h = { h_fire, h_changed, &F };

	memset(&F, 0, sizeof(F));
	pci_dev_init(&F.p, 0x1af4, 0x1042, 0x010000, 1, 0x1af4, 2, (struct irq_line){ 0 });
	F.p.ops = &ops;
	assert_int_equal(msix_init(&F.m, &F.p, 3, 1, 0, PBA_OFF, &h), 0);
	*state = &F;
	return 0;
}

static int teardown(void **state)
{
	msix_destroy(&F.m);
	pci_dev_destroy(&F.p);
	return 0;
}

static void wr32(uint64_t off, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	msix_bar_ops.write(&F.m, off, b, 4);
}

static void wr64(uint64_t off, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	msix_bar_ops.write(&F.m, off, b, 8);
}

static uint64_t rd(uint64_t off, uint32_t len)
{
	uint8_t b[8];
	uint64_t v = 0;

	memset(b, 0x55, sizeof(b));
	msix_bar_ops.read(&F.m, off, b, len);
	for (uint32_t i = 0; i < len; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static void control(uint16_t v)
{
	pci_cfg_write(&F.p, F.m.cap + MSIX_CAP_FLAGS, 2, v);
}

static void program(uint16_t v, uint64_t addr, uint32_t data)
{
	wr64(v * 16u, addr);
	wr32(v * 16u + 8, data);
}

static void test_capability(void **state)
{
	uint32_t c = F.m.cap;

	assert_int_equal(pci_cfg_read(&F.p, PCI_CAPABILITY_LIST, 1), c);
	assert_int_equal(pci_cfg_read(&F.p, c, 1), PCI_CAP_ID_MSIX);
	assert_int_equal(pci_cfg_read(&F.p, c + 2, 2), 2);               /* N-1 */
	assert_int_equal(pci_cfg_read(&F.p, c + 4, 4), 0 | 1);          /* table BIR 1 */
	assert_int_equal(pci_cfg_read(&F.p, c + 8, 4), PBA_OFF | 1);
	/* Table size and offsets are read-only; enable and mask are not. */
	pci_cfg_write(&F.p, c + 2, 2, 0xffff);
	assert_int_equal(pci_cfg_read(&F.p, c + 2, 2), 0xc002);
	pci_cfg_write(&F.p, c + 4, 4, 0xffffffff);
	assert_int_equal(pci_cfg_read(&F.p, c + 4, 4), 1);
	assert_true(msix_enabled(&F.m));
	/* Bad parameters. */
	struct msix m2;
	assert_int_equal(msix_init(&m2, &F.p, 0, 1, 0, PBA_OFF, NULL), -22);
	assert_int_equal(msix_init(&m2, &F.p, 2, 1, 4, PBA_OFF, NULL), -22);
}

static void test_table_access(void **state)
{
	/* Reset: every vector masked. */
	for (int v = 0; v < 3; v++)
		assert_int_equal(rd(v * 16 + 12, 4), 1);
	wr32(16 + 0, 0xfee00003);                        /* low bits read-only */
	wr32(16 + 4, 0x1);
	wr32(16 + 8, 0x4041);
	assert_int_equal(rd(16, 4), 0xfee00000);
	assert_int_equal(rd(16 + 4, 4), 1);
	assert_int_equal(rd(16 + 8, 4), 0x4041);
	assert_true(rd(16, 8) == 0x1fee00000ull);
	wr64(32, 0x00000002fee01000ull);
	wr64(40, 0x0000000100005555ull);                 /* data + mask */
	assert_int_equal(rd(40, 4), 0x5555);
	assert_int_equal(rd(44, 4), 1);
	wr32(44, 0xfffffffe);                             /* reserved bits */
	assert_int_equal(rd(44, 4), 0);
	/* Unaligned or odd-sized accesses are ignored / read zero. */
	wr32(18, 0xffffffff);
	assert_int_equal(rd(16 + 8, 4), 0x4041);
	assert_int_equal(rd(16, 2), 0);
	assert_int_equal(rd(20, 8), 0);
	/* Past the table: zeros. */
	assert_int_equal(rd(48, 4), 0);
	/* Each entry change was reported. */
	assert_true(F.nchanged >= 4);
	assert_int_equal(F.changed[F.nchanged - 1].v, 2);
}

static void test_disabled(void **state)
{
	program(0, 0xfee00000, 0x30);
	wr32(12, 0);
	assert_int_equal(msix_notify(&F.m, 0), -19);     /* ENODEV: use INTx */
	assert_false(msix_is_pending(&F.m, 0));
	assert_int_equal(msix_notify(&F.m, 3), -22);
	assert_int_equal(F.nfired, 0);
}

static void test_deliver(void **state)
{
	control(MSIX_FLAGS_ENABLE);
	program(1, 0xfee00000, 0x41);
	F.nchanged = 0;
	wr32(16 + 12, 0);                                 /* unmask */
	assert_int_equal(F.nchanged, 1);
	assert_false(F.changed[0].masked);
	assert_int_equal(F.changed[0].data, 0x41);
	assert_int_equal(msix_notify(&F.m, 1), 0);
	assert_int_equal(F.nfired, 1);
	assert_int_equal(F.fired[0].v, 1);
	assert_true(F.fired[0].addr == 0xfee00000);
	assert_int_equal(F.fired[0].data, 0x41);
	/* Vector 0 still masked: pending. */
	assert_int_equal(msix_notify(&F.m, 0), 1);
	assert_true(msix_is_pending(&F.m, 0));
	assert_int_equal(F.nfired, 1);
}

static void test_vector_mask_pending(void **state)
{
	control(MSIX_FLAGS_ENABLE);
	program(2, 0xfee01000, 0x52);
	assert_int_equal(msix_notify(&F.m, 2), 1);
	assert_int_equal(msix_notify(&F.m, 2), 1);      /* one pending bit */
	assert_int_equal(rd(PBA_OFF, 8), 1u << 2);
	assert_int_equal(rd(PBA_OFF, 4), 1u << 2);
	/* The PBA is read-only. */
	wr64(PBA_OFF, 0);
	wr32(PBA_OFF, 0);
	assert_int_equal(rd(PBA_OFF, 8), 1u << 2);
	/* Unmask: delivered once, bit cleared. */
	wr32(2 * 16 + 12, 0);
	assert_int_equal(F.nfired, 1);
	assert_int_equal(F.fired[0].v, 2);
	assert_int_equal(F.fired[0].data, 0x52);
	assert_false(msix_is_pending(&F.m, 2));
	assert_int_equal(rd(PBA_OFF, 8), 0);
	/* Mask again, re-unmask: nothing new. */
	wr32(2 * 16 + 12, 1);
	wr32(2 * 16 + 12, 0);
	assert_int_equal(F.nfired, 1);
}

static void test_function_mask(void **state)
{
	control(MSIX_FLAGS_ENABLE);
	program(0, 0xfee00000, 0x60);
	wr32(12, 0);
	control(MSIX_FLAGS_ENABLE | MSIX_FLAGS_MASKALL);
	/* The function mask masks vector 0 although its own bit is clear. */
	assert_true(F.changed[F.nchanged - 1].masked);
	assert_int_equal(msix_notify(&F.m, 0), 1);
	assert_true(msix_is_pending(&F.m, 0));
	assert_int_equal(F.nfired, 0);
	F.nchanged = 0;
	control(MSIX_FLAGS_ENABLE);
	assert_int_equal(F.nfired, 1);
	assert_int_equal(F.fired[0].data, 0x60);
	assert_false(msix_is_pending(&F.m, 0));
	/* Only vector 0 changed its effective mask (1 and 2 stay masked). */
	assert_int_equal(F.nchanged, 1);
	assert_false(F.changed[0].masked);
	/* Disabling MSI-X reports the vector masked. */
	control(0);
	assert_true(F.changed[F.nchanged - 1].masked);
	assert_false(msix_enabled(&F.m));
}

static void test_reset(void **state)
{
	control(MSIX_FLAGS_ENABLE);
	program(0, 0xfee00000, 0x60);
	assert_int_equal(msix_notify(&F.m, 0), 1);
	msix_reset(&F.m);
	assert_false(msix_enabled(&F.m));
	assert_false(msix_is_pending(&F.m, 0));
	assert_int_equal(rd(12, 4), 1);
	assert_int_equal(rd(8, 4), 0);
	assert_int_equal(pci_cfg_read(&F.p, F.m.cap + 2, 2), 2);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test_setup_teardown(test_capability, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_access, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disabled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliver, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vector_mask_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_function_mask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
