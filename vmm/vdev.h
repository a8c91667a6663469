/* One virtio device as the VMM holds it: the device model (a class's
 * business: vdev_blk.c, vdev_net.c), its transport (virtio_host.c) and its
 * KVM plumbing (virtio_kvm.c). Adding a device kind is a class in a file of
 * its own plus one entry in virtio_host.c's table. */
#ifndef KVMINI_VMM_VDEV_H
#define KVMINI_VMM_VDEV_H

#include <stdbool.h>
#include <stdio.h>

#include <linux/kvm.h>

#include "pci/msix.h"
#include "virtio/mmio.h"
#include "virtio/pci.h"
#include "virtio/virtio.h"
#include "vmm/cli.h"
#include "vmm/iothread.h"

struct state_r;
struct state_w;
struct vdev;
struct virtio_host;
struct virtio_kvm;

/* A device kind: how many the command line asks for, where each sits, and
 * how to build, describe and take one down. */
struct vdev_class {
	const char *opt;              /* "--disk": prefixes its error messages */
	int (*count)(const struct vm_config *cfg);
	const struct transport_config *(*transport)(const struct vm_config *cfg, int index);
	/* Builds device index: sets v->vd and v->priv, gives each queue an I/O
	 * thread (vdev_set_queue_io) and watches what it needs. 0 or -errno,
	 * with err naming the option. */
	int (*create)(struct vdev *v, int index, char *err, size_t errlen);
	/* After the transport is gone and the I/O threads stopped. */
	void (*destroy)(struct vdev *v);
	/* KVMINI_STATS=1: one line of counters. */
	void (*stats)(struct vdev *v, int index, FILE *out);
	/* --result: the same counters as one JSON object. Optional. */
	void (*stats_json)(struct vdev *v, int index, FILE *out);
	/* Snapshots (vmm/snapshot.c, restore.c); a kind without save and load
	 * cannot be snapshotted. quiesce (optional): nothing in flight or held
	 * (vCPUs and I/O threads parked); save/load: the device's own state
	 * after the core's and the transport's (devices/virtio/virtio_state.h
	 * has the order). */
	void (*quiesce)(struct vdev *v);
	void (*save)(struct vdev *v, struct state_w *w);
	int (*load)(struct vdev *v, struct state_r *r);
};

/* One queue's notification path: an eventfd KVM signals on the guest's
 * notify write, watched by the queue's I/O thread. */
struct vq_notify {
	struct io_watch w;
	struct vdev *v;
	uint16_t q;
	struct kvm_ioeventfd kvm;     /* as assigned, for deassign */
	bool assigned;
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

struct vdev {
	struct virtio_host *host;
	struct virtio_kvm *kvm;
	const struct vdev_class *cls;
	int index;
	struct transport_config t;
	struct virtio_dev *vd;
	void *priv;                   /* the class's */
	struct iothread *queue_io[VIRTIO_MAX_QUEUES];
	struct vq_notify notify[VIRTIO_MAX_QUEUES];
	/* transport */
	bool pci_ready;
	struct virtio_mmio mmio;
	struct virtio_pci pci;
	struct irq_out irq;           /* virtio-mmio (edge) or INTx (level) */
	struct msi_vec msi[MSIX_MAX_VECTORS];
	struct msix_host_ops msix_ops;
};

/* ---- what classes may ask of the host (virtio_host.c) ---- */
const struct vm_config *vdev_config(const struct vdev *v);
struct vm *vdev_vm(const struct vdev *v);
const struct virtio_platform *vdev_platform(const struct vdev *v);
/* I/O threads: disks spread their queues over --iothreads (or one pinned
 * by iothread=K); network cards share one of their own. */
struct iothread *vdev_disk_iothread(struct vdev *v, int pinned);
struct iothread *vdev_net_iothread(struct vdev *v);
void vdev_set_queue_io(struct vdev *v, uint16_t q, struct iothread *io);

/* kvmini ctl SOCK queues: one device's queues as JSON (vdev_queues.c). */
void vdev_queues_json(struct vdev *v, FILE *f);

extern const struct vdev_class vdev_blk_class, vdev_net_class, vdev_console_class;

#endif
