/* The guest side of a virtqueue, for the fuzz targets: a driver that lays
 * out chains in split or packed rings in guest RAM (little-endian, or
 * big-endian for a legacy split ring), written byte by byte independently
 * of the device's accessors.
 *
 * Two ways to be a driver:
 * - sane (fvq.sane): descriptors and buffer ids are allocated and freed as
 *   the device hands chains back, as a correct driver does; the contents of
 *   a chain (addresses, lengths, flags, order, indirect tables) are still
 *   whatever the caller asks. The driver then checks the device: every used
 *   element names a chain it made available and not yet got back, and
 *   claims no more bytes than the chain could take.
 * - hostile (sane false): descriptors are overwritten round-robin whatever
 *   the device holds, ids are the caller's. Ring-level attacks for the
 *   virtqueue targets. */
#ifndef KVMINI_FUZZ_VQ_H
#define KVMINI_FUZZ_VQ_H

#include "fuzz_common.h"

#define FVQ_MAX 1024           /* ring entries tracked */
#define FVQ_MAX_SEGS 64        /* segments per chain the driver builds */

#define VRING_F_NEXT     1u
#define VRING_F_WRITE    2u
#define VRING_F_INDIRECT 4u
#define PACKED_F_AVAIL   (1u << 7)
#define PACKED_F_USED    (1u << 15)

struct fvq_seg {
	uint64_t addr;
	uint32_t len;
	bool write;
};

struct fvq {
	struct fuzz_ram *m;
	bool packed, be, sane;
	uint16_t num;
	uint64_t desc, avail, used;     /* packed: ring, driver and device event areas */
	uint64_t ind_base, ind_size;    /* where indirect tables go (round robin) */
	uint64_t ind_next;
	/* split */
	uint16_t avail_idx, used_seen;
	uint16_t free_head[FVQ_MAX];    /* sane: stack of free descriptors */
	uint16_t nfree;
	uint16_t rr;                    /* hostile: next descriptor */
	/* packed */
	uint16_t slot, used_slot;
	bool wrap, used_wrap;
	uint16_t free_ids[FVQ_MAX], nfree_ids;
	uint16_t slots_out;             /* ring slots the device holds */
	/* per chain (split: by head; packed: by id) */
	uint16_t chain_desc[FVQ_MAX][FVQ_MAX_SEGS];   /* split: descriptors of the chain */
	uint16_t chain_n[FVQ_MAX];
	uint32_t chain_in[FVQ_MAX];     /* writable bytes */
	bool outstanding[FVQ_MAX];
	/* packed: a chain written, its first flags not yet (publish) */
	bool pending;
	uint16_t pending_slot, pending_flags;
};

/* Where a target's chains may point: buffers, the second region, the end
 * of the first region; meta: rings and indirect tables, which a sane
 * driver never hands to the device as a buffer. */
struct fvq_layout {
	uint64_t buf, buf_size, r1, r1_size, r0_end, meta, meta_size;
};

/* A segment address from the input: u8 kind % 4 -- a buffer (u16 offset),
 * the second region (u16 offset), just below the end of the first region
 * (u8 distance), a raw u64 (for a sane driver, moved to the buffers if it
 * falls on the rings). */
uint64_t fvq_seg_addr(struct fz *f, const struct fvq_layout *L, bool sane);
/* n segments from the input: address, u16 length, u8 bit 0 writable. */
void fvq_read_segs(struct fz *f, const struct fvq_layout *L, bool sane, struct fvq_seg *s,
		   unsigned n);

/* Lays out the rings' addresses and resets the driver state; ind_base /
 * ind_size: RAM for indirect tables (a sane driver uses indirect tables,
 * of up to 8 descriptors, only with 128 bytes per ring entry there). */
void fvq_init(struct fvq *q, struct fuzz_ram *m, bool packed, bool be, bool sane, uint16_t num,
	      uint64_t desc, uint64_t avail, uint64_t used, uint64_t ind_base, uint64_t ind_size);
/* Adds a chain of n segments (through one indirect table if indirect).
 * flag_xor is XORed into every descriptor's flags (hostile variations: a
 * stray NEXT, INDIRECT, WRITE), id (packed, hostile) the buffer id. The
 * split ring's avail idx, the packed ring's first flags are written by
 * fvq_publish (now if publish). Returns the head / id, or -1 when the sane
 * driver has no room. */
int fvq_add(struct fvq *q, const struct fvq_seg *s, unsigned n, bool indirect, uint16_t flag_xor,
	    uint16_t id, bool publish);
void fvq_publish(struct fvq *q);
/* Reads what the device used since last time; sane: checks each element
 * (FZ_CHECK) and frees its chain. Returns how many. */
int fvq_collect(struct fvq *q);
/* Ask for interrupts (or not), and where (EVENT_IDX: used_event / the
 * driver event suppression structure). */
void fvq_set_interrupts(struct fvq *q, bool on, bool event_idx, uint16_t event);

#endif
