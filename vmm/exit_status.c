/* Outcome -> process status: see exit.h. Pure, so it is unit-tested. */
#include "vmm/exit.h"

int kvmini_exit_status(int outcome, int guest_status, bool guest_status_mode)
{
	if (outcome == KVMINI_EXIT_EXPECTED)
		return 0;
	if (outcome == KVMINI_EXIT_GUEST) {
		if (guest_status < 0 || guest_status > KVMINI_EXIT_GUEST_MAX)
			return KVMINI_EXIT_GUEST_MAX;
		return guest_status;
	}
	if (!guest_status_mode)
		return outcome;
	/* kvmini's own outcomes, each its own code in 240..255 */
	switch (outcome) {
	case KVMINI_EXIT_POWEROFF:  return 240;   /* powered off without a status */
	case KVMINI_EXIT_ERROR:     return 242;
	case KVMINI_EXIT_REBOOT:    return 243;
	case KVMINI_EXIT_PANIC:     return 244;
	case KVMINI_EXIT_CRASH:     return 245;
	case KVMINI_EXIT_FAIL_ON:   return 246;
	case KVMINI_EXIT_IDLE:      return 247;
	case KVMINI_EXIT_NO_EXPECT: return 248;
	case KVMINI_EXIT_TIMEOUT:   return 249;
	case KVMINI_EXIT_SIGHUP:    return 250;
	case KVMINI_EXIT_SIGINT:    return 251;
	case KVMINI_EXIT_SIGTERM:   return 252;
	}
	return 242;
}
