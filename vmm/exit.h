/* kvmini's exit statuses: the contract with CI scripts (README's table). */
#ifndef KVMINI_VMM_EXIT_H
#define KVMINI_VMM_EXIT_H

enum {
	KVMINI_EXIT_POWEROFF = 0,
	KVMINI_EXIT_ERROR = 2,       /* kvmini's own error: bad argument, host problem */
	KVMINI_EXIT_REBOOT = 3,
	KVMINI_EXIT_PANIC = 4,       /* the guest reported a panic (pvpanic) */
	KVMINI_EXIT_CRASH = 5,       /* triple fault, KVM internal error, failed entry */
	KVMINI_EXIT_TIMEOUT = 124,   /* as coreutils timeout(1) */
	KVMINI_EXIT_SIGHUP = 129,
	KVMINI_EXIT_SIGINT = 130,    /* also Ctrl-A x */
	KVMINI_EXIT_SIGTERM = 143,
};

#endif
