/* The virtio device core (virtio 1.2 §2, §3.1): status state machine,
 * feature negotiation, config space bounds, and the run-time byte order of
 * legacy devices (DESIGN.md, "The endianness rule"). */
#include "virtio/virtio.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* The host's byte order is the only compile-time fact (DESIGN.md). */
#define HOST_BIG_ENDIAN (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)

/* ---- byte order ---- */

/* Swap iff the device's order differs from the host's. */
static inline bool need_swap(const struct virtio_dev *d)
{
	return virtio_is_big_endian(d) != HOST_BIG_ENDIAN;
}

uint16_t virtio16_to_cpu(const struct virtio_dev *d, uint16_t v)
{
	return need_swap(d) ? __builtin_bswap16(v) : v;
}

uint32_t virtio32_to_cpu(const struct virtio_dev *d, uint32_t v)
{
	return need_swap(d) ? __builtin_bswap32(v) : v;
}

uint64_t virtio64_to_cpu(const struct virtio_dev *d, uint64_t v)
{
	return need_swap(d) ? __builtin_bswap64(v) : v;
}

/* A swap is its own inverse. */
uint16_t cpu_to_virtio16(const struct virtio_dev *d, uint16_t v) { return virtio16_to_cpu(d, v); }
uint32_t cpu_to_virtio32(const struct virtio_dev *d, uint32_t v) { return virtio32_to_cpu(d, v); }
uint64_t cpu_to_virtio64(const struct virtio_dev *d, uint64_t v) { return virtio64_to_cpu(d, v); }

uint16_t virtio_get16(const struct virtio_dev *d, const void *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return virtio16_to_cpu(d, v);
}

uint32_t virtio_get32(const struct virtio_dev *d, const void *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return virtio32_to_cpu(d, v);
}

uint64_t virtio_get64(const struct virtio_dev *d, const void *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return virtio64_to_cpu(d, v);
}

void virtio_put16(const struct virtio_dev *d, void *p, uint16_t v)
{
	v = cpu_to_virtio16(d, v);
	memcpy(p, &v, sizeof(v));
}

void virtio_put32(const struct virtio_dev *d, void *p, uint32_t v)
{
	v = cpu_to_virtio32(d, v);
	memcpy(p, &v, sizeof(v));
}

void virtio_put64(const struct virtio_dev *d, void *p, uint64_t v)
{
	v = cpu_to_virtio64(d, v);
	memcpy(p, &v, sizeof(v));
}

/* ---- rate-limited warnings ---- */

#define WARN_PER_SECOND 10

void virtio_warn(const struct virtio_dev *d, const char *fmt, ...)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static time_t window;
	static unsigned printed, dropped;
	struct timespec now;
	char msg[256];
	va_list ap;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&lock);
	if (now.tv_sec != window) {
		if (dropped)
			fprintf(stderr, "kvmini: virtio: %u warnings suppressed\n", dropped);
		window = now.tv_sec;
		printed = dropped = 0;
	}
	if (printed >= WARN_PER_SECOND) {
		dropped++;
		pthread_mutex_unlock(&lock);
		return;
	}
	printed++;
	pthread_mutex_unlock(&lock);

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "kvmini: virtio-%s: %s\n",
		d && d->ops && d->ops->name ? d->ops->name : "?", msg);
}

/* ---- life cycle ---- */

static void raise_interrupt(struct virtio_dev *d, int q, uint32_t bits)
{
	d->isr |= bits;
	if (d->tops && d->tops->interrupt)
		d->tops->interrupt(d, q, bits);
}

/* Everything the driver negotiated goes; config_generation does not, so a
 * driver comparing generations across a reset still sees a change. */
static void reset_state(struct virtio_dev *d, enum virtio_endian endian)
{
	d->device_endian = endian;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		virtq_reset(&d->vq[i]);
	d->guest_features = 0;
	d->status = 0;
	d->isr = 0;
}

static enum virtio_endian platform_default(const struct virtio_dev *d)
{
	return d->platform ? d->platform->default_endian : VIRTIO_ENDIAN_LITTLE;
}

void virtio_dev_init(struct virtio_dev *d, const struct virtio_dev_ops *ops, void *dev_priv,
		     uint64_t host_features, struct guest_mem *mem,
		     const struct virtio_platform *platform)
{
	unsigned nq = ops->num_queues < VIRTIO_MAX_QUEUES ? ops->num_queues : VIRTIO_MAX_QUEUES;
	unsigned qmax = ops->queue_max_size < VIRTQ_MAX_SIZE ? ops->queue_max_size : VIRTQ_MAX_SIZE;

	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	d->ops = ops;
	d->dev_priv = dev_priv;
	d->host_features = host_features;
	d->mem = mem;
	d->platform = platform;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		d->vq[i].dev = d;
		d->vq[i].index = (uint16_t)i;
		d->vq[i].num_max = i < nq ? (uint16_t)qmax : 0;   /* 0: queue absent */
	}
	d->num_queues = (uint16_t)nq;
	reset_state(d, platform_default(d));
}

void virtio_dev_set_num_queues(struct virtio_dev *d, uint16_t n)
{
	uint16_t qmax = d->ops->queue_max_size < VIRTQ_MAX_SIZE ? d->ops->queue_max_size
								 : VIRTQ_MAX_SIZE;
	if (n < 1)
		n = 1;
	if (n > VIRTIO_MAX_QUEUES)
		n = VIRTIO_MAX_QUEUES;
	d->num_queues = n;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		d->vq[i].num_max = i < n ? qmax : 0;
		virtq_reset(&d->vq[i]);
	}
}

void virtio_dev_destroy(struct virtio_dev *d)
{
	pthread_mutex_destroy(&d->lock);
}

static void do_reset(struct virtio_dev *d, enum virtio_endian endian)
{
	reset_state(d, endian);
	if (d->ops->reset)
		d->ops->reset(d);
	if (d->tops && d->tops->stopped)
		d->tops->stopped(d);
}

/* DESIGN.md: a guest-initiated reset samples the byte order of the vCPU that
 * wrote status 0; "not on a vCPU" (-1) falls back to the default. */
static enum virtio_endian sample_endian(const struct virtio_dev *d)
{
	const struct virtio_platform *p = d->platform;
	int be = p && p->current_vcpu_is_big_endian ? p->current_vcpu_is_big_endian(p->opaque) : -1;

	if (be < 0)
		return platform_default(d);
	return be ? VIRTIO_ENDIAN_BIG : VIRTIO_ENDIAN_LITTLE;
}

void virtio_system_reset(struct virtio_dev *d)
{
	do_reset(d, platform_default(d));
}

/* §3.1.1 step 5: the device refuses features it did not offer, and a modern
 * device refuses a driver without VERSION_1 (§6.1: it is offered to a modern
 * driver and a modern driver must accept it). */
static bool features_acceptable(const struct virtio_dev *d)
{
	if (d->guest_features & ~d->host_features)
		return false;
	return virtio_has_feature(d, VIRTIO_F_VERSION_1);
}

/* DRIVER_OK: start the ready queues with the negotiated layout, then the
 * device, then the transport's fast path. Any failure: NEEDS_RESET. */
static void driver_ok(struct virtio_dev *d)
{
	if (!d->legacy && !(d->status & VIRTIO_STATUS_FEATURES_OK)) {
		virtio_warn(d, "DRIVER_OK without FEATURES_OK");
		virtio_set_needs_reset(d);
		return;
	}
	for (unsigned i = 0; i < d->num_queues; i++) {
		struct virtq *q = &d->vq[i];
		int rc;

		if (!q->ready)
			continue;
		rc = virtq_start(q);
		if (rc) {
			virtio_warn(d, "queue %u: bad configuration (size %u, desc 0x%llx, "
				    "avail 0x%llx, used 0x%llx): %d", i, q->num,
				    (unsigned long long)q->desc_gpa, (unsigned long long)q->avail_gpa,
				    (unsigned long long)q->used_gpa, rc);
			virtio_set_needs_reset(d);
			return;
		}
	}
	if (d->ops->activate) {
		int rc = d->ops->activate(d);
		if (rc) {
			virtio_warn(d, "activation failed: %s", strerror(-rc));
			virtio_set_needs_reset(d);
			return;
		}
	}
	if (d->tops && d->tops->started)
		d->tops->started(d);
}

void virtio_set_status(struct virtio_dev *d, uint8_t status)
{
	uint8_t old = d->status, added;

	if (status == 0) {
		do_reset(d, sample_endian(d));
		return;
	}
	/* NEEDS_RESET is the device's bit: the driver can neither set nor
	 * clear it (only a reset does). */
	status = (uint8_t)((status & ~VIRTIO_STATUS_NEEDS_RESET) | (old & VIRTIO_STATUS_NEEDS_RESET));
	added = status & ~old;

	/* Legacy devices have no FEATURES_OK handshake (§4.2.4, §6.2.1). */
	if (!d->legacy && (added & VIRTIO_STATUS_FEATURES_OK) && !features_acceptable(d)) {
		virtio_warn(d, "refusing features 0x%llx (offered 0x%llx)",
			    (unsigned long long)d->guest_features,
			    (unsigned long long)d->host_features);
		status &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
		added &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	}
	d->status = status;
	if (added & VIRTIO_STATUS_DRIVER_OK)
		driver_ok(d);
}

void virtio_set_guest_features(struct virtio_dev *d, uint32_t sel, uint32_t value)
{
	unsigned shift;
	uint64_t mask;

	if (sel > 1)
		return;
	/* §3.1.1: features are fixed once FEATURES_OK (or, legacy, DRIVER_OK)
	 * is set. */
	if (d->status & (VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK))
		return;
	shift = sel * 32;
	mask = 0xffffffffull << shift;
	/* A legacy driver has no handshake to be refused by: keep only what
	 * we offered, so an unoffered bit can never switch on ring features. */
	if (d->legacy)
		value &= (uint32_t)(d->host_features >> shift);
	d->guest_features = (d->guest_features & ~mask) | ((uint64_t)value << shift);
}

uint32_t virtio_get_host_features(const struct virtio_dev *d, uint32_t sel)
{
	if (sel > 1)
		return 0;
	return (uint32_t)(d->host_features >> (sel * 32));
}

bool virtio_queue_config_allowed(const struct virtio_dev *d)
{
	if (d->status & VIRTIO_STATUS_DRIVER_OK)
		return false;
	/* §3.1.1 step 7: a modern driver sets up queues after FEATURES_OK. */
	return d->legacy || (d->status & VIRTIO_STATUS_FEATURES_OK);
}

static bool config_in_range(const struct virtio_dev *d, uint32_t off, uint32_t len)
{
	/* Written as a subtraction so off+len cannot wrap. */
	return off <= d->ops->config_size && len <= d->ops->config_size - off;
}

void virtio_config_read(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len)
{
	memset(data, 0, len);
	if (config_in_range(d, off, len) && d->ops->config_read)
		d->ops->config_read(d, off, data, len);
}

void virtio_config_write(struct virtio_dev *d, uint32_t off, const uint8_t *data, uint32_t len)
{
	if (config_in_range(d, off, len) && d->ops->config_write)
		d->ops->config_write(d, off, data, len);
}

void virtio_set_needs_reset(struct virtio_dev *d)
{
	d->status |= VIRTIO_STATUS_NEEDS_RESET;
	/* §2.1.2: tell a live driver through a configuration change
	 * notification. */
	if (d->status & VIRTIO_STATUS_DRIVER_OK)
		raise_interrupt(d, -1, 2);
}

void virtio_queue_notify_driver(struct virtio_dev *d, uint16_t q)
{
	if (q >= VIRTIO_MAX_QUEUES || !(d->status & VIRTIO_STATUS_DRIVER_OK))
		return;
	if (virtq_should_notify(&d->vq[q]))
		raise_interrupt(d, q, 1);
}

void virtio_config_changed(struct virtio_dev *d)
{
	/* §2.5.1: the generation changes with the contents, even before
	 * DRIVER_OK (a driver may be reading config during initialisation);
	 * the interrupt only goes to a live driver. */
	d->config_generation++;
	if (d->status & VIRTIO_STATUS_DRIVER_OK)
		raise_interrupt(d, -1, 2);
}

int virtio_queue_serve(struct virtio_dev *d, uint16_t qi, struct virtq_elem *e,
		       int (*handle)(void *ctx, const struct virtq_elem *e), void *ctx)
{
	struct virtq *vq = &d->vq[qi];
	int served = 0, ret = 0;

	for (;;) {
		virtq_enable_notify(vq, false);
		for (;;) {
			int r = virtq_pop(vq, e);
			if (r == 0)
				break;
			if (r > 0)
				r = handle(ctx, e);
			if (r < 0) {
				virtio_set_needs_reset(d);
				ret = -EINVAL;
				goto done;
			}
			virtq_push(vq, e, (uint32_t)r);
			served++;
		}
		virtq_enable_notify(vq, true);
		if (!virtq_has_work(vq))
			break;
	}
done:
	if (served)
		virtio_queue_notify_driver(d, qi);
	return ret ? ret : served;
}
