/* arm64_is_big_endian (arch/arm64/endian.c): the byte order a legacy virtio
 * device takes from an arm64 vCPU (DESIGN.md, "The endianness rule"). A pure
 * function, so this runs on every host, big-endian s390x included.
 *
 * The bit positions are written out here from the architecture (Arm ARM
 * SPSR_EL2.M / SCTLR_EL1; Linux asm/ptrace.h, asm/sysreg.h), not taken from
 * endian.h, so a wrong macro there fails these tests. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "arch/arm64/endian.h"

#define BIT(n) (UINT64_C(1) << (n))

/* SCTLR_EL1 */
#define E0E BIT(24)
#define EE BIT(25)
/* SCTLR_EL1 RES1 bits and a typical MMU-on value's other bits, to show the
 * decision looks at one bit only. */
#define SCTLR_OTHER (BIT(29) | BIT(28) | BIT(23) | BIT(22) | BIT(20) | BIT(11) | \
		     BIT(12) | BIT(2) | BIT(0))

/* AArch64 PSTATE.M[3:0] */
#define EL0t 0x0
#define EL1t 0x4
#define EL1h 0x5
#define EL2t 0x8
#define EL2h 0x9
#define EL3t 0xc
#define EL3h 0xd
#define DAIF (BIT(9) | BIT(8) | BIT(7) | BIT(6))   /* AArch64: D is bit 9 */
#define NZCV (BIT(31) | BIT(30) | BIT(29) | BIT(28))

/* AArch32 CPSR.M[4:0] (M[4] = PSTATE.nRW) and bits */
#define USR 0x10
#define FIQ 0x11
#define IRQ 0x12
#define SVC 0x13
#define ABT 0x17
#define HYP 0x1a
#define UND 0x1b
#define SYS 0x1f
#define CPSR_E BIT(9)
#define CPSR_T BIT(5)
#define CPSR_AIF (BIT(8) | BIT(7) | BIT(6))

static void test_macros_match_architecture(void **state)
{
	assert_int_equal(ARM64_PSTATE_nRW, BIT(4));
	assert_int_equal(ARM64_PSTATE_EL_MASK, BIT(3) | BIT(2));
	assert_int_equal(ARM64_CPSR_E, BIT(9));
	assert_int_equal(ARM64_SCTLR_E0E, BIT(24));
	assert_int_equal(ARM64_SCTLR_EE, BIT(25));
}

/* EL1: SCTLR_EL1.EE, whatever E0E says. */
static void test_el1_follows_ee(void **state)
{
	const uint64_t modes[] = { EL1h, EL1t };

	for (size_t i = 0; i < 2; i++) {
		uint64_t m = modes[i];
		assert_int_equal(arm64_is_big_endian(m, 0), 0);
		assert_int_equal(arm64_is_big_endian(m, EE), 1);
		assert_int_equal(arm64_is_big_endian(m, EE | E0E), 1);
		assert_int_equal(arm64_is_big_endian(m, E0E), 0);          /* not E0E */
		assert_int_equal(arm64_is_big_endian(m, SCTLR_OTHER), 0);
		assert_int_equal(arm64_is_big_endian(m, SCTLR_OTHER | E0E), 0);
		assert_int_equal(arm64_is_big_endian(m, SCTLR_OTHER | EE), 1);
		assert_int_equal(arm64_is_big_endian(m, ~EE), 0);          /* every other bit */
		assert_int_equal(arm64_is_big_endian(m, ~E0E), 1);
	}
}

/* EL0: SCTLR_EL1.E0E, whatever EE says (a little-endian kernel may run a
 * big-endian process and the other way round). */
static void test_el0_follows_e0e(void **state)
{
	assert_int_equal(arm64_is_big_endian(EL0t, 0), 0);
	assert_int_equal(arm64_is_big_endian(EL0t, E0E), 1);
	assert_int_equal(arm64_is_big_endian(EL0t, E0E | EE), 1);
	assert_int_equal(arm64_is_big_endian(EL0t, EE), 0);                 /* not EE */
	assert_int_equal(arm64_is_big_endian(EL0t, SCTLR_OTHER | EE), 0);
	assert_int_equal(arm64_is_big_endian(EL0t, SCTLR_OTHER | E0E), 1);
	assert_int_equal(arm64_is_big_endian(EL0t, ~E0E), 0);
	assert_int_equal(arm64_is_big_endian(EL0t, ~EE), 1);
}

/* AArch64 PSTATE bit 9 is D (debug mask), not an endianness bit: only nRW
 * makes it CPSR.E. Flags and masks do not change the answer. */
static void test_aarch64_ignores_other_pstate_bits(void **state)
{
	assert_int_equal(arm64_is_big_endian(EL1h | DAIF, 0), 0);
	assert_int_equal(arm64_is_big_endian(EL1h | DAIF | NZCV, EE), 1);
	assert_int_equal(arm64_is_big_endian(EL0t | DAIF | NZCV, 0), 0);
	assert_int_equal(arm64_is_big_endian(EL0t | BIT(9), E0E), 1);
	/* PAN, UAO, DIT, SSBS, BTYPE */
	uint64_t ext = BIT(22) | BIT(23) | BIT(24) | BIT(12) | BIT(11) | BIT(10);
	assert_int_equal(arm64_is_big_endian(EL1h | ext, EE | E0E), 1);
	assert_int_equal(arm64_is_big_endian(EL1h | ext, E0E), 0);
}

/* EL2/EL3 take their byte order from SCTLR_EL2/EL3, which the caller did not
 * pass: "cannot tell" (-1, the default applies), never a guess from EL1's. */
static void test_el2_el3_cannot_tell(void **state)
{
	const uint64_t modes[] = { EL2t, EL2h, EL3t, EL3h };

	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(arm64_is_big_endian(modes[i], 0), -1);
		assert_int_equal(arm64_is_big_endian(modes[i], EE), -1);
		assert_int_equal(arm64_is_big_endian(modes[i], E0E), -1);
		assert_int_equal(arm64_is_big_endian(modes[i] | DAIF, EE | E0E), -1);
	}
}

/* AArch32 (nRW = 1): CPSR.E alone, in every mode — including modes whose
 * M[3:2] would read as EL1 (ABT), EL2 (HYP, UND) or EL3 (SYS) if decoded
 * as AArch64 — and SCTLR_EL1 is ignored (SETEND flips E at any time). */
static void test_aarch32_follows_cpsr_e(void **state)
{
	const uint64_t modes[] = { USR, FIQ, IRQ, SVC, ABT, HYP, UND, SYS };

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		uint64_t m = modes[i];
		assert_int_equal(arm64_is_big_endian(m, 0), 0);
		assert_int_equal(arm64_is_big_endian(m | CPSR_E, 0), 1);
		assert_int_equal(arm64_is_big_endian(m, EE | E0E), 0);
		assert_int_equal(arm64_is_big_endian(m | CPSR_E, EE | E0E), 1);
		assert_int_equal(arm64_is_big_endian(m, ~UINT64_C(0)), 0);
		assert_int_equal(arm64_is_big_endian(m | CPSR_E, SCTLR_OTHER), 1);
		assert_int_equal(arm64_is_big_endian(m | CPSR_T | CPSR_AIF | NZCV, EE), 0);
		assert_int_equal(arm64_is_big_endian(m | CPSR_E | CPSR_T | CPSR_AIF | NZCV, 0), 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_macros_match_architecture),
		cmocka_unit_test(test_el1_follows_ee),
		cmocka_unit_test(test_el0_follows_e0e),
		cmocka_unit_test(test_aarch64_ignores_other_pstate_bits),
		cmocka_unit_test(test_el2_el3_cannot_tell),
		cmocka_unit_test(test_aarch32_follows_cpsr_e),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
