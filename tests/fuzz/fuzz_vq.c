/* The guest side of a virtqueue: see fuzz_vq.h. */
#include "fuzz_vq.h"

static void w16(struct fvq *q, uint64_t a, uint16_t v) { fuzz_wr(q->m, a, v, 2, q->be); }
static void w32(struct fvq *q, uint64_t a, uint32_t v) { fuzz_wr(q->m, a, v, 4, q->be); }
static void w64(struct fvq *q, uint64_t a, uint64_t v) { fuzz_wr(q->m, a, v, 8, q->be); }
static uint16_t r16(struct fvq *q, uint64_t a) { return (uint16_t)fuzz_rd(q->m, a, 2, q->be); }
static uint32_t r32(struct fvq *q, uint64_t a) { return (uint32_t)fuzz_rd(q->m, a, 4, q->be); }

uint64_t fvq_seg_addr(struct fz *f, const struct fvq_layout *L, bool sane)
{
	uint8_t k = fz_u8(f);
	uint64_t a;

	switch (k % 4) {
	case 0: return L->buf + fz_u16(f) % L->buf_size;
	case 1: return L->r1 + fz_u16(f) % L->r1_size;
	case 2: return L->r0_end - fz_u8(f);
	default:
		a = fz_u64(f);
		if (sane && a >= L->meta && a - L->meta < L->meta_size)
			a = L->buf + a % L->buf_size;
		return a;
	}
}

void fvq_read_segs(struct fz *f, const struct fvq_layout *L, bool sane, struct fvq_seg *s,
		   unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		s[i].addr = fvq_seg_addr(f, L, sane);
		s[i].len = fz_u16(f);
		s[i].write = fz_u8(f) & 1;
	}
}

void fvq_init(struct fvq *q, struct fuzz_ram *m, bool packed, bool be, bool sane, uint16_t num,
	      uint64_t desc, uint64_t avail, uint64_t used, uint64_t ind_base, uint64_t ind_size)
{
	memset(q, 0, sizeof(*q));
	q->m = m;
	q->packed = packed;
	q->be = be && !packed;
	q->sane = sane;
	q->num = num > FVQ_MAX ? FVQ_MAX : num;
	q->desc = desc;
	q->avail = avail;
	q->used = used;
	q->ind_base = q->ind_next = ind_base;
	q->ind_size = ind_size;
	q->wrap = q->used_wrap = true;
	for (uint16_t i = 0; i < q->num; i++) {
		q->free_head[i] = (uint16_t)(q->num - 1 - i);
		q->free_ids[i] = (uint16_t)(q->num - 1 - i);
	}
	q->nfree = q->nfree_ids = q->num;
	/* A driver starts from zeroed rings: nothing available, nothing used. */
	if (q->num) {
		uint64_t len[3] = { 16ull * q->num, packed ? 4 : 6 + 2ull * q->num,
				    packed ? 4 : 6 + 8ull * q->num };
		uint64_t at[3] = { desc, avail, used };
		for (int i = 0; i < 3; i++) {
			uint8_t *p = fuzz_ram_ptr(m, at[i], len[i]);
			if (p)
				memset(p, 0, len[i]);
		}
	}
}

/* A table of n descriptors for an indirect chain, 16-byte aligned. A sane
 * driver gives each chain (key: head or id) a table of its own, which
 * stays untouched until the chain comes back; a hostile one reuses them
 * round robin. */
#define IND_SLOT (16u * 8u)

static uint64_t ind_alloc(struct fvq *q, unsigned n, uint16_t key)
{
	uint64_t len = 16ull * n;

	if (q->sane)
		return q->ind_base + (uint64_t)key * IND_SLOT;
	if (q->ind_next + len > q->ind_base + q->ind_size)
		q->ind_next = q->ind_base;
	uint64_t a = q->ind_next;
	q->ind_next += (len + 15) & ~15ull;
	return a;
}

/* Can the sane driver give this chain an indirect table? */
static bool ind_ok(const struct fvq *q, unsigned n)
{
	return !q->sane || (n * 16u <= IND_SLOT && (uint64_t)q->num * IND_SLOT <= q->ind_size);
}

static void write_desc(struct fvq *q, uint64_t at, uint64_t addr, uint32_t len, uint16_t flags,
		       uint16_t next_or_id)
{
	w64(q, at, addr);
	w32(q, at + 8, len);
	if (q->packed) {
		w16(q, at + 12, next_or_id);
		w16(q, at + 14, flags);
	} else {
		w16(q, at + 12, flags);
		w16(q, at + 14, next_or_id);
	}
}

/* An indirect table holding s[0..n); returns its address. */
static uint64_t write_table(struct fvq *q, const struct fvq_seg *s, unsigned n, uint16_t flag_xor,
			    uint16_t key)
{
	uint64_t t = ind_alloc(q, n, key);

	for (unsigned i = 0; i < n; i++) {
		uint16_t f = (uint16_t)((s[i].write ? VRING_F_WRITE : 0) |
					(!q->packed && i + 1 < n ? VRING_F_NEXT : 0));
		write_desc(q, t + 16ull * i, s[i].addr, s[i].len, f ^ flag_xor, (uint16_t)(i + 1));
	}
	return t;
}

static uint32_t in_bytes(const struct fvq_seg *s, unsigned n)
{
	uint64_t b = 0;

	for (unsigned i = 0; i < n; i++)
		if (s[i].write)
			b += s[i].len;
	return b > UINT32_MAX ? UINT32_MAX : (uint32_t)b;
}

static int add_split(struct fvq *q, const struct fvq_seg *s, unsigned n, bool indirect,
		     uint16_t flag_xor)
{
	unsigned nd = indirect ? 1 : n;
	uint16_t idx[FVQ_MAX_SEGS];

	if (q->sane && q->nfree < nd)
		return -1;
	for (unsigned i = 0; i < nd; i++)
		idx[i] = q->sane ? q->free_head[--q->nfree] : (uint16_t)(q->rr++ % q->num);
	if (indirect) {
		uint64_t t = write_table(q, s, n, flag_xor, idx[0]);
		write_desc(q, q->desc + 16ull * idx[0], t, 16u * n, VRING_F_INDIRECT, 0);
	} else {
		for (unsigned i = 0; i < n; i++) {
			uint16_t f = (uint16_t)((s[i].write ? VRING_F_WRITE : 0) |
						(i + 1 < n ? VRING_F_NEXT : 0));
			write_desc(q, q->desc + 16ull * idx[i], s[i].addr, s[i].len, f ^ flag_xor,
				   i + 1 < n ? idx[i + 1] : 0);
		}
	}
	uint16_t head = idx[0];
	if (q->sane) {
		memcpy(q->chain_desc[head], idx, nd * sizeof(idx[0]));
		q->chain_n[head] = (uint16_t)nd;
		q->chain_in[head] = in_bytes(s, n);
		q->outstanding[head] = true;
	}
	w16(q, q->avail + 4 + 2ull * (q->avail_idx % q->num), head);
	q->avail_idx++;
	return head;
}

static int add_packed(struct fvq *q, const struct fvq_seg *s, unsigned n, bool indirect,
		      uint16_t flag_xor, uint16_t id)
{
	unsigned nd = indirect ? 1 : n;

	if (q->sane) {
		if (!q->nfree_ids || q->slots_out + nd > q->num)
			return -1;
		id = q->free_ids[--q->nfree_ids];
		q->chain_n[id] = (uint16_t)nd;
		q->chain_in[id] = in_bytes(s, n);
		q->outstanding[id] = true;
		q->slots_out = (uint16_t)(q->slots_out + nd);
	}
	uint16_t avail = q->wrap ? PACKED_F_AVAIL : PACKED_F_USED;
	uint64_t ind = indirect ? write_table(q, s, n, flag_xor, id) : 0;

	for (unsigned i = 0; i < nd; i++) {
		uint16_t f;
		uint64_t at = q->desc + 16ull * q->slot;

		if (indirect)
			f = VRING_F_INDIRECT;
		else
			f = (uint16_t)((s[i].write ? VRING_F_WRITE : 0) | (i + 1 < n ? VRING_F_NEXT : 0));
		f = (uint16_t)((f ^ (indirect ? 0 : flag_xor)) | avail);
		/* Address, length and id; the flags come below. */
		w64(q, at, indirect ? ind : s[i].addr);
		w32(q, at + 8, indirect ? 16u * n : s[i].len);
		w16(q, at + 12, id);
		/* The first descriptor's flags make the chain available:
		 * written last (publish); until then the slot keeps the
		 * flags it had (used, or never used). */
		if (i == 0 && !q->pending) {
			q->pending = true;
			q->pending_slot = q->slot;
			q->pending_flags = f;
		} else {
			w16(q, at + 14, f);
		}
		if (++q->slot >= q->num) {
			q->slot = 0;
			q->wrap = !q->wrap;
			avail = q->wrap ? PACKED_F_AVAIL : PACKED_F_USED;
		}
	}
	return id;
}

int fvq_add(struct fvq *q, const struct fvq_seg *s, unsigned n, bool indirect, uint16_t flag_xor,
	    uint16_t id, bool publish)
{
	int r;

	if (n == 0 || n > FVQ_MAX_SEGS || q->num == 0)
		return -1;
	if (indirect && !ind_ok(q, n))
		indirect = false;
	r = q->packed ? add_packed(q, s, n, indirect, flag_xor, id)
		      : add_split(q, s, n, indirect, flag_xor);
	FZ_TRACE("add n %u ind %d -> %d (num %u packed %d)\n", n, indirect, r, q->num, q->packed);
	if (r >= 0 && publish)
		fvq_publish(q);
	return r;
}

void fvq_publish(struct fvq *q)
{
	if (q->packed) {
		if (q->pending)
			w16(q, q->desc + 16ull * q->pending_slot + 14, q->pending_flags);
		q->pending = false;
	} else {
		w16(q, q->avail + 2, q->avail_idx);
	}
}

static void give_back(struct fvq *q, uint32_t id, uint32_t len)
{
	FZ_TRACE("used id %u len %u (num %u packed %d)\n", id, len, q->num, q->packed);
	if (!q->sane)
		return;
	/* The device returns only chains it was given, once each, and claims
	 * no more than their writable bytes (virtio 1.2 §2.7.8.2). */
	FZ_CHECK(id < q->num && q->outstanding[id]);
	FZ_CHECK(len <= q->chain_in[id]);
	q->outstanding[id] = false;
	if (q->packed) {
		q->slots_out = (uint16_t)(q->slots_out - q->chain_n[id]);
		q->free_ids[q->nfree_ids++] = (uint16_t)id;
	} else {
		for (unsigned i = 0; i < q->chain_n[id]; i++)
			q->free_head[q->nfree++] = q->chain_desc[id][i];
	}
}

int fvq_collect(struct fvq *q)
{
	int n = 0;

	if (q->num == 0)
		return 0;
	if (!q->packed) {
		uint16_t idx = r16(q, q->used + 2);
		if (q->sane)   /* never more used than made available */
			FZ_CHECK((uint16_t)(idx - q->used_seen) <= (uint16_t)(q->avail_idx - q->used_seen));
		while (q->used_seen != idx && n < q->num) {
			uint64_t e = q->used + 4 + 8ull * (q->used_seen % q->num);
			give_back(q, r32(q, e), r32(q, e + 4));
			q->used_seen++;
			n++;
		}
		return n;
	}
	while (n < q->num) {
		uint64_t at = q->desc + 16ull * q->used_slot;
		uint16_t f = r16(q, at + 14);
		bool avail = f & PACKED_F_AVAIL, used = f & PACKED_F_USED;
		FZ_TRACE("collect slot %u flags 0x%x wrap %d\n", q->used_slot, f, q->used_wrap);
		if (avail != used || used != q->used_wrap)
			break;
		uint16_t id = r16(q, at + 12);
		uint32_t len = r32(q, at + 8);
		uint16_t skip = 1;
		if (q->sane) {
			give_back(q, id, len);
			skip = q->chain_n[id];
		}
		uint32_t s = (uint32_t)q->used_slot + skip;
		if (s >= q->num) {
			s -= q->num;
			q->used_wrap = !q->used_wrap;
		}
		q->used_slot = (uint16_t)s;
		n++;
	}
	return n;
}

void fvq_set_interrupts(struct fvq *q, bool on, bool event_idx, uint16_t event)
{
	if (q->num == 0)
		return;
	if (q->packed) {
		/* flags: 0 enable, 1 disable, 2 at off_wrap */
		uint16_t flags = !on ? 1 : event_idx ? 2 : 0;
		w16(q, q->avail, event);
		w16(q, q->avail + 2, flags);
	} else {
		w16(q, q->avail, on ? 0 : 1);
		w16(q, q->avail + 4 + 2ull * q->num, event);
	}
}
