/* Between blk.c (the device and its queues) and blk_req.c (what one request
 * asks for); not for anything else. */
#ifndef KVMINI_DEVICES_VIRTIO_BLK_INTERNAL_H
#define KVMINI_DEVICES_VIRTIO_BLK_INTERNAL_H

#include "virtio/blk.h"

#define BLK_INLINE_IOVS 4

/* A DISCARD / WRITE_ZEROES segment, as copied out of guest memory. */
struct blk_dwz_seg {
	uint64_t sector;
	uint32_t num, flags;
};

/* A request from pop to completion. Everything the guest supplied that the
 * device acts on (header, segments) is copied in here once and checked
 * here; only the data buffers stay in guest memory, as they must. */
struct blk_req {
	struct blk_aio_req aio;       /* the operation in flight */
	struct virtio_blk_queue *q;
	struct virtq_token tok;
	uint8_t *status;              /* the chain's status byte (host pointer) */
	uint32_t type;
	uint32_t data_len;            /* IN: bytes the device writes on success */
	struct blk_dwz_seg *segs;     /* DISCARD / WRITE_ZEROES: heap, <= 32 */
	uint16_t nseg, seg;           /* segments, and the one in flight */
	struct iovec *iov;            /* data segments: iov_inline, or grown heap */
	uint32_t iov_cap;
	struct iovec iov_inline[BLK_INLINE_IOVS];
	struct blk_req *next_free;
};

enum blk_parse {
	BLK_PARSE_SUBMIT,             /* r->aio is ready for the engine */
	BLK_PARSE_DONE,               /* answered already: *status holds the status */
};

/* Reads the chain e into r (already holding tok and status). Returns
 * BLK_PARSE_SUBMIT or BLK_PARSE_DONE (status in *st), or -EINVAL for a
 * chain that cannot carry a request at all (no header, no status byte):
 * the caller drops it and sets NEEDS_RESET. -ENOMEM: answer IOERR. */
int blk_req_parse(struct virtio_blk *b, struct blk_req *r, const struct virtq_elem *e,
		  uint8_t *st);
/* A DISCARD / WRITE_ZEROES segment finished well: prepare the next one.
 * false when it was the last. */
bool blk_req_next_seg(struct virtio_blk *b, struct blk_req *r);
/* The status the finished request answers, and the stats it counts. */
uint8_t blk_req_finish(struct virtio_blk *b, struct blk_req *r);
/* Frees what parse allocated for r (the segments). */
void blk_req_release(struct blk_req *r);

#endif
