/* Shared by the engines of blk_aio.c and blk_aio_uring.c; not for devices. */
#ifndef KVMINI_DEVICES_VIRTIO_BLK_AIO_INTERNAL_H
#define KVMINI_DEVICES_VIRTIO_BLK_AIO_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "virtio/blk_aio.h"

#define BLK_AIO_POOL_MAX 4

/* Worker threads doing blocking blk_file calls; completions go to a list
 * and wake efd. */
struct blk_aio_pool {
	struct blk_file *f;
	int efd;
	pthread_mutex_t lock;
	pthread_cond_t work_cv, done_cv;
	struct blk_aio_req *todo_head, *todo_tail, *done_head, *done_tail;
	pthread_t threads[BLK_AIO_POOL_MAX];
	int nthreads;
	bool stop;
	atomic_bool cancel;           /* abandon long write-zeroes (closing) */
};

struct blk_uring;

struct blk_aio {
	enum blk_aio_kind kind;
	struct blk_file *f;
	unsigned depth, inflight;
	int efd;
	struct blk_aio_stats stats;
	struct blk_aio_pool pool;     /* threads engine; io_uring's helper */
	bool pool_on;
	struct blk_aio_req *sync_head, *sync_tail;   /* sync: done, not yet reaped */
	struct blk_uring *uring;
};

int blk_aio_pool_start(struct blk_aio_pool *p, struct blk_file *f, int efd, int nthreads);
void blk_aio_pool_submit(struct blk_aio_pool *p, struct blk_aio_req *r);
int blk_aio_pool_reap(struct blk_aio_pool *p, struct blk_aio_req **done, int max, bool wait);
void blk_aio_pool_stop(struct blk_aio_pool *p);
int64_t blk_aio_exec_stoppable(struct blk_file *f, const struct blk_aio_req *r,
			       const atomic_bool *stop);

/* io_uring (blk_aio_uring.c): -ENOSYS when built without liburing. */
int blk_aio_uring_open(struct blk_aio *a);
void blk_aio_uring_submit(struct blk_aio *a, struct blk_aio_req *r);
void blk_aio_uring_kick(struct blk_aio *a);
int blk_aio_uring_reap(struct blk_aio *a, struct blk_aio_req **done, int max, bool wait);
void blk_aio_uring_close(struct blk_aio *a);

#endif
