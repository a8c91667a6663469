/* Block I/O engines: the interface, the sync engine and the thread pool
 * (which also backs io_uring's rare cases). See blk_aio.h. */
#define _GNU_SOURCE
#include "virtio/blk_aio.h"
#include "virtio/blk_aio_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/falloc.h>

/* Zeroes are written from one shared buffer, this big, when a file system
 * cannot zero a range; the worker looks for a stop request between chunks,
 * so closing never waits for more than one chunk of a huge write-zeroes. */
#define ZERO_CHUNK (1u << 20)
#define POOL_THREADS BLK_AIO_POOL_MAX
#define POOL_STACK (64u * 1024u)

static const char *const kind_names[] = {
	[BLK_AIO_AUTO] = "auto", [BLK_AIO_IO_URING] = "io_uring",
	[BLK_AIO_THREADS] = "threads", [BLK_AIO_SYNC] = "sync",
};

const char *blk_aio_kind_name(enum blk_aio_kind k)
{
	return (unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[k] : "?";
}

int blk_aio_parse_kind(const char *s, enum blk_aio_kind *k)
{
	for (unsigned i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++) {
		if (!strcmp(s, kind_names[i])) {
			*k = (enum blk_aio_kind)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- one operation, blocking ---- */

static int fallocate_retry(int fd, int mode, uint64_t off, uint64_t len)
{
	int r;
	do {
		r = fallocate(fd, mode, (off_t)off, (off_t)len);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

static bool not_supported(int r)
{
	return r == -EOPNOTSUPP || r == -ENOSYS || r == -ENOTTY || r == -ENODEV;
}

/* One page-aligned chunk of zeroes for the whole process, made on first use. */
static uint8_t *zeroes;
static pthread_once_t zeroes_once = PTHREAD_ONCE_INIT;

static void alloc_zeroes(void)
{
	void *p;
	if (!posix_memalign(&p, 65536, ZERO_CHUNK)) {
		memset(p, 0, ZERO_CHUNK);
		zeroes = p;
	}
}

/* Writes zeroes over [off, off+len) a chunk at a time, until done or *stop. */
static int64_t write_zero_chunks(struct blk_file *f, uint64_t off, uint64_t len,
				 const atomic_bool *stop)
{
	pthread_once(&zeroes_once, alloc_zeroes);
	if (!zeroes)
		return -ENOMEM;
	for (uint64_t done = 0; done < len;) {
		if (stop && atomic_load(stop))
			return -ECANCELED;
		size_t k = len - done < ZERO_CHUNK ? (size_t)(len - done) : ZERO_CHUNK;
		struct iovec v = { zeroes, k };
		ssize_t r = blk_file_pwritev(f, &v, 1, off + done);
		if (r < 0)
			return r;
		done += k;
	}
	return (int64_t)len;
}

int64_t blk_aio_exec_stoppable(struct blk_file *f, const struct blk_aio_req *r,
			       const atomic_bool *stop)
{
	int64_t n;
	int e;

	switch (r->op) {
	case BLK_AIO_READ:
		n = blk_file_preadv(f, r->iov, r->iovcnt, r->off);
		return n < 0 ? n : (int64_t)r->len;
	case BLK_AIO_WRITE:
		n = blk_file_pwritev(f, r->iov, r->iovcnt, r->off);
		return n < 0 ? n : (int64_t)r->len;
	case BLK_AIO_FLUSH:
		e = blk_file_flush(f);
		return e ? e : 0;
	case BLK_AIO_DISCARD:
		e = blk_file_discard(f, r->off, r->len);
		return e ? e : (int64_t)r->len;
	case BLK_AIO_WRITE_ZEROES:
	case BLK_AIO_WRITE_ZEROES_UNMAP:
		if (f->readonly)
			return -EROFS;
		if (r->off > f->size || r->len > f->size - r->off)
			return -EINVAL;
		e = -EOPNOTSUPP;
		if (r->op == BLK_AIO_WRITE_ZEROES_UNMAP && f->can_discard)
			e = fallocate_retry(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					    r->off, r->len);
		if (not_supported(e))
			e = fallocate_retry(f->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
					    r->off, r->len);
		if (not_supported(e))
			return write_zero_chunks(f, r->off, r->len, stop);
		return e ? e : (int64_t)r->len;
	}
	return -EINVAL;
}

int64_t blk_aio_exec(struct blk_file *f, const struct blk_aio_req *r)
{
	return blk_aio_exec_stoppable(f, r, NULL);
}

/* ---- the thread pool ---- */

static void list_push(struct blk_aio_req **head, struct blk_aio_req **tail,
		      struct blk_aio_req *r)
{
	r->next = NULL;
	if (*tail)
		(*tail)->next = r;
	else
		*head = r;
	*tail = r;
}

static struct blk_aio_req *list_pop(struct blk_aio_req **head, struct blk_aio_req **tail)
{
	struct blk_aio_req *r = *head;
	if (r) {
		*head = r->next;
		if (!*head)
			*tail = NULL;
	}
	return r;
}

static void signal_efd(int efd)
{
	uint64_t one = 1;
	if (efd >= 0 && write(efd, &one, sizeof(one)) < 0) {
		/* the counter is saturated: the reader wakes anyway */
	}
}

static void *pool_worker(void *arg)
{
	struct blk_aio_pool *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->todo_head && !p->stop)
			pthread_cond_wait(&p->work_cv, &p->lock);
		if (p->stop && !p->todo_head)
			break;
		struct blk_aio_req *r = list_pop(&p->todo_head, &p->todo_tail);
		pthread_mutex_unlock(&p->lock);
		r->result = blk_aio_exec_stoppable(p->f, r, &p->cancel);
		pthread_mutex_lock(&p->lock);
		/* Only a list that was empty needs the eventfd: the reaper
		 * takes what is there or wakes itself again (pool_reap). */
		bool first = !p->done_head;
		list_push(&p->done_head, &p->done_tail, r);
		pthread_cond_broadcast(&p->done_cv);
		if (first)
			signal_efd(p->efd);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int blk_aio_pool_start(struct blk_aio_pool *p, struct blk_file *f, int efd, int nthreads)
{
	pthread_attr_t attr;
	int r = 0;

	memset(p, 0, sizeof(*p));
	p->f = f;
	p->efd = efd;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work_cv, NULL);
	pthread_cond_init(&p->done_cv, NULL);
	if (nthreads > POOL_THREADS)
		nthreads = POOL_THREADS;
	/* The workers only call into the kernel: a small stack is plenty. */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, POOL_STACK > PTHREAD_STACK_MIN ? POOL_STACK : PTHREAD_STACK_MIN);
	for (int i = 0; i < nthreads; i++) {
		r = -pthread_create(&p->threads[i], &attr, pool_worker, p);
		if (r)
			break;
		p->nthreads++;
	}
	pthread_attr_destroy(&attr);
	if (r && !p->nthreads) {
		blk_aio_pool_stop(p);
		return r;
	}
	return 0;
}

void blk_aio_pool_submit(struct blk_aio_pool *p, struct blk_aio_req *r)
{
	pthread_mutex_lock(&p->lock);
	list_push(&p->todo_head, &p->todo_tail, r);
	pthread_cond_signal(&p->work_cv);
	pthread_mutex_unlock(&p->lock);
}

int blk_aio_pool_reap(struct blk_aio_pool *p, struct blk_aio_req **done, int max, bool wait)
{
	int n = 0;

	pthread_mutex_lock(&p->lock);
	while (wait && !p->done_head)
		pthread_cond_wait(&p->done_cv, &p->lock);
	while (n < max && p->done_head)
		done[n++] = list_pop(&p->done_head, &p->done_tail);
	if (p->done_head)             /* left some: stay readable for them */
		signal_efd(p->efd);
	pthread_mutex_unlock(&p->lock);
	return n;
}

void blk_aio_pool_stop(struct blk_aio_pool *p)
{
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->work_cv);
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	p->nthreads = 0;
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->work_cv);
	pthread_cond_destroy(&p->done_cv);
}

/* ---- the interface ---- */

static int open_threads(struct blk_aio *a)
{
	int n = a->depth < POOL_THREADS ? (int)a->depth : POOL_THREADS;
	int r = blk_aio_pool_start(&a->pool, a->f, a->efd, n);
	if (!r)
		a->pool_on = true;
	return r;
}

int blk_aio_open(struct blk_aio **out, enum blk_aio_kind kind, struct blk_file *f,
		 unsigned depth)
{
	struct blk_aio *a;
	int r;

	*out = NULL;
	if (!f || depth < 1 || depth > 4096)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->f = f;
	a->depth = depth;
	a->efd = -1;
	a->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->efd < 0) {
		r = -errno;
		free(a);
		return r;
	}
	switch (kind) {
	case BLK_AIO_SYNC:
		r = 0;
		break;
	case BLK_AIO_THREADS:
		r = open_threads(a);
		break;
	case BLK_AIO_IO_URING:
	case BLK_AIO_AUTO:
		r = blk_aio_uring_open(a);
		if (!r)
			kind = BLK_AIO_IO_URING;
		else if (kind == BLK_AIO_AUTO) {
			kind = BLK_AIO_THREADS;
			r = open_threads(a);
		}
		break;
	default:
		r = -EINVAL;
	}
	if (r) {
		if (a->efd >= 0)
			close(a->efd);
		free(a);
		return r;
	}
	a->kind = kind;
	*out = a;
	return 0;
}

int blk_aio_submit(struct blk_aio *a, struct blk_aio_req *r)
{
	if (a->inflight >= a->depth)
		return -EAGAIN;
	a->inflight++;
	a->stats.submitted++;
	r->done = 0;
	r->next = NULL;
	switch (a->kind) {
	case BLK_AIO_SYNC:
		r->result = blk_aio_exec(a->f, r);
		/* one eventfd write per batch, not per request (pool_worker) */
		if (!a->sync_head)
			signal_efd(a->efd);
		list_push(&a->sync_head, &a->sync_tail, r);
		return 0;
	case BLK_AIO_THREADS:
		blk_aio_pool_submit(&a->pool, r);
		return 0;
	case BLK_AIO_IO_URING:
		blk_aio_uring_submit(a, r);
		return 0;
	default:
		break;
	}
	a->inflight--;
	return -EINVAL;
}

void blk_aio_kick(struct blk_aio *a)
{
	if (a->kind == BLK_AIO_IO_URING)
		blk_aio_uring_kick(a);
}

int blk_aio_reap(struct blk_aio *a, struct blk_aio_req **done, int max, bool wait)
{
	int n = 0;

	if (max <= 0)
		return 0;
	wait = wait && a->inflight > 0;
	switch (a->kind) {
	case BLK_AIO_SYNC:
		while (n < max && a->sync_head)
			done[n++] = list_pop(&a->sync_head, &a->sync_tail);
		if (a->sync_head)
			signal_efd(a->efd);
		break;
	case BLK_AIO_THREADS:
		n = blk_aio_pool_reap(&a->pool, done, max, wait);
		break;
	case BLK_AIO_IO_URING:
		n = blk_aio_uring_reap(a, done, max, wait);
		break;
	default:
		break;
	}
	a->inflight -= (unsigned)n;
	a->stats.completed += (uint64_t)n;
	for (int i = 0; i < n; i++)
		if (done[i]->result < 0)
			a->stats.errors++;
	return n;
}

void blk_aio_close(struct blk_aio *a)
{
	struct blk_aio_req *done[64];

	if (!a)
		return;
	/* Stop a long write-zeroes at its next chunk; wait for the rest. */
	if (a->pool_on)
		atomic_store(&a->pool.cancel, true);
	while (a->inflight)
		if (blk_aio_reap(a, done, 64, true) == 0)
			break;
	if (a->kind == BLK_AIO_IO_URING)
		blk_aio_uring_close(a);
	if (a->pool_on)
		blk_aio_pool_stop(&a->pool);
	if (a->efd >= 0)
		close(a->efd);
	free(a);
}

int blk_aio_fd(const struct blk_aio *a)
{
	return a->efd;
}

unsigned blk_aio_inflight(const struct blk_aio *a)
{
	return a->inflight;
}

enum blk_aio_kind blk_aio_kind_of(const struct blk_aio *a)
{
	return a->kind;
}

const struct blk_aio_stats *blk_aio_get_stats(const struct blk_aio *a)
{
	return &a->stats;
}
