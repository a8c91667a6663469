/* Tests for parse_size: suffixes, the bare-number unit, and the two error
 * classes (-EINVAL for junk, -ERANGE for zero and overflow). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>

#include "vmm/size.h"

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define TiB (1ULL << 40)

/* Parses s and checks the value; out starts as a sentinel so a parser that
 * returns 0 without storing is caught. */
static void ok(const char *s, unsigned shift, uint64_t want)
{
	uint64_t out = 0xDEADBEEFDEADBEEFULL;

	assert_int_equal(parse_size(s, shift, &out), 0);
	assert_int_equal(out, want);
}

/* A rejected string must leave *out alone. */
static void bad(const char *s, unsigned shift, int want)
{
	uint64_t out = 0x5A5A5A5A5A5A5A5AULL;

	assert_int_equal(parse_size(s, shift, &out), want);
	assert_int_equal(out, 0x5A5A5A5A5A5A5A5AULL);
}

static void suffixes(void **state)
{
	(void)state;
	ok("512M", 20, 512 * MiB);
	ok("2G", 20, 2 * GiB);
	ok("2g", 20, 2 * GiB);
	ok("1536k", 20, 1536 * KiB);
	ok("1536K", 0, 1536 * KiB);
	ok("4T", 20, 4 * TiB);
	ok("1GiB", 20, GiB);
	ok("1gib", 20, GiB);
	ok("1GB", 20, GiB);
	ok("1Gb", 20, GiB);
	ok("64MiB", 0, 64 * MiB);
	/* A suffix overrides default_shift rather than adding to it. */
	ok("3M", 30, 3 * MiB);
}

static void bare_numbers(void **state)
{
	(void)state;
	ok("4096", 20, 4 * GiB);
	ok("4096", 0, 4096);
	ok("1", 0, 1);
	ok("1", 30, GiB);
	ok("0012", 0, 12);
	ok("18446744073709551615", 0, UINT64_MAX);
}

static void junk(void **state)
{
	static const char *const j[] = {
		"", "M", "12X", "1.5G", "-1", "+1", " 5M", "5M ", "5 M", "5MM",
		"5Mi", "5MiBs", "0x10", "5B", "G5", "1e3",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(j) / sizeof(j[0]); i++) {
		uint64_t out = 7;
		int r = parse_size(j[i], 20, &out);

		if (r != -EINVAL)
			fail_msg("'%s': got %d, want -EINVAL", j[i], r);
		assert_int_equal(out, 7);
	}
	bad(NULL, 20, -EINVAL);
}

static void zero(void **state)
{
	(void)state;
	bad("0", 20, -ERANGE);
	bad("0", 0, -ERANGE);
	bad("0M", 20, -ERANGE);
	bad("000G", 20, -ERANGE);
}

static void overflow(void **state)
{
	(void)state;
	/* Too many digits for 64 bits at all. */
	bad("99999999999999999999", 0, -ERANGE);
	bad("18446744073709551616", 0, -ERANGE);
	/* Would wrap to a small non-zero value, not to the zero check. */
	bad("18446744073709551617", 0, -ERANGE);
	bad("18446744073709551625", 0, -ERANGE);
	/* 2^34 GiB = 2^64: the digits fit, the shift does not. */
	bad("17179869184G", 20, -ERANGE);
	ok("17179869183G", 20, 17179869183ULL * GiB);
	bad("16777216T", 20, -ERANGE);
	ok("16777215T", 20, 16777215ULL * TiB);
	/* Default shift applies to the overflow check too. */
	bad("17592186044416", 20, -ERANGE);   /* 2^44 MiB = 2^64 */
	ok("17592186044415", 20, 17592186044415ULL * MiB);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(suffixes),
		cmocka_unit_test(bare_numbers),
		cmocka_unit_test(junk),
		cmocka_unit_test(zero),
		cmocka_unit_test(overflow),
	};

	return cmocka_run_group_tests(t, NULL, NULL);
}
