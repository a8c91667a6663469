/* Virtqueue dispatch: one interface over the ring layouts (DESIGN.md,
 * "Virtqueues"). Each public function switches on q->layout and calls
 * through a const table with a constant index, which the compiler turns into
 * a direct call: no indirect branch on the hot path. */
#include "virtio/virtq.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/virtio.h"

struct virtq_ops {
	int (*pop)(struct virtq *q, struct virtq_elem *e);
	void (*fill)(struct virtq *q, const struct virtq_token *t, uint32_t len, uint16_t i);
	void (*flush)(struct virtq *q, uint16_t count);
	bool (*should_notify)(struct virtq *q);
	void (*enable_notify)(struct virtq *q, bool enable);
	bool (*has_work)(struct virtq *q);
	int (*start)(struct virtq *q);
};

static const struct virtq_ops virtq_ops[] = {
	[VIRTQ_SPLIT] = {
		.pop = virtq_split_pop,
		.fill = virtq_split_fill,
		.flush = virtq_split_flush,
		.should_notify = virtq_split_should_notify,
		.enable_notify = virtq_split_enable_notify,
		.has_work = virtq_split_has_work,
		.start = virtq_split_start,
	},
	[VIRTQ_PACKED] = {
		.pop = virtq_packed_pop,
		.fill = virtq_packed_fill,
		.flush = virtq_packed_flush,
		.should_notify = virtq_packed_should_notify,
		.enable_notify = virtq_packed_enable_notify,
		.has_work = virtq_packed_has_work,
		.start = virtq_packed_start,
	},
};

/* ---- shared by the layouts ---- */

/* The queue is unusable from now on (§2.7: a malformed chain is a driver
 * bug or an attack); the caller sets NEEDS_RESET. */
int virtq_broken(struct virtq *q, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	q->broken = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	virtio_warn(q->dev, "queue %u broken: %s", q->index, msg);
	return -EINVAL;
}

struct virtq_elem *virtq_elem_new(uint32_t max_segs)
{
	if (max_segs > VIRTQ_MAX_SEGS)
		max_segs = VIRTQ_MAX_SEGS;
	struct virtq_elem *e = calloc(1, sizeof(*e) + (size_t)max_segs * sizeof(struct iovec));

	if (e)
		virtq_elem_init(e, (struct iovec *)(e + 1), max_segs);
	return e;
}

/* Appends one buffer. Zero-length buffers are refused, as QEMU does
 * (virtqueue_map_desc: "zero sized buffers are not allowed"); Linux drivers
 * never produce them, so every segment a device sees has a byte. */
int virtq_add_segment(struct virtq *q, struct virtq_elem *e, uint64_t addr, uint32_t len,
		      bool writable)
{
	uint32_t n = e->nout + e->nin;
	void *p;

	if (len == 0)
		return virtq_broken(q, "zero-length descriptor");
	/* gm_ptr refuses ranges leaving a RAM region or wrapping 2^64. */
	p = gm_ptr(q->dev->mem, addr, len);
	if (!p)
		return virtq_broken(q, "buffer 0x%llx+0x%x outside RAM",
			      (unsigned long long)addr, len);
	/* §2.7.4.2, §2.8.4: device-readable descriptors come before writable ones. */
	if (!writable && e->nin)
		return virtq_broken(q, "readable descriptor after a writable one");
	if (n >= e->cap)
		return virtq_broken(q, "more than %u segments", e->cap);
	e->iov[n].iov_base = p;
	e->iov[n].iov_len = len;
	if (writable) {
		e->nin++;
		e->in_len += len;
	} else {
		e->nout++;
		e->out_len += len;
	}
	/* §2.7.4: a chain is at most 2^32 bytes long in total. */
	if (e->out_len + e->in_len > UINT32_MAX)
		return virtq_broken(q, "chain longer than 4 GiB");
	return 0;
}

void virtq_reset(struct virtq *q)
{
	struct virtio_dev *d = q->dev;
	uint16_t index = q->index, num_max = q->num_max;

	memset(q, 0, sizeof(*q));
	q->dev = d;
	q->index = index;
	q->num_max = num_max;
	q->num = num_max;
	q->layout = VIRTQ_SPLIT;
}

int virtq_start(struct virtq *q)
{
	const struct virtio_dev *d = q->dev;
	/* Legacy drivers cannot be refused features: only what both sides
	 * agree on counts. */
	uint64_t f = d->guest_features & d->host_features;

	q->layout = (f >> VIRTIO_F_RING_PACKED) & 1 ? VIRTQ_PACKED : VIRTQ_SPLIT;
	q->event_idx = (f >> VIRTIO_F_RING_EVENT_IDX) & 1;
	q->indirect = (f >> VIRTIO_F_RING_INDIRECT_DESC) & 1;
	q->desc = q->avail = q->used = NULL;
	q->broken = false;
	q->signalled_used_valid = false;
	switch (q->layout) {
	case VIRTQ_SPLIT:
		return virtq_ops[VIRTQ_SPLIT].start(q);
	case VIRTQ_PACKED:
		return virtq_ops[VIRTQ_PACKED].start(q);
	}
	return -EINVAL;
}

int virtq_pop(struct virtq *q, struct virtq_elem *e)
{
	switch (q->layout) {
	case VIRTQ_SPLIT:
		return virtq_ops[VIRTQ_SPLIT].pop(q, e);
	case VIRTQ_PACKED:
		return virtq_ops[VIRTQ_PACKED].pop(q, e);
	}
	return 0;
}

void virtq_fill(struct virtq *q, const struct virtq_elem *e, uint32_t len, uint16_t i)
{
	struct virtq_token t = virtq_token_of(e);

	virtq_fill_token(q, &t, len, i);
}

void virtq_fill_token(struct virtq *q, const struct virtq_token *t, uint32_t len, uint16_t i)
{
	switch (q->layout) {
	case VIRTQ_SPLIT:
		virtq_ops[VIRTQ_SPLIT].fill(q, t, len, i);
		return;
	case VIRTQ_PACKED:
		virtq_ops[VIRTQ_PACKED].fill(q, t, len, i);
		return;
	}
}

void virtq_flush(struct virtq *q, uint16_t count)
{
	switch (q->layout) {
	case VIRTQ_SPLIT:
		virtq_ops[VIRTQ_SPLIT].flush(q, count);
		return;
	case VIRTQ_PACKED:
		virtq_ops[VIRTQ_PACKED].flush(q, count);
		return;
	}
}

void virtq_push(struct virtq *q, const struct virtq_elem *e, uint32_t len)
{
	virtq_fill(q, e, len, 0);
	virtq_flush(q, 1);
}

bool virtq_should_notify(struct virtq *q)
{
	switch (q->layout) {
	case VIRTQ_SPLIT:
		return virtq_ops[VIRTQ_SPLIT].should_notify(q);
	case VIRTQ_PACKED:
		return virtq_ops[VIRTQ_PACKED].should_notify(q);
	}
	return false;
}

void virtq_enable_notify(struct virtq *q, bool enable)
{
	switch (q->layout) {
	case VIRTQ_SPLIT:
		virtq_ops[VIRTQ_SPLIT].enable_notify(q, enable);
		return;
	case VIRTQ_PACKED:
		virtq_ops[VIRTQ_PACKED].enable_notify(q, enable);
		return;
	}
}

bool virtq_has_work(struct virtq *q)
{
	switch (q->layout) {
	case VIRTQ_SPLIT:
		return virtq_ops[VIRTQ_SPLIT].has_work(q);
	case VIRTQ_PACKED:
		return virtq_ops[VIRTQ_PACKED].has_work(q);
	}
	return false;
}

void virtq_unpop(struct virtq *q, uint16_t head, uint16_t ndescs)
{
	switch (q->layout) {
	case VIRTQ_SPLIT:
		q->last_avail_idx--;
		return;
	case VIRTQ_PACKED:
		virtq_packed_unpop(q, head, ndescs);
		return;
	}
}

void virtq_view(struct virtq *q, struct virtq_view *v)
{
	memset(v, 0, sizeof(*v));
	v->ready = q->ready;
	v->mapped = q->desc && q->avail && q->used;
	v->broken = q->broken;
	v->packed = q->layout == VIRTQ_PACKED;
	v->event_idx = q->event_idx;
	v->indirect = q->indirect;
	v->num = q->num;
	v->desc_gpa = q->desc_gpa;
	v->avail_gpa = q->avail_gpa;
	v->used_gpa = q->used_gpa;
	v->last_avail = q->last_avail_idx;
	v->used = q->used_idx;
	v->signalled = q->signalled_used;
	v->signalled_valid = q->signalled_used_valid;
	if (!q->ready)
		return;
	v->has_work = virtq_has_work(q);
	switch (q->layout) {
	case VIRTQ_SPLIT:
		virtq_split_view(q, v);
		return;
	case VIRTQ_PACKED:
		virtq_packed_view(q, v);
		return;
	}
}
