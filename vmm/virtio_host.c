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

#include "virtio/blk.h"
#include "virtio/blk_file.h"
#include "virtio/mmio.h"
#include "virtio/virtio.h"
#include "vmm/iothread.h"
#include "vmm/vm.h"

/* One queue's notification path: an eventfd KVM signals on the guest's
 * QueueNotify write, watched by the iothread. */
struct vq_notify {
	struct io_watch w;
	struct virtio_host *host;
	struct virtio_dev *d;
	uint16_t q;
	struct kvm_ioeventfd kvm;     /* as assigned, for deassign */
	int assigned;
};

/* Interrupts: an irqfd per device (edge: one write, one interrupt), or
 * KVM_IRQ_LINE pulses when the kernel has no irqfd. */
struct irq_out {
	int vm_fd;
	uint32_t gsi;
	int efd;
};

struct disk_dev {
	struct blk_file file;
	struct virtio_blk blk;
	struct virtio_mmio mmio;
	struct irq_out irq;
	struct vq_notify notify[VIRTIO_MAX_QUEUES];
	int file_open, blk_ready;
};

struct virtio_host {
	struct vm *vm;
	struct iothread io;
	struct virtio_notify_hooks hooks;
	struct virtio_platform platform;
	struct disk_dev *disks;
	int ndisks;
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

static void irq_out_set(void *opaque, int level)
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
	struct kvm_irq_level l = { .irq = o->gsi, .level = 1 };
	ioctl(o->vm_fd, KVM_IRQ_LINE, &l);
	l.level = 0;
	ioctl(o->vm_fd, KVM_IRQ_LINE, &l);
}

static void irq_out_init(struct irq_out *o, int vm_fd, uint32_t gsi)
{
	struct kvm_irqfd irqfd = { .gsi = gsi };

	*o = (struct irq_out){ .vm_fd = vm_fd, .gsi = gsi, .efd = -1 };
	irqfd.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if ((int)irqfd.fd < 0)
		return;
	if (ioctl(vm_fd, KVM_IRQFD, &irqfd) < 0) {
		close((int)irqfd.fd);
		return;
	}
	o->efd = (int)irqfd.fd;
}

static void irq_out_close(struct irq_out *o)
{
	if (o->efd < 0)
		return;
	struct kvm_irqfd irqfd = { .fd = (uint32_t)o->efd, .gsi = o->gsi,
				   .flags = KVM_IRQFD_FLAG_DEASSIGN };
	ioctl(o->vm_fd, KVM_IRQFD, &irqfd);
	close(o->efd);
	o->efd = -1;
}

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
	for (int i = 0; i < h->ndisks; i++)
		if (&h->disks[i].blk.vdev == d)
			return &h->disks[i].notify[q];
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

static int add_disk(struct virtio_host *h, int i, char *err, size_t errlen)
{
	struct vm *vm = h->vm;
	const struct disk_config *dc = &vm->cfg->disks[i];
	struct disk_dev *dd = &h->disks[i];
	char serial[32];   /* the device keeps the first 20 bytes */
	uint64_t base;
	uint32_t gsi;
	int r;

	for (int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		dd->notify[q] = (struct vq_notify){ .w = { .fd = -1, .cb = notify_ready,
							   .opaque = &dd->notify[q] },
						    .host = h, .d = &dd->blk.vdev, .q = (uint16_t)q };
	dd->irq.efd = -1;
	r = blk_file_open(&dd->file, dc->path, dc->readonly,
			  dc->cache == DISK_CACHE_NONE ? BLK_CACHE_NONE : BLK_CACHE_WRITEBACK,
			  err, errlen);
	if (r)
		return r;
	dd->file_open = 1;
	snprintf(serial, sizeof(serial), "kvmini-disk%d", i);
	if ((r = virtio_blk_init(&dd->blk, &dd->file, serial, &vm->mem, &h->platform))) {
		snprintf(err, errlen, "--disk: cannot set up '%s': %s", dc->path, strerror(-r));
		return r;
	}
	dd->blk_ready = 1;
	if ((r = arch_virtio_mmio_slot(&vm->arch, vm->arch.nr_mmio_devs, &base, &gsi))) {
		snprintf(err, errlen, "--disk: no room for another virtio-mmio device");
		return r;
	}
	irq_out_init(&dd->irq, vm->vm_fd, gsi);
	virtio_mmio_init(&dd->mmio, &dd->blk.vdev, dc->version, base,
			 (struct irq_line){ irq_out_set, &dd->irq },
			 vm->cfg->no_ioeventfd ? NULL : &h->hooks);
	if ((r = bus_map(&vm->mmio, base, VIRTIO_MMIO_SIZE, &virtio_mmio_ops, &dd->mmio))) {
		snprintf(err, errlen, "--disk: cannot map virtio-mmio window: %s", strerror(-r));
		return r;
	}
	vm->arch.mmio_devs[vm->arch.nr_mmio_devs++] =
		(struct arch_mmio_dev){ "LNRO0005", base, VIRTIO_MMIO_SIZE, gsi };
	return 0;
}

int virtio_host_create(struct vm *vm, struct virtio_host **out, char *err, size_t errlen)
{
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
	if (!vm->cfg->ndisks)
		return 0;
	h->disks = calloc((size_t)vm->cfg->ndisks, sizeof(*h->disks));
	if (!h->disks)
		return -ENOMEM;
	if ((r = iothread_start(&h->io))) {
		snprintf(err, errlen, "cannot start the I/O thread: %s", strerror(-r));
		return r;
	}
	for (int i = 0; i < vm->cfg->ndisks; i++) {
		h->ndisks = i + 1;
		if ((r = add_disk(h, i, err, errlen)))
			return r;
	}
	return 0;
}

void virtio_host_destroy(struct virtio_host *h)
{
	if (!h)
		return;
	/* vCPUs are stopped: no new notifications; stop the iothread first so
	 * no callback runs while devices go away. */
	iothread_stop(&h->io);
	for (int i = 0; i < h->ndisks; i++) {
		struct disk_dev *dd = &h->disks[i];
		for (int q = 0; q < VIRTIO_MAX_QUEUES; q++) {
			if (dd->notify[q].assigned) {
				dd->notify[q].kvm.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
				ioctl(h->vm->vm_fd, KVM_IOEVENTFD, &dd->notify[q].kvm);
			}
			if (dd->notify[q].w.fd >= 0)
				close(dd->notify[q].w.fd);
		}
		irq_out_close(&dd->irq);
		if (dd->blk_ready)
			virtio_blk_destroy(&dd->blk);
		if (dd->file_open)
			blk_file_close(&dd->file);
	}
	free(h->disks);
	free(h);
}
