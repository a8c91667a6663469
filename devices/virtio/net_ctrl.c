/* virtio-net's control queue (virtio 1.2 §5.1.6.5): receive filtering,
 * MAC address and table, and the announce ack. The device copies what it
 * acts on out of the request (a count, a flag, an address) before using it:
 * a second vCPU may rewrite the buffer at any time. Offloads, VLAN and MQ
 * are not offered, so their commands get VIRTIO_NET_ERR. */
#include <errno.h>
#include <string.h>

#include "iov.h"
#include "virtio/net.h"
#include "virtio/net_internal.h"

/* Most device-writable bytes a control request may carry besides its ack:
 * none of the commands we take returns data. */
#define CTRL_IN_MAX 64

static uint8_t ctrl_mac_table(struct virtio_net *n, const struct virtq_elem *e, uint64_t dlen)
{
	uint64_t pos = 2, end = 2 + dlen;
	uint8_t raw[4];

	/* Two tables (unicast, multicast): a le32 count (guest order for a
	 * legacy device, as Linux writes it) and that many addresses. */
	for (int t = 0; t < 2; t++) {
		if (end - pos < 4)
			return VIRTIO_NET_ERR;
		iov_to_buf(e->iov, e->nout, pos, raw, 4);
		uint64_t entries = virtio_get32(&n->vdev, raw);
		pos += 4;
		if (entries > (end - pos) / 6)
			return VIRTIO_NET_ERR;
		pos += entries * 6;
	}
	/* Accepted, not enforced: frames for the guest come from the host's
	 * stack through the tap, which is filtered there. */
	return pos == end ? VIRTIO_NET_OK : VIRTIO_NET_ERR;
}

static uint8_t ctrl_dispatch(struct virtio_net *n, const struct virtq_elem *e, uint8_t cls,
			     uint8_t cmd)
{
	struct virtio_dev *d = &n->vdev;
	uint64_t dlen = e->out_len - 2;
	uint8_t data[6];

	switch (cls) {
	case VIRTIO_NET_CTRL_RX:
		if (!virtio_has_feature(d, VIRTIO_NET_F_CTRL_RX) || dlen != 1 ||
		    (cmd != VIRTIO_NET_CTRL_RX_PROMISC && cmd != VIRTIO_NET_CTRL_RX_ALLMULTI))
			return VIRTIO_NET_ERR;
		iov_to_buf(e->iov, e->nout, 2, data, 1);
		if (cmd == VIRTIO_NET_CTRL_RX_PROMISC)
			n->promisc = data[0] != 0;
		else
			n->allmulti = data[0] != 0;
		return VIRTIO_NET_OK;
	case VIRTIO_NET_CTRL_MAC:
		if (cmd == VIRTIO_NET_CTRL_MAC_TABLE_SET && virtio_has_feature(d, VIRTIO_NET_F_CTRL_RX))
			return ctrl_mac_table(n, e, dlen);
		if (cmd == VIRTIO_NET_CTRL_MAC_ADDR_SET &&
		    virtio_has_feature(d, VIRTIO_NET_F_CTRL_MAC_ADDR) && dlen == 6) {
			iov_to_buf(e->iov, e->nout, 2, n->mac, 6);
			return VIRTIO_NET_OK;
		}
		return VIRTIO_NET_ERR;
	case VIRTIO_NET_CTRL_ANNOUNCE:
		if (cmd != VIRTIO_NET_CTRL_ANNOUNCE_ACK)
			return VIRTIO_NET_ERR;
		n->status &= (uint16_t)~VIRTIO_NET_S_ANNOUNCE;
		return VIRTIO_NET_OK;
	}
	/* VLAN, MQ, guest offloads: not offered */
	return VIRTIO_NET_ERR;
}

/* class, command and data readable; the ack is the last writable byte.
 * Without room for either it is a framing error (NEEDS_RESET), as in blk. */
int virtio_net_ctrl_one(struct virtio_net *n, const struct virtq_elem *e)
{
	struct virtio_dev *d = &n->vdev;
	uint8_t hdr[2], ack;

	if (e->out_len < 2 || e->in_len == 0 || e->in_len > CTRL_IN_MAX) {
		virtio_warn(d, "control request of %llu+%llu bytes",
			    (unsigned long long)e->out_len, (unsigned long long)e->in_len);
		return -EINVAL;
	}
	iov_to_buf(e->iov, e->nout, 0, hdr, 2);
	ack = ctrl_dispatch(n, e, hdr[0], hdr[1]);
	if (ack == VIRTIO_NET_OK)
		n->stats.ctrl_ok++;
	else
		n->stats.ctrl_err++;
	/* Every writable byte is written, so the used length is honest. */
	for (uint32_t i = 0; i < e->nin; i++)
		memset(e->iov[e->nout + i].iov_base, 0, e->iov[e->nout + i].iov_len);
	iov_from_buf(e->iov + e->nout, e->nin, e->in_len - 1, &ack, 1);
	return (int)e->in_len;
}
