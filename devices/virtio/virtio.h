/* The virtio device core: what every virtio device has whatever transport
 * carries it (virtio 1.2 §2): features, status, config generation, queues, and
 * the byte order of a legacy device (device_endian).
 *
 * Layering: a *device* (blk, net) fills in virtio_dev_ops and never knows its
 * transport; a *transport* (mmio, pci) calls the virtio_* functions below and
 * implements virtio_transport_ops; neither includes anything from arch/, boot/
 * or vmm/. The host's byte order is the only compile-time fact used here. */
#ifndef KVMINI_DEVICES_VIRTIO_H
#define KVMINI_DEVICES_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "guest_mem.h"
#include "virtio/virtq.h"

/* Feature bits (virtio 1.2 §6) */
#define VIRTIO_F_NOTIFY_ON_EMPTY     24   /* legacy */
#define VIRTIO_F_ANY_LAYOUT          27   /* legacy */
#define VIRTIO_F_RING_INDIRECT_DESC  28
#define VIRTIO_F_RING_EVENT_IDX      29
#define VIRTIO_F_VERSION_1           32
#define VIRTIO_F_ACCESS_PLATFORM     33
#define VIRTIO_F_RING_PACKED         34

/* Device status bits (§2.1) */
#define VIRTIO_STATUS_ACKNOWLEDGE    1
#define VIRTIO_STATUS_DRIVER         2
#define VIRTIO_STATUS_DRIVER_OK      4
#define VIRTIO_STATUS_FEATURES_OK    8
#define VIRTIO_STATUS_NEEDS_RESET    0x40
#define VIRTIO_STATUS_FAILED         0x80

/* Queues one device may have: 16 request queues of a multi-queue disk, or
 * net's RX/TX pairs and control queue, with room. */
#define VIRTIO_MAX_QUEUES 32

enum virtio_endian { VIRTIO_ENDIAN_LITTLE = 0, VIRTIO_ENDIAN_BIG = 1 };

struct virtio_dev;

/* What the platform (vmm + arch) tells the core about byte order. Called on
 * a guest-initiated reset from the thread of the vCPU that wrote status 0. */
struct virtio_platform {
	/* 1 big-endian, 0 little-endian, -1 "not called from a vCPU" (then the
	 * default applies). */
	int (*current_vcpu_is_big_endian)(void *opaque);
	enum virtio_endian default_endian;   /* the architecture's default */
	void *opaque;
};

struct vq_poll_env;

/* Implemented by a device model. All callbacks run with dev->lock held. */
struct virtio_dev_ops {
	const char *name;
	uint32_t device_id;                  /* virtio 1.2 §5: 2 = block, 1 = net */
	uint16_t num_queues;                 /* the default; see virtio_dev_set_num_queues */
	uint16_t queue_max_size;             /* power of two */
	uint32_t config_size;
	/* Config space access at offset off (off+len <= config_size checked by
	 * the core). Multi-byte fields are encoded with virtio_put16/32/64 so a
	 * legacy device presents them in device_endian order. */
	void (*config_read)(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len);
	void (*config_write)(struct virtio_dev *d, uint32_t off, const uint8_t *data, uint32_t len);
	/* DRIVER_OK with the negotiated features; queues are ready. 0 or -errno
	 * (then the core sets NEEDS_RESET). */
	int (*activate)(struct virtio_dev *d);
	/* Device reset: drop in-flight state (called with queues already reset). */
	void (*reset)(struct virtio_dev *d);
	/* The driver notified queue q (from the iothread with ioeventfd, or the
	 * vCPU thread without). Called WITHOUT dev->lock: devices take it around
	 * queue operations. */
	void (*queue_notify)(struct virtio_dev *d, uint16_t q);
	/* The same, from a thread that may busy-wait for more (an I/O thread,
	 * never a vCPU's): serve q, then poll it a while before returning
	 * with kicks on (vq_poll.h). Optional; env says when to stop early. */
	void (*queue_notify_poll)(struct virtio_dev *d, uint16_t q, const struct vq_poll_env *env);
};

/* Implemented by a transport: how the device interrupts the driver, and how
 * queue notifications get wired (ioeventfd) at DRIVER_OK / reset. */
struct virtio_transport_ops {
	/* Raise the used-buffer (isr bit 0) or config-change (bit 1) interrupt
	 * for queue q (-1 for config). */
	void (*interrupt)(struct virtio_dev *d, int q, uint32_t isr_bits);
	/* Optional: DRIVER_OK reached / device reset (e.g. add or remove
	 * ioeventfds). */
	void (*started)(struct virtio_dev *d);
	void (*stopped)(struct virtio_dev *d);
};

/* How a transport hands queue notifications to the host's fast path (KVM
 * ioeventfd served by an iothread). Called at DRIVER_OK and at reset. If
 * attach fails (or no hooks are given), the transport keeps calling
 * ops->queue_notify synchronously from its register write. */
struct virtio_notify_hooks {
	/* A write of len bytes at guest address addr (is_pio: port I/O) with
	 * value datamatch means "queue q has work". */
	int (*attach)(void *opaque, struct virtio_dev *d, uint16_t q, uint64_t addr,
		      uint32_t len, bool is_pio, uint64_t datamatch);
	void (*detach)(void *opaque, struct virtio_dev *d, uint16_t q);
	void *opaque;
	/* Optional: a kick that reached the transport another way (the PCI_CFG
	 * window) handed to the same fast path as ioeventfd kicks. 0, or
	 * -ENOENT when queue q has none (the transport serves it itself). */
	int (*kick)(void *opaque, struct virtio_dev *d, uint16_t q);
};

struct virtio_dev {
	pthread_mutex_t lock;
	const struct virtio_dev_ops *ops;
	void *dev_priv;                      /* the device model's own state */
	const struct virtio_transport_ops *tops;
	void *transport_priv;
	const struct virtio_platform *platform;
	struct guest_mem *mem;

	uint64_t host_features;              /* offered */
	uint64_t guest_features;             /* acked by the driver */
	uint8_t status;
	uint32_t config_generation;
	uint32_t isr;                        /* bit 0 used buffer, bit 1 config change */
	bool legacy;                         /* set by the transport: legacy interface in use */
	enum virtio_endian device_endian;    /* sampled at reset; see virtio_is_big_endian */
	uint16_t num_queues;                 /* queues this device has (<= VIRTIO_MAX_QUEUES) */
	struct virtq vq[VIRTIO_MAX_QUEUES];
};

/* Sets up d (the whole struct is cleared: the transport fills in tops and
 * transport_priv afterwards); host_features must include VIRTIO_F_VERSION_1
 * for modern-capable devices. Starts in the reset state with device_endian =
 * platform default (little if platform is NULL). */
void virtio_dev_init(struct virtio_dev *d, const struct virtio_dev_ops *ops, void *dev_priv,
		     uint64_t host_features, struct guest_mem *mem,
		     const struct virtio_platform *platform);
void virtio_dev_destroy(struct virtio_dev *d);
/* A device whose queue count is chosen per instance (a multi-queue disk)
 * sets it right after virtio_dev_init, before a transport is attached.
 * n is clamped to 1..VIRTIO_MAX_QUEUES. */
void virtio_dev_set_num_queues(struct virtio_dev *d, uint16_t n);

/* ---- called by transports, with d->lock held ---- */

/* Driver writes the status register. Status 0 is a reset: device_endian is
 * sampled from the current vCPU. Enforces §2.1/§3.1: FEATURES_OK is refused
 * (not latched) if the driver acked features we did not offer, or a modern
 * device without VERSION_1; DRIVER_OK before FEATURES_OK on a modern device,
 * or activation failure, sets NEEDS_RESET. */
void virtio_set_status(struct virtio_dev *d, uint8_t status);
/* System reset (no vCPU): device_endian takes the platform default. */
void virtio_system_reset(struct virtio_dev *d);
/* Driver writes 32 feature bits at word sel (0 or 1); ignored after
 * FEATURES_OK (§3.1.1). */
void virtio_set_guest_features(struct virtio_dev *d, uint32_t sel, uint32_t value);
uint32_t virtio_get_host_features(const struct virtio_dev *d, uint32_t sel);
/* Can the driver touch queue configuration now? (legacy: always before
 * DRIVER_OK; modern: after FEATURES_OK and before DRIVER_OK.) */
bool virtio_queue_config_allowed(const struct virtio_dev *d);
void virtio_config_read(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len);
void virtio_config_write(struct virtio_dev *d, uint32_t off, const uint8_t *data, uint32_t len);
/* Marks the device broken (§2.1.2): NEEDS_RESET + config interrupt. */
void virtio_set_needs_reset(struct virtio_dev *d);

/* ---- called by devices ---- */

/* After pushing used elements to queue q: interrupt the driver if the queue's
 * notification rules (EVENT_IDX / NO_INTERRUPT) say so. */
void virtio_queue_notify_driver(struct virtio_dev *d, uint16_t q);
void virtio_config_changed(struct virtio_dev *d);

/* Serves queue qi until it is empty: pops each chain into e, hands it to
 * handle (which returns the bytes it wrote into the chain, or a negative
 * value for a malformed request), pushes it back, and interrupts the driver
 * once at the end. Kicks are suppressed while draining and the queue is
 * looked at again after re-enabling them, so a request added in between is
 * not left waiting for the next kick. A malformed chain or request sets
 * NEEDS_RESET and stops. Call with d->lock held. Returns the number of
 * requests served, or -EINVAL after a malformed one. */
int virtio_queue_serve(struct virtio_dev *d, uint16_t qi, struct virtq_elem *e,
		       int (*handle)(void *ctx, const struct virtq_elem *e), void *ctx);

/* One line to stderr about a misbehaving guest, prefixed with the device's
 * name; rate-limited per process (at most 10 lines a second) so a hostile
 * guest cannot flood the log. */
void virtio_warn(const struct virtio_dev *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline bool virtio_has_feature(const struct virtio_dev *d, unsigned bit)
{
	return (d->guest_features >> bit) & 1;
}

/* The endianness rule (DESIGN.md): legacy and device_endian big. */
static inline bool virtio_is_big_endian(const struct virtio_dev *d)
{
	return d->legacy && d->device_endian == VIRTIO_ENDIAN_BIG;
}

/* ---- byte order of guest-shared structures (rings, headers, legacy config) ---- */
uint16_t virtio16_to_cpu(const struct virtio_dev *d, uint16_t v);
uint32_t virtio32_to_cpu(const struct virtio_dev *d, uint32_t v);
uint64_t virtio64_to_cpu(const struct virtio_dev *d, uint64_t v);
uint16_t cpu_to_virtio16(const struct virtio_dev *d, uint16_t v);
uint32_t cpu_to_virtio32(const struct virtio_dev *d, uint32_t v);
uint64_t cpu_to_virtio64(const struct virtio_dev *d, uint64_t v);
/* Unaligned load/store of a field in device byte order. */
uint16_t virtio_get16(const struct virtio_dev *d, const void *p);
uint32_t virtio_get32(const struct virtio_dev *d, const void *p);
uint64_t virtio_get64(const struct virtio_dev *d, const void *p);
void virtio_put16(const struct virtio_dev *d, void *p, uint16_t v);
void virtio_put32(const struct virtio_dev *d, void *p, uint32_t v);
void virtio_put64(const struct virtio_dev *d, void *p, uint64_t v);

#endif
