/* Console verdicts (vmm/verdict.c): --expect and --fail-on patterns found
 * across writes, across lines and through binary noise; a failure wins over
 * an expectation met in the same text; the boot marker and first-output
 * times; --console-log; a decision taken before anyone listens is told at
 * bind time. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/verdict.h"

static int calls;
static enum verdict_kind got_kind;
static char got_pattern[128];

static void decide(void *opaque, enum verdict_kind kind, const char *pattern)
{
	(void)opaque;
	calls++;
	got_kind = kind;
	snprintf(got_pattern, sizeof(got_pattern), "%s", pattern);
}

static void setup(struct verdict *v, struct vm_config *cfg)
{
	char err[256] = "";
	calls = 0;
	got_pattern[0] = 0;
	if (verdict_init(v, cfg, err, sizeof(err)))
		fail_msg("verdict_init: %s", err);
	verdict_bind(v, decide, NULL);
}

static void feed(struct verdict *v, const char *s)
{
	verdict_feed(v, (const uint8_t *)s, strlen(s));
}

static void expect_split_across_writes(void **s)
{
	struct vm_config cfg = { .expect = "ALL TESTS PASSED" };
	struct verdict v;
	(void)s;
	setup(&v, &cfg);
	feed(&v, "booting...\nALL TES");
	verdict_poll(&v);
	assert_int_equal(calls, 0);
	feed(&v, "TS PAS");
	feed(&v, "SED");
	verdict_poll(&v);                 /* no newline yet: the tick finds it */
	assert_int_equal(calls, 1);
	assert_int_equal(got_kind, VERDICT_EXPECT);
	feed(&v, "\nALL TESTS PASSED\n");
	assert_int_equal(calls, 1);       /* one decision */
	verdict_destroy(&v);
}

static void across_lines_and_noise(void **s)
{
	struct vm_config cfg = { .expect = "step 1 ok\r?\nstep 2 ok" };
	struct verdict v;
	(void)s;
	setup(&v, &cfg);
	const uint8_t noise[] = { 0, 1, 2, 0xff, 0, 0x1b, '[', '0', 'm', 0 };
	verdict_feed(&v, noise, sizeof(noise));
	feed(&v, "step 1 ok\r\n");
	verdict_feed(&v, noise, sizeof(noise));  /* NULs do not end the text */
	assert_int_equal(calls, 0);
	feed(&v, "\nstep 1 ok\nstep 2 ok\n");
	assert_int_equal(calls, 1);
	verdict_destroy(&v);
}

static void fail_on_wins_and_names_pattern(void **s)
{
	struct vm_config cfg = { .expect = "done", .fail_on = { "Kernel panic", "BUG:|WARNING:" },
				 .nfail_on = 2 };
	struct verdict v;
	(void)s;
	setup(&v, &cfg);
	feed(&v, "[    1.0] WARNING: CPU: 0 PID: 1 at foo\ndone\n");
	assert_int_equal(calls, 1);
	assert_int_equal(got_kind, VERDICT_FAIL_ON);
	assert_string_equal(got_pattern, "BUG:|WARNING:");
	verdict_destroy(&v);
}

/* A pattern written a byte at a time (the UART) is found with the line. */
static void byte_at_a_time(void **s)
{
	struct vm_config cfg = { .fail_on = { "Oops" }, .nfail_on = 1 };
	struct verdict v;
	const char *t = "all fine\nOops: 0002 [#1] SMP\n";
	(void)s;
	setup(&v, &cfg);
	for (const char *p = t; *p; p++) {
		verdict_feed(&v, (const uint8_t *)p, 1);
		if (*p == 'O')
			assert_int_equal(calls, 0);
	}
	assert_int_equal(calls, 1);
	verdict_destroy(&v);
}

/* Far more output than the window: old text leaves it, new text matches. */
static void window_slides(void **s)
{
	struct vm_config cfg = { .expect = "MARK-[0-9]+-END" };
	struct verdict v;
	char line[100];
	(void)s;
	setup(&v, &cfg);
	for (int i = 0; i < 2000; i++) {
		snprintf(line, sizeof(line), "line %d of filler text\n", i);
		feed(&v, line);
	}
	assert_int_equal(calls, 0);
	char big[3 * VERDICT_WINDOW];
	memset(big, 'x', sizeof(big));
	memcpy(big + sizeof(big) - 20, "MARK-42-", 8);
	verdict_feed(&v, (const uint8_t *)big, sizeof(big) - 12);   /* ends "MARK-42-" */
	feed(&v, "END\n");
	assert_int_equal(calls, 1);
	assert_true(v.total > 2000 * 20);
	verdict_destroy(&v);
}

static void decided_before_bind_is_told_at_bind(void **s)
{
	struct vm_config cfg = { .expect = "ready" };
	struct verdict v;
	char err[64];
	(void)s;
	calls = 0;
	assert_int_equal(verdict_init(&v, &cfg, err, sizeof(err)), 0);
	feed(&v, "ready\n");
	assert_int_equal(calls, 0);
	verdict_bind(&v, decide, NULL);
	assert_int_equal(calls, 1);
	verdict_bind(&v, NULL, NULL);
	feed(&v, "ready\n");
	assert_int_equal(calls, 1);
	verdict_destroy(&v);
}

static void times_and_log(void **s)
{
	char path[] = "/tmp/kvmini-verdict-log-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	struct vm_config cfg = { .console_log = path };
	struct verdict v;
	(void)s;
	setup(&v, &cfg);
	assert_true(verdict_first_output_s(&v) < 0);
	assert_true(verdict_boot_marker_s(&v) < 0);
	usleep(20000);
	assert_true(verdict_idle_s(&v) >= 0.02);
	feed(&v, "Linux version 6.1\n");
	assert_true(verdict_first_output_s(&v) >= 0.02);
	assert_true(verdict_boot_marker_s(&v) < 0);
	assert_true(verdict_idle_s(&v) < 0.02);
	feed(&v, "KVMINI-GUEST-UP cpus=1\n");   /* the default marker */
	assert_true(verdict_boot_marker_s(&v) >= verdict_first_output_s(&v));
	verdict_destroy(&v);
	char buf[128] = "";
	fd = open(path, O_RDONLY);
	assert_int_equal(read(fd, buf, sizeof(buf) - 1), 41);
	close(fd);
	assert_string_equal(buf, "Linux version 6.1\nKVMINI-GUEST-UP cpus=1\n");
	unlink(path);
}

static void bad_inputs(void **s)
{
	struct verdict v;
	char err[256];
	(void)s;
	struct vm_config c1 = { .expect = "(" };
	assert_int_not_equal(verdict_init(&v, &c1, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "--expect"));
	verdict_destroy(&v);
	struct vm_config c2 = { .console_log = "/nonexistent-dir/x/log" };
	assert_int_not_equal(verdict_init(&v, &c2, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "--console-log"));
	verdict_destroy(&v);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(expect_split_across_writes),
		cmocka_unit_test(across_lines_and_noise),
		cmocka_unit_test(fail_on_wins_and_names_pattern),
		cmocka_unit_test(byte_at_a_time),
		cmocka_unit_test(window_slides),
		cmocka_unit_test(decided_before_bind_is_told_at_bind),
		cmocka_unit_test(times_and_log),
		cmocka_unit_test(bad_inputs),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
