#include "vmm/iothread.h"
#include "vmm/seccomp.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void *iothread_main(void *arg)
{
	struct iothread *t = arg;

	if (seccomp_enter(SECCOMP_IO)) {
		/* The main thread's filter, inherited, still holds. */
		perror("kvmini: I/O thread seccomp filter");
	}

	for (;;) {
		struct epoll_event ev[16];
		int n = epoll_wait(t->epfd, ev, 16, -1);
		for (int i = 0; i < n; i++) {
			struct io_watch *w = ev[i].data.ptr;
			if (!w)
				return NULL;        /* the stop eventfd */
			if (w->active)
				w->cb(w);
		}
	}
}

int iothread_start(struct iothread *t)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = NULL };

	t->running = 0;
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	t->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->epfd < 0 || t->stop_efd < 0 ||
	    epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->stop_efd, &e) < 0)
		return -errno;
	int r = pthread_create(&t->thread, NULL, iothread_main, t);
	if (r)
		return -r;
	t->running = 1;
	return 0;
}

int iothread_add(struct iothread *t, struct io_watch *w)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = w };

	if (w->active)
		return 0;
	w->active = 1;
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, w->fd, &e) < 0) {
		w->active = 0;
		return -errno;
	}
	return 0;
}

void iothread_del(struct iothread *t, struct io_watch *w)
{
	if (!w->active)
		return;
	w->active = 0;
	epoll_ctl(t->epfd, EPOLL_CTL_DEL, w->fd, NULL);
}

void iothread_stop(struct iothread *t)
{
	uint64_t one = 1;

	if (t->running) {
		if (write(t->stop_efd, &one, sizeof(one)) == sizeof(one))
			pthread_join(t->thread, NULL);
		t->running = 0;
	}
	if (t->epfd >= 0)
		close(t->epfd);
	if (t->stop_efd >= 0)
		close(t->stop_efd);
	t->epfd = t->stop_efd = -1;
}
