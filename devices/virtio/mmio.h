/* The virtio-mmio transport (virtio 1.2 §4.2): a 0x200-byte register window
 * followed by nothing else, one interrupt line, and queue notifications by a
 * register write. Both register layouts are served: version 2 (modern,
 * §4.2.2) and version 1 (legacy, §4.2.4: GuestPageSize, QueueAlign, QueuePFN
 * instead of QueueReady and the 64-bit ring addresses).
 *
 * The transport never knows which device it carries: it talks to the virtio
 * core (virtio.h) only.
 *
 * Byte order: every control register (offset < 0x100) is little-endian on the
 * bus for both versions — §4.2.2 "All register values are organized as Little
 * Endian", and §4.2.4 lists no change to that; Linux drives both versions with
 * readl/writel, which are little-endian on every CPU. Only the device-specific
 * configuration space of a legacy device follows the guest's byte order, and
 * that is the device's business (virtio_put16/32/64), not the transport's. */
#ifndef KVMINI_DEVICES_VIRTIO_MMIO_H
#define KVMINI_DEVICES_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stdint.h>

#include "io.h"
#include "virtio/virtio.h"

#define VIRTIO_MMIO_SIZE 0x200

/* Register offsets (§4.2.2 table, §4.2.4 table for the legacy ones) */
#define VIRTIO_MMIO_MAGIC_VALUE          0x000
#define VIRTIO_MMIO_VERSION              0x004
#define VIRTIO_MMIO_DEVICE_ID            0x008
#define VIRTIO_MMIO_VENDOR_ID            0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES      0x010   /* legacy: HostFeatures */
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL  0x014
#define VIRTIO_MMIO_DRIVER_FEATURES      0x020   /* legacy: GuestFeatures */
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL  0x024
#define VIRTIO_MMIO_GUEST_PAGE_SIZE      0x028   /* legacy only */
#define VIRTIO_MMIO_QUEUE_SEL            0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX        0x034
#define VIRTIO_MMIO_QUEUE_NUM            0x038
#define VIRTIO_MMIO_QUEUE_ALIGN          0x03c   /* legacy only */
#define VIRTIO_MMIO_QUEUE_PFN            0x040   /* legacy only */
#define VIRTIO_MMIO_QUEUE_READY          0x044   /* modern only */
#define VIRTIO_MMIO_QUEUE_NOTIFY         0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS     0x060
#define VIRTIO_MMIO_INTERRUPT_ACK        0x064
#define VIRTIO_MMIO_STATUS               0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW       0x080   /* modern only, down to 0x0bc */
#define VIRTIO_MMIO_QUEUE_DESC_HIGH      0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW     0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH    0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW     0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH    0x0a4
#define VIRTIO_MMIO_SHM_SEL              0x0ac
#define VIRTIO_MMIO_SHM_LEN_LOW          0x0b0
#define VIRTIO_MMIO_SHM_LEN_HIGH         0x0b4
#define VIRTIO_MMIO_SHM_BASE_LOW         0x0b8
#define VIRTIO_MMIO_SHM_BASE_HIGH        0x0bc
#define VIRTIO_MMIO_CONFIG_GENERATION    0x0fc   /* modern only */
#define VIRTIO_MMIO_CONFIG               0x100

#define VIRTIO_MMIO_MAGIC   0x74726976u   /* "virt" in memory order */
/* VendorID: "KVMI" in memory order, the way MagicValue spells "virt" (QEMU's
 * 0x554d4551 likewise reads "QEMU"). Linux matches any vendor. */
#define VIRTIO_MMIO_VENDOR  0x494d564bu

/* Legacy per-queue registers (§4.2.4) */
struct virtio_mmio_legacy_queue {
	uint32_t align;          /* QueueAlign: used ring alignment, power of two */
	uint32_t pfn;            /* QueuePFN as last written (0: not in use) */
};

struct virtio_mmio {
	struct virtio_dev *dev;
	int version;                 /* 1 legacy, 2 modern */
	uint64_t base;               /* guest physical address of the window */
	/* Edge semantics: the transport calls irq_line_set(irq, 1) for every
	 * interrupt it raises, and irq_line_set(irq, 0) once InterruptStatus
	 * has become 0 (InterruptACK, reset). */
	struct irq_line irq;
	const struct virtio_notify_hooks *hooks;   /* may be NULL: synchronous notify */

	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint32_t queue_sel;          /* as written; may be out of range */
	/* Legacy only. Not reset by a device reset: Linux writes it once, at
	 * probe, before the resets of driver binding. */
	uint32_t guest_page_size;
	struct virtio_mmio_legacy_queue lq[VIRTIO_MAX_QUEUES];
	uint32_t attached;           /* bit q: queue q notifies through an ioeventfd */
	bool irq_level;              /* level last driven on irq */
};

/* Binds transport m to device d. Call after virtio_dev_init(d, ...) and before
 * the guest runs. Sets d->legacy = (version == 1) and d->tops; a version 2
 * transport is modern-only, so it adds VIRTIO_F_VERSION_1 to d->host_features
 * (Linux refuses a version 2 device without it); a version 1 transport never
 * shows feature bits 32..63 (legacy has 32 feature bits; every bit above needs
 * VERSION_1). Any version other than 1 is treated as 2. */
void virtio_mmio_init(struct virtio_mmio *m, struct virtio_dev *d, int version, uint64_t base,
		      struct irq_line irq, const struct virtio_notify_hooks *hooks);

/* The register window, VIRTIO_MMIO_SIZE bytes at m->base; dev pointer =
 * struct virtio_mmio *. Takes d->lock. */
extern const struct io_ops virtio_mmio_ops;

/* Snapshots (mmio_state.c; the order of a restore: virtio_state.h). */
struct state_w;
struct state_r;
void virtio_mmio_save_state(struct virtio_mmio *m, struct state_w *w);
int virtio_mmio_load_state(struct virtio_mmio *m, struct state_r *r);

#endif
