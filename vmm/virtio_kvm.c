/* KVM plumbing for virtio devices: see virtio_kvm.h. */
#include "vmm/virtio_kvm.h"

#include <errno.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* ---- interrupts ---- */

void irq_out_edge_set(void *opaque, int level)
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

void irq_out_level_set(void *opaque, int level)
{
	struct irq_out *o = opaque;

	irq_line_set(&o->line, level);
}

void irq_out_open_irqfd(struct irq_out *o)
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
	struct virtio_kvm *k = v->kvm;

	if (vec >= MSIX_MAX_VECTORS || !k->irqfd)
		return;       /* no irqfd: fire() uses KVM_SIGNAL_MSI */
	struct msi_vec *m = &v->msi[vec];
	if (m->gsi > 0) {
		gsi_routes_set_msi(k->routes, (unsigned)m->gsi, addr, data);
		return;
	}
	int gsi = gsi_routes_add_msi(k->routes, addr, data);
	if (gsi < 0)
		return;       /* fire() falls back to KVM_SIGNAL_MSI */
	struct kvm_irqfd irqfd = { .gsi = (uint32_t)gsi };
	irqfd.fd = (uint32_t)eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if ((int)irqfd.fd >= 0 && ioctl(k->vm_fd, KVM_IRQFD, &irqfd) < 0) {
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
	ioctl(v->kvm->vm_fd, KVM_SIGNAL_MSI, &msi);
}

struct msix_host_ops virtio_kvm_msix_ops(struct vdev *v, struct virtio_kvm *k)
{
	v->kvm = k;
	for (int i = 0; i < MSIX_MAX_VECTORS; i++)
		v->msi[i] = (struct msi_vec){ 0, -1 };
	return (struct msix_host_ops){ .fire = msix_fire, .vector_changed = msix_vector_changed,
				       .opaque = v };
}

/* ---- queue notifications ---- */

/* On the queue's I/O thread, which may poll the queue a while after
 * serving it, if the device does that. */
static void notify_ready(struct io_watch *w)
{
	struct vq_notify *n = w->opaque;
	struct virtio_dev *d = n->v->vd;
	uint64_t cnt;

	if (read(w->fd, &cnt, sizeof(cnt)) <= 0)
		return;
	if (d->ops->queue_notify_poll) {
		struct vq_poll_env env = iothread_poll_env(n->v->queue_io[n->q]);
		d->ops->queue_notify_poll(d, n->q, &env);
	} else {
		d->ops->queue_notify(d, n->q);
	}
}

void virtio_kvm_init_notify(struct vdev *v)
{
	for (int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		v->notify[q] = (struct vq_notify){ .w = { .fd = -1, .cb = notify_ready,
							  .opaque = &v->notify[q] },
						   .v = v, .q = (uint16_t)q };
}

static struct vq_notify *find_notify(struct virtio_kvm *k, struct virtio_dev *d, uint16_t q)
{
	if (q >= VIRTIO_MAX_QUEUES)
		return NULL;
	for (int i = 0; i < k->ndevs; i++)
		if (k->devs[i].vd == d)
			return &k->devs[i].notify[q];
	return NULL;
}

static int notify_attach(void *opaque, struct virtio_dev *d, uint16_t q, uint64_t addr,
			 uint32_t len, bool is_pio, uint64_t datamatch)
{
	struct virtio_kvm *k = opaque;
	struct vq_notify *n = find_notify(k, d, q);
	struct iothread *io;

	if (!n || !(io = n->v->queue_io[q]))
		return -EINVAL;
	if (n->assigned)
		return 0;
	if (is_pio && k->io_cpu_base) {   /* memory-mapped PCI I/O space (arm64) */
		addr += k->io_cpu_base;
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
	if (ioctl(k->vm_fd, KVM_IOEVENTFD, &n->kvm) < 0)
		return -errno;
	int r = iothread_add(io, &n->w);
	if (r) {
		n->kvm.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
		ioctl(k->vm_fd, KVM_IOEVENTFD, &n->kvm);
		return r;
	}
	n->assigned = true;
	return 0;
}

static void notify_detach(void *opaque, struct virtio_dev *d, uint16_t q)
{
	struct virtio_kvm *k = opaque;
	struct vq_notify *n = find_notify(k, d, q);

	if (!n || !n->assigned)
		return;
	iothread_del(n->v->queue_io[q], &n->w);
	n->kvm.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
	ioctl(k->vm_fd, KVM_IOEVENTFD, &n->kvm);
	n->assigned = false;
}

/* A kick that did not come through KVM (the PCI_CFG window): the same
 * eventfd, so the same I/O thread serves it. -ENOENT when the queue has no
 * ioeventfd: the transport then serves it itself. */
static int notify_kick(void *opaque, struct virtio_dev *d, uint16_t q)
{
	struct vq_notify *n = find_notify(opaque, d, q);
	uint64_t one = 1;

	if (!n || !n->assigned)
		return -ENOENT;
	return write(n->w.fd, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}

struct virtio_notify_hooks virtio_kvm_notify_hooks(struct virtio_kvm *k)
{
	return (struct virtio_notify_hooks){ .attach = notify_attach, .detach = notify_detach,
					     .kick = notify_kick, .opaque = k };
}

void virtio_kvm_release(struct virtio_kvm *k, struct vdev *v)
{
	for (int q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		struct vq_notify *n = &v->notify[q];
		if (n->assigned) {
			n->kvm.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
			ioctl(k->vm_fd, KVM_IOEVENTFD, &n->kvm);
			n->assigned = false;
		}
		if (n->w.fd >= 0)
			close(n->w.fd);
		n->w.fd = -1;
	}
	for (int i = 0; i < MSIX_MAX_VECTORS; i++)
		if (v->msi[i].gsi > 0)
			irqfd_close(k->vm_fd, v->msi[i].efd, (uint32_t)v->msi[i].gsi);
	irqfd_close(k->vm_fd, v->irq.efd, v->irq.gsi);
	v->irq.efd = -1;
}
