/* The virtio core's state for snapshots: status, features, config
 * generation, ISR, legacy and device_endian (DESIGN.md: "device_endian is
 * device state"), and every queue's configuration and device-side
 * bookkeeping (split indexes, EVENT_IDX, packed wrap counters and the ids
 * in flight). Host pointers to the rings are not state: they are mapped
 * again from the guest addresses when the state is loaded. */
#include "virtio/virtio_state.h"

#include <errno.h>
#include <string.h>

#define VIRT_VERSION 1

static void save_queue(const struct virtq *q, struct state_w *w)
{
	sw_u16(w, q->num_max);
	sw_u16(w, q->num);
	sw_bool(w, q->ready);
	sw_u8(w, (uint8_t)q->layout);
	sw_bool(w, q->event_idx);
	sw_bool(w, q->indirect);
	sw_u64(w, q->desc_gpa);
	sw_u64(w, q->avail_gpa);
	sw_u64(w, q->used_gpa);
	sw_bool(w, q->desc != NULL);  /* mapped: started and valid */
	sw_u16(w, q->last_avail_idx);
	sw_u16(w, q->used_idx);
	sw_u16(w, q->signalled_used);
	sw_bool(w, q->signalled_used_valid);
	sw_bool(w, q->broken);
	sw_bool(w, q->avail_wrap);
	sw_bool(w, q->used_wrap);
	sw_bool(w, q->signalled_wrap);
	sw_bool(w, q->packed_started);
	sw_u16(w, q->batch_slots);
	sw_u16(w, q->first_slot);
	sw_u16(w, q->first_flags);
	sw_bytes(w, q->inflight, sizeof(q->inflight));
}

void virtio_save_state(struct virtio_dev *d, struct state_w *w)
{
	pthread_mutex_lock(&d->lock);
	size_t at = sw_begin(w, STATE_TAG('V', 'I', 'R', 'T'), VIRT_VERSION);
	sw_u32(w, d->ops->device_id);
	sw_u16(w, d->num_queues);
	sw_u64(w, d->host_features);
	sw_u64(w, d->guest_features);
	sw_u8(w, d->status);
	sw_u32(w, d->config_generation);
	sw_u32(w, d->isr);
	sw_bool(w, d->legacy);
	sw_u8(w, (uint8_t)d->device_endian);
	for (unsigned i = 0; i < d->num_queues; i++)
		save_queue(&d->vq[i], w);
	sw_end(w, at);
	pthread_mutex_unlock(&d->lock);
}

static void load_queue(struct virtq *q, struct state_r *r, const char *name, unsigned i)
{
	uint16_t num_max = sr_u16(r);

	if (sr_ok(r) && num_max != q->num_max)
		sr_fail(r, "virtio-%s queue %u: %u entries saved, the device has %u", name, i,
			num_max, q->num_max);
	q->num = sr_u16(r);
	q->ready = sr_bool(r);
	uint8_t layout = sr_u8(r);
	q->layout = layout == VIRTQ_PACKED ? VIRTQ_PACKED : VIRTQ_SPLIT;
	q->event_idx = sr_bool(r);
	q->indirect = sr_bool(r);
	q->desc_gpa = sr_u64(r);
	q->avail_gpa = sr_u64(r);
	q->used_gpa = sr_u64(r);
	q->mapped_on_load = sr_bool(r);
	q->last_avail_idx = sr_u16(r);
	q->used_idx = sr_u16(r);
	q->signalled_used = sr_u16(r);
	q->signalled_used_valid = sr_bool(r);
	q->broken = sr_bool(r);
	q->avail_wrap = sr_bool(r);
	q->used_wrap = sr_bool(r);
	q->signalled_wrap = sr_bool(r);
	q->packed_started = sr_bool(r);
	q->batch_slots = sr_u16(r);
	q->first_slot = sr_u16(r);
	q->first_flags = sr_u16(r);
	sr_bytes(r, q->inflight, sizeof(q->inflight));
	q->desc = q->avail = q->used = NULL;
	if (!sr_ok(r))
		return;
	if (layout > VIRTQ_PACKED)
		sr_fail(r, "virtio-%s queue %u: unknown ring layout %u", name, i, layout);
	else if (q->num > q->num_max || (q->mapped_on_load && !q->ready))
		sr_fail(r, "virtio-%s queue %u: size %u of %u, ready %d, mapped %d do not fit", name,
			i, q->num, q->num_max, q->ready, q->mapped_on_load);
}

int virtio_load_state(struct virtio_dev *d, struct state_r *r)
{
	const char *name = d->ops->name;
	struct state_r s;

	if (sr_section(r, STATE_TAG('V', 'I', 'R', 'T'), VIRT_VERSION, NULL, &s, "virtio core"))
		return -EINVAL;
	uint32_t id = sr_u32(&s);
	uint16_t nq = sr_u16(&s);
	uint64_t host = sr_u64(&s);
	if (!sr_ok(&s))
		return -EINVAL;
	if (id != d->ops->device_id)
		return sr_fail(&s, "virtio-%s: the snapshot holds a device of id %u here, not %u",
			       name, id, d->ops->device_id);
	if (nq != d->num_queues)
		return sr_fail(&s, "virtio-%s: %u queues saved, the device has %u", name, nq,
			       d->num_queues);
	/* Features offered follow the options (readonly, queues, packed,
	 * transport): another set means another device. */
	if (host != d->host_features)
		return sr_fail(&s, "virtio-%s: offered features 0x%llx saved, the device offers "
			       "0x%llx (other options than at the snapshot?)", name,
			       (unsigned long long)host, (unsigned long long)d->host_features);
	pthread_mutex_lock(&d->lock);
	d->guest_features = sr_u64(&s);
	d->status = sr_u8(&s);
	d->config_generation = sr_u32(&s);
	d->isr = sr_u32(&s);
	d->legacy = sr_bool(&s);
	uint8_t endian = sr_u8(&s);
	d->device_endian = endian ? VIRTIO_ENDIAN_BIG : VIRTIO_ENDIAN_LITTLE;
	if (sr_ok(&s) && endian > VIRTIO_ENDIAN_BIG)
		sr_fail(&s, "virtio-%s: device_endian %u is neither little nor big", name, endian);
	if (sr_ok(&s) && (d->guest_features & ~d->host_features) && !d->legacy)
		sr_fail(&s, "virtio-%s: acked features 0x%llx were never offered", name,
			(unsigned long long)d->guest_features);
	for (unsigned i = 0; i < d->num_queues && sr_ok(&s); i++)
		load_queue(&d->vq[i], &s, name, i);
	pthread_mutex_unlock(&d->lock);
	return sr_end(&s, "virtio core");
}

/* The ring mappings, for the layout the state names: the layouts' start
 * functions check sizes and alignment and map the rings without touching
 * indexes (packed: packed_started keeps the wrap counters). */
static int remap(struct virtq *q)
{
	switch (q->layout) {
	case VIRTQ_SPLIT:
		return virtq_split_start(q);
	case VIRTQ_PACKED:
		return virtq_packed_start(q);
	}
	return -EINVAL;
}

int virtio_state_activate(struct virtio_dev *d, struct state_err *e)
{
	struct state_r r;
	int rc = 0;

	sr_init(&r, NULL, 0, e);
	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; i < d->num_queues && !rc; i++) {
		struct virtq *q = &d->vq[i];
		if (!q->mapped_on_load)
			continue;
		q->mapped_on_load = false;
		if (remap(q))
			rc = sr_fail(&r, "virtio-%s queue %u: its rings (0x%llx, 0x%llx, 0x%llx, size "
				     "%u) are not in guest RAM", d->ops->name, i,
				     (unsigned long long)q->desc_gpa,
				     (unsigned long long)q->avail_gpa,
				     (unsigned long long)q->used_gpa, q->num);
	}
	/* What DRIVER_OK set up on the device's side (slots, the tap's header
	 * and offloads) is set up again. */
	if (!rc && (d->status & VIRTIO_STATUS_DRIVER_OK) && d->ops->activate) {
		int a = d->ops->activate(d);
		if (a)
			rc = sr_fail(&r, "virtio-%s: cannot activate the device again: %s",
				     d->ops->name, strerror(-a));
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

void virtio_state_start(struct virtio_dev *d)
{
	pthread_mutex_lock(&d->lock);
	if ((d->status & VIRTIO_STATUS_DRIVER_OK) && d->tops && d->tops->started)
		d->tops->started(d);
	pthread_mutex_unlock(&d->lock);
}

void virtio_state_reraise(struct virtio_dev *d)
{
	pthread_mutex_lock(&d->lock);
	if ((d->status & VIRTIO_STATUS_DRIVER_OK) && d->isr && d->tops && d->tops->interrupt) {
		for (unsigned i = 0; i < d->num_queues; i++)
			if (d->vq[i].ready && (d->isr & 1))
				d->tops->interrupt(d, (int)i, 1);
		if (d->isr & 2)
			d->tops->interrupt(d, -1, 2);
	}
	pthread_mutex_unlock(&d->lock);
}
