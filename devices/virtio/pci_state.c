/* virtio-pci's state for snapshots: the function's config space (where the
 * guest put the BARs, command bits, MSI-X enable) and MSI-X table, then the
 * transport's registers: feature and queue selectors, config and queue
 * vectors, legacy queue PFNs. Which interface the driver uses (legacy or
 * modern) is the core's d->legacy. The ioeventfds come back with
 * virtio_state_start, on the BARs the config space placed. */
#include "virtio/pci.h"
#include "virtio/virtio_state.h"

#include <errno.h>

#define VPCI_STATE_VERSION 1

void virtio_pci_save_state(struct virtio_pci *p, struct state_w *w)
{
	struct virtio_dev *d = p->dev;
	size_t at = sw_begin(w, STATE_TAG('V', 'P', 'C', 'I'), VPCI_STATE_VERSION);

	pci_dev_save_state(&p->pci, w);
	msix_save_state(&p->msix, w);
	pthread_mutex_lock(&d->lock);
	sw_bool(w, p->legacy_bar);
	sw_u32(w, p->device_feature_select);
	sw_u32(w, p->driver_feature_select);
	sw_u16(w, p->queue_select);
	sw_u16(w, p->config_vector);
	sw_u16(w, d->num_queues);
	for (unsigned q = 0; q < d->num_queues; q++) {
		sw_u16(w, p->queue_vector[q]);
		sw_u32(w, p->legacy_pfn[q]);
	}
	pthread_mutex_unlock(&d->lock);
	sw_end(w, at);
}

int virtio_pci_load_state(struct virtio_pci *p, struct state_r *r)
{
	struct virtio_dev *d = p->dev;
	struct state_r s;

	if (sr_section(r, STATE_TAG('V', 'P', 'C', 'I'), VPCI_STATE_VERSION, NULL, &s, "virtio-pci"))
		return -EINVAL;
	/* Config space first: its BAR reports take d->lock themselves. */
	if (pci_dev_load_state(&p->pci, &s) || msix_load_state(&p->msix, &s))
		return -EINVAL;
	bool legacy_bar = sr_bool(&s);
	if (sr_ok(&s) && legacy_bar != p->legacy_bar)
		return sr_fail(&s, "virtio-pci: a %s device saved, this one is %s",
			       legacy_bar ? "transitional" : "modern-only",
			       p->legacy_bar ? "transitional" : "modern-only");
	pthread_mutex_lock(&d->lock);
	p->device_feature_select = sr_u32(&s);
	p->driver_feature_select = sr_u32(&s);
	p->queue_select = sr_u16(&s);
	p->config_vector = sr_u16(&s);
	uint16_t nq = sr_u16(&s);
	if (sr_ok(&s) && nq != d->num_queues)
		sr_fail(&s, "virtio-pci: %u queues saved, the device has %u", nq, d->num_queues);
	for (unsigned q = 0; q < d->num_queues && sr_ok(&s); q++) {
		p->queue_vector[q] = sr_u16(&s);
		p->legacy_pfn[q] = sr_u32(&s);
	}
	p->live = false;
	p->attached = 0;
	pthread_mutex_unlock(&d->lock);
	return sr_end(&s, "virtio-pci");
}
