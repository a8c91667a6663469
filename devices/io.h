/* The two things every device model needs from whoever hosts it: a way to be
 * accessed (register reads and writes at an offset inside its window) and a
 * way to signal (an interrupt line). Nothing here knows about KVM, the bus or
 * the architecture; vmm/ plugs these into the address space. */
#ifndef KVMINI_DEVICES_IO_H
#define KVMINI_DEVICES_IO_H

#include <stdint.h>

/* Accesses are 1, 2, 4 or 8 bytes; data is in the byte order of the bus
 * access as KVM reports it (little-endian for x86 PIO/MMIO). */
struct io_ops {
	void (*read)(void *dev, uint64_t offset, uint8_t *data, uint32_t len);
	void (*write)(void *dev, uint64_t offset, const uint8_t *data, uint32_t len);
};

/* A level-sensitive view of an interrupt line. A device calls set(1) while it
 * has an interrupt pending and set(0) when it no longer has; the host turns
 * that into whatever the interrupt controller needs (KVM_IRQ_LINE, irqfd). */
struct irq_line {
	void (*set)(void *opaque, int level);
	void *opaque;
};

static inline void irq_line_set(const struct irq_line *l, int level)
{
	if (l->set)
		l->set(l->opaque, level);
}

#endif
