/* Snapshot state of the virtio core (virtio_state.c) and the order a
 * restore follows, whatever the device and transport:
 *
 *   1. virtio_load_state       features, status, ISR, legacy, device_endian,
 *                              queues (rings not mapped yet)
 *   2. the transport's load    (virtio_mmio_load_state / virtio_pci_load_state)
 *   3. virtio_state_activate   rings mapped again; a live device activated
 *                              again (ops->activate)
 *   4. the device's own load   (virtio_blk_load_state, virtio_net_load_state)
 *   5. virtio_state_start      the transport's fast path (ioeventfds)
 *   6. virtio_state_reraise    interrupts the saved ISR still shows, sent
 *                              again (an irqfd in flight at the pause may
 *                              not have reached the saved interrupt
 *                              controller; a spurious one is harmless)
 *
 * Saving happens with the device quiesced (its device's quiesce function):
 * no request in flight, nothing held that the rings do not show. */
#ifndef KVMINI_DEVICES_VIRTIO_STATE_H
#define KVMINI_DEVICES_VIRTIO_STATE_H

#include "state.h"
#include "virtio/virtio.h"

void virtio_save_state(struct virtio_dev *d, struct state_w *w);
/* d must be built as the saved device was (same kind, queues, offered
 * features): anything else is refused with a message. 0 or -EINVAL. */
int virtio_load_state(struct virtio_dev *d, struct state_r *r);
int virtio_state_activate(struct virtio_dev *d, struct state_err *e);
void virtio_state_start(struct virtio_dev *d);
void virtio_state_reraise(struct virtio_dev *d);

#endif
