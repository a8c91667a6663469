/* The virtio-pci transport (virtio 1.2 §4.1): a PCI function carrying one
 * virtio device, modern (§4.1.4 capabilities in a memory BAR) and, for a
 * transitional device, legacy too (§4.1.4.8 header in I/O BAR0).
 *
 * BAR layout (QEMU's, so guests and tools meet nothing new):
 *   BAR0  I/O, transitional only: legacy header + device config
 *   BAR1  32-bit memory, 4 KiB: MSI-X table at 0, PBA at 0x800
 *   BAR4  64-bit prefetchable memory, 16 KiB: common config 0x0000, ISR
 *         0x1000, device config 0x2000, notifications 0x3000
 * Notifications: notify_off_multiplier 4 and queue_notify_off = queue index,
 * so queue q is kicked at BAR4 + 0x3000 + 4q — one address per queue. The
 * ioeventfd still carries datamatch = q (len 2: Linux writes the index with
 * iowrite16), which costs nothing and keeps one hook shape for PIO and MMIO;
 * any write that misses it (other width, other value) lands in the
 * synchronous path, which notifies by address.
 *
 * Byte order: everything modern is little-endian (§4.1.3). The legacy header
 * is little-endian too — Linux drives it with ioread/iowrite{8,16,32}, which
 * are little-endian on every CPU, and QEMU serves it from a little-endian
 * region. Only the legacy device config follows the guest's byte order: the
 * legacy driver reads it byte by byte (vp_legacy get/set use ioread8), so the
 * transport passes the core's bytes through untouched and the device's
 * virtio_put16/32/64 encode device_endian.
 *
 * Which interface a transitional device serves (d->legacy): the one the
 * driver uses. Any access to the legacy BAR while the device is in reset
 * (status 0) sets d->legacy; any common-config access in reset, or a feature
 * register access before FEATURES_OK, clears it. A driver always resets the
 * device before negotiating, and neither Linux driver touches the other's
 * registers, so the choice is made before anything depends on it.
 *
 * Interrupts: with MSI-X enabled, queue q signals queue_vector[q] and config
 * changes config_vector (0xFFFF: no interrupt, §4.1.5.1.2); without, the ISR
 * bits and INTx (level; deasserted when the ISR is read, §4.1.4.5). */
#ifndef KVMINI_DEVICES_VIRTIO_PCI_H
#define KVMINI_DEVICES_VIRTIO_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "io.h"
#include "pci/msix.h"
#include "pci/pci.h"
#include "virtio/virtio.h"

#define VIRTIO_PCI_VENDOR            0x1af4
#define VIRTIO_PCI_MODERN_ID_BASE    0x1040
#define VIRTIO_PCI_NO_VECTOR         0xffff

#define VIRTIO_PCI_LEGACY_BAR        0
#define VIRTIO_PCI_MSIX_BAR          1
#define VIRTIO_PCI_MODERN_BAR        4
#define VIRTIO_PCI_MSIX_BAR_SIZE     0x1000
#define VIRTIO_PCI_MSIX_PBA_OFF      0x800
#define VIRTIO_PCI_MODERN_BAR_SIZE   0x4000
#define VIRTIO_PCI_COMMON_OFF        0x0000
#define VIRTIO_PCI_ISR_OFF           0x1000
#define VIRTIO_PCI_DEVICE_OFF        0x2000
#define VIRTIO_PCI_NOTIFY_OFF        0x3000
#define VIRTIO_PCI_REGION_SIZE       0x1000
#define VIRTIO_PCI_NOTIFY_MULT       4

/* Capability cfg_type (§4.1.4) */
#define VIRTIO_PCI_CAP_COMMON_CFG    1
#define VIRTIO_PCI_CAP_NOTIFY_CFG    2
#define VIRTIO_PCI_CAP_ISR_CFG       3
#define VIRTIO_PCI_CAP_DEVICE_CFG    4
#define VIRTIO_PCI_CAP_PCI_CFG       5
/* struct virtio_pci_cap fields (offsets from the capability) */
#define VIRTIO_PCI_CAP_LEN           2
#define VIRTIO_PCI_CAP_CFG_TYPE      3
#define VIRTIO_PCI_CAP_BAR           4
#define VIRTIO_PCI_CAP_OFFSET        8
#define VIRTIO_PCI_CAP_LENGTH        12
#define VIRTIO_PCI_CAP_NOTIFY_MULT   16   /* virtio_pci_notify_cap */
#define VIRTIO_PCI_CAP_PCI_CFG_DATA  16   /* virtio_pci_cfg_cap */

/* struct virtio_pci_common_cfg (§4.1.4.3) */
#define VIRTIO_PCI_COMMON_DFSELECT   0
#define VIRTIO_PCI_COMMON_DF         4
#define VIRTIO_PCI_COMMON_GFSELECT   8
#define VIRTIO_PCI_COMMON_GF         12
#define VIRTIO_PCI_COMMON_MSIX       16
#define VIRTIO_PCI_COMMON_NUMQ       18
#define VIRTIO_PCI_COMMON_STATUS     20
#define VIRTIO_PCI_COMMON_CFGGEN     21
#define VIRTIO_PCI_COMMON_Q_SELECT   22
#define VIRTIO_PCI_COMMON_Q_SIZE     24
#define VIRTIO_PCI_COMMON_Q_MSIX     26
#define VIRTIO_PCI_COMMON_Q_ENABLE   28
#define VIRTIO_PCI_COMMON_Q_NOFF     30
#define VIRTIO_PCI_COMMON_Q_DESCLO   32
#define VIRTIO_PCI_COMMON_Q_DESCHI   36
#define VIRTIO_PCI_COMMON_Q_AVAILLO  40
#define VIRTIO_PCI_COMMON_Q_AVAILHI  44
#define VIRTIO_PCI_COMMON_Q_USEDLO   48
#define VIRTIO_PCI_COMMON_Q_USEDHI   52
#define VIRTIO_PCI_COMMON_SIZE       56   /* no queue_notify_data, no queue_reset */

/* Legacy header in BAR0 (§4.1.4.8) */
#define VIRTIO_PCI_L_HOST_FEATURES   0
#define VIRTIO_PCI_L_GUEST_FEATURES  4
#define VIRTIO_PCI_L_QUEUE_PFN       8
#define VIRTIO_PCI_L_QUEUE_NUM       12
#define VIRTIO_PCI_L_QUEUE_SEL       14
#define VIRTIO_PCI_L_QUEUE_NOTIFY    16
#define VIRTIO_PCI_L_STATUS          18
#define VIRTIO_PCI_L_ISR             19
#define VIRTIO_PCI_L_CONFIG_VECTOR   20   /* only with MSI-X enabled */
#define VIRTIO_PCI_L_QUEUE_VECTOR    22
#define VIRTIO_PCI_L_CONFIG(msix)    ((msix) ? 24 : 20)
#define VIRTIO_PCI_L_PFN_SHIFT       12   /* QueueAddress is a 4096-byte page number */
#define VIRTIO_PCI_L_ALIGN           4096

struct virtio_pci {
	struct pci_dev pci;
	struct msix msix;
	struct virtio_dev *dev;
	bool legacy_bar;                          /* transitional: I/O BAR0 too */
	const struct virtio_notify_hooks *hooks;  /* may be NULL: synchronous notify */
	struct irq_line intx;

	/* common config */
	uint32_t device_feature_select;
	uint32_t driver_feature_select;
	uint16_t queue_select;
	uint16_t config_vector;
	uint16_t queue_vector[VIRTIO_MAX_QUEUES];
	/* legacy */
	uint32_t legacy_pfn[VIRTIO_MAX_QUEUES];

	uint8_t pci_cfg_cap;                      /* offset of the PCI_CFG capability */
	/* BAR addresses as last reported decoding (bar_update), under d->lock */
	bool bar_live[PCI_NUM_BARS];
	uint64_t bar_addr[PCI_NUM_BARS];
	/* notifications */
	bool live;                                /* DRIVER_OK reached (started) */
	uint32_t attached;                        /* bit q: ioeventfd attached */
	/* bit q: a kick through the PCI_CFG window, to serve once the host
	 * bridge's lock is dropped (after_cfg_write) */
	_Atomic uint32_t cfg_kicks;
};

/* Binds p to d (call after virtio_dev_init): builds config space, BARs and
 * capabilities, adds VIRTIO_F_VERSION_1 to d->host_features, sets d->tops.
 * transitional: PCI device id 0x1000 + n from §4.1.2.1's table (net, block,
 * console, entropy, balloon, SCSI, 9P only; -EINVAL for others), revision
 * 0 and the legacy I/O BAR0; otherwise 0x1040 + device id, revision 1.
 * msix_ops_from_host tells the host about MSI-X vectors (may be NULL). */
int virtio_pci_init(struct virtio_pci *p, struct virtio_dev *d, bool transitional,
		    struct irq_line intx, const struct virtio_notify_hooks *hooks,
		    const struct msix_host_ops *msix_ops_from_host);
void virtio_pci_destroy(struct virtio_pci *p);

/* The BAR windows (dev = struct virtio_pci *); offsets relative to the BAR.
 * Declared on p->pci.bar[n].ops too, so pci_host routing finds them. */
extern const struct io_ops virtio_pci_modern_ops;   /* BAR4 */
extern const struct io_ops virtio_pci_legacy_ops;   /* BAR0 (I/O) */

/* Snapshots (pci_state.c; the order of a restore: virtio_state.h). */
struct state_w;
struct state_r;
void virtio_pci_save_state(struct virtio_pci *p, struct state_w *w);
int virtio_pci_load_state(struct virtio_pci *p, struct state_r *r);

#endif
