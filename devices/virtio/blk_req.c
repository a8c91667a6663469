/* One virtio-blk request (virtio 1.2 §5.2.6): what the chain asks for, as an
 * operation for the block engine, or an answer given at once.
 *
 * Every request field is guest input and is read from guest memory once:
 * the header is gathered into a local copy (it may straddle descriptors),
 * DISCARD / WRITE_ZEROES segments are copied into the request before any is
 * checked, and everything after acts on the copies -- a second vCPU that
 * rewrites the ring or the segments meanwhile changes nothing. Sector
 * ranges are checked against the capacity without overflow before any host
 * I/O. */
#define _GNU_SOURCE
#include "virtio/blk_internal.h"

#include "iov.h"

#include <errno.h>
#include <limits.h>
#include <sys/uio.h>

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif
#include <stdlib.h>
#include <string.h>

#define SECTOR_SHIFT 9
#define HDR_SIZE 16u     /* le32 type, le32 reserved (ioprio), le64 sector */
#define DWZ_SIZE 16u     /* le64 sector, le32 num_sectors, le32 flags */

static uint64_t capacity_sectors(const struct virtio_blk *b)
{
	return b->backend->size >> SECTOR_SHIFT;
}

/* [sector, sector + nsec) inside the disk, written so nothing can wrap:
 * sector * 512 is only computed once sector <= capacity. */
static bool sectors_ok(const struct virtio_blk *b, uint64_t sector, uint64_t nsec)
{
	uint64_t cap = capacity_sectors(b);
	return sector <= cap && nsec <= cap - sector;
}

static uint32_t le32_at(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64_at(const uint8_t *p)
{
	return (uint64_t)le32_at(p) | (uint64_t)le32_at(p + 4) << 32;
}

/* Room for n data iovecs in r: the inline ones, or a heap array that the
 * slot keeps for its next requests (no allocation in the steady state). */
static int reserve_iov(struct blk_req *r, uint32_t n)
{
	if (n <= BLK_INLINE_IOVS) {
		if (r->iov_cap <= BLK_INLINE_IOVS) {
			r->iov = r->iov_inline;
			r->iov_cap = BLK_INLINE_IOVS;
		}
		return 0;
	}
	if (n <= r->iov_cap)
		return 0;
	struct iovec *v = r->iov_cap > BLK_INLINE_IOVS ? r->iov : NULL;
	v = realloc(v, n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	r->iov = v;
	r->iov_cap = n;
	return 0;
}

/* IN / OUT: the data is the in-segments minus the status byte, or the
 * out-segments after the header. */
static int parse_rw(struct virtio_blk *b, struct blk_req *r, const struct virtq_elem *e,
		    bool write, uint64_t sector, uint8_t *st)
{
	struct virtio_dev *d = &b->vdev;
	const char *what = write ? "write" : "read";
	uint64_t len = write ? e->out_len - HDR_SIZE : e->in_len - 1;
	uint32_t nseg = write ? e->nout : e->nin;

	/* §5.2.6.1: data is a multiple of 512 bytes */
	if (len % VIRTIO_BLK_SECTOR_SIZE) {
		virtio_warn(d, "%s of %llu bytes: not a multiple of 512", what,
			    (unsigned long long)len);
		*st = VIRTIO_BLK_S_IOERR;
		return BLK_PARSE_DONE;
	}
	/* §5.2.6.1: "A driver MUST NOT submit a request which would cause a
	 * read or write beyond capacity." */
	if (!sectors_ok(b, sector, len >> SECTOR_SHIFT)) {
		virtio_warn(d, "%s of sectors [%llu,+%llu) beyond capacity %llu", what,
			    (unsigned long long)sector, (unsigned long long)(len >> SECTOR_SHIFT),
			    (unsigned long long)capacity_sectors(b));
		*st = VIRTIO_BLK_S_IOERR;
		return BLK_PARSE_DONE;
	}
	if (nseg > IOV_MAX || reserve_iov(r, nseg)) {
		*st = VIRTIO_BLK_S_IOERR;
		return BLK_PARSE_DONE;
	}
	int n = write ? iov_slice(r->iov, e->iov, e->nout, HDR_SIZE, len)
		      : iov_slice(r->iov, e->iov + e->nout, e->nin, 0, len);
	r->aio = (struct blk_aio_req){ .op = write ? BLK_AIO_WRITE : BLK_AIO_READ, .iov = r->iov,
				       .iovcnt = n, .off = sector << SECTOR_SHIFT, .len = len };
	/* The chain's total is below 4 GiB (the queue refuses larger ones),
	 * so this and the used length (data_len + 1) fit 32 bits. */
	r->data_len = write ? 0 : (uint32_t)len;
	return BLK_PARSE_SUBMIT;
}

/* GET_ID: the serial, NUL-padded to 20 bytes, no terminator if 20 long. */
static int do_get_id(struct virtio_blk *b, struct blk_req *r, const struct virtq_elem *e,
		     uint8_t *st)
{
	uint8_t id[VIRTIO_BLK_ID_BYTES] = { 0 };
	uint64_t len = e->in_len - 1;

	memcpy(id, b->serial, strnlen(b->serial, sizeof(id)));
	if (len > sizeof(id))
		len = sizeof(id);
	iov_from_buf(e->iov + e->nout, e->nin, 0, id, len);
	r->data_len = (uint32_t)len;
	b->stats.get_ids++;
	*st = VIRTIO_BLK_S_OK;
	return BLK_PARSE_DONE;
}

static void seg_to_aio(struct virtio_blk *b, struct blk_req *r)
{
	const struct blk_dwz_seg *s = &r->segs[r->seg];
	enum blk_aio_op op = BLK_AIO_DISCARD;

	if (r->type == VIRTIO_BLK_T_WRITE_ZEROES)
		op = s->flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP ? BLK_AIO_WRITE_ZEROES_UNMAP
								   : BLK_AIO_WRITE_ZEROES;
	r->aio = (struct blk_aio_req){ .op = op, .off = s->sector << SECTOR_SHIFT,
				       .len = (uint64_t)s->num << SECTOR_SHIFT };
}

/* DISCARD / WRITE_ZEROES. The segments are le64/le32 in every mode: the
 * spec declares them le (§5.2.6) and Linux fills them with cpu_to_le*,
 * legacy or not (as QEMU reads them). They are copied out of the chain
 * first, all checked, and only the copies are executed, one at a time. */
static int parse_dwz(struct virtio_blk *b, struct blk_req *r, const struct virtq_elem *e,
		     uint8_t *st)
{
	struct virtio_dev *d = &b->vdev;
	bool wz = r->type == VIRTIO_BLK_T_WRITE_ZEROES;
	const char *what = wz ? "write-zeroes" : "discard";
	uint64_t len = e->out_len - HDR_SIZE, nseg = len / DWZ_SIZE;
	uint8_t raw[VIRTIO_BLK_MAX_DWZ_SEG * DWZ_SIZE];
	uint32_t allowed = wz ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0;

	*st = VIRTIO_BLK_S_IOERR;
	if (len == 0 || len % DWZ_SIZE || nseg > VIRTIO_BLK_MAX_DWZ_SEG) {
		virtio_warn(d, "%s with %llu bytes of segments", what, (unsigned long long)len);
		return BLK_PARSE_DONE;
	}
	if (iov_to_buf(e->iov, e->nout, HDR_SIZE, raw, len) != len)
		return BLK_PARSE_DONE;
	r->segs = malloc(nseg * sizeof(*r->segs));
	if (!r->segs)
		return BLK_PARSE_DONE;
	r->nseg = (uint16_t)nseg;
	r->seg = 0;
	for (uint64_t i = 0; i < nseg; i++) {
		struct blk_dwz_seg *s = &r->segs[i];
		const uint8_t *p = raw + i * DWZ_SIZE;
		*s = (struct blk_dwz_seg){ le64_at(p), le32_at(p + 8), le32_at(p + 12) };
		/* §5.2.6.2: unknown flags, or UNMAP on a discard: UNSUPP. */
		if (s->flags & ~allowed) {
			*st = VIRTIO_BLK_S_UNSUPP;
			return BLK_PARSE_DONE;
		}
		if (s->num > VIRTIO_BLK_MAX_DWZ_SECTORS || !sectors_ok(b, s->sector, s->num)) {
			virtio_warn(d, "%s of sectors [%llu,+%u) refused", what,
				    (unsigned long long)s->sector, s->num);
			return BLK_PARSE_DONE;
		}
	}
	seg_to_aio(b, r);
	return BLK_PARSE_SUBMIT;
}

bool blk_req_next_seg(struct virtio_blk *b, struct blk_req *r)
{
	if (!r->segs || r->seg + 1 >= r->nseg)
		return false;
	r->seg++;
	seg_to_aio(b, r);
	return true;
}

static int dispatch(struct virtio_blk *b, struct blk_req *r, const struct virtq_elem *e,
		    uint64_t sector, uint8_t *st)
{
	struct virtio_dev *d = &b->vdev;
	bool ro = b->backend->readonly;

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		return parse_rw(b, r, e, false, sector, st);
	case VIRTIO_BLK_T_OUT:
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		/* §5.2.6.2: with RO offered, a write gets IOERR and writes
		 * nothing. */
		if (ro) {
			*st = VIRTIO_BLK_S_IOERR;
			return BLK_PARSE_DONE;
		}
		if (r->type == VIRTIO_BLK_T_OUT)
			return parse_rw(b, r, e, true, sector, st);
		if (!virtio_has_feature(d, r->type == VIRTIO_BLK_T_DISCARD
					       ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES))
			break;
		return parse_dwz(b, r, e, st);
	case VIRTIO_BLK_T_FLUSH_OUT:
		if (!d->legacy)
			break;
		/* fall through */
	case VIRTIO_BLK_T_FLUSH:
		/* fdatasync covers every write that completed before it: all
		 * the driver may count on (§5.2.6). */
		r->type = VIRTIO_BLK_T_FLUSH;
		r->aio = (struct blk_aio_req){ .op = BLK_AIO_FLUSH };
		return BLK_PARSE_SUBMIT;
	case VIRTIO_BLK_T_GET_ID:
		return do_get_id(b, r, e, st);
	}
	*st = VIRTIO_BLK_S_UNSUPP;
	return BLK_PARSE_DONE;
}

int blk_req_parse(struct virtio_blk *b, struct blk_req *r, const struct virtq_elem *e,
		  uint8_t *st)
{
	struct virtio_dev *d = &b->vdev;
	uint8_t hdr[HDR_SIZE];

	r->segs = NULL;
	r->nseg = r->seg = 0;
	r->data_len = 0;
	/* The core refuses zero-length descriptors, so a last in-segment
	 * always holds the status byte; check anyway. Like QEMU
	 * (virtio_blk_handle_request -> virtio_error), a chain without a
	 * header or a status byte is a framing error of the driver: dropped
	 * unanswered, and the device needs a reset (§2.1.2). */
	if (e->nin == 0 || e->iov[e->nout + e->nin - 1].iov_len == 0) {
		virtio_warn(d, "request without a status byte");
		return -EINVAL;
	}
	if (e->out_len < HDR_SIZE || iov_to_buf(e->iov, e->nout, 0, hdr, HDR_SIZE) != HDR_SIZE) {
		virtio_warn(d, "request header of %llu bytes", (unsigned long long)e->out_len);
		return -EINVAL;
	}
	const struct iovec *sv = &e->iov[e->nout + e->nin - 1];
	r->status = (uint8_t *)sv->iov_base + sv->iov_len - 1;
	/* Legacy: guest order (§5.2.6.4); modern: little-endian. */
	r->type = virtio_get32(d, hdr);
	return dispatch(b, r, e, virtio_get64(d, hdr + 8), st);
}

uint8_t blk_req_finish(struct virtio_blk *b, struct blk_req *r)
{
	int64_t res = r->aio.result;

	if (res < 0) {
		virtio_warn(&b->vdev, "request type %u at byte %llu: %s", r->type,
			    (unsigned long long)r->aio.off, strerror((int)-res));
		/* §5.2.6.2: a discard MAY deallocate; a file system that
		 * cannot is no error. */
		if (r->type == VIRTIO_BLK_T_DISCARD && (res == -EOPNOTSUPP || res == -ENOSYS))
			res = 0;
		else
			return VIRTIO_BLK_S_IOERR;
	}
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		b->stats.reads++;
		b->stats.read_bytes += r->aio.len;
		break;
	case VIRTIO_BLK_T_OUT:
		b->stats.writes++;
		b->stats.write_bytes += r->aio.len;
		break;
	case VIRTIO_BLK_T_FLUSH:
		b->stats.flushes++;
		break;
	case VIRTIO_BLK_T_DISCARD:
		b->stats.discards++;
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		b->stats.write_zeroes++;
		break;
	}
	return VIRTIO_BLK_S_OK;
}

void blk_req_release(struct blk_req *r)
{
	free(r->segs);
	r->segs = NULL;
	r->nseg = 0;
}
