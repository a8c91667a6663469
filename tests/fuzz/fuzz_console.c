/* virtio-console (devices/virtio/console.c, console_ctrl.c) with the virtio
 * core and real split or packed queues: a multiport device (or a single
 * port) whose driver sends port data and control messages of any kind,
 * posts receive buffers on data and control queues, and resets; the host
 * sends bytes, opens and closes its ends.
 *
 * The driver is sane about the ring (fuzz_vq.h) and hostile about the
 * chains and the control messages (ids out of range, events only a device
 * sends, short messages, PORT_OPEN values other than 0/1). Checked besides
 * memory safety: the device never writes the driver's readable memory; the
 * host callbacks name existing ports; a send never claims more than it
 * was given, and nothing while the guest has the port closed; the sane
 * driver's check of every used element.
 *
 * Input: three set-up bytes, then operations.
 *   byte 0   bit 0 packed, bit 1 EVENT_IDX, bit 2 INDIRECT_DESC, bit 3 legacy
 *            with a big-endian vCPU (split), bit 4 multiport, bit 5 port 0 is
 *            the console, bit 6 ports have names
 *   byte 1   ports - 1 (% 15), and which exist: byte 2 (bit p: port p, p < 8;
 *            ports 8.. exist when bit 7 is set)
 *   op % 9:
 *     0 receive buffers on queue u8 (data or control receive queue): u8
 *       segments (% 3 + 1), each u16 length (% 512 + 1); u8 mutation, u8 mode
 *     1 data to send on port u8: u16 length (% 1024), u8 fill, u8 segments
 *       (% 3 + 1); u8 mutation, u8 mode
 *     2 a control message: u8 id (bit 7: u32 raw id follows), u8 event
 *       (% 10), u16 value, u8 length (% 3: 8 bytes, short (u8 % 8), with a
 *       name of u8 % 32 bytes); u8 mutation, u8 mode
 *     3 kick queue u8   4 the host sends on port u8: u16 length (% 2048)
 *     5 the host opens or closes port u8 (bit 7)
 *     6 the driver reads the used rings   7 reset and initialise again
 *     8 config read: u8 offset, u8 length selector
 *   mutation: bit 7 flip WRITE of segment m % n, bit 6 make it empty,
 *   bit 5 move it to straddle the end of RAM */
#include "fuzz_vq.h"

#include "virtio/console.h"

#define R0_GPA    0x100000ull
#define R0_SIZE   0xc0000u
#define R1_GPA    0x200000ull
#define R1_SIZE   0x1000u
#define QAREA(q)  (R0_GPA + 0x4000ull * (q))    /* rings; +0x2000: indirect tables */
#define IND_SIZE  0x2000u
#define RO_GPA    (R0_GPA + 0x80000)            /* readable bytes: the driver's */
#define RO_SIZE   0x20000u
#define WO_GPA    (R0_GPA + 0xa0000)            /* writable buffers */
#define WO_SIZE   0x20000u

struct env {
	struct fuzz_ram *ram;
	struct virtio_console con;
	struct virtio_platform plat;
	struct fvq q[VIRTIO_MAX_QUEUES];
	uint16_t nq;
	uint8_t cfg;
	bool packed, legacy;
	uint64_t ro_next, wo_next;
	unsigned outputs;
};

static uint8_t ro_shadow[RO_SIZE];
static uint8_t buf[2048];

static int vcpu_be(void *opaque)
{
	return ((struct env *)opaque)->legacy;
}

static void fake_interrupt(struct virtio_dev *d, int q, uint32_t bits)
{
}

static const struct virtio_transport_ops fake_tops = { .interrupt = fake_interrupt };

static void host_output(void *opaque, unsigned port, const uint8_t *b, size_t len)
{
	struct env *t = opaque;

	FZ_CHECK(port < t->con.nports && t->con.port[port].present);
	FZ_CHECK(len > 0 && fuzz_ram_contains(t->ram, b, len));
	t->outputs++;
}

static void host_guest_open(void *opaque, unsigned port, bool open)
{
	struct env *t = opaque;

	FZ_CHECK(port < t->con.nports && t->con.port[port].present);
}

static void host_writable(void *opaque, unsigned port)
{
	struct env *t = opaque;

	FZ_CHECK(port < t->con.nports);
}

static const struct virtio_console_host_ops host_ops = {
	.output = host_output, .guest_open = host_guest_open, .writable = host_writable,
};

static void driver_init(struct env *t, uint16_t num)
{
	struct virtio_dev *d = &t->con.vdev;
	uint8_t c = t->cfg;

	pthread_mutex_lock(&d->lock);
	virtio_set_status(d, 0);
	virtio_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	uint64_t f = d->host_features;
	if (!(c & 2))
		f &= ~(1ull << VIRTIO_F_RING_EVENT_IDX);
	if (!(c & 4))
		f &= ~(1ull << VIRTIO_F_RING_INDIRECT_DESC);
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
	for (uint16_t i = 0; i < t->nq; i++) {
		struct virtq *vq = &d->vq[i];
		vq->num = num;
		vq->desc_gpa = QAREA(i);
		vq->avail_gpa = QAREA(i) + 0x400;
		vq->used_gpa = QAREA(i) + 0x800;
		vq->ready = true;
	}
	virtio_set_status(d, st | VIRTIO_STATUS_DRIVER_OK);
	FZ_CHECK(!(d->status & VIRTIO_STATUS_NEEDS_RESET));
	for (uint16_t i = 0; i < t->nq; i++)
		fvq_init(&t->q[i], t->ram, t->packed, virtio_is_big_endian(d), true, num,
			 QAREA(i), QAREA(i) + 0x400, QAREA(i) + 0x800, QAREA(i) + 0x2000, IND_SIZE);
	pthread_mutex_unlock(&d->lock);
}

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

static void add(struct env *t, uint16_t qi, struct fvq_seg *s, unsigned n, struct fz *f)
{
	uint8_t mut = fz_u8(f), mode = fz_u8(f);

	if (mut & 0xe0) {
		unsigned k = (mut & 0x1f) % n;
		if (mut & 0x80)
			s[k].write = !s[k].write;
		if (mut & 0x40)
			s[k].len = 0;
		if (mut & 0x20)
			s[k].addr = R1_GPA + R1_SIZE - 8 + (mut & 7);
	}
	/* Writable bytes never lie in the driver's readable area. */
	for (unsigned i = 0; i < n; i++)
		if (s[i].write && s[i].addr >= RO_GPA && s[i].addr < RO_GPA + RO_SIZE)
			s[i].addr = wo_alloc(t, s[i].len);
	fvq_add(&t->q[qi % t->nq], s, n, mode & 1, 0, 0, mode & 2);
}

static void rx_buffers(struct env *t, struct fz *f)
{
	uint16_t qi = fz_u8(f) % t->nq;
	unsigned n = fz_u8(f) % 3 + 1;
	struct fvq_seg s[3];

	for (unsigned i = 0; i < n; i++) {
		uint32_t len = fz_u16(f) % 512u + 1;
		s[i] = (struct fvq_seg){ wo_alloc(t, len), len, true };
	}
	add(t, qi, s, n, f);
}

static void tx_data(struct env *t, struct fz *f)
{
	unsigned port = fz_u8(f) % t->con.nports;
	uint32_t len = fz_u16(f) % 1024u;
	uint8_t fill = fz_u8(f);
	unsigned n = fz_u8(f) % 3 + 1;
	struct fvq_seg s[3];

	if (len < n)
		len = n;
	uint64_t a = ro_alloc(t, len);
	if (!a)
		return;
	memset(fuzz_ram_ptr(t->ram, a, len), fill, len);
	for (unsigned i = 0; i < n; i++) {
		uint32_t k = i + 1 == n ? len - len / n * i : len / n;
		s[i] = (struct fvq_seg){ a + len / n * i, k, false };
	}
	add(t, virtio_console_txq(port), s, n, f);
}

static void ctrl_msg(struct env *t, struct fz *f)
{
	uint8_t ib = fz_u8(f);
	uint32_t id = ib & 0x80 ? fz_u32(f) : ib % 16u;
	uint16_t ev = fz_u8(f) % 10, val = fz_u16(f);
	uint8_t lk = fz_u8(f);
	uint32_t len = VIRTIO_CONSOLE_CTRL_LEN;
	if (lk % 3 == 1)
		len = fz_u8(f) % 8 + 1;
	else if (lk % 3 == 2)
		len += fz_u8(f) % 32;
	uint64_t a = ro_alloc(t, len + 8);
	if (!a)
		return;
	uint8_t *p = fuzz_ram_ptr(t->ram, a, len + 8);
	bool be = virtio_is_big_endian(&t->con.vdev);
	for (int i = 0; i < 4; i++)
		p[be ? 3 - i : i] = (uint8_t)(id >> (8 * i));
	p[be ? 5 : 4] = (uint8_t)ev;
	p[be ? 4 : 5] = (uint8_t)(ev >> 8);
	p[be ? 7 : 6] = (uint8_t)val;
	p[be ? 6 : 7] = (uint8_t)(val >> 8);
	for (uint32_t i = 8; i < len + 8; i++)
		p[i] = (uint8_t)('a' + i % 26);
	struct fvq_seg s[1] = { { a, len, false } };
	add(t, VIRTIO_CONSOLE_CTRL_TXQ, s, 1, f);
}

static void check_ro(struct env *t)
{
	FZ_CHECK(!memcmp(fuzz_ram_ptr(t->ram, RO_GPA, RO_SIZE), ro_shadow, t->ro_next - RO_GPA));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t gpa[2] = { R0_GPA, R1_GPA };
	static const size_t sz[2] = { R0_SIZE, R1_SIZE };
	static const char *names[4] = { "org.qemu.guest_agent.0", "kvmini.log", "", "x" };
	static struct env t;
	struct fz f;

	fz_init(&f, data, size);
	memset(&t, 0, sizeof(t));
	t.cfg = fz_u8(&f);
	uint8_t b1 = fz_u8(&f), b2 = fz_u8(&f);
	t.packed = t.cfg & 1;
	t.legacy = (t.cfg & 8) && !t.packed;
	bool multi = t.cfg & 16;
	unsigned nports = multi ? b1 % 15u + 1 : 1;
	t.nq = (uint16_t)(multi ? 2 * nports + 2 : 2);
	uint16_t num = t.packed ? (uint16_t)(b1 / 15 % 64 + 1) : (uint16_t)(1u << (b1 / 15 % 7));
	t.ram = fuzz_ram_get(gpa, sz, 2);
	t.ro_next = RO_GPA;
	t.wo_next = WO_GPA;
	t.plat = (struct virtio_platform){ vcpu_be, VIRTIO_ENDIAN_LITTLE, &t };
	FZ_CHECK(virtio_console_init(&t.con, nports, multi, &t.ram->gm, &t.plat) == 0);
	for (unsigned p = 0; p < nports; p++)
		if (p < 8 ? (b2 >> p) & 1 : b2 >> 7)
			virtio_console_add_port(&t.con, p, t.cfg & 64 ? names[p % 4] : NULL,
						p == 0 && (t.cfg & 32));
	virtio_console_set_host(&t.con, &host_ops, &t);
	struct virtio_dev *d = &t.con.vdev;
	FZ_CHECK(d->num_queues == t.nq);
	d->tops = &fake_tops;
	d->transport_priv = &t;
	d->legacy = t.legacy;
	driver_init(&t, num);

	for (int ops = 0; fz_more(&f) && ops < 128; ops++) {
		uint8_t op = fz_u8(&f) % 9;

		FZ_TRACE("op %u\n", op);
		switch (op) {
		case 0:
			rx_buffers(&t, &f);
			break;
		case 1:
			tx_data(&t, &f);
			break;
		case 2:
			ctrl_msg(&t, &f);
			break;
		case 3: {
			uint16_t qi = fz_u8(&f) % t.nq;
			fvq_publish(&t.q[qi]);
			d->ops->queue_notify(d, qi);
			break;
		}
		case 4: {
			unsigned port = fz_u8(&f) % (nports + 1);
			size_t len = fz_u16(&f) % sizeof(buf);
			bool open = port < nports && virtio_console_guest_open(&t.con, port);
			memset(buf, 'h', len);
			size_t sent = virtio_console_send(&t.con, port, buf, len);
			FZ_CHECK(sent <= len);
			if (!open)
				FZ_CHECK(sent == 0);
			break;
		}
		case 5: {
			uint8_t v = fz_u8(&f);
			virtio_console_set_host_open(&t.con, (v & 0x7f) % (nports + 1), v >> 7);
			break;
		}
		case 6:
			for (uint16_t i = 0; i < t.nq; i++)
				fvq_collect(&t.q[i]);
			break;
		case 7:
			driver_init(&t, num);
			break;
		case 8: {
			static const uint32_t lens[4] = { 1, 2, 4, 8 };
			uint8_t b[8], off = fz_u8(&f);
			pthread_mutex_lock(&d->lock);
			virtio_config_read(d, off % 16, b, lens[fz_u8(&f) % 4]);
			pthread_mutex_unlock(&d->lock);
			break;
		}
		}
		if (op > 2)
			check_ro(&t);
		memcpy(ro_shadow, fuzz_ram_ptr(t.ram, RO_GPA, RO_SIZE), t.ro_next - RO_GPA);
	}
	virtio_console_destroy(&t.con);
	return 0;
}
