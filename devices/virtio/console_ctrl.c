/* virtio-console's control queues (virtio 1.2 §5.3.6.2): the driver's
 * messages on the control transmit queue, ours on the control receive
 * queue. Everything the driver says is checked: a short message, a port id
 * we never offered or an event a driver does not send is ignored with a
 * rate-limited warning; only a receive buffer we cannot write a message
 * into breaks the device (NEEDS_RESET), as in net's receive path.
 *
 * The handshake (Linux drivers/char/virtio_console.c, QEMU's
 * virtio-serial-bus agree): driver DEVICE_READY 1; device DEVICE_ADD for
 * each port; driver PORT_READY 1 for each; device CONSOLE_PORT 1 (the
 * console), PORT_OPEN 1 (if the host end is open), PORT_NAME (named ports);
 * then PORT_OPEN either way as ends open and close. */
#include "virtio/console_internal.h"

#include <errno.h>
#include <string.h>

#include "iov.h"

static const char *event_name(uint16_t ev)
{
	static const char *const names[] = {
		"DEVICE_READY", "DEVICE_ADD", "DEVICE_REMOVE", "PORT_READY",
		"CONSOLE_PORT", "RESIZE", "PORT_OPEN", "PORT_NAME",
	};
	return ev < sizeof(names) / sizeof(names[0]) ? names[ev] : "unknown";
}

/* ---- to the driver ---- */

void console_ctrl_reset(struct virtio_console *c)
{
	c->out_head = c->out_len = 0;
}

/* Writes message m into the chain e: header, and for PORT_NAME the name
 * with its NUL. Returns the bytes written, or -EINVAL if they do not fit. */
static int put_msg(struct virtio_console *c, const struct virtio_console_msg *m,
		   const struct virtq_elem *e)
{
	struct virtio_dev *d = &c->vdev;
	uint8_t buf[VIRTIO_CONSOLE_CTRL_LEN + VIRTIO_CONSOLE_NAME_MAX + 1];
	size_t len = VIRTIO_CONSOLE_CTRL_LEN;

	virtio_put32(d, buf, m->id);
	virtio_put16(d, buf + 4, m->event);
	virtio_put16(d, buf + 6, m->value);
	if (m->event == VIRTIO_CONSOLE_PORT_NAME) {
		const char *name = c->port[m->id].name;
		size_t n = strlen(name) + 1;
		memcpy(buf + len, name, n);
		len += n;
	}
	if (e->in_len < len) {
		virtio_warn(d, "control receive buffer of %llu bytes, %s needs %zu",
			    (unsigned long long)e->in_len, event_name(m->event), len);
		return -EINVAL;
	}
	iov_from_buf(e->iov + e->nout, e->nin, 0, buf, len);
	return (int)len;
}

void console_ctrl_flush(struct virtio_console *c)
{
	struct virtio_dev *d = &c->vdev;
	struct virtq *vq = &d->vq[VIRTIO_CONSOLE_CTRL_RXQ];
	bool pushed = false;

	if (!console_live(d) || !console_multiport(d) || !vq->ready)
		return;
	while (c->out_len) {
		const struct virtio_console_msg *m = &c->outbox[c->out_head];
		int r = console_pop(vq, c->elem);

		if (r == 0)
			break;      /* the driver kicks when it adds buffers */
		if (r > 0)
			r = put_msg(c, m, c->elem);
		if (r < 0) {
			c->stats.malformed++;
			virtio_set_needs_reset(d);
			break;
		}
		virtq_push(vq, c->elem, (uint32_t)r);
		pushed = true;
		c->stats.ctrl_out++;
		c->out_head = (c->out_head + 1) % VIRTIO_CONSOLE_OUTBOX;
		c->out_len--;
	}
	if (pushed)
		virtio_queue_notify_driver(d, VIRTIO_CONSOLE_CTRL_RXQ);
}

static void enqueue(struct virtio_console *c, uint32_t id, uint16_t event, uint16_t value)
{
	if (c->out_len == VIRTIO_CONSOLE_OUTBOX) {
		/* A driver that takes none of our messages, and asks again. */
		c->stats.ctrl_dropped++;
		virtio_warn(&c->vdev, "control messages pile up: %s for port %u dropped",
			    event_name(event), id);
		return;
	}
	c->outbox[(c->out_head + c->out_len) % VIRTIO_CONSOLE_OUTBOX] =
		(struct virtio_console_msg){ id, event, value };
	c->out_len++;
}

void console_ctrl_send(struct virtio_console *c, uint32_t id, uint16_t event, uint16_t value)
{
	enqueue(c, id, event, value);
	console_ctrl_flush(c);
}

/* ---- from the driver ---- */

/* DEVICE_READY 1: every port the host has, announced once. */
static void device_ready(struct virtio_console *c, uint16_t value)
{
	if (value != 1) {
		virtio_warn(&c->vdev, "the driver failed to set up the device (DEVICE_READY %u)",
			    value);
		return;
	}
	for (unsigned i = 0; i < c->nports; i++) {
		struct virtio_console_port *p = &c->port[i];
		if (!p->present || p->added)
			continue;
		p->added = true;
		enqueue(c, i, VIRTIO_CONSOLE_DEVICE_ADD, 1);
	}
}

/* PORT_READY 1: what the driver needs to know of the port. Sent again on
 * a repeated PORT_READY (Linux answers a repeated DEVICE_ADD with one).
 * The name comes last (QEMU sends it before PORT_OPEN): the driver takes
 * messages in order, so a guest that sees a port's name in sysfs knows
 * the host's end is open, and a reader started then does not take the
 * closed end for end-of-file. */
static void port_ready(struct virtio_console *c, unsigned id, uint16_t value)
{
	struct virtio_console_port *p = &c->port[id];

	if (value != 1) {
		virtio_warn(&c->vdev, "the driver failed to set up port %u (PORT_READY %u)", id,
			    value);
		p->ready = false;
		return;
	}
	p->ready = true;
	if (p->console)
		enqueue(c, id, VIRTIO_CONSOLE_CONSOLE_PORT, 1);
	if (p->host_open)
		enqueue(c, id, VIRTIO_CONSOLE_PORT_OPEN, 1);
	if (p->name[0])
		enqueue(c, id, VIRTIO_CONSOLE_PORT_NAME, 1);
}

static void dispatch(struct virtio_console *c, uint32_t id, uint16_t event, uint16_t value)
{
	struct virtio_dev *d = &c->vdev;

	if (event == VIRTIO_CONSOLE_DEVICE_READY) {
		device_ready(c, value);      /* its id is meaningless (Linux: ~0) */
		return;
	}
	if (event != VIRTIO_CONSOLE_PORT_READY && event != VIRTIO_CONSOLE_PORT_OPEN) {
		/* DEVICE_ADD, CONSOLE_PORT, PORT_NAME, ...: ours to send */
		c->stats.ctrl_bad++;
		virtio_warn(d, "control event %u (%s) from the driver: ignored", event,
			    event_name(event));
		return;
	}
	if (id >= c->nports || !c->port[id].added) {
		c->stats.ctrl_bad++;
		virtio_warn(d, "%s for port %u, which was never added: ignored", event_name(event),
			    id);
		return;
	}
	if (event == VIRTIO_CONSOLE_PORT_READY) {
		port_ready(c, id, value);
	} else if (value > 1) {
		c->stats.ctrl_bad++;
		virtio_warn(d, "PORT_OPEN %u for port %u: ignored", value, id);
	} else {
		console_guest_open(c, id, value == 1);
	}
}

/* One message: header in the readable bytes (more is tolerated; less is
 * ignored). Nothing is written back. */
static int ctrl_one(void *ctx, const struct virtq_elem *e)
{
	struct virtio_console *c = ctx;
	struct virtio_dev *d = &c->vdev;
	uint8_t raw[VIRTIO_CONSOLE_CTRL_LEN];

	c->stats.ctrl_in++;
	if (e->out_len < VIRTIO_CONSOLE_CTRL_LEN) {
		c->stats.ctrl_bad++;
		virtio_warn(d, "control message of %llu bytes: ignored",
			    (unsigned long long)e->out_len);
		return 0;
	}
	iov_to_buf(e->iov, e->nout, 0, raw, sizeof(raw));
	dispatch(c, virtio_get32(d, raw), virtio_get16(d, raw + 4), virtio_get16(d, raw + 6));
	return 0;
}

void console_ctrl_serve(struct virtio_console *c)
{
	if (virtio_queue_serve(&c->vdev, VIRTIO_CONSOLE_CTRL_TXQ, c->elem, ctrl_one, c) < 0)
		c->stats.malformed++;
	/* Answers go out once the driver's messages are all read (the
	 * scratch element is free again). */
	console_ctrl_flush(c);
}
