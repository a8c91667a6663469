/* A small virtio device for the transport targets (mmio, pci): any number
 * of queues, a writable config space, and a queue handler that serves the
 * whole queue through the core (virtio_queue_serve): each request's
 * writable bytes get a pattern, and one whose first readable byte is 0xEE
 * is "malformed" (NEEDS_RESET). What is fuzzed is the transport and the
 * core around it; the device itself is trivial on purpose. */
#ifndef KVMINI_FUZZ_ECHO_H
#define KVMINI_FUZZ_ECHO_H

#include "virtio/virtio.h"

#define ECHO_CONFIG_SIZE 24

struct echo {
	struct virtio_dev d;
	struct virtq_elem *e;
	uint8_t cfg[ECHO_CONFIG_SIZE];
	unsigned served, activations, resets;
};

/* device_id: what the transport sees (1 net, 2 block: both have a
 * transitional PCI id). */
void echo_init(struct echo *x, uint32_t device_id, uint16_t num_queues, uint64_t features,
	       struct guest_mem *mem, const struct virtio_platform *platform);
void echo_destroy(struct echo *x);

#endif
