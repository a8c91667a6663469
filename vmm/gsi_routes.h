/* KVM's GSI routing table. KVM_SET_GSI_ROUTING replaces the whole table, so
 * this keeps the irqchip routes KVM starts with (PIC and IOAPIC pins 0-23)
 * and adds an MSI route per MSI-X vector in use, each fed by an irqfd. */
#ifndef KVMINI_VMM_GSI_ROUTES_H
#define KVMINI_VMM_GSI_ROUTES_H

#include <pthread.h>
#include <stdint.h>

#define GSI_ROUTES_MAX 1024

struct gsi_routes {
	pthread_mutex_t lock;
	int vm_fd;
	unsigned next_gsi;              /* first GSI above the IOAPIC pins */
	unsigned nmsi;
	struct { unsigned gsi; uint64_t addr; uint32_t data; } msi[GSI_ROUTES_MAX];
};

void gsi_routes_init(struct gsi_routes *r, int vm_fd);
void gsi_routes_destroy(struct gsi_routes *r);
/* A new GSI with an MSI route (addr, data); returns it or -errno. */
int gsi_routes_add_msi(struct gsi_routes *r, uint64_t addr, uint32_t data);
/* Points an existing MSI GSI at (addr, data). 0 or -errno. */
int gsi_routes_set_msi(struct gsi_routes *r, unsigned gsi, uint64_t addr, uint32_t data);

#endif
