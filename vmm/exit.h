/* kvmini's exit statuses: the contract with CI scripts (README's table).
 *
 * A run ends with one outcome (the first to be requested wins); the process
 * status is derived from it at the very end. By default the status IS the
 * outcome's code below. With --guest-status the guest's own status (written
 * to the kvmini.exit port of the virtio console) is passed through, so
 * kvmini's own outcomes move to a reserved range that a guest status never
 * takes: 0..239 are always the guest's, 240..255 always kvmini's. */
#ifndef KVMINI_VMM_EXIT_H
#define KVMINI_VMM_EXIT_H

#include <stdbool.h>

enum {
	KVMINI_EXIT_POWEROFF = 0,
	KVMINI_EXIT_ERROR = 2,       /* kvmini's own error: bad argument, host problem */
	KVMINI_EXIT_REBOOT = 3,
	KVMINI_EXIT_PANIC = 4,       /* the guest reported a panic (pvpanic) */
	KVMINI_EXIT_CRASH = 5,       /* triple fault, KVM internal error, failed entry */
	KVMINI_EXIT_FAIL_ON = 6,     /* the console showed a --fail-on pattern */
	KVMINI_EXIT_IDLE = 7,        /* no console output for --idle-timeout seconds */
	KVMINI_EXIT_NO_EXPECT = 8,   /* the guest stopped before --expect's pattern appeared */
	KVMINI_EXIT_TIMEOUT = 124,   /* as coreutils timeout(1) */
	KVMINI_EXIT_SIGHUP = 129,
	KVMINI_EXIT_SIGINT = 130,    /* also Ctrl-A x */
	KVMINI_EXIT_SIGTERM = 143,
	/* Outcomes that are not codes themselves. */
	KVMINI_EXIT_EXPECTED = 300,  /* --expect matched: success (status 0) */
	KVMINI_EXIT_GUEST = 301,     /* the guest reported its status (kvmini.exit port) */
};

/* --guest-status: kvmini's own outcomes start here. */
#define KVMINI_EXIT_RESERVED 240
/* The highest guest status passed through as itself; a guest that reports
 * more gets this (the exact value is in the --result file). */
#define KVMINI_EXIT_GUEST_MAX 239

/* The process status for an outcome. guest_status: what the guest reported
 * (used with KVMINI_EXIT_GUEST). */
int kvmini_exit_status(int outcome, int guest_status, bool guest_status_mode);

#endif
