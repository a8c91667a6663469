/* The VMM's side of virtio devices: builds them from the command line, maps
 * their transports, and connects notifications (KVM ioeventfd -> iothread)
 * and interrupts (KVM irqfd). Devices and transports know none of this. */
#ifndef KVMINI_VMM_VIRTIO_HOST_H
#define KVMINI_VMM_VIRTIO_HOST_H

#include <stddef.h>

struct vm;
struct virtio_host;

/* Builds a device for every --disk and --net on the backends the process
 * opened (vm->env->backends) and maps it; errors name the option. */
int virtio_host_create(struct vm *vm, struct virtio_host **out, char *err, size_t errlen);
void virtio_host_destroy(struct virtio_host *h);
/* Every device's queues as they stand, one JSON array on one line
 * (malloc'd; NULL when out of memory). */
char *virtio_host_queues_json(struct virtio_host *h);

/* Call once the vCPUs exist: retries the irqfds KVM refused while the
 * interrupt controller was not initialised (arm64: KVM_IRQFD is -EAGAIN
 * until the GIC's CTRL_INIT, which needs every vCPU). Until then, and if
 * that fails again, interrupts go through KVM_IRQ_LINE. */
void virtio_host_vcpus_ready(struct virtio_host *h);

/* For the endianness hook: which vCPU (fd) runs on this thread, -1 none. */
void virtio_host_set_current_vcpu(int vcpu_fd);

/* Snapshots (vmm/snapshot.c, restore.c), from the main thread with every
 * vCPU parked. quiesce parks the I/O threads and has each device finish or
 * give back what it holds; resume lets them run again and kicks every live
 * queue once. save writes the PCIH section and a VDEV section per device;
 * load is the restore side, devices built as the snapshot's were, after
 * the interrupt controllers' state (it re-raises what the devices' ISRs
 * still show) -- 0, or -EINVAL with the message in e. */
struct snapfile;
struct state_err;
struct state_w;
int virtio_host_check_saveable(struct virtio_host *h, char *err, size_t errlen);
void virtio_host_quiesce(struct virtio_host *h);
void virtio_host_resume(struct virtio_host *h);
void virtio_host_save(struct virtio_host *h, struct state_w *w);
int virtio_host_load(struct virtio_host *h, const struct snapfile *f, struct state_err *e);

#endif
