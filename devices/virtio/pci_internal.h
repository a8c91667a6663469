/* Shared between the parts of the virtio-pci transport: pci.c (core:
 * interrupts, notifications, config space, capabilities, set-up),
 * pci_modern.c (the modern BAR) and pci_legacy.c (the legacy I/O BAR).
 * Not for use outside devices/virtio/pci*.c. */
#ifndef KVMINI_DEVICES_VIRTIO_PCI_INTERNAL_H
#define KVMINI_DEVICES_VIRTIO_PCI_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/pci.h"

#define NO_NOTIFY UINT32_MAX

#define vp_log(p, fmt, ...) virtio_warn((p)->dev, "pci: " fmt, ##__VA_ARGS__)

/* Little-endian register values of len (1, 2, 4 or 8) bytes. */
uint32_t vp_get_le(const uint8_t *b, uint32_t len);
void vp_put_le(uint8_t *b, uint32_t len, uint64_t v);
/* The device's number of queues. */
uint16_t vp_nqueues(const struct virtio_dev *d);
/* Queue q of the device, or NULL when out of range. */
struct virtq *vp_vq_of(struct virtio_pci *p, uint32_t q);
/* v if it names an MSI-X vector of this function, else VIRTIO_PCI_NO_VECTOR. */
uint16_t vp_valid_vector(struct virtio_pci *p, uint32_t v);
uint8_t vp_isr_read_clear(struct virtio_pci *p);
void vp_write_status(struct virtio_pci *p, uint32_t value);
/* A notify write for queue q: the queue to kick synchronously, or NO_NOTIFY. */
uint32_t vp_queue_kick(struct virtio_pci *p, uint32_t q);
/* Calls the device's queue_notify (d->lock not held). */
void vp_kick(struct virtio_dev *d, uint32_t q);
/* The modern BAR at offset off, as the PCI_CFG window reaches it: a read
 * (takes d->lock), and a write with d->lock held that returns the queue to
 * kick (vp_kick, after the lock is dropped) or NO_NOTIFY. */
void vp_modern_read(struct virtio_pci *p, uint64_t off, uint8_t *data, uint32_t len);
uint32_t vp_modern_write_locked(struct virtio_pci *p, uint64_t off, const uint8_t *data,
				uint32_t len);

#endif
