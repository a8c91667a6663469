/* Between net.c (the device, its receive and transmit queues) and
 * net_ctrl.c (the control queue); not for anything else. */
#ifndef KVMINI_DEVICES_VIRTIO_NET_INTERNAL_H
#define KVMINI_DEVICES_VIRTIO_NET_INTERNAL_H

#include "virtio/net.h"

/* One control request, with vdev.lock held: the ack (VIRTIO_NET_OK or
 * VIRTIO_NET_ERR) is written to its last writable byte and the used length
 * returned; a request with no room for class, command or ack is -EINVAL
 * (a framing error: the device needs a reset, as in blk). */
int virtio_net_ctrl_one(struct virtio_net *n, const struct virtq_elem *e);

#endif
