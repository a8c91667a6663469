/* The virtio-console device (devices/virtio/console.h): one per run when
 * --console virtio, --port or --guest-status asks for it, served on the
 * network I/O thread. Its ports:
 *   0      hvc0 with --console virtio (named kvmini.console, so that a guest
 *          can wait for every port's name): output through console_write like
 *          the UART's (so --expect, --console-log and --console's sink all
 *          apply), console input from the main loop (vm_hvc_input)
 *   1..N   the --port ports, in command-line order: the guest's bytes
 *          appended to out=FILE, in=FILE offered once the guest opens it
 *   N+1    kvmini.exit with --guest-status
 * Every port's host end is open from the start; a port with in= and no out=
 * closes its end after the file's last byte, so a reader sees end-of-file.
 *
 * kvmini.exit takes the guest's status as decimal text: digits, optional
 * trailing blanks (space, tab, CR), then a newline, or the guest closing
 * the port (or resetting the device) after the digits. The first such
 * number ends the VM (vm_guest_reported). Anything else on a line is
 * ignored with a warning (at most EXIT_WARN_MAX of them): a guest that
 * never reports a valid status ends some other way (powering off gives
 * 240 with --guest-status), which says plainly that no status came. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "virtio/console.h"
#include "vmm/backends.h"
#include "vmm/console.h"
#include "vmm/status_text.h"
#include "vmm/vdev.h"
#include "vmm/vm.h"

#define EXIT_WARN_MAX 5
#define FEED_CHUNK 4096

enum port_role { ROLE_NONE, ROLE_HVC, ROLE_USER, ROLE_EXIT };

struct port_host {
	enum port_role role;
	int out_fd, in_fd;           /* the process's (backends.c), -1: none */
	off_t in_off;                /* I/O thread only */
	bool in_done;
	const char *name;
};

struct vcon_host {
	struct virtio_console dev;
	bool ready;
	struct vm *vm;
	struct iothread *io;
	unsigned nports;
	struct port_host port[VIRTIO_CONSOLE_MAX_PORTS];
	int exit_port;               /* -1: no --guest-status */
	/* kvmini.exit's current line (under dev.vdev.lock: callbacks only) */
	struct status_text exit_text;
	unsigned warned;
	/* in= feeding: the device's callbacks wake the I/O thread */
	int feed_efd;
	struct io_watch feed;
	uint64_t out_errors;
};

static void wake_feeder(struct vcon_host *h)
{
	uint64_t one = 1;

	if (h->feed_efd >= 0 && write(h->feed_efd, &one, sizeof(one)) < 0) {
		/* a full counter already means "wake up" */
	}
}

/* ---- kvmini.exit (vmm/status_text.h) ---- */

static void exit_line(void *opaque, int status, const char *text)
{
	struct vcon_host *h = opaque;

	if (status >= 0)
		vm_guest_reported(h->vm, status);
	else if (h->warned++ < EXIT_WARN_MAX)
		fprintf(stderr, "kvmini: --guest-status: the guest wrote '%s' to %s, not a status "
			"(decimal digits, then a newline): ignored\n", text, CLI_EXIT_PORT);
}

/* ---- the device's callbacks (dev.vdev.lock held) ---- */

static void write_all(struct vcon_host *h, int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!h->out_errors++)
				fprintf(stderr, "kvmini: --port: cannot write the guest's output: %s\n",
					n < 0 ? strerror(errno) : "short write");
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

static void port_output(void *opaque, unsigned port, const uint8_t *buf, size_t len)
{
	struct vcon_host *h = opaque;
	struct port_host *p = &h->port[port];

	switch (p->role) {
	case ROLE_HVC:
		console_write(h->vm->con, buf, len);
		break;
	case ROLE_USER:
		if (p->out_fd >= 0)
			write_all(h, p->out_fd, buf, len);
		break;
	case ROLE_EXIT:
		status_text_feed(&h->exit_text, buf, len, exit_line, h);
		break;
	case ROLE_NONE:
		break;
	}
}

static void port_guest_open(void *opaque, unsigned port, bool open)
{
	struct vcon_host *h = opaque;
	struct port_host *p = &h->port[port];

	if (p->role == ROLE_EXIT && !open)
		status_text_end(&h->exit_text, exit_line, h);   /* "7" and a close: a status too */
	if (p->role == ROLE_USER && open && p->in_fd >= 0)
		wake_feeder(h);          /* the I/O thread knows whether it is done */
}

static void port_writable(void *opaque, unsigned port)
{
	wake_feeder(opaque);
}

static const struct virtio_console_host_ops host_ops = {
	.output = port_output, .guest_open = port_guest_open, .writable = port_writable,
};

/* ---- in=FILE, on the I/O thread ---- */

/* Sends what the guest can take of port's file; at its end, closes the
 * host end of a port without out= (the reader's end-of-file). */
static void feed_port(struct vcon_host *h, unsigned port)
{
	struct port_host *p = &h->port[port];
	uint8_t buf[FEED_CHUNK];

	while (!p->in_done && virtio_console_guest_open(&h->dev, port)) {
		ssize_t n = pread(p->in_fd, buf, sizeof(buf), p->in_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				fprintf(stderr, "kvmini: --port: %s: cannot read in=: %s\n", p->name,
					strerror(errno));
			p->in_done = true;
			if (p->out_fd < 0)
				virtio_console_set_host_open(&h->dev, port, false);
			return;
		}
		size_t sent = virtio_console_send(&h->dev, port, buf, (size_t)n);
		p->in_off += (off_t)sent;
		if (sent < (size_t)n)
			return;              /* woken again when the guest has room */
	}
}

static void feed_wakeup(struct io_watch *w)
{
	struct vcon_host *h = w->opaque;
	uint64_t cnt;

	if (read(h->feed_efd, &cnt, sizeof(cnt)) < 0) {
		/* EAGAIN: another pass took it; look anyway */
	}
	for (unsigned i = 0; i < h->nports; i++)
		if (h->port[i].role == ROLE_USER && h->port[i].in_fd >= 0)
			feed_port(h, i);
}

/* ---- for the main loop ---- */

size_t vm_hvc_input(struct vm *vm, const uint8_t *buf, size_t len)
{
	struct vcon_host *h = vm->vcon;

	if (!h || h->port[0].role != ROLE_HVC)
		return 0;
	return virtio_console_send(&h->dev, 0, buf, len);
}

/* ---- the class ---- */

static int count(const struct vm_config *cfg)
{
	return cli_vcon_wanted(cfg) ? 1 : 0;
}

static const struct transport_config *transport(const struct vm_config *cfg, int i)
{
	return &cfg->vcon.t;
}

static int add_port(struct vcon_host *h, unsigned id, enum port_role role, const char *name,
		    char *err, size_t errlen)
{
	int r = virtio_console_add_port(&h->dev, id, name, role == ROLE_HVC);

	if (r) {
		snprintf(err, errlen, "--port: cannot add port %u (%s): %s", id, name, strerror(-r));
		return r;
	}
	h->port[id].role = role;
	h->port[id].name = name;
	virtio_console_set_host_open(&h->dev, id, true);
	return 0;
}

static int create(struct vdev *v, int index, char *err, size_t errlen)
{
	const struct vm_config *cfg = vdev_config(v);
	struct vm *vm = vdev_vm(v);
	struct backends *be = vm->env->backends;
	struct vcon_host *h = calloc(1, sizeof(*h));
	unsigned id;
	int r;

	if (!h)
		return -ENOMEM;
	v->priv = h;
	h->vm = vm;
	h->exit_port = -1;
	h->feed_efd = -1;
	/* port 0 (hvc0 or unused), the --port ports, kvmini.exit */
	h->nports = 1 + (unsigned)cfg->vcon.nports + (cfg->guest_status ? 1 : 0);
	for (unsigned i = 0; i < VIRTIO_CONSOLE_MAX_PORTS; i++)
		h->port[i] = (struct port_host){ .out_fd = -1, .in_fd = -1 };
	r = virtio_console_init(&h->dev, h->nports, true, &vm->mem, vdev_platform(v));
	if (r) {
		snprintf(err, errlen, "--port: cannot set up the virtio-console device: %s",
			 strerror(-r));
		return r;
	}
	h->ready = true;
	v->vd = &h->dev.vdev;
	if (cfg->vcon.hvc && (r = add_port(h, 0, ROLE_HVC, CLI_HVC_PORT, err, errlen)))
		return r;
	for (id = 1; id <= (unsigned)cfg->vcon.nports; id++) {
		if ((r = add_port(h, id, ROLE_USER, cfg->vcon.ports[id - 1].name, err, errlen)))
			return r;
		h->port[id].out_fd = be->port_out[id - 1];
		h->port[id].in_fd = be->port_in[id - 1];
	}
	if (cfg->guest_status) {
		if ((r = add_port(h, id, ROLE_EXIT, CLI_EXIT_PORT, err, errlen)))
			return r;
		h->exit_port = (int)id;
	}
	virtio_console_set_host(&h->dev, &host_ops, h);
	if (!(h->io = vdev_net_iothread(v)))
		return -EAGAIN;
	for (uint16_t q = 0; q < v->vd->num_queues; q++)
		vdev_set_queue_io(v, q, h->io);
	h->feed_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h->feed_efd < 0) {
		snprintf(err, errlen, "--port: eventfd: %s", strerror(errno));
		return -errno;
	}
	h->feed = (struct io_watch){ .fd = h->feed_efd, .cb = feed_wakeup, .opaque = h };
	if ((r = iothread_add(h->io, &h->feed))) {
		snprintf(err, errlen, "--port: cannot watch the port files: %s", strerror(-r));
		return r;
	}
	vm->vcon = h;
	return 0;
}

static void destroy(struct vdev *v)
{
	struct vcon_host *h = v->priv;

	if (!h)
		return;
	if (h->vm && h->vm->vcon == h)
		h->vm->vcon = NULL;
	if (h->ready)
		virtio_console_destroy(&h->dev);
	if (h->feed_efd >= 0)
		close(h->feed_efd);
	free(h);
	v->priv = NULL;
}

static void stats(struct vdev *v, int i, FILE *out)
{
	const struct virtio_console_stats *s = &((struct vcon_host *)v->priv)->dev.stats;

	fprintf(out, "kvmini: stats: console: to guest %llu bytes, from guest %llu bytes "
		"(%llu discarded), ctrl in %llu out %llu bad %llu dropped %llu, malformed %llu\n",
		(unsigned long long)s->rx_bytes, (unsigned long long)s->tx_bytes,
		(unsigned long long)s->discarded, (unsigned long long)s->ctrl_in,
		(unsigned long long)s->ctrl_out, (unsigned long long)s->ctrl_bad,
		(unsigned long long)s->ctrl_dropped, (unsigned long long)s->malformed);
}

static void stats_json(struct vdev *v, int i, FILE *out)
{
	const struct virtio_console_stats *s = &((struct vcon_host *)v->priv)->dev.stats;

	fprintf(out, "{\"device\": \"console\", \"rx_bytes\": %llu, \"tx_bytes\": %llu, "
		"\"discarded\": %llu, \"ctrl_in\": %llu, \"ctrl_out\": %llu, \"ctrl_bad\": %llu, "
		"\"ctrl_dropped\": %llu, \"malformed\": %llu}",
		(unsigned long long)s->rx_bytes, (unsigned long long)s->tx_bytes,
		(unsigned long long)s->discarded, (unsigned long long)s->ctrl_in,
		(unsigned long long)s->ctrl_out, (unsigned long long)s->ctrl_bad,
		(unsigned long long)s->ctrl_dropped, (unsigned long long)s->malformed);
}

const struct vdev_class vdev_console_class = {
	.opt = "--port", .count = count, .transport = transport,
	.create = create, .destroy = destroy, .stats = stats, .stats_json = stats_json,
};
