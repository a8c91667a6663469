/* The kvmini.exit port's text (vmm/status_text.h): what counts as a status,
 * what is malformed, and how lines end. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "vmm/status_text.h"

static int got[8];
static char text[8][32];
static int ngot;

static void on_line(void *opaque, int status, const char *t)
{
	assert_true(ngot < 8);
	got[ngot] = status;
	snprintf(text[ngot], sizeof(text[ngot]), "%s", t);
	ngot++;
}

/* Feeds s (in pieces of step bytes) and, if close, ends the stream. */
static void feed(const char *s, size_t step, bool close)
{
	struct status_text t = { 0 };
	size_t n = strlen(s);

	ngot = 0;
	for (size_t i = 0; i < n; i += step)
		status_text_feed(&t, (const uint8_t *)s + i, n - i < step ? n - i : step, on_line, NULL);
	if (close)
		status_text_end(&t, on_line, NULL);
}

static void statuses(void **state)
{
	static const struct { const char *in; int want; } c[] = {
		{ "0\n", 0 }, { "7\n", 7 }, { "239\n", 239 }, { "255\n", 255 }, { "300\n", 300 },
		{ "  7\r\n", 7 }, { "7 \t\n", 7 }, { "007\n", 7 }, { "123456789\n", 123456789 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		for (size_t step = 1; step <= 3; step++) {
			feed(c[i].in, step, false);
			assert_int_equal(ngot, 1);
			assert_int_equal(got[0], c[i].want);
		}
	}
}

static void malformed(void **state)
{
	static const char *const bad[] = { "seven\n", "-1\n", "+1\n", "7 8\n", "7x\n", "1234567890\n",
					   "0x10\n", "\x01\n" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		feed(bad[i], 1, false);
		assert_int_equal(ngot, 1);
		assert_int_equal(got[0], -1);
	}
	feed("7 8\n", 4, false);
	assert_string_equal(text[0], "78");
	feed("\x01\n", 1, false);
	assert_string_equal(text[0], "?");
	/* a long line is cut short for the warning, and still malformed */
	feed("11111111111111111111111111111111111111111111\n", 7, false);
	assert_int_equal(got[0], -1);
	assert_int_equal(strlen(text[0]), 31);
}

static void lines_and_ends(void **state)
{
	(void)state;
	/* empty and blank lines are nothing */
	feed("\n\n \r\n", 1, true);
	assert_int_equal(ngot, 0);
	/* a close ends a line; a close with nothing pending is nothing */
	feed("42", 1, true);
	assert_int_equal(ngot, 1);
	assert_int_equal(got[0], 42);
	feed("42\n", 1, true);
	assert_int_equal(ngot, 1);
	/* several lines: each is told, in order (the caller keeps the first) */
	feed("x\n3\n4\n", 2, false);
	assert_int_equal(ngot, 3);
	assert_int_equal(got[0], -1);
	assert_int_equal(got[1], 3);
	assert_int_equal(got[2], 4);
	/* a malformed line does not spoil the next */
	feed("oops\n5", 1, true);
	assert_int_equal(ngot, 2);
	assert_int_equal(got[1], 5);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(statuses),
		cmocka_unit_test(malformed),
		cmocka_unit_test(lines_and_ends),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
