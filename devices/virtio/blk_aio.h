/* Asynchronous block I/O: one small interface (submit, kick, reap) over
 * three engines, so the virtio-blk device never knows which one runs:
 *
 *   io_uring  reads, writes, fdatasync and fallocate go to the kernel's
 *             io_uring; the rare cases it cannot do as one operation (an
 *             O_DIRECT request with unaligned guest buffers, write-zeroes on a
 *             file system that cannot zero a range) go to a helper thread.
 *   threads   a few worker threads doing blocking blk_file_* calls: where
 *             io_uring is missing or refused (old kernels, seccomp, the
 *             io_uring_disabled sysctl, user-mode emulation).
 *   sync      the request is done inside submit, on the caller's thread:
 *             the simplest path, and the baseline to measure the others by.
 *
 * One blk_aio serves one virtqueue and is driven by one thread at a time
 * (the device's queue lock). Completions arrive in any order; the caller
 * finds them with reap() when blk_aio_fd() becomes readable.
 *
 * Ordering: the engines promise nothing between requests in flight
 * together. FLUSH (fdatasync) covers every write that completed before it
 * was submitted -- which is what virtio-blk asks (§5.2.6: a flush makes the
 * writes the device has *completed* durable); a driver that needs a write
 * flushed waits for its completion before sending the flush. */
#ifndef KVMINI_DEVICES_VIRTIO_BLK_AIO_H
#define KVMINI_DEVICES_VIRTIO_BLK_AIO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio/blk_file.h"

enum blk_aio_kind {
	BLK_AIO_AUTO,       /* io_uring if the kernel allows it, else threads */
	BLK_AIO_IO_URING,
	BLK_AIO_THREADS,
	BLK_AIO_SYNC,
};

enum blk_aio_op {
	BLK_AIO_READ,
	BLK_AIO_WRITE,
	BLK_AIO_FLUSH,
	BLK_AIO_DISCARD,
	BLK_AIO_WRITE_ZEROES,         /* FALLOC_FL_ZERO_RANGE, or written zeroes */
	BLK_AIO_WRITE_ZEROES_UNMAP,   /* may punch a hole instead */
};

/* One operation. The caller owns the memory until the request comes back
 * from reap(); the engine may rewrite iov[] (to resume a short transfer). */
struct blk_aio_req {
	enum blk_aio_op op;
	struct iovec *iov;            /* READ / WRITE */
	int iovcnt;                   /* 0..IOV_MAX */
	uint64_t off, len;            /* bytes; len is the iovecs' total for READ / WRITE */
	int64_t result;               /* at completion: len, or -errno */
	void *opaque;                 /* the caller's */
	/* engine-private */
	uint64_t done;                /* bytes already transferred */
	struct blk_aio_req *next;
};

struct blk_aio_stats {
	uint64_t submitted, completed, errors;
	uint64_t punted;              /* io_uring: handed to the helper thread */
	uint64_t batches;             /* kicks that sent something */
};

struct blk_aio;

/* An engine over f for up to depth requests in flight (1..4096). AUTO
 * resolves to io_uring or threads; blk_aio_kind_of() says which. 0 or
 * -errno: -ENOSYS / -EPERM / -ENOMEM when io_uring is refused. */
int blk_aio_open(struct blk_aio **out, enum blk_aio_kind kind, struct blk_file *f,
		 unsigned depth);
/* Waits for every request in flight (their results are dropped), then
 * frees the engine. */
void blk_aio_close(struct blk_aio *a);

/* Queues r. 0, or -EAGAIN when depth requests are already in flight (r is
 * then untouched). The sync engine completes r before returning. */
int blk_aio_submit(struct blk_aio *a, struct blk_aio_req *r);
/* Sends what submit queued (one io_uring_enter for a batch). */
void blk_aio_kick(struct blk_aio *a);
/* Up to max completed requests into done[]; with wait, blocks until at
 * least one completes if any is in flight. Returns the count. */
int blk_aio_reap(struct blk_aio *a, struct blk_aio_req **done, int max, bool wait);
/* Readable (an eventfd) once completions wait to be reaped (sync: as soon
 * as submit returns), so a caller that stopped early (a bounded pass) is
 * woken to carry on. Reading it is the caller's job: it only wakes; reap
 * finds the requests, and may find them before the wake-up. */
int blk_aio_fd(const struct blk_aio *a);
unsigned blk_aio_inflight(const struct blk_aio *a);
enum blk_aio_kind blk_aio_kind_of(const struct blk_aio *a);
const struct blk_aio_stats *blk_aio_get_stats(const struct blk_aio *a);

/* "io_uring", "threads", "sync", "auto"; parse returns -EINVAL for others. */
const char *blk_aio_kind_name(enum blk_aio_kind k);
int blk_aio_parse_kind(const char *s, enum blk_aio_kind *k);

/* Does one operation on f right here, blocking: what the sync engine and
 * the workers run. Returns len or -errno. */
int64_t blk_aio_exec(struct blk_file *f, const struct blk_aio_req *r);

#endif
