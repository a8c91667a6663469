/* virtio-pci's modern interface: the registers of the modern BAR (BAR4),
 * common configuration, ISR, device configuration and notify regions, which
 * the capabilities of pci.c point at (virtio 1.2 §4.1.4). All little-endian. */
#include <inttypes.h>
#include <string.h>

#include "virtio/pci.h"
#include "virtio/pci_internal.h"

/* ---- modern: common configuration (§4.1.4.3) ---- */

static void common_image(struct virtio_pci *p, uint8_t *b)
{
	struct virtio_dev *d = p->dev;
	struct virtq *vq = vp_vq_of(p, p->queue_select);
	uint32_t sel = p->device_feature_select;

	memset(b, 0, VIRTIO_PCI_COMMON_SIZE);
	vp_put_le(b + VIRTIO_PCI_COMMON_DFSELECT, 4, sel);
	vp_put_le(b + VIRTIO_PCI_COMMON_DF, 4, sel <= 1 ? virtio_get_host_features(d, sel) : 0);
	vp_put_le(b + VIRTIO_PCI_COMMON_GFSELECT, 4, p->driver_feature_select);
	vp_put_le(b + VIRTIO_PCI_COMMON_GF, 4, p->driver_feature_select <= 1 ?
	       (uint32_t)(d->guest_features >> (32 * p->driver_feature_select)) : 0);
	vp_put_le(b + VIRTIO_PCI_COMMON_MSIX, 2, p->config_vector);
	vp_put_le(b + VIRTIO_PCI_COMMON_NUMQ, 2, vp_nqueues(d));
	b[VIRTIO_PCI_COMMON_STATUS] = d->status;
	b[VIRTIO_PCI_COMMON_CFGGEN] = (uint8_t)d->config_generation;
	vp_put_le(b + VIRTIO_PCI_COMMON_Q_SELECT, 2, p->queue_select);
	/* §4.1.4.3.2: a queue that does not exist reads size 0. */
	vp_put_le(b + VIRTIO_PCI_COMMON_Q_MSIX, 2, vq ? p->queue_vector[p->queue_select]
						  : VIRTIO_PCI_NO_VECTOR);
	if (!vq)
		return;
	vp_put_le(b + VIRTIO_PCI_COMMON_Q_SIZE, 2, vq->num);
	vp_put_le(b + VIRTIO_PCI_COMMON_Q_ENABLE, 2, vq->ready);
	vp_put_le(b + VIRTIO_PCI_COMMON_Q_NOFF, 2, p->queue_select);
	vp_put_le(b + VIRTIO_PCI_COMMON_Q_DESCLO, 8, vq->desc_gpa);
	vp_put_le(b + VIRTIO_PCI_COMMON_Q_AVAILLO, 8, vq->avail_gpa);
	vp_put_le(b + VIRTIO_PCI_COMMON_Q_USEDLO, 8, vq->used_gpa);
}

/* Width of the field at off; 64-bit fields take two dword halves. */
static uint32_t common_field_size(uint64_t off)
{
	switch (off) {
	case VIRTIO_PCI_COMMON_STATUS:
	case VIRTIO_PCI_COMMON_CFGGEN:
		return 1;
	case VIRTIO_PCI_COMMON_MSIX:
	case VIRTIO_PCI_COMMON_NUMQ:
	case VIRTIO_PCI_COMMON_Q_SELECT:
	case VIRTIO_PCI_COMMON_Q_SIZE:
	case VIRTIO_PCI_COMMON_Q_MSIX:
	case VIRTIO_PCI_COMMON_Q_ENABLE:
	case VIRTIO_PCI_COMMON_Q_NOFF:
		return 2;
	case VIRTIO_PCI_COMMON_DFSELECT:
	case VIRTIO_PCI_COMMON_DF:
	case VIRTIO_PCI_COMMON_GFSELECT:
	case VIRTIO_PCI_COMMON_GF:
	case VIRTIO_PCI_COMMON_Q_DESCLO ... VIRTIO_PCI_COMMON_Q_USEDHI:
		return (off & 3) ? 0 : 4;
	default:
		return 0;
	}
}

static void set_half(uint64_t *v, uint64_t off, uint32_t val)
{
	if (off & 4)
		*v = (*v & 0xffffffffull) | (uint64_t)val << 32;
	else
		*v = (*v & 0xffffffff00000000ull) | val;
}

static void common_queue_write(struct virtio_pci *p, uint64_t off, uint32_t val)
{
	struct virtq *vq = vp_vq_of(p, p->queue_select);

	if (!vq) {
		vp_log(p, "queue register %" PRIu64 " for queue %u out of range ignored", off,
		       p->queue_select);
		return;
	}
	if (off == VIRTIO_PCI_COMMON_Q_MSIX) {
		p->queue_vector[p->queue_select] = vp_valid_vector(p, val);
		return;
	}
	/* §3.1.1 / §4.1.4.3.2: queues are configured after FEATURES_OK and
	 * before DRIVER_OK; outside that window the write is ignored (as on
	 * virtio-mmio: a stray write must not mark a reset device broken). */
	if (!virtio_queue_config_allowed(p->dev)) {
		vp_log(p, "queue register %" PRIu64 " written in status 0x%02x ignored", off,
		       p->dev->status);
		return;
	}
	switch (off) {
	case VIRTIO_PCI_COMMON_Q_SIZE:
		vq->num = (uint16_t)val;   /* virtq_start() checks it */
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		/* §4.1.4.3.2: the driver MUST NOT write 0. */
		if (val == 1)
			vq->ready = true;
		else
			vp_log(p, "queue_enable %" PRIu32 " ignored", val);
		break;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
	case VIRTIO_PCI_COMMON_Q_DESCHI:
		set_half(&vq->desc_gpa, off, val);
		break;
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
		set_half(&vq->avail_gpa, off, val);
		break;
	case VIRTIO_PCI_COMMON_Q_USEDLO:
	case VIRTIO_PCI_COMMON_Q_USEDHI:
		set_half(&vq->used_gpa, off, val);
		break;
	}
}

static void common_write1(struct virtio_pci *p, uint64_t off, uint32_t val)
{
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		p->device_feature_select = val;
		break;
	case VIRTIO_PCI_COMMON_GFSELECT:
		p->driver_feature_select = val;
		break;
	case VIRTIO_PCI_COMMON_GF:
		if (p->driver_feature_select <= 1)
			virtio_set_guest_features(p->dev, p->driver_feature_select, val);
		else if (val)
			vp_log(p, "driver_feature word %" PRIu32 " = 0x%" PRIx32 " ignored",
			       p->driver_feature_select, val);
		break;
	case VIRTIO_PCI_COMMON_MSIX:
		p->config_vector = vp_valid_vector(p, val);
		break;
	case VIRTIO_PCI_COMMON_STATUS:
		vp_write_status(p, val);
		break;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		p->queue_select = (uint16_t)val;
		break;
	case VIRTIO_PCI_COMMON_Q_SIZE:
	case VIRTIO_PCI_COMMON_Q_MSIX:
	case VIRTIO_PCI_COMMON_Q_ENABLE:
	case VIRTIO_PCI_COMMON_Q_DESCLO ... VIRTIO_PCI_COMMON_Q_USEDHI:
		common_queue_write(p, off, val);
		break;
	default:
		vp_log(p, "write 0x%" PRIx32 " to read-only common register %" PRIu64 " ignored",
		       val, off);
		break;
	}
}

/* Legacy or modern is the driver's choice, made once per driver session:
 * while the device is reset (status 0), the interface the driver touches
 * decides; from its first status write on, the choice holds until the next
 * reset. A running legacy driver that reads the modern window (a probe, a
 * debugger, a hostile guest) must not turn its device modern mid-run: on a
 * big-endian guest its rings would then be read in the wrong order. */
static void note_modern_access(struct virtio_pci *p, uint64_t off)
{
	(void)off;
	if (p->dev->status == 0)
		p->dev->legacy = false;
}

static void common_read(struct virtio_pci *p, uint64_t off, uint8_t *data, uint32_t len)
{
	uint8_t img[VIRTIO_PCI_COMMON_SIZE];

	note_modern_access(p, off);
	if (off >= VIRTIO_PCI_COMMON_SIZE || len > VIRTIO_PCI_COMMON_SIZE - off)
		return;   /* beyond the structure: zeros */
	common_image(p, img);
	memcpy(data, img + off, len);
}

static void common_write(struct virtio_pci *p, uint64_t off, const uint8_t *data, uint32_t len)
{
	uint32_t fs = common_field_size(off);

	note_modern_access(p, off);
	/* §4.1.3.1: each field is accessed with its own width (64-bit ones as
	 * dword halves, or a qword). */
	if (len == 8 && fs == 4 && off >= VIRTIO_PCI_COMMON_Q_DESCLO && !(off & 7)) {
		common_write1(p, off, vp_get_le(data, 4));
		common_write1(p, off + 4, vp_get_le(data + 4, 4));
		return;
	}
	if (!fs || len != fs) {
		vp_log(p, "common config write of %" PRIu32 " bytes at %" PRIu64 " ignored", len,
		       off);
		return;
	}
	common_write1(p, off, vp_get_le(data, len));
}

/* ---- modern BAR ---- */

static bool modern_access_ok(uint64_t off, uint32_t len)
{
	return (len == 1 || len == 2 || len == 4 || len == 8) && off < VIRTIO_PCI_MODERN_BAR_SIZE &&
	       (off % VIRTIO_PCI_REGION_SIZE) + len <= VIRTIO_PCI_REGION_SIZE;
}

static void modern_read_locked(struct virtio_pci *p, uint64_t off, uint8_t *data, uint32_t len)
{
	uint64_t o = off % VIRTIO_PCI_REGION_SIZE;

	memset(data, 0, len);
	if (!modern_access_ok(off, len))
		return;
	switch (off - o) {
	case VIRTIO_PCI_COMMON_OFF:
		common_read(p, o, data, len);
		break;
	case VIRTIO_PCI_ISR_OFF:
		if (o == 0)
			data[0] = vp_isr_read_clear(p);
		break;
	case VIRTIO_PCI_DEVICE_OFF:
		virtio_config_read(p->dev, (uint32_t)o, data, len);
		break;
	default:
		break;   /* notify region: write-only */
	}
}

uint32_t vp_modern_write_locked(struct virtio_pci *p, uint64_t off, const uint8_t *data,
				uint32_t len)
{
	uint64_t o = off % VIRTIO_PCI_REGION_SIZE;

	if (!modern_access_ok(off, len))
		return NO_NOTIFY;
	switch (off - o) {
	case VIRTIO_PCI_COMMON_OFF:
		common_write(p, o, data, len);
		break;
	case VIRTIO_PCI_DEVICE_OFF:
		virtio_config_write(p->dev, (uint32_t)o, data, len);
		break;
	case VIRTIO_PCI_NOTIFY_OFF:
		/* The address names the queue (queue_notify_off = index,
		 * multiplier 4); the value (the index again, §4.1.5.2) is not
		 * needed. */
		if (o % VIRTIO_PCI_NOTIFY_MULT || len > 4)
			return NO_NOTIFY;
		return vp_queue_kick(p, (uint32_t)(o / VIRTIO_PCI_NOTIFY_MULT));
	default:
		break;   /* ISR is read-only */
	}
	return NO_NOTIFY;
}

void vp_modern_read(struct virtio_pci *p, uint64_t off, uint8_t *data, uint32_t len)
{
	pthread_mutex_lock(&p->dev->lock);
	modern_read_locked(p, off, data, len);
	pthread_mutex_unlock(&p->dev->lock);
}

static void modern_read_op(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	vp_modern_read(opaque, off, data, len);
}

static void modern_write_op(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct virtio_pci *p = opaque;
	uint32_t q;

	pthread_mutex_lock(&p->dev->lock);
	q = vp_modern_write_locked(p, off, data, len);
	pthread_mutex_unlock(&p->dev->lock);
	vp_kick(p->dev, q);
}

const struct io_ops virtio_pci_modern_ops = { .read = modern_read_op, .write = modern_write_op };
