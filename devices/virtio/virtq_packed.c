/* Packed virtqueues, device side (virtio 1.2 §2.8). One ring of 16-byte
 * descriptors that the driver makes available and the device marks used in
 * place, told apart by the AVAIL/USED flag bits against each side's wrap
 * counter; a driver and a device event-suppression structure replace the
 * split ring's flags and event indexes.
 *
 * The packed layout needs VERSION_1, so it is always little-endian
 * (virtio_get/put of a modern device). Every descriptor is read once into a
 * local copy after an acquire load of its flags, and checked: buffer ids
 * inside the ring and not already in flight, chains no longer than the ring
 * with every descriptor available, no indirect table inside an indirect
 * table or chained after other descriptors, no zero-length buffer. */
#include "virtio/virtq.h"

#include <errno.h>
#include <string.h>

#include "virtio/virtio.h"

#define DESC_SIZE 16u
#define DESC_F_NEXT      (1u << 0)
#define DESC_F_WRITE     (1u << 1)
#define DESC_F_INDIRECT  (1u << 2)
#define DESC_F_AVAIL     (1u << 7)
#define DESC_F_USED      (1u << 15)
/* Event suppression (§2.8.10): le16 off_wrap, le16 flags. */
#define EVENT_OFF_WRAP   0
#define EVENT_FLAGS      2
#define EVENT_F_ENABLE   0
#define EVENT_F_DISABLE  1
#define EVENT_F_DESC     2

struct pdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t id, flags;
};

static uint8_t *slot_ptr(const struct virtq *q, uint16_t slot)
{
	return (uint8_t *)q->desc + (size_t)slot * DESC_SIZE;
}

static uint16_t load_flags(const struct virtq *q, uint16_t slot)
{
	/* Acquire: the rest of the descriptor is read after the flags that
	 * made it available (the driver writes them last, §2.8.21.2). */
	uint16_t raw = __atomic_load_n((const uint16_t *)(slot_ptr(q, slot) + 14), __ATOMIC_ACQUIRE);
	return virtio16_to_cpu(q->dev, raw);
}

/* The descriptor at slot, read once. */
static void read_desc(const struct virtq *q, const uint8_t *p, struct pdesc *d)
{
	uint8_t raw[DESC_SIZE];

	memcpy(raw, p, DESC_SIZE);
	__asm__ __volatile__("" ::: "memory");
	d->addr = virtio_get64(q->dev, raw);
	d->len = virtio_get32(q->dev, raw + 8);
	d->id = virtio_get16(q->dev, raw + 12);
	d->flags = virtio_get16(q->dev, raw + 14);
}

/* §2.8.1: available when AVAIL matches the wrap counter and USED does not. */
static bool is_avail(uint16_t flags, bool wrap)
{
	return !!(flags & DESC_F_AVAIL) == wrap && !!(flags & DESC_F_USED) != wrap;
}

/* n may span several laps: a hostile driver can make slots available again
 * before the device has used them, so the chains of one used batch can
 * cover more than the ring. Every lap flips the wrap counter; the slot
 * stays inside the ring whatever n is. */
static void advance(const struct virtq *q, uint16_t *slot, bool *wrap, uint32_t n)
{
	uint32_t s;

	if (n >= q->num) {            /* whole laps: only a hostile driver's */
		if ((n / q->num) & 1)
			*wrap = !*wrap;
		n %= q->num;
	}
	s = (uint32_t)*slot + n;
	if (s >= q->num) {
		s -= q->num;
		*wrap = !*wrap;
	}
	*slot = (uint16_t)s;
}

/* ---- start ---- */

int virtq_packed_start(struct virtq *q)
{
	const struct guest_mem *gm = q->dev->mem;
	uint32_t num = q->num;

	/* §2.8.10.1: any size up to 2^15; ours is bounded by what we can
	 * track in flight. */
	if (num == 0 || num > q->num_max || num > VIRTQ_PACKED_MAX_SIZE)
		return -EINVAL;
	/* §2.8 table "Packed Virtqueue Part Alignment": 16, 4 and 4 bytes. */
	if ((q->desc_gpa & 15) || (q->avail_gpa & 3) || (q->used_gpa & 3))
		return -EINVAL;
	q->desc = gm_ptr(gm, q->desc_gpa, DESC_SIZE * num);
	q->avail = gm_ptr(gm, q->avail_gpa, 4);    /* driver event suppression */
	q->used = gm_ptr(gm, q->used_gpa, 4);      /* device event suppression */
	if (!q->desc || !q->avail || !q->used || ((uintptr_t)q->desc & 15) ||
	    ((uintptr_t)q->avail & 3) || ((uintptr_t)q->used & 3)) {
		q->desc = q->avail = q->used = NULL;
		return -EINVAL;
	}
	if (!q->packed_started) {
		/* §2.8.1: both wrap counters start at 1. */
		q->avail_wrap = q->used_wrap = q->signalled_wrap = true;
		q->packed_started = true;
	}
	return 0;
}

/* ---- pop ---- */

static bool inflight(const struct virtq *q, uint16_t id)
{
	return q->inflight[id / 8] & (1u << (id % 8));
}

static void set_inflight(struct virtq *q, uint16_t id, bool on)
{
	if (on)
		q->inflight[id / 8] |= (uint8_t)(1u << (id % 8));
	else
		q->inflight[id / 8] &= (uint8_t)~(1u << (id % 8));
}

/* §2.8.7: a table of len/16 descriptors, used in order (NEXT means
 * nothing there), none of them indirect. */
static int walk_indirect(struct virtq *q, struct virtq_elem *e, const struct pdesc *ind)
{
	const uint8_t *table;
	struct pdesc d;
	int rc;

	if (!q->indirect)
		return virtq_broken(q, "indirect descriptor not negotiated");
	if (ind->flags & DESC_F_NEXT)
		return virtq_broken(q, "indirect descriptor with NEXT");
	if (ind->len == 0 || ind->len % DESC_SIZE)
		return virtq_broken(q, "indirect table length %u", ind->len);
	table = gm_ptr(q->dev->mem, ind->addr, ind->len);
	if (!table)
		return virtq_broken(q, "indirect table 0x%llx+0x%x outside RAM",
				    (unsigned long long)ind->addr, ind->len);
	for (uint32_t i = 0; i < ind->len / DESC_SIZE; i++) {
		read_desc(q, table + (size_t)i * DESC_SIZE, &d);
		if (d.flags & DESC_F_INDIRECT)
			return virtq_broken(q, "nested indirect descriptor");
		rc = virtq_add_segment(q, e, d.addr, d.len, d.flags & DESC_F_WRITE);
		if (rc)
			return rc;
	}
	return 0;
}

int virtq_packed_pop(struct virtq *q, struct virtq_elem *e)
{
	uint16_t slot = q->last_avail_idx, count = 0, id = 0;
	bool wrap = q->avail_wrap;
	struct pdesc d;
	int rc;

	if (q->broken)
		return -EINVAL;
	if (!q->desc || !is_avail(load_flags(q, slot), wrap))
		return 0;
	e->nout = e->nin = 0;
	e->out_len = e->in_len = 0;
	for (;;) {
		read_desc(q, slot_ptr(q, slot), &d);
		/* The copy is what counts: flags rewritten after our acquire
		 * load must still say "available". */
		if (!is_avail(d.flags, wrap))
			return count ? virtq_broken(q, "descriptor %u of a chain is not available", slot)
				     : 0;
		if (d.flags & DESC_F_INDIRECT) {
			if (count)
				return virtq_broken(q, "indirect descriptor inside a chain");
			rc = walk_indirect(q, e, &d);
		} else {
			rc = virtq_add_segment(q, e, d.addr, d.len, d.flags & DESC_F_WRITE);
		}
		if (rc)
			return rc;
		id = d.id;             /* §2.8.6: the chain's id is its last descriptor's */
		count++;
		advance(q, &slot, &wrap, 1);
		if (!(d.flags & DESC_F_NEXT) || (d.flags & DESC_F_INDIRECT))
			break;
		/* §2.8.6: no chain is longer than the ring. */
		if (count >= q->num)
			return virtq_broken(q, "chain longer than the ring (%u)", q->num);
	}
	if (id >= q->num)
		return virtq_broken(q, "buffer id %u beyond ring size %u", id, q->num);
	if (inflight(q, id))
		return virtq_broken(q, "buffer id %u is already in flight", id);
	set_inflight(q, id, true);
	e->head = id;
	e->ndescs = count;
	q->last_avail_idx = slot;
	q->avail_wrap = wrap;
	return 1;
}

/* ---- push ---- */

/* Element i of a batch goes to the slot after those of elements 0..i-1
 * (§2.8.7: a used chain takes one slot and the driver skips the rest of
 * its ring slots). Its flags are written now, except the first element's:
 * those publish the whole batch in flush. */
void virtq_packed_fill(struct virtq *q, const struct virtq_token *t, uint32_t len, uint16_t i)
{
	uint16_t slot = q->used_idx;
	bool wrap = q->used_wrap;

	if (!q->desc)
		return;
	if (i == 0)
		q->batch_slots = 0, q->batch_total = 0;
	if (t->head < q->num)
		set_inflight(q, t->head, false);
	if (len > t->in_len)
		len = t->in_len;
	advance(q, &slot, &wrap, q->batch_slots);
	uint8_t *p = slot_ptr(q, slot);
	uint16_t flags = (uint16_t)((wrap ? DESC_F_AVAIL | DESC_F_USED : 0) | (len ? DESC_F_WRITE : 0));
	virtio_put16(q->dev, p + 12, t->head);
	virtio_put32(q->dev, p + 8, len);
	if (i == 0) {
		q->first_slot = slot;
		q->first_flags = flags;
	} else {
		__atomic_store_n((uint16_t *)(p + 14), cpu_to_virtio16(q->dev, flags), __ATOMIC_RELAXED);
	}
	/* Modulo two laps: the same slot and wrap counter, and no overflow. */
	q->batch_slots = (uint16_t)((q->batch_slots + (t->ndescs ? t->ndescs : 1u)) % (2u * q->num));
	q->batch_total += t->ndescs ? t->ndescs : 1u;
}

void virtq_packed_flush(struct virtq *q, uint16_t count)
{
	if (!q->desc || !count)
		return;
	/* Release: ids, lengths, the other elements' flags and the data in
	 * the buffers are visible before the first element's flags. */
	__atomic_store_n((uint16_t *)(slot_ptr(q, q->first_slot) + 14),
			 cpu_to_virtio16(q->dev, q->first_flags), __ATOMIC_RELEASE);
	advance(q, &q->used_idx, &q->used_wrap, q->batch_slots);
	q->batch_slots = 0;
	q->unsignalled = q->unsignalled + q->batch_total < q->unsignalled
				 ? UINT32_MAX : q->unsignalled + q->batch_total;
	q->batch_total = 0;
}

/* ---- notifications (§2.8.10) ---- */

static uint16_t load_event(const struct virtq *q, const void *area, unsigned off)
{
	return virtio16_to_cpu(q->dev, __atomic_load_n((const uint16_t *)((const uint8_t *)area + off),
						       __ATOMIC_RELAXED));
}

/* (slot, wrap) as one position modulo 2 * num: each lap flips the wrap
 * counter, so two consecutive laps are told apart. */
static uint32_t lin(const struct virtq *q, uint16_t slot, bool wrap)
{
	return slot + (wrap ? 0u : q->num);
}

/* Did the used position pass the driver's event position, going from old
 * to new? (vring_need_event, modulo 2 * num.) */
static bool passed(const struct virtq *q, uint32_t event, uint32_t new, uint32_t old)
{
	uint32_t m = 2u * q->num;
	return (new + m - event - 1) % m < (new + m - old) % m;
}

bool virtq_packed_should_notify(struct virtq *q)
{
	if (!q->avail)
		return false;
	/* Our used flags must be visible before we read the driver's
	 * suppression, or both sides can wait on each other. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint32_t old = lin(q, q->signalled_used, q->signalled_wrap);
	uint32_t new = lin(q, q->used_idx, q->used_wrap);
	/* Positions are known modulo two laps only. A device that used two
	 * laps or more since it last looked (a long pass while the driver
	 * refills on another vCPU) cannot tell from them whether it passed
	 * the driver's event, which then may well lie behind it: notify. */
	bool lapped = q->unsignalled >= 2u * q->num;
	q->unsignalled = 0;
	q->signalled_used = q->used_idx;
	q->signalled_wrap = q->used_wrap;
	uint16_t flags = load_event(q, q->avail, EVENT_FLAGS) & 3;
	if (flags == EVENT_F_DISABLE)
		return false;
	if (flags != EVENT_F_DESC || !q->event_idx || lapped)
		return true;      /* ENABLE; DESC without EVENT_IDX means nothing */
	uint16_t ow = load_event(q, q->avail, EVENT_OFF_WRAP);
	uint16_t off = ow & 0x7fff;
	if (off >= q->num)
		return true;      /* a nonsense event: notifying is always safe */
	return passed(q, lin(q, off, ow >> 15), new, old);
}

void virtq_packed_enable_notify(struct virtq *q, bool enable)
{
	uint8_t *ev = q->used;

	if (!ev)
		return;
	if (enable && q->event_idx) {
		/* Kick us once the driver makes the descriptor at our next
		 * slot available. */
		uint16_t ow = (uint16_t)(q->last_avail_idx | (q->avail_wrap ? 0x8000 : 0));
		__atomic_store_n((uint16_t *)(ev + EVENT_OFF_WRAP), cpu_to_virtio16(q->dev, ow),
				 __ATOMIC_RELAXED);
	}
	uint16_t flags = !enable ? EVENT_F_DISABLE : q->event_idx ? EVENT_F_DESC : EVENT_F_ENABLE;
	__atomic_store_n((uint16_t *)(ev + EVENT_FLAGS), cpu_to_virtio16(q->dev, flags),
			 __ATOMIC_RELEASE);
	if (enable)   /* the caller re-checks has_work after this */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

bool virtq_packed_has_work(struct virtq *q)
{
	if (q->broken || !q->desc)
		return false;
	return is_avail(load_flags(q, q->last_avail_idx), q->avail_wrap);
}

/* The chain popped last went over ndescs slots from where the ring is now
 * minus ndescs: step back over them (flipping the wrap counter when that
 * crosses the start of the ring) and take its id out of flight. */
void virtq_packed_unpop(struct virtq *q, uint16_t head, uint16_t ndescs)
{
	uint32_t n;

	if (!q->num)
		return;
	n = ndescs <= q->num ? ndescs : q->num;   /* a chain is at most the ring */
	if (n > q->last_avail_idx) {
		q->last_avail_idx = (uint16_t)(q->last_avail_idx + q->num - n);
		q->avail_wrap = !q->avail_wrap;
	} else {
		q->last_avail_idx = (uint16_t)(q->last_avail_idx - n);
	}
	if (head < q->num)
		set_inflight(q, head, false);
}

void virtq_packed_view(struct virtq *q, struct virtq_view *v)
{
	v->avail_wrap = q->avail_wrap;
	v->used_wrap = q->used_wrap;
	v->signalled_wrap = q->signalled_wrap;
	for (uint32_t i = 0; i < q->num && i < VIRTQ_PACKED_MAX_SIZE; i++)
		v->in_flight += inflight(q, (uint16_t)i);
	if (!q->desc || !q->avail || !q->used)
		return;
	v->next_flags = load_flags(q, q->last_avail_idx);
	v->drv_flags = load_event(q, q->avail, EVENT_FLAGS);
	v->drv_event = load_event(q, q->avail, EVENT_OFF_WRAP);
	v->dev_flags = load_event(q, q->used, EVENT_FLAGS);
	v->dev_event = load_event(q, q->used, EVENT_OFF_WRAP);
}
