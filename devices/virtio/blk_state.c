/* virtio-blk's own state for snapshots. Quiesced (virtio_blk_quiesce),
 * the device holds nothing the rings do not show: every request taken off
 * a ring has been answered. What is left is its counters; the slots come
 * back with the activation (virtio_state_activate) and the engines are the
 * new process's. */
#include "virtio/blk.h"
#include "virtio/virtio_state.h"

#include <errno.h>

#define BLK_STATE_VERSION 1

static void stats_io(struct virtio_blk_stats *st, struct state_w *w, struct state_r *r)
{
	uint64_t *f[] = { &st->reads, &st->writes, &st->flushes, &st->discards, &st->write_zeroes,
			  &st->get_ids, &st->read_bytes, &st->write_bytes, &st->ioerr, &st->unsupp,
			  &st->malformed };

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (w)
			sw_u64(w, *f[i]);
		else
			*f[i] = sr_u64(r);
	}
}

void virtio_blk_save_state(struct virtio_blk *b, struct state_w *w)
{
	struct virtio_dev *d = &b->vdev;
	size_t at = sw_begin(w, STATE_TAG('B', 'L', 'K', ' '), BLK_STATE_VERSION);

	pthread_mutex_lock(&d->lock);
	sw_u16(w, d->num_queues);
	for (uint16_t i = 0; i < d->num_queues; i++)
		sw_u32(w, b->q[i].busy);
	stats_io(&b->stats, w, NULL);
	pthread_mutex_unlock(&d->lock);
	sw_end(w, at);
}

int virtio_blk_load_state(struct virtio_blk *b, struct state_r *r)
{
	struct virtio_dev *d = &b->vdev;
	struct state_r s;

	if (sr_section(r, STATE_TAG('B', 'L', 'K', ' '), BLK_STATE_VERSION, NULL, &s, "virtio-blk"))
		return -EINVAL;
	uint16_t nq = sr_u16(&s);
	if (sr_ok(&s) && nq != d->num_queues)
		return sr_fail(&s, "virtio-blk: %u queues saved, the device has %u", nq,
			       d->num_queues);
	for (uint16_t i = 0; i < nq && sr_ok(&s); i++) {
		uint32_t busy = sr_u32(&s);
		if (sr_ok(&s) && busy)
			return sr_fail(&s, "virtio-blk: queue %u was saved with %u requests in "
				       "flight (not quiesced)", i, busy);
	}
	pthread_mutex_lock(&d->lock);
	stats_io(&b->stats, NULL, &s);
	pthread_mutex_unlock(&d->lock);
	return sr_end(&s, "virtio-blk");
}
