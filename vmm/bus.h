/* An address space (port I/O or memory): non-overlapping windows, each a
 * device's io_ops, found by binary search. Registration happens before the
 * vCPUs start; lookups afterwards take no lock. */
#ifndef KVMINI_VMM_BUS_H
#define KVMINI_VMM_BUS_H

#include <stdint.h>

#include "io.h"

struct bus_window {
	uint64_t base, len;
	const struct io_ops *ops;
	void *dev;
};

struct bus {
	struct bus_window *w;
	int nr, cap;
};

int bus_map(struct bus *b, uint64_t base, uint64_t len, const struct io_ops *ops, void *dev);
/* Returns 0, or -ENOENT when nothing is mapped there (reads then see 0xFF). */
int bus_access(struct bus *b, uint64_t addr, uint8_t *data, uint32_t len, int is_write);
void bus_free(struct bus *b);

#endif
