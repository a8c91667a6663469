/* The exit-status contract (vmm/exit.h): by default each outcome is its own
 * code; with --guest-status the guest's 0..239 pass through and kvmini's own
 * outcomes take 240..255, each a different code, never one a guest can
 * give. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "vmm/exit.h"

static const int outcomes[] = {
	KVMINI_EXIT_POWEROFF, KVMINI_EXIT_ERROR, KVMINI_EXIT_REBOOT, KVMINI_EXIT_PANIC,
	KVMINI_EXIT_CRASH, KVMINI_EXIT_FAIL_ON, KVMINI_EXIT_IDLE, KVMINI_EXIT_NO_EXPECT,
	KVMINI_EXIT_TIMEOUT, KVMINI_EXIT_SIGHUP, KVMINI_EXIT_SIGINT, KVMINI_EXIT_SIGTERM,
};
#define N (int)(sizeof(outcomes) / sizeof(outcomes[0]))

static void default_mode(void **s)
{
	(void)s;
	for (int i = 0; i < N; i++)
		assert_int_equal(kvmini_exit_status(outcomes[i], -1, false), outcomes[i]);
	assert_int_equal(kvmini_exit_status(KVMINI_EXIT_EXPECTED, -1, false), 0);
	assert_int_equal(kvmini_exit_status(KVMINI_EXIT_FAIL_ON, -1, false), 6);
	assert_int_equal(kvmini_exit_status(KVMINI_EXIT_IDLE, -1, false), 7);
	assert_int_equal(kvmini_exit_status(KVMINI_EXIT_NO_EXPECT, -1, false), 8);
}

static void guest_mode(void **s)
{
	int seen[256] = { 0 };

	(void)s;
	for (int g = 0; g <= KVMINI_EXIT_GUEST_MAX; g++)
		assert_int_equal(kvmini_exit_status(KVMINI_EXIT_GUEST, g, true), g);
	assert_int_equal(kvmini_exit_status(KVMINI_EXIT_GUEST, 240, true), 239);
	assert_int_equal(kvmini_exit_status(KVMINI_EXIT_GUEST, 255, true), 239);
	assert_int_equal(kvmini_exit_status(KVMINI_EXIT_GUEST, -5, true), 239);
	assert_int_equal(kvmini_exit_status(KVMINI_EXIT_EXPECTED, -1, true), 0);
	for (int i = 0; i < N; i++) {
		int st = kvmini_exit_status(outcomes[i], -1, true);
		assert_in_range(st, KVMINI_EXIT_RESERVED, 255);
		assert_int_equal(seen[st], 0);          /* one code per outcome */
		seen[st] = 1;
	}
}

int main(void)
{
	const struct CMUnitTest t[] = { cmocka_unit_test(default_mode), cmocka_unit_test(guest_mode) };
	return cmocka_run_group_tests(t, NULL, NULL);
}
