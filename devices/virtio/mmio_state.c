/* virtio-mmio's own state for snapshots: the selectors, the legacy page
 * size and per-queue QueueAlign / QueuePFN. The window's place and layout
 * come from the command line and are only checked; the ioeventfds
 * (attached) are set up again by virtio_state_start, and the interrupt
 * line by virtio_state_reraise. */
#include "virtio/mmio.h"
#include "virtio/virtio_state.h"

#include <errno.h>

#define MMIO_STATE_VERSION 1

void virtio_mmio_save_state(struct virtio_mmio *m, struct state_w *w)
{
	struct virtio_dev *d = m->dev;

	pthread_mutex_lock(&d->lock);
	size_t at = sw_begin(w, STATE_TAG('M', 'M', 'I', 'O'), MMIO_STATE_VERSION);
	sw_u32(w, (uint32_t)m->version);
	sw_u64(w, m->base);
	sw_u32(w, m->device_features_sel);
	sw_u32(w, m->driver_features_sel);
	sw_u32(w, m->queue_sel);
	sw_u32(w, m->guest_page_size);
	sw_u16(w, d->num_queues);
	for (unsigned i = 0; i < d->num_queues; i++) {
		sw_u32(w, m->lq[i].align);
		sw_u32(w, m->lq[i].pfn);
	}
	sw_end(w, at);
	pthread_mutex_unlock(&d->lock);
}

int virtio_mmio_load_state(struct virtio_mmio *m, struct state_r *r)
{
	struct virtio_dev *d = m->dev;
	struct state_r s;

	if (sr_section(r, STATE_TAG('M', 'M', 'I', 'O'), MMIO_STATE_VERSION, NULL, &s,
		       "virtio-mmio"))
		return -EINVAL;
	uint32_t version = sr_u32(&s);
	uint64_t base = sr_u64(&s);
	if (sr_ok(&s) && (version != (uint32_t)m->version || base != m->base))
		return sr_fail(&s, "virtio-mmio: version %u at 0x%llx saved, the device is version "
			       "%d at 0x%llx", version, (unsigned long long)base, m->version,
			       (unsigned long long)m->base);
	pthread_mutex_lock(&d->lock);
	m->device_features_sel = sr_u32(&s);
	m->driver_features_sel = sr_u32(&s);
	m->queue_sel = sr_u32(&s);
	m->guest_page_size = sr_u32(&s);
	uint16_t nq = sr_u16(&s);
	if (sr_ok(&s) && nq != d->num_queues)
		sr_fail(&s, "virtio-mmio: %u queues saved, the device has %u", nq, d->num_queues);
	for (unsigned i = 0; i < d->num_queues && sr_ok(&s); i++) {
		m->lq[i].align = sr_u32(&s);
		m->lq[i].pfn = sr_u32(&s);
	}
	m->attached = 0;
	m->irq_level = false;
	pthread_mutex_unlock(&d->lock);
	return sr_end(&s, "virtio-mmio");
}
