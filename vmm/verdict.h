/* CI verdicts read off the guest console (every console: the UART and
 * virtio's hvc0 alike, since both write through console_write): --expect,
 * --fail-on, the boot marker, the time of the first byte and of the last
 * (for --idle-timeout), and --console-log. Lives for the whole process,
 * across --on-reboot restarts.
 *
 * Matching is on a sliding window of the most recent output (VERDICT_WINDOW
 * bytes), so a pattern may span several writes and several lines; NUL bytes
 * are seen as spaces, so binary noise does not end the text early. The
 * window is searched when a line ends, when enough new bytes came, and on
 * the main loop's tick, so a match costs no more than a few regexec calls
 * per line however the guest writes (the UART: a byte at a time). */
#ifndef KVMINI_VMM_VERDICT_H
#define KVMINI_VMM_VERDICT_H

#include <pthread.h>
#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/cli.h"

#define VERDICT_WINDOW 8192

/* What a match means. */
enum verdict_kind { VERDICT_EXPECT, VERDICT_FAIL_ON };

struct verdict {
	pthread_mutex_t lock;
	regex_t expect, boot_marker, fail_on[CLI_MAX_FAIL_ON];
	bool has_expect, has_boot_marker;
	int nfail_on;
	const char *fail_on_src[CLI_MAX_FAIL_ON];
	char win[VERDICT_WINDOW + 1];
	size_t len;                   /* bytes in win */
	size_t unchecked;             /* bytes added since the last search */
	size_t boot_from;             /* where to look for the boot marker (window offset) */
	uint64_t total;               /* bytes ever seen */
	int64_t start_ns, first_ns, boot_ns;   /* CLOCK_MONOTONIC; 0: not yet */
	int64_t last_ns;              /* last output (or start): --idle-timeout */
	int log_fd;                   /* --console-log, or -1 */
	/* A decision, once made: what and why. */
	bool decided;
	enum verdict_kind kind;
	char matched[128];            /* the pattern that matched */
	/* Told of a decision (the VM of the moment, set by verdict_bind). */
	void (*decide)(void *opaque, enum verdict_kind kind, const char *pattern);
	void *opaque;
};

/* Compiles the patterns and opens --console-log. 0, or -errno with one
 * line naming the option in err. */
int verdict_init(struct verdict *v, const struct vm_config *cfg, char *err, size_t errlen);
void verdict_destroy(struct verdict *v);

/* Guest console output (any thread). */
void verdict_feed(struct verdict *v, const uint8_t *buf, size_t len);
/* Searches what has not been searched yet (the main loop's tick). */
void verdict_poll(struct verdict *v);
/* Who to tell about a decision; NULL to stop telling (the VM is going). A
 * decision taken before binding is told at bind time. */
void verdict_bind(struct verdict *v,
		  void (*decide)(void *opaque, enum verdict_kind kind, const char *pattern),
		  void *opaque);
/* Seconds since the last console output (or since start). */
double verdict_idle_s(struct verdict *v);

/* For --result: seconds from start, or -1 if it never happened. */
double verdict_first_output_s(struct verdict *v);
double verdict_boot_marker_s(struct verdict *v);

int64_t verdict_now_ns(void);

#endif
