/* virtio-pci's legacy interface: the I/O BAR0 register layout of a
 * transitional device (virtio 1.2 §4.1.4.8). Header registers are
 * little-endian; the device configuration after them is encoded by the core
 * in device_endian. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "virtio/pci.h"
#include "virtio/pci_internal.h"

/* ---- legacy I/O BAR (§4.1.4.8) ---- */

static void note_legacy_access(struct virtio_pci *p)
{
	if (p->dev->status == 0)
		p->dev->legacy = true;
}

/* §2.7.2 legacy layout with the PCI transport's fixed 4096 alignment: the
 * driver cannot choose a size, so the queue has num_max entries. */
static void legacy_place_rings(struct virtio_pci *p, uint16_t q)
{
	struct virtq *vq = &p->dev->vq[q];
	uint64_t desc = (uint64_t)p->legacy_pfn[q] << VIRTIO_PCI_L_PFN_SHIFT;
	uint64_t avail, used;

	vq->num = vq->num_max;
	avail = desc + 16ull * vq->num;
	used = (avail + 6 + 2ull * vq->num + VIRTIO_PCI_L_ALIGN - 1) &
	       ~(uint64_t)(VIRTIO_PCI_L_ALIGN - 1);
	vq->desc_gpa = desc;
	vq->avail_gpa = avail;
	vq->used_gpa = used;
	vq->ready = p->legacy_pfn[q] != 0;
}

static void legacy_header(struct virtio_pci *p, uint8_t *b, bool msix)
{
	struct virtio_dev *d = p->dev;
	struct virtq *vq = vp_vq_of(p, p->queue_select);

	memset(b, 0, 24);
	/* Legacy has 32 feature bits: VERSION_1 and up are never shown. */
	vp_put_le(b + VIRTIO_PCI_L_HOST_FEATURES, 4, virtio_get_host_features(d, 0));
	vp_put_le(b + VIRTIO_PCI_L_GUEST_FEATURES, 4, (uint32_t)d->guest_features);
	vp_put_le(b + VIRTIO_PCI_L_QUEUE_PFN, 4, vq && vq->ready ? p->legacy_pfn[p->queue_select] : 0);
	vp_put_le(b + VIRTIO_PCI_L_QUEUE_NUM, 2, vq ? vq->num_max : 0);
	vp_put_le(b + VIRTIO_PCI_L_QUEUE_SEL, 2, p->queue_select);
	b[VIRTIO_PCI_L_STATUS] = d->status;
	b[VIRTIO_PCI_L_ISR] = (uint8_t)d->isr;
	if (msix) {
		vp_put_le(b + VIRTIO_PCI_L_CONFIG_VECTOR, 2, p->config_vector);
		vp_put_le(b + VIRTIO_PCI_L_QUEUE_VECTOR, 2,
		       vq ? p->queue_vector[p->queue_select] : VIRTIO_PCI_NO_VECTOR);
	}
}

static void legacy_read_locked(struct virtio_pci *p, uint64_t off, uint8_t *data, uint32_t len)
{
	bool msix = msix_enabled(&p->msix);
	uint32_t cfg = VIRTIO_PCI_L_CONFIG(msix);
	uint8_t hdr[24];

	memset(data, 0, len);
	note_legacy_access(p);
	if (off >= cfg) {
		virtio_config_read(p->dev, (uint32_t)(off - cfg), data, len);
		return;
	}
	if (len > cfg - off)
		return;
	legacy_header(p, hdr, msix);
	memcpy(data, hdr + off, len);
	if (off <= VIRTIO_PCI_L_ISR && off + len > VIRTIO_PCI_L_ISR)
		vp_isr_read_clear(p);
}

static uint32_t legacy_field_size(uint64_t off, bool msix)
{
	switch (off) {
	case VIRTIO_PCI_L_GUEST_FEATURES:
	case VIRTIO_PCI_L_QUEUE_PFN:
		return 4;
	case VIRTIO_PCI_L_QUEUE_SEL:
	case VIRTIO_PCI_L_QUEUE_NOTIFY:
		return 2;
	case VIRTIO_PCI_L_STATUS:
		return 1;
	case VIRTIO_PCI_L_CONFIG_VECTOR:
	case VIRTIO_PCI_L_QUEUE_VECTOR:
		return msix ? 2 : 0;
	default:
		return 0;
	}
}

static void legacy_pfn_write(struct virtio_pci *p, uint32_t val)
{
	uint16_t q = p->queue_select;

	if (!vp_vq_of(p, q) || !virtio_queue_config_allowed(p->dev)) {
		vp_log(p, "QueueAddress for queue %u in status 0x%02x ignored", q, p->dev->status);
		return;
	}
	/* 0 stops using the queue (§4.1.4.8). */
	p->legacy_pfn[q] = val;
	legacy_place_rings(p, q);
}

static uint32_t legacy_write_locked(struct virtio_pci *p, uint64_t off, const uint8_t *data,
				    uint32_t len)
{
	bool msix = msix_enabled(&p->msix);
	uint32_t cfg = VIRTIO_PCI_L_CONFIG(msix), val;

	note_legacy_access(p);
	if (off >= cfg) {
		virtio_config_write(p->dev, (uint32_t)(off - cfg), data, len);
		return NO_NOTIFY;
	}
	if (len != legacy_field_size(off, msix)) {
		vp_log(p, "legacy write of %" PRIu32 " bytes at %" PRIu64 " ignored", len, off);
		return NO_NOTIFY;
	}
	val = vp_get_le(data, len);
	switch (off) {
	case VIRTIO_PCI_L_GUEST_FEATURES:
		virtio_set_guest_features(p->dev, 0, val);
		break;
	case VIRTIO_PCI_L_QUEUE_PFN:
		legacy_pfn_write(p, val);
		break;
	case VIRTIO_PCI_L_QUEUE_SEL:
		p->queue_select = (uint16_t)val;
		break;
	case VIRTIO_PCI_L_QUEUE_NOTIFY:
		return vp_queue_kick(p, val);
	case VIRTIO_PCI_L_STATUS:
		vp_write_status(p, val);
		break;
	case VIRTIO_PCI_L_CONFIG_VECTOR:
		p->config_vector = vp_valid_vector(p, val);
		break;
	case VIRTIO_PCI_L_QUEUE_VECTOR:
		if (vp_vq_of(p, p->queue_select))
			p->queue_vector[p->queue_select] = vp_valid_vector(p, val);
		break;
	}
	return NO_NOTIFY;
}

static void legacy_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	struct virtio_pci *p = opaque;

	pthread_mutex_lock(&p->dev->lock);
	legacy_read_locked(p, off, data, len);
	pthread_mutex_unlock(&p->dev->lock);
}

static void legacy_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct virtio_pci *p = opaque;
	uint32_t q;

	pthread_mutex_lock(&p->dev->lock);
	q = legacy_write_locked(p, off, data, len);
	pthread_mutex_unlock(&p->dev->lock);
	vp_kick(p->dev, q);
}

const struct io_ops virtio_pci_legacy_ops = { .read = legacy_read, .write = legacy_write };
