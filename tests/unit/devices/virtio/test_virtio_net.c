/* virtio-net through the real core and split queue: a simulated guest RAM,
 * a tiny driver that lays out descriptors and rings in the device's byte
 * order (little-endian modern, or big-endian for a legacy device reset by a
 * big-endian vCPU), written byte by byte independently of the core's
 * accessors, and a fake tap: one end of a SOCK_SEQPACKET socketpair wrapped
 * by net_tap_open_fd(); the test plays the host network on the other end. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include "virtio/net.h"
#include "virtio/net_tap.h"
#include "virtio/virtio.h"

#define HOST_BE (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)

#define RAM_GPA   0x100000ull
#define RAM_SIZE  (1u << 20)
#define QSZ       16
#define QBASE(q)  (RAM_GPA + 0x3000u * (q))
#define DESC(q)   QBASE(q)
#define AVAIL(q)  (QBASE(q) + 0x1000)
#define USED(q)   (QBASE(q) + 0x2000)
#define BUF_GPA   (RAM_GPA + 0x10000)

#define F_NEXT  1
#define F_WRITE 2

static const uint8_t MAC[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool w;
};

struct opts {
	bool legacy, be, mrg, no_guest_csum, no_ctrl, event_idx, no_cross_endian;
	bool no_driver_ok;
};

struct tenv {
	uint8_t *ram;
	struct guest_mem gm;
	int sv[2];                /* sv[0] the tap's fd, sv[1] the host network */
	struct net_tap tap;
	struct virtio_net net;
	struct virtio_platform plat;
	struct opts o;
	uint16_t avail_idx[3], used_seen[3], next_desc[3];
	uint64_t next_buf;
	int irq_used, irq_config;
	int watch_calls;
	bool watching;
};

/* ---- the fake platform and transport ---- */

static int vcpu_be(void *opaque)
{
	return ((struct tenv *)opaque)->o.be ? 1 : 0;
}

static void fake_interrupt(struct virtio_dev *d, int q, uint32_t bits)
{
	struct tenv *t = d->transport_priv;
	if (bits & 1)
		t->irq_used++;
	if (bits & 2)
		t->irq_config++;
}

static const struct virtio_transport_ops fake_tops = { .interrupt = fake_interrupt };

static void watch(void *opaque, bool on)
{
	struct tenv *t = opaque;
	t->watch_calls++;
	t->watching = on;
}

/* ---- guest memory, in the device's byte order ---- */

static uint8_t *gp(struct tenv *t, uint64_t gpa)
{
	assert_true(gpa >= RAM_GPA && gpa < RAM_GPA + RAM_SIZE);
	return t->ram + (gpa - RAM_GPA);
}

static bool guest_be(const struct tenv *t)
{
	return t->o.legacy && t->o.be;
}

static void put(uint8_t *p, uint64_t v, int bytes, bool be)
{
	for (int i = 0; i < bytes; i++)
		p[be ? bytes - 1 - i : i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get(const uint8_t *p, int bytes, bool be)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)p[be ? bytes - 1 - i : i] << (8 * i);
	return v;
}

static void wr(struct tenv *t, uint64_t gpa, uint64_t v, int bytes)
{
	put(gp(t, gpa), v, bytes, guest_be(t));
}

static uint64_t rd(struct tenv *t, uint64_t gpa, int bytes)
{
	return get(gp(t, gpa), bytes, guest_be(t));
}

static uint64_t alloc_buf(struct tenv *t, uint32_t len)
{
	uint64_t g = t->next_buf;
	t->next_buf += (len + 15) & ~15u;
	assert_true(t->next_buf <= RAM_GPA + RAM_SIZE);
	return g;
}

/* ---- set-up ---- */

static struct tenv *setup_env(struct opts o)
{
	struct tenv *t = calloc(1, sizeof(*t));
	struct virtio_dev *d;

	t->o = o;
	t->next_buf = BUF_GPA;
	assert_int_equal(posix_memalign((void **)&t->ram, 4096, RAM_SIZE), 0);
	memset(t->ram, 0, RAM_SIZE);
	assert_int_equal(gm_add_region(&t->gm, RAM_GPA, RAM_SIZE, t->ram), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, t->sv), 0);
	assert_int_equal(net_tap_open_fd(&t->tap, t->sv[0]), 0);
	assert_false(t->tap.is_tap);
	t->tap.fake_no_cross_endian = o.no_cross_endian;

	t->plat = (struct virtio_platform){ .current_vcpu_is_big_endian = vcpu_be,
					    .default_endian = VIRTIO_ENDIAN_LITTLE, .opaque = t };
	assert_int_equal(virtio_net_init(&t->net, &t->tap, MAC, &t->gm, &t->plat), 0);
	virtio_net_set_rx_poll(&t->net, watch, t);
	t->watching = true;
	d = &t->net.vdev;
	assert_ptr_equal(d->dev_priv, &t->net);
	d->tops = &fake_tops;
	d->transport_priv = t;
	d->legacy = o.legacy;

	virtio_set_status(d, 0);   /* samples the vCPU's byte order */
	assert_int_equal(d->device_endian, o.be ? VIRTIO_ENDIAN_BIG : VIRTIO_ENDIAN_LITTLE);
	virtio_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	uint64_t want = d->host_features;
	if (!o.event_idx)
		want &= ~(1ull << VIRTIO_F_RING_EVENT_IDX);
	if (o.legacy)
		want &= ~(1ull << VIRTIO_F_VERSION_1);
	if (!o.mrg)
		want &= ~(1ull << VIRTIO_NET_F_MRG_RXBUF);
	if (o.no_guest_csum)
		want &= ~(1ull << VIRTIO_NET_F_GUEST_CSUM | 1ull << VIRTIO_NET_F_GUEST_TSO4 |
			  1ull << VIRTIO_NET_F_GUEST_TSO6 | 1ull << VIRTIO_NET_F_GUEST_ECN);
	if (o.no_ctrl)
		want &= ~(1ull << VIRTIO_NET_F_CTRL_VQ | 1ull << VIRTIO_NET_F_CTRL_RX |
			  1ull << VIRTIO_NET_F_CTRL_MAC_ADDR);
	virtio_set_guest_features(d, 0, (uint32_t)want);
	virtio_set_guest_features(d, 1, (uint32_t)(want >> 32));
	uint8_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	if (!o.legacy) {
		st |= VIRTIO_STATUS_FEATURES_OK;
		virtio_set_status(d, st);
		assert_true(d->status & VIRTIO_STATUS_FEATURES_OK);
	}
	for (int q = 0; q < 3; q++) {
		d->vq[q].num = QSZ;
		d->vq[q].desc_gpa = DESC(q);
		d->vq[q].avail_gpa = AVAIL(q);
		d->vq[q].used_gpa = USED(q);
		d->vq[q].ready = true;
	}
	if (!o.no_driver_ok) {
		virtio_set_status(d, st | VIRTIO_STATUS_DRIVER_OK);
		assert_int_equal(d->status & VIRTIO_STATUS_NEEDS_RESET, 0);
	}
	return t;
}

static void teardown_env(struct tenv *t)
{
	virtio_net_destroy(&t->net);
	net_tap_close(&t->tap);
	close(t->sv[1]);
	free(t->ram);
	free(t);
}

static unsigned hdr_len(const struct tenv *t)
{
	return t->net.hdr_len;
}

/* ---- the driver ---- */

static void add_chain(struct tenv *t, int q, const struct seg *s, int n)
{
	uint16_t base = t->next_desc[q];

	if (base + n > QSZ)
		base = 0;
	t->next_desc[q] = (uint16_t)(base + n);
	for (int i = 0; i < n; i++) {
		uint64_t dg = DESC(q) + 16u * (base + i);
		wr(t, dg, s[i].gpa, 8);
		wr(t, dg + 8, s[i].len, 4);
		wr(t, dg + 12, (i < n - 1 ? F_NEXT : 0) | (s[i].w ? F_WRITE : 0), 2);
		wr(t, dg + 14, (uint64_t)(base + i + 1), 2);
	}
	wr(t, AVAIL(q) + 4 + 2u * (t->avail_idx[q] % QSZ), base, 2);
	t->avail_idx[q]++;
	wr(t, AVAIL(q) + 2, t->avail_idx[q], 2);
}

static void kick(struct tenv *t, int q)
{
	/* with EVENT_IDX, like Linux with callbacks enabled: interrupt me
	 * for anything after what I have seen */
	if (t->o.event_idx)
		wr(t, AVAIL(q) + 4 + 2u * QSZ, t->used_seen[q], 2);
	t->net.vdev.ops->queue_notify(&t->net.vdev, (uint16_t)q);
}

static uint16_t used_idx(struct tenv *t, int q)
{
	return (uint16_t)rd(t, USED(q) + 2, 2);
}

static int pending_used(struct tenv *t, int q)
{
	return (uint16_t)(used_idx(t, q) - t->used_seen[q]);
}

static uint32_t take_used(struct tenv *t, int q, uint16_t *id)
{
	assert_true(pending_used(t, q) > 0);
	uint64_t e = USED(q) + 4 + 8u * (t->used_seen[q] % QSZ);
	t->used_seen[q]++;
	if (id)
		*id = (uint16_t)rd(t, e, 4);
	return (uint32_t)rd(t, e + 4, 4);
}

/* One writable buffer of len bytes as a receive chain; returns its address. */
static uint64_t add_rx_buf(struct tenv *t, uint32_t len)
{
	uint64_t g = alloc_buf(t, len);
	struct seg s = { g, len, true };
	memset(gp(t, g), 0xcc, len);
	add_chain(t, VIRTIO_NET_RXQ, &s, 1);
	return g;
}

/* ---- the host side ---- */

/* Header fields, in host order. */
struct hdr {
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset, num_buffers;
};

static const struct hdr SAMPLE_HDR = { VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0x2a, 0x5a8, 0x22, 0x10, 0 };

/* Encodes h for the tap: in the byte order the tap was told (tap.vnet_be). */
static void tap_hdr(const struct tenv *t, uint8_t *p, const struct hdr *h)
{
	bool be = t->tap.vnet_be;
	p[0] = h->flags;
	p[1] = h->gso_type;
	put(p + 2, h->hdr_len, 2, be);
	put(p + 4, h->gso_size, 2, be);
	put(p + 6, h->csum_start, 2, be);
	put(p + 8, h->csum_offset, 2, be);
	if (t->tap.vnet_hdr_len == 12)
		put(p + 10, 0xeeee, 2, be);   /* the tap leaves these bytes alone */
}

static struct hdr decode_hdr(const uint8_t *p, unsigned len, bool be)
{
	struct hdr h = { p[0], p[1], (uint16_t)get(p + 2, 2, be), (uint16_t)get(p + 4, 2, be),
			 (uint16_t)get(p + 6, 2, be), (uint16_t)get(p + 8, 2, be), 0 };
	if (len == 12)
		h.num_buffers = (uint16_t)get(p + 10, 2, be);
	return h;
}

static uint8_t payload_byte(size_t i)
{
	return (uint8_t)(i * 7 + 3);
}

/* The host sends a frame of plen payload bytes to the guest, with the
 * header the tap prepends. */
static void host_send(struct tenv *t, size_t plen)
{
	size_t hl = (size_t)t->tap.vnet_hdr_len;
	uint8_t *f = malloc(hl + plen);
	tap_hdr(t, f, &SAMPLE_HDR);
	for (size_t i = 0; i < plen; i++)
		f[hl + i] = payload_byte(i);
	assert_int_equal(send(t->sv[1], f, hl + plen, 0), (ssize_t)(hl + plen));
	free(f);
}

static ssize_t host_recv(struct tenv *t, uint8_t *buf, size_t len)
{
	return recv(t->sv[1], buf, len, MSG_DONTWAIT);
}

static bool tap_has_frame(struct tenv *t)
{
	uint8_t b;
	return recv(t->sv[0], &b, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
}

/* Checks the frame as the guest sees it: the header in its own order. */
static void expect_rx_frame(struct tenv *t, const uint8_t *buf, size_t plen, uint16_t nbufs)
{
	unsigned hl = hdr_len(t);
	struct hdr h = decode_hdr(buf, hl, guest_be(t));
	assert_int_equal(h.flags, SAMPLE_HDR.flags);
	assert_int_equal(h.hdr_len, SAMPLE_HDR.hdr_len);
	assert_int_equal(h.gso_size, SAMPLE_HDR.gso_size);
	assert_int_equal(h.csum_start, SAMPLE_HDR.csum_start);
	assert_int_equal(h.csum_offset, SAMPLE_HDR.csum_offset);
	if (hl == 12)
		assert_int_equal(h.num_buffers, nbufs);
	for (size_t i = 0; i < plen; i++)
		if (buf[hl + i] != payload_byte(i))
			fail_msg("payload byte %zu", i);
}

/* ---- transmit ---- */

static void tx_split_header(struct opts o)
{
	struct tenv *t = setup_env(o);
	unsigned hl = hdr_len(t);
	uint64_t a = alloc_buf(t, 5), b = alloc_buf(t, 64), c = alloc_buf(t, 64);
	uint8_t hdr[12] = { 0 }, frame[256];

	/* the driver's header in the guest's byte order */
	put(hdr + 2, SAMPLE_HDR.hdr_len, 2, guest_be(t));
	put(hdr + 4, SAMPLE_HDR.gso_size, 2, guest_be(t));
	put(hdr + 6, SAMPLE_HDR.csum_start, 2, guest_be(t));
	put(hdr + 8, SAMPLE_HDR.csum_offset, 2, guest_be(t));
	hdr[0] = SAMPLE_HDR.flags;
	/* header split 5 | rest + 20 payload bytes | 40 payload bytes */
	memcpy(gp(t, a), hdr, 5);
	memcpy(gp(t, b), hdr + 5, hl - 5);
	for (size_t i = 0; i < 60; i++)
		*gp(t, i < 20 ? b + hl - 5 + i : c + i - 20) = payload_byte(i);
	struct seg s[3] = { { a, 5, false }, { b, hl - 5 + 20, false }, { c, 40, false } };
	add_chain(t, VIRTIO_NET_TXQ, s, 3);
	kick(t, VIRTIO_NET_TXQ);

	assert_int_equal(pending_used(t, VIRTIO_NET_TXQ), 1);
	assert_int_equal(take_used(t, VIRTIO_NET_TXQ, NULL), 0);
	assert_true(t->irq_used >= 1);
	ssize_t r = host_recv(t, frame, sizeof(frame));
	assert_int_equal(r, hl + 60);
	/* the host reads the header in the tap's order */
	struct hdr h = decode_hdr(frame, hl, t->tap.vnet_be);
	assert_int_equal(h.flags, SAMPLE_HDR.flags);
	assert_int_equal(h.hdr_len, SAMPLE_HDR.hdr_len);
	assert_int_equal(h.gso_size, SAMPLE_HDR.gso_size);
	assert_int_equal(h.csum_start, SAMPLE_HDR.csum_start);
	assert_int_equal(h.csum_offset, SAMPLE_HDR.csum_offset);
	for (size_t i = 0; i < 60; i++)
		assert_int_equal(frame[hl + i], payload_byte(i));
	assert_int_equal(t->net.stats.tx_frames, 1);
	assert_int_equal(t->net.stats.tx_bytes, 60);
	teardown_env(t);
}

static void tx_modern(void **s) { tx_split_header((struct opts){ 0 }); }
static void tx_legacy_le_10(void **s) { tx_split_header((struct opts){ .legacy = true }); }
static void tx_legacy_be_mrg(void **s)
{
	tx_split_header((struct opts){ .legacy = true, .be = true, .mrg = true });
}
/* The tap refuses big-endian headers: the device swaps the fields. */
static void tx_legacy_be_swapped(void **s)
{
	tx_split_header((struct opts){ .legacy = true, .be = true, .no_cross_endian = true });
}

static void tx_malformed(void **s)
{
	struct tenv *t = setup_env((struct opts){ 0 });
	uint64_t a = alloc_buf(t, 8);
	struct seg sg = { a, 8, false };   /* shorter than the 12-byte header */

	add_chain(t, VIRTIO_NET_TXQ, &sg, 1);
	kick(t, VIRTIO_NET_TXQ);
	assert_true(t->net.vdev.status & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(t->irq_config, 1);
	assert_int_equal(pending_used(t, VIRTIO_NET_TXQ), 0);
	assert_int_equal(t->net.stats.malformed, 1);
	teardown_env(t);
}

/* ---- receive ---- */

static void rx_one_buffer(struct opts o)
{
	struct tenv *t = setup_env(o);
	unsigned hl = hdr_len(t);
	/* header in its own descriptor, frame in the next (Linux "small"/"big") */
	uint64_t h = alloc_buf(t, hl), d = alloc_buf(t, 1514);
	struct seg s[2] = { { h, hl, true }, { d, 1514, true } };
	uint8_t buf[2048];

	add_chain(t, VIRTIO_NET_RXQ, s, 2);
	kick(t, VIRTIO_NET_RXQ);          /* buffers, no frames: nothing happens */
	assert_int_equal(pending_used(t, VIRTIO_NET_RXQ), 0);
	host_send(t, 100);
	virtio_net_tap_readable(&t->net);
	assert_int_equal(pending_used(t, VIRTIO_NET_RXQ), 1);
	assert_int_equal(take_used(t, VIRTIO_NET_RXQ, NULL), hl + 100);
	memcpy(buf, gp(t, h), hl);
	memcpy(buf + hl, gp(t, d), 100);
	expect_rx_frame(t, buf, 100, 1);
	assert_int_equal(t->irq_used, 1);
	assert_false(tap_has_frame(t));
	assert_true(t->watching);
	assert_int_equal(t->net.stats.rx_frames, 1);
	teardown_env(t);
}

static void rx_modern_no_mrg(void **s) { rx_one_buffer((struct opts){ 0 }); }
static void rx_legacy_le_10(void **s) { rx_one_buffer((struct opts){ .legacy = true }); }
static void rx_legacy_be_10(void **s) { rx_one_buffer((struct opts){ .legacy = true, .be = true }); }
static void rx_legacy_be_swapped(void **s)
{
	rx_one_buffer((struct opts){ .legacy = true, .be = true, .no_cross_endian = true });
}

static void rx_mergeable(struct opts o)
{
	o.mrg = true;
	struct tenv *t = setup_env(o);
	unsigned hl = hdr_len(t);
	uint64_t b[3];
	uint8_t buf[512];
	uint16_t id;

	assert_int_equal(hl, 12);
	for (int i = 0; i < 3; i++)
		b[i] = add_rx_buf(t, 100);
	kick(t, VIRTIO_NET_RXQ);
	host_send(t, 250);                /* 262 bytes: 100 + 100 + 62 */
	virtio_net_tap_readable(&t->net);
	assert_int_equal(pending_used(t, VIRTIO_NET_RXQ), 3);
	assert_int_equal(take_used(t, VIRTIO_NET_RXQ, &id), 100);
	assert_int_equal(id, 0);
	assert_int_equal(take_used(t, VIRTIO_NET_RXQ, &id), 100);
	assert_int_equal(id, 1);
	assert_int_equal(take_used(t, VIRTIO_NET_RXQ, &id), 62);
	assert_int_equal(id, 2);
	for (int i = 0; i < 3; i++)
		memcpy(buf + 100 * i, gp(t, b[i]), 100);
	expect_rx_frame(t, buf, 250, 3);
	/* num_buffers, byte by byte: le16 modern, be16 legacy big-endian */
	const uint8_t *nb = gp(t, b[0] + VIRTIO_NET_HDR_NUM_BUFFERS);
	if (guest_be(t))
		assert_true(nb[0] == 0 && nb[1] == 3);
	else
		assert_true(nb[0] == 3 && nb[1] == 0);
	assert_int_equal(t->irq_used, 1);

	/* a frame that fits one buffer: num_buffers 1 */
	add_rx_buf(t, 2048);
	kick(t, VIRTIO_NET_RXQ);
	host_send(t, 60);
	virtio_net_tap_readable(&t->net);
	assert_int_equal(take_used(t, VIRTIO_NET_RXQ, &id), hl + 60);
	expect_rx_frame(t, gp(t, t->next_buf - 2048), 60, 1);
	teardown_env(t);
}

static void rx_mrg_modern(void **s) { rx_mergeable((struct opts){ 0 }); }
static void rx_mrg_legacy_be(void **s) { rx_mergeable((struct opts){ .legacy = true, .be = true }); }
static void rx_mrg_legacy_le(void **s) { rx_mergeable((struct opts){ .legacy = true }); }

/* A frame waiting for a second buffer stays half-delivered until the guest
 * adds one and kicks; nothing is pushed before it is complete. */
static void rx_mrg_waits_for_buffers(void **s)
{
	struct tenv *t = setup_env((struct opts){ .mrg = true });
	uint64_t b0 = add_rx_buf(t, 100);

	kick(t, VIRTIO_NET_RXQ);
	host_send(t, 150);
	virtio_net_tap_readable(&t->net);
	assert_int_equal(pending_used(t, VIRTIO_NET_RXQ), 0);
	assert_false(t->watching);
	uint64_t b1 = add_rx_buf(t, 100);
	kick(t, VIRTIO_NET_RXQ);
	assert_int_equal(pending_used(t, VIRTIO_NET_RXQ), 2);
	assert_int_equal(take_used(t, VIRTIO_NET_RXQ, NULL), 100);
	assert_int_equal(take_used(t, VIRTIO_NET_RXQ, NULL), 62);
	uint8_t buf[200];
	memcpy(buf, gp(t, b0), 100);
	memcpy(buf + 100, gp(t, b1), 62);
	expect_rx_frame(t, buf, 150, 2);
	assert_true(t->watching);
	teardown_env(t);
}

static void rx_no_buffers_then_kick(struct opts o)
{
	struct tenv *t = setup_env(o);
	unsigned hl = hdr_len(t);

	host_send(t, 80);
	host_send(t, 90);
	host_send(t, 100);
	virtio_net_tap_readable(&t->net);
	/* nothing dropped: the first frame waits in the device, the others
	 * in the tap, which is no longer watched */
	assert_true(tap_has_frame(t));
	assert_false(t->watching);
	assert_int_equal(t->watch_calls, 1);
	virtio_net_tap_readable(&t->net);    /* a spurious wake-up changes nothing */
	assert_int_equal(t->watch_calls, 1);
	assert_int_equal(t->net.stats.rx_dropped, 0);
	assert_int_equal(pending_used(t, VIRTIO_NET_RXQ), 0);

	uint64_t b0 = add_rx_buf(t, 2048);
	kick(t, VIRTIO_NET_RXQ);
	/* one buffer: the first frame; the others still wait */
	assert_int_equal(pending_used(t, VIRTIO_NET_RXQ), 1);
	assert_int_equal(take_used(t, VIRTIO_NET_RXQ, NULL), hl + 80);
	expect_rx_frame(t, gp(t, b0), 80, 1);
	assert_true(tap_has_frame(t));
	assert_false(t->watching);

	uint64_t b1 = add_rx_buf(t, 2048), b2 = add_rx_buf(t, 2048);
	kick(t, VIRTIO_NET_RXQ);
	assert_int_equal(take_used(t, VIRTIO_NET_RXQ, NULL), hl + 90);
	expect_rx_frame(t, gp(t, b1), 90, 1);
	assert_int_equal(take_used(t, VIRTIO_NET_RXQ, NULL), hl + 100);
	expect_rx_frame(t, gp(t, b2), 100, 1);
	assert_false(tap_has_frame(t));
	assert_true(t->watching);            /* drained: watch the tap again */
	assert_int_equal(t->watch_calls, 2);
	assert_int_equal(t->irq_used, 2);
	assert_int_equal(t->net.stats.rx_frames, 3);
	teardown_env(t);
}

static void rx_no_buffers(void **s) { rx_no_buffers_then_kick((struct opts){ 0 }); }
static void rx_no_buffers_event_idx(void **s)
{
	rx_no_buffers_then_kick((struct opts){ .event_idx = true, .mrg = true });
}

/* With kicks enabled on an empty ring, the guest is asked to kick: no
 * NO_NOTIFY flag (or avail_event at our position with EVENT_IDX). */
static void rx_asks_for_kick(void **s)
{
	struct tenv *t = setup_env((struct opts){ 0 });
	add_rx_buf(t, 2048);
	kick(t, VIRTIO_NET_RXQ);
	host_send(t, 60);
	host_send(t, 60);
	virtio_net_tap_readable(&t->net);
	assert_int_equal(rd(t, USED(VIRTIO_NET_RXQ), 2) & 1, 0);   /* kicks wanted */
	teardown_env(t);
}

static void rx_oversized_dropped(void **s)
{
	struct tenv *t = setup_env((struct opts){ 0 });
	unsigned hl = hdr_len(t);
	uint64_t b = add_rx_buf(t, hl + 64);

	kick(t, VIRTIO_NET_RXQ);
	host_send(t, 200);    /* does not fit */
	host_send(t, 50);     /* fits the same buffer */
	virtio_net_tap_readable(&t->net);
	assert_int_equal(t->net.stats.rx_dropped, 1);
	assert_int_equal(pending_used(t, VIRTIO_NET_RXQ), 1);
	assert_int_equal(take_used(t, VIRTIO_NET_RXQ, NULL), hl + 50);
	expect_rx_frame(t, gp(t, b), 50, 1);
	assert_false(tap_has_frame(t));
	teardown_env(t);
}

/* Mergeable: a frame longer than the whole ring comes back as empty buffers. */
static void rx_mrg_ring_too_small(void **s)
{
	struct tenv *t = setup_env((struct opts){ .mrg = true });
	for (int i = 0; i < QSZ; i++)
		add_rx_buf(t, 16);
	kick(t, VIRTIO_NET_RXQ);
	host_send(t, 1000);
	virtio_net_tap_readable(&t->net);
	assert_int_equal(t->net.stats.rx_dropped, 1);
	assert_int_equal(pending_used(t, VIRTIO_NET_RXQ), QSZ);
	for (int i = 0; i < QSZ; i++)
		assert_int_equal(take_used(t, VIRTIO_NET_RXQ, NULL), 0);
	assert_int_equal(t->net.vdev.status & VIRTIO_STATUS_NEEDS_RESET, 0);
	teardown_env(t);
}

/* Without GUEST_CSUM the flags are zero whatever the tap says (§5.1.6.4.1). */
static void rx_flags_without_guest_csum(void **s)
{
	struct tenv *t = setup_env((struct opts){ .no_guest_csum = true });
	uint64_t b = add_rx_buf(t, 2048);
	kick(t, VIRTIO_NET_RXQ);
	host_send(t, 60);
	virtio_net_tap_readable(&t->net);
	assert_int_equal(take_used(t, VIRTIO_NET_RXQ, NULL), 12 + 60);
	assert_int_equal(*gp(t, b), 0);
	assert_int_equal(t->tap.offload, 0);
	teardown_env(t);
}

static void rx_runt_dropped(void **s)
{
	struct tenv *t = setup_env((struct opts){ 0 });
	uint8_t f[12 + 4] = { 0 };
	add_rx_buf(t, 2048);
	kick(t, VIRTIO_NET_RXQ);
	assert_int_equal(send(t->sv[1], f, sizeof(f), 0), (ssize_t)sizeof(f));
	virtio_net_tap_readable(&t->net);
	assert_int_equal(t->net.stats.rx_dropped, 1);
	assert_int_equal(pending_used(t, VIRTIO_NET_RXQ), 0);
	teardown_env(t);
}

/* A receive chain without writable buffers, or a mergeable buffer shorter
 * than the header: the driver broke the rules (NEEDS_RESET). */
static void rx_malformed(void **s)
{
	struct tenv *t = setup_env((struct opts){ 0 });
	uint64_t a = alloc_buf(t, 64);
	struct seg sg = { a, 64, false };
	add_chain(t, VIRTIO_NET_RXQ, &sg, 1);
	host_send(t, 60);
	kick(t, VIRTIO_NET_RXQ);
	assert_true(t->net.vdev.status & VIRTIO_STATUS_NEEDS_RESET);
	teardown_env(t);

	t = setup_env((struct opts){ .mrg = true });
	add_rx_buf(t, 8);
	host_send(t, 60);
	kick(t, VIRTIO_NET_RXQ);
	assert_true(t->net.vdev.status & VIRTIO_STATUS_NEEDS_RESET);
	teardown_env(t);
}

/* Before DRIVER_OK frames wait; activation asks for the tap again. */
static void rx_before_driver_ok(void **s)
{
	struct tenv *t = setup_env((struct opts){ .no_driver_ok = true });
	struct virtio_dev *d = &t->net.vdev;

	/* A real tap writes the header as it is read, after activation: a
	 * modern device's 12 little-endian bytes. */
	t->tap.vnet_hdr_len = 12;
	t->tap.vnet_be = false;
	host_send(t, 60);
	virtio_net_tap_readable(&t->net);
	assert_false(t->watching);
	assert_true(tap_has_frame(t));
	virtio_set_status(d, d->status | VIRTIO_STATUS_DRIVER_OK);
	assert_true(t->watching);
	uint64_t b = add_rx_buf(t, 2048);
	kick(t, VIRTIO_NET_RXQ);
	assert_int_equal(take_used(t, VIRTIO_NET_RXQ, NULL), 12 + 60);
	expect_rx_frame(t, gp(t, b), 60, 1);
	teardown_env(t);
}

/* ---- header sizes, offloads, byte order of the tap ---- */

static void header_sizes(void **s)
{
	struct { struct opts o; int len; } c[] = {
		{ { .legacy = true }, 10 },
		{ { .legacy = true, .mrg = true }, 12 },
		{ { .legacy = true, .be = true }, 10 },
		{ { 0 }, 12 },
		{ { .mrg = true }, 12 },
	};
	for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct tenv *t = setup_env(c[i].o);
		assert_int_equal(t->net.hdr_len, c[i].len);
		assert_int_equal(t->tap.vnet_hdr_len, c[i].len);
		/* the tap speaks the device's order */
		assert_int_equal(t->tap.vnet_be, guest_be(t));
		assert_false(t->net.hdr_swap);
		teardown_env(t);
	}
	struct tenv *t = setup_env((struct opts){ .legacy = true, .be = true, .no_cross_endian = true });
	assert_int_equal(t->tap.vnet_be, HOST_BE);
	assert_int_equal(t->net.hdr_swap, !HOST_BE);
	teardown_env(t);
}

static void offload_flags(void **s)
{
#define B(x) (1ull << VIRTIO_NET_F_##x)
	assert_int_equal(virtio_net_tap_offload(0), 0);
	assert_int_equal(virtio_net_tap_offload(B(GUEST_CSUM)), NET_TAP_F_CSUM);
	/* TSO needs CSUM: tun refuses TSO without it */
	assert_int_equal(virtio_net_tap_offload(B(GUEST_TSO4) | B(GUEST_TSO6)), 0);
	assert_int_equal(virtio_net_tap_offload(B(GUEST_CSUM) | B(GUEST_TSO4)),
			 NET_TAP_F_CSUM | NET_TAP_F_TSO4);
	assert_int_equal(virtio_net_tap_offload(B(GUEST_CSUM) | B(GUEST_TSO4) | B(GUEST_TSO6) |
						B(GUEST_ECN)),
			 NET_TAP_F_CSUM | NET_TAP_F_TSO4 | NET_TAP_F_TSO6 | NET_TAP_F_TSO_ECN);
	/* ECN only with TSO */
	assert_int_equal(virtio_net_tap_offload(B(GUEST_CSUM) | B(GUEST_ECN)), NET_TAP_F_CSUM);
	assert_int_equal(virtio_net_tap_offload(B(GUEST_CSUM) | B(GUEST_UFO)),
			 NET_TAP_F_CSUM | NET_TAP_F_UFO);
	/* host-side (TX) offloads do not concern the tap's RX offloads */
	assert_int_equal(virtio_net_tap_offload(B(HOST_TSO4) | B(CSUM) | B(MRG_RXBUF)), 0);
#undef B
	struct tenv *t = setup_env((struct opts){ 0 });
	assert_int_equal(t->tap.offload,
			 NET_TAP_F_CSUM | NET_TAP_F_TSO4 | NET_TAP_F_TSO6 | NET_TAP_F_TSO_ECN);
	teardown_env(t);
}

static void features_offered(void **s)
{
	struct tenv *t = setup_env((struct opts){ 0 });
	uint64_t f = t->net.vdev.host_features;
	const int want[] = { VIRTIO_F_VERSION_1, VIRTIO_F_RING_INDIRECT_DESC,
			     VIRTIO_F_RING_EVENT_IDX, VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS,
			     VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4,
			     VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_HOST_TSO4,
			     VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_MRG_RXBUF,
			     VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_CTRL_RX };
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_true(f >> want[i] & 1);
	assert_false(f >> VIRTIO_NET_F_MQ & 1);
	assert_false(f >> VIRTIO_F_RING_PACKED & 1);
	assert_int_equal(t->net.vdev.ops->device_id, 1);
	assert_int_equal(t->net.vdev.ops->num_queues, 3);
	assert_int_equal(t->net.vdev.ops->queue_max_size, 256);
	assert_int_equal(virtio_net_tap_fd(&t->net), t->sv[0]);
	teardown_env(t);
}

/* ---- config space ---- */

static void config_space(struct opts o)
{
	struct tenv *t = setup_env(o);
	struct virtio_dev *d = &t->net.vdev;
	uint8_t cfg[VIRTIO_NET_CONFIG_SIZE];

	virtio_config_read(d, 0, cfg, sizeof(cfg));
	assert_memory_equal(cfg, MAC, 6);
	assert_int_equal(get(cfg + VIRTIO_NET_CFG_STATUS, 2, guest_be(t)), VIRTIO_NET_S_LINK_UP);
	assert_int_equal(get(cfg + VIRTIO_NET_CFG_MAX_VQ_PAIRS, 2, guest_be(t)), 1);
	/* byte by byte */
	assert_int_equal(cfg[VIRTIO_NET_CFG_STATUS + (guest_be(t) ? 1 : 0)], 1);
	/* a 2-byte read of status alone */
	uint8_t two[2];
	virtio_config_read(d, VIRTIO_NET_CFG_STATUS, two, 2);
	assert_memory_equal(two, cfg + VIRTIO_NET_CFG_STATUS, 2);

	/* legacy drivers may write the mac; for modern ones it is read-only */
	const uint8_t nm[6] = { 0x02, 1, 2, 3, 4, 5 };
	virtio_config_write(d, 0, nm, 6);
	virtio_config_read(d, 0, cfg, 6);
	assert_memory_equal(cfg, o.legacy ? nm : MAC, 6);
	teardown_env(t);
}

static void config_modern(void **s) { config_space((struct opts){ 0 }); }
static void config_legacy_be(void **s) { config_space((struct opts){ .legacy = true, .be = true }); }
static void config_legacy_le(void **s) { config_space((struct opts){ .legacy = true }); }

/* ---- control queue ---- */

/* class, command, data (as given) | ack: returns the ack, or -1 if unused. */
static int ctrl(struct tenv *t, uint8_t cls, uint8_t cmd, const uint8_t *data, uint32_t dlen)
{
	uint64_t h = alloc_buf(t, 2), dd = alloc_buf(t, dlen ? dlen : 1), ack = alloc_buf(t, 1);
	struct seg s[3];
	int n = 0;

	gp(t, h)[0] = cls;
	gp(t, h)[1] = cmd;
	s[n++] = (struct seg){ h, 2, false };
	if (dlen) {
		memcpy(gp(t, dd), data, dlen);
		s[n++] = (struct seg){ dd, dlen, false };
	}
	*gp(t, ack) = 0xee;
	s[n++] = (struct seg){ ack, 1, true };
	add_chain(t, VIRTIO_NET_CTRLQ, s, n);
	kick(t, VIRTIO_NET_CTRLQ);
	if (!pending_used(t, VIRTIO_NET_CTRLQ))
		return -1;
	assert_int_equal(take_used(t, VIRTIO_NET_CTRLQ, NULL), 1);
	return *gp(t, ack);
}

static void control_queue(struct opts o)
{
	struct tenv *t = setup_env(o);
	struct virtio_net *n = &t->net;
	uint8_t one = 1, zero = 0, tbl[4 + 6 + 4 + 12];

	assert_int_equal(ctrl(t, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &zero, 1),
			 VIRTIO_NET_OK);
	assert_false(n->promisc);
	assert_int_equal(ctrl(t, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, &one, 1),
			 VIRTIO_NET_OK);
	assert_true(n->allmulti);
	/* RX commands of CTRL_RX_EXTRA (not offered), or without their byte */
	assert_int_equal(ctrl(t, VIRTIO_NET_CTRL_RX, 2, &one, 1), VIRTIO_NET_ERR);
	assert_int_equal(ctrl(t, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, NULL, 0),
			 VIRTIO_NET_ERR);

	/* MAC table: 1 unicast, 2 multicast; counts in the device's order */
	put(tbl, 1, 4, guest_be(t));
	memcpy(tbl + 4, MAC, 6);
	put(tbl + 10, 2, 4, guest_be(t));
	memset(tbl + 14, 0x33, 12);
	assert_int_equal(ctrl(t, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, tbl,
			      sizeof(tbl)), VIRTIO_NET_OK);
	/* counts that do not match the data */
	assert_int_equal(ctrl(t, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, tbl,
			      sizeof(tbl) - 1), VIRTIO_NET_ERR);
	put(tbl + 10, 0x40000000, 4, guest_be(t));
	assert_int_equal(ctrl(t, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, tbl,
			      sizeof(tbl)), VIRTIO_NET_ERR);
	assert_int_equal(ctrl(t, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, tbl, 3),
			 VIRTIO_NET_ERR);

	const uint8_t nm[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee };
	assert_int_equal(ctrl(t, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, nm, 6),
			 VIRTIO_NET_OK);
	uint8_t cfg[6];
	virtio_config_read(&n->vdev, 0, cfg, 6);
	assert_memory_equal(cfg, nm, 6);
	assert_int_equal(ctrl(t, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, nm, 5),
			 VIRTIO_NET_ERR);

	n->status |= VIRTIO_NET_S_ANNOUNCE;
	assert_int_equal(ctrl(t, VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK, NULL, 0),
			 VIRTIO_NET_OK);
	assert_int_equal(n->status, VIRTIO_NET_S_LINK_UP);

	uint8_t vid[2] = { 5, 0 };
	assert_int_equal(ctrl(t, VIRTIO_NET_CTRL_VLAN, 0, vid, 2), VIRTIO_NET_ERR);
	assert_int_equal(ctrl(t, VIRTIO_NET_CTRL_MQ, 0, vid, 2), VIRTIO_NET_ERR);
	assert_int_equal(ctrl(t, 99, 0, NULL, 0), VIRTIO_NET_ERR);
	assert_int_equal(n->vdev.status & VIRTIO_STATUS_NEEDS_RESET, 0);
	assert_true(t->irq_used > 0);
	teardown_env(t);
}

static void control_modern(void **s) { control_queue((struct opts){ 0 }); }
static void control_legacy_be(void **s) { control_queue((struct opts){ .legacy = true, .be = true }); }

static void control_malformed(void **s)
{
	struct tenv *t = setup_env((struct opts){ 0 });
	uint64_t h = alloc_buf(t, 2);
	struct seg sg = { h, 1, false };   /* one readable byte, no ack */

	add_chain(t, VIRTIO_NET_CTRLQ, &sg, 1);
	kick(t, VIRTIO_NET_CTRLQ);
	assert_true(t->net.vdev.status & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(t->irq_config, 1);
	assert_int_equal(pending_used(t, VIRTIO_NET_CTRLQ), 0);
	teardown_env(t);

	/* header and data, but no writable byte for the ack */
	t = setup_env((struct opts){ 0 });
	struct seg s2[2] = { { alloc_buf(t, 2), 2, false }, { alloc_buf(t, 1), 1, false } };
	add_chain(t, VIRTIO_NET_CTRLQ, s2, 2);
	kick(t, VIRTIO_NET_CTRLQ);
	assert_true(t->net.vdev.status & VIRTIO_STATUS_NEEDS_RESET);
	teardown_env(t);

	/* CTRL_VQ not negotiated: the queue is not served */
	t = setup_env((struct opts){ .no_ctrl = true });
	uint8_t one = 1;
	assert_int_equal(ctrl(t, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &one, 1), -1);
	teardown_env(t);
}

/* A reset forgets a half-delivered frame and held chains. */
static void reset_forgets_rx_state(void **s)
{
	struct tenv *t = setup_env((struct opts){ .mrg = true });
	add_rx_buf(t, 100);
	kick(t, VIRTIO_NET_RXQ);
	host_send(t, 150);
	virtio_net_tap_readable(&t->net);
	assert_true(t->net.rx_len > 0);
	virtio_set_status(&t->net.vdev, 0);
	assert_int_equal(t->net.rx_len, 0);
	assert_int_equal(t->net.rx_nused, 0);
	assert_false(t->net.rx_have_chain);
	teardown_env(t);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(features_offered),
		cmocka_unit_test(config_modern),
		cmocka_unit_test(config_legacy_be),
		cmocka_unit_test(config_legacy_le),
		cmocka_unit_test(header_sizes),
		cmocka_unit_test(offload_flags),
		cmocka_unit_test(tx_modern),
		cmocka_unit_test(tx_legacy_le_10),
		cmocka_unit_test(tx_legacy_be_mrg),
		cmocka_unit_test(tx_legacy_be_swapped),
		cmocka_unit_test(tx_malformed),
		cmocka_unit_test(rx_modern_no_mrg),
		cmocka_unit_test(rx_legacy_le_10),
		cmocka_unit_test(rx_legacy_be_10),
		cmocka_unit_test(rx_legacy_be_swapped),
		cmocka_unit_test(rx_mrg_modern),
		cmocka_unit_test(rx_mrg_legacy_be),
		cmocka_unit_test(rx_mrg_legacy_le),
		cmocka_unit_test(rx_mrg_waits_for_buffers),
		cmocka_unit_test(rx_no_buffers),
		cmocka_unit_test(rx_no_buffers_event_idx),
		cmocka_unit_test(rx_asks_for_kick),
		cmocka_unit_test(rx_oversized_dropped),
		cmocka_unit_test(rx_mrg_ring_too_small),
		cmocka_unit_test(rx_flags_without_guest_csum),
		cmocka_unit_test(rx_runt_dropped),
		cmocka_unit_test(rx_malformed),
		cmocka_unit_test(rx_before_driver_ok),
		cmocka_unit_test(control_modern),
		cmocka_unit_test(control_legacy_be),
		cmocka_unit_test(control_malformed),
		cmocka_unit_test(reset_forgets_rx_state),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
