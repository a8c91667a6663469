/* The io_uring engine (blk_aio.h). Reads and writes go to the ring as
 * readv/writev, FLUSH as fdatasync, DISCARD and WRITE_ZEROES as fallocate;
 * a short transfer is resubmitted for the rest. Two cases go to one helper
 * thread instead (blk_aio.c's pool): O_DIRECT requests whose guest buffers
 * are not aligned (they need a bounce buffer), and write-zeroes on a file
 * system that cannot zero a range (zeroes must be written). Both the ring
 * and the helper wake the same eventfd. */
#define _GNU_SOURCE
#include "virtio/blk_aio_internal.h"

#include <errno.h>
#include <stdlib.h>

#ifdef KVMINI_HAVE_LIBURING

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <liburing.h>

struct blk_uring {
	struct io_uring ring;
	unsigned queued;              /* SQEs prepared since the last submit */
};

int blk_aio_uring_open(struct blk_aio *a)
{
	struct blk_uring *u = calloc(1, sizeof(*u));
	unsigned entries = 1;
	int r;

	if (!u)
		return -ENOMEM;
	while (entries < a->depth)
		entries <<= 1;
	/* COOP_TASKRUN (Linux 5.19): a completion does not interrupt the
	 * submitting thread with an IPI while it runs; it is handed over at
	 * that thread's next system call -- for the iothread, its next
	 * epoll_wait or io_uring_enter. A sleeping thread is still woken.
	 * TASKRUN_FLAG tells liburing's peek when completions wait for
	 * that. Older kernels refuse both: do without. */
	r = io_uring_queue_init(entries, &u->ring,
				IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG);
	if (r == -EINVAL)
		r = io_uring_queue_init(entries, &u->ring, 0);
	if (r) {
		free(u);
		return r;
	}
	r = io_uring_register_eventfd(&u->ring, a->efd);
	if (r) {
		io_uring_queue_exit(&u->ring);
		free(u);
		return r;
	}
	/* The helper thread for what one ring operation cannot do starts
	 * now, with the engine: whoever later drives the queue (an I/O
	 * thread under its seccomp filter) never has to create a thread. */
	r = blk_aio_pool_start(&a->pool, a->f, a->efd, 1);
	if (r) {
		io_uring_queue_exit(&u->ring);
		free(u);
		return r;
	}
	a->pool_on = true;
	a->uring = u;
	return 0;
}

void blk_aio_uring_close(struct blk_aio *a)
{
	if (!a->uring)
		return;
	io_uring_queue_exit(&a->uring->ring);
	free(a->uring);
	a->uring = NULL;
}

static void complete_now(struct blk_aio *a, struct blk_aio_req *r, int64_t result)
{
	r->result = result;
	r->next = NULL;
	if (a->sync_tail)
		a->sync_tail->next = r;
	else
		a->sync_head = r;
	a->sync_tail = r;
}

static int punt(struct blk_aio *a, struct blk_aio_req *r)
{
	if (!a->pool_on)
		return -ENOSYS;
	a->stats.punted++;
	r->done = 0;
	blk_aio_pool_submit(&a->pool, r);
	return 0;
}

static struct io_uring_sqe *get_sqe(struct blk_aio *a)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&a->uring->ring);

	if (!sqe) {
		/* The ring is as deep as the engine: only unsubmitted retries
		 * can fill it. Send them and try again. */
		blk_aio_uring_kick(a);
		sqe = io_uring_get_sqe(&a->uring->ring);
	}
	return sqe;
}

static bool buffers_aligned(const struct blk_file *f, const struct blk_aio_req *r)
{
	uintptr_t mask = f->mem_align - 1;
	for (int i = 0; i < r->iovcnt; i++)
		if (((uintptr_t)r->iov[i].iov_base | r->iov[i].iov_len) & mask)
			return false;
	return true;
}

/* Prepares r (again, for a retry) on the ring. 0, or -errno to complete it
 * with at once. */
static int prep(struct blk_aio *a, struct blk_aio_req *r)
{
	struct blk_file *f = a->f;
	struct io_uring_sqe *sqe;
	int mode;

	if (!(sqe = get_sqe(a)))
		return -EBUSY;
	switch (r->op) {
	case BLK_AIO_READ:
		io_uring_prep_readv(sqe, f->fd, r->iov, (unsigned)r->iovcnt, r->off + r->done);
		break;
	case BLK_AIO_WRITE:
		io_uring_prep_writev(sqe, f->fd, r->iov, (unsigned)r->iovcnt, r->off + r->done);
		break;
	case BLK_AIO_FLUSH:
		io_uring_prep_fsync(sqe, f->fd, IORING_FSYNC_DATASYNC);
		break;
	case BLK_AIO_DISCARD:
		io_uring_prep_fallocate(sqe, f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					r->off, r->len);
		break;
	case BLK_AIO_WRITE_ZEROES:
	case BLK_AIO_WRITE_ZEROES_UNMAP:
		mode = r->op == BLK_AIO_WRITE_ZEROES_UNMAP && f->can_discard
			       ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE;
		io_uring_prep_fallocate(sqe, f->fd, mode | FALLOC_FL_KEEP_SIZE, r->off, r->len);
		break;
	}
	io_uring_sqe_set_data(sqe, r);
	a->uring->queued++;
	return 0;
}

/* The checks blk_file does for the other engines, before the kernel sees
 * the request: a request outside the disk or a write to a read-only one
 * never reaches the file. 0 or -errno. */
static int refuse(const struct blk_file *f, const struct blk_aio_req *r)
{
	bool write = r->op != BLK_AIO_READ && r->op != BLK_AIO_FLUSH;

	if (write && f->readonly)
		return -EROFS;
	if (r->op == BLK_AIO_FLUSH)
		return 0;
	if (r->off > f->size || r->len > f->size - r->off)
		return -EINVAL;
	if ((r->op == BLK_AIO_READ || r->op == BLK_AIO_WRITE) &&
	    (r->iovcnt < 0 || r->iovcnt > IOV_MAX))
		return -EINVAL;
	return 0;
}

void blk_aio_uring_submit(struct blk_aio *a, struct blk_aio_req *r)
{
	int e = refuse(a->f, r);

	if (e) {
		complete_now(a, r, e);
		return;
	}
	/* Nothing to do: a flush of a read-only disk (nothing of ours can be
	 * dirty), or an empty transfer. */
	if (r->op == BLK_AIO_FLUSH ? a->f->readonly : r->len == 0) {
		complete_now(a, r, r->op == BLK_AIO_FLUSH ? 0 : (int64_t)r->len);
		return;
	}
	if ((r->op == BLK_AIO_READ || r->op == BLK_AIO_WRITE) && a->f->direct &&
	    !buffers_aligned(a->f, r))
		e = punt(a, r);
	else
		e = prep(a, r);
	if (e)
		complete_now(a, r, e);
}

void blk_aio_uring_kick(struct blk_aio *a)
{
	struct blk_uring *u = a->uring;
	int r;

	if (!u->queued)
		return;
	do {
		r = io_uring_submit(&u->ring);
	} while (r == -EINTR || r == -EAGAIN);
	if (r > 0) {
		a->stats.batches++;
		u->queued -= (unsigned)r < u->queued ? (unsigned)r : u->queued;
	}
}

/* Skips n transferred bytes in r's iovecs, for the resubmit of a short
 * transfer. */
static void advance(struct blk_aio_req *r, uint64_t n)
{
	while (n && r->iovcnt) {
		if (n < r->iov[0].iov_len) {
			r->iov[0].iov_base = (char *)r->iov[0].iov_base + n;
			r->iov[0].iov_len -= n;
			return;
		}
		n -= r->iov[0].iov_len;
		r->iov++;
		r->iovcnt--;
	}
}

static bool not_supported(int r)
{
	return r == -EOPNOTSUPP || r == -ENOSYS || r == -ENOTTY || r == -ENODEV;
}

/* One CQE: true when r is finished (result set), false when it went back to
 * the ring or to the helper. */
static bool on_cqe(struct blk_aio *a, struct blk_aio_req *r, int res)
{
	if (res == -EINTR || res == -EAGAIN) {
		if (!prep(a, r))
			return false;
		r->result = -EIO;
		return true;
	}
	switch (r->op) {
	case BLK_AIO_READ:
	case BLK_AIO_WRITE:
		if (res < 0) {
			r->result = res;
			return true;
		}
		if (res == 0) {                   /* end of file inside the disk */
			r->result = -EIO;
			return true;
		}
		r->done += (uint64_t)res;
		if (r->done >= r->len) {
			r->result = (int64_t)r->len;
			return true;
		}
		advance(r, (uint64_t)res);
		if (!prep(a, r))
			return false;
		r->result = -EIO;
		return true;
	case BLK_AIO_WRITE_ZEROES:
	case BLK_AIO_WRITE_ZEROES_UNMAP:
		/* No way to zero a range here: zeroes are written, by the helper
		 * thread, which tries every fallocate mode first. */
		if (not_supported(res) && !punt(a, r))
			return false;
		break;
	default:
		break;
	}
	r->result = res < 0 ? res : (int64_t)r->len;
	return true;
}

static int collect(struct blk_aio *a, struct blk_aio_req **done, int max)
{
	struct io_uring *ring = &a->uring->ring;
	struct io_uring_cqe *cqe;
	int n = 0;

	while (n < max && a->sync_head) {
		done[n++] = a->sync_head;
		a->sync_head = a->sync_head->next;
		if (!a->sync_head)
			a->sync_tail = NULL;
	}
	while (n < max && io_uring_peek_cqe(ring, &cqe) == 0) {
		struct blk_aio_req *r = io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		io_uring_cqe_seen(ring, cqe);
		if (on_cqe(a, r, res))
			done[n++] = r;
	}
	if (n < max && a->pool_on)
		n += blk_aio_pool_reap(&a->pool, done + n, max - n, false);
	blk_aio_uring_kick(a);        /* retries prepared above */
	return n;
}

int blk_aio_uring_reap(struct blk_aio *a, struct blk_aio_req **done, int max, bool wait)
{
	int n = collect(a, done, max);

	while (wait && n == 0) {
		struct pollfd p = { .fd = a->efd, .events = POLLIN };
		uint64_t cnt;
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			break;
		if (read(a->efd, &cnt, sizeof(cnt)) < 0) {
			/* EAGAIN: woken for nothing; look again */
		}
		n = collect(a, done, max);
	}
	return n;
}

#else   /* built without liburing */

int blk_aio_uring_open(struct blk_aio *a)
{
	(void)a;
	return -ENOSYS;
}

void blk_aio_uring_submit(struct blk_aio *a, struct blk_aio_req *r)
{
	(void)a;
	r->result = -ENOSYS;
}

void blk_aio_uring_kick(struct blk_aio *a)
{
	(void)a;
}

int blk_aio_uring_reap(struct blk_aio *a, struct blk_aio_req **done, int max, bool wait)
{
	(void)a, (void)done, (void)max, (void)wait;
	return 0;
}

void blk_aio_uring_close(struct blk_aio *a)
{
	(void)a;
}

#endif
