/* gm_ptr is the one gate between guest addresses and host pointers, so its
 * edges matter: region ends, lengths that wrap 2^64, gaps between regions. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "guest_mem.h"

#define LOW_GPA 0x1000u
#define LOW_SIZE 0x1000u
#define HIGH_GPA 0x4000u /* gap [0x2000, 0x4000) between the two regions */
#define HIGH_SIZE 0x2000u

struct fixture {
	struct guest_mem gm;
	uint8_t low[LOW_SIZE];
	uint8_t high[HIGH_SIZE];
};

static int setup(void **state)
{
	struct fixture *f = test_calloc(1, sizeof(*f));

	if (gm_add_region(&f->gm, LOW_GPA, LOW_SIZE, f->low) ||
	    gm_add_region(&f->gm, HIGH_GPA, HIGH_SIZE, f->high))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	test_free(*state);
	return 0;
}

static void test_ptr_inside_and_at_edges(void **state)
{
	struct fixture *f = *state;

	assert_ptr_equal(gm_ptr(&f->gm, LOW_GPA, 1), f->low);
	assert_ptr_equal(gm_ptr(&f->gm, LOW_GPA, LOW_SIZE), f->low);
	assert_ptr_equal(gm_ptr(&f->gm, LOW_GPA + 0x123, 0x10), f->low + 0x123);
	/* Last byte, and a range ending exactly at the region end. */
	assert_ptr_equal(gm_ptr(&f->gm, LOW_GPA + LOW_SIZE - 1, 1), f->low + LOW_SIZE - 1);
	assert_ptr_equal(gm_ptr(&f->gm, LOW_GPA + LOW_SIZE - 8, 8), f->low + LOW_SIZE - 8);
	assert_ptr_equal(gm_ptr(&f->gm, HIGH_GPA + HIGH_SIZE - 1, 1), f->high + HIGH_SIZE - 1);
	/* One byte either side is not RAM. */
	assert_null(gm_ptr(&f->gm, LOW_GPA - 1, 1));
	assert_null(gm_ptr(&f->gm, LOW_GPA + LOW_SIZE, 1));
	assert_null(gm_ptr(&f->gm, 0, 1));
}

static void test_ptr_crossing_region_end(void **state)
{
	struct fixture *f = *state;

	assert_null(gm_ptr(&f->gm, LOW_GPA, LOW_SIZE + 1));
	assert_null(gm_ptr(&f->gm, LOW_GPA + LOW_SIZE - 8, 9));
	assert_null(gm_ptr(&f->gm, LOW_GPA - 1, 2)); /* starts before */
	assert_null(gm_ptr(&f->gm, HIGH_GPA + HIGH_SIZE - 1, 2));
}

static void test_ptr_wraparound(void **state)
{
	struct fixture *f = *state;

	/* gpa + len wraps to a small value that a naive "end <= region end"
	 * check would accept. */
	assert_null(gm_ptr(&f->gm, LOW_GPA + 0x10, UINT64_MAX));
	assert_null(gm_ptr(&f->gm, LOW_GPA, UINT64_MAX));
	assert_null(gm_ptr(&f->gm, LOW_GPA + 0x10, UINT64_MAX - 0x8));
	assert_null(gm_ptr(&f->gm, UINT64_MAX, 2));
	assert_null(gm_ptr(&f->gm, UINT64_MAX, UINT64_MAX));
}

static void test_ptr_len_zero(void **state)
{
	struct fixture *f = *state;

	assert_ptr_equal(gm_ptr(&f->gm, LOW_GPA, 0), f->low);
	assert_ptr_equal(gm_ptr(&f->gm, LOW_GPA + LOW_SIZE - 1, 0), f->low + LOW_SIZE - 1);
	/* The end address is outside the region, even for an empty range. */
	assert_null(gm_ptr(&f->gm, LOW_GPA + LOW_SIZE, 0));
	assert_null(gm_ptr(&f->gm, 0x3000, 0));
}

static void test_ptr_gap_between_regions(void **state)
{
	struct fixture *f = *state;

	assert_null(gm_ptr(&f->gm, 0x2000, 1));
	assert_null(gm_ptr(&f->gm, HIGH_GPA - 1, 1));
	assert_ptr_equal(gm_ptr(&f->gm, HIGH_GPA, 1), f->high);
	/* Regions are never stitched together, even when a range covers both. */
	assert_null(gm_ptr(&f->gm, LOW_GPA, HIGH_GPA + HIGH_SIZE - LOW_GPA));
}

static void test_adjacent_regions_not_stitched(void **state)
{
	struct guest_mem gm = { 0 };
	uint8_t a[16], b[16];

	assert_int_equal(gm_add_region(&gm, 0x100, sizeof(a), a), 0);
	assert_int_equal(gm_add_region(&gm, 0x110, sizeof(b), b), 0); /* touching is fine */
	assert_ptr_equal(gm_ptr(&gm, 0x10f, 1), a + 15);
	assert_ptr_equal(gm_ptr(&gm, 0x110, 1), b);
	/* Contiguous in the guest but not on the host: no single pointer. */
	assert_null(gm_ptr(&gm, 0x10f, 2));
}

static void test_add_overlap_refused(void **state)
{
	struct fixture *f = *state;
	uint8_t other[0x3000];

	assert_int_equal(gm_add_region(&f->gm, LOW_GPA, LOW_SIZE, other), -EINVAL);     /* same */
	assert_int_equal(gm_add_region(&f->gm, LOW_GPA - 0x800, 0x1000, other), -EINVAL); /* head */
	assert_int_equal(gm_add_region(&f->gm, LOW_GPA + LOW_SIZE - 1, 0x10, other), -EINVAL); /* tail */
	assert_int_equal(gm_add_region(&f->gm, LOW_GPA + 0x10, 0x10, other), -EINVAL);  /* inside */
	assert_int_equal(gm_add_region(&f->gm, 0, 0x3000, other), -EINVAL);              /* around */
	assert_int_equal(gm_add_region(&f->gm, 0x1800, 0x3000, other), -EINVAL);         /* both */
	assert_int_equal(f->gm.nr, 2);
	/* The gap itself is free. */
	assert_int_equal(gm_add_region(&f->gm, 0x2000, 0x2000, other), 0);
	assert_int_equal(f->gm.nr, 3);
}

static void test_add_invalid(void **state)
{
	struct guest_mem gm = { 0 };
	uint8_t buf[16];

	assert_int_equal(gm_add_region(&gm, 0x1000, 0, buf), -EINVAL);
	assert_int_equal(gm_add_region(&gm, UINT64_MAX - 0xf, 0x20, buf), -EINVAL);
	/* A region ending exactly at 2^64 has no representable end: refused too. */
	assert_int_equal(gm_add_region(&gm, UINT64_MAX - 0xf, 0x10, buf), -EINVAL);
	assert_int_equal(gm.nr, 0);
	/* Just below the top is fine, and its last byte is reachable. */
	assert_int_equal(gm_add_region(&gm, UINT64_MAX - 0x10, 0x10, buf), 0);
	assert_ptr_equal(gm_ptr(&gm, UINT64_MAX - 1, 1), buf + 15);
	assert_null(gm_ptr(&gm, UINT64_MAX - 1, 2));
	assert_null(gm_ptr(&gm, UINT64_MAX, 0));
}

static void test_add_too_many(void **state)
{
	struct guest_mem gm = { 0 };
	uint8_t buf[GM_MAX_REGIONS + 1][16];

	for (int i = 0; i < GM_MAX_REGIONS; i++)
		assert_int_equal(gm_add_region(&gm, 0x1000 * (uint64_t)(i + 1), 16, buf[i]), 0);
	assert_int_equal(gm_add_region(&gm, 0x100000, 16, buf[GM_MAX_REGIONS]), -ENOSPC);
	assert_int_equal(gm.nr, GM_MAX_REGIONS);
	assert_null(gm_ptr(&gm, 0x100000, 1));
	assert_ptr_equal(gm_ptr(&gm, 0x1000 * GM_MAX_REGIONS, 1), buf[GM_MAX_REGIONS - 1]);
}

static void test_read_write(void **state)
{
	struct fixture *f = *state;
	const uint8_t msg[] = "kvmini";
	uint8_t out[sizeof(msg)];

	assert_int_equal(gm_write(&f->gm, HIGH_GPA + 0x100, msg, sizeof(msg)), 0);
	assert_memory_equal(f->high + 0x100, msg, sizeof(msg));
	memset(out, 0, sizeof(out));
	assert_int_equal(gm_read(&f->gm, HIGH_GPA + 0x100, out, sizeof(out)), 0);
	assert_memory_equal(out, msg, sizeof(msg));
	assert_int_equal(gm_read(&f->gm, 0x2000, out, 0), -EFAULT); /* gap, even empty */
	assert_int_equal(gm_write(&f->gm, HIGH_GPA, msg, 0), 0);
}

static void test_read_write_efault(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[16];

	memset(buf, 0xab, sizeof(buf));
	memset(f->low, 0, sizeof(f->low));
	/* Crossing the end: nothing is copied, not even the part that fits. */
	assert_int_equal(gm_write(&f->gm, LOW_GPA + LOW_SIZE - 8, buf, sizeof(buf)), -EFAULT);
	for (size_t i = 0; i < LOW_SIZE; i++)
		assert_int_equal(f->low[i], 0);
	assert_int_equal(gm_read(&f->gm, LOW_GPA + LOW_SIZE - 8, buf, sizeof(buf)), -EFAULT);
	assert_int_equal(buf[0], 0xab);
	assert_int_equal(gm_read(&f->gm, 0x2000, buf, 1), -EFAULT);
	assert_int_equal(gm_write(&f->gm, 0x2000, buf, 1), -EFAULT);
	assert_int_equal(gm_read(&f->gm, LOW_GPA + 1, buf, UINT64_MAX), -EFAULT);
	assert_int_equal(gm_write(&f->gm, LOW_GPA + 1, buf, UINT64_MAX), -EFAULT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ptr_inside_and_at_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ptr_crossing_region_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ptr_wraparound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ptr_len_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ptr_gap_between_regions, setup, teardown),
		cmocka_unit_test(test_adjacent_regions_not_stitched),
		cmocka_unit_test_setup_teardown(test_add_overlap_refused, setup, teardown),
		cmocka_unit_test(test_add_invalid),
		cmocka_unit_test(test_add_too_many),
		cmocka_unit_test_setup_teardown(test_read_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_write_efault, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
