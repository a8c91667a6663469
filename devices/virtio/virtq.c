/* Virtqueue dispatch: one interface over the ring layouts (DESIGN.md,
 * "Virtqueues"). Each public function switches on q->layout and calls
 * through a const table with a constant index, which the compiler turns into
 * a direct call: no indirect branch on the hot path. */
#include "virtio/virtq.h"

#include <errno.h>
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
	/* [VIRTQ_PACKED]: virtio 1.2 §2.8, not yet implemented. */
};

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
		break;
	}
	return -ENOTSUP;
}

int virtq_pop(struct virtq *q, struct virtq_elem *e)
{
	switch (q->layout) {
	case VIRTQ_SPLIT:
		return virtq_ops[VIRTQ_SPLIT].pop(q, e);
	case VIRTQ_PACKED:
		break;
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
		break;
	}
}

void virtq_flush(struct virtq *q, uint16_t count)
{
	switch (q->layout) {
	case VIRTQ_SPLIT:
		virtq_ops[VIRTQ_SPLIT].flush(q, count);
		return;
	case VIRTQ_PACKED:
		break;
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
		break;
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
		break;
	}
}

bool virtq_has_work(struct virtq *q)
{
	switch (q->layout) {
	case VIRTQ_SPLIT:
		return virtq_ops[VIRTQ_SPLIT].has_work(q);
	case VIRTQ_PACKED:
		break;
	}
	return false;
}
