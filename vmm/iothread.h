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
	int stop_efd;
	pthread_t thread;
	int running;
};

int iothread_start(struct iothread *t);
int iothread_add(struct iothread *t, struct io_watch *w);
void iothread_del(struct iothread *t, struct io_watch *w);
void iothread_stop(struct iothread *t);

#endif
