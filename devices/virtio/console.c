/* virtio-console (virtio 1.2 §5.3): see console.h. This file has the device
 * (features, config space, activation, reset), the ports' data queues and
 * the host's API; the control queues are in console_ctrl.c. */
#include "virtio/console_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iov.h"

static struct virtio_console *to_con(struct virtio_dev *d)
{
	return d->dev_priv;
}

bool console_live(const struct virtio_dev *d)
{
	return (d->status & VIRTIO_STATUS_DRIVER_OK) && !(d->status & VIRTIO_STATUS_NEEDS_RESET);
}

bool console_multiport(const struct virtio_dev *d)
{
	return virtio_has_feature(d, VIRTIO_CONSOLE_F_MULTIPORT);
}

int console_pop(struct virtq *vq, struct virtq_elem *e)
{
	for (int tries = 0;; tries++) {
		int r = virtq_pop(vq, e);
		if (r != 0 || tries)
			return r;
		/* Re-enable kicks and look again, or buffers added in between
		 * would wait for a kick that never comes. */
		virtq_enable_notify(vq, true);
	}
}

void console_guest_open(struct virtio_console *c, unsigned port, bool open)
{
	struct virtio_console_port *p = &c->port[port];

	if (p->guest_open == open)
		return;
	p->guest_open = open;
	if (!open)
		p->want_writable = false;
	if (c->host && c->host->guest_open)
		c->host->guest_open(c->host_opaque, port, open);
}

/* The port a data queue belongs to (q is not a control queue). */
static unsigned queue_port(uint16_t q)
{
	return q < 2 ? 0 : q / 2u - 1;
}

/* ---- config space (§5.3.4) ---- */

/* cols and rows stay 0 (F_SIZE is not offered), emerg_wr reads 0. */
static void con_config_read(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len)
{
	uint8_t cfg[VIRTIO_CONSOLE_CONFIG_SIZE] = { 0 };

	virtio_put32(d, cfg + VIRTIO_CONSOLE_CFG_MAX_NR_PORTS, to_con(d)->nports);
	memcpy(data, cfg + off, len);
}

/* ---- life cycle ---- */

/* Without F_MULTIPORT there is port 0 alone, and the driver treats it as
 * its console from the start (Linux: guest_connected at once). */
static int con_activate(struct virtio_dev *d)
{
	struct virtio_console *c = to_con(d);

	if (!console_multiport(d) && c->port[0].present)
		console_guest_open(c, 0, true);
	return 0;
}

static void con_reset(struct virtio_dev *d)
{
	struct virtio_console *c = to_con(d);

	console_ctrl_reset(c);
	for (unsigned i = 0; i < c->nports; i++) {
		struct virtio_console_port *p = &c->port[i];
		console_guest_open(c, i, false);
		p->added = p->ready = false;
		p->want_writable = false;
	}
}

/* ---- data from the guest (§5.3.6.1) ---- */

struct tx_ctx {
	struct virtio_console *c;
	unsigned port;
};

/* The readable bytes of one chain go to the host as they lie; writable
 * ones (none are expected) are left alone. */
static int tx_one(void *ctx, const struct virtq_elem *e)
{
	struct tx_ctx *t = ctx;
	struct virtio_console *c = t->c;
	struct virtio_console_port *p = &c->port[t->port];

	if (!p->present || !c->host || !c->host->output) {
		c->stats.discarded += e->out_len;
		return 0;
	}
	for (uint32_t i = 0; i < e->nout; i++)
		if (e->iov[i].iov_len)
			c->host->output(c->host_opaque, t->port, e->iov[i].iov_base,
					e->iov[i].iov_len);
	p->tx_bytes += e->out_len;
	c->stats.tx_bytes += e->out_len;
	return 0;
}

static void con_queue_notify(struct virtio_dev *d, uint16_t q)
{
	struct virtio_console *c = to_con(d);

	pthread_mutex_lock(&d->lock);
	if (!console_live(d) || q >= d->num_queues || !d->vq[q].ready)
		goto out;
	if (q == VIRTIO_CONSOLE_CTRL_RXQ || q == VIRTIO_CONSOLE_CTRL_TXQ) {
		if (!console_multiport(d))
			goto out;
		if (q == VIRTIO_CONSOLE_CTRL_RXQ)
			console_ctrl_flush(c);      /* new buffers for our messages */
		else
			console_ctrl_serve(c);
	} else if (q & 1) {
		struct tx_ctx t = { c, queue_port(q) };
		if (virtio_queue_serve(d, q, c->elem, tx_one, &t) < 0)
			c->stats.malformed++;
	} else {
		/* new receive buffers: a host waiting for room may go on */
		struct virtio_console_port *p = &c->port[queue_port(q)];
		if (p->want_writable && p->guest_open) {
			p->want_writable = false;
			if (c->host && c->host->writable)
				c->host->writable(c->host_opaque, queue_port(q));
		}
	}
out:
	pthread_mutex_unlock(&d->lock);
}

static const struct virtio_dev_ops console_ops = {
	.name = "console",
	.device_id = VIRTIO_ID_CONSOLE,
	.num_queues = 2,
	.queue_max_size = VIRTIO_CONSOLE_QUEUE_SIZE,
	.config_size = VIRTIO_CONSOLE_CONFIG_SIZE,
	.config_read = con_config_read,
	.activate = con_activate,
	.reset = con_reset,
	.queue_notify = con_queue_notify,
};

/* ---- data to the guest (§5.3.6.1) ---- */

/* With the lock held: fills receive buffers of port until buf is gone or
 * the ring is empty. */
static size_t send_locked(struct virtio_console *c, unsigned port, const uint8_t *buf, size_t len)
{
	struct virtio_dev *d = &c->vdev;
	struct virtio_console_port *p = &c->port[port];
	uint16_t qi = virtio_console_rxq(port);
	struct virtq *vq = &d->vq[qi];
	size_t done = 0;

	if (!console_live(d) || !p->guest_open || !vq->ready)
		return 0;
	while (done < len) {
		struct virtq_elem *e = c->elem;
		int r = console_pop(vq, e);

		if (r == 0) {
			p->want_writable = true;   /* told when buffers come */
			break;
		}
		if (r > 0 && e->in_len == 0) {
			virtio_warn(d, "port %u: receive buffer without writable bytes", port);
			r = -EINVAL;
		}
		if (r < 0) {
			c->stats.malformed++;
			virtio_set_needs_reset(d);
			break;
		}
		size_t k = len - done < e->in_len ? len - done : (size_t)e->in_len;
		iov_from_buf(e->iov + e->nout, e->nin, 0, buf + done, k);
		virtq_push(vq, e, (uint32_t)k);
		done += k;
	}
	if (done) {
		p->rx_bytes += done;
		c->stats.rx_bytes += done;
		virtio_queue_notify_driver(d, qi);
	}
	return done;
}

size_t virtio_console_send(struct virtio_console *c, unsigned port, const void *buf, size_t len)
{
	size_t n = 0;

	if (port >= c->nports || !c->port[port].present)
		return 0;
	pthread_mutex_lock(&c->vdev.lock);
	n = send_locked(c, port, buf, len);
	pthread_mutex_unlock(&c->vdev.lock);
	return n;
}

void virtio_console_set_host_open(struct virtio_console *c, unsigned port, bool open)
{
	struct virtio_console_port *p;

	if (port >= c->nports)
		return;
	p = &c->port[port];
	pthread_mutex_lock(&c->vdev.lock);
	if (p->present && p->host_open != open) {
		p->host_open = open;
		/* Before PORT_READY the driver learns it from port_ready(). */
		if (p->ready && console_live(&c->vdev) && console_multiport(&c->vdev))
			console_ctrl_send(c, port, VIRTIO_CONSOLE_PORT_OPEN, open);
	}
	pthread_mutex_unlock(&c->vdev.lock);
}

bool virtio_console_guest_open(struct virtio_console *c, unsigned port)
{
	bool open;

	if (port >= c->nports)
		return false;
	pthread_mutex_lock(&c->vdev.lock);
	open = c->port[port].guest_open;
	pthread_mutex_unlock(&c->vdev.lock);
	return open;
}

/* ---- set-up ---- */

int virtio_console_add_port(struct virtio_console *c, unsigned id, const char *name,
			    bool console)
{
	struct virtio_console_port *p;

	if (id >= c->nports || (name && strlen(name) > VIRTIO_CONSOLE_NAME_MAX))
		return -EINVAL;
	p = &c->port[id];
	p->present = true;
	p->console = console;
	snprintf(p->name, sizeof(p->name), "%s", name ? name : "");
	return 0;
}

void virtio_console_set_host(struct virtio_console *c, const struct virtio_console_host_ops *ops,
			     void *opaque)
{
	pthread_mutex_lock(&c->vdev.lock);
	c->host = ops;
	c->host_opaque = opaque;
	pthread_mutex_unlock(&c->vdev.lock);
}

int virtio_console_init(struct virtio_console *c, unsigned nports, bool multiport,
			struct guest_mem *mem, const struct virtio_platform *platform)
{
	uint64_t f = 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_RING_INDIRECT_DESC |
		     1ull << VIRTIO_F_RING_EVENT_IDX;

	memset(c, 0, sizeof(*c));
	if (!mem || nports < 1 || nports > VIRTIO_CONSOLE_MAX_PORTS || (!multiport && nports > 1))
		return -EINVAL;
	c->nports = nports;
	c->elem = virtq_elem_new(VIRTIO_CONSOLE_QUEUE_SIZE);
	if (!c->elem)
		return -ENOMEM;
	if (multiport)
		f |= 1ull << VIRTIO_CONSOLE_F_MULTIPORT;
	virtio_dev_init(&c->vdev, &console_ops, c, f, mem, platform);
	/* Port 0's pair, the control pair, then a pair per further port. */
	if (multiport)
		virtio_dev_set_num_queues(&c->vdev, (uint16_t)(2 * nports + 2));
	return 0;
}

void virtio_console_destroy(struct virtio_console *c)
{
	if (c->vdev.ops)
		virtio_dev_destroy(&c->vdev);
	free(c->elem);
	c->elem = NULL;
}
