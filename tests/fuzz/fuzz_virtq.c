/* Virtqueues, device side (devices/virtio/virtq*.c), against a hostile
 * driver: built twice, fuzz_virtq_split and fuzz_virtq_packed (the layout
 * is the target's; everything else is the input's). The driver writes
 * chains through fuzz_vq.c without any care for what the device holds,
 * pokes raw values into the rings, and the device pops, completes (one at
 * a time or in batches), decides about interrupts and switches kicks.
 *
 * Input: three set-up bytes, then operations.
 *   byte 0   bits 0-2 split: log2 of the queue size (1..128)
 *            bit 3 EVENT_IDX, bit 4 INDIRECT_DESC, bit 5 legacy big-endian
 *            (split only), bits 6-7 where the rings lie: 0 low in RAM,
 *            1 at the very end of a RAM region (a guard page follows),
 *            2 in the second, small region, 3 at addresses from the input
 *   byte 1   packed: queue size - 1 (1..256)
 *   byte 2   the queue's maximum size is 256 >> (byte 2 % 4)
 *   then op bytes, op % 12:
 *     0 add a chain: u8 n-1 (1..8), u8 mode (bit 0 indirect, bit 1
 *       publish, bits 2-4 XORed into every descriptor's flags), u16 id
 *       (packed), then per segment: u8 address kind (% 4: a buffer, the
 *       second region, just below the end of RAM, a raw u64), its u16/u8/u64
 *       operand, u16 length, u8 bit 0 writable
 *     1 publish   2 poke u16 at u16 offset of the ring area
 *     3 poke a u64 into a descriptor (u8 slot, u8 field, u64 value)
 *     4 pop up to u8 % 8 + 1 chains   5 complete u8 % 8 held chains as one
 *       batch (u8 bit 0: newest first), each with a u32 length
 *     6 should_notify   7 enable_notify(u8 & 1)   8 has_work
 *     9 driver reads the used ring   10 driver event: u8 on, u16 event
 *     11 device reset and start again
 *
 * Checked besides memory safety (guard pages around RAM, ASan, UBSan):
 * popped segments lie in RAM and add up; the device writes guest memory
 * only in the used ring (split) or the descriptor ring and the device event
 * area (packed); its ring positions stay inside the ring; and it loses no
 * interrupt: when should_notify says no, the driver's event position does
 * not lie among the slots used since the last look, within a ring of the
 * newest (the positions are counted here in full, the device keeps them
 * modulo two laps or 2^16). */
#include <errno.h>

#include "fuzz_vq.h"

#include "virtio/virtio.h"
#include "virtio/virtq.h"

#define R0_GPA   0x10000ull
#define R0_SIZE  0x8000u
#define R1_GPA   0x40000ull
#define R1_SIZE  0x1000u
#define RING_AREA 0x1800u            /* [R0, R0 + RING_AREA): desc, avail, used */
#define IND_GPA  (R0_GPA + 0x1800)
#define IND_SIZE 0x800u
#define BUF_GPA  (R0_GPA + 0x2000)
#define BUF_SIZE (R0_SIZE - 0x2000)

#if FUZZ_PACKED
#define PACKED 1
#else
#define PACKED 0
#endif

struct held {
	struct virtq_token t[1024];
	unsigned n;
};

static const struct virtio_dev_ops ops = { .name = "fuzz-vq", .num_queues = 1,
					   .queue_max_size = 256 };

static uint8_t shadow0[R0_SIZE], shadow1[R1_SIZE];

static uint64_t seg_addr(struct fz *f)
{
	uint8_t k = fz_u8(f);

	switch (k % 4) {
	case 0: return BUF_GPA + fz_u16(f) % BUF_SIZE;
	case 1: return R1_GPA + fz_u16(f) % R1_SIZE;
	case 2: return R0_GPA + R0_SIZE - fz_u8(f);
	default: return fz_u64(f);
	}
}

static void snapshot(struct fuzz_ram *m)
{
	memcpy(shadow0, m->r[0].hva, R0_SIZE);
	memcpy(shadow1, m->r[1].hva, R1_SIZE);
}

/* Bytes the device changed must lie in [a, a+len) of the allowed areas. */
static bool allowed(const struct virtq *q, uint64_t gpa)
{
	if (PACKED)
		return (gpa >= q->desc_gpa && gpa - q->desc_gpa < 16ull * q->num) ||
		       (gpa >= q->used_gpa && gpa - q->used_gpa < 4);
	return gpa >= q->used_gpa && gpa - q->used_gpa < 6 + 8ull * q->num;
}

static void check_writes(struct fuzz_ram *m, const struct virtq *q)
{
	if (memcmp(shadow0, m->r[0].hva, R0_SIZE))
		for (uint32_t i = 0; i < R0_SIZE; i++)
			if (shadow0[i] != m->r[0].hva[i])
				FZ_CHECK(allowed(q, R0_GPA + i));
	if (memcmp(shadow1, m->r[1].hva, R1_SIZE))
		for (uint32_t i = 0; i < R1_SIZE; i++)
			if (shadow1[i] != m->r[1].hva[i])
				FZ_CHECK(allowed(q, R1_GPA + i));
}

static void check_elem(struct fuzz_ram *m, const struct virtq *q, const struct virtq_elem *e)
{
	uint64_t out = 0, in = 0;

	FZ_CHECK(e->nout + e->nin <= VIRTQ_MAX_SEGS);
	FZ_CHECK(e->ndescs >= 1);
	if (!PACKED)
		FZ_CHECK(e->head < q->num);
	for (uint32_t i = 0; i < e->nout + e->nin; i++) {
		const volatile uint8_t *p = e->iov[i].iov_base;
		size_t len = e->iov[i].iov_len;
		FZ_CHECK(len > 0 && fuzz_ram_contains(m, e->iov[i].iov_base, len));
		(void)p[0];
		(void)p[len - 1];
		if (i < e->nout)
			out += len;
		else
			in += len;
	}
	FZ_CHECK(out == e->out_len && in == e->in_len && out + in <= UINT32_MAX);
}

/* Was an interrupt due? used: slots (packed) or elements (split) used
 * since the start, in full; seen: the same at the last should_notify. The
 * driver wants one once the used position passes its event E: due when
 * some position p in [max(seen, used - num), used) is E modulo the ring's
 * period (two laps; split: 2^16). Further back than a ring no sane
 * driver's event can lie; a device may notify more often than due. */
static bool interrupt_due(const struct virtq *q, struct fuzz_ram *m, bool be, uint64_t used,
			  uint64_t seen)
{
	uint64_t period, e, lo;

	if (PACKED) {
		uint16_t flags = (uint16_t)fuzz_rd(m, q->avail_gpa + 2, 2, false) & 3;
		uint16_t ow = (uint16_t)fuzz_rd(m, q->avail_gpa, 2, false);
		if (flags == 0 || (flags == 2 && !q->event_idx))
			return used != seen;          /* ENABLE */
		if (flags != 2 || (ow & 0x7fff) >= q->num)
			return false;
		period = 2ull * q->num;
		e = (ow & 0x7fff) + (ow >> 15 ? 0 : q->num);
	} else {
		if (!q->event_idx)
			return false;                 /* the flag: nothing to count */
		period = 65536;
		e = fuzz_rd(m, q->avail_gpa + 4 + 2ull * q->num, 2, be);
	}
	lo = used - seen > q->num ? used - q->num : seen;
	if (used == lo)
		return false;
	/* the first p >= lo with p % period == e */
	uint64_t p = lo + (e + period - lo % period) % period;
	return p < used;
}

static void check_positions(const struct virtq *q)
{
	if (PACKED && q->desc) {
		FZ_CHECK(q->last_avail_idx < q->num);
		FZ_CHECK(q->used_idx < q->num);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t gpa[2] = { R0_GPA, R1_GPA };
	static const size_t sz[2] = { R0_SIZE, R1_SIZE };
	static struct virtio_dev d;
	static struct virtq_elem e;
	static struct iovec e_iov[VIRTQ_MAX_SEGS];
	static struct held h;
	static struct fvq fq;
	struct fz f;
	uint64_t used_total = 0, seen_total = 0;

	virtq_elem_init(&e, e_iov, VIRTQ_MAX_SEGS);
	fz_init(&f, data, size);
	uint8_t b0 = fz_u8(&f), b1 = fz_u8(&f), b2 = fz_u8(&f);
	struct fuzz_ram *m = fuzz_ram_get(gpa, sz, 2);
	uint64_t feat = 1ull << VIRTIO_F_VERSION_1;
	if (b0 & 8)
		feat |= 1ull << VIRTIO_F_RING_EVENT_IDX;
	if (b0 & 16)
		feat |= 1ull << VIRTIO_F_RING_INDIRECT_DESC;
	if (PACKED)
		feat |= 1ull << VIRTIO_F_RING_PACKED;
	bool be = !PACKED && (b0 & 32);
	if (be)
		feat &= ~(1ull << VIRTIO_F_VERSION_1);

	virtio_dev_init(&d, &ops, NULL, feat, &m->gm, NULL);
	d.legacy = be;
	d.device_endian = be ? VIRTIO_ENDIAN_BIG : VIRTIO_ENDIAN_LITTLE;
	d.guest_features = feat;
	struct virtq *q = &d.vq[0];
	q->num_max = (uint16_t)(256u >> (b2 % 4));
	uint16_t num = PACKED ? (uint16_t)(b1 + 1) : (uint16_t)(1u << (b0 & 7));
	uint64_t desc = R0_GPA, avail = R0_GPA + 0x1000, used = R0_GPA + 0x1200;
	switch (b0 >> 6) {
	case 1:
		if (PACKED)
			desc = R0_GPA + R0_SIZE - 16ull * num;
		else
			used = (R0_GPA + R0_SIZE - (6 + 8ull * num)) & ~3ull;
		break;
	case 2:
		desc = R1_GPA;
		avail = R1_GPA + (PACKED ? 0xff8 : 0x800);
		used = R1_GPA + (PACKED ? 0xffc : 0x900);
		break;
	case 3:
		desc = fz_u64(&f);
		avail = fz_u64(&f);
		used = fz_u64(&f);
		break;
	}
	q->num = num;
	q->desc_gpa = desc;
	q->avail_gpa = avail;
	q->used_gpa = used;
	q->ready = true;
	h.n = 0;
	if (virtq_start(q)) {
		virtio_dev_destroy(&d);
		return 0;
	}
	fvq_init(&fq, m, PACKED, be, false, num, desc, avail, used, IND_GPA, IND_SIZE);

	for (int ops_done = 0; fz_more(&f) && ops_done < 512; ops_done++) {
		uint8_t op = fz_u8(&f) % 12;

		switch (op) {
		case 0: {
			struct fvq_seg s[8];
			unsigned n = fz_u8(&f) % 8 + 1;
			uint8_t mode = fz_u8(&f);
			uint16_t id = fz_u16(&f);
			for (unsigned i = 0; i < n; i++) {
				s[i].addr = seg_addr(&f);
				s[i].len = fz_u16(&f);
				s[i].write = fz_u8(&f) & 1;
			}
			fvq_add(&fq, s, n, mode & 1, (uint16_t)((mode >> 2) & 7), id, mode & 2);
			break;
		}
		case 1:
			fvq_publish(&fq);
			break;
		case 2: {
			uint16_t off = fz_u16(&f) % (RING_AREA - 1);
			fuzz_wr(m, R0_GPA + off, fz_u16(&f), 2, false);
			break;
		}
		case 3: {
			uint8_t slot = fz_u8(&f), field = fz_u8(&f) % 3;
			uint64_t v = fz_u64(&f);
			uint64_t at = desc + 16ull * (slot % num);
			if (field == 0)
				fuzz_wr(m, at, v, 8, be);
			else
				fuzz_wr(m, at + (field == 1 ? 8 : 12), v, field == 1 ? 4 : 4, be);
			break;
		}
		case 4: {
			unsigned k = fz_u8(&f) % 8 + 1;
			for (unsigned i = 0; i < k; i++) {
				snapshot(m);
				int r = virtq_pop(q, &e);
				check_writes(m, q);
				FZ_CHECK(r >= -EINVAL && r <= 1);
				if (r <= 0)
					break;
				check_elem(m, q, &e);
				if (h.n < 1024)
					h.t[h.n++] = virtq_token_of(&e);
			}
			break;
		}
		case 5: {
			unsigned k = fz_u8(&f) % 8 + 1;
			bool newest = fz_u8(&f) & 1;
			if (k > h.n)
				k = h.n;
			if (!k)
				break;
			snapshot(m);
			for (unsigned i = 0; i < k; i++) {
				struct virtq_token t = newest ? h.t[h.n - 1 - i] : h.t[i];
				virtq_fill_token(q, &t, fz_u32(&f), (uint16_t)i);
				used_total += PACKED ? (t.ndescs ? t.ndescs : 1u) : 1u;
			}
			virtq_flush(q, (uint16_t)k);
			check_writes(m, q);
			if (newest)
				h.n -= k;
			else
				memmove(h.t, h.t + k, (h.n -= k) * sizeof(h.t[0]));
			break;
		}
		case 6: {
			bool due = interrupt_due(q, m, be, used_total, seen_total);
			snapshot(m);
			bool said = virtq_should_notify(q);
			check_writes(m, q);
			FZ_CHECK(said || !due);
			seen_total = used_total;
			break;
		}
		case 7:
			snapshot(m);
			virtq_enable_notify(q, fz_u8(&f) & 1);
			check_writes(m, q);
			break;
		case 8:
			virtq_has_work(q);
			break;
		case 9:
			fvq_collect(&fq);
			break;
		case 10: {
			bool on = fz_u8(&f) & 1;
			fvq_set_interrupts(&fq, on, b0 & 8, fz_u16(&f));
			break;
		}
		case 11:
			virtq_reset(q);
			q->num = num;
			q->desc_gpa = desc;
			q->avail_gpa = avail;
			q->used_gpa = used;
			q->ready = true;
			FZ_CHECK(virtq_start(q) == 0);
			fvq_init(&fq, m, PACKED, be, false, num, desc, avail, used, IND_GPA, IND_SIZE);
			h.n = 0;
			used_total = seen_total = 0;
			break;
		}
		check_positions(q);
	}
	virtio_dev_destroy(&d);
	return 0;
}
