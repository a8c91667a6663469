#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "devices/iov.h"

static char a[3], b[0 + 1], c[5];
static struct iovec iov[4];

static int setup(void **state)
{
	(void)state;
	memcpy(a, "abc", 3);
	memcpy(c, "defgh", 5);
	iov[0] = (struct iovec){ a, 3 };
	iov[1] = (struct iovec){ b, 0 };      /* empty segments are skipped */
	iov[2] = (struct iovec){ c, 5 };
	return 0;
}

static void gather_across_segments(void **state)
{
	char out[8] = { 0 };

	(void)state;
	assert_int_equal(iov_to_buf(iov, 3, 0, out, 8), 8);
	assert_memory_equal(out, "abcdefgh", 8);
	memset(out, 0, sizeof(out));
	assert_int_equal(iov_to_buf(iov, 3, 2, out, 4), 4);     /* from inside the first */
	assert_memory_equal(out, "cdef", 4);
	assert_int_equal(iov_to_buf(iov, 3, 3, out, 2), 2);     /* starting exactly at a boundary */
	assert_memory_equal(out, "de", 2);
}

static void short_stream(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(iov_to_buf(iov, 3, 6, out, 16), 2);    /* only "gh" is left */
	assert_memory_equal(out, "gh", 2);
	assert_int_equal(iov_to_buf(iov, 3, 8, out, 1), 0);     /* past the end */
	assert_int_equal(iov_to_buf(iov, 3, UINT64_MAX, out, 1), 0);
	assert_int_equal(iov_to_buf(iov, 1, 0, out, 8), 3);     /* n bounds the walk */
	assert_int_equal(iov_to_buf(iov, 0, 0, out, 8), 0);
}

static void scatter(void **state)
{
	(void)state;
	assert_int_equal(iov_from_buf(iov, 3, 1, "XYZW", 4), 4);
	assert_memory_equal(a, "aXY", 3);
	assert_memory_equal(c, "ZWfgh", 5);
	assert_int_equal(iov_from_buf(iov, 3, 7, "123", 3), 1); /* writes stop at the end */
	assert_memory_equal(c, "ZWfg1", 5);
}

static void slice(void **state)
{
	struct iovec out[4];

	(void)state;
	/* [2, 6): "c" from the first, the empty one skipped, "def" from the third */
	assert_int_equal(iov_slice(out, iov, 3, 2, 4), 2);
	assert_ptr_equal(out[0].iov_base, a + 2);
	assert_int_equal(out[0].iov_len, 1);
	assert_ptr_equal(out[1].iov_base, c);
	assert_int_equal(out[1].iov_len, 3);
	/* starting exactly at a boundary */
	assert_int_equal(iov_slice(out, iov, 3, 3, 2), 1);
	assert_ptr_equal(out[0].iov_base, c);
	assert_int_equal(out[0].iov_len, 2);
	/* longer than the stream: what there is */
	assert_int_equal(iov_slice(out, iov, 3, 7, 100), 1);
	assert_int_equal(out[0].iov_len, 1);
	assert_int_equal(iov_slice(out, iov, 3, 8, 1), 0);
	assert_int_equal(iov_slice(out, iov, 3, 0, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(gather_across_segments, setup),
		cmocka_unit_test_setup(short_stream, setup),
		cmocka_unit_test_setup(scatter, setup),
		cmocka_unit_test_setup(slice, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
