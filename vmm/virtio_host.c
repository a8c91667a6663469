/* The VMM's side of virtio devices: builds one per --disk and --net through
 * the device table below (each kind a class in a file of its own), puts each
 * on its transport (virtio-mmio windows announced in the firmware tables, or
 * slots on the PCI host bridge with BARs we place as firmware would), runs
 * the I/O threads, and hands the KVM plumbing to virtio_kvm.c. Devices and
 * transports know none of this. */
#include "vmm/virtio_host.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pci/pci_host.h"
#include "virtio/virtio_state.h"
#include "vmm/kvm.h"
#include "vmm/snapfile.h"
#include "vmm/vdev.h"
#include "vmm/virtio_kvm.h"
#include "vmm/vm.h"

/* Every device kind: adding one is a class and a line here. */
static const struct vdev_class *const device_table[] = {
	&vdev_blk_class,
	&vdev_net_class,
	&vdev_console_class,
};

#define NKINDS (sizeof(device_table) / sizeof(device_table[0]))

struct virtio_host {
	struct vm *vm;
	struct virtio_kvm kvm;
	struct virtio_notify_hooks hooks;
	/* Without KVM's ioeventfd (or with --no-ioeventfd) transports get no
	 * hooks and serve kicks on the vCPU thread. */
	const struct virtio_notify_hooks *notify;
	struct virtio_platform platform;
	struct gsi_routes routes;
	struct pci_host pci;
	struct pci_host_window memwin, iowin;
	struct arch_pci_layout layout;
	int has_pci;
	uint64_t next_mem, next_io;
	/* I/O threads: disk_io[0..ndisk_io) for disk queues, net_io for
	 * network cards (started when first asked for). */
	struct iothread disk_io[CLI_MAX_IOTHREADS], net_io;
	int ndisk_io, next_disk_io;
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

/* ---- for the classes ---- */

const struct vm_config *vdev_config(const struct vdev *v)
{
	return v->host->vm->cfg;
}

struct vm *vdev_vm(const struct vdev *v)
{
	return v->host->vm;
}

const struct virtio_platform *vdev_platform(const struct vdev *v)
{
	return &v->host->platform;
}

static struct iothread *started(struct iothread *t)
{
	if (!t->running && iothread_start(t))
		return NULL;
	return t;
}

struct iothread *vdev_disk_iothread(struct vdev *v, int pinned)
{
	struct virtio_host *h = v->host;
	int i = pinned >= 0 ? pinned : h->next_disk_io++;

	return started(&h->disk_io[i % h->ndisk_io]);
}

struct iothread *vdev_net_iothread(struct vdev *v)
{
	return started(&v->host->net_io);
}

void vdev_set_queue_io(struct vdev *v, uint16_t q, struct iothread *io)
{
	if (q < VIRTIO_MAX_QUEUES)
		v->queue_io[q] = io;
}

/* ---- transports ---- */

static int attach_mmio(struct vdev *v, char *err, size_t errlen)
{
	struct virtio_host *h = v->host;
	struct vm *vm = h->vm;
	uint64_t base;
	uint32_t gsi;
	int r;

	if ((r = arch_virtio_mmio_slot(&vm->arch, vm->arch.nr_mmio_devs, &base, &gsi))) {
		snprintf(err, errlen, "%s: no room for another virtio-mmio device", v->cls->opt);
		return r;
	}
	v->irq = (struct irq_out){ .vm_fd = vm->vm_fd, .gsi = gsi, .efd = -1,
				   .line = arch_irq_line(&vm->arch, gsi), .use_irqfd = h->kvm.irqfd };
	irq_out_open_irqfd(&v->irq);
	virtio_mmio_init(&v->mmio, v->vd, v->t.version, base,
			 (struct irq_line){ irq_out_edge_set, &v->irq }, h->notify);
	if ((r = bus_map(&vm->mmio, base, VIRTIO_MMIO_SIZE, &virtio_mmio_ops, &v->mmio))) {
		snprintf(err, errlen, "%s: cannot map virtio-mmio window: %s", v->cls->opt,
			 strerror(-r));
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

static int attach_pci(struct vdev *v, char *err, size_t errlen)
{
	struct virtio_host *h = v->host;
	struct vm *vm = h->vm;
	int r, slot;

	v->irq = (struct irq_out){ .vm_fd = vm->vm_fd, .efd = -1 };   /* INTx: KVM_IRQ_LINE */
	v->msix_ops = virtio_kvm_msix_ops(v, &h->kvm);
	r = virtio_pci_init(&v->pci, v->vd, v->t.legacy,
			    (struct irq_line){ irq_out_level_set, &v->irq }, h->notify, &v->msix_ops);
	if (r) {
		snprintf(err, errlen, "%s: cannot set up virtio-pci: %s", v->cls->opt, strerror(-r));
		return r;
	}
	v->pci_ready = true;
	slot = pci_host_add(&h->pci, &v->pci.pci, -1);
	if (slot < 0) {
		snprintf(err, errlen, "%s: no free PCI slot", v->cls->opt);
		return slot;
	}
	v->irq.gsi = h->layout.intx_gsi_base + (uint32_t)(slot % 4);   /* INTA of this slot */
	v->irq.line = arch_irq_line(&vm->arch, v->irq.gsi);
	return place_bars(h, &v->pci.pci, v->cls->opt, err, errlen);
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

/* ---- devices ---- */

static int add_device(struct virtio_host *h, const struct vdev_class *cls, int index,
		      char *err, size_t errlen)
{
	struct vdev *v = &h->devs[h->ndevs++];
	int r;

	v->host = h;
	v->kvm = &h->kvm;
	v->cls = cls;
	v->index = index;
	v->t = *cls->transport(h->vm->cfg, index);
	v->irq.efd = -1;
	virtio_kvm_init_notify(v);
	h->kvm.ndevs = h->ndevs;
	if ((r = cls->create(v, index, err, errlen)))
		return r;
	/* Packed rings (virtio 1.2 §2.8) need VERSION_1: offered on modern
	 * virtio-mmio and on PCI, where only a driver using the modern
	 * interface can see feature bit 34. Any device gets them: the virtqueue
	 * layer serves both layouts behind one interface. */
	if (v->t.packed && (v->t.transport == TRANSPORT_PCI || v->t.version == 2))
		v->vd->host_features |= 1ull << VIRTIO_F_RING_PACKED;
	for (int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (!v->queue_io[q] && q < v->vd->num_queues) {
			snprintf(err, errlen, "%s: cannot start an I/O thread", cls->opt);
			return -EAGAIN;
		}
	return v->t.transport == TRANSPORT_PCI ? attach_pci(v, err, errlen)
					       : attach_mmio(v, err, errlen);
}

int virtio_host_create(struct vm *vm, struct virtio_host **out, char *err, size_t errlen)
{
	const struct vm_config *cfg = vm->cfg;
	struct virtio_host *h = calloc(1, sizeof(*h));
	int r, total = 0;

	*out = h;
	if (!h)
		return -ENOMEM;
	h->vm = vm;
	h->ndisk_io = cfg->iothreads > 0 ? cfg->iothreads : 1;
	for (int i = 0; i < CLI_MAX_IOTHREADS; i++)
		h->disk_io[i].epfd = h->disk_io[i].stop_efd = -1;
	h->net_io.epfd = h->net_io.stop_efd = -1;
	h->platform = (struct virtio_platform){ .current_vcpu_is_big_endian = vcpu_big_endian,
						.default_endian = VIRTIO_ENDIAN_LITTLE };
	struct kvm_irq_routing_entry defaults[GSI_ROUTES_DEFAULT_MAX];
	unsigned first_free;
	int nd = arch_irq_routes(&vm->arch, defaults, GSI_ROUTES_DEFAULT_MAX, &first_free);
	gsi_routes_init(&h->routes, vm->vm_fd, defaults, (unsigned)nd, first_free);
	if ((r = setup_pci(h, err, errlen)))
		return r;
	h->kvm = (struct virtio_kvm){ .vm_fd = vm->vm_fd, .irqfd = vm->env->kvm->irqfd,
				      .io_cpu_base = h->layout.io_cpu_base, .routes = &h->routes };
	h->hooks = virtio_kvm_notify_hooks(&h->kvm);
	h->notify = cfg->no_ioeventfd || !vm->env->kvm->ioeventfd ? NULL : &h->hooks;
	for (size_t k = 0; k < NKINDS; k++)
		total += device_table[k]->count(cfg);
	if (!total)
		return 0;
	h->devs = calloc((size_t)total, sizeof(*h->devs));
	if (!h->devs)
		return -ENOMEM;
	h->kvm.devs = h->devs;
	for (size_t k = 0; k < NKINDS; k++)
		for (int i = 0; i < device_table[k]->count(cfg); i++)
			if ((r = add_device(h, device_table[k], i, err, errlen)))
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

/* A JSON array with one object per device, written by one(); sep goes
 * before each (its first character, the comma, not before the first one). */
static char *devices_array(struct virtio_host *h, const char *sep, const char *close,
			   void (*one)(struct vdev *v, FILE *f))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	fputc('[', f);
	for (int i = 0, n = 0; h && i < h->ndevs; i++) {
		if (!h->devs[i].vd)
			continue;
		fputs(n++ ? sep : sep + 1, f);
		one(&h->devs[i], f);
	}
	fputs(close, f);
	fclose(f);
	return buf;
}

static void device_counters(struct vdev *v, FILE *f)
{
	if (v->cls->stats_json)
		v->cls->stats_json(v, v->index, f);
	else
		fprintf(f, "{\"option\": \"%s\", \"index\": %d}", v->cls->opt, v->index);
}

/* The devices' counters, for --result. */
static char *devices_json(struct virtio_host *h)
{
	return devices_array(h, ",\n    ", "\n  ]", device_counters);
}

char *virtio_host_queues_json(struct virtio_host *h)
{
	return devices_array(h, ", ", "]", vdev_queues_json);
}

void virtio_host_destroy(struct virtio_host *h)
{
	if (!h)
		return;
	/* vCPUs are stopped: no new notifications; stop the I/O threads first
	 * so no callback runs while devices go away. */
	for (int i = 0; i < CLI_MAX_IOTHREADS; i++)
		iothread_stop(&h->disk_io[i]);
	iothread_stop(&h->net_io);
	if (h->vm->cfg->result)
		h->vm->devices_json = devices_json(h);
	if (vm_stats_wanted())
		for (int i = 0; i < h->ndevs; i++)
			if (h->devs[i].vd)
				h->devs[i].cls->stats(&h->devs[i], h->devs[i].index, stderr);
	for (int i = 0; i < h->ndevs; i++) {
		struct vdev *v = &h->devs[i];
		virtio_kvm_release(&h->kvm, v);
		if (v->pci_ready)
			virtio_pci_destroy(&v->pci);
		/* The backends are the process's (vmm/backends.c): they outlive
		 * the VM. */
		v->cls->destroy(v);
	}
	if (h->has_pci)
		pci_host_destroy(&h->pci);
	gsi_routes_destroy(&h->routes);
	free(h->devs);
	free(h);
}

/* ---- snapshots (vmm/snapshot.c, restore.c) ---- */

int virtio_host_check_saveable(struct virtio_host *h, char *err, size_t errlen)
{
	for (int i = 0; h && i < h->ndevs; i++) {
		const struct vdev_class *c = h->devs[i].cls;
		if (!c->save || !c->load) {   /* quiesce: optional (nothing held) */
			snprintf(err, errlen, "snapshots of %s devices are not supported yet", c->opt);
			return -ENOTSUP;
		}
	}
	return 0;
}

static void each_iothread(struct virtio_host *h, void (*fn)(struct iothread *t))
{
	for (int i = 0; i < CLI_MAX_IOTHREADS; i++)
		fn(&h->disk_io[i]);
	fn(&h->net_io);
}

void virtio_host_quiesce(struct virtio_host *h)
{
	if (!h)
		return;
	/* No callback runs from here on (no completion, no tap frame, no
	 * kick); then each device finishes or gives back what it holds. */
	each_iothread(h, iothread_pause);
	for (int i = 0; i < h->ndevs; i++)
		if (h->devs[i].vd && h->devs[i].cls->quiesce)
			h->devs[i].cls->quiesce(&h->devs[i]);
}

/* Every live queue once, as if the driver had kicked it: work the ring
 * holds and no eventfd remembers (requests past a pass's budget, a kick
 * lost with the old process, receive buffers given back) is picked up. */
static void kick_all(struct virtio_host *h)
{
	uint64_t one = 1;

	for (int i = 0; i < h->ndevs; i++) {
		struct vdev *v = &h->devs[i];
		struct virtio_dev *d = v->vd;
		if (!d || (d->status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET)) !=
			  VIRTIO_STATUS_DRIVER_OK)
			continue;
		for (uint16_t q = 0; q < d->num_queues; q++) {
			if (!d->vq[q].ready)
				continue;
			if (v->notify[q].assigned &&
			    write(v->notify[q].w.fd, &one, sizeof(one)) == sizeof(one))
				continue;
			d->ops->queue_notify(d, q);
		}
	}
}

void virtio_host_resume(struct virtio_host *h)
{
	if (!h)
		return;
	each_iothread(h, iothread_resume);
	kick_all(h);
}

static int pci_slot_of(struct virtio_host *h, struct vdev *v)
{
	for (int s = 0; s < PCI_HOST_MAX_DEVS; s++)
		if (h->pci.dev[s] == &v->pci.pci)
			return s;
	return -1;
}

void virtio_host_save(struct virtio_host *h, struct state_w *w)
{
	size_t at;

	if (!h)
		return;
	if (h->has_pci) {
		at = snap_begin(w, SNAP_TAG_PCIH, 0, 1);
		sw_u32(w, h->pci.config_address);
		pci_dev_save_state(&h->pci.bridge, w);
		sw_end(w, at);
	}
	for (int i = 0; i < h->ndevs; i++) {
		struct vdev *v = &h->devs[i];
		size_t n = strlen(v->cls->opt);
		at = snap_begin(w, SNAP_TAG_VDEV, (uint32_t)i, 1);
		sw_u32(w, (uint32_t)n);
		sw_bytes(w, v->cls->opt, n);
		sw_u32(w, (uint32_t)v->index);
		sw_u8(w, v->t.transport == TRANSPORT_PCI);
		sw_u8(w, (uint8_t)(v->t.transport == TRANSPORT_PCI ? pci_slot_of(h, v) : 0));
		virtio_save_state(v->vd, w);
		if (v->t.transport == TRANSPORT_PCI)
			virtio_pci_save_state(&v->pci, w);
		else
			virtio_mmio_save_state(&v->mmio, w);
		v->cls->save(v, w);
		sw_end(w, at);
	}
}

static int load_device(struct virtio_host *h, struct vdev *v, const struct snap_section *sec,
		       struct state_err *e)
{
	struct state_r r;
	char opt[32] = "";
	bool pci = v->t.transport == TRANSPORT_PCI;

	sr_init(&r, sec->p, sec->len, e);
	uint32_t n = sr_u32(&r);
	if (sr_ok(&r) && n < sizeof(opt))
		sr_bytes(&r, opt, n);
	uint32_t index = sr_u32(&r);
	bool was_pci = sr_u8(&r);
	int slot = sr_u8(&r);
	if (!sr_ok(&r))
		return -EINVAL;
	if (n >= sizeof(opt) || strcmp(opt, v->cls->opt) || index != (uint32_t)v->index ||
	    was_pci != pci || (pci && slot != pci_slot_of(h, v)))
		return sr_fail(&r, "device %d: the snapshot holds %.*s %u on %s here, this VM "
			       "%s %d on %s", v->index, (int)(n < sizeof(opt) ? n : 0), opt, index,
			       was_pci ? "PCI" : "virtio-mmio", v->cls->opt, v->index,
			       pci ? "PCI" : "virtio-mmio");
	if (virtio_load_state(v->vd, &r) ||
	    (pci ? virtio_pci_load_state(&v->pci, &r) : virtio_mmio_load_state(&v->mmio, &r)) ||
	    virtio_state_activate(v->vd, e) || v->cls->load(v, &r) || sr_end(&r, v->cls->opt))
		return -EINVAL;
	virtio_state_start(v->vd);
	return 0;
}

int virtio_host_load(struct virtio_host *h, const struct snapfile *f, struct state_err *e)
{
	struct state_r r;
	int nsaved = snap_count(f, SNAP_TAG_VDEV), rc = 0;
	const struct snap_section *s = snap_find(f, SNAP_TAG_PCIH, 0);

	sr_init(&r, NULL, 0, e);
	if (nsaved != (h ? h->ndevs : 0))
		return sr_fail(&r, "the snapshot has %d virtio devices, this VM %d", nsaved,
			       h ? h->ndevs : 0);
	if (!h)
		return 0;
	if (h->has_pci != (s != NULL))
		return sr_fail(&r, "the snapshot %s a PCI host bridge", s ? "has" : "lacks");
	if (s) {
		sr_init(&r, s->p, s->len, e);
		h->pci.config_address = sr_u32(&r);
		if (pci_dev_load_state(&h->pci.bridge, &r) || sr_end(&r, "PCI host bridge"))
			return -EINVAL;
	}
	/* Device callbacks wait until every device is whole. */
	each_iothread(h, iothread_pause);
	for (int i = 0; i < h->ndevs && !rc; i++) {
		s = snap_find(f, SNAP_TAG_VDEV, (uint32_t)i);
		sr_init(&r, NULL, 0, e);
		rc = s ? load_device(h, &h->devs[i], s, e)
		       : sr_fail(&r, "no state for device %d (%s %d)", i, h->devs[i].cls->opt,
				 h->devs[i].index);
	}
	if (!rc)
		for (int i = 0; i < h->ndevs; i++)
			virtio_state_reraise(h->devs[i].vd);
	each_iothread(h, iothread_resume);
	if (!rc)
		kick_all(h);
	return rc;
}
