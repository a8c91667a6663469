/* Virtqueues, device side: one small interface over the split and packed
 * layouts (virtio 1.2 §2.7, §2.8), chosen per queue at activation from the
 * negotiated features and dispatched with a switch over a const ops table.
 * Every guest-supplied value is checked before use. */
#ifndef KVMINI_DEVICES_VIRTQ_H
#define KVMINI_DEVICES_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct virtio_dev;

#define VIRTQ_MAX_SIZE 32768
/* Most segments one request may carry (bounded by the queue size too: a
 * driver may not make a chain longer than the queue, virtio 1.2 §2.7.5.3.1,
 * so a device sizes its elements by its largest queue). */
#define VIRTQ_MAX_SEGS 1024
/* Largest packed ring: the ids in flight are tracked in a bitmap this big. */
#define VIRTQ_PACKED_MAX_SIZE 1024

enum virtq_layout { VIRTQ_SPLIT = 0, VIRTQ_PACKED = 1 };

/* One popped descriptor chain: out (device-readable) segments first, then in
 * (device-writable) segments, as host pointers validated against guest RAM. */
struct virtq_elem {
	uint16_t head;                /* id to hand back in push */
	uint16_t ndescs;              /* descriptors consumed (packed: ring slots) */
	uint32_t nout, nin;
	uint64_t out_len, in_len;     /* totals in bytes */
	uint32_t cap;                 /* iov[] holds this many; a longer chain is refused */
	struct iovec *iov;            /* [0, nout) out, [nout, nout+nin) in */
};

/* An element for chains of up to max_segs segments (capped at
 * VIRTQ_MAX_SEGS), in one allocation; free() frees it. NULL when out of
 * memory. */
struct virtq_elem *virtq_elem_new(uint32_t max_segs);
/* The same over storage the caller owns (tests, fixed buffers). */
static inline void virtq_elem_init(struct virtq_elem *e, struct iovec *iov, uint32_t n)
{
	e->iov = iov;
	e->cap = n < VIRTQ_MAX_SEGS ? n : VIRTQ_MAX_SEGS;
}

/* What handing a chain back needs, kept while a request is in flight so the
 * (large) element can be reused at once. */
struct virtq_token {
	uint16_t head;
	uint16_t ndescs;
	uint32_t in_len;              /* the chain's writable bytes: the most len may claim */
};

static inline struct virtq_token virtq_token_of(const struct virtq_elem *e)
{
	return (struct virtq_token){ e->head, e->ndescs, (uint32_t)e->in_len };
}

struct virtq {
	struct virtio_dev *dev;
	uint16_t index;
	uint16_t num_max;             /* device maximum */
	uint16_t num;                 /* size set by the driver */
	bool ready;                   /* modern QueueReady / legacy PFN != 0 */
	enum virtq_layout layout;
	bool event_idx, indirect;
	uint64_t desc_gpa, avail_gpa, used_gpa;   /* packed: desc, driver, device areas */
	/* Host views of the rings, validated at virtq_start(). */
	void *desc, *avail, *used;
	/* Device state */
	uint16_t last_avail_idx;      /* split: next avail index to read */
	uint16_t used_idx;            /* split: our used->idx */
	uint16_t signalled_used;      /* EVENT_IDX bookkeeping */
	bool signalled_used_valid;
	bool broken;                  /* a malformed chain was seen */
	/* packed layout (§2.8): wrap counters, the batch being filled, the
	 * ids in flight */
	bool avail_wrap, used_wrap, signalled_wrap, packed_started;
	uint16_t batch_slots, first_slot, first_flags;
	/* Slots used since the last should_notify, counted in full (the
	 * positions above only count modulo two laps). */
	uint32_t batch_total, unsignalled;
	uint8_t inflight[VIRTQ_PACKED_MAX_SIZE / 8];
	/* snapshot restore (virtio_state.c): the rings were mapped when saved */
	bool mapped_on_load;
};

/* Resets q to its power-on state (not ready, no addresses, size num_max). */
void virtq_reset(struct virtq *q);
/* Picks the layout, event_idx and indirect from the negotiated features of
 * q->dev, checks the size (split: a power of two; packed: up to
 * VIRTQ_PACKED_MAX_SIZE; both within num_max) and maps the rings from guest
 * memory. Keeps last_avail_idx/used_idx (zeroed by reset). 0, or -EINVAL
 * (bad size, rings outside RAM, misaligned). */
int virtq_start(struct virtq *q);

/* 1: elem filled; 0: nothing available; -EINVAL: malformed chain (the queue
 * is marked broken and the caller should virtio_set_needs_reset()). */
int virtq_pop(struct virtq *q, struct virtq_elem *e);
/* Returns the chain to the driver with len bytes written to its in-segments. */
void virtq_push(struct virtq *q, const struct virtq_elem *e, uint32_t len);
/* The same in two steps, for a result spread over several chains (a
 * received frame across mergeable buffers): fill writes used element i of
 * the batch without publishing it; flush(count) publishes count elements at
 * once, so the driver never sees part of the batch. */
void virtq_fill(struct virtq *q, const struct virtq_elem *e, uint32_t len, uint16_t i);
void virtq_flush(struct virtq *q, uint16_t count);
/* fill for a chain popped earlier (asynchronous completion). */
void virtq_fill_token(struct virtq *q, const struct virtq_token *t, uint32_t len, uint16_t i);
/* After one or more pushes: must the driver be interrupted? (§2.7.10 with
 * EVENT_IDX, else the NO_INTERRUPT flag.) Updates bookkeeping. */
bool virtq_should_notify(struct virtq *q);
/* Ask the driver to (not) kick us: flags / avail_event. */
void virtq_enable_notify(struct virtq *q, bool enable);
/* Anything to pop? */
bool virtq_has_work(struct virtq *q);
/* Gives back the chain popped last (head, ndescs as the element had them),
 * as if it had never been taken: the driver's buffers go back to the ring
 * unused. Chains held across a snapshot are given back this way, newest
 * first. */
void virtq_unpop(struct virtq *q, uint16_t head, uint16_t ndescs);

/* A queue as both sides see it now, for diagnosis (kvmini ctl SOCK queues):
 * the device's own positions and the driver's suppression fields read from
 * the rings. Read-only: nothing here changes the queue. Split: avail_idx is
 * the driver's avail->idx, used_ring_idx our used->idx as the ring holds it,
 * drv_flags avail->flags, drv_event used_event, dev_flags used->flags,
 * dev_event avail_event. Packed: next_flags are the flags of the slot we
 * take next, drv_* and dev_* the two event-suppression structures (flags,
 * off_wrap). */
struct virtq_view {
	bool ready, mapped, broken, packed, event_idx, indirect;
	uint16_t num;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t last_avail, used;         /* split: indexes; packed: slots */
	bool avail_wrap, used_wrap;        /* packed */
	uint16_t signalled;
	bool signalled_valid, signalled_wrap;
	uint32_t in_flight;                /* packed: ids taken and not returned */
	bool has_work;
	uint16_t avail_idx, used_ring_idx; /* split */
	uint16_t next_flags;               /* packed */
	uint16_t drv_flags, drv_event, dev_flags, dev_event;
};
void virtq_view(struct virtq *q, struct virtq_view *v);

/* ---- layout back-ends: internal to virtq*.c, devices use the above ---- */
/* Marks q broken with a warning naming why; returns -EINVAL. */
int virtq_broken(struct virtq *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends one guest buffer to e after checking it (non-empty, inside RAM,
 * readable before writable, bounded counts and total). 0 or virtq_broken. */
int virtq_add_segment(struct virtq *q, struct virtq_elem *e, uint64_t addr, uint32_t len,
		      bool writable);
int virtq_split_start(struct virtq *q);
int virtq_split_pop(struct virtq *q, struct virtq_elem *e);
void virtq_split_fill(struct virtq *q, const struct virtq_token *t, uint32_t len, uint16_t i);
void virtq_split_flush(struct virtq *q, uint16_t count);
bool virtq_split_should_notify(struct virtq *q);
void virtq_split_enable_notify(struct virtq *q, bool enable);
bool virtq_split_has_work(struct virtq *q);
void virtq_split_view(struct virtq *q, struct virtq_view *v);
int virtq_packed_start(struct virtq *q);
int virtq_packed_pop(struct virtq *q, struct virtq_elem *e);
void virtq_packed_fill(struct virtq *q, const struct virtq_token *t, uint32_t len, uint16_t i);
void virtq_packed_flush(struct virtq *q, uint16_t count);
bool virtq_packed_should_notify(struct virtq *q);
void virtq_packed_enable_notify(struct virtq *q, bool enable);
bool virtq_packed_has_work(struct virtq *q);
void virtq_packed_view(struct virtq *q, struct virtq_view *v);
void virtq_packed_unpop(struct virtq *q, uint16_t head, uint16_t ndescs);

#endif
