#include "vmm/iothread.h"
#include "vmm/seccomp.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* The stop eventfd fired: 1 to end the thread; else a pause is parked
 * out (iothread_pause waits for parked). */
static int control(struct iothread *t)
{
	uint64_t cnt;
	int stop;

	if (read(t->stop_efd, &cnt, sizeof(cnt)) < 0) {
		/* EAGAIN: another wake-up took the count; the flags tell */
	}
	pthread_mutex_lock(&t->lock);
	while (t->pause_req && !t->stop_req) {
		t->parked = 1;
		pthread_cond_broadcast(&t->cv);
		pthread_cond_wait(&t->cv, &t->lock);
	}
	t->parked = 0;
	stop = t->stop_req;
	pthread_mutex_unlock(&t->lock);
	return stop;
}

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
			if (!w) {                   /* the stop eventfd: stop or pause */
				if (control(t))
					return NULL;
				continue;
			}
			if (w->active)
				w->cb(w);
		}
	}
}

int kvmini_thread_create(pthread_t *t, void *(*fn)(void *), void *arg)
{
	pthread_attr_t a;
	int r = pthread_attr_init(&a);

	if (r)
		return r;
	r = pthread_attr_setstacksize(&a, KVMINI_THREAD_STACK);
	if (!r)
		r = pthread_create(t, &a, fn, arg);
	pthread_attr_destroy(&a);
	return r;
}

int iothread_start(struct iothread *t)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = NULL };

	t->running = 0;
	t->stop_req = t->pause_req = t->parked = 0;
	atomic_store(&t->yield_req, false);
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cv, NULL);
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	t->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->epfd < 0 || t->stop_efd < 0 ||
	    epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->stop_efd, &e) < 0)
		return -errno;
	int r = kvmini_thread_create(&t->thread, iothread_main, t);
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
		pthread_mutex_lock(&t->lock);
		t->stop_req = 1;
		atomic_store(&t->yield_req, true);
		pthread_cond_broadcast(&t->cv);
		pthread_mutex_unlock(&t->lock);
		if (write(t->stop_efd, &one, sizeof(one)) == sizeof(one))
			pthread_join(t->thread, NULL);
		t->running = 0;
		pthread_mutex_destroy(&t->lock);
		pthread_cond_destroy(&t->cv);
	}
	if (t->epfd >= 0)
		close(t->epfd);
	if (t->stop_efd >= 0)
		close(t->stop_efd);
	t->epfd = t->stop_efd = -1;
}

void iothread_pause(struct iothread *t)
{
	uint64_t one = 1;

	if (!t->running)
		return;
	pthread_mutex_lock(&t->lock);
	t->pause_req = 1;
	atomic_store(&t->yield_req, true);
	if (write(t->stop_efd, &one, sizeof(one)) < 0) {
		/* a full counter is a pending wake-up all the same */
	}
	while (!t->parked)
		pthread_cond_wait(&t->cv, &t->lock);
	pthread_mutex_unlock(&t->lock);
}

void iothread_resume(struct iothread *t)
{
	if (!t->running)
		return;
	pthread_mutex_lock(&t->lock);
	t->pause_req = 0;
	atomic_store(&t->yield_req, t->stop_req != 0);
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->lock);
}

static bool yield_requested(void *opaque)
{
	struct iothread *t = opaque;

	return atomic_load_explicit(&t->yield_req, memory_order_relaxed);
}

/* The CPU's spin-wait hint: lets a sibling hyperthread run and saves power
 * while a poller spins on memory the guest writes. The host CPU is the
 * VMM's business, not the devices' (DESIGN.md: devices know no target). */
static void cpu_relax(void *opaque)
{
	(void)opaque;
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

struct vq_poll_env iothread_poll_env(struct iothread *t)
{
	return (struct vq_poll_env){ .should_stop = yield_requested, .relax = cpu_relax, .opaque = t };
}
