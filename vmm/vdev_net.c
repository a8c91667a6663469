/* --net: a virtio-net card on the tap backends.c opened, served on the
 * network I/O thread (apart from disk I/O). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/net.h"
#include "vmm/backends.h"
#include "vmm/vdev.h"
#include "vmm/vm.h"

struct net_host {
	struct virtio_net dev;
	bool ready;
	struct io_watch watch;        /* the tap */
	struct iothread *io;
};

static void tap_readable(struct io_watch *w)
{
	struct net_host *n = w->opaque;
	virtio_net_tap_readable(&n->dev);
}

/* The device asks us to stop or resume watching the tap: it leaves frames
 * in the kernel while the guest has no buffers. */
static void tap_watch(void *opaque, bool on)
{
	struct net_host *n = opaque;

	if (on)
		iothread_add(n->io, &n->watch);
	else
		iothread_del(n->io, &n->watch);
}

static int count(const struct vm_config *cfg)
{
	return cfg->nnets;
}

static const struct transport_config *transport(const struct vm_config *cfg, int i)
{
	return &cfg->nets[i].t;
}

static int create(struct vdev *v, int i, char *err, size_t errlen)
{
	const struct net_config *nc = &vdev_config(v)->nets[i];
	struct vm *vm = vdev_vm(v);
	struct net_host *n = calloc(1, sizeof(*n));
	/* A stable default: locally administered, "kvm", the card's index. */
	uint8_t mac[6] = { 0x02, 0x6b, 0x76, 0x6d, 0x00, (uint8_t)i };
	int r;

	if (!n)
		return -ENOMEM;
	v->priv = n;
	if (nc->has_mac)
		memcpy(mac, nc->mac, 6);
	r = virtio_net_init(&n->dev, &vm->env->backends->taps[i], mac, &vm->mem, vdev_platform(v));
	if (r) {
		snprintf(err, errlen, "--net: cannot set up tap %s: %s", nc->tap, strerror(-r));
		return r;
	}
	n->ready = true;
	v->vd = &n->dev.vdev;
	if (!(n->io = vdev_net_iothread(v)))
		return -EAGAIN;
	for (uint16_t q = 0; q < v->vd->num_queues; q++)
		vdev_set_queue_io(v, q, n->io);
	n->watch = (struct io_watch){ .fd = virtio_net_tap_fd(&n->dev), .cb = tap_readable,
				      .opaque = n };
	virtio_net_set_rx_poll(&n->dev, tap_watch, n);
	/* Watched from the start: the device pauses the watch itself while it
	 * cannot take frames (before DRIVER_OK, or no RX buffers). */
	if ((r = iothread_add(n->io, &n->watch))) {
		snprintf(err, errlen, "--net: cannot watch tap %s: %s", nc->tap, strerror(-r));
		return r;
	}
	return 0;
}

static void destroy(struct vdev *v)
{
	struct net_host *n = v->priv;

	if (n && n->ready)
		virtio_net_destroy(&n->dev);
	free(n);
	v->priv = NULL;
}

static void stats(struct vdev *v, int i, FILE *out)
{
	const struct virtio_net_stats *s = &((struct net_host *)v->priv)->dev.stats;

	fprintf(out, "kvmini: stats: net%d: rx %llu frames (%llu bytes, %llu dropped, %llu errors) "
		"tx %llu frames (%llu bytes, %llu dropped) ctrl ok %llu err %llu malformed %llu\n",
		i, (unsigned long long)s->rx_frames, (unsigned long long)s->rx_bytes,
		(unsigned long long)s->rx_dropped, (unsigned long long)s->rx_errors,
		(unsigned long long)s->tx_frames, (unsigned long long)s->tx_bytes,
		(unsigned long long)s->tx_dropped, (unsigned long long)s->ctrl_ok,
		(unsigned long long)s->ctrl_err, (unsigned long long)s->malformed);
}

static void stats_json(struct vdev *v, int i, FILE *out)
{
	const struct virtio_net *n = &((struct net_host *)v->priv)->dev;
	const struct virtio_net_stats *s = &n->stats;

	fprintf(out, "{\"device\": \"net%d\", \"rx_waits_for_buffers\": %s, \"rx_frame_held\": %s, "
		"\"rx_frames\": %llu, \"rx_bytes\": %llu, "
		"\"rx_dropped\": %llu, \"rx_errors\": %llu, \"tx_frames\": %llu, \"tx_bytes\": %llu, "
		"\"tx_dropped\": %llu, \"ctrl_ok\": %llu, \"ctrl_err\": %llu, \"malformed\": %llu}",
		i, n->rx_stalled ? "true" : "false", n->rx_len ? "true" : "false",
		(unsigned long long)s->rx_frames, (unsigned long long)s->rx_bytes,
		(unsigned long long)s->rx_dropped, (unsigned long long)s->rx_errors,
		(unsigned long long)s->tx_frames, (unsigned long long)s->tx_bytes,
		(unsigned long long)s->tx_dropped, (unsigned long long)s->ctrl_ok,
		(unsigned long long)s->ctrl_err, (unsigned long long)s->malformed);
}

static void quiesce(struct vdev *v)
{
	virtio_net_quiesce(&((struct net_host *)v->priv)->dev);
}

static void save(struct vdev *v, struct state_w *w)
{
	virtio_net_save_state(&((struct net_host *)v->priv)->dev, w);
}

static int load(struct vdev *v, struct state_r *r)
{
	return virtio_net_load_state(&((struct net_host *)v->priv)->dev, r);
}

const struct vdev_class vdev_net_class = {
	.opt = "--net", .count = count, .transport = transport,
	.create = create, .destroy = destroy, .stats = stats, .stats_json = stats_json,
	.quiesce = quiesce, .save = save, .load = load,
};
