/* virtio-net's own state for snapshots. Receive is the only side that
 * holds anything between calls: a popped chain waiting for a frame, the
 * chains a frame is being spread over (mergeable buffers), and the frame
 * itself, already read from the tap. Quiescing gives the chains back to the
 * ring unused (newest first) and keeps the frame, which is saved: after the
 * restore it is delivered first, into the same buffers, and no frame the
 * tap handed over is lost. Transmit and control finish within each call. */
#include "virtio/net.h"
#include "virtio/virtio_state.h"

#include <errno.h>
#include <string.h>

#define NET_STATE_VERSION 1

void virtio_net_quiesce(struct virtio_net *n)
{
	struct virtio_dev *d = &n->vdev;
	struct virtq *vq = &d->vq[VIRTIO_NET_RXQ];

	pthread_mutex_lock(&d->lock);
	if (n->rx_have_chain)
		virtq_unpop(vq, n->rx_elem->head, n->rx_elem->ndescs);
	while (n->rx_nused) {
		n->rx_nused--;
		virtq_unpop(vq, n->rx_used[n->rx_nused].head, n->rx_used[n->rx_nused].ndescs);
	}
	n->rx_have_chain = false;
	n->rx_off = 0;
	n->rx_hdr_niov = 0;
	pthread_mutex_unlock(&d->lock);
}

static void stats_io(struct virtio_net_stats *st, struct state_w *w, struct state_r *r)
{
	uint64_t *f[] = { &st->rx_frames, &st->rx_bytes, &st->rx_dropped, &st->rx_errors,
			  &st->tx_frames, &st->tx_bytes, &st->tx_dropped, &st->ctrl_ok,
			  &st->ctrl_err, &st->malformed };

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (w)
			sw_u64(w, *f[i]);
		else
			*f[i] = sr_u64(r);
	}
}

void virtio_net_save_state(struct virtio_net *n, struct state_w *w)
{
	struct virtio_dev *d = &n->vdev;
	size_t at = sw_begin(w, STATE_TAG('N', 'E', 'T', ' '), NET_STATE_VERSION);

	pthread_mutex_lock(&d->lock);
	sw_bytes(w, n->mac, 6);
	sw_u16(w, n->status);
	sw_bool(w, n->promisc);
	sw_bool(w, n->allmulti);
	stats_io(&n->stats, w, NULL);
	/* Held chains would be lost: quiesce gives them back first. */
	sw_bool(w, n->rx_have_chain || n->rx_nused);
	sw_u32(w, (uint32_t)n->rx_len);
	sw_bytes(w, n->rx_buf, n->rx_len);
	pthread_mutex_unlock(&d->lock);
	sw_end(w, at);
}

int virtio_net_load_state(struct virtio_net *n, struct state_r *r)
{
	struct virtio_dev *d = &n->vdev;
	struct state_r s;
	uint8_t mac[6];

	if (sr_section(r, STATE_TAG('N', 'E', 'T', ' '), NET_STATE_VERSION, NULL, &s, "virtio-net"))
		return -EINVAL;
	sr_bytes(&s, mac, 6);
	uint16_t status = sr_u16(&s);
	bool promisc = sr_bool(&s), allmulti = sr_bool(&s);
	struct virtio_net_stats st;
	stats_io(&st, NULL, &s);
	bool held = sr_bool(&s);
	uint32_t len = sr_u32(&s);
	if (sr_ok(&s) && held)
		return sr_fail(&s, "virtio-net: saved holding receive buffers (not quiesced)");
	if (sr_ok(&s) && len > VIRTIO_NET_HDR_LEN + VIRTIO_NET_MAX_FRAME)
		return sr_fail(&s, "virtio-net: a pending frame of %u bytes", len);
	pthread_mutex_lock(&d->lock);
	sr_bytes(&s, n->rx_buf, len);
	if (sr_ok(&s)) {
		memcpy(n->mac, mac, 6);
		n->status = status;
		n->promisc = promisc;
		n->allmulti = allmulti;
		n->stats = st;
		n->rx_have_chain = false;
		n->rx_nused = 0;
		n->rx_off = 0;
		n->rx_len = len;
	}
	pthread_mutex_unlock(&d->lock);
	return sr_end(&s, "virtio-net");
}
