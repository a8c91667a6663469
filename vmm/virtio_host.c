/* The VMM's side of virtio devices: builds them from the command line, puts
 * each on its transport (virtio-mmio windows announced in the firmware
 * tables, or slots on the PCI host bridge with BARs we place as firmware
 * would), and connects notifications (KVM ioeventfd -> iothread) and
 * interrupts (irqfd: a GSI for virtio-mmio, MSI routes for MSI-X, KVM_IRQ_LINE
 * for INTx). Devices and transports know none of this. */
#include "vmm/virtio_host.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "pci/pci_host.h"
#include "virtio/blk.h"
#include "virtio/mmio.h"
#include "virtio/net.h"
#include "virtio/pci.h"
#include "virtio/virtio.h"
#include "vmm/backends.h"
#include "vmm/gsi_routes.h"
#include "vmm/iothread.h"
#include "vmm/kvm.h"
#include "vmm/vm.h"

/* One queue's notification path: an eventfd KVM signals on the guest's
 * notify write, watched by the iothread. */
struct vq_notify {
	struct io_watch w;
	struct virtio_dev *d;
	uint16_t q;
	struct kvm_ioeventfd kvm;     /* as assigned, for deassign */
	int assigned;
};

/* An interrupt line: an irqfd on a GSI (edge: one write, one interrupt), or
 * the architecture's KVM_IRQ_LINE when the kernel has no irqfd or the line
 * is level (INTx). */
struct irq_out {
	int vm_fd;
	uint32_t gsi;
	int efd;
	struct irq_line line;
	bool use_irqfd;
};

struct msi_vec {
	int gsi;                      /* 0: no route yet */
	int efd;
};

enum vdev_kind { VDEV_BLK, VDEV_NET };

struct vdev {
	struct virtio_host *host;
	enum vdev_kind kind;
	struct transport_config t;
	struct virtio_dev *vd;
	union {
		struct { struct virtio_blk dev; } blk;
		struct { struct virtio_net dev; struct io_watch watch; } net;
	};
	int dev_ready, pci_ready;
	struct virtio_mmio mmio;
	struct virtio_pci pci;
	struct irq_out irq;           /* virtio-mmio (edge) or INTx (level) */
	struct msi_vec msi[MSIX_MAX_VECTORS];
	struct msix_host_ops msix_ops;
	struct vq_notify notify[VIRTIO_MAX_QUEUES];
};

struct virtio_host {
	struct vm *vm;
	struct iothread io;
	struct virtio_notify_hooks hooks;
	struct virtio_platform platform;
	struct gsi_routes routes;
	struct pci_host pci;
	struct pci_host_window memwin, iowin;
	struct arch_pci_layout layout;
	int has_pci;
	/* Without KVM's ioeventfd (or with --no-ioeventfd) transports get no
	 * hooks and serve kicks on the vCPU thread; without its irqfd,
	 * interrupts take KVM_IRQ_LINE / KVM_SIGNAL_MSI. */
	const struct virtio_notify_hooks *notify;
	bool irqfd;
	uint64_t next_mem, next_io;
	struct vdev *devs;
	int ndevs;
};

static __thread int current_vcpu_fd = -1;

void virtio_host_set_current_vcpu(int vcpu_fd)
{
	current_vcpu_fd = vcpu_fd;
}

static int vcpu_big_endian(void *opaque)
{
	return current_vcpu_fd < 0 ? -1 : arch_vcpu_is_big_endian(current_vcpu_fd);
}

/* ---- interrupts ---- */

static void irq_edge_set(void *opaque, int level)
{
	struct irq_out *o = opaque;
	uint64_t one = 1;

	if (!level)
		return;       /* edge: nothing to lower */
	if (o->efd >= 0) {
		if (write(o->efd, &one, sizeof(one)) < 0)
			perror("kvmini: irqfd");
		return;
	}
	irq_line_set(&o->line, 1);
	irq_line_set(&o->line, 0);
}

static void irq_level_set(void *opaque, int level)
{
	struct irq_out *o = opaque;

	irq_line_set(&o->line, level);
}

static void irq_out_open_irqfd(struct irq_out *o)
{
	struct kvm_irqfd irqfd = { .gsi = o->gsi };

	if (!o->use_irqfd)
		return;
	irqfd.fd = (uint32_t)eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if ((int)irqfd.fd < 0)
		return;
	if (ioctl(o->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		close((int)irqfd.fd);
		return;
	}
	o->efd = (int)irqfd.fd;
}

static void irqfd_close(int vm_fd, int efd, uint32_t gsi)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)efd, .gsi = gsi, .flags = KVM_IRQFD_FLAG_DEASSIGN };

	if (efd < 0)
		return;
	ioctl(vm_fd, KVM_IRQFD, &irqfd);
	close(efd);
}

/* MSI-X: each vector in use gets a GSI with an MSI route and an irqfd. Both
 * callbacks run under the MSI-X table's lock and call only into KVM. */
static void msix_vector_changed(void *opaque, uint16_t vec, uint64_t addr, uint32_t data,
				bool masked)
{
	struct vdev *v = opaque;
	int vm_fd = v->host->vm->vm_fd;

	if (vec >= MSIX_MAX_VECTORS || !v->host->irqfd)
		return;       /* no irqfd: fire() uses KVM_SIGNAL_MSI */
	struct msi_vec *m = &v->msi[vec];
	if (m->gsi > 0) {
		gsi_routes_set_msi(&v->host->routes, (unsigned)m->gsi, addr, data);
		return;
	}
	int gsi = gsi_routes_add_msi(&v->host->routes, addr, data);
	if (gsi < 0)
		return;       /* fire() falls back to KVM_SIGNAL_MSI */
	struct kvm_irqfd irqfd = { .gsi = (uint32_t)gsi };
	irqfd.fd = (uint32_t)eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if ((int)irqfd.fd >= 0 && ioctl(vm_fd, KVM_IRQFD, &irqfd) < 0) {
		close((int)irqfd.fd);
		irqfd.fd = (uint32_t)-1;
	}
	m->gsi = gsi;
	m->efd = (int)irqfd.fd;
}

static void msix_fire(void *opaque, uint16_t vec, uint64_t addr, uint32_t data)
{
	struct vdev *v = opaque;
	uint64_t one = 1;

	if (vec < MSIX_MAX_VECTORS && v->msi[vec].efd >= 0) {
		if (write(v->msi[vec].efd, &one, sizeof(one)) < 0)
			perror("kvmini: MSI irqfd");
		return;
	}
	struct kvm_msi msi = { .address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32),
			       .data = data };
	ioctl(v->host->vm->vm_fd, KVM_SIGNAL_MSI, &msi);
}

/* ---- queue notifications ---- */

static void notify_ready(struct io_watch *w)
{
	struct vq_notify *n = w->opaque;
	uint64_t cnt;

	if (read(w->fd, &cnt, sizeof(cnt)) > 0)
		n->d->ops->queue_notify(n->d, n->q);
}

static struct vq_notify *find_notify(struct virtio_host *h, struct virtio_dev *d, uint16_t q)
{
	if (q >= VIRTIO_MAX_QUEUES)
		return NULL;
	for (int i = 0; i < h->ndevs; i++)
		if (h->devs[i].vd == d)
			return &h->devs[i].notify[q];
	return NULL;
}

static int notify_attach(void *opaque, struct virtio_dev *d, uint16_t q, uint64_t addr,
			 uint32_t len, bool is_pio, uint64_t datamatch)
{
	struct virtio_host *h = opaque;
	struct vq_notify *n = find_notify(h, d, q);

	if (!n)
		return -EINVAL;
	if (n->assigned)
		return 0;
	if (is_pio && h->layout.io_cpu_base) {   /* memory-mapped PCI I/O space (arm64) */
		addr += h->layout.io_cpu_base;
		is_pio = false;
	}
	if (n->w.fd < 0) {
		n->w.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (n->w.fd < 0)
			return -errno;
	}
	n->kvm = (struct kvm_ioeventfd){
		.datamatch = datamatch, .addr = addr, .len = len, .fd = n->w.fd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH | (is_pio ? KVM_IOEVENTFD_FLAG_PIO : 0),
	};
	if (ioctl(h->vm->vm_fd, KVM_IOEVENTFD, &n->kvm) < 0)
		return -errno;
	int r = iothread_add(&h->io, &n->w);
	if (r) {
		n->kvm.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
		ioctl(h->vm->vm_fd, KVM_IOEVENTFD, &n->kvm);
		return r;
	}
	n->assigned = 1;
	return 0;
}

static void notify_detach(void *opaque, struct virtio_dev *d, uint16_t q)
{
	struct virtio_host *h = opaque;
	struct vq_notify *n = find_notify(h, d, q);

	if (!n || !n->assigned)
		return;
	iothread_del(&h->io, &n->w);
	n->kvm.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
	ioctl(h->vm->vm_fd, KVM_IOEVENTFD, &n->kvm);
	n->assigned = 0;
}

/* ---- transports ---- */

static int attach_mmio(struct vdev *v, const char *opt, char *err, size_t errlen)
{
	struct virtio_host *h = v->host;
	struct vm *vm = h->vm;
	uint64_t base;
	uint32_t gsi;
	int r;

	if ((r = arch_virtio_mmio_slot(&vm->arch, vm->arch.nr_mmio_devs, &base, &gsi))) {
		snprintf(err, errlen, "%s: no room for another virtio-mmio device", opt);
		return r;
	}
	v->irq = (struct irq_out){ .vm_fd = vm->vm_fd, .gsi = gsi, .efd = -1,
				   .line = arch_irq_line(&vm->arch, gsi), .use_irqfd = h->irqfd };
	irq_out_open_irqfd(&v->irq);
	virtio_mmio_init(&v->mmio, v->vd, v->t.version, base,
			 (struct irq_line){ irq_edge_set, &v->irq }, h->notify);
	if ((r = bus_map(&vm->mmio, base, VIRTIO_MMIO_SIZE, &virtio_mmio_ops, &v->mmio))) {
		snprintf(err, errlen, "%s: cannot map virtio-mmio window: %s", opt, strerror(-r));
		return r;
	}
	vm->arch.mmio_devs[vm->arch.nr_mmio_devs++] =
		(struct arch_mmio_dev){ "LNRO0005", base, VIRTIO_MMIO_SIZE, gsi };
	return 0;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Plays firmware: every BAR gets an address in the host's windows, and I/O,
 * memory and bus mastering are switched on before the guest looks. */
static int place_bars(struct virtio_host *h, struct pci_dev *p, const char *opt,
		      char *err, size_t errlen)
{
	for (int n = 0; n < PCI_NUM_BARS; n++) {
		const struct pci_bar *b = &p->bar[n];
		uint64_t addr;

		if (b->type == PCI_BAR_NONE || !b->size)
			continue;
		if (b->type == PCI_BAR_IO) {
			addr = align_up(h->next_io, b->size);
			if (addr + b->size > h->layout.io_base + h->layout.io_size)
				goto full;
			h->next_io = addr + b->size;
		} else {
			addr = align_up(h->next_mem, b->size);
			if (addr + b->size > h->layout.mem32_base + h->layout.mem32_size)
				goto full;
			h->next_mem = addr + b->size;
		}
		pci_program_bar(p, n, addr);
		if (b->type == PCI_BAR_MEM64)
			n++;          /* the upper half */
	}
	pci_cfg_write(p, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	return 0;
full:
	snprintf(err, errlen, "%s: the PCI windows are full", opt);
	return -ENOSPC;
}

static int attach_pci(struct vdev *v, const char *opt, char *err, size_t errlen)
{
	struct virtio_host *h = v->host;
	struct vm *vm = h->vm;
	int r, slot;

	v->irq = (struct irq_out){ .vm_fd = vm->vm_fd, .efd = -1 };   /* INTx: KVM_IRQ_LINE */
	for (int i = 0; i < MSIX_MAX_VECTORS; i++)
		v->msi[i] = (struct msi_vec){ 0, -1 };
	v->msix_ops = (struct msix_host_ops){ .fire = msix_fire,
					      .vector_changed = msix_vector_changed, .opaque = v };
	r = virtio_pci_init(&v->pci, v->vd, v->t.legacy, (struct irq_line){ irq_level_set, &v->irq },
			    h->notify, &v->msix_ops);
	if (r) {
		snprintf(err, errlen, "%s: cannot set up virtio-pci: %s", opt, strerror(-r));
		return r;
	}
	v->pci_ready = 1;
	slot = pci_host_add(&h->pci, &v->pci.pci, -1);
	if (slot < 0) {
		snprintf(err, errlen, "%s: no free PCI slot", opt);
		return slot;
	}
	v->irq.gsi = h->layout.intx_gsi_base + (uint32_t)(slot % 4);   /* INTA of this slot */
	v->irq.line = arch_irq_line(&vm->arch, v->irq.gsi);
	return place_bars(h, &v->pci.pci, opt, err, errlen);
}

static int attach(struct vdev *v, const char *opt, char *err, size_t errlen)
{
	if (v->t.transport == TRANSPORT_PCI)
		return attach_pci(v, opt, err, errlen);
	return attach_mmio(v, opt, err, errlen);
}

/* ---- devices ---- */

static struct vdev *new_vdev(struct virtio_host *h, enum vdev_kind kind,
			     const struct transport_config *t)
{
	struct vdev *v = &h->devs[h->ndevs++];

	v->host = h;
	v->kind = kind;
	v->t = *t;
	v->irq.efd = -1;
	for (int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		v->notify[q] = (struct vq_notify){ .w = { .fd = -1, .cb = notify_ready,
							  .opaque = &v->notify[q] },
						   .q = (uint16_t)q };
	return v;
}

static int add_disk(struct virtio_host *h, int i, char *err, size_t errlen)
{
	const struct disk_config *dc = &h->vm->cfg->disks[i];
	struct vdev *v = new_vdev(h, VDEV_BLK, &dc->t);
	char serial[32];      /* the device keeps the first 20 bytes */
	int r;

	snprintf(serial, sizeof(serial), "kvmini-disk%d", i);
	r = virtio_blk_init(&v->blk.dev, &h->vm->env->backends->disks[i], serial, &h->vm->mem,
			    &h->platform);
	if (r) {
		snprintf(err, errlen, "--disk: cannot set up '%s': %s", dc->path, strerror(-r));
		return r;
	}
	v->dev_ready = 1;
	v->vd = &v->blk.dev.vdev;
	for (int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		v->notify[q].d = v->vd;
	return attach(v, "--disk", err, errlen);
}

static void tap_readable(struct io_watch *w)
{
	struct vdev *v = w->opaque;
	virtio_net_tap_readable(&v->net.dev);
}

/* The device asks us to stop or resume watching the tap: it leaves frames
 * in the kernel while the guest has no buffers. */
static void tap_watch(void *opaque, bool on)
{
	struct vdev *v = opaque;

	if (on)
		iothread_add(&v->host->io, &v->net.watch);
	else
		iothread_del(&v->host->io, &v->net.watch);
}

static int add_net(struct virtio_host *h, int i, char *err, size_t errlen)
{
	const struct net_config *nc = &h->vm->cfg->nets[i];
	struct vdev *v = new_vdev(h, VDEV_NET, &nc->t);
	/* A stable default: locally administered, "kvm", the card's index. */
	uint8_t mac[6] = { 0x02, 0x6b, 0x76, 0x6d, 0x00, (uint8_t)i };
	int r;

	if (nc->has_mac)
		memcpy(mac, nc->mac, 6);
	r = virtio_net_init(&v->net.dev, &h->vm->env->backends->taps[i], mac, &h->vm->mem,
			    &h->platform);
	if (r) {
		snprintf(err, errlen, "--net: cannot set up tap %s: %s", nc->tap, strerror(-r));
		return r;
	}
	v->dev_ready = 1;
	v->vd = &v->net.dev.vdev;
	for (int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		v->notify[q].d = v->vd;
	v->net.watch = (struct io_watch){ .fd = virtio_net_tap_fd(&v->net.dev), .cb = tap_readable,
					  .opaque = v };
	virtio_net_set_rx_poll(&v->net.dev, tap_watch, v);
	/* Watched from the start: the device pauses the watch itself while it
	 * cannot take frames (before DRIVER_OK, or no RX buffers). */
	if ((r = iothread_add(&h->io, &v->net.watch))) {
		snprintf(err, errlen, "--net: cannot watch tap %s: %s", nc->tap, strerror(-r));
		return r;
	}
	return attach(v, "--net", err, errlen);
}

/* The host bridge: config ports and ECAM, and the windows its BARs decode. */
static int setup_pci(struct virtio_host *h, char *err, size_t errlen)
{
	struct vm *vm = h->vm;
	struct arch_pci_layout *l = &h->layout;
	int r = arch_pci_layout(&vm->arch, l);

	if (r)
		return r;
	pci_host_init(&h->pci);
	h->has_pci = 1;
	h->pci.cf8_passthrough = l->cf8_passthrough;
	h->pci.cf8_passthrough_opaque = l->cf8_passthrough_opaque;
	h->memwin = (struct pci_host_window){ &h->pci, l->mem32_base, false };
	h->iowin = (struct pci_host_window){ &h->pci, l->io_base, true };
	h->next_mem = l->mem32_base;
	h->next_io = l->io_base;
	if (l->config_ports) {
		r = r ?: bus_map(&vm->pio, PCI_CONFIG_ADDRESS_PORT, 4, &pci_host_cf8_ops, &h->pci);
		r = r ?: bus_map(&vm->pio, PCI_CONFIG_DATA_PORT, 4, &pci_host_cfc_ops, &h->pci);
	}
	r = r ?: bus_map(&vm->mmio, l->ecam_base, l->ecam_size, &pci_host_ecam_ops, &h->pci);
	r = r ?: bus_map(&vm->mmio, l->mem32_base, l->mem32_size, &pci_host_window_ops, &h->memwin);
	if (l->io_size && l->io_cpu_base)
		r = r ?: bus_map(&vm->mmio, l->io_cpu_base + l->io_base, l->io_size,
				 &pci_host_window_ops, &h->iowin);
	else if (l->io_size)
		r = r ?: bus_map(&vm->pio, l->io_base, l->io_size, &pci_host_window_ops, &h->iowin);
	if (r)
		snprintf(err, errlen, "cannot map the PCI host bridge: %s", strerror(-r));
	return r;
}

int virtio_host_create(struct vm *vm, struct virtio_host **out, char *err, size_t errlen)
{
	const struct vm_config *cfg = vm->cfg;
	struct virtio_host *h = calloc(1, sizeof(*h));
	int r;

	*out = h;
	if (!h)
		return -ENOMEM;
	h->vm = vm;
	h->io.epfd = h->io.stop_efd = -1;
	h->platform = (struct virtio_platform){ .current_vcpu_is_big_endian = vcpu_big_endian,
						.default_endian = VIRTIO_ENDIAN_LITTLE };
	h->hooks = (struct virtio_notify_hooks){ notify_attach, notify_detach, h };
	h->notify = cfg->no_ioeventfd || !vm->env->kvm->ioeventfd ? NULL : &h->hooks;
	h->irqfd = vm->env->kvm->irqfd;
	struct kvm_irq_routing_entry defaults[GSI_ROUTES_DEFAULT_MAX];
	unsigned first_free;
	int nd = arch_irq_routes(&vm->arch, defaults, GSI_ROUTES_DEFAULT_MAX, &first_free);
	gsi_routes_init(&h->routes, vm->vm_fd, defaults, (unsigned)nd, first_free);
	if ((r = setup_pci(h, err, errlen)))
		return r;
	if (!cfg->ndisks && !cfg->nnets)
		return 0;
	h->devs = calloc((size_t)(cfg->ndisks + cfg->nnets), sizeof(*h->devs));
	if (!h->devs)
		return -ENOMEM;
	if ((r = iothread_start(&h->io))) {
		snprintf(err, errlen, "cannot start the I/O thread: %s", strerror(-r));
		return r;
	}
	for (int i = 0; i < cfg->ndisks; i++)
		if ((r = add_disk(h, i, err, errlen)))
			return r;
	for (int i = 0; i < cfg->nnets; i++)
		if ((r = add_net(h, i, err, errlen)))
			return r;
	return 0;
}

void virtio_host_vcpus_ready(struct virtio_host *h)
{
	for (int i = 0; h && i < h->ndevs; i++) {
		struct vdev *v = &h->devs[i];
		if (v->t.transport != TRANSPORT_PCI && v->irq.efd < 0 && v->irq.line.set)
			irq_out_open_irqfd(&v->irq);
	}
}

/* KVMINI_STATS=1: the devices' counters on stderr when the VM ends. */
static void print_stats(struct vdev *v, int index)
{
	if (v->kind == VDEV_BLK && v->dev_ready) {
		const struct virtio_blk_stats *s = &v->blk.dev.stats;
		fprintf(stderr, "kvmini: stats: disk%d: reads %llu (%llu bytes) writes %llu (%llu bytes) "
			"flushes %llu discards %llu write_zeroes %llu ioerr %llu unsupp %llu malformed %llu\n",
			index, (unsigned long long)s->reads, (unsigned long long)s->read_bytes,
			(unsigned long long)s->writes, (unsigned long long)s->write_bytes,
			(unsigned long long)s->flushes, (unsigned long long)s->discards,
			(unsigned long long)s->write_zeroes, (unsigned long long)s->ioerr,
			(unsigned long long)s->unsupp, (unsigned long long)s->malformed);
	} else if (v->kind == VDEV_NET && v->dev_ready) {
		const struct virtio_net_stats *s = &v->net.dev.stats;
		fprintf(stderr, "kvmini: stats: net%d: rx %llu frames (%llu bytes, %llu dropped, %llu errors) "
			"tx %llu frames (%llu bytes, %llu dropped) ctrl ok %llu err %llu malformed %llu\n",
			index, (unsigned long long)s->rx_frames, (unsigned long long)s->rx_bytes,
			(unsigned long long)s->rx_dropped, (unsigned long long)s->rx_errors,
			(unsigned long long)s->tx_frames, (unsigned long long)s->tx_bytes,
			(unsigned long long)s->tx_dropped, (unsigned long long)s->ctrl_ok,
			(unsigned long long)s->ctrl_err, (unsigned long long)s->malformed);
	}
}

static void destroy_vdev(struct virtio_host *h, struct vdev *v)
{
	int vm_fd = h->vm->vm_fd;

	for (int q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		struct vq_notify *n = &v->notify[q];
		if (n->assigned) {
			n->kvm.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
			ioctl(vm_fd, KVM_IOEVENTFD, &n->kvm);
		}
		if (n->w.fd >= 0)
			close(n->w.fd);
	}
	for (int i = 0; i < MSIX_MAX_VECTORS; i++)
		if (v->msi[i].gsi > 0)
			irqfd_close(vm_fd, v->msi[i].efd, (uint32_t)v->msi[i].gsi);
	irqfd_close(vm_fd, v->irq.efd, v->irq.gsi);
	if (v->pci_ready)
		virtio_pci_destroy(&v->pci);
	/* The backends are the process's (vmm/backends.c): they outlive the VM. */
	if (v->kind == VDEV_BLK && v->dev_ready)
		virtio_blk_destroy(&v->blk.dev);
	else if (v->kind == VDEV_NET && v->dev_ready)
		virtio_net_destroy(&v->net.dev);
}

void virtio_host_destroy(struct virtio_host *h)
{
	if (!h)
		return;
	/* vCPUs are stopped: no new notifications; stop the iothread first so
	 * no callback runs while devices go away. */
	iothread_stop(&h->io);
	const char *stats = getenv("KVMINI_STATS");
	for (int i = 0, nd = 0, nn = 0; stats && *stats && strcmp(stats, "0") && i < h->ndevs; i++)
		print_stats(&h->devs[i], h->devs[i].kind == VDEV_BLK ? nd++ : nn++);
	for (int i = 0; i < h->ndevs; i++)
		destroy_vdev(h, &h->devs[i]);
	if (h->has_pci)
		pci_host_destroy(&h->pci);
	gsi_routes_destroy(&h->routes);
	free(h->devs);
	free(h);
}
