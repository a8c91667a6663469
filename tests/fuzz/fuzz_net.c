/* virtio-net (devices/virtio/net.c, net_tap.c) with the virtio core and
 * real split or packed queues: transmit chains, receive buffers (one frame
 * a chain, or mergeable buffers), control requests, and frames arriving
 * from the host through a fake tap -- one end of a SOCK_SEQPACKET
 * socketpair wrapped by net_tap_open_fd(), the other end played here, as
 * tests/unit/devices/virtio/test_virtio_net.c does.
 *
 * The driver is sane about the ring (fuzz_vq.h) and hostile about the
 * chains: headers split anywhere or missing, frames too long, writable and
 * readable segments mixed, empty and out-of-RAM buffers, indirect tables,
 * control requests of any class, command and length. Checked besides
 * memory safety:
 * - the device never writes the driver's readable memory (headers, frames,
 *   control requests);
 * - a batch of well-formed transmit chains reaches the tap as exactly those
 *   frames, in order (header + frame, the header in the tap's order);
 * - every frame on the tap is at most a header and VIRTIO_NET_MAX_FRAME;
 * - the sane driver's check of every used element.
 *
 * Input: two set-up bytes, then operations.
 *   byte 0   bit 0 packed, bit 1 EVENT_IDX, bit 2 INDIRECT_DESC, bit 3 legacy
 *            with a big-endian vCPU (split), bit 4 MRG_RXBUF, bit 5 no
 *            GUEST_CSUM, bit 6 no CTRL_VQ, bit 7 a tap that refuses
 *            big-endian headers (the device swaps)
 *   byte 1   queue size: 2^(b % 9) (packed: b + 1)
 *   op % 9:
 *     0 receive buffers: u8 segments (% 4 + 1), each u16 length (% 2048 + 1)
 *       in the writable area; u8 mutation; u8 mode (bit 0 indirect)
 *     1 a frame to send: u16 frame length (bit 15: % 70000 instead of
 *       % 1600), u8 fill, u8 header split (% 3: alone, in two, with the
 *       frame), u8 frame segments (% 4 + 1); u8 mutation; u8 mode
 *     2 a control request: u8 class, u8 command, u8 data length (% 24)
 *       then the data, u8 ack length (% 3 + 1); u8 mutation; u8 mode
 *     3 kick queue u8 % 3 (publish, notify, then the host reads the tap)
 *     4 the host sends a frame: u16 length (bit 15: % 70000, else % 1600),
 *       u8 fill; then the tap is readable
 *     5 the tap is readable   6 the driver reads the used rings
 *     7 reset and initialise again
 *     8 config access: u8 offset, u8 bit 0 write (legacy MAC), u8 value
 *   mutation: bit 7 flip WRITE of segment m % n, bit 6 make it empty,
 *   bit 5 move it to straddle the end of RAM */
#define _GNU_SOURCE
#include "fuzz_vq.h"

#include <sys/socket.h>
#include <unistd.h>

#include "virtio/net.h"

#define R0_GPA    0x100000ull
#define R0_SIZE   0x80000u
#define R1_GPA    0x200000ull
#define R1_SIZE   0x1000u
#define QAREA(q)  (R0_GPA + 0xa000ull * (q))    /* rings; +0x2000: indirect tables */
#define IND_SIZE  0x8000u
#define RO_GPA    (R0_GPA + 0x20000)            /* readable bytes: the driver's */
#define RO_SIZE   0x30000u
#define WO_GPA    (R0_GPA + 0x50000)            /* writable buffers */
#define WO_SIZE   0x30000u

#define MAX_TX 64
#define FRAME_MAX (VIRTIO_NET_HDR_LEN + VIRTIO_NET_MAX_FRAME)

static const uint8_t MAC[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

struct env {
	struct fuzz_ram *ram;
	struct virtio_net net;
	struct net_tap tap;
	int sv[2];
	struct virtio_platform plat;
	struct fvq q[3];
	uint8_t cfg, qsize;
	bool packed, legacy;
	uint64_t ro_next, wo_next;
	/* transmit chains since the last kick of the transmit queue */
	uint32_t tx_len[MAX_TX];
	uint8_t tx_fill[MAX_TX];
	unsigned ntx;
	bool tx_unclean;
};

static uint8_t ro_shadow[RO_SIZE];
static uint8_t frame[72 * 1024];   /* the largest frame the host sends: 70000 */

static int vcpu_be(void *opaque)
{
	return ((struct env *)opaque)->legacy;
}

static void fake_interrupt(struct virtio_dev *d, int q, uint32_t bits)
{
}

static const struct virtio_transport_ops fake_tops = { .interrupt = fake_interrupt };

static void driver_init(struct env *t)
{
	struct virtio_dev *d = &t->net.vdev;
	uint8_t c = t->cfg;

	pthread_mutex_lock(&d->lock);
	virtio_set_status(d, 0);
	virtio_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	uint64_t f = d->host_features;
	if (!(c & 2))
		f &= ~(1ull << VIRTIO_F_RING_EVENT_IDX);
	if (!(c & 4))
		f &= ~(1ull << VIRTIO_F_RING_INDIRECT_DESC);
	if (!(c & 16))
		f &= ~(1ull << VIRTIO_NET_F_MRG_RXBUF);
	if (c & 32)
		f &= ~(1ull << VIRTIO_NET_F_GUEST_CSUM | 1ull << VIRTIO_NET_F_GUEST_TSO4 |
		       1ull << VIRTIO_NET_F_GUEST_TSO6 | 1ull << VIRTIO_NET_F_GUEST_ECN);
	if (c & 64)
		f &= ~(1ull << VIRTIO_NET_F_CTRL_VQ | 1ull << VIRTIO_NET_F_CTRL_RX |
		       1ull << VIRTIO_NET_F_CTRL_MAC_ADDR);
	if (t->packed) {
		d->host_features |= 1ull << VIRTIO_F_RING_PACKED;
		f |= 1ull << VIRTIO_F_RING_PACKED;
	}
	if (t->legacy)
		f &= 0xffffffffull;
	d->guest_features = f;
	uint8_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	if (!t->legacy) {
		st |= VIRTIO_STATUS_FEATURES_OK;
		virtio_set_status(d, st);
	}
	uint16_t num = t->packed ? (uint16_t)(t->qsize + 1u) : (uint16_t)(1u << (t->qsize % 9));
	if (num > 256)
		num = 256;
	for (uint16_t i = 0; i < 3; i++) {
		struct virtq *vq = &d->vq[i];
		vq->num = num;
		vq->desc_gpa = QAREA(i);
		vq->avail_gpa = QAREA(i) + 0x1000;
		vq->used_gpa = QAREA(i) + 0x1400;
		vq->ready = true;
	}
	virtio_set_status(d, st | VIRTIO_STATUS_DRIVER_OK);
	FZ_CHECK(!(d->status & VIRTIO_STATUS_NEEDS_RESET));
	for (uint16_t i = 0; i < 3; i++)
		fvq_init(&t->q[i], t->ram, t->packed, virtio_is_big_endian(d), true, num,
			 QAREA(i), QAREA(i) + 0x1000, QAREA(i) + 0x1400, QAREA(i) + 0x2000, IND_SIZE);
	pthread_mutex_unlock(&d->lock);
	t->ntx = 0;
	t->tx_unclean = false;
}

/* Readable bytes, written by the driver only: allocated once per input. */
static uint64_t ro_alloc(struct env *t, uint32_t len)
{
	if (len > RO_SIZE || t->ro_next + len > RO_GPA + RO_SIZE)
		return 0;
	uint64_t a = t->ro_next;
	t->ro_next += len;
	return a;
}

static uint64_t wo_alloc(struct env *t, uint32_t len)
{
	if (len > WO_SIZE)
		len = WO_SIZE;
	if (t->wo_next + len > WO_GPA + WO_SIZE)
		t->wo_next = WO_GPA;
	uint64_t a = t->wo_next;
	t->wo_next += len;
	return a;
}

/* Applies a mutation byte; true if the chain stays as built. */
static bool mutate(struct fvq_seg *s, unsigned n, uint8_t mut)
{
	if (!(mut & 0xe0))
		return true;
	unsigned k = (mut & 0x1f) % n;
	if (mut & 0x80)
		s[k].write = !s[k].write;
	if (mut & 0x40)
		s[k].len = 0;
	if (mut & 0x20)
		s[k].addr = R1_GPA + R1_SIZE - 8 + (mut & 7);
	return false;
}

/* Readable bytes made writable by a mutation are the device's to write:
 * they leave the driver's area (a copy of the range goes to WO). */
static void relocate_writable(struct env *t, struct fvq_seg *s, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (s[i].write && s[i].addr >= RO_GPA && s[i].addr < RO_GPA + RO_SIZE)
			s[i].addr = wo_alloc(t, s[i].len);
}

static int add(struct env *t, uint16_t qi, struct fvq_seg *s, unsigned n, uint8_t mode)
{
	relocate_writable(t, s, n);
	if ((mode & 1) && !(t->cfg & 4) && qi == VIRTIO_NET_TXQ)
		t->tx_unclean = true;    /* indirect, not negotiated: refused */
	return fvq_add(&t->q[qi], s, n, mode & 1, 0, 0, mode & 2);
}

static void rx_buffers(struct env *t, struct fz *f)
{
	struct fvq_seg s[4];
	unsigned n = fz_u8(f) % 4 + 1;

	for (unsigned i = 0; i < n; i++) {
		uint32_t len = fz_u16(f) % 2048u + 1;
		s[i] = (struct fvq_seg){ wo_alloc(t, len), len, true };
	}
	mutate(s, n, fz_u8(f));
	add(t, VIRTIO_NET_RXQ, s, n, fz_u8(f));
}

static void tx_frame(struct env *t, struct fz *f)
{
	unsigned hl = t->net.hdr_len;
	uint16_t l = fz_u16(f);
	uint32_t flen = l & 0x8000 ? (l & 0x7fff) * 3u % 70000u : l % 1600u;
	uint8_t fill = fz_u8(f), split = fz_u8(f) % 3;
	unsigned nseg = fz_u8(f) % 4 + 1;
	struct fvq_seg s[8];
	unsigned n = 0;
	uint32_t first = split == 2 ? flen / nseg : 0;

	uint64_t h = ro_alloc(t, hl + first);
	if (!h)
		return;
	uint8_t *p = fuzz_ram_ptr(t->ram, h, hl + first);
	/* flags 0, gso none: a plain frame; num_buffers left 0 */
	memset(p, 0, hl);
	memset(p + hl, fill, first);
	if (split == 1) {
		s[n++] = (struct fvq_seg){ h, 3, false };
		s[n++] = (struct fvq_seg){ h + 3, hl - 3 + first, false };
	} else {
		s[n++] = (struct fvq_seg){ h, hl + first, false };
	}
	uint32_t left = flen - first;
	for (unsigned i = split == 2 ? 1 : 0; i < nseg && left; i++) {
		uint32_t k = i + 1 == nseg ? left : flen / nseg;
		if (!k)
			continue;
		uint64_t a = ro_alloc(t, k);
		if (!a)
			return;
		memset(fuzz_ram_ptr(t->ram, a, k), fill, k);
		s[n++] = (struct fvq_seg){ a, k, false };
		left -= k;
	}
	bool clean = mutate(s, n, fz_u8(f));
	if (add(t, VIRTIO_NET_TXQ, s, n, fz_u8(f)) < 0)
		return;   /* no room in the ring: not sent */
	if (t->ntx < MAX_TX) {
		t->tx_len[t->ntx] = flen;
		t->tx_fill[t->ntx] = fill;
		t->ntx++;
	} else {
		clean = false;
	}
	if (!clean || flen > VIRTIO_NET_MAX_FRAME)
		t->tx_unclean = true;
}

static void ctrl(struct env *t, struct fz *f)
{
	uint8_t cls = fz_u8(f), cmd = fz_u8(f), dlen = fz_u8(f) % 24;
	struct fvq_seg s[3];
	unsigned n = 0;

	uint64_t a = ro_alloc(t, 2u + dlen);
	if (!a)
		return;
	uint8_t *p = fuzz_ram_ptr(t->ram, a, 2u + dlen);
	p[0] = cls;
	p[1] = cmd;
	fz_bytes(f, p + 2, dlen);
	if (dlen && (fz_u8(f) & 1)) {
		s[n++] = (struct fvq_seg){ a, 2, false };
		s[n++] = (struct fvq_seg){ a + 2, dlen, false };
	} else {
		s[n++] = (struct fvq_seg){ a, 2u + dlen, false };
	}
	uint32_t al = fz_u8(f) % 3 + 1;
	s[n++] = (struct fvq_seg){ wo_alloc(t, al), al, true };
	mutate(s, n, fz_u8(f));
	add(t, VIRTIO_NET_CTRLQ, s, n, fz_u8(f));
}

/* The host side of the tap: every frame the device wrote. */
static void host_read(struct env *t, bool tx_kicked)
{
	unsigned hl = t->net.hdr_len, k = 0;
	ssize_t r;

	while ((r = recv(t->sv[1], frame, sizeof(frame), MSG_DONTWAIT)) >= 0) {
		FZ_CHECK((size_t)r >= hl && (size_t)r <= hl + VIRTIO_NET_MAX_FRAME);
		if (tx_kicked && !t->tx_unclean) {
			/* exactly the frames of the batch, in order */
			FZ_CHECK(k < t->ntx && (size_t)r == hl + t->tx_len[k]);
			for (ssize_t i = hl; i < r; i++)
				FZ_CHECK(frame[i] == t->tx_fill[k]);
		}
		k++;
	}
	if (tx_kicked) {
		if (!t->tx_unclean)
			FZ_CHECK(k == t->ntx);
		t->ntx = 0;
		t->tx_unclean = false;
	}
}

static void host_send(struct env *t, struct fz *f)
{
	uint16_t l = fz_u16(f);
	size_t len = l & 0x8000 ? (l & 0x7fff) * 3u % 70000u : l % 1600u;
	uint8_t fill = fz_u8(f);

	memset(frame, fill, len);
	memset(frame, 0, len < t->net.hdr_len + 2 ? len : t->net.hdr_len + 2);
	if (send(t->sv[1], frame, len, MSG_DONTWAIT) < 0) {
		/* a full socket: the frame is the host's to keep */
	}
	virtio_net_tap_readable(&t->net);
}

static void check_ro(struct env *t)
{
	const uint8_t *p = fuzz_ram_ptr(t->ram, RO_GPA, RO_SIZE);
	size_t used = t->ro_next - RO_GPA;

	FZ_CHECK(!memcmp(p, ro_shadow, used));
}

static void snapshot_ro(struct env *t)
{
	memcpy(ro_shadow, fuzz_ram_ptr(t->ram, RO_GPA, RO_SIZE), t->ro_next - RO_GPA);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t gpa[2] = { R0_GPA, R1_GPA };
	static const size_t sz[2] = { R0_SIZE, R1_SIZE };
	static struct env t;
	struct fz f;

	fz_init(&f, data, size);
	memset(&t, 0, sizeof(t));
	t.cfg = fz_u8(&f);
	t.qsize = fz_u8(&f);
	t.packed = t.cfg & 1;
	t.legacy = (t.cfg & 8) && !t.packed;
	t.ram = fuzz_ram_get(gpa, sz, 2);
	t.ro_next = RO_GPA;
	t.wo_next = WO_GPA;
	FZ_CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, t.sv) == 0);
	FZ_CHECK(net_tap_open_fd(&t.tap, t.sv[0]) == 0);
	t.tap.fake_no_cross_endian = t.cfg & 0x80;
	t.plat = (struct virtio_platform){ vcpu_be, VIRTIO_ENDIAN_LITTLE, &t };
	FZ_CHECK(virtio_net_init(&t.net, &t.tap, MAC, &t.ram->gm, &t.plat) == 0);
	struct virtio_dev *d = &t.net.vdev;
	d->tops = &fake_tops;
	d->transport_priv = &t;
	d->legacy = t.legacy;
	driver_init(&t);

	for (int ops = 0; fz_more(&f) && ops < 128; ops++) {
		uint8_t op = fz_u8(&f) % 9;

		FZ_TRACE("op %u\n", op);
		switch (op) {
		case 0:
			rx_buffers(&t, &f);
			break;
		case 1:
			tx_frame(&t, &f);
			break;
		case 2:
			ctrl(&t, &f);
			break;
		case 3: {
			uint16_t qi = fz_u8(&f) % 3;
			fvq_publish(&t.q[qi]);
			uint64_t dropped = t.net.stats.tx_dropped;
			d->ops->queue_notify(d, qi);
			/* A full socket drops a frame (as a full tap does). */
			if (t.net.stats.tx_dropped != dropped)
				t.tx_unclean = true;
			/* A malformed chain on any queue stops the device. */
			if (d->status & VIRTIO_STATUS_NEEDS_RESET)
				t.tx_unclean = true;
			host_read(&t, qi == VIRTIO_NET_TXQ);
			break;
		}
		case 4:
			host_send(&t, &f);
			break;
		case 5:
			virtio_net_tap_readable(&t.net);
			break;
		case 6:
			for (int i = 0; i < 3; i++)
				fvq_collect(&t.q[i]);
			break;
		case 7:
			driver_init(&t);
			host_read(&t, false);
			break;
		case 8: {
			uint8_t off = fz_u8(&f) % 16, w = fz_u8(&f), v = fz_u8(&f), b[2] = { v, v };
			pthread_mutex_lock(&d->lock);
			if (w & 1)
				virtio_config_write(d, off, b, 1 + (w >> 1 & 1));
			else
				virtio_config_read(d, off, b, 1 + (w >> 1 & 1));
			pthread_mutex_unlock(&d->lock);
			break;
		}
		}
		/* The device ran (ops 0-2 are the driver's alone): it wrote
		 * nothing the driver gave it to read. */
		if (op > 2)
			check_ro(&t);
		snapshot_ro(&t);
	}
	virtio_net_destroy(&t.net);
	net_tap_close(&t.tap);
	close(t.sv[1]);
	return 0;
}
