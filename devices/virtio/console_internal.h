/* Between console.c (the device, its ports' data queues, the host's API)
 * and console_ctrl.c (the control queues); not for anything else. All with
 * vdev.lock held. */
#ifndef KVMINI_DEVICES_VIRTIO_CONSOLE_INTERNAL_H
#define KVMINI_DEVICES_VIRTIO_CONSOLE_INTERNAL_H

#include "virtio/console.h"

/* DRIVER_OK and not NEEDS_RESET. */
bool console_live(const struct virtio_dev *d);
/* Did the driver take F_MULTIPORT (so the control queues are in use)? */
bool console_multiport(const struct virtio_dev *d);
/* Pops a chain from vq into e; when the ring is empty, asks the driver to
 * kick and looks once more. 1, 0 (empty), or -EINVAL (malformed). */
int console_pop(struct virtq *vq, struct virtq_elem *e);
/* The guest opened or closed port (told to the host if it changed). */
void console_guest_open(struct virtio_console *c, unsigned port, bool open);

/* ---- console_ctrl.c ---- */

/* Queues a control message for the driver and delivers what fits. */
void console_ctrl_send(struct virtio_console *c, uint32_t id, uint16_t event, uint16_t value);
/* Delivers queued messages into the control receive buffers. */
void console_ctrl_flush(struct virtio_console *c);
/* Serves the control transmit queue (the driver's messages). */
void console_ctrl_serve(struct virtio_console *c);
/* Forgets queued messages (device reset). */
void console_ctrl_reset(struct virtio_console *c);

#endif
