/* ppc64_is_big_endian (arch/ppc64/endian.c): the byte order a legacy virtio
 * device takes from a 64-bit Power vCPU (DESIGN.md, "The endianness rule").
 * A pure function, so this runs on every host, big-endian s390x included.
 *
 * MSR bits are numbered here from the least significant (Linux asm/reg.h
 * MSR_*_LG); the Power ISA numbers them from the most significant, so
 * MSR[LE] is ISA bit 63 = value 1. Written out here, not taken from
 * endian.h, so a wrong macro there fails these tests. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "arch/ppc64/endian.h"

#define BIT(n) (UINT64_C(1) << (n))

#define MSR_SF BIT(63)    /* 64-bit mode (ISA bit 0) */
#define MSR_HV BIT(60)
#define MSR_VEC BIT(25)
#define MSR_VSX BIT(23)
#define MSR_ILE BIT(16)   /* interrupts little-endian: not the current order */
#define MSR_EE BIT(15)
#define MSR_PR BIT(14)
#define MSR_FP BIT(13)
#define MSR_ME BIT(12)
#define MSR_IR BIT(5)
#define MSR_DR BIT(4)
#define MSR_RI BIT(1)
#define MSR_LE BIT(0)

/* What a 64-bit Linux kernel runs with, give or take EE/FP/VEC. */
#define KERNEL_MSR (MSR_SF | MSR_ME | MSR_IR | MSR_DR | MSR_RI)

static void test_macro_matches_architecture(void **state)
{
	assert_int_equal(PPC64_MSR_LE, 1);
}

static void test_le_bit_decides(void **state)
{
	assert_int_equal(ppc64_is_big_endian(0), 1);
	assert_int_equal(ppc64_is_big_endian(MSR_LE), 0);
	assert_int_equal(ppc64_is_big_endian(KERNEL_MSR), 1);            /* ppc64 BE kernel */
	assert_int_equal(ppc64_is_big_endian(KERNEL_MSR | MSR_LE), 0);   /* ppc64le kernel */
	assert_int_equal(ppc64_is_big_endian(UINT64_C(0x8000000000001033)), 0);
	assert_int_equal(ppc64_is_big_endian(UINT64_C(0x8000000000001032)), 1);
}

/* Every other bit is ignored; in particular ILE (the order interrupts are
 * taken in), SF (ISA bit 0: a confusion of bit numbering would read it) and
 * the problem-state bit (user or kernel, the same MSR[LE] rule). */
static void test_other_bits_ignored(void **state)
{
	assert_int_equal(ppc64_is_big_endian(MSR_ILE), 1);
	assert_int_equal(ppc64_is_big_endian(KERNEL_MSR | MSR_ILE), 1);
	assert_int_equal(ppc64_is_big_endian(MSR_SF), 1);
	assert_int_equal(ppc64_is_big_endian(MSR_SF | MSR_LE), 0);
	assert_int_equal(ppc64_is_big_endian(KERNEL_MSR | MSR_PR | MSR_EE | MSR_FP |
					     MSR_VEC | MSR_VSX | MSR_HV), 1);
	assert_int_equal(ppc64_is_big_endian(KERNEL_MSR | MSR_PR | MSR_EE | MSR_FP |
					     MSR_VEC | MSR_VSX | MSR_HV | MSR_LE), 0);
	assert_int_equal(ppc64_is_big_endian(~MSR_LE), 1);
	assert_int_equal(ppc64_is_big_endian(~UINT64_C(0)), 0);
	assert_int_equal(ppc64_is_big_endian(MSR_RI), 1);                /* LE's neighbour */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_macro_matches_architecture),
		cmocka_unit_test(test_le_bit_decides),
		cmocka_unit_test(test_other_bits_ignored),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
