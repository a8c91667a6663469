/* One I/O thread: an epoll loop that runs a callback when an fd becomes
 * readable (ioeventfds of virtqueues, later tap devices). Watches are
 * persistent objects: removing one never frees it, so a callback that is
 * already running cannot touch freed memory. */
#ifndef KVMINI_VMM_IOTHREAD_H
#define KVMINI_VMM_IOTHREAD_H

#include <pthread.h>
#include <stdatomic.h>

#include "virtio/vq_poll.h"

struct io_watch {
	int fd;
	void (*cb)(struct io_watch *w);
	void *opaque;
	int active;
};

struct iothread {
	int epfd;
	int stop_efd;                 /* wakes the loop for a stop or a pause */
	pthread_t thread;
	int running;
	/* Pause (snapshots): the loop parks between callbacks until resumed. */
	pthread_mutex_t lock;
	pthread_cond_t cv;
	int stop_req, pause_req, parked;   /* under lock */
	/* stop_req || pause_req, for a poller to look at without the lock */
	atomic_bool yield_req;
};

/* kvmini's own threads (vCPUs, I/O threads) run device emulation with no
 * large locals (guest data lives in per-device buffers), so they get a
 * stack sized for that instead of glibc's 8 MiB default: 256 KiB, four
 * times that in sanitizer builds (whose frames are larger). Returns 0 or
 * an errno value, as pthread_create does. */
#ifdef KVMINI_SANITIZE
#define KVMINI_THREAD_STACK (1024u << 10)
#else
#define KVMINI_THREAD_STACK (256u << 10)
#endif
int kvmini_thread_create(pthread_t *t, void *(*fn)(void *), void *arg);

int iothread_start(struct iothread *t);
int iothread_add(struct iothread *t, struct io_watch *w);
void iothread_del(struct iothread *t, struct io_watch *w);
void iothread_stop(struct iothread *t);
/* Returns once the thread is parked: no callback runs until
 * iothread_resume. Watches stay armed; what became readable meanwhile is
 * served after the resume. No-ops on a thread that is not running. */
void iothread_pause(struct iothread *t);
void iothread_resume(struct iothread *t);
/* For a callback that polls (vq_poll.h) on thread t: it stops polling as
 * soon as the thread is asked to stop or pause, so neither waits for it. */
struct vq_poll_env iothread_poll_env(struct iothread *t);

#endif
