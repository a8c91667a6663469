/* virtio-pci transport, modern and transitional: virtio 1.2 §4.1. This
 * file is the transport's core (interrupts, notifications, config space,
 * capabilities, set-up); the modern BAR's registers are in pci_modern.c and
 * the legacy I/O BAR's in pci_legacy.c.
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

uint16_t vp_nqueues(const struct virtio_dev *d)
{
	return d->num_queues;
}

struct virtq *vp_vq_of(struct virtio_pci *p, uint32_t q)
{
	return q < vp_nqueues(p->dev) ? &p->dev->vq[q] : NULL;
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
	for (uint16_t q = 0; q < vp_nqueues(d); q++) {
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
	vp_modern_read(p, boff, buf, blen);
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
		uint32_t q = vp_modern_write_locked(p, boff,
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
	uint16_t nvec = (uint16_t)(vp_nqueues(d) + 1);
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
