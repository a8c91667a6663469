/* KVM's GSI routing table. KVM_SET_GSI_ROUTING replaces the whole table, so
 * this keeps the architecture's default irqchip routes (x86: PIC and IOAPIC
 * pins 0-23) and adds an MSI route per MSI-X vector in use, each fed by an
 * irqfd. */
#ifndef KVMINI_VMM_GSI_ROUTES_H
#define KVMINI_VMM_GSI_ROUTES_H

#include <pthread.h>
#include <stdint.h>

#include <linux/kvm.h>

#define GSI_ROUTES_DEFAULT_MAX 64

#define GSI_ROUTES_MAX 1024

struct gsi_routes {
	pthread_mutex_t lock;
	int vm_fd;
	struct kvm_irq_routing_entry defaults[GSI_ROUTES_DEFAULT_MAX];
	unsigned ndefaults;
	unsigned next_gsi;              /* first GSI above the irqchip's pins */
	unsigned nmsi;
	struct { unsigned gsi; uint64_t addr; uint32_t data; } msi[GSI_ROUTES_MAX];
};

/* defaults: the architecture's irqchip routes; first_free: the first GSI
 * they leave for MSI. */
void gsi_routes_init(struct gsi_routes *r, int vm_fd, const struct kvm_irq_routing_entry *defaults,
		     unsigned ndefaults, unsigned first_free);
void gsi_routes_destroy(struct gsi_routes *r);
/* A new GSI with an MSI route (addr, data); returns it or -errno. */
int gsi_routes_add_msi(struct gsi_routes *r, uint64_t addr, uint32_t data);
/* Points an existing MSI GSI at (addr, data). 0 or -errno. */
int gsi_routes_set_msi(struct gsi_routes *r, unsigned gsi, uint64_t addr, uint32_t data);

#endif
