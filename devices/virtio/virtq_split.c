/* Split virtqueues, device side (virtio 1.2 §2.7). The guest writes the
 * descriptor table and the available ring while we read them, so every value
 * is read once into a local, converted with the device's byte order
 * (virtio16/32/64: a legacy big-endian device has big-endian rings) and
 * checked before use. Ring memory was validated against guest RAM at
 * virtq_split_start(); buffers are validated per descriptor with gm_ptr(). */
#include "virtio/virtq.h"

#include <errno.h>
#include <string.h>

#include "virtio/virtio.h"

#define VRING_DESC_F_NEXT           1
#define VRING_DESC_F_WRITE          2
#define VRING_DESC_F_INDIRECT       4
#define VRING_AVAIL_F_NO_INTERRUPT  1
#define VRING_USED_F_NO_NOTIFY      1

#define DESC_SIZE 16u
/* Offsets inside the rings (§2.7.6, §2.7.8). */
#define AVAIL_FLAGS 0
#define AVAIL_IDX   2
#define AVAIL_RING  4u              /* u16 ring[num]; then u16 used_event */
#define USED_FLAGS  0
#define USED_IDX    2
#define USED_RING   4u              /* {u32 id, u32 len} ring[num]; then u16 avail_event */
#define USED_ELEM   8u

/* A descriptor as read from the guest, in host order. */
struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

/* ---- guest-shared memory access ---- */

static inline uint16_t load16(const struct virtq *q, const uint8_t *p, int order)
{
	return virtio16_to_cpu(q->dev, __atomic_load_n((const uint16_t *)p, order));
}

static inline void store16(const struct virtq *q, uint8_t *p, uint16_t v, int order)
{
	__atomic_store_n((uint16_t *)p, cpu_to_virtio16(q->dev, v), order);
}

static inline uint16_t avail_idx_acquire(const struct virtq *q)
{
	/* Acquire: ring entries and descriptors are read after the index
	 * that published them (§2.7.13 driver side pairs with a write barrier). */
	return load16(q, (const uint8_t *)q->avail + AVAIL_IDX, __ATOMIC_ACQUIRE);
}

/* Read descriptor i of a table once: the guest may rewrite it under us, and
 * a second fetch after the checks would defeat them. The compiler barrier
 * keeps the compiler from replacing the local copy with new loads. */
static void read_desc(const struct virtq *q, const uint8_t *table, uint32_t i, struct desc *out)
{
	uint8_t raw[DESC_SIZE];

	memcpy(raw, table + (size_t)i * DESC_SIZE, DESC_SIZE);
	__asm__ __volatile__("" ::: "memory");
	out->addr = virtio_get64(q->dev, raw);
	out->len = virtio_get32(q->dev, raw + 8);
	out->flags = virtio_get16(q->dev, raw + 12);
	out->next = virtio_get16(q->dev, raw + 14);
}

/* ---- start ---- */

int virtq_split_start(struct virtq *q)
{
	const struct guest_mem *gm = q->dev->mem;
	uint32_t num = q->num;

	/* §2.7: power-of-two size (mmio/pci also cap it at QueueNumMax). */
	if (num == 0 || num > q->num_max || num > VIRTQ_MAX_SIZE || (num & (num - 1)))
		return -EINVAL;
	/* §2.7 table "Virtqueue Part Alignment": 16, 2 and 4 bytes. */
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
		return -EINVAL;
	q->desc = gm_ptr(gm, q->desc_gpa, DESC_SIZE * num);
	q->avail = gm_ptr(gm, q->avail_gpa, 6 + 2 * num);
	q->used = gm_ptr(gm, q->used_gpa, 6 + USED_ELEM * num);
	/* The host mapping must keep the alignment for atomic 16-bit access. */
	if (!q->desc || !q->avail || !q->used ||
	    ((uintptr_t)q->avail & 1) || ((uintptr_t)q->used & 3)) {
		q->desc = q->avail = q->used = NULL;
		return -EINVAL;
	}
	return 0;
}

/* ---- pop ---- */

/* §2.7.5.3: an indirect table of len/16 descriptors, starting at entry 0,
 * that may not itself contain an indirect descriptor. */
static int walk_indirect(struct virtq *q, struct virtq_elem *e, const struct desc *ind)
{
	uint32_t n = ind->len / DESC_SIZE, i = 0, count = 0;
	const uint8_t *table;
	struct desc dd;
	int rc;

	if (!q->indirect)
		return virtq_broken(q, "indirect descriptor not negotiated");
	if (ind->flags & VRING_DESC_F_NEXT)
		return virtq_broken(q, "indirect descriptor with NEXT");
	if (ind->len == 0 || ind->len % DESC_SIZE)
		return virtq_broken(q, "indirect table length %u", ind->len);
	table = gm_ptr(q->dev->mem, ind->addr, ind->len);
	if (!table)
		return virtq_broken(q, "indirect table 0x%llx+0x%x outside RAM",
			      (unsigned long long)ind->addr, ind->len);
	for (;;) {
		/* More visits than entries means a loop. */
		if (count++ >= n)
			return virtq_broken(q, "indirect chain loops");
		read_desc(q, table, i, &dd);
		if (dd.flags & VRING_DESC_F_INDIRECT)
			return virtq_broken(q, "nested indirect descriptor");
		rc = virtq_add_segment(q, e, dd.addr, dd.len, dd.flags & VRING_DESC_F_WRITE);
		if (rc)
			return rc;
		if (!(dd.flags & VRING_DESC_F_NEXT))
			return 0;
		if (dd.next >= n)
			return virtq_broken(q, "indirect next %u beyond table of %u", dd.next, n);
		i = dd.next;
	}
}

/* Walks the chain at head: zero or more direct descriptors, optionally ended
 * by one indirect descriptor (§2.7.5.3.2: the device MUST handle that). */
static int walk_chain(struct virtq *q, uint16_t head, struct virtq_elem *e)
{
	uint32_t num = q->num, i = head, count = 0;
	struct desc dd;
	int rc;

	e->head = head;
	e->nout = e->nin = 0;
	e->out_len = e->in_len = 0;
	for (;;) {
		/* §2.7.5.2: no chain is longer than the queue: this bounds
		 * loops too. */
		if (count++ >= num)
			return virtq_broken(q, "chain from head %u loops or exceeds %u", head, num);
		read_desc(q, q->desc, i, &dd);
		if (dd.flags & VRING_DESC_F_INDIRECT) {
			rc = walk_indirect(q, e, &dd);
			break;
		}
		rc = virtq_add_segment(q, e, dd.addr, dd.len, dd.flags & VRING_DESC_F_WRITE);
		if (rc || !(dd.flags & VRING_DESC_F_NEXT))
			break;
		if (dd.next >= num)
			return virtq_broken(q, "next %u beyond queue size %u", dd.next, num);
		i = dd.next;
	}
	e->ndescs = (uint16_t)count;
	return rc;
}

int virtq_split_pop(struct virtq *q, struct virtq_elem *e)
{
	uint16_t avail_idx, pending, head;
	int rc;

	if (q->broken)
		return -EINVAL;
	if (!q->avail)
		return 0;
	avail_idx = avail_idx_acquire(q);
	pending = (uint16_t)(avail_idx - q->last_avail_idx);
	if (pending == 0)
		return 0;
	if (pending > q->num)
		return virtq_broken(q, "avail idx %u is %u ahead of %u (size %u)",
			      avail_idx, pending, q->last_avail_idx, q->num);
	head = load16(q, (const uint8_t *)q->avail + AVAIL_RING +
		      2u * (q->last_avail_idx & (q->num - 1)), __ATOMIC_RELAXED);
	if (head >= q->num)
		return virtq_broken(q, "head %u beyond queue size %u", head, q->num);
	rc = walk_chain(q, head, e);
	if (rc)
		return rc;
	q->last_avail_idx++;
	return 1;
}

/* ---- push and notifications ---- */

void virtq_split_fill(struct virtq *q, const struct virtq_token *t, uint32_t len, uint16_t i)
{
	uint8_t *el;

	if (!q->used)
		return;
	/* §2.7.8.2: never claim more than the writable part. */
	if (len > t->in_len)
		len = t->in_len;
	el = (uint8_t *)q->used + USED_RING + USED_ELEM * ((uint16_t)(q->used_idx + i) & (q->num - 1u));
	virtio_put32(q->dev, el, t->head);
	virtio_put32(q->dev, el + 4, len);
}

void virtq_split_flush(struct virtq *q, uint16_t count)
{
	uint16_t old = q->used_idx, new = (uint16_t)(old + count);

	if (!q->used || !count)
		return;
	/* Release: the elements (and the data written into the buffers) are
	 * visible before the index that publishes them. */
	store16(q, (uint8_t *)q->used + USED_IDX, new, __ATOMIC_RELEASE);
	q->used_idx = new;
	/* If signalled_used fell more than 2^15 behind, the 16-bit comparison
	 * in should_notify can no longer be trusted: force the next signal. */
	if ((int16_t)(new - q->signalled_used) < (uint16_t)(new - old))
		q->signalled_used_valid = false;
}

/* §2.7.10: interrupt iff used_event lies in [old, new) (Linux's
 * vring_need_event, modulo 2^16). */
static inline bool need_event(uint16_t event, uint16_t new, uint16_t old)
{
	return (uint16_t)(new - event - 1) < (uint16_t)(new - old);
}

bool virtq_split_should_notify(struct virtq *q)
{
	uint16_t old, event;
	bool valid;

	if (!q->avail)
		return false;
	/* Our used->idx store must be visible before we read the driver's
	 * suppression fields, or both sides can wait on each other. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	old = q->signalled_used;
	valid = q->signalled_used_valid;
	q->signalled_used = q->used_idx;
	q->signalled_used_valid = true;
	if (!q->event_idx)
		return !(load16(q, (const uint8_t *)q->avail + AVAIL_FLAGS, __ATOMIC_RELAXED) &
			 VRING_AVAIL_F_NO_INTERRUPT);
	event = load16(q, (const uint8_t *)q->avail + AVAIL_RING + 2u * q->num, __ATOMIC_RELAXED);
	return !valid || need_event(event, q->used_idx, old);
}

void virtq_split_enable_notify(struct virtq *q, bool enable)
{
	if (!q->used)
		return;
	if (!q->event_idx)
		store16(q, (uint8_t *)q->used + USED_FLAGS, enable ? 0 : VRING_USED_F_NO_NOTIFY,
			__ATOMIC_RELAXED);
	else if (enable)   /* §2.7.10: kick us when avail idx passes this */
		store16(q, (uint8_t *)q->used + USED_RING + USED_ELEM * q->num,
			q->last_avail_idx, __ATOMIC_RELAXED);
	/* With EVENT_IDX there is no way to switch kicks off; leaving
	 * avail_event behind suppresses them until the driver passes it. */
	if (enable)   /* the caller re-checks has_work after this */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

bool virtq_split_has_work(struct virtq *q)
{
	if (q->broken || !q->avail)
		return false;
	return avail_idx_acquire(q) != q->last_avail_idx;
}

void virtq_split_view(struct virtq *q, struct virtq_view *v)
{
	if (!q->avail || !q->used)
		return;
	v->avail_idx = load16(q, (const uint8_t *)q->avail + AVAIL_IDX, __ATOMIC_ACQUIRE);
	v->drv_flags = load16(q, (const uint8_t *)q->avail + AVAIL_FLAGS, __ATOMIC_RELAXED);
	v->drv_event = load16(q, (const uint8_t *)q->avail + AVAIL_RING + 2u * q->num,
			      __ATOMIC_RELAXED);
	v->used_ring_idx = load16(q, (const uint8_t *)q->used + USED_IDX, __ATOMIC_RELAXED);
	v->dev_flags = load16(q, (const uint8_t *)q->used + USED_FLAGS, __ATOMIC_RELAXED);
	v->dev_event = load16(q, (const uint8_t *)q->used + USED_RING + USED_ELEM * q->num,
			      __ATOMIC_RELAXED);
}
