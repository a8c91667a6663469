/* The KVM plumbing of virtio devices, apart from their construction:
 * queue notifications (KVM ioeventfd -> the queue's I/O thread), interrupt
 * lines (irqfd on a GSI, or KVM_IRQ_LINE) and MSI-X vectors (a GSI route
 * and an irqfd each, or KVM_SIGNAL_MSI). */
#ifndef KVMINI_VMM_VIRTIO_KVM_H
#define KVMINI_VMM_VIRTIO_KVM_H

#include "vmm/gsi_routes.h"
#include "vmm/vdev.h"

/* What the plumbing needs from the VM. */
struct virtio_kvm {
	int vm_fd;
	bool irqfd;                   /* KVM has KVM_CAP_IRQFD */
	uint64_t io_cpu_base;         /* PCI I/O space memory-mapped here (arm64), or 0 */
	struct gsi_routes *routes;
	struct vdev *devs;            /* for finding a queue's notifier */
	int ndevs;
};

/* Hooks for the transports: attach / detach / kick per queue. */
struct virtio_notify_hooks virtio_kvm_notify_hooks(struct virtio_kvm *k);
/* Prepares v's notifiers (no fds yet). */
void virtio_kvm_init_notify(struct vdev *v);

/* Interrupt lines: edge (virtio-mmio; irqfd when it can) and level (INTx). */
void irq_out_edge_set(void *opaque, int level);
void irq_out_level_set(void *opaque, int level);
void irq_out_open_irqfd(struct irq_out *o);

/* MSI-X host ops for v (vector routes and irqfds). */
struct msix_host_ops virtio_kvm_msix_ops(struct vdev *v, struct virtio_kvm *k);

/* Deassigns and closes everything KVM-side of v. */
void virtio_kvm_release(struct virtio_kvm *k, struct vdev *v);

#endif
