/* virtio-net (virtio 1.2 §5.1) over a tap: see net.h.
 *
 * The net header. The tap reads and writes frames prefixed by a header of
 * the size the driver uses (TUNSETVNETHDRSZ 10 or 12) in the device's byte
 * order (TUNSETVNETLE/BE at activation): the header passes between guest and
 * tap as bytes. Only num_buffers is ours to write (through virtio_put16,
 * so a legacy device writes it in device_endian order); where the kernel
 * refuses the device's order, the four 16-bit fields are swapped here.
 *
 * Receive goes through a bounce buffer: a frame's length is known only once
 * it is read, and a frame that does not fit the driver's buffers must be
 * dropped whole (§5.1.6.3), not cut short as a direct readv would.
 *
 * The control queue's commands are in net_ctrl.c. */
#include "virtio/net.h"
#include "virtio/net_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iov.h"

#define ETH_HLEN 14
/* writev takes at most this many segments (UIO_MAXIOV) */
#define TAP_IOV_MAX 1024

static struct virtio_net *to_net(struct virtio_dev *d)
{
	return d->dev_priv;
}

static bool live(const struct virtio_dev *d)
{
	return (d->status & VIRTIO_STATUS_DRIVER_OK) && !(d->status & VIRTIO_STATUS_NEEDS_RESET);
}

/* hdr_len, gso_size, csum_start, csum_offset: when the tap's order is not
 * the device's. */
static void hdr_swap_fields(uint8_t *h)
{
	for (unsigned off = 2; off < VIRTIO_NET_HDR_LEN_LEGACY; off += 2) {
		uint8_t t = h[off];
		h[off] = h[off + 1];
		h[off + 1] = t;
	}
}

/* ---- config space (§5.1.4) ---- */

/* Built on every read: a legacy device's byte order changes at reset. */
static void net_config_read(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len)
{
	struct virtio_net *n = to_net(d);
	uint8_t cfg[VIRTIO_NET_CONFIG_SIZE] = { 0 };

	memcpy(cfg + VIRTIO_NET_CFG_MAC, n->mac, 6);
	virtio_put16(d, cfg + VIRTIO_NET_CFG_STATUS, n->status);
	virtio_put16(d, cfg + VIRTIO_NET_CFG_MAX_VQ_PAIRS, 1);
	/* mtu: VIRTIO_NET_F_MTU is not offered, the field stays 0 */
	memcpy(data, cfg + off, len);
}

/* A legacy driver without CTRL_MAC_ADDR sets its address by writing the mac
 * field (§5.1.4.2 legacy interface; Linux virtnet_set_mac_address); for a
 * modern driver the config space is read-only. */
static void net_config_write(struct virtio_dev *d, uint32_t off, const uint8_t *data, uint32_t len)
{
	struct virtio_net *n = to_net(d);

	if (!d->legacy || off >= 6)
		return;
	if (len > 6 - off)
		len = 6 - off;
	memcpy(n->mac + off, data, len);
}

/* ---- activation ---- */

unsigned virtio_net_tap_offload(uint64_t f)
{
	unsigned o = 0;

#define HAS(bit) (((f) >> VIRTIO_NET_F_##bit) & 1)
	if (!HAS(GUEST_CSUM))
		return 0;
	o |= NET_TAP_F_CSUM;
	if (HAS(GUEST_TSO4))
		o |= NET_TAP_F_TSO4;
	if (HAS(GUEST_TSO6))
		o |= NET_TAP_F_TSO6;
	if (HAS(GUEST_ECN) && (o & (NET_TAP_F_TSO4 | NET_TAP_F_TSO6)))
		o |= NET_TAP_F_TSO_ECN;
	if (HAS(GUEST_UFO))
		o |= NET_TAP_F_UFO;
#undef HAS
	return o;
}

static void rx_forget(struct virtio_net *n)
{
	n->rx_have_chain = false;
	n->rx_len = n->rx_off = 0;
	n->rx_nused = 0;
	n->rx_hdr_niov = 0;
}

static void rx_set_stalled(struct virtio_net *n, bool stalled)
{
	if (stalled == n->rx_stalled)
		return;
	n->rx_stalled = stalled;
	if (n->rx_poll)
		n->rx_poll(n->rx_poll_opaque, !stalled);
}

static int net_activate(struct virtio_dev *d)
{
	struct virtio_net *n = to_net(d);
	bool be = virtio_is_big_endian(d);
	unsigned off;
	int r;

	/* §5.1.6: num_buffers is there with either feature (Linux: hdr_len). */
	n->mrg_rxbuf = virtio_has_feature(d, VIRTIO_NET_F_MRG_RXBUF);
	n->hdr_len = n->mrg_rxbuf || virtio_has_feature(d, VIRTIO_F_VERSION_1)
			     ? VIRTIO_NET_HDR_LEN : VIRTIO_NET_HDR_LEN_LEGACY;
	r = net_tap_set_vnet_hdr_len(n->tap, (int)n->hdr_len);
	if (r)
		return r;
	/* Refused byte order: we swap instead (net_tap.h). */
	net_tap_set_vnet_be(n->tap, be);
	n->hdr_swap = n->tap->vnet_be != be;
	/* Without offloads the tap hands over complete frames, always valid;
	 * so a tap refusing them is not fatal. */
	off = virtio_net_tap_offload(d->guest_features & d->host_features);
	r = net_tap_set_offload(n->tap, off);
	if (r) {
		virtio_warn(d, "tap %s refuses offloads 0x%x: %s", n->tap->name, off, strerror(-r));
		net_tap_set_offload(n->tap, 0);
	}
	rx_forget(n);
	/* Frames that waited for the driver can come now. */
	rx_set_stalled(n, false);
	return 0;
}

static void net_reset(struct virtio_dev *d)
{
	struct virtio_net *n = to_net(d);

	/* The queues are reset: held chains and a half-delivered frame go. */
	rx_forget(n);
	n->status = VIRTIO_NET_S_LINK_UP;
	n->promisc = true;
	n->allmulti = false;
}

/* ---- receive (§5.1.6.3, §5.1.6.4) ---- */

/* Makes rx_elem hold a receive chain: 1, or 0 if the ring is empty (with
 * kicks enabled, so the driver tells us when it adds buffers), or -EINVAL
 * (malformed: NEEDS_RESET). */
static int rx_get_chain(struct virtio_net *n)
{
	struct virtq *vq = &n->vdev.vq[VIRTIO_NET_RXQ];

	if (n->rx_have_chain)
		return 1;
	for (int tries = 0;; tries++) {
		int r = virtq_pop(vq, n->rx_elem);
		if (r < 0)
			return r;
		if (r > 0)
			break;
		if (tries)
			return 0;
		/* Re-enable kicks and look again, or buffers added in between
		 * would wait for a kick that never comes. */
		virtq_enable_notify(vq, true);
	}
	/* Mergeable buffers: the header lies in the first one (§5.1.6.3.1:
	 * each buffer is at least a header long). */
	if (n->rx_elem->in_len == 0 || (n->mrg_rxbuf && n->rx_elem->in_len < n->hdr_len)) {
		virtio_warn(&n->vdev, "receive buffer of %llu writable bytes",
			    (unsigned long long)n->rx_elem->in_len);
		return -EINVAL;
	}
	n->rx_have_chain = true;
	return 1;
}

/* Reads one frame into rx_buf: 1 read, 0 nothing to read, -1 dropped. */
static int rx_read_frame(struct virtio_net *n)
{
	struct virtio_dev *d = &n->vdev;
	size_t cap = n->hdr_len + VIRTIO_NET_MAX_FRAME + 1;
	struct iovec iov = { n->rx_buf, cap };
	ssize_t r = net_tap_readv(n->tap, &iov, 1);
	uint8_t *h = n->rx_buf;

	if (r == -EAGAIN)
		return 0;
	if (r < 0) {
		/* e.g. EIO once the interface is deleted: stop for now */
		n->stats.rx_errors++;
		virtio_warn(d, "tap %s read: %s", n->tap->name, strerror((int)-r));
		return 0;
	}
	if ((size_t)r < n->hdr_len + ETH_HLEN || (size_t)r >= cap) {
		n->stats.rx_dropped++;
		virtio_warn(d, "tap %s: %zd-byte frame dropped", n->tap->name, r);
		return -1;
	}
	if (n->hdr_swap)
		hdr_swap_fields(h);
	/* §5.1.6.4.1: without GUEST_CSUM the flags are zero (tun may set
	 * DATA_VALID on a frame it fully checksummed anyway). */
	if (!virtio_has_feature(d, VIRTIO_NET_F_GUEST_CSUM))
		h[VIRTIO_NET_HDR_FLAGS] = 0;
	/* Without MRG_RXBUF, num_buffers is 1 (§5.1.6.4.1). The tap skips
	 * these bytes rather than write them. */
	if (n->hdr_len == VIRTIO_NET_HDR_LEN)
		virtio_put16(d, h + VIRTIO_NET_HDR_NUM_BUFFERS, 1);
	n->rx_len = (size_t)r;
	n->rx_off = 0;
	return 1;
}

static void rx_dropped_frame(struct virtio_net *n, uint64_t room)
{
	n->stats.rx_dropped++;
	virtio_warn(&n->vdev, "%zu-byte frame does not fit %llu bytes of receive buffers: dropped",
		    n->rx_len - n->hdr_len, (unsigned long long)room);
	n->rx_len = 0;
}

/* One chain per frame: the frame fits whole or is dropped, and the chain
 * waits for the next one. */
static bool rx_fill_one(struct virtio_net *n)
{
	struct virtq_elem *e = n->rx_elem;

	if (e->in_len < n->rx_len) {
		rx_dropped_frame(n, e->in_len);
		return false;
	}
	iov_from_buf(e->iov + e->nout, e->nin, 0, n->rx_buf, n->rx_len);
	virtq_push(&n->vdev.vq[VIRTIO_NET_RXQ], e, (uint32_t)n->rx_len);
	n->rx_have_chain = false;
	n->stats.rx_frames++;
	n->stats.rx_bytes += n->rx_len - n->hdr_len;
	n->rx_len = 0;
	return true;
}

/* Returns the filled chains to the driver. virtq_push needs only a chain's
 * identity and writable length; rx_elem is free to carry them (its own
 * chain has been used). All data and num_buffers are written before the
 * first push. */
static void rx_push_used(struct virtio_net *n, bool keep_len)
{
	struct virtq *vq = &n->vdev.vq[VIRTIO_NET_RXQ];
	struct virtq_elem *e = n->rx_elem;

	/* Fill every element, publish them together: a driver must never see
	 * the first buffer of a frame (whose num_buffers counts the rest)
	 * before the rest. */
	for (unsigned i = 0; i < n->rx_nused; i++) {
		const struct virtio_net_rx_used *u = &n->rx_used[i];
		uint32_t len = keep_len ? u->len : 0;

		e->head = u->head;
		e->ndescs = u->ndescs;
		e->nout = e->nin = 0;
		e->out_len = 0;
		e->in_len = len;
		virtq_fill(vq, e, len, (uint16_t)i);
	}
	virtq_flush(vq, (uint16_t)n->rx_nused);
	n->rx_nused = 0;
}

/* Mergeable buffers (§5.1.6.3.2): the frame is spread over as many chains
 * as it needs, each filled before the next is popped; the first header's
 * num_buffers says how many. Returns true when the frame is complete. */
static bool rx_fill_mrg(struct virtio_net *n)
{
	struct virtio_dev *d = &n->vdev;
	struct virtq_elem *e = n->rx_elem;
	size_t k = n->rx_len - n->rx_off;
	uint8_t nb[2];

	if (k > e->in_len)
		k = (size_t)e->in_len;
	if (n->rx_nused == 0)
		n->rx_hdr_niov = iov_slice(n->rx_hdr_iov, e->iov + e->nout, e->nin, 0, n->hdr_len);
	iov_from_buf(e->iov + e->nout, e->nin, 0, n->rx_buf + n->rx_off, k);
	n->rx_used[n->rx_nused++] = (struct virtio_net_rx_used){ e->head, e->ndescs, (uint32_t)k };
	n->rx_off += k;
	n->rx_have_chain = false;
	if (n->rx_off < n->rx_len) {
		/* Every buffer of the ring is ours and the frame still does
		 * not fit: give them back empty. */
		if (n->rx_nused >= d->vq[VIRTIO_NET_RXQ].num) {
			rx_push_used(n, false);
			rx_dropped_frame(n, n->rx_off - n->hdr_len);
			return true;
		}
		return false;
	}
	virtio_put16(d, nb, n->rx_nused);
	iov_from_buf(n->rx_hdr_iov, n->rx_hdr_niov, VIRTIO_NET_HDR_NUM_BUFFERS, nb, 2);
	rx_push_used(n, true);
	n->stats.rx_frames++;
	n->stats.rx_bytes += n->rx_len - n->hdr_len;
	n->rx_len = 0;
	return true;
}

enum rx_stop { RX_DRAINED, RX_NO_BUFFERS, RX_BROKEN };

static enum rx_stop rx_process(struct virtio_net *n, bool *pushed)
{
	struct virtio_dev *d = &n->vdev;
	struct virtq *vq = &d->vq[VIRTIO_NET_RXQ];

	if (!live(d) || !vq->ready)
		return RX_NO_BUFFERS;
	/* Kicks are wanted only when we run dry (rx_get_chain). */
	virtq_enable_notify(vq, false);
	for (;;) {
		int r;

		/* Frame first: an empty ring with an empty tap is no stall. */
		if (n->rx_len == 0) {
			r = rx_read_frame(n);
			if (r == 0)
				return RX_DRAINED;
			if (r < 0)
				continue;
		}
		r = rx_get_chain(n);
		if (r < 0)
			return RX_BROKEN;
		if (r == 0)     /* the frame waits in rx_buf, the rest in the tap */
			return RX_NO_BUFFERS;
		if (n->mrg_rxbuf ? rx_fill_mrg(n) : rx_fill_one(n))
			*pushed = true;
	}
}

static void rx_run(struct virtio_net *n)
{
	struct virtio_dev *d = &n->vdev;
	bool pushed = false;
	enum rx_stop stop = rx_process(n, &pushed);

	if (stop == RX_BROKEN) {
		n->stats.malformed++;
		virtio_set_needs_reset(d);
	}
	if (pushed)
		virtio_queue_notify_driver(d, VIRTIO_NET_RXQ);
	rx_set_stalled(n, stop != RX_DRAINED);
}

/* ---- transmit (§5.1.6.2) ---- */

/* One chain: header, then the frame, in the out-segments (split anywhere).
 * Returns the used length (0), or -EINVAL without a whole header. */
static int tx_one(struct virtio_net *n, const struct virtq_elem *e)
{
	struct virtio_dev *d = &n->vdev;
	uint8_t hdr[VIRTIO_NET_HDR_LEN];
	uint64_t len;
	unsigned c;
	ssize_t r;

	if (e->out_len < n->hdr_len) {
		virtio_warn(d, "transmit chain of %llu bytes: no header",
			    (unsigned long long)e->out_len);
		return -EINVAL;
	}
	len = e->out_len - n->hdr_len;
	if (len > VIRTIO_NET_MAX_FRAME) {
		virtio_warn(d, "%llu-byte frame to transmit: dropped", (unsigned long long)len);
		n->stats.tx_dropped++;
		return 0;
	}
	iov_to_buf(e->iov, e->nout, 0, hdr, n->hdr_len);
	if (n->hdr_swap)
		hdr_swap_fields(hdr);
	n->tx_iov[0] = (struct iovec){ hdr, n->hdr_len };
	c = iov_slice(n->tx_iov + 1, e->iov, e->nout, n->hdr_len, len);
	if (c + 1 > TAP_IOV_MAX) {   /* writev's limit: flatten */
		iov_to_buf(e->iov, e->nout, n->hdr_len, n->tx_buf, (size_t)len);
		n->tx_iov[1] = (struct iovec){ n->tx_buf, (size_t)len };
		c = 1;
	}
	r = net_tap_writev(n->tap, n->tx_iov, (int)c + 1);
	if (r < 0) {
		n->stats.tx_dropped++;
		if (r != -EAGAIN)
			virtio_warn(d, "tap %s write of %llu bytes: %s", n->tap->name,
				    (unsigned long long)len, strerror((int)-r));
		return 0;
	}
	n->stats.tx_frames++;
	n->stats.tx_bytes += len;
	return 0;
}

/* ---- queues ---- */

/* handle's context is the device; see virtio_queue_serve. */
struct serve_ctx {
	struct virtio_net *n;
	int (*handle)(struct virtio_net *n, const struct virtq_elem *e);
};

static int serve_one(void *ctx, const struct virtq_elem *e)
{
	struct serve_ctx *c = ctx;
	return c->handle(c->n, e);
}

static void drain(struct virtio_net *n, uint16_t qi,
		  int (*handle)(struct virtio_net *n, const struct virtq_elem *e))
{
	struct serve_ctx c = { n, handle };

	if (virtio_queue_serve(&n->vdev, qi, n->tx_elem, serve_one, &c) < 0)
		n->stats.malformed++;
}

static void net_queue_notify(struct virtio_dev *d, uint16_t qi)
{
	struct virtio_net *n = to_net(d);

	pthread_mutex_lock(&d->lock);
	if (!live(d) || qi >= d->num_queues || !d->vq[qi].ready)
		goto out;
	switch (qi) {
	case VIRTIO_NET_RXQ:      /* new receive buffers */
		rx_run(n);
		break;
	case VIRTIO_NET_TXQ:
		drain(n, qi, tx_one);
		break;
	case VIRTIO_NET_CTRLQ:
		if (virtio_has_feature(d, VIRTIO_NET_F_CTRL_VQ))
			drain(n, qi, virtio_net_ctrl_one);
		break;
	}
out:
	pthread_mutex_unlock(&d->lock);
}

static const struct virtio_dev_ops net_ops = {
	.name = "net",
	.device_id = VIRTIO_ID_NET,
	.num_queues = 3,
	.queue_max_size = VIRTIO_NET_QUEUE_SIZE,
	.config_size = VIRTIO_NET_CONFIG_SIZE,
	.config_read = net_config_read,
	.config_write = net_config_write,
	.activate = net_activate,
	.reset = net_reset,
	.queue_notify = net_queue_notify,
};

void virtio_net_tap_readable(struct virtio_net *n)
{
	pthread_mutex_lock(&n->vdev.lock);
	rx_run(n);
	pthread_mutex_unlock(&n->vdev.lock);
}

int virtio_net_tap_fd(struct virtio_net *n)
{
	return n->tap->fd;
}

void virtio_net_set_rx_poll(struct virtio_net *n, void (*watch)(void *opaque, bool watch),
			    void *opaque)
{
	pthread_mutex_lock(&n->vdev.lock);
	n->rx_poll = watch;
	n->rx_poll_opaque = opaque;
	pthread_mutex_unlock(&n->vdev.lock);
}

int virtio_net_init(struct virtio_net *n, struct net_tap *tap, const uint8_t mac[6],
		    struct guest_mem *mem, const struct virtio_platform *platform)
{
#define F(bit) (1ull << VIRTIO_NET_F_##bit)
	uint64_t f = 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_RING_INDIRECT_DESC |
		     1ull << VIRTIO_F_RING_EVENT_IDX |
		     /* header and frame in any descriptors */
		     1ull << VIRTIO_F_ANY_LAYOUT |
		     F(MAC) | F(STATUS) | F(MRG_RXBUF) |
		     F(CSUM) | F(HOST_TSO4) | F(HOST_TSO6) | F(HOST_ECN) |
		     F(GUEST_CSUM) | F(GUEST_TSO4) | F(GUEST_TSO6) | F(GUEST_ECN) |
		     F(CTRL_VQ) | F(CTRL_RX) | F(CTRL_MAC_ADDR);
#undef F

	memset(n, 0, sizeof(*n));
	if (!tap || !mac || !mem)
		return -EINVAL;
	n->tap = tap;
	memcpy(n->mac, mac, 6);
	n->rx_elem = virtq_elem_new(VIRTIO_NET_QUEUE_SIZE);
	n->tx_elem = virtq_elem_new(VIRTIO_NET_QUEUE_SIZE);
	n->rx_buf = malloc(VIRTIO_NET_HDR_LEN + VIRTIO_NET_MAX_FRAME + 1);
	n->tx_buf = malloc(VIRTIO_NET_MAX_FRAME);
	n->tx_iov = calloc(VIRTIO_NET_QUEUE_SIZE + 1, sizeof(*n->tx_iov));
	n->rx_used = calloc(VIRTIO_NET_QUEUE_SIZE, sizeof(*n->rx_used));
	if (!n->rx_elem || !n->tx_elem || !n->rx_buf || !n->tx_buf || !n->tx_iov || !n->rx_used) {
		virtio_net_destroy(n);
		return -ENOMEM;
	}
	n->status = VIRTIO_NET_S_LINK_UP;
	n->promisc = true;
	virtio_dev_init(&n->vdev, &net_ops, n, f, mem, platform);
	return 0;
}

void virtio_net_destroy(struct virtio_net *n)
{
	if (n->vdev.ops)
		virtio_dev_destroy(&n->vdev);
	free(n->rx_elem);
	free(n->tx_elem);
	free(n->rx_buf);
	free(n->tx_buf);
	free(n->tx_iov);
	free(n->rx_used);
	n->rx_elem = n->tx_elem = NULL;
	n->rx_buf = n->tx_buf = NULL;
	n->tx_iov = NULL;
	n->rx_used = NULL;
}
