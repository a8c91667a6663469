/* The guest side of kvmini-blkpath: what Linux's virtio_blk and
 * virtio_ring do, reduced to one request pattern. Feature negotiation as
 * Linux does it (the device's offer intersected with what the driver
 * knows), split rings in "guest RAM" (host memory registered with
 * guest_mem), one indirect table per request as Linux uses when
 * INDIRECT_DESC is negotiated, and EVENT_IDX suppression on both sides:
 *
 *   post     descriptors, then the avail ring entry, then avail->idx with a
 *            release store (virtio_wmb);
 *   kick     full fence (virtio_mb), then vring_need_event(avail_event) --
 *            the "ioeventfd" is an eventfd an iothread watches, or the call
 *            a vCPU makes without ioeventfd (--notify direct);
 *   reap     on each "interrupt" (an eventfd the fake transport writes,
 *            as KVM's irqfd is written): take used entries, repost, kick
 *            once, then used_event = last_used, fence, and look again
 *            (virtqueue_enable_cb) before sleeping.
 *
 * The device is another thread: every shared index goes through __atomic
 * loads and stores, and the ordering points are the ones Linux has. */
#define _GNU_SOURCE
#include "blkpath.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#define RAM_GPA     0x100000ull
#define PAGE        4096u
#define F_NEXT      1
#define F_WRITE     2
#define F_INDIRECT  4
#define AVAIL_F_NO_INTERRUPT 1
#define USED_F_NO_NOTIFY     1
/* Per slot: a 3-entry indirect table (48 bytes), the header at 64, the
 * status byte at 80. */
#define META        128u
#define META_HDR    64u
#define META_STATUS 80u

/* The transport features Linux's virtio_ring knows, and virtio_blk's
 * feature table (drivers/block/virtio_blk.c, 6.x). */
static const uint64_t linux_features =
	1ull << VIRTIO_F_RING_INDIRECT_DESC | 1ull << VIRTIO_F_RING_EVENT_IDX |
	1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_ACCESS_PLATFORM |
	1ull << VIRTIO_F_RING_PACKED |
	1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_SIZE_MAX |
	1ull << VIRTIO_BLK_F_GEOMETRY | 1ull << VIRTIO_BLK_F_RO |
	1ull << VIRTIO_BLK_F_BLK_SIZE | 1ull << VIRTIO_BLK_F_FLUSH |
	1ull << VIRTIO_BLK_F_TOPOLOGY | 1ull << VIRTIO_BLK_F_CONFIG_WCE |
	1ull << VIRTIO_BLK_F_MQ | 1ull << VIRTIO_BLK_F_DISCARD |
	1ull << VIRTIO_BLK_F_WRITE_ZEROES;

/* ---- little-endian guest memory (a modern device) ---- */

static void put16(uint8_t *p, uint16_t v) { v = htole16(v); memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { v = htole64(v); memcpy(p, &v, 8); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return le32toh(v); }

static uint16_t load16(const uint8_t *p, int order)
{
	return le16toh(__atomic_load_n((const uint16_t *)p, order));
}

static void store16(uint8_t *p, uint16_t v, int order)
{
	__atomic_store_n((uint16_t *)p, htole16(v), order);
}

static void put_desc(uint8_t *p, uint64_t gpa, uint32_t len, uint16_t flags, uint16_t next)
{
	put64(p, gpa);
	put32(p + 8, len);
	put16(p + 12, flags);
	put16(p + 14, next);
}

/* §2.7.10 (Linux's vring_need_event) */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

/* ---- the fake transport ---- */

/* Called by the device with its lock held, like a transport's irqfd
 * write. A config interrupt here can only mean NEEDS_RESET. */
static void bp_interrupt(struct virtio_dev *d, int qi, uint32_t bits)
{
	struct bp *b = d->transport_priv;
	uint64_t one = 1;

	if (qi >= 0 && qi < (int)b->o.queues) {
		b->q[qi].irqs++;
		if (write(b->q[qi].irq_fd, &one, sizeof(one)) < 0) {
			/* a saturated counter wakes the reader anyway */
		}
		return;
	}
	if (d->status & VIRTIO_STATUS_NEEDS_RESET) {
		atomic_store(&b->broken, true);
		atomic_store(&b->stop, true);
		for (unsigned i = 0; i < b->o.queues; i++)
			if (write(b->q[i].irq_fd, &one, sizeof(one)) < 0) {
			}
	}
}

static const struct virtio_transport_ops bp_tops = { .interrupt = bp_interrupt };

void bp_on_kick(struct io_watch *w)
{
	struct bp_queue *q = w->opaque;
	struct virtio_dev *d = &q->b->blk.vdev;
	uint64_t cnt;

	/* as vmm/virtio_kvm.c serves an ioeventfd */
	q->kick_calls++;
	if (read(w->fd, &cnt, sizeof(cnt)) > 0) {
		struct vq_poll_env env = iothread_poll_env(q->io);
		d->ops->queue_notify_poll(d, q->index, &env);
	}
}

void bp_on_done(struct io_watch *w)
{
	struct bp_queue *q = w->opaque;
	uint64_t cnt;

	/* as vmm/vdev_blk.c serves a queue's engine */
	q->done_calls++;
	if (read(w->fd, &cnt, sizeof(cnt)) < 0) {
		/* EAGAIN: an earlier pass took them; look anyway */
	}
	struct vq_poll_env env = iothread_poll_env(q->io);
	virtio_blk_queue_poll(&q->b->blk, q->index, &env);
}

/* ---- set-up ---- */

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

/* Rings, slot metadata and data buffers of one queue, page-aligned. */
static uint64_t queue_bytes(const struct bp_opts *o)
{
	return round_up(16ull * o->qsize, PAGE) + round_up(6 + 2ull * o->qsize, PAGE) +
	       round_up(6 + 8ull * o->qsize, PAGE) + round_up((uint64_t)META * o->qd, PAGE) +
	       round_up((uint64_t)o->bs * o->qd, PAGE);
}

static void layout_queue(struct bp *b, struct bp_queue *q, uint64_t gpa)
{
	const struct bp_opts *o = &b->o;
	uint8_t *base = b->ram + (gpa - RAM_GPA);
	uint64_t at = 0;

#define TAKE(field, len) do { q->field##_gpa = gpa + at; q->field = base + at; \
			      at += round_up(len, PAGE); } while (0)
	TAKE(desc, 16ull * o->qsize);
	TAKE(avail, 6 + 2ull * o->qsize);
	TAKE(used, 6 + 8ull * o->qsize);
	TAKE(meta, (uint64_t)META * o->qd);
	TAKE(data, (uint64_t)o->bs * o->qd);
#undef TAKE
}

static int negotiate(struct bp *b, char *err, size_t errlen)
{
	struct virtio_dev *d = &b->blk.vdev;
	const uint8_t base = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	uint64_t want = linux_features;
	uint8_t cfg[2];
	int r = 0;

	if (!b->o.event_idx)
		want &= ~(1ull << VIRTIO_F_RING_EVENT_IDX);
	if (!b->o.indirect)
		want &= ~(1ull << VIRTIO_F_RING_INDIRECT_DESC);
	want &= d->host_features;
	pthread_mutex_lock(&d->lock);
	virtio_set_status(d, 0);
	virtio_set_status(d, base);
	virtio_set_guest_features(d, 0, (uint32_t)want);
	virtio_set_guest_features(d, 1, (uint32_t)(want >> 32));
	virtio_set_status(d, base | VIRTIO_STATUS_FEATURES_OK);
	if (!(d->status & VIRTIO_STATUS_FEATURES_OK)) {
		snprintf(err, errlen, "the device refused features 0x%llx",
			 (unsigned long long)want);
		r = -EPROTO;
		goto out;
	}
	virtio_config_read(d, VIRTIO_BLK_CFG_NUM_QUEUES, cfg, 2);
	if (b->o.queues > 1 && (!(want >> VIRTIO_BLK_F_MQ & 1) ||
				(unsigned)(cfg[0] | cfg[1] << 8) < b->o.queues)) {
		snprintf(err, errlen, "the device has fewer than %u queues", b->o.queues);
		r = -EPROTO;
		goto out;
	}
	for (unsigned i = 0; i < b->o.queues; i++) {
		struct virtq *vq = &d->vq[i];
		vq->num = (uint16_t)b->o.qsize;
		vq->desc_gpa = b->q[i].desc_gpa;
		vq->avail_gpa = b->q[i].avail_gpa;
		vq->used_gpa = b->q[i].used_gpa;
		vq->ready = true;
	}
	virtio_set_status(d, base | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	if (d->status & VIRTIO_STATUS_NEEDS_RESET) {
		snprintf(err, errlen, "the device refused DRIVER_OK");
		r = -EPROTO;
	}
out:
	pthread_mutex_unlock(&d->lock);
	return r;
}

int bp_guest_setup(struct bp *b, char *err, size_t errlen)
{
	struct virtio_dev *d = &b->blk.vdev;
	uint64_t per_q = queue_bytes(&b->o);
	int r;

	b->ram_size = per_q * b->o.queues;
	b->ram = mmap(NULL, b->ram_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (b->ram == MAP_FAILED) {
		b->ram = NULL;
		snprintf(err, errlen, "cannot map %llu bytes of guest RAM: %s",
			 (unsigned long long)b->ram_size, strerror(errno));
		return -ENOMEM;
	}
	if ((r = gm_add_region(&b->gm, RAM_GPA, b->ram_size, b->ram))) {
		snprintf(err, errlen, "gm_add_region: %s", strerror(-r));
		return r;
	}
	for (unsigned i = 0; i < b->o.queues; i++) {
		struct bp_queue *q = &b->q[i];
		q->b = b;
		q->index = (uint16_t)i;
		q->rng = 0x9e3779b97f4a7c15ull * (i + 1);
		q->seq_off = b->span / b->o.queues * i / b->o.bs * b->o.bs;
		q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		q->irq_fd = eventfd(0, EFD_CLOEXEC);           /* the driver sleeps on it */
		if (q->kick_fd < 0 || q->irq_fd < 0) {
			snprintf(err, errlen, "eventfd: %s", strerror(errno));
			return -errno;
		}
		layout_queue(b, q, RAM_GPA + per_q * i);
	}
	d->tops = &bp_tops;
	d->transport_priv = b;
	d->legacy = false;
	return negotiate(b, err, errlen);
}

void bp_guest_teardown(struct bp *b)
{
	for (unsigned i = 0; i < b->o.queues; i++) {
		if (b->q[i].kick_fd > 0)
			close(b->q[i].kick_fd);
		if (b->q[i].irq_fd > 0)
			close(b->q[i].irq_fd);
	}
	if (b->ram)
		munmap(b->ram, b->ram_size);
	b->ram = NULL;
}

/* ---- the driver ---- */

static uint64_t next_offset(struct bp_queue *q)
{
	const struct bp *b = q->b;
	uint64_t blocks = b->span / b->o.bs, off;

	if (b->o.rw == BP_READ) {
		off = q->seq_off;
		q->seq_off = off + b->o.bs >= b->span ? 0 : off + b->o.bs;
		return off;
	}
	/* xorshift64*: cheap, and different on every queue */
	q->rng ^= q->rng >> 12;
	q->rng ^= q->rng << 25;
	q->rng ^= q->rng >> 27;
	return (q->rng * 0x2545f4914f6cdd1dull >> 11) % blocks * b->o.bs;
}

/* One request in slot s (header | data | status), published. */
static void post(struct bp_queue *q, uint16_t s)
{
	const struct bp_opts *o = &q->b->o;
	bool wr = o->rw == BP_RANDWRITE;
	uint8_t *m = q->meta + (size_t)META * s;
	uint64_t mg = q->meta_gpa + (uint64_t)META * s;
	uint64_t dg = q->data_gpa + (uint64_t)o->bs * s;
	uint16_t dflags = wr ? 0 : F_WRITE, head;

	put32(m + META_HDR, wr ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN);
	put32(m + META_HDR + 4, 0);
	put64(m + META_HDR + 8, next_offset(q) >> 9);
	m[META_STATUS] = 0xff;
	if (o->indirect) {
		head = s;
		put_desc(m, mg + META_HDR, 16, F_NEXT, 1);
		put_desc(m + 16, dg, o->bs, F_NEXT | dflags, 2);
		put_desc(m + 32, mg + META_STATUS, 1, F_WRITE, 0);
		put_desc(q->desc + 16u * head, mg, 48, F_INDIRECT, 0);
	} else {
		head = (uint16_t)(3 * s);
		put_desc(q->desc + 16u * head, mg + META_HDR, 16, F_NEXT, head + 1);
		put_desc(q->desc + 16u * (head + 1), dg, o->bs, F_NEXT | dflags, head + 2);
		put_desc(q->desc + 16u * (head + 2), mg + META_STATUS, 1, F_WRITE, 0);
	}
	put16(q->avail + 4 + 2u * (q->avail_idx & (o->qsize - 1)), head);
	q->avail_idx++;
	/* virtio_wmb: the chain and the ring entry before the index */
	store16(q->avail + 2, q->avail_idx, __ATOMIC_RELEASE);
	q->inflight++;
}

/* virtqueue_kick_prepare + notify */
static void kick(struct bp_queue *q)
{
	const struct bp_opts *o = &q->b->o;
	struct virtio_dev *d = &q->b->blk.vdev;
	uint16_t old = q->kicked_idx, new_idx = q->avail_idx;
	uint64_t one = 1;
	bool need;

	q->kicked_idx = new_idx;
	/* virtio_mb: the new index is visible before we read whether the
	 * device wants a kick, or both sides wait on each other. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (o->event_idx)
		need = need_event(load16(q->used + 4 + 8u * o->qsize, __ATOMIC_RELAXED), new_idx, old);
	else
		need = !(load16(q->used, __ATOMIC_RELAXED) & USED_F_NO_NOTIFY);
	if (!need)
		return;
	q->kicks++;
	if (o->notify_direct)
		d->ops->queue_notify(d, q->index);
	else if (write(q->kick_fd, &one, sizeof(one)) < 0) {
		/* saturated: the iothread is woken anyway */
	}
}

/* Takes every used entry (checking each answer), reposting its slot
 * unless stopping. Returns how many. */
static unsigned reap(struct bp_queue *q, bool repost)
{
	const struct bp_opts *o = &q->b->o;
	uint32_t want_len = (o->rw == BP_RANDWRITE ? 0 : o->bs) + 1;
	uint16_t used_idx = load16(q->used + 2, __ATOMIC_ACQUIRE);
	unsigned n = 0;

	while (q->last_used != used_idx) {
		const uint8_t *e = q->used + 4 + 8u * (q->last_used & (o->qsize - 1));
		uint32_t id = get32(e), len = get32(e + 4);
		uint32_t s = o->indirect ? id : id / 3;

		q->last_used++;
		n++;
		if (s >= o->qd || !q->inflight) {
			q->errors++;           /* an id we never posted */
			continue;
		}
		q->inflight--;
		q->completed++;
		if (len != want_len || q->meta[(size_t)META * s + META_STATUS] != VIRTIO_BLK_S_OK)
			q->errors++;
		if (repost) {
			q->ios++;
			post(q, (uint16_t)s);
		}
		if (q->last_used == used_idx)
			used_idx = load16(q->used + 2, __ATOMIC_ACQUIRE);
	}
	if (repost)
		atomic_store_explicit(&q->ios_live, q->ios, memory_order_relaxed);
	return n;
}

/* Interrupts on (virtqueue_enable_cb): true when nothing new arrived in the
 * meantime, so sleeping is safe. */
static bool enable_cb(struct bp_queue *q)
{
	const struct bp_opts *o = &q->b->o;

	if (o->event_idx)
		store16(q->avail + 4 + 2u * o->qsize, q->last_used, __ATOMIC_RELAXED);
	else
		store16(q->avail, 0, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return load16(q->used + 2, __ATOMIC_RELAXED) == q->last_used;
}

/* With EVENT_IDX the interrupt handler writes nothing (Linux leaves
 * used_event behind once an event fired); without, NO_INTERRUPT. */
static void disable_cb(struct bp_queue *q)
{
	if (!q->b->o.event_idx)
		store16(q->avail, AVAIL_F_NO_INTERRUPT, __ATOMIC_RELAXED);
}

void *bp_driver_main(void *arg)
{
	struct bp_queue *q = arg;
	struct bp *b = q->b;
	uint64_t cnt;

	for (uint16_t s = 0; s < b->o.qd; s++)
		post(q, s);
	kick(q);
	for (;;) {
		bool stopping = atomic_load_explicit(&b->stop, memory_order_relaxed);
		if (atomic_load_explicit(&b->broken, memory_order_relaxed))
			break;
		if (reap(q, !stopping) && !stopping)
			kick(q);
		if (!enable_cb(q)) {
			disable_cb(q);
			continue;
		}
		if (stopping && !q->inflight)
			break;
		if (read(q->irq_fd, &cnt, sizeof(cnt)) < 0 && errno != EINTR)
			break;
		q->wakeups++;
		disable_cb(q);
	}
	return NULL;
}
