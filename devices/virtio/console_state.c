/* virtio-console's own state for snapshots: what the driver was told of
 * each port (added, ready, open at either end), the control messages still
 * waiting for its receive buffers, and the counters. Data is copied into
 * the guest's buffers within each call, so nothing is held between calls
 * and there is nothing to quiesce. The ports themselves (how many, names,
 * which is the console) are the host's configuration: a restore builds
 * them again and the saved state must agree. */
#include "virtio/console.h"
#include "virtio/virtio_state.h"

#include <errno.h>
#include <string.h>

#define CONS_STATE_VERSION 1

static void stats_io(struct virtio_console_stats *st, struct state_w *w, struct state_r *r)
{
	uint64_t *f[] = { &st->rx_bytes, &st->tx_bytes, &st->ctrl_in, &st->ctrl_out,
			  &st->ctrl_bad, &st->ctrl_dropped, &st->discarded, &st->malformed };

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (w)
			sw_u64(w, *f[i]);
		else
			*f[i] = sr_u64(r);
	}
}

void virtio_console_save_state(struct virtio_console *c, struct state_w *w)
{
	struct virtio_dev *d = &c->vdev;
	size_t at = sw_begin(w, STATE_TAG('C', 'O', 'N', 'S'), CONS_STATE_VERSION);

	pthread_mutex_lock(&d->lock);
	sw_u32(w, c->nports);
	for (unsigned i = 0; i < c->nports; i++) {
		const struct virtio_console_port *p = &c->port[i];
		size_t n = strlen(p->name);
		sw_bool(w, p->present);
		sw_bool(w, p->console);
		sw_u32(w, (uint32_t)n);
		sw_bytes(w, p->name, n);
		sw_bool(w, p->host_open);
		sw_bool(w, p->added);
		sw_bool(w, p->ready);
		sw_bool(w, p->guest_open);
		sw_bool(w, p->want_writable);
		sw_u64(w, p->rx_bytes);
		sw_u64(w, p->tx_bytes);
	}
	sw_u32(w, c->out_len);
	for (unsigned k = 0; k < c->out_len; k++) {
		const struct virtio_console_msg *m = &c->outbox[(c->out_head + k) % VIRTIO_CONSOLE_OUTBOX];
		sw_u32(w, m->id);
		sw_u16(w, m->event);
		sw_u16(w, m->value);
	}
	stats_io(&c->stats, w, NULL);
	pthread_mutex_unlock(&d->lock);
	sw_end(w, at);
}

int virtio_console_load_state(struct virtio_console *c, struct state_r *r)
{
	struct virtio_dev *d = &c->vdev;
	struct state_r s;
	char name[VIRTIO_CONSOLE_NAME_MAX + 1];

	if (sr_section(r, STATE_TAG('C', 'O', 'N', 'S'), CONS_STATE_VERSION, NULL, &s,
		       "virtio-console"))
		return -EINVAL;
	uint32_t n = sr_u32(&s);
	if (sr_ok(&s) && n != c->nports)
		return sr_fail(&s, "virtio-console: %u ports saved, the device has %u", n, c->nports);
	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; i < c->nports && sr_ok(&s); i++) {
		struct virtio_console_port *p = &c->port[i];
		bool present = sr_bool(&s), console = sr_bool(&s);
		uint32_t len = sr_u32(&s);
		if (sr_ok(&s) && len > VIRTIO_CONSOLE_NAME_MAX) {
			sr_fail(&s, "virtio-console: port %u has a name of %u bytes", i, len);
			break;
		}
		sr_bytes(&s, name, len);
		name[len] = 0;
		if (sr_ok(&s) && (present != p->present || console != p->console ||
				  strcmp(name, p->name))) {
			sr_fail(&s, "virtio-console: port %u was '%s'%s%s, here it is '%s'%s%s", i, name,
				present ? "" : " (absent)", console ? " (console)" : "", p->name,
				p->present ? "" : " (absent)", p->console ? " (console)" : "");
			break;
		}
		p->host_open = sr_bool(&s);
		p->added = sr_bool(&s);
		p->ready = sr_bool(&s);
		p->guest_open = sr_bool(&s);
		p->want_writable = sr_bool(&s);
		p->rx_bytes = sr_u64(&s);
		p->tx_bytes = sr_u64(&s);
	}
	uint32_t out = sr_u32(&s);
	if (sr_ok(&s) && out > VIRTIO_CONSOLE_OUTBOX)
		sr_fail(&s, "virtio-console: %u control messages waiting, at most %d", out,
			VIRTIO_CONSOLE_OUTBOX);
	c->out_head = 0;
	c->out_len = 0;
	for (unsigned k = 0; k < out && sr_ok(&s); k++) {
		struct virtio_console_msg *m = &c->outbox[k];
		m->id = sr_u32(&s);
		m->event = sr_u16(&s);
		m->value = sr_u16(&s);
		c->out_len = k + 1;
	}
	stats_io(&c->stats, NULL, &s);
	pthread_mutex_unlock(&d->lock);
	return sr_end(&s, "virtio-console");
}
