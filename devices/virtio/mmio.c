/* virtio-mmio transport, versions 1 (legacy) and 2 (modern): virtio 1.2 §4.2.
 *
 * Locking: every register access runs with d->lock held; the one exception is
 * the synchronous QueueNotify path, which drops the lock before calling the
 * device's queue_notify (virtio.h: devices take the lock themselves). */
#include "virtio/mmio.h"

#include <inttypes.h>
#include <string.h>

#define MMIO_DEFAULT_PAGE_SIZE  4096u   /* until the driver writes GuestPageSize */
#define MMIO_DEFAULT_ALIGN      4096u   /* legacy vring alignment (§2.7.2 legacy note) */

#define NO_NOTIFY UINT32_MAX

/* ---- helpers ---- */

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

static bool is_legacy(const struct virtio_mmio *m)
{
	return m->version == 1;
}

/* Guest errors: one rate-limited line (virtio_warn), naming this window. */
#define mmio_log(m, fmt, ...) \
	virtio_warn((m)->dev, "mmio@0x%" PRIx64 ": " fmt, (m)->base, ##__VA_ARGS__)

/* The selected queue, or NULL if QueueSel is out of range. */
static struct virtq *sel_vq(struct virtio_mmio *m)
{
	struct virtio_dev *d = m->dev;

	if (m->queue_sel >= d->num_queues)
		return NULL;
	return &d->vq[m->queue_sel];
}

static void irq_lower_if_idle(struct virtio_mmio *m)
{
	if (m->irq_level && m->dev->isr == 0) {
		m->irq_level = false;
		irq_line_set(&m->irq, 0);
	}
}

/* ---- virtio_transport_ops ---- */

static void mmio_interrupt(struct virtio_dev *d, int q, uint32_t isr_bits)
{
	struct virtio_mmio *m = d->transport_priv;

	/* The core has already set isr_bits in d->isr; InterruptStatus shows
	 * them until the driver acks (§4.2.2.1). */
	if (!d->isr)
		return;
	m->irq_level = true;
	irq_line_set(&m->irq, 1);
}

/* DRIVER_OK: hand each ready queue's notifications to the host's fast path.
 * One address for all queues; the written value (the queue index, §4.2.3.3
 * without NOTIFICATION_DATA) tells them apart, hence datamatch = q. */
static void mmio_started(struct virtio_dev *d)
{
	struct virtio_mmio *m = d->transport_priv;
	const struct virtio_notify_hooks *h = m->hooks;

	if (!h || !h->attach)
		return;
	for (uint16_t q = 0; q < d->num_queues; q++) {
		if (!d->vq[q].ready || (m->attached & (1u << q)))
			continue;
		if (h->attach(h->opaque, d, q, m->base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, false, q) == 0)
			m->attached |= 1u << q;
	}
}

static void mmio_stopped(struct virtio_dev *d)
{
	struct virtio_mmio *m = d->transport_priv;
	const struct virtio_notify_hooks *h = m->hooks;

	for (uint16_t q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		if (!(m->attached & (1u << q)))
			continue;
		if (h && h->detach)
			h->detach(h->opaque, d, q);
	}
	m->attached = 0;
	irq_lower_if_idle(m);
}

static const struct virtio_transport_ops mmio_tops = {
	.interrupt = mmio_interrupt,
	.started = mmio_started,
	.stopped = mmio_stopped,
};

void virtio_mmio_init(struct virtio_mmio *m, struct virtio_dev *d, int version, uint64_t base,
		      struct irq_line irq, const struct virtio_notify_hooks *hooks)
{
	memset(m, 0, sizeof(*m));
	m->dev = d;
	m->version = version == 1 ? 1 : 2;
	m->base = base;
	m->irq = irq;
	m->hooks = hooks;
	m->guest_page_size = MMIO_DEFAULT_PAGE_SIZE;
	for (int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		m->lq[i].align = MMIO_DEFAULT_ALIGN;

	d->legacy = is_legacy(m);
	if (!d->legacy)
		d->host_features |= 1ull << VIRTIO_F_VERSION_1;
	d->tops = &mmio_tops;
	d->transport_priv = m;
}

/* ---- legacy queue layout ---- */

/* §2.7.2 legacy layout: descriptor table at PFN * GuestPageSize, available
 * ring right after it (16 bytes per descriptor), used ring at the next
 * QueueAlign boundary after the available ring (flags, idx, ring[num],
 * used_event: 6 + 2 * num bytes). virtq_start() checks the result. */
static void legacy_place_rings(struct virtio_mmio *m, uint32_t qi)
{
	struct virtq *vq = &m->dev->vq[qi];
	uint64_t align = m->lq[qi].align;
	uint64_t desc = (uint64_t)m->lq[qi].pfn * m->guest_page_size;
	uint64_t avail = desc + 16ull * vq->num;
	uint64_t used = (avail + 6 + 2ull * vq->num + align - 1) & ~(align - 1);

	vq->desc_gpa = desc;
	vq->avail_gpa = avail;
	vq->used_gpa = used;
	vq->ready = m->lq[qi].pfn != 0;
}

/* Device reset as the transport sees it: legacy QueuePFN reads 0 for every
 * queue (§4.2.4 Status), QueueAlign back to its default. */
static void transport_reset(struct virtio_mmio *m)
{
	for (int i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		m->lq[i].pfn = 0;
		m->lq[i].align = MMIO_DEFAULT_ALIGN;
	}
	irq_lower_if_idle(m);
}

/* ---- registers ---- */

static uint32_t read_features(struct virtio_mmio *m)
{
	uint32_t sel = m->device_features_sel;

	/* Legacy has 32 feature bits; 32..63 (VERSION_1 among them) are never
	 * shown to a legacy driver. */
	if (is_legacy(m) && sel != 0)
		return 0;
	if (sel > 1)
		return 0;
	return virtio_get_host_features(m->dev, sel);
}

static uint32_t reg_read(struct virtio_mmio *m, uint64_t off)
{
	struct virtio_dev *d = m->dev;
	struct virtq *vq;

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return (uint32_t)m->version;
	case VIRTIO_MMIO_DEVICE_ID:
		return d->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return read_features(m);
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		vq = sel_vq(m);
		return vq ? vq->num_max : 0;
	case VIRTIO_MMIO_QUEUE_PFN:
		vq = sel_vq(m);
		/* Reads 0 once the queue is no longer live (reset, PFN 0). */
		if (!is_legacy(m) || !vq || !vq->ready)
			return 0;
		return m->lq[m->queue_sel].pfn;
	case VIRTIO_MMIO_QUEUE_READY:
		vq = sel_vq(m);
		return !is_legacy(m) && vq && vq->ready;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return d->isr;
	case VIRTIO_MMIO_STATUS:
		return d->status;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return is_legacy(m) ? 0 : d->config_generation;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		/* No shared memory regions: length and base read as all ones
		 * (§4.2.2 SHMLen/SHMBase "non-existent region"). */
		return is_legacy(m) ? 0 : UINT32_MAX;
	default:
		/* Write-only registers (the driver MUST NOT read them,
		 * §4.2.2.2) and holes read as 0. */
		return 0;
	}
}

static void write_driver_features(struct virtio_mmio *m, uint32_t value)
{
	uint32_t sel = m->driver_features_sel;

	if (sel > 1 || (is_legacy(m) && sel != 0)) {
		if (value)
			mmio_log(m, "driver features word %" PRIu32 " = 0x%" PRIx32 " ignored",
				 sel, value);
		return;
	}
	virtio_set_guest_features(m->dev, sel, value);
}

static void write_status(struct virtio_mmio *m, uint32_t value)
{
	struct virtio_dev *d = m->dev;

	/* Status is 8 bits (§2.1); a write with higher bits set is garbage, and
	 * must not turn into a reset by truncation. */
	if (value > 0xff) {
		mmio_log(m, "Status 0x%" PRIx32 " ignored", value);
		return;
	}
	/* The core resets on 0, enforces the status rules (§2.1, §3.1) and
	 * calls our started/stopped hooks. */
	virtio_set_status(d, (uint8_t)value);
	if (value == 0)
		transport_reset(m);
}

/* Queue registers of the selected queue; false if the write is refused. */
static bool queue_write_allowed(struct virtio_mmio *m, uint64_t off)
{
	if (!sel_vq(m)) {
		mmio_log(m, "queue register 0x%03" PRIx64 " for queue %" PRIu32
			 " out of range ignored", off, m->queue_sel);
		return false;
	}
	/* Queue configuration outside its window (modern: after FEATURES_OK
	 * and before DRIVER_OK, §3.1.1 / §4.2.3.2; legacy: before DRIVER_OK)
	 * is ignored rather than answered with NEEDS_RESET: Linux itself
	 * writes QueueReady 0 (modern) or QueuePFN 0 (legacy) when it deletes
	 * queues, which may come after a reset, and a freshly reset device
	 * must not be marked broken for that. */
	if (!virtio_queue_config_allowed(m->dev)) {
		mmio_log(m, "queue register 0x%03" PRIx64 " written in status 0x%02x ignored",
			 off, m->dev->status);
		return false;
	}
	return true;
}

static void set_lo(uint64_t *v, uint32_t lo)
{
	*v = (*v & 0xffffffff00000000ull) | lo;
}

static void set_hi(uint64_t *v, uint32_t hi)
{
	*v = (*v & 0xffffffffull) | (uint64_t)hi << 32;
}

static void modern_queue_write(struct virtio_mmio *m, struct virtq *vq, uint64_t off,
			       uint32_t value)
{
	switch (off) {
	case VIRTIO_MMIO_QUEUE_READY:
		vq->ready = value != 0;
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		set_lo(&vq->desc_gpa, value);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		set_hi(&vq->desc_gpa, value);
		break;
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
		set_lo(&vq->avail_gpa, value);
		break;
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
		set_hi(&vq->avail_gpa, value);
		break;
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
		set_lo(&vq->used_gpa, value);
		break;
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		set_hi(&vq->used_gpa, value);
		break;
	}
}

static void legacy_queue_write(struct virtio_mmio *m, uint32_t qi, uint64_t off, uint32_t value)
{
	switch (off) {
	case VIRTIO_MMIO_QUEUE_ALIGN:
		if (!is_pow2(value)) {
			mmio_log(m, "QueueAlign 0x%" PRIx32 " not a power of two ignored", value);
			return;
		}
		m->lq[qi].align = value;
		break;
	case VIRTIO_MMIO_QUEUE_PFN:
		/* 0 is "stop using the queue" (§4.2.4 QueuePFN). */
		m->lq[qi].pfn = value;
		break;
	}
	if (m->lq[qi].pfn)
		legacy_place_rings(m, qi);
	else
		m->dev->vq[qi].ready = false;
}

static void queue_write(struct virtio_mmio *m, uint64_t off, uint32_t value)
{
	struct virtq *vq;
	bool common = off == VIRTIO_MMIO_QUEUE_NUM;
	bool legacy_reg = off == VIRTIO_MMIO_QUEUE_ALIGN || off == VIRTIO_MMIO_QUEUE_PFN;

	if (!common && legacy_reg != is_legacy(m)) {
		mmio_log(m, "%s register 0x%03" PRIx64 " written on a version %d device ignored",
			 legacy_reg ? "legacy" : "modern", off, m->version);
		return;
	}
	if (!queue_write_allowed(m, off))
		return;
	vq = sel_vq(m);
	if (off == VIRTIO_MMIO_QUEUE_NUM) {
		/* Stored as given; virtq_start() checks it against num_max and
		 * the layout's rules. Sizes that do not fit become 0, which it
		 * refuses. */
		vq->num = value <= UINT16_MAX ? (uint16_t)value : 0;
		if (is_legacy(m) && m->lq[m->queue_sel].pfn)
			legacy_place_rings(m, m->queue_sel);
		return;
	}
	if (is_legacy(m))
		legacy_queue_write(m, m->queue_sel, off, value);
	else
		modern_queue_write(m, vq, off, value);
}

/* QueueNotify: returns the queue to notify synchronously once the lock is
 * dropped, or NO_NOTIFY. */
static uint32_t queue_notify(struct virtio_mmio *m, uint32_t value)
{
	struct virtio_dev *d = m->dev;

	if (value >= d->num_queues) {
		mmio_log(m, "QueueNotify for queue %" PRIu32 " out of range ignored", value);
		return NO_NOTIFY;
	}
	/* An attached queue's kicks belong to the ioeventfd; one that reaches
	 * us raced with its registration and predates DRIVER_OK, which the
	 * driver must not do (§3.1.1). */
	if (m->attached & (1u << value))
		return NO_NOTIFY;
	/* The device must not touch a queue that is not live (§4.2.2.1); after
	 * NEEDS_RESET a ready queue may never have been started. */
	if ((d->status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET)) !=
	    VIRTIO_STATUS_DRIVER_OK || !d->vq[value].ready)
		return NO_NOTIFY;
	return value;
}

static uint32_t reg_write(struct virtio_mmio *m, uint64_t off, uint32_t value)
{
	struct virtio_dev *d = m->dev;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		m->device_features_sel = value;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		write_driver_features(m, value);
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		m->driver_features_sel = value;
		break;
	case VIRTIO_MMIO_GUEST_PAGE_SIZE:
		/* Accepted in any status: Linux writes it at probe time,
		 * whatever state a previous kernel left the device in. */
		if (!is_legacy(m) || !is_pow2(value)) {
			mmio_log(m, "GuestPageSize 0x%" PRIx32 " ignored", value);
			break;
		}
		m->guest_page_size = value;
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		m->queue_sel = value;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
	case VIRTIO_MMIO_QUEUE_ALIGN:
	case VIRTIO_MMIO_QUEUE_PFN:
	case VIRTIO_MMIO_QUEUE_READY:
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		queue_write(m, off, value);
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		return queue_notify(m, value);
	case VIRTIO_MMIO_INTERRUPT_ACK:
		d->isr &= ~value;
		irq_lower_if_idle(m);
		break;
	case VIRTIO_MMIO_STATUS:
		write_status(m, value);
		break;
	case VIRTIO_MMIO_SHM_SEL:
		break;
	default:
		mmio_log(m, "write 0x%" PRIx32 " to read-only or unknown register 0x%03" PRIx64
			 " ignored", value, off);
		break;
	}
	return NO_NOTIFY;
}

/* ---- io_ops ---- */

static bool access_ok(struct virtio_mmio *m, uint64_t off, uint32_t len, const char *what)
{
	if (len == 0 || off >= VIRTIO_MMIO_SIZE || len > VIRTIO_MMIO_SIZE - off) {
		mmio_log(m, "%s of %" PRIu32 " bytes at 0x%" PRIx64 " outside the window", what,
			 len, off);
		return false;
	}
	/* §4.2.2.2: control registers take 32-bit aligned accesses only. */
	if (off < VIRTIO_MMIO_CONFIG && (len != 4 || (off & 3))) {
		mmio_log(m, "%s of %" PRIu32 " bytes at register 0x%03" PRIx64 " ignored", what,
			 len, off);
		return false;
	}
	return true;
}

static void virtio_mmio_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	struct virtio_mmio *m = opaque;
	struct virtio_dev *d = m->dev;

	memset(data, 0, len);
	pthread_mutex_lock(&d->lock);
	if (access_ok(m, off, len, "read")) {
		if (off >= VIRTIO_MMIO_CONFIG)
			virtio_config_read(d, (uint32_t)(off - VIRTIO_MMIO_CONFIG), data, len);
		else
			put_le32(data, reg_read(m, off));
	}
	pthread_mutex_unlock(&d->lock);
}

static void virtio_mmio_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct virtio_mmio *m = opaque;
	struct virtio_dev *d = m->dev;
	uint32_t notify = NO_NOTIFY;

	pthread_mutex_lock(&d->lock);
	if (access_ok(m, off, len, "write")) {
		if (off >= VIRTIO_MMIO_CONFIG)
			virtio_config_write(d, (uint32_t)(off - VIRTIO_MMIO_CONFIG), data, len);
		else
			notify = reg_write(m, off, get_le32(data));
	}
	pthread_mutex_unlock(&d->lock);

	/* The device takes d->lock itself and must cope with a reset that
	 * slipped in after we dropped it. */
	if (notify != NO_NOTIFY && d->ops->queue_notify)
		d->ops->queue_notify(d, (uint16_t)notify);
}

const struct io_ops virtio_mmio_ops = {
	.read = virtio_mmio_read,
	.write = virtio_mmio_write,
};
