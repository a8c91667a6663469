/* virtio-blk (virtio 1.2 §5.2): the device, its config space and its
 * queues. A request is popped, parsed (blk_req.c) and handed to the queue's
 * block engine at once, up to the queue's size in flight; completions are
 * reaped in batches, published together, and the driver interrupted once
 * per batch under EVENT_IDX rules. The device lock covers only ring and
 * slot bookkeeping, never the I/O itself (except with aio=sync, whose
 * point is doing the I/O right there).
 *
 * Reset with requests in flight: the reset (under the device lock) waits
 * for the engines to finish them and drops the results, so no guest memory
 * is written after the reset returns, and no used entry ever appears. */
#include "virtio/blk_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SECTOR_SHIFT 9
/* Requests taken from a queue per pass before letting others run: the
 * engine wakes the queue's fd for every one of them, so the pass resumes. */
#define POP_BUDGET 64
#define REAP_BATCH 64

static struct virtio_blk *to_blk(struct virtio_dev *d)
{
	return d->dev_priv;
}

static uint64_t capacity_sectors(const struct virtio_blk *b)
{
	return b->backend->size >> SECTOR_SHIFT;
}

/* ---- config space (§5.2.4) ---- */

/* Built on every read: a legacy device's byte order can change at each
 * reset (DESIGN.md), so nothing is cached in guest order. */
static void blk_config_read(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len)
{
	struct virtio_blk *b = to_blk(d);
	const struct blk_file *f = b->backend;
	uint8_t cfg[VIRTIO_BLK_CONFIG_SIZE] = { 0 };
	uint32_t lbs = f->block_size;
	/* Physical block: at least a host page, so the guest aligns its I/O to
	 * what the host page cache and file systems work in. */
	uint32_t pbs = lbs < 4096 ? 4096 : lbs;
	uint8_t exp = 0;

	while ((lbs << exp) < pbs)
		exp++;
	virtio_put64(d, cfg + VIRTIO_BLK_CFG_CAPACITY, capacity_sectors(b));
	/* Linux adds header and status to seg_max: keep the chain within the
	 * queue (§2.7.5.2), as QEMU does with seg-max-adjust. */
	virtio_put32(d, cfg + VIRTIO_BLK_CFG_SEG_MAX, VIRTIO_BLK_QUEUE_SIZE - 2);
	virtio_put32(d, cfg + VIRTIO_BLK_CFG_SIZE_MAX, VIRTIO_BLK_SIZE_MAX);
	virtio_put32(d, cfg + VIRTIO_BLK_CFG_BLK_SIZE, lbs);
	cfg[VIRTIO_BLK_CFG_PHYS_BLOCK_EXP] = exp;
	cfg[VIRTIO_BLK_CFG_ALIGN_OFFSET] = 0;
	virtio_put16(d, cfg + VIRTIO_BLK_CFG_MIN_IO_SIZE, (uint16_t)(pbs / lbs));
	virtio_put32(d, cfg + VIRTIO_BLK_CFG_OPT_IO_SIZE, 0);
	/* The truth (a volatile cache needing FLUSH); meaningful to the
	 * driver only with CONFIG_WCE, which we do not offer. */
	cfg[VIRTIO_BLK_CFG_WRITEBACK] = 1;
	virtio_put16(d, cfg + VIRTIO_BLK_CFG_NUM_QUEUES, d->num_queues);
	if (f->can_discard) {
		virtio_put32(d, cfg + VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, VIRTIO_BLK_MAX_DWZ_SECTORS);
		virtio_put32(d, cfg + VIRTIO_BLK_CFG_MAX_DISCARD_SEG, VIRTIO_BLK_MAX_DWZ_SEG);
		virtio_put32(d, cfg + VIRTIO_BLK_CFG_DISCARD_ALIGN, pbs >> SECTOR_SHIFT);
	}
	if (f->can_write_zeroes) {
		virtio_put32(d, cfg + VIRTIO_BLK_CFG_MAX_WZ_SECTORS, VIRTIO_BLK_MAX_DWZ_SECTORS);
		virtio_put32(d, cfg + VIRTIO_BLK_CFG_MAX_WZ_SEG, VIRTIO_BLK_MAX_DWZ_SEG);
		cfg[VIRTIO_BLK_CFG_WZ_MAY_UNMAP] = f->can_discard;
	}
	/* the core checked off + len <= config_size */
	memcpy(data, cfg + off, len);
}

/* Only writeback is writable, and only with CONFIG_WCE, not offered. */
static void blk_config_write(struct virtio_dev *d, uint32_t off, const uint8_t *data, uint32_t len)
{
}

/* ---- slots ---- */

static void free_slots(struct virtio_blk_queue *q)
{
	for (uint16_t i = 0; i < q->nslots; i++) {
		blk_req_release(&q->slots[i]);
		if (q->slots[i].iov_cap > BLK_INLINE_IOVS)
			free(q->slots[i].iov);
	}
	free(q->slots);
	q->slots = NULL;
	q->nslots = 0;
	q->free = NULL;
	q->busy = 0;
}

/* One slot per descriptor-ring entry: a queue can never have more
 * requests in flight than that. Sized by the driver's queue size. */
static int alloc_slots(struct virtio_blk_queue *q, uint16_t n)
{
	free_slots(q);
	q->slots = calloc(n, sizeof(*q->slots));
	if (!q->slots)
		return -ENOMEM;
	q->nslots = n;
	for (uint16_t i = n; i-- > 0;) {
		q->slots[i].q = q;
		q->slots[i].next_free = q->free;
		q->free = &q->slots[i];
	}
	return 0;
}

static struct blk_req *get_slot(struct virtio_blk_queue *q)
{
	struct blk_req *r = q->free;
	if (r) {
		q->free = r->next_free;
		q->busy++;
	}
	return r;
}

static void put_slot(struct virtio_blk_queue *q, struct blk_req *r)
{
	blk_req_release(r);
	r->next_free = q->free;
	q->free = r;
	q->busy--;
}

/* ---- the queues ---- */

static bool live(const struct virtio_dev *d)
{
	return (d->status & VIRTIO_STATUS_DRIVER_OK) && !(d->status & VIRTIO_STATUS_NEEDS_RESET);
}

/* Answers r: status byte, used element i of the batch. */
static void answer(struct virtio_blk_queue *q, struct blk_req *r, uint8_t status, uint16_t i)
{
	struct virtio_blk *b = q->blk;

	if (status == VIRTIO_BLK_S_IOERR)
		b->stats.ioerr++;
	else if (status == VIRTIO_BLK_S_UNSUPP)
		b->stats.unsupp++;
	*r->status = status;
	/* used length: the data written, and the status byte (§5.2.6) */
	uint32_t used = (status == VIRTIO_BLK_S_OK ? r->data_len : 0) + 1;
	virtq_fill_token(&b->vdev.vq[q->index], &r->tok, used, i);
	put_slot(q, r);
}

/* Is this engine result good enough to go on to the next segment? A
 * discard that cannot deallocate counts as done (§5.2.6.2: MAY). */
static bool segment_ok(const struct blk_req *r)
{
	int64_t res = r->aio.result;
	return res >= 0 || (r->type == VIRTIO_BLK_T_DISCARD && (res == -EOPNOTSUPP || res == -ENOSYS));
}

/* Everything the engine finished: answered and published in batches, one
 * interrupt decision per batch. With wait, everything in flight: each pass
 * waits for a completion until none is left (a snapshot's quiesce).
 * Returns how many it reaped (the poller's "found work"). */
static int complete_batches(struct virtio_blk_queue *q, bool wait)
{
	struct virtio_blk *b = q->blk;
	struct virtq *vq = &b->vdev.vq[q->index];
	struct blk_aio_req *done[REAP_BATCH];
	bool resubmitted = false;
	int n, total = 0;

	while ((n = blk_aio_reap(q->aio, done, REAP_BATCH, wait)) > 0) {
		uint16_t filled = 0;
		total += n;
		for (int i = 0; i < n; i++) {
			struct blk_req *r = (struct blk_req *)done[i];   /* aio is first */
			if (segment_ok(r) && blk_req_next_seg(b, r)) {
				if (blk_aio_submit(q->aio, &r->aio) == 0) {
					resubmitted = true;
					continue;
				}
				r->aio.result = -EIO;
			}
			answer(q, r, blk_req_finish(b, r), filled++);
		}
		if (filled) {
			virtq_flush(vq, filled);
			virtio_queue_notify_driver(&b->vdev, q->index);
		}
		if (wait && resubmitted) {   /* sent before we wait for them */
			blk_aio_kick(q->aio);
			resubmitted = false;
		}
	}
	if (resubmitted)
		blk_aio_kick(q->aio);
	return total;
}

static int complete_ready(struct virtio_blk_queue *q)
{
	return complete_batches(q, false);
}

/* Takes requests off the ring while there are slots (and budget), answers
 * the ones that need no I/O at once, and sends the rest to the engine in one
 * batch. Kicks are off while draining (§2.7.10) and the ring is looked at
 * again after turning them back on, so nothing added meanwhile is left for
 * a kick that will not come. While every slot is busy kicks stay off:
 * completions free slots and bring us back here. keep_off: a poller
 * (vq_poll.h) looks at the ring next, so kicks stay off when it is empty
 * too; the poller's last pass is an ordinary one. Returns the requests
 * taken. */
static unsigned pop_and_submit(struct virtio_blk_queue *q, bool keep_off)
{
	struct virtio_blk *b = q->blk;
	struct virtio_dev *d = &b->vdev;
	struct virtq *vq = &d->vq[q->index];
	unsigned budget = POP_BUDGET, sent = 0, taken = 0;
	uint16_t answered = 0;

	if (!live(d) || !vq->ready || !q->slots)
		return 0;
	virtq_enable_notify(vq, false);
	for (;;) {
		struct blk_req *r;
		int rc = 0;
		uint8_t st = VIRTIO_BLK_S_IOERR;

		while (budget && q->free && (rc = virtq_pop(vq, b->elem)) > 0) {
			r = get_slot(q);
			taken++;
			r->tok = virtq_token_of(b->elem);
			int p = blk_req_parse(b, r, b->elem, &st);
			if (p == BLK_PARSE_SUBMIT && blk_aio_submit(q->aio, &r->aio) == 0) {
				sent++;
				budget--;
				continue;
			}
			if (p < 0) {          /* framing error: dropped unanswered */
				put_slot(q, r);
				rc = -EINVAL;
				break;
			}
			answer(q, r, p == BLK_PARSE_DONE ? st : VIRTIO_BLK_S_IOERR, answered++);
			if (answered == REAP_BATCH) {
				virtq_flush(vq, answered);
				answered = 0;
			}
		}
		if (rc < 0) {
			b->stats.malformed++;
			virtio_set_needs_reset(d);
			break;
		}
		if (!q->free || !budget || keep_off)
			break;        /* completions (or the poller) resume us */
		virtq_enable_notify(vq, true);
		if (!virtq_has_work(vq))
			break;
		virtq_enable_notify(vq, false);
	}
	if (answered) {
		virtq_flush(vq, answered);
		virtio_queue_notify_driver(d, q->index);
	}
	if (sent)
		blk_aio_kick(q->aio);
	return taken;
}

/* One pass over queue qi: completions, new requests, completions again.
 * Returns how much work it found. */
static int serve(struct virtio_blk *b, uint16_t qi, bool keep_off)
{
	struct virtio_dev *d = &b->vdev;
	struct virtio_blk_queue *q = &b->q[qi];
	int n = complete_ready(q);

	if (!live(d))
		return n;
	n += (int)pop_and_submit(q, keep_off);
	n += complete_ready(q);       /* what finished at once (sync, errors) */
	return n;
}

static void blk_queue_notify(struct virtio_dev *d, uint16_t qi)
{
	struct virtio_blk *b = to_blk(d);

	if (qi >= d->num_queues)
		return;
	pthread_mutex_lock(&d->lock);
	serve(b, qi, false);
	pthread_mutex_unlock(&d->lock);
}

void virtio_blk_queue_complete(struct virtio_blk *b, uint16_t qi)
{
	struct virtio_dev *d = &b->vdev;

	if (qi >= d->num_queues)
		return;
	pthread_mutex_lock(&d->lock);
	serve(b, qi, false);
	pthread_mutex_unlock(&d->lock);
}

/* ---- polling (vq_poll.h) ---- */

/* Windows per call before the thread goes back to its other fds: a queue
 * that keeps finding work must not keep the thread's other queues waiting
 * longer than this many windows (each at most poll=). */
#define POLL_ROUNDS 64

/* One look for the poller, kicks left off: completions first (at QD1 the
 * driver's next request follows its completion), then the avail ring, a
 * cheap index compare unless it moved. The lock is only tried: a vCPU that
 * wants it (a reset, a register access) ends the polling instead of
 * waiting behind it. */
static int poll_look(void *arg)
{
	struct virtio_blk_queue *q = arg;
	struct virtio_dev *d = &q->blk->vdev;
	struct virtq *vq = &d->vq[q->index];
	int n;

	if (pthread_mutex_trylock(&d->lock))
		return -1;
	n = complete_ready(q);
	if (!live(d) || !vq->ready || !q->slots)
		n = -1;
	else if (q->free && virtq_has_work(vq))
		n += (int)pop_and_submit(q, true);
	pthread_mutex_unlock(&d->lock);
	return n < 0 ? -1 : n > 0;
}

void virtio_blk_queue_poll(struct virtio_blk *b, uint16_t qi, const struct vq_poll_env *env)
{
	struct virtio_dev *d = &b->vdev;
	struct virtio_blk_queue *q;
	int found;

	if (qi >= d->num_queues)
		return;
	q = &b->q[qi];
	if (!q->poll.max_ns) {
		virtio_blk_queue_complete(b, qi);
		return;
	}
	vq_poll_event(&q->poll, env);
	pthread_mutex_lock(&d->lock);
	found = serve(b, qi, true);
	pthread_mutex_unlock(&d->lock);
	for (int i = 0; found > 0 && i < POLL_ROUNDS; i++)
		if (vq_poll_run(&q->poll, env, poll_look, q) != VQ_POLL_FOUND)
			break;
	/* An ordinary pass last: it turns kicks back on and looks again, so a
	 * request made available as polling gave up is not left waiting for
	 * a kick that will not come. */
	pthread_mutex_lock(&d->lock);
	serve(b, qi, false);
	pthread_mutex_unlock(&d->lock);
}

static void blk_queue_notify_poll(struct virtio_dev *d, uint16_t qi, const struct vq_poll_env *env)
{
	virtio_blk_queue_poll(to_blk(d), qi, env);
}

void virtio_blk_poll_stats(const struct virtio_blk *b, struct vq_poll_stats *s)
{
	*s = (struct vq_poll_stats){ 0 };
	for (uint16_t i = 0; i < b->vdev.num_queues; i++) {
		const struct vq_poll_stats *p = &b->q[i].poll.stats;
		s->polls += p->polls;
		s->found += p->found;
		s->ns += p->ns;
		s->grows += p->grows;
		s->shrinks += p->shrinks;
	}
}

int virtio_blk_queue_fd(const struct virtio_blk *b, uint16_t qi)
{
	return qi < b->vdev.num_queues ? blk_aio_fd(b->q[qi].aio) : -1;
}

unsigned virtio_blk_inflight(struct virtio_blk *b, uint16_t qi)
{
	unsigned n;

	if (qi >= b->vdev.num_queues)
		return 0;
	pthread_mutex_lock(&b->vdev.lock);
	n = b->q[qi].busy;
	pthread_mutex_unlock(&b->vdev.lock);
	return n;
}

/* DRIVER_OK: a slot per ring entry of every queue the driver enabled. */
static int blk_activate(struct virtio_dev *d)
{
	struct virtio_blk *b = to_blk(d);

	for (uint16_t i = 0; i < d->num_queues; i++) {
		int r = d->vq[i].ready ? alloc_slots(&b->q[i], d->vq[i].num) : 0;
		if (r)
			return r;
	}
	return 0;
}

/* Requests in flight finish (their I/O may still be writing guest memory:
 * wait for it) and are dropped unanswered. */
static void drain(struct virtio_blk_queue *q)
{
	struct blk_aio_req *done[REAP_BATCH];
	int n;

	while (blk_aio_inflight(q->aio))
		if ((n = blk_aio_reap(q->aio, done, REAP_BATCH, true)) <= 0)
			break;
	/* and whatever was already reaped-ready */
	while ((n = blk_aio_reap(q->aio, done, REAP_BATCH, false)) > 0) {
	}
}

static void blk_reset(struct virtio_dev *d)
{
	struct virtio_blk *b = to_blk(d);

	for (uint16_t i = 0; i < d->num_queues; i++) {
		drain(&b->q[i]);
		free_slots(&b->q[i]);
	}
}

static const struct virtio_dev_ops blk_ops = {
	.name = "blk",
	.device_id = VIRTIO_ID_BLOCK,
	.num_queues = 1,
	.queue_max_size = VIRTIO_BLK_QUEUE_SIZE,
	.config_size = VIRTIO_BLK_CONFIG_SIZE,
	.config_read = blk_config_read,
	.config_write = blk_config_write,
	.activate = blk_activate,
	.reset = blk_reset,
	.queue_notify = blk_queue_notify,
	.queue_notify_poll = blk_queue_notify_poll,
};

int virtio_blk_init(struct virtio_blk *b, struct blk_file *backend,
		    const struct virtio_blk_opts *o, struct guest_mem *mem,
		    const struct virtio_platform *platform)
{
	uint64_t f = 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_RING_INDIRECT_DESC |
		     1ull << VIRTIO_F_RING_EVENT_IDX |
		     /* we take any framing (header split, data with status) */
		     1ull << VIRTIO_F_ANY_LAYOUT |
		     1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_SIZE_MAX |
		     1ull << VIRTIO_BLK_F_BLK_SIZE |
		     1ull << VIRTIO_BLK_F_FLUSH | 1ull << VIRTIO_BLK_F_TOPOLOGY;
	uint16_t nq = o && o->num_queues ? o->num_queues : 1;
	int r;

	memset(b, 0, sizeof(*b));
	if (!backend || !mem || nq > VIRTIO_BLK_MAX_QUEUES)
		return -EINVAL;
	b->backend = backend;
	if (o && o->serial)
		strncpy(b->serial, o->serial, VIRTIO_BLK_ID_BYTES);
	if (backend->readonly)
		f |= 1ull << VIRTIO_BLK_F_RO;
	if (backend->can_discard && !backend->readonly)
		f |= 1ull << VIRTIO_BLK_F_DISCARD;
	if (backend->can_write_zeroes && !backend->readonly)
		f |= 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	if (nq > 1)
		f |= 1ull << VIRTIO_BLK_F_MQ;
	virtio_dev_init(&b->vdev, &blk_ops, b, f, mem, platform);
	virtio_dev_set_num_queues(&b->vdev, nq);
	b->elem = virtq_elem_new(VIRTIO_BLK_QUEUE_SIZE);
	if (!b->elem) {
		virtio_blk_destroy(b);
		return -ENOMEM;
	}
	b->aio_kind = o ? o->aio : BLK_AIO_AUTO;
	for (uint16_t i = 0; i < nq; i++) {
		b->q[i] = (struct virtio_blk_queue){ .blk = b, .index = i };
		vq_poll_init(&b->q[i].poll, o ? (uint64_t)o->poll_us * 1000u : 0);
		r = blk_aio_open(&b->q[i].aio, b->aio_kind, backend, VIRTIO_BLK_QUEUE_SIZE);
		if (r) {
			virtio_blk_destroy(b);
			return r;
		}
		b->aio_kind = blk_aio_kind_of(b->q[i].aio);   /* AUTO resolved */
	}
	return 0;
}

void virtio_blk_destroy(struct virtio_blk *b)
{
	for (uint16_t i = 0; i < VIRTIO_BLK_MAX_QUEUES; i++) {
		if (!b->q[i].aio)
			continue;
		blk_aio_close(b->q[i].aio);   /* waits for what is in flight */
		b->q[i].aio = NULL;
		free_slots(&b->q[i]);
	}
	if (b->vdev.ops)
		virtio_dev_destroy(&b->vdev);
	free(b->elem);
	b->elem = NULL;
}

/* ---- snapshots ---- */

void virtio_blk_quiesce(struct virtio_blk *b)
{
	pthread_mutex_lock(&b->vdev.lock);
	for (uint16_t i = 0; i < b->vdev.num_queues; i++)
		if (b->q[i].aio)
			complete_batches(&b->q[i], true);
	pthread_mutex_unlock(&b->vdev.lock);
}
