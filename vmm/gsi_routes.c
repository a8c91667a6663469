#include "vmm/gsi_routes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

void gsi_routes_init(struct gsi_routes *r, int vm_fd, const struct kvm_irq_routing_entry *defaults,
		     unsigned ndefaults, unsigned first_free)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->vm_fd = vm_fd;
	if (ndefaults > GSI_ROUTES_DEFAULT_MAX)
		ndefaults = GSI_ROUTES_DEFAULT_MAX;
	memcpy(r->defaults, defaults, ndefaults * sizeof(*defaults));
	r->ndefaults = ndefaults;
	r->next_gsi = first_free;
}

void gsi_routes_destroy(struct gsi_routes *r)
{
	pthread_mutex_destroy(&r->lock);
}

/* The defaults, then one MSI route per vector. Called with the lock held. */
static int commit(struct gsi_routes *r)
{
	unsigned n = r->ndefaults + r->nmsi, i = 0;
	struct kvm_irq_routing *t = calloc(1, sizeof(*t) + n * sizeof(t->entries[0]));
	int ret = 0;

	if (!t)
		return -ENOMEM;
	for (; i < r->ndefaults; i++)
		t->entries[i] = r->defaults[i];
	for (unsigned m = 0; m < r->nmsi; m++) {
		t->entries[i++] = (struct kvm_irq_routing_entry){
			.gsi = r->msi[m].gsi, .type = KVM_IRQ_ROUTING_MSI,
			.u.msi = { .address_lo = (uint32_t)r->msi[m].addr,
				   .address_hi = (uint32_t)(r->msi[m].addr >> 32),
				   .data = r->msi[m].data },
		};
	}
	t->nr = i;
	if (ioctl(r->vm_fd, KVM_SET_GSI_ROUTING, t) < 0)
		ret = -errno;
	free(t);
	return ret;
}

int gsi_routes_add_msi(struct gsi_routes *r, uint64_t addr, uint32_t data)
{
	int ret;

	pthread_mutex_lock(&r->lock);
	if (r->nmsi == GSI_ROUTES_MAX) {
		pthread_mutex_unlock(&r->lock);
		return -ENOSPC;
	}
	unsigned gsi = r->next_gsi++;
	r->msi[r->nmsi++] = (typeof(r->msi[0])){ gsi, addr, data };
	ret = commit(r);
	if (ret) {
		r->nmsi--;
		r->next_gsi--;
	}
	pthread_mutex_unlock(&r->lock);
	return ret ? ret : (int)gsi;
}

int gsi_routes_set_msi(struct gsi_routes *r, unsigned gsi, uint64_t addr, uint32_t data)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&r->lock);
	for (unsigned m = 0; m < r->nmsi; m++) {
		if (r->msi[m].gsi != gsi)
			continue;
		if (r->msi[m].addr == addr && r->msi[m].data == data) {
			ret = 0;
			break;
		}
		r->msi[m].addr = addr;
		r->msi[m].data = data;
		ret = commit(r);
		break;
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}
