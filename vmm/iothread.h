/* One I/O thread: an epoll loop that runs a callback when an fd becomes
 * readable (ioeventfds of virtqueues, later tap devices). Watches are
 * persistent objects: removing one never frees it, so a callback that is
 * already running cannot touch freed memory. */
#ifndef KVMINI_VMM_IOTHREAD_H
#define KVMINI_VMM_IOTHREAD_H

#include <pthread.h>

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
};

int iothread_start(struct iothread *t);
int iothread_add(struct iothread *t, struct io_watch *w);
void iothread_del(struct iothread *t, struct io_watch *w);
void iothread_stop(struct iothread *t);
/* Returns once the thread is parked: no callback runs until
 * iothread_resume. Watches stay armed; what became readable meanwhile is
 * served after the resume. No-ops on a thread that is not running. */
void iothread_pause(struct iothread *t);
void iothread_resume(struct iothread *t);

#endif
