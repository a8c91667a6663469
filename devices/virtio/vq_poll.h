/* Adaptive polling of a queue before sleeping (QEMU's poll-max-ns idea).
 *
 * A kick costs the guest a VM exit; a thread that looks at the ring for a
 * few microseconds after serving it, with kicks still switched off, finds
 * the next request without one. Polling burns host CPU, so the window
 * adapts to what the queue's gaps look like, as QEMU's aio loop does:
 * when a window ran out and the next event came after it but within
 * max_ns, a longer window would have caught it: double it (starting from
 * VQ_POLL_INITIAL_NS); when the next event came after max_ns, polling was
 * wasted: halve it (down to 0, then only a gap within max_ns starts it
 * again). A window that found work stays as it is. The first window is
 * VQ_POLL_INITIAL_NS (or max_ns, if shorter).
 *
 * No threads and no clock of its own here: the caller gives a "look once"
 * function, the polling thread's stop test and (for tests) a clock. */
#ifndef KVMINI_DEVICES_VQ_POLL_H
#define KVMINI_DEVICES_VQ_POLL_H

#include <stdbool.h>
#include <stdint.h>

#define VQ_POLL_INITIAL_NS 4000u

/* What polling cost and found; read once the polling thread has stopped. */
struct vq_poll_stats {
	uint64_t polls;               /* windows polled (window > 0) */
	uint64_t found;               /* ... of which found work */
	uint64_t ns;                  /* time spent in them */
	uint64_t grows, shrinks;      /* window adjustments */
};

struct vq_poll {
	uint64_t max_ns;              /* 0: never poll */
	uint64_t window_ns;           /* current window, 0..max_ns */
	uint64_t idle_since;          /* the last window ran out; started then */
	bool idle;                    /* ... and no event has come since */
	struct vq_poll_stats stats;
};

/* The polling thread's side, from the host. */
struct vq_poll_env {
	/* true: the thread must stop, pause or do other work now */
	bool (*should_stop)(void *opaque);
	/* monotonic nanoseconds; NULL: CLOCK_MONOTONIC */
	uint64_t (*now_ns)(void *opaque);
	/* the CPU's spin-wait hint between looks; NULL: none */
	void (*relax)(void *opaque);
	void *opaque;
};

enum vq_poll_result {
	VQ_POLL_FOUND,                /* look() did some work */
	VQ_POLL_TIMEOUT,              /* the window ran out */
	VQ_POLL_STOPPED,              /* should_stop, or look() said stop */
};

void vq_poll_init(struct vq_poll *p, uint64_t max_ns);
uint64_t vq_poll_now(const struct vq_poll_env *env);
/* An event woke the thread without polling (a kick, a completion): adapt
 * the window from how long after the last window began it came. */
void vq_poll_event(struct vq_poll *p, const struct vq_poll_env *env);
/* Polls: calls look(arg) until it returns > 0 (found work, done it),
 * < 0 (stop: the queue went away, its lock is wanted elsewhere), the
 * window runs out or env says stop. Never blocks; a window of 0 returns
 * VQ_POLL_TIMEOUT at once, without looking. */
enum vq_poll_result vq_poll_run(struct vq_poll *p, const struct vq_poll_env *env,
				int (*look)(void *arg), void *arg);

#endif
