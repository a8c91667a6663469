/* Tests for the AML emitter: encodings checked against ACPI 6.3 §20.2 and
 * §6.4 byte by byte. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "arch/x86/aml.h"

static uint8_t buf[8192];
static struct aml a;

static int setup(void **state)
{
	(void)state;
	memset(buf, 0xEE, sizeof(buf));
	aml_init(&a, buf, sizeof(buf));
	return 0;
}

#define EXPECT_BYTES(...)                                                   \
	do {                                                                \
		const uint8_t want_[] = { __VA_ARGS__ };                    \
		assert_int_equal(aml_finish(&a), 0);                        \
		assert_int_equal(a.len, sizeof(want_));                     \
		assert_memory_equal(buf, want_, sizeof(want_));             \
	} while (0)

static void pkglength_values(void **state)
{
	uint8_t o[4];

	(void)state;
	assert_int_equal(aml_pkglength_encode(0, o), 1);
	assert_int_equal(o[0], 0x00);
	assert_int_equal(aml_pkglength_encode(63, o), 1);
	assert_int_equal(o[0], 0x3F);
	/* 64 needs two bytes: lead 0x40 | low nybble 0, then 64 >> 4. */
	assert_int_equal(aml_pkglength_encode(64, o), 2);
	assert_int_equal(o[0], 0x40);
	assert_int_equal(o[1], 0x04);
	assert_int_equal(aml_pkglength_encode(4095, o), 2);
	assert_int_equal(o[0], 0x4F);
	assert_int_equal(o[1], 0xFF);
	assert_int_equal(aml_pkglength_encode(4096, o), 3);
	assert_int_equal(o[0], 0x80);
	assert_int_equal(o[1], 0x00);
	assert_int_equal(o[2], 0x01);
	assert_int_equal(aml_pkglength_encode(0xFFFFF, o), 3);
	assert_int_equal(aml_pkglength_encode(0x100000, o), 4);
	assert_int_equal(o[0], 0xC0);
	assert_int_equal(o[1], 0x00);
	assert_int_equal(o[2], 0x00);
	assert_int_equal(o[3], 0x01);
	assert_int_equal(aml_pkglength_encode(0x0FFFFFFF, o), 4);
	assert_int_equal(o[0], 0xCF);
	assert_int_equal(o[3], 0xFF);
	assert_int_equal(aml_pkglength_encode(0x10000000, o), -EINVAL);
}

/* Decodes the PkgLength at p; returns its value and stores its size. */
static uint32_t pkglen_decode(const uint8_t *p, int *n)
{
	uint32_t v;

	*n = 1 + (p[0] >> 6);
	if (*n == 1)
		return p[0] & 0x3F;
	v = p[0] & 0x0F;
	for (int i = 1; i < *n; i++)
		v |= (uint32_t)p[i] << (4 + 8 * (i - 1));
	return v;
}

/* A Package whose body (NumElements + payload) is body bytes: the emitter
 * must choose the PkgLength size and keep the payload intact when it moves. */
static void check_package_body(size_t body, uint32_t want_len, int want_n)
{
	static uint8_t payload[8192];
	uint32_t len;
	int n;

	setup(NULL);
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	aml_package_begin(&a, 0);
	aml_bytes(&a, payload, body - 1);
	aml_end(&a);
	assert_int_equal(aml_finish(&a), 0);
	assert_int_equal(buf[0], 0x12);
	len = pkglen_decode(buf + 1, &n);
	assert_int_equal(n, want_n);
	assert_int_equal(len, want_len);
	assert_int_equal(a.len, 1 + len);
	assert_int_equal(buf[1 + n], 0);            /* NumElements */
	assert_memory_equal(buf + 2 + n, payload, body - 1);
}

static void pkglength_boundaries(void **state)
{
	(void)state;
	check_package_body(62, 63, 1);       /* largest 1-byte form */
	/* 63 body bytes + 1 = 64 does not fit one byte; with two it is 65. */
	check_package_body(63, 65, 2);
	check_package_body(4093, 4095, 2);   /* largest 2-byte form */
	check_package_body(4094, 4097, 3);
}

/* An inner scope that grows must not disturb the outer one's patching. */
static void pkglength_nested_growth(void **state)
{
	static uint8_t fill[100];
	uint32_t outer, inner;
	int no, ni;

	(void)state;
	memset(fill, 0xAB, sizeof(fill));
	aml_scope_begin(&a, "\\_SB_");
	aml_device_begin(&a, "DEV0");
	aml_bytes(&a, fill, sizeof(fill));
	aml_end(&a);
	aml_end(&a);
	assert_int_equal(aml_finish(&a), 0);
	outer = pkglen_decode(buf + 1, &no);
	assert_int_equal(no, 2);
	assert_int_equal(a.len, 1 + outer);
	assert_memory_equal(buf + 1 + no, "\\_SB_", 5);
	assert_int_equal(buf[1 + no + 5], 0x5B);
	assert_int_equal(buf[1 + no + 6], 0x82);
	inner = pkglen_decode(buf + 1 + no + 7, &ni);
	assert_int_equal(ni, 2);
	assert_int_equal(inner, 2 + 4 + sizeof(fill));
	assert_memory_equal(buf + 1 + no + 7 + ni, "DEV0", 4);
	assert_memory_equal(buf + a.len - sizeof(fill), fill, sizeof(fill));
}

static void integers(void **state)
{
	(void)state;
	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, 0xff);
	aml_integer(&a, 0x100);
	aml_integer(&a, 0x10000);
	aml_integer(&a, 1ULL << 32);
	EXPECT_BYTES(0x00, 0x01, 0x0A, 0xFF, 0x0B, 0x00, 0x01, 0x0C, 0x00, 0x00, 0x01, 0x00,
		     0x0E, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00);
}

static void integer_limits(void **state)
{
	(void)state;
	aml_integer(&a, 2);
	aml_integer(&a, 0xFFFF);
	aml_integer(&a, 0xFFFFFFFF);
	aml_integer(&a, UINT64_MAX);
	EXPECT_BYTES(0x0A, 0x02, 0x0B, 0xFF, 0xFF, 0x0C, 0xFF, 0xFF, 0xFF, 0xFF,
		     0x0E, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF);
}

static void eisaid(void **state)
{
	(void)state;
	aml_eisaid(&a, "PNP0501");
	/* DWordConst 0x0105D041. */
	EXPECT_BYTES(0x0C, 0x41, 0xD0, 0x05, 0x01);
}

static void eisaid_invalid(void **state)
{
	(void)state;
	aml_eisaid(&a, "pnp0501");
	assert_int_equal(aml_finish(&a), -EINVAL);
	setup(NULL);
	aml_eisaid(&a, "PNP05G1");
	assert_int_equal(aml_finish(&a), -EINVAL);
	setup(NULL);
	aml_eisaid(&a, "PNP050");
	assert_int_equal(aml_finish(&a), -EINVAL);
}

static void nameseg_padding(void **state)
{
	(void)state;
	aml_nameseg(&a, "_S5");
	aml_nameseg(&a, "A");
	aml_nameseg(&a, "VR0A");
	EXPECT_BYTES('_', 'S', '5', '_', 'A', '_', '_', '_', 'V', 'R', '0', 'A');
}

static void nameseg_invalid(void **state)
{
	static const char *bad[] = { "", "1ABC", "abcd", "TOOLONG", "A-B" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setup(NULL);
		aml_nameseg(&a, bad[i]);
		assert_int_equal(aml_finish(&a), -EINVAL);
	}
}

static void namestrings(void **state)
{
	(void)state;
	aml_name_begin(&a, "\\_SB");
	aml_name_begin(&a, "\\_SB.PCI0");
	aml_name_begin(&a, "^^A.B.C");
	aml_name_begin(&a, "\\");
	EXPECT_BYTES(0x08, '\\', '_', 'S', 'B', '_',
		     0x08, '\\', 0x2E, '_', 'S', 'B', '_', 'P', 'C', 'I', '0',
		     0x08, '^', '^', 0x2F, 3, 'A', '_', '_', '_', 'B', '_', '_', '_', 'C', '_', '_', '_',
		     0x08, '\\', 0x00);
}

static void namestring_empty_segment(void **state)
{
	(void)state;
	aml_name_begin(&a, "\\_SB..X");
	assert_int_equal(aml_finish(&a), -EINVAL);
}

static void strings(void **state)
{
	(void)state;
	aml_name_begin(&a, "_HID");
	aml_string(&a, "LNRO0005");
	EXPECT_BYTES(0x08, '_', 'H', 'I', 'D', 0x0D, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0x00);
}

static void package_s5(void **state)
{
	(void)state;
	aml_name_begin(&a, "_S5_");
	aml_package_begin(&a, 4);
	aml_integer(&a, 5);
	aml_integer(&a, 5);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_end(&a);
	EXPECT_BYTES(0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00);
}

static void method_sta(void **state)
{
	(void)state;
	aml_method_begin(&a, "_STA", 0);
	aml_return(&a);
	aml_integer(&a, 0x0F);
	aml_end(&a);
	EXPECT_BYTES(0x14, 0x09, '_', 'S', 'T', 'A', 0x00, 0xA4, 0x0A, 0x0F);
}

static void method_too_many_args(void **state)
{
	(void)state;
	aml_method_begin(&a, "FOO", 8);
	aml_end(&a);
	assert_int_equal(aml_finish(&a), -EINVAL);
}

static void resources(void **state)
{
	struct aml_res r;

	(void)state;
	aml_res_init(&r);
	aml_res_mem32_fixed(&r, 0xD0000000, 0x1000, 1);
	aml_res_irq(&r, 5, 0, 0, 0);
	aml_res_io(&r, 0x3F8, 8);
	aml_res_isa_irq(&r, 4, 0, 0, 0);
	aml_res_buffer(&a, &r);
	EXPECT_BYTES(0x11, 38, 0x0A, 35,
		     /* Memory32Fixed(ReadWrite, 0xD0000000, 0x1000) */
		     0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xD0, 0x00, 0x10, 0x00, 0x00,
		     /* Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive) {5} */
		     0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00,
		     /* IO(Decode16, 0x3F8, 0x3F8, 1, 8) */
		     0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x01, 0x08,
		     /* IRQ(Edge, ActiveHigh, Exclusive) {4} */
		     0x23, 0x10, 0x00, 0x01,
		     0x79, 0x00);
}

static void resource_flags(void **state)
{
	struct aml_res r;

	(void)state;
	aml_res_init(&r);
	aml_res_irq(&r, 0x12345678, 1, 1, 1);      /* level, active low, shared */
	aml_res_isa_irq(&r, 15, 1, 1, 1);
	aml_res_mem32_fixed(&r, 0, 0, 0);
	assert_int_equal(r.len, 9 + 4 + 12);
	assert_int_equal(r.data[3], 0x0D);
	assert_memory_equal(r.data + 5, "\x78\x56\x34\x12", 4);
	assert_int_equal(r.data[9 + 1], 0x00);
	assert_int_equal(r.data[9 + 2], 0x80);
	assert_int_equal(r.data[9 + 3], 0x18);
	assert_int_equal(r.data[13 + 3], 0x00);     /* read-only */
	aml_res_isa_irq(&r, 16, 0, 0, 0);
	aml_res_buffer(&a, &r);
	assert_int_equal(aml_finish(&a), -EINVAL);
}

/* Address Space Descriptors, byte for byte (ACPI 6.4 §6.4.3.5.1-3). */
static void address_space(void **state)
{
	struct aml_res r;
	static const uint8_t word_bus[16] = {
		0x88, 0x0D, 0x00, 0x02, 0x0C, 0x00,     /* bus number, min/max fixed */
		0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00,     /* gran, min 0, max 0, xlat, len 1 */
	};
	static const uint8_t dword_mem[26] = {
		0x87, 0x17, 0x00, 0x00, 0x0C, 0x01,     /* memory, RW non-cacheable */
		0, 0, 0, 0,  0x00, 0x00, 0x00, 0xC0,  0xFF, 0xFF, 0xFF, 0xCF,
		0, 0, 0, 0,  0x00, 0x00, 0x00, 0x10,
	};

	(void)state;
	aml_res_init(&r);
	aml_res_addr(&r, 2, AML_ADDR_BUS, 0, 0, 0);
	assert_int_equal(r.len, 16);
	assert_memory_equal(r.data, word_bus, 16);
	aml_res_init(&r);
	aml_res_addr(&r, 4, AML_ADDR_MEMORY, 1, 0xC0000000, 0xCFFFFFFF);
	assert_int_equal(r.len, 26);
	assert_memory_equal(r.data, dword_mem, 26);
	aml_res_init(&r);
	aml_res_addr(&r, 8, AML_ADDR_MEMORY, 7, 1ULL << 39, (1ULL << 40) - 1);
	assert_int_equal(r.len, 46);
	assert_int_equal(r.data[0], 0x8A);
	assert_int_equal(r.data[1], 43);
	assert_int_equal(r.data[5], 7);
	assert_int_equal(r.data[6 + 8 + 4], 0x80);          /* min = 1 << 39 */
	assert_int_equal(r.data[6 + 32 + 4], 0x80);         /* length = 1 << 39 */
	assert_int_equal(r.invalid, 0);
	aml_res_addr(&r, 2, AML_ADDR_IO, 3, 0, 0x10000);    /* does not fit a word */
	assert_int_equal(r.invalid, 1);
	aml_res_init(&r);
	aml_res_addr(&r, 4, AML_ADDR_MEMORY, 1, 10, 9);     /* max below min */
	assert_int_equal(r.invalid, 1);
	aml_res_init(&r);
	aml_res_addr(&r, 3, AML_ADDR_MEMORY, 1, 0, 1);      /* no such width */
	assert_int_equal(r.invalid, 1);
}

static void unbalanced(void **state)
{
	(void)state;
	aml_scope_begin(&a, "\\_SB_");
	assert_int_equal(aml_finish(&a), -EINVAL);
	setup(NULL);
	aml_end(&a);
	assert_int_equal(aml_finish(&a), -EINVAL);
	setup(NULL);
	aml_scope_begin(&a, "\\_SB_");
	aml_end(&a);
	aml_end(&a);
	assert_int_equal(aml_finish(&a), -EINVAL);
}

static void too_deep(void **state)
{
	(void)state;
	for (int i = 0; i <= AML_MAX_DEPTH; i++)
		aml_device_begin(&a, "DEV");
	for (int i = 0; i <= AML_MAX_DEPTH; i++)
		aml_end(&a);
	assert_int_equal(a.depth, 0);
	assert_int_equal(aml_finish(&a), -EINVAL);
}

static void emit_s5(struct aml *x)
{
	aml_name_begin(x, "_S5_");
	aml_package_begin(x, 4);
	for (int i = 0; i < 4; i++)
		aml_integer(x, i < 2 ? 5 : 0);
	aml_end(x);
}

static void overflow_bounds(void **state)
{
	uint8_t small[32];
	struct aml x;

	(void)state;
	for (size_t cap = 0; cap < 14; cap++) {
		memset(small, 0xEE, sizeof(small));
		aml_init(&x, small, cap);
		emit_s5(&x);
		assert_int_equal(aml_finish(&x), -ENOSPC);
		for (size_t i = cap; i < sizeof(small); i++)
			assert_int_equal(small[i], 0xEE);
	}
	aml_init(&x, small, 14);
	emit_s5(&x);
	assert_int_equal(aml_finish(&x), 0);
	assert_int_equal(x.len, 14);
}

/* A body that needs a longer PkgLength than reserved must not spill. */
static void overflow_on_grow(void **state)
{
	static uint8_t fill[70];
	uint8_t small[80];
	struct aml x;

	(void)state;
	memset(small, 0xEE, sizeof(small));
	aml_init(&x, small, 73);                      /* op + 1 + 1 + 70 */
	aml_package_begin(&x, 0);
	aml_bytes(&x, fill, sizeof(fill));
	aml_end(&x);
	assert_int_equal(aml_finish(&x), -ENOSPC);
	for (size_t i = 73; i < sizeof(small); i++)
		assert_int_equal(small[i], 0xEE);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(pkglength_values),
		cmocka_unit_test(pkglength_boundaries),
		cmocka_unit_test_setup(pkglength_nested_growth, setup),
		cmocka_unit_test_setup(integers, setup),
		cmocka_unit_test_setup(integer_limits, setup),
		cmocka_unit_test_setup(eisaid, setup),
		cmocka_unit_test_setup(eisaid_invalid, setup),
		cmocka_unit_test_setup(nameseg_padding, setup),
		cmocka_unit_test(nameseg_invalid),
		cmocka_unit_test_setup(namestrings, setup),
		cmocka_unit_test_setup(namestring_empty_segment, setup),
		cmocka_unit_test_setup(strings, setup),
		cmocka_unit_test_setup(package_s5, setup),
		cmocka_unit_test_setup(method_sta, setup),
		cmocka_unit_test_setup(method_too_many_args, setup),
		cmocka_unit_test_setup(resources, setup),
		cmocka_unit_test_setup(resource_flags, setup),
		cmocka_unit_test(address_space),
		cmocka_unit_test_setup(unbalanced, setup),
		cmocka_unit_test_setup(too_deep, setup),
		cmocka_unit_test(overflow_bounds),
		cmocka_unit_test(overflow_on_grow),
	};

	return cmocka_run_group_tests(t, NULL, NULL);
}
