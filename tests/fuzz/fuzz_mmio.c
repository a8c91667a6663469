/* The virtio-mmio transport (devices/virtio/mmio.c), versions 1 (legacy)
 * and 2 (modern), with the virtio core behind it and the echo device
 * (fuzz_echo.c): register sequences of a driver, well-behaved or not,
 * ending in queue notifications that make the device serve its queues.
 *
 * Input: one set-up byte, then operations.
 *   set-up   bit 0 version 1 (legacy) else 2; bits 1-3 queues: 1, 2, 3, 4, 8,
 *            16, 31, 32; bit 4 notify hooks (an ioeventfd that attaches);
 *            bit 5 the vCPU is big-endian (sampled at each reset); bit 6 the
 *            driver of the rings is sane (fuzz_vq.h)
 *   op % 10:
 *     0 read: u16 where (bit 15: u8 length selector, offset = where % 0x210,
 *       else a 32-bit register (where & 0x7f) * 4)
 *     1 write: the same, then u32 value
 *     2 the driver's initialisation (reset, ACKNOWLEDGE, DRIVER, features
 *       acked = offered & u32 mask (low) and u32 mask (high), FEATURES_OK,
 *       every queue: size 2^(u8 % 7) (packed: u8 % 64 + 1), rings, ready,
 *       then DRIVER_OK); the driver then lays its chains where the device
 *       took the rings (16 KiB a queue: rings, then indirect tables)
 *     3 add a chain to queue u8 (n, mode, segments as fuzz_virtq.c's op 0)
 *     4 QueueNotify with u8 (a queue, or one past the last)
 *     5 the ioeventfd of queue u8 fires (if it is attached)
 *     6 read InterruptStatus and acknowledge it
 *     7 the driver reads queue u8's used ring
 *     8 the vCPU's byte order flips   9 system reset (no vCPU)
 *
 * Checked besides memory safety: the interrupt line is low whenever
 * InterruptStatus is 0; register reads of fixed values hold; the sane
 * driver's check of every used element (fuzz_vq.c). */
#include "fuzz_echo.h"
#include "fuzz_vq.h"

#include "virtio/mmio.h"

#define R0_GPA    0x100000ull
#define R0_SIZE   0xa0000u
#define R1_GPA    0x200000ull
#define R1_SIZE   0x1000u
#define QAREA(q)  (R0_GPA + 0x4000ull * (q))   /* rings; +0x2000: indirect tables */
#define IND_SIZE  0x2000u
#define BUF_GPA   (R0_GPA + 0x80000)
#define BUF_SIZE  (R0_SIZE - 0x80000)
#define MMIO_BASE 0xd0000000ull

static const uint16_t nq_choice[8] = { 1, 2, 3, 4, 8, 16, 31, 32 };

struct env {
	struct echo x;
	struct virtio_mmio m;
	struct virtio_platform plat;
	struct virtio_notify_hooks hooks;
	struct fuzz_ram *ram;
	struct fvq q[VIRTIO_MAX_QUEUES];
	bool vcpu_be, sane;
	int level;
	uint32_t attached;
};

static int vcpu_be(void *opaque)
{
	return ((struct env *)opaque)->vcpu_be;
}

static void irq_set(void *opaque, int level)
{
	((struct env *)opaque)->level = level;
}

static int attach(void *opaque, struct virtio_dev *d, uint16_t q, uint64_t addr, uint32_t len,
		  bool is_pio, uint64_t datamatch)
{
	struct env *t = opaque;

	FZ_CHECK(q < d->num_queues && !(t->attached & (1u << q)));
	FZ_CHECK(addr == MMIO_BASE + VIRTIO_MMIO_QUEUE_NOTIFY && len == 4 && !is_pio);
	FZ_CHECK(datamatch == q);
	t->attached |= 1u << q;
	return 0;
}

static void detach(void *opaque, struct virtio_dev *d, uint16_t q)
{
	struct env *t = opaque;

	FZ_CHECK(t->attached & (1u << q));
	t->attached &= ~(1u << q);
}

static uint32_t rd(struct env *t, uint64_t off)
{
	uint8_t b[4];

	virtio_mmio_ops.read(&t->m, off, b, 4);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void wr(struct env *t, uint64_t off, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	virtio_mmio_ops.write(&t->m, off, b, 4);
}

static const struct fvq_layout layout = {
	.buf = BUF_GPA, .buf_size = BUF_SIZE, .r1 = R1_GPA, .r1_size = R1_SIZE,
	.r0_end = R0_GPA + R0_SIZE, .meta = R0_GPA, .meta_size = BUF_GPA - R0_GPA,
};

/* The driver's view of every queue: where the device took its rings. */
static void driver_rings(struct env *t)
{
	struct virtio_dev *d = &t->x.d;

	for (uint16_t i = 0; i < d->num_queues; i++) {
		struct virtq *vq = &d->vq[i];
		fvq_init(&t->q[i], t->ram, vq->layout == VIRTQ_PACKED, virtio_is_big_endian(d),
			 t->sane, vq->ready && vq->desc ? vq->num : 0, vq->desc_gpa, vq->avail_gpa,
			 vq->used_gpa, QAREA(i) + 0x2000, IND_SIZE);
	}
}

static void driver_init(struct env *t, struct fz *f)
{
	struct virtio_dev *d = &t->x.d;
	bool legacy = t->m.version == 1;
	uint32_t mask_lo = fz_u32(f), mask_hi = fz_u32(f);
	uint8_t qs = fz_u8(f);
	bool packed;

	wr(t, VIRTIO_MMIO_STATUS, 0);
	wr(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint32_t lo = rd(t, VIRTIO_MMIO_DEVICE_FEATURES) & mask_lo;
	wr(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	uint32_t hi = rd(t, VIRTIO_MMIO_DEVICE_FEATURES) & mask_hi;
	if (legacy)
		FZ_CHECK(hi == 0);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES, lo);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES, hi);
	uint32_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	if (!legacy) {
		st |= VIRTIO_STATUS_FEATURES_OK;
		wr(t, VIRTIO_MMIO_STATUS, st);
		rd(t, VIRTIO_MMIO_STATUS);
	} else {
		wr(t, VIRTIO_MMIO_GUEST_PAGE_SIZE, 4096);
	}
	packed = !legacy && ((hi >> (VIRTIO_F_RING_PACKED - 32)) & 1);
	for (uint16_t i = 0; i < d->num_queues; i++) {
		uint32_t num = packed ? qs % 64 + 1u : 1u << (qs % 7);
		uint64_t a = QAREA(i);
		wr(t, VIRTIO_MMIO_QUEUE_SEL, i);
		FZ_CHECK(rd(t, VIRTIO_MMIO_QUEUE_NUM_MAX) == 64);
		wr(t, VIRTIO_MMIO_QUEUE_NUM, num);
		if (legacy) {
			wr(t, VIRTIO_MMIO_QUEUE_ALIGN, 4096);
			wr(t, VIRTIO_MMIO_QUEUE_PFN, (uint32_t)(a >> 12));
		} else {
			wr(t, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)a);
			wr(t, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(a >> 32));
			wr(t, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)(a + 0x400));
			wr(t, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
			wr(t, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)(a + 0x800));
			wr(t, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
			wr(t, VIRTIO_MMIO_QUEUE_READY, 1);
		}
	}
	wr(t, VIRTIO_MMIO_STATUS, st | VIRTIO_STATUS_DRIVER_OK);
	driver_rings(t);
}

static void add_chain(struct env *t, struct fz *f)
{
	struct virtio_dev *d = &t->x.d;
	uint16_t qi = fz_u8(f) % d->num_queues;
	struct fvq_seg s[8];
	unsigned n = fz_u8(f) % 8 + 1;
	uint8_t mode = fz_u8(f);
	uint16_t id = fz_u16(f);

	fvq_read_segs(f, &layout, t->sane, s, n);
	fvq_add(&t->q[qi], s, n, mode & 1, t->sane ? 0 : (uint16_t)((mode >> 2) & 7), id, mode & 2);
}

static void check(struct env *t)
{
	struct virtio_dev *d = &t->x.d;

	/* Edge semantics: the line goes low once InterruptStatus is 0. */
	if (!d->isr)
		FZ_CHECK(t->level == 0 && !t->m.irq_level);
	FZ_CHECK(t->level == (int)t->m.irq_level);
	/* The transport's record of attached queues is the host's. */
	FZ_CHECK(t->attached == t->m.attached);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t gpa[2] = { R0_GPA, R1_GPA };
	static const size_t sz[2] = { R0_SIZE, R1_SIZE };
	static struct env t;
	struct echo keep = t.x;
	struct fz f;

	fz_init(&f, data, size);
	uint8_t cfg = fz_u8(&f);
	memset(&t, 0, sizeof(t));
	t.x.e = keep.e;
	t.ram = fuzz_ram_get(gpa, sz, 2);
	t.vcpu_be = cfg & 0x20;
	t.sane = cfg & 0x40;
	t.plat = (struct virtio_platform){ vcpu_be, VIRTIO_ENDIAN_LITTLE, &t };
	t.hooks = (struct virtio_notify_hooks){ .attach = attach, .detach = detach, .opaque = &t };
	uint64_t feat = 1ull << VIRTIO_F_RING_INDIRECT_DESC | 1ull << VIRTIO_F_RING_EVENT_IDX |
			1ull << VIRTIO_F_RING_PACKED | 1ull << VIRTIO_F_ANY_LAYOUT | 0x3f;
	echo_init(&t.x, 1, nq_choice[(cfg >> 1) & 7], feat, &t.ram->gm, &t.plat);
	virtio_mmio_init(&t.m, &t.x.d, cfg & 1 ? 1 : 2, MMIO_BASE, (struct irq_line){ irq_set, &t },
			 cfg & 0x10 ? &t.hooks : NULL);
	struct virtio_dev *d = &t.x.d;
	unsigned resets = t.x.resets;

	for (int ops = 0; fz_more(&f) && ops < 256; ops++) {
		uint8_t op = fz_u8(&f) % 10, b[8];
		FZ_TRACE("op %u at %zu status %x\n", op, f.i, d->status);
		uint16_t where;
		uint64_t off;
		uint32_t len;

		switch (op) {
		case 0:
		case 1:
			where = fz_u16(&f);
			if (where & 0x8000) {
				static const uint32_t lens[4] = { 1, 2, 4, 8 };
				off = (where & 0x7fff) % 0x210;
				len = lens[fz_u8(&f) % 4];
			} else {
				off = (where & 0x7f) * 4u;
				len = 4;
			}
			if (op == 0) {
				memset(b, 0xa5, sizeof(b));
				virtio_mmio_ops.read(&t.m, off, b, len);
				if (len == 4 && off == VIRTIO_MMIO_MAGIC_VALUE)
					FZ_CHECK(!memcmp(b, "virt", 4));
				if (len == 4 && off == VIRTIO_MMIO_VERSION)
					FZ_CHECK(b[0] == (cfg & 1 ? 1 : 2));
			} else {
				uint32_t v = fz_u32(&f);
				for (int i = 0; i < 8; i++)
					b[i] = (uint8_t)(v >> (8 * (i % 4)));
				virtio_mmio_ops.write(&t.m, off, b, len);
			}
			break;
		case 2:
			driver_init(&t, &f);
			break;
		case 3:
			add_chain(&t, &f);
			break;
		case 4:
			wr(&t, VIRTIO_MMIO_QUEUE_NOTIFY, fz_u8(&f) % (d->num_queues + 2u));
			break;
		case 5: {
			uint16_t q = fz_u8(&f) % d->num_queues;
			if (t.attached & (1u << q))
				d->ops->queue_notify(d, q);
			break;
		}
		case 6:
			wr(&t, VIRTIO_MMIO_INTERRUPT_ACK, rd(&t, VIRTIO_MMIO_INTERRUPT_STATUS));
			FZ_CHECK(rd(&t, VIRTIO_MMIO_INTERRUPT_STATUS) == 0 && t.level == 0);
			break;
		case 7:
			fvq_collect(&t.q[fz_u8(&f) % d->num_queues]);
			break;
		case 8:
			t.vcpu_be = !t.vcpu_be;
			break;
		case 9:
			pthread_mutex_lock(&d->lock);
			virtio_system_reset(d);
			pthread_mutex_unlock(&d->lock);
			driver_rings(&t);
			break;
		}
		/* After a reset the driver starts over (its rings are gone). */
		if (t.x.resets != resets) {
			resets = t.x.resets;
			driver_rings(&t);
		}
		check(&t);
	}
	/* A reset detaches every queue. */
	wr(&t, VIRTIO_MMIO_STATUS, 0);
	FZ_CHECK(t.attached == 0);
	echo_destroy(&t.x);
	return 0;
}
