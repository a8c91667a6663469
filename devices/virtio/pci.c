/* virtio-pci transport, modern and transitional: virtio 1.2 §4.1.
 *
 * Locking: BAR registers run with d->lock held (the synchronous notify drops
 * it before calling the device, as virtio-mmio does). Config space hooks run
 * with the host bridge's lock held and take d->lock inside it (PCI_CFG
 * window, BAR moves): host lock, then d->lock, then msix/INTx leaf locks. */
#include "virtio/pci.h"
#include "virtio/pci_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <string.h>


/* ---- helpers ---- */

uint32_t vp_get_le(const uint8_t *b, uint32_t len)
{
	uint32_t v = 0;

	for (uint32_t i = 0; i < len && i < 4; i++)
		v |= (uint32_t)b[i] << (8 * i);
	return v;
}

void vp_put_le(uint8_t *b, uint32_t len, uint64_t v)
{
	for (uint32_t i = 0; i < len; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t nqueues(const struct virtio_dev *d)
{
	return d->num_queues;
}

struct virtq *vp_vq_of(struct virtio_pci *p, uint32_t q)
{
	return q < nqueues(p->dev) ? &p->dev->vq[q] : NULL;
}

/* A vector the driver may program: one of ours, or NO_VECTOR. §4.1.5.1.2:
 * a vector we cannot map reads back as NO_VECTOR, which is how the driver
 * learns of the failure. */
uint16_t vp_valid_vector(struct virtio_pci *p, uint32_t v)
{
	return v < p->msix.nvec ? (uint16_t)v : VIRTIO_PCI_NO_VECTOR;
}

/* ---- notifications (ioeventfd) ---- */

/* The notify address of queue q in the interface the driver uses, or false
 * if that BAR does not decode. */
static bool notify_addr(struct virtio_pci *p, uint16_t q, uint64_t *addr)
{
	int bar = p->dev->legacy ? VIRTIO_PCI_LEGACY_BAR : VIRTIO_PCI_MODERN_BAR;

	if (!p->bar_live[bar])
		return false;
	if (p->dev->legacy)
		*addr = p->bar_addr[bar] + VIRTIO_PCI_L_QUEUE_NOTIFY;
	else
		*addr = p->bar_addr[bar] + VIRTIO_PCI_NOTIFY_OFF + (uint64_t)q * VIRTIO_PCI_NOTIFY_MULT;
	return true;
}

static void attach_all(struct virtio_pci *p)
{
	const struct virtio_notify_hooks *h = p->hooks;
	struct virtio_dev *d = p->dev;
	uint64_t addr;

	if (!h || !h->attach)
		return;
	for (uint16_t q = 0; q < nqueues(d); q++) {
		if (!d->vq[q].ready || (p->attached & (1u << q)) || !notify_addr(p, q, &addr))
			continue;
		/* Legacy: one port for all queues, the value says which (as
		 * QEMU does); modern: one address per queue, value = index. */
		if (h->attach(h->opaque, d, q, addr, 2, d->legacy, q) == 0)
			p->attached |= 1u << q;
	}
}

static void detach_all(struct virtio_pci *p)
{
	const struct virtio_notify_hooks *h = p->hooks;

	for (uint16_t q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if ((p->attached & (1u << q)) && h && h->detach)
			h->detach(h->opaque, p->dev, q);
	p->attached = 0;
}

/* ---- virtio_transport_ops (d->lock held) ---- */

static void vp_interrupt(struct virtio_dev *d, int q, uint32_t isr_bits)
{
	struct virtio_pci *p = d->transport_priv;
	uint16_t vec = q < 0 ? p->config_vector
			     : (q < VIRTIO_MAX_QUEUES ? p->queue_vector[q] : VIRTIO_PCI_NO_VECTOR);

	/* With MSI-X enabled the function must not use INTx (PCI 3.0
	 * §6.8.2); NO_VECTOR then means no interrupt at all (§4.1.5.1.2). */
	if (vec != VIRTIO_PCI_NO_VECTOR && msix_notify(&p->msix, vec) != -ENODEV)
		return;
	if (msix_enabled(&p->msix))
		return;
	if (d->isr)
		pci_set_intx(&p->pci, 1);
}

static void vp_started(struct virtio_dev *d)
{
	struct virtio_pci *p = d->transport_priv;

	p->live = true;
	attach_all(p);
}

/* Any device reset (guest status 0 or system reset): the transport's share. */
static void vp_stopped(struct virtio_dev *d)
{
	struct virtio_pci *p = d->transport_priv;

	p->live = false;
	detach_all(p);
	/* Vectors go back to NO_VECTOR with the device (QEMU virtio_reset
	 * does the same; Linux reprograms them after every reset). */
	p->config_vector = VIRTIO_PCI_NO_VECTOR;
	for (int q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		p->queue_vector[q] = VIRTIO_PCI_NO_VECTOR;
		p->legacy_pfn[q] = 0;
	}
	pci_set_intx(&p->pci, 0);   /* the core cleared d->isr */
}

static const struct virtio_transport_ops vp_tops = {
	.interrupt = vp_interrupt,
	.started = vp_started,
	.stopped = vp_stopped,
};

/* ---- shared register behaviour ---- */

/* ISR read (§4.1.4.5.1): read-to-clear, and the INTx level goes with it. */
uint8_t vp_isr_read_clear(struct virtio_pci *p)
{
	uint8_t v = (uint8_t)p->dev->isr;

	p->dev->isr = 0;
	pci_set_intx(&p->pci, 0);
	return v;
}

void vp_write_status(struct virtio_pci *p, uint32_t value)
{
	virtio_set_status(p->dev, (uint8_t)value);
}

/* A kick for queue q reached the register: the queue to notify once the
 * lock is dropped, or NO_NOTIFY. Kicks for an attached queue come here when
 * they missed the ioeventfd's width or datamatch; serving them is harmless
 * (a spurious notify) and losing them is not. */
uint32_t vp_queue_kick(struct virtio_pci *p, uint32_t q)
{
	struct virtio_dev *d = p->dev;

	if (!vp_vq_of(p, q)) {
		vp_log(p, "notify for queue %" PRIu32 " out of range ignored", q);
		return NO_NOTIFY;
	}
	if ((d->status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET)) !=
	    VIRTIO_STATUS_DRIVER_OK || !d->vq[q].ready)
		return NO_NOTIFY;
	return q;
}

void vp_kick(struct virtio_dev *d, uint32_t q)
{
	/* The device takes d->lock itself and copes with a reset that slipped
	 * in after we dropped it. */
	if (q != NO_NOTIFY && d->ops->queue_notify)
		d->ops->queue_notify(d, (uint16_t)q);
}

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
	vp_put_le(b + VIRTIO_PCI_COMMON_NUMQ, 2, nqueues(d));
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

/* The modern interface is in use: see pci.h for the rule. */
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

static uint32_t modern_write_locked(struct virtio_pci *p, uint64_t off, const uint8_t *data,
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

static void modern_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	struct virtio_pci *p = opaque;

	pthread_mutex_lock(&p->dev->lock);
	modern_read_locked(p, off, data, len);
	pthread_mutex_unlock(&p->dev->lock);
}

static void modern_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct virtio_pci *p = opaque;
	uint32_t q;

	pthread_mutex_lock(&p->dev->lock);
	q = modern_write_locked(p, off, data, len);
	pthread_mutex_unlock(&p->dev->lock);
	vp_kick(p->dev, q);
}

const struct io_ops virtio_pci_modern_ops = { .read = modern_read, .write = modern_write };

/* ---- config space hooks (host bridge lock held) ---- */

/* The PCI_CFG capability's window (§4.1.4.9): cap.bar/offset/length select
 * an access to a BAR that pci_cfg_data carries. Anything but an aligned 1,
 * 2 or 4 byte access inside the modern BAR is ignored (§4.1.4.9.1 lets the
 * device ignore accesses to other BARs). */
static bool cfg_window(struct virtio_pci *p, uint32_t *off, uint32_t *len)
{
	uint32_t c = p->pci_cfg_cap;

	*off = pci_cfg_get32(&p->pci, c + VIRTIO_PCI_CAP_OFFSET);
	*len = pci_cfg_get32(&p->pci, c + VIRTIO_PCI_CAP_LENGTH);
	return pci_cfg_get8(&p->pci, c + VIRTIO_PCI_CAP_BAR) == VIRTIO_PCI_MODERN_BAR &&
	       (*len == 1 || *len == 2 || *len == 4) && !(*off & (*len - 1)) &&
	       *off < VIRTIO_PCI_MODERN_BAR_SIZE;
}

static bool touches_cfg_data(struct virtio_pci *p, uint32_t off, uint32_t len)
{
	uint32_t d = p->pci_cfg_cap + VIRTIO_PCI_CAP_PCI_CFG_DATA;

	return p->pci_cfg_cap && off < d + 4 && off + len > d;
}

static void vp_cfg_read(struct pci_dev *pd, uint32_t off, uint32_t len)
{
	struct virtio_pci *p = pd->owner;
	uint32_t boff, blen;
	uint8_t buf[4] = { 0 };

	if (!touches_cfg_data(p, off, len) || !cfg_window(p, &boff, &blen))
		return;
	modern_read(p, boff, buf, blen);
	memcpy(&pd->cfg[p->pci_cfg_cap + VIRTIO_PCI_CAP_PCI_CFG_DATA], buf, 4);
}

static void vp_cfg_write(struct pci_dev *pd, uint32_t off, uint32_t len)
{
	struct virtio_pci *p = pd->owner;
	uint32_t boff, blen;

	msix_cfg_write(&p->msix, off, len);
	/* With MSI-X on, INTx is off (PCI 3.0 §6.8.2). */
	if (msix_enabled(&p->msix))
		pci_set_intx(&p->pci, 0);
	if (touches_cfg_data(p, off, len) && cfg_window(p, &boff, &blen)) {
		/* A kick in the window is not served here, under the host
		 * bridge's lock (every vCPU's config access would wait for the
		 * device's whole queue), but in after_cfg_write. */
		pthread_mutex_lock(&p->dev->lock);
		uint32_t q = modern_write_locked(p, boff,
						 &pd->cfg[p->pci_cfg_cap + VIRTIO_PCI_CAP_PCI_CFG_DATA],
						 blen);
		pthread_mutex_unlock(&p->dev->lock);
		if (q != NO_NOTIFY)
			atomic_fetch_or(&p->cfg_kicks, 1u << q);
	}
}

/* Kicks left by the PCI_CFG window take the path any other kick takes: the
 * queue's ioeventfd (its I/O thread serves it) when it has one, else the
 * device right here, on the vCPU thread, as without ioeventfd. */
static void vp_after_cfg_write(struct pci_dev *pd)
{
	struct virtio_pci *p = pd->owner;
	uint32_t kicks = atomic_exchange(&p->cfg_kicks, 0);

	for (uint32_t q = 0; kicks; q++, kicks >>= 1) {
		if (!(kicks & 1))
			continue;
		if (p->hooks && p->hooks->kick && p->hooks->kick(p->hooks->opaque, p->dev, (uint16_t)q) == 0)
			continue;
		vp_kick(p->dev, q);
	}
}

/* The guest (re)programmed a BAR or the command register: keep the notify
 * ioeventfds on the address the guest will write. */
static void vp_bar_update(struct pci_dev *pd, int bar, uint64_t old_addr, uint64_t new_addr,
			  bool enabled)
{
	struct virtio_pci *p = pd->owner;

	pthread_mutex_lock(&p->dev->lock);
	p->bar_live[bar] = enabled;
	p->bar_addr[bar] = new_addr;
	if (p->live && (bar == VIRTIO_PCI_LEGACY_BAR || bar == VIRTIO_PCI_MODERN_BAR)) {
		detach_all(p);
		attach_all(p);
	}
	pthread_mutex_unlock(&p->dev->lock);
}

static const struct pci_dev_ops vp_pci_ops = {
	.cfg_read = vp_cfg_read,
	.cfg_write = vp_cfg_write,
	.after_cfg_write = vp_after_cfg_write,
	.bar_update = vp_bar_update,
};

/* ---- set-up ---- */

/* §4.1.2.1: transitional PCI device ids, by virtio device id. */
static int transitional_id(uint32_t device_id)
{
	switch (device_id) {
	case 1: return 0x1000;   /* network card */
	case 2: return 0x1001;   /* block device */
	case 5: return 0x1002;   /* memory ballooning (traditional) */
	case 3: return 0x1003;   /* console */
	case 8: return 0x1004;   /* SCSI host */
	case 4: return 0x1005;   /* entropy source */
	case 9: return 0x1009;   /* 9P transport */
	default: return -1;
	}
}

/* The class code guests expect (QEMU's choices; drivers bind by id). */
static uint32_t class_of(uint32_t device_id)
{
	switch (device_id) {
	case 1: return 0x020000;   /* ethernet */
	case 2: return 0x010000;   /* mass storage, SCSI */
	default: return 0xff0000;
	}
}

static int add_vcap(struct virtio_pci *p, uint8_t type, uint8_t len, uint8_t bar, uint32_t off,
		    uint32_t length)
{
	int c = pci_add_cap(&p->pci, PCI_CAP_ID_VNDR, len);

	if (c < 0)
		return c;
	pci_cfg_set8(&p->pci, (uint32_t)c + VIRTIO_PCI_CAP_LEN, len);
	pci_cfg_set8(&p->pci, (uint32_t)c + VIRTIO_PCI_CAP_CFG_TYPE, type);
	pci_cfg_set8(&p->pci, (uint32_t)c + VIRTIO_PCI_CAP_BAR, bar);
	pci_cfg_set32(&p->pci, (uint32_t)c + VIRTIO_PCI_CAP_OFFSET, off);
	pci_cfg_set32(&p->pci, (uint32_t)c + VIRTIO_PCI_CAP_LENGTH, length);
	return c;
}

static int add_caps(struct virtio_pci *p)
{
	uint32_t cfg_size = p->dev->ops->config_size;
	int c;

	if ((c = add_vcap(p, VIRTIO_PCI_CAP_COMMON_CFG, 16, VIRTIO_PCI_MODERN_BAR,
			  VIRTIO_PCI_COMMON_OFF, VIRTIO_PCI_REGION_SIZE)) < 0)
		return c;
	if ((c = add_vcap(p, VIRTIO_PCI_CAP_ISR_CFG, 16, VIRTIO_PCI_MODERN_BAR,
			  VIRTIO_PCI_ISR_OFF, VIRTIO_PCI_REGION_SIZE)) < 0)
		return c;
	if (cfg_size && (c = add_vcap(p, VIRTIO_PCI_CAP_DEVICE_CFG, 16, VIRTIO_PCI_MODERN_BAR,
				      VIRTIO_PCI_DEVICE_OFF, VIRTIO_PCI_REGION_SIZE)) < 0)
		return c;
	if ((c = add_vcap(p, VIRTIO_PCI_CAP_NOTIFY_CFG, 20, VIRTIO_PCI_MODERN_BAR,
			  VIRTIO_PCI_NOTIFY_OFF, VIRTIO_PCI_REGION_SIZE)) < 0)
		return c;
	pci_cfg_set32(&p->pci, (uint32_t)c + VIRTIO_PCI_CAP_NOTIFY_MULT, VIRTIO_PCI_NOTIFY_MULT);
	if ((c = add_vcap(p, VIRTIO_PCI_CAP_PCI_CFG, 20, 0, 0, 0)) < 0)
		return c;
	p->pci_cfg_cap = (uint8_t)c;
	/* The driver programs bar, offset, length and the data window. */
	pci_set_wmask(&p->pci, (uint32_t)c + VIRTIO_PCI_CAP_BAR, 1, 0xff);
	pci_set_wmask(&p->pci, (uint32_t)c + VIRTIO_PCI_CAP_OFFSET, 4, UINT32_MAX);
	pci_set_wmask(&p->pci, (uint32_t)c + VIRTIO_PCI_CAP_LENGTH, 4, UINT32_MAX);
	pci_set_wmask(&p->pci, (uint32_t)c + VIRTIO_PCI_CAP_PCI_CFG_DATA, 4, UINT32_MAX);
	return 0;
}

int virtio_pci_init(struct virtio_pci *p, struct virtio_dev *d, bool transitional,
		    struct irq_line intx, const struct virtio_notify_hooks *hooks,
		    const struct msix_host_ops *msix_ops_from_host)
{
	uint32_t id = d->ops->device_id;
	int tid = transitional_id(id);
	uint16_t nvec = (uint16_t)(nqueues(d) + 1);
	int r;

	memset(p, 0, sizeof(*p));
	if ((transitional && tid < 0) || id > 0xffff - VIRTIO_PCI_MODERN_ID_BASE)
		return -EINVAL;
	p->dev = d;
	p->legacy_bar = transitional;
	p->hooks = hooks;
	p->intx = intx;
	p->config_vector = VIRTIO_PCI_NO_VECTOR;
	for (int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		p->queue_vector[q] = VIRTIO_PCI_NO_VECTOR;

	/* §4.1.2: vendor 0x1AF4; transitional devices carry the virtio device
	 * id as subsystem id (§4.1.2.1) — we do so for modern ones too, as
	 * QEMU does. */
	pci_dev_init(&p->pci, VIRTIO_PCI_VENDOR,
		     (uint16_t)(transitional ? tid : (int)(VIRTIO_PCI_MODERN_ID_BASE + id)),
		     class_of(id), transitional ? 0 : 1, VIRTIO_PCI_VENDOR, (uint16_t)id, intx);
	p->pci.ops = &vp_pci_ops;
	p->pci.owner = p;

	if (transitional) {
		uint64_t size = VIRTIO_PCI_L_CONFIG(1) + (uint64_t)d->ops->config_size;

		if ((r = pci_set_bar(&p->pci, VIRTIO_PCI_LEGACY_BAR, PCI_BAR_IO, false, size,
				     &virtio_pci_legacy_ops, p)))
			return r;
	}
	if ((r = pci_set_bar(&p->pci, VIRTIO_PCI_MSIX_BAR, PCI_BAR_MEM32, false,
			     VIRTIO_PCI_MSIX_BAR_SIZE, &msix_bar_ops, &p->msix)) ||
	    (r = pci_set_bar(&p->pci, VIRTIO_PCI_MODERN_BAR, PCI_BAR_MEM64, true,
			     VIRTIO_PCI_MODERN_BAR_SIZE, &virtio_pci_modern_ops, p)))
		return r;
	if ((r = msix_init(&p->msix, &p->pci, nvec, VIRTIO_PCI_MSIX_BAR, 0, VIRTIO_PCI_MSIX_PBA_OFF,
			   msix_ops_from_host)))
		return r;
	if ((r = add_caps(p)))
		return r;

	/* The modern interface exists, so VERSION_1 is offered; a legacy
	 * driver never sees bits above 31. */
	d->host_features |= 1ull << VIRTIO_F_VERSION_1;
	d->legacy = false;
	d->tops = &vp_tops;
	d->transport_priv = p;
	return 0;
}

void virtio_pci_destroy(struct virtio_pci *p)
{
	msix_destroy(&p->msix);
	pci_dev_destroy(&p->pci);
}
