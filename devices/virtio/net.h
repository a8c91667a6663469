/* virtio-net (virtio 1.2 §5.1): one receive queue, one transmit queue and a
 * control queue, served against a tap backend (net_tap.h). Knows nothing of
 * its transport.
 *
 * Threads: the driver's queue notifications arrive through ops->queue_notify
 * (iothread, or vCPU without ioeventfd); frames arriving on the tap are
 * announced by the VMM calling virtio_net_tap_readable() from the iothread.
 * Everything runs under vdev.lock, tap reads and writes included.
 *
 * Flow control on receive: when frames wait and the guest has no receive
 * buffers, they are left queued in the tap (never dropped; the one already
 * read waits in the device's bounce buffer) and the device
 * asks the VMM, through the rx_poll hook, to stop watching the tap fd (a
 * level-triggered watch would otherwise spin); it asks again to watch once
 * the guest has added buffers and the backlog is drained. */
#ifndef KVMINI_DEVICES_VIRTIO_NET_H
#define KVMINI_DEVICES_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "guest_mem.h"
#include "virtio/net_tap.h"
#include "virtio/virtio.h"
#include "virtio/virtq.h"

#define VIRTIO_ID_NET 1

/* Feature bits (§5.1.3) */
#define VIRTIO_NET_F_CSUM            0
#define VIRTIO_NET_F_GUEST_CSUM      1
#define VIRTIO_NET_F_CTRL_GUEST_OFFLOADS 2
#define VIRTIO_NET_F_MTU             3
#define VIRTIO_NET_F_MAC             5
#define VIRTIO_NET_F_GUEST_TSO4      7
#define VIRTIO_NET_F_GUEST_TSO6      8
#define VIRTIO_NET_F_GUEST_ECN       9
#define VIRTIO_NET_F_GUEST_UFO       10
#define VIRTIO_NET_F_HOST_TSO4       11
#define VIRTIO_NET_F_HOST_TSO6       12
#define VIRTIO_NET_F_HOST_ECN        13
#define VIRTIO_NET_F_HOST_UFO        14
#define VIRTIO_NET_F_MRG_RXBUF       15
#define VIRTIO_NET_F_STATUS          16
#define VIRTIO_NET_F_CTRL_VQ         17
#define VIRTIO_NET_F_CTRL_RX         18
#define VIRTIO_NET_F_CTRL_VLAN       19
#define VIRTIO_NET_F_GUEST_ANNOUNCE  21
#define VIRTIO_NET_F_MQ              22
#define VIRTIO_NET_F_CTRL_MAC_ADDR   23

/* Config space (§5.1.4, struct virtio_net_config) */
#define VIRTIO_NET_CFG_MAC           0    /* u8[6] */
#define VIRTIO_NET_CFG_STATUS        6    /* le16 */
#define VIRTIO_NET_CFG_MAX_VQ_PAIRS  8    /* le16 */
#define VIRTIO_NET_CFG_MTU           10   /* le16 */
#define VIRTIO_NET_CONFIG_SIZE       12

#define VIRTIO_NET_S_LINK_UP         1
#define VIRTIO_NET_S_ANNOUNCE        2

/* struct virtio_net_hdr (§5.1.6): u8 flags, u8 gso_type, le16 hdr_len,
 * le16 gso_size, le16 csum_start, le16 csum_offset, le16 num_buffers. The
 * last field exists with VERSION_1 or MRG_RXBUF: 12 bytes; else 10. */
#define VIRTIO_NET_HDR_FLAGS         0
#define VIRTIO_NET_HDR_GSO_TYPE      1
#define VIRTIO_NET_HDR_NUM_BUFFERS   10
#define VIRTIO_NET_HDR_LEN_LEGACY    10
#define VIRTIO_NET_HDR_LEN           12
#define VIRTIO_NET_HDR_F_NEEDS_CSUM  1
#define VIRTIO_NET_HDR_F_DATA_VALID  2

/* Control queue (§5.1.6.5): u8 class, u8 command, data, u8 ack */
#define VIRTIO_NET_OK                0
#define VIRTIO_NET_ERR               1
#define VIRTIO_NET_CTRL_RX           0
#define  VIRTIO_NET_CTRL_RX_PROMISC    0
#define  VIRTIO_NET_CTRL_RX_ALLMULTI   1
#define VIRTIO_NET_CTRL_MAC          1
#define  VIRTIO_NET_CTRL_MAC_TABLE_SET 0
#define  VIRTIO_NET_CTRL_MAC_ADDR_SET  1
#define VIRTIO_NET_CTRL_VLAN         2
#define VIRTIO_NET_CTRL_ANNOUNCE     3
#define  VIRTIO_NET_CTRL_ANNOUNCE_ACK  0
#define VIRTIO_NET_CTRL_MQ           4

#define VIRTIO_NET_RXQ               0
#define VIRTIO_NET_TXQ               1
#define VIRTIO_NET_CTRLQ             2
#define VIRTIO_NET_QUEUE_SIZE        256
/* Largest Ethernet frame either way: a 64 KiB GSO packet, its Ethernet and
 * VLAN headers, with room to spare. */
#define VIRTIO_NET_MAX_FRAME         (65536u + 256u)

struct virtio_net_stats {
	uint64_t rx_frames, rx_bytes;
	uint64_t rx_dropped;       /* did not fit the guest's buffers, or runt/cut short */
	uint64_t rx_errors;        /* tap read errors */
	uint64_t tx_frames, tx_bytes;
	uint64_t tx_dropped;       /* too long, or the tap refused it */
	uint64_t ctrl_ok, ctrl_err;
	uint64_t malformed;        /* chains that set NEEDS_RESET */
};

/* A receive chain filled and not yet returned (mergeable buffers). */
struct virtio_net_rx_used {
	uint16_t head, ndescs;
	uint32_t len;
};

struct virtio_net {
	struct virtio_dev vdev;          /* embedded; vdev.dev_priv == this */
	struct net_tap *tap;
	uint8_t mac[6];
	uint16_t status;                 /* VIRTIO_NET_S_* */
	bool promisc, allmulti;          /* accepted, not enforced: the tap delivers what it gets */
	struct virtio_net_stats stats;

	/* Set at activation from the negotiated features. */
	unsigned hdr_len;                /* 10 or 12 */
	bool mrg_rxbuf;
	bool hdr_swap;                   /* tap's header order != the device's */

	/* Receive state, kept across calls: a popped chain not used yet, and
	 * a frame partly delivered into mergeable buffers. */
	struct virtq_elem *rx_elem;
	bool rx_have_chain;
	uint8_t *rx_buf;                 /* header + frame, as read from the tap */
	size_t rx_len, rx_off;           /* frame in rx_buf (0: none), bytes delivered */
	struct virtio_net_rx_used *rx_used;
	uint16_t rx_nused;
	struct iovec rx_hdr_iov[VIRTIO_NET_HDR_LEN];   /* first chain's header bytes */
	unsigned rx_hdr_niov;
	bool rx_stalled;                 /* frames wait in the tap for buffers */
	void (*rx_poll)(void *opaque, bool watch);
	void *rx_poll_opaque;

	/* Transmit and control scratch (under the lock, one user at a time). */
	struct virtq_elem *tx_elem;
	struct iovec *tx_iov;
	uint8_t *tx_buf;
};

/* The tap stays owned by the caller and must outlive the device. mac is the
 * address offered in config space. 0 or -errno. */
int virtio_net_init(struct virtio_net *n, struct net_tap *tap, const uint8_t mac[6],
		    struct guest_mem *mem, const struct virtio_platform *platform);
void virtio_net_destroy(struct virtio_net *n);

/* The fd the iothread watches for readability (EPOLLIN). */
int virtio_net_tap_fd(struct virtio_net *n);
/* The tap fd became readable: move frames into receive buffers until the
 * tap is empty or the guest has no buffers left. Takes vdev.lock. */
void virtio_net_tap_readable(struct virtio_net *n);
/* Optional, set before the guest runs: watch(opaque, false) when frames are
 * left in the tap for lack of buffers (or before the driver is ready): stop
 * watching the tap fd; watch(opaque, true): watch it again. Called with
 * vdev.lock held, from whichever thread serves the device: it must not call
 * back into the device. Without it, watch the fd edge-triggered. */
void virtio_net_set_rx_poll(struct virtio_net *n, void (*watch)(void *opaque, bool watch),
			    void *opaque);

/* Snapshots (net_state.c; the order of a restore: virtio_state.h).
 * quiesce gives receive chains held across calls back to the ring (the
 * frame they were for stays, and is saved); call it with notifications and
 * the tap watch stopped. */
struct state_w;
struct state_r;
void virtio_net_quiesce(struct virtio_net *n);
void virtio_net_save_state(struct virtio_net *n, struct state_w *w);
int virtio_net_load_state(struct virtio_net *n, struct state_r *r);

/* NET_TAP_F_* offloads the tap may use towards a guest that negotiated
 * features (the GUEST_* bits; tun wants CSUM under TSO, TSO under ECN). */
unsigned virtio_net_tap_offload(uint64_t features);

#endif
