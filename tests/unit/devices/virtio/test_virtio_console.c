/* virtio-console through the real core and split queue: a simulated guest
 * RAM and a tiny driver that lays out descriptors, rings and control
 * messages in the device's byte order (little-endian modern, or big-endian
 * for a legacy device reset by a big-endian vCPU), written byte by byte
 * independently of the core's accessors. The host side is a recorder of
 * the device's callbacks. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include "virtio/console.h"
#include "virtio/virtio.h"

#define RAM_GPA   0x100000ull
#define RAM_SIZE  (1u << 20)
#define QSZ       16
#define NQ        10                 /* 4 ports: 2 * 4 + 2 queues */
#define QBASE(q)  (RAM_GPA + 0x3000u * (q))
#define DESC(q)   QBASE(q)
#define AVAIL(q)  (QBASE(q) + 0x1000)
#define USED(q)   (QBASE(q) + 0x2000)
#define BUF_GPA   (RAM_GPA + 0x3000u * NQ)

#define F_NEXT  1
#define F_WRITE 2

#define CRX VIRTIO_CONSOLE_CTRL_RXQ
#define CTX VIRTIO_CONSOLE_CTRL_TXQ

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool w;
};

struct opts {
	bool legacy, be, event_idx, no_multiport;
};

/* What the host heard. */
struct host_log {
	uint8_t out[4][512];
	size_t nout[4];
	int opens[4], closes[4], writable[4];
	bool open[4];
};

struct tenv {
	uint8_t *ram;
	struct guest_mem gm;
	struct virtio_console con;
	struct virtio_platform plat;
	struct opts o;
	struct host_log h;
	uint16_t avail_idx[NQ], used_seen[NQ], next_desc[NQ];
	uint64_t next_buf;
	int irq_used, irq_config;
};

/* The ports of most tests: 0 the console, 1 "org.test.one", 2 absent,
 * 3 "kvmini.exit" with its host end open. */
#define NAME1 "org.test.one"
#define NAME3 "kvmini.exit"

/* ---- the fake platform, transport and host ---- */

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

static void host_output(void *opaque, unsigned port, const uint8_t *buf, size_t len)
{
	struct tenv *t = opaque;
	assert_true(port < 4);
	assert_true(t->h.nout[port] + len <= sizeof(t->h.out[port]));
	memcpy(t->h.out[port] + t->h.nout[port], buf, len);
	t->h.nout[port] += len;
}

static void host_guest_open(void *opaque, unsigned port, bool open)
{
	struct tenv *t = opaque;
	assert_true(port < 4);
	assert_int_not_equal(t->h.open[port], open);   /* told of changes only */
	t->h.open[port] = open;
	if (open)
		t->h.opens[port]++;
	else
		t->h.closes[port]++;
}

static void host_writable(void *opaque, unsigned port)
{
	struct tenv *t = opaque;
	assert_true(port < 4);
	t->h.writable[port]++;
}

static const struct virtio_console_host_ops host_ops = {
	.output = host_output, .guest_open = host_guest_open, .writable = host_writable,
};

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

static struct tenv *setup_nports(struct opts o, unsigned nports)
{
	struct tenv *t = calloc(1, sizeof(*t));
	struct virtio_dev *d;

	t->o = o;
	t->next_buf = BUF_GPA;
	assert_int_equal(posix_memalign((void **)&t->ram, 4096, RAM_SIZE), 0);
	memset(t->ram, 0, RAM_SIZE);
	assert_int_equal(gm_add_region(&t->gm, RAM_GPA, RAM_SIZE, t->ram), 0);
	t->plat = (struct virtio_platform){ .current_vcpu_is_big_endian = vcpu_be,
					    .default_endian = VIRTIO_ENDIAN_LITTLE, .opaque = t };
	assert_int_equal(virtio_console_init(&t->con, nports, true, &t->gm, &t->plat), 0);
	assert_int_equal(virtio_console_add_port(&t->con, 0, NULL, true), 0);
	if (nports > 1)
		assert_int_equal(virtio_console_add_port(&t->con, 1, NAME1, false), 0);
	if (nports > 3) {
		assert_int_equal(virtio_console_add_port(&t->con, 3, NAME3, false), 0);
		virtio_console_set_host_open(&t->con, 3, true);
	}
	virtio_console_set_host(&t->con, &host_ops, t);
	d = &t->con.vdev;
	assert_ptr_equal(d->dev_priv, &t->con);
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
	if (o.no_multiport)
		want &= ~(1ull << VIRTIO_CONSOLE_F_MULTIPORT);
	virtio_set_guest_features(d, 0, (uint32_t)want);
	virtio_set_guest_features(d, 1, (uint32_t)(want >> 32));
	uint8_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	if (!o.legacy) {
		st |= VIRTIO_STATUS_FEATURES_OK;
		virtio_set_status(d, st);
		assert_true(d->status & VIRTIO_STATUS_FEATURES_OK);
	}
	for (int q = 0; q < (o.no_multiport ? 2 : d->num_queues); q++) {
		d->vq[q].num = QSZ;
		d->vq[q].desc_gpa = DESC(q);
		d->vq[q].avail_gpa = AVAIL(q);
		d->vq[q].used_gpa = USED(q);
		d->vq[q].ready = true;
	}
	virtio_set_status(d, st | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(d->status & VIRTIO_STATUS_NEEDS_RESET, 0);
	return t;
}

static struct tenv *setup_env(struct opts o)
{
	return setup_nports(o, 4);
}

static void teardown_env(struct tenv *t)
{
	virtio_console_destroy(&t->con);
	free(t->ram);
	free(t);
}

static bool broken(struct tenv *t)
{
	return t->con.vdev.status & VIRTIO_STATUS_NEEDS_RESET;
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
	if (t->o.event_idx)
		wr(t, AVAIL(q) + 4 + 2u * QSZ, t->used_seen[q], 2);
	t->con.vdev.ops->queue_notify(&t->con.vdev, (uint16_t)q);
}

static int pending_used(struct tenv *t, int q)
{
	return (uint16_t)(rd(t, USED(q) + 2, 2) - t->used_seen[q]);
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

/* A writable buffer of len bytes on queue q; returns its address. */
static uint64_t add_in_buf(struct tenv *t, int q, uint32_t len)
{
	uint64_t g = alloc_buf(t, len);
	struct seg s = { g, len, true };
	memset(gp(t, g), 0xcc, len);
	add_chain(t, q, &s, 1);
	return g;
}

/* Control receive buffers, in order; rx_bufs[i] is the i-th one posted. */
#define MAX_CBUFS 64
static uint64_t cbufs[MAX_CBUFS];
static int ncbufs, cbuf_next;

static void post_ctrl_bufs(struct tenv *t, int n, uint32_t len)
{
	for (int i = 0; i < n; i++) {
		assert_true(ncbufs < MAX_CBUFS);
		cbufs[ncbufs++] = add_in_buf(t, CRX, len);
	}
	kick(t, CRX);
}

/* The driver sends one control message (header as given, in its order). */
static void send_ctrl_raw(struct tenv *t, const uint8_t *msg, uint32_t len)
{
	uint64_t g = alloc_buf(t, len ? len : 1);
	struct seg s = { g, len, false };
	memcpy(gp(t, g), msg, len);
	add_chain(t, CTX, &s, 1);
	kick(t, CTX);
	assert_int_equal(take_used(t, CTX, NULL), 0);
}

static void send_ctrl(struct tenv *t, uint32_t id, uint16_t event, uint16_t value)
{
	uint8_t m[8];
	put(m, id, 4, guest_be(t));
	put(m + 4, event, 2, guest_be(t));
	put(m + 6, value, 2, guest_be(t));
	send_ctrl_raw(t, m, 8);
}

struct msg {
	uint32_t id;
	uint16_t event, value;
	char name[80];
	uint32_t len;
};

/* The device's next control message, decoded in the guest's byte order. */
static bool next_ctrl(struct tenv *t, struct msg *m)
{
	uint16_t head;

	if (!pending_used(t, CRX))
		return false;
	memset(m, 0, sizeof(*m));
	m->len = take_used(t, CRX, &head);
	assert_true(cbuf_next < ncbufs);
	const uint8_t *p = gp(t, cbufs[cbuf_next++]);
	assert_true(m->len >= 8);
	m->id = (uint32_t)get(p, 4, guest_be(t));
	m->event = (uint16_t)get(p + 4, 2, guest_be(t));
	m->value = (uint16_t)get(p + 6, 2, guest_be(t));
	if (m->len > 8) {
		assert_true(m->len - 8 < sizeof(m->name));
		memcpy(m->name, p + 8, m->len - 8);
	}
	return true;
}

static void expect_ctrl(struct tenv *t, uint32_t id, uint16_t event, uint16_t value)
{
	struct msg m;
	if (!next_ctrl(t, &m))
		fail_msg("no control message, expected event %u for port %u", event, id);
	assert_int_equal(m.event, event);
	assert_int_equal(m.id, id);
	assert_int_equal(m.value, value);
	assert_int_equal(m.len, 8);
}

static void expect_name(struct tenv *t, uint32_t id, const char *name)
{
	struct msg m;
	assert_true(next_ctrl(t, &m));
	assert_int_equal(m.event, VIRTIO_CONSOLE_PORT_NAME);
	assert_int_equal(m.id, id);
	/* the name and its NUL */
	assert_int_equal(m.len, 8 + strlen(name) + 1);
	assert_string_equal(m.name, name);
}

/* DEVICE_READY, the additions, PORT_READY for each, and the answers. */
static void handshake(struct tenv *t)
{
	ncbufs = cbuf_next = 0;
	post_ctrl_bufs(t, 12, 128);
	send_ctrl(t, 0xffffffffu, VIRTIO_CONSOLE_DEVICE_READY, 1);
	expect_ctrl(t, 0, VIRTIO_CONSOLE_DEVICE_ADD, 1);
	expect_ctrl(t, 1, VIRTIO_CONSOLE_DEVICE_ADD, 1);
	expect_ctrl(t, 3, VIRTIO_CONSOLE_DEVICE_ADD, 1);
	assert_int_equal(pending_used(t, CRX), 0);

	send_ctrl(t, 0, VIRTIO_CONSOLE_PORT_READY, 1);
	expect_ctrl(t, 0, VIRTIO_CONSOLE_CONSOLE_PORT, 1);
	assert_int_equal(pending_used(t, CRX), 0);
	send_ctrl(t, 1, VIRTIO_CONSOLE_PORT_READY, 1);
	expect_name(t, 1, NAME1);
	assert_int_equal(pending_used(t, CRX), 0);
	send_ctrl(t, 3, VIRTIO_CONSOLE_PORT_READY, 1);
	expect_ctrl(t, 3, VIRTIO_CONSOLE_PORT_OPEN, 1);
	expect_name(t, 3, NAME3);     /* last: seen in sysfs, the rest is known */
	assert_int_equal(pending_used(t, CRX), 0);
	assert_false(broken(t));
}

/* ---- features and config ---- */

static void config_space(struct opts o)
{
	struct tenv *t = setup_env(o);
	struct virtio_dev *d = &t->con.vdev;
	uint8_t cfg[VIRTIO_CONSOLE_CONFIG_SIZE];

	assert_int_equal(d->ops->device_id, 3);
	assert_int_equal(d->num_queues, NQ);
	assert_true(d->host_features >> VIRTIO_CONSOLE_F_MULTIPORT & 1);
	assert_false(d->host_features >> VIRTIO_CONSOLE_F_SIZE & 1);
	assert_false(d->host_features >> VIRTIO_CONSOLE_F_EMERG_WRITE & 1);
	virtio_config_read(d, 0, cfg, sizeof(cfg));
	assert_int_equal(get(cfg + VIRTIO_CONSOLE_CFG_MAX_NR_PORTS, 4, guest_be(t)), 4);
	assert_int_equal(get(cfg + VIRTIO_CONSOLE_CFG_COLS, 2, guest_be(t)), 0);
	/* byte by byte: the 4 sits in the last byte of a big-endian field */
	assert_int_equal(cfg[VIRTIO_CONSOLE_CFG_MAX_NR_PORTS + (guest_be(t) ? 3 : 0)], 4);
	uint8_t one[4];
	virtio_config_read(d, VIRTIO_CONSOLE_CFG_MAX_NR_PORTS, one, 4);
	assert_memory_equal(one, cfg + VIRTIO_CONSOLE_CFG_MAX_NR_PORTS, 4);
	/* writes change nothing */
	memset(one, 0xff, 4);
	virtio_config_write(d, VIRTIO_CONSOLE_CFG_MAX_NR_PORTS, one, 4);
	virtio_config_read(d, 0, cfg, sizeof(cfg));
	assert_int_equal(get(cfg + VIRTIO_CONSOLE_CFG_MAX_NR_PORTS, 4, guest_be(t)), 4);
	teardown_env(t);
}

static void config_modern(void **s) { config_space((struct opts){ 0 }); }
static void config_legacy_be(void **s) { config_space((struct opts){ .legacy = true, .be = true }); }
static void config_legacy_le(void **s) { config_space((struct opts){ .legacy = true }); }

static void init_rejects(void **s)
{
	struct virtio_console c;
	struct guest_mem gm = { 0 };

	assert_int_equal(virtio_console_init(&c, 0, true, &gm, NULL), -EINVAL);
	assert_int_equal(virtio_console_init(&c, 16, true, &gm, NULL), -EINVAL);
	assert_int_equal(virtio_console_init(&c, 2, false, &gm, NULL), -EINVAL);
	assert_int_equal(virtio_console_init(&c, 15, true, &gm, NULL), 0);
	assert_int_equal(c.vdev.num_queues, 32);
	assert_int_equal(virtio_console_add_port(&c, 15, "x", false), -EINVAL);
	char longname[VIRTIO_CONSOLE_NAME_MAX + 2];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	assert_int_equal(virtio_console_add_port(&c, 1, longname, false), -EINVAL);
	longname[VIRTIO_CONSOLE_NAME_MAX] = 0;
	assert_int_equal(virtio_console_add_port(&c, 1, longname, false), 0);
	virtio_console_destroy(&c);
}

/* ---- the handshake ---- */

static void handshake_in(struct opts o)
{
	struct tenv *t = setup_env(o);
	handshake(t);
	/* the console port is opened by the driver (Linux: init_port_console) */
	send_ctrl(t, 0, VIRTIO_CONSOLE_PORT_OPEN, 1);
	assert_true(t->h.open[0]);
	assert_true(virtio_console_guest_open(&t->con, 0));
	assert_false(virtio_console_guest_open(&t->con, 1));
	assert_true(t->irq_used > 0);
	assert_int_equal(t->con.stats.ctrl_bad, 0);
	teardown_env(t);
}

static void handshake_modern(void **s) { handshake_in((struct opts){ 0 }); }
static void handshake_legacy_be(void **s) { handshake_in((struct opts){ .legacy = true, .be = true }); }
static void handshake_legacy_le(void **s) { handshake_in((struct opts){ .legacy = true }); }
static void handshake_event_idx(void **s) { handshake_in((struct opts){ .event_idx = true }); }

/* Messages wait for control receive buffers; they come when posted. */
static void messages_wait_for_buffers(void **s)
{
	struct tenv *t = setup_env((struct opts){ 0 });

	ncbufs = cbuf_next = 0;
	send_ctrl(t, 0xffffffffu, VIRTIO_CONSOLE_DEVICE_READY, 1);
	assert_int_equal(pending_used(t, CRX), 0);
	assert_int_equal(t->con.out_len, 3);
	post_ctrl_bufs(t, 2, 64);
	expect_ctrl(t, 0, VIRTIO_CONSOLE_DEVICE_ADD, 1);
	expect_ctrl(t, 1, VIRTIO_CONSOLE_DEVICE_ADD, 1);
	assert_false(next_ctrl(t, &(struct msg){ 0 }));
	post_ctrl_bufs(t, 1, 64);
	expect_ctrl(t, 3, VIRTIO_CONSOLE_DEVICE_ADD, 1);
	/* a second DEVICE_READY adds nothing twice */
	post_ctrl_bufs(t, 1, 64);
	send_ctrl(t, 0xffffffffu, VIRTIO_CONSOLE_DEVICE_READY, 1);
	assert_int_equal(pending_used(t, CRX), 0);
	teardown_env(t);
}

/* A repeated PORT_READY gets the answers again (Linux sends one when it
 * sees a port added twice). */
static void port_ready_again(void **s)
{
	struct tenv *t = setup_env((struct opts){ 0 });
	handshake(t);
	post_ctrl_bufs(t, 4, 128);
	send_ctrl(t, 3, VIRTIO_CONSOLE_PORT_READY, 1);
	expect_ctrl(t, 3, VIRTIO_CONSOLE_PORT_OPEN, 1);
	expect_name(t, 3, NAME3);     /* last: seen in sysfs, the rest is known */
	/* PORT_READY 0: the driver gave up on the port */
	send_ctrl(t, 1, VIRTIO_CONSOLE_PORT_READY, 0);
	assert_false(t->con.port[1].ready);
	assert_int_equal(pending_used(t, CRX), 0);
	teardown_env(t);
}

/* ---- ports open and close; data both ways ---- */

static void data_both_ways(struct opts o)
{
	struct tenv *t = setup_env(o);
	int rxq = virtio_console_rxq(1), txq = virtio_console_txq(1);

	assert_int_equal(rxq, 4);
	assert_int_equal(txq, 5);
	handshake(t);
	/* closed: nothing goes in */
	assert_int_equal(virtio_console_send(&t->con, 1, "early", 5), 0);
	send_ctrl(t, 1, VIRTIO_CONSOLE_PORT_OPEN, 1);
	assert_true(t->h.open[1]);
	assert_int_equal(t->h.opens[1], 1);
	/* open but no buffers: the host is told when there are some */
	assert_int_equal(virtio_console_send(&t->con, 1, "hello world", 11), 0);
	assert_int_equal(t->h.writable[1], 0);
	uint64_t b0 = add_in_buf(t, rxq, 6), b1 = add_in_buf(t, rxq, 6);
	kick(t, rxq);
	assert_int_equal(t->h.writable[1], 1);
	kick(t, rxq);                          /* once per short send */
	assert_int_equal(t->h.writable[1], 1);
	assert_int_equal(virtio_console_send(&t->con, 1, "hello world!", 12), 12);
	assert_int_equal(take_used(t, rxq, NULL), 6);
	assert_int_equal(take_used(t, rxq, NULL), 6);
	assert_memory_equal(gp(t, b0), "hello ", 6);
	assert_memory_equal(gp(t, b1), "world!", 6);
	/* a partly used buffer */
	uint64_t b2 = add_in_buf(t, rxq, 64);
	kick(t, rxq);
	assert_int_equal(virtio_console_send(&t->con, 1, "xyz", 3), 3);
	assert_int_equal(take_used(t, rxq, NULL), 3);
	assert_memory_equal(gp(t, b2), "xyz", 3);
	assert_int_equal(*gp(t, b2 + 3), 0xcc);
	assert_int_equal(t->con.port[1].rx_bytes, 15);

	/* the guest writes: two readable segments in one chain */
	uint64_t a = alloc_buf(t, 4), b = alloc_buf(t, 8);
	memcpy(gp(t, a), "7", 1);
	memcpy(gp(t, b), "42\n", 3);
	struct seg sg[2] = { { a, 1, false }, { b, 3, false } };
	add_chain(t, txq, sg, 2);
	kick(t, txq);
	assert_int_equal(take_used(t, txq, NULL), 0);
	assert_int_equal(t->h.nout[1], 4);
	assert_memory_equal(t->h.out[1], "742\n", 4);
	assert_int_equal(t->con.stats.tx_bytes, 4);

	/* the console port: queues 0 and 1 */
	send_ctrl(t, 0, VIRTIO_CONSOLE_PORT_OPEN, 1);
	struct seg c = { alloc_buf(t, 5), 5, false };
	memcpy(gp(t, c.gpa), "boot\n", 5);
	add_chain(t, 1, &c, 1);
	kick(t, 1);
	assert_memory_equal(t->h.out[0], "boot\n", 5);
	uint64_t cb = add_in_buf(t, 0, 16);
	kick(t, 0);
	assert_int_equal(virtio_console_send(&t->con, 0, "ls\r", 3), 3);
	assert_memory_equal(gp(t, cb), "ls\r", 3);

	/* the guest closes port 1: no more data goes in */
	send_ctrl(t, 1, VIRTIO_CONSOLE_PORT_OPEN, 0);
	assert_false(t->h.open[1]);
	assert_int_equal(t->h.closes[1], 1);
	add_in_buf(t, rxq, 64);
	kick(t, rxq);
	assert_int_equal(virtio_console_send(&t->con, 1, "late", 4), 0);
	assert_false(broken(t));
	teardown_env(t);
}

static void data_modern(void **s) { data_both_ways((struct opts){ 0 }); }
static void data_legacy_be(void **s) { data_both_ways((struct opts){ .legacy = true, .be = true }); }
static void data_event_idx(void **s) { data_both_ways((struct opts){ .event_idx = true }); }

/* The host end opens and closes: PORT_OPEN towards the driver once the
 * port is ready, and not twice for the same state. */
static void host_open_close(void **s)
{
	struct tenv *t = setup_env((struct opts){ .legacy = true, .be = true });

	/* before the handshake: remembered, sent at PORT_READY */
	virtio_console_set_host_open(&t->con, 1, true);
	assert_int_equal(pending_used(t, CRX), 0);
	ncbufs = cbuf_next = 0;
	post_ctrl_bufs(t, 12, 128);
	send_ctrl(t, 0xffffffffu, VIRTIO_CONSOLE_DEVICE_READY, 1);
	for (int i = 0; i < 3; i++)
		assert_true(next_ctrl(t, &(struct msg){ 0 }));
	send_ctrl(t, 1, VIRTIO_CONSOLE_PORT_READY, 1);
	expect_ctrl(t, 1, VIRTIO_CONSOLE_PORT_OPEN, 1);
	expect_name(t, 1, NAME1);
	virtio_console_set_host_open(&t->con, 1, false);
	expect_ctrl(t, 1, VIRTIO_CONSOLE_PORT_OPEN, 0);
	virtio_console_set_host_open(&t->con, 1, false);
	assert_int_equal(pending_used(t, CRX), 0);
	virtio_console_set_host_open(&t->con, 1, true);
	expect_ctrl(t, 1, VIRTIO_CONSOLE_PORT_OPEN, 1);
	/* an absent port or one out of range: nothing */
	virtio_console_set_host_open(&t->con, 2, true);
	virtio_console_set_host_open(&t->con, 99, true);
	assert_int_equal(pending_used(t, CRX), 0);
	teardown_env(t);
}

/* ---- what a hostile driver may send ---- */

static void malformed_control(struct opts o)
{
	struct tenv *t = setup_env(o);
	struct virtio_console_stats *st = &t->con.stats;
	uint8_t m[8] = { 0 };

	handshake(t);
	post_ctrl_bufs(t, 4, 128);
	/* short messages: ignored */
	send_ctrl_raw(t, m, 4);
	send_ctrl_raw(t, m, 1);
	assert_int_equal(st->ctrl_bad, 2);
	/* ids out of range, a port that was never added, huge ids */
	send_ctrl(t, 4, VIRTIO_CONSOLE_PORT_READY, 1);
	send_ctrl(t, 2, VIRTIO_CONSOLE_PORT_OPEN, 1);
	send_ctrl(t, 0x80000001u, VIRTIO_CONSOLE_PORT_OPEN, 1);
	send_ctrl(t, 0xffffffffu, VIRTIO_CONSOLE_PORT_READY, 1);
	assert_int_equal(st->ctrl_bad, 6);
	assert_int_equal(t->h.opens[2], 0);
	/* events only a device sends, and unknown ones */
	send_ctrl(t, 1, VIRTIO_CONSOLE_DEVICE_ADD, 1);
	send_ctrl(t, 1, VIRTIO_CONSOLE_PORT_NAME, 1);
	send_ctrl(t, 1, VIRTIO_CONSOLE_CONSOLE_PORT, 1);
	send_ctrl(t, 1, VIRTIO_CONSOLE_RESIZE, 1);
	send_ctrl(t, 1, VIRTIO_CONSOLE_DEVICE_REMOVE, 1);
	send_ctrl(t, 1, 0xbeef, 1);
	assert_int_equal(st->ctrl_bad, 12);
	/* PORT_OPEN with a value that is neither 0 nor 1 */
	send_ctrl(t, 1, VIRTIO_CONSOLE_PORT_OPEN, 2);
	assert_false(t->h.open[1]);
	assert_int_equal(st->ctrl_bad, 13);
	/* DEVICE_READY 0: the driver failed; nothing to answer */
	send_ctrl(t, 0, VIRTIO_CONSOLE_DEVICE_READY, 0);
	/* a long message: its header counts */
	uint8_t lm[20] = { 0 };
	put(lm, 1, 4, guest_be(t));
	put(lm + 4, VIRTIO_CONSOLE_PORT_OPEN, 2, guest_be(t));
	put(lm + 6, 1, 2, guest_be(t));
	send_ctrl_raw(t, lm, sizeof(lm));
	assert_true(t->h.open[1]);
	assert_int_equal(pending_used(t, CRX), 0);
	assert_false(broken(t));
	assert_int_equal(st->malformed, 0);
	teardown_env(t);
}

static void malformed_modern(void **s) { malformed_control((struct opts){ 0 }); }
static void malformed_legacy_be(void **s) { malformed_control((struct opts){ .legacy = true, .be = true }); }

/* A control receive buffer too small for PORT_NAME, or with nothing
 * writable, breaks the device (NEEDS_RESET), without writing past it. */
static void small_control_buffer(void **s)
{
	struct tenv *t = setup_env((struct opts){ 0 });

	ncbufs = cbuf_next = 0;
	post_ctrl_bufs(t, 4, 8);
	send_ctrl(t, 0xffffffffu, VIRTIO_CONSOLE_DEVICE_READY, 1);
	for (int i = 0; i < 3; i++)
		assert_true(next_ctrl(t, &(struct msg){ 0 }));
	uint64_t guard = alloc_buf(t, 16);
	memset(gp(t, guard), 0x5a, 16);
	send_ctrl(t, 1, VIRTIO_CONSOLE_PORT_READY, 1);
	assert_true(broken(t));
	assert_int_equal(t->irq_config, 1);
	assert_int_equal(gp(t, guard)[0], 0x5a);
	assert_int_equal(t->con.stats.malformed, 1);
	teardown_env(t);

	t = setup_env((struct opts){ 0 });
	struct seg ro = { alloc_buf(t, 64), 64, false };
	add_chain(t, CRX, &ro, 1);
	kick(t, CRX);
	send_ctrl(t, 0xffffffffu, VIRTIO_CONSOLE_DEVICE_READY, 1);
	assert_true(broken(t));
	teardown_env(t);
}

/* A data receive buffer with nothing writable: NEEDS_RESET. */
static void readonly_receive_buffer(void **s)
{
	struct tenv *t = setup_env((struct opts){ 0 });
	handshake(t);
	send_ctrl(t, 1, VIRTIO_CONSOLE_PORT_OPEN, 1);
	struct seg ro = { alloc_buf(t, 64), 64, false };
	add_chain(t, virtio_console_rxq(1), &ro, 1);
	assert_int_equal(virtio_console_send(&t->con, 1, "x", 1), 0);
	assert_true(broken(t));
	/* a broken device takes nothing more */
	assert_int_equal(virtio_console_send(&t->con, 0, "x", 1), 0);
	teardown_env(t);
}

/* Data on a port the host does not have (2) is dropped and counted. */
static void data_on_absent_port(void **s)
{
	struct tenv *t = setup_env((struct opts){ 0 });
	handshake(t);
	struct seg sg = { alloc_buf(t, 10), 10, false };
	add_chain(t, virtio_console_txq(2), &sg, 1);
	kick(t, virtio_console_txq(2));
	assert_int_equal(take_used(t, virtio_console_txq(2), NULL), 0);
	assert_int_equal(t->con.stats.discarded, 10);
	assert_int_equal(virtio_console_send(&t->con, 2, "x", 1), 0);
	assert_int_equal(virtio_console_send(&t->con, 99, "x", 1), 0);
	/* a kick on a queue past the device's: ignored */
	t->con.vdev.ops->queue_notify(&t->con.vdev, 31);
	assert_false(broken(t));
	teardown_env(t);
}

/* ---- reset, and a driver without F_MULTIPORT ---- */

static void reset_closes_ports(void **s)
{
	struct tenv *t = setup_env((struct opts){ .legacy = true, .be = true });
	handshake(t);
	send_ctrl(t, 0, VIRTIO_CONSOLE_PORT_OPEN, 1);
	send_ctrl(t, 3, VIRTIO_CONSOLE_PORT_OPEN, 1);
	assert_true(t->h.open[0] && t->h.open[3]);
	t->o.be = false;                    /* a little-endian vCPU resets it */
	virtio_set_status(&t->con.vdev, 0);
	assert_false(t->h.open[0] || t->h.open[3]);
	assert_int_equal(t->h.closes[0], 1);
	assert_int_equal(t->h.closes[3], 1);
	assert_false(t->con.port[3].added);
	assert_true(t->con.port[3].host_open);   /* the host's end stays as it was */
	assert_int_equal(t->con.out_len, 0);
	assert_int_equal(t->con.vdev.device_endian, VIRTIO_ENDIAN_LITTLE);
	teardown_env(t);
}

static void no_multiport(void **s)
{
	struct tenv *t = setup_env((struct opts){ .no_multiport = true, .legacy = true, .be = true });

	/* port 0 alone, the console, open from DRIVER_OK */
	assert_true(t->h.open[0]);
	uint64_t b = add_in_buf(t, 0, 16);
	kick(t, 0);
	assert_int_equal(virtio_console_send(&t->con, 0, "in", 2), 2);
	assert_memory_equal(gp(t, b), "in", 2);
	struct seg sg = { alloc_buf(t, 4), 3, false };
	memcpy(gp(t, sg.gpa), "out", 3);
	add_chain(t, 1, &sg, 1);
	kick(t, 1);
	assert_memory_equal(t->h.out[0], "out", 3);
	/* the control queues are not in use: a kick there does nothing */
	t->con.vdev.ops->queue_notify(&t->con.vdev, CTX);
	assert_int_equal(t->con.stats.ctrl_in, 0);
	assert_int_equal(virtio_console_send(&t->con, 1, "x", 1), 0);
	teardown_env(t);
}

/* A device built without multiport offers two queues and no control. */
static void single_port_device(void **s)
{
	struct virtio_console c;
	struct guest_mem gm = { 0 };

	assert_int_equal(virtio_console_init(&c, 1, false, &gm, NULL), 0);
	assert_int_equal(c.vdev.num_queues, 2);
	assert_false(c.vdev.host_features >> VIRTIO_CONSOLE_F_MULTIPORT & 1);
	virtio_console_destroy(&c);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(config_modern),
		cmocka_unit_test(config_legacy_be),
		cmocka_unit_test(config_legacy_le),
		cmocka_unit_test(init_rejects),
		cmocka_unit_test(handshake_modern),
		cmocka_unit_test(handshake_legacy_be),
		cmocka_unit_test(handshake_legacy_le),
		cmocka_unit_test(handshake_event_idx),
		cmocka_unit_test(messages_wait_for_buffers),
		cmocka_unit_test(port_ready_again),
		cmocka_unit_test(data_modern),
		cmocka_unit_test(data_legacy_be),
		cmocka_unit_test(data_event_idx),
		cmocka_unit_test(host_open_close),
		cmocka_unit_test(malformed_modern),
		cmocka_unit_test(malformed_legacy_be),
		cmocka_unit_test(small_control_buffer),
		cmocka_unit_test(readonly_receive_buffer),
		cmocka_unit_test(data_on_absent_port),
		cmocka_unit_test(reset_closes_ports),
		cmocka_unit_test(no_multiport),
		cmocka_unit_test(single_port_device),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
