/* virtio-blk (virtio 1.2 §5.2). Requests are served synchronously on the
 * thread that delivers the queue notification (the iothread, or the vCPU
 * without ioeventfd), under the device lock.
 *
 * Every request field is guest input: the header is gathered by copying
 * (it may straddle descriptors), sector ranges are checked against the
 * capacity without overflow before any host I/O, and discard/write-zeroes
 * segments are all validated before the first one is executed. */
#include "virtio/blk.h"

#include "iov.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SECTOR_SHIFT 9
#define HDR_SIZE 16u     /* le32 type, le32 reserved (ioprio), le64 sector */
#define DWZ_SIZE 16u     /* le64 sector, le32 num_sectors, le32 flags */

/* The outcome of one request: the status byte and the bytes written into the
 * driver's buffers before it. */
struct blk_result {
	uint8_t status;
	uint32_t written;
};

static struct virtio_blk *to_blk(struct virtio_dev *d)
{
	return d->dev_priv;
}

static uint64_t capacity_sectors(const struct virtio_blk *b)
{
	return b->backend->size >> SECTOR_SHIFT;
}

/* ---- config space (§5.2.4) ---- */

/* Built on every read: a legacy device's byte order can change at each
 * reset (DESIGN.md), so nothing is cached in guest order. */
static void blk_config_read(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len)
{
	struct virtio_blk *b = to_blk(d);
	const struct blk_file *f = b->backend;
	uint8_t cfg[VIRTIO_BLK_CONFIG_SIZE] = { 0 };
	uint32_t lbs = f->block_size;
	/* Physical block: at least a host page, so the guest aligns its I/O to
	 * what the host page cache and file systems work in. */
	uint32_t pbs = lbs < 4096 ? 4096 : lbs;
	uint8_t exp = 0;

	while ((lbs << exp) < pbs)
		exp++;
	virtio_put64(d, cfg + VIRTIO_BLK_CFG_CAPACITY, capacity_sectors(b));
	/* Linux adds header and status to seg_max: keep the chain within the
	 * queue (§2.7.5.2), as QEMU does with seg-max-adjust. */
	virtio_put32(d, cfg + VIRTIO_BLK_CFG_SEG_MAX, VIRTIO_BLK_QUEUE_SIZE - 2);
	virtio_put32(d, cfg + VIRTIO_BLK_CFG_SIZE_MAX, VIRTIO_BLK_SIZE_MAX);
	virtio_put32(d, cfg + VIRTIO_BLK_CFG_BLK_SIZE, lbs);
	cfg[VIRTIO_BLK_CFG_PHYS_BLOCK_EXP] = exp;
	cfg[VIRTIO_BLK_CFG_ALIGN_OFFSET] = 0;
	virtio_put16(d, cfg + VIRTIO_BLK_CFG_MIN_IO_SIZE, (uint16_t)(pbs / lbs));
	virtio_put32(d, cfg + VIRTIO_BLK_CFG_OPT_IO_SIZE, 0);
	/* The truth (a volatile cache needing FLUSH); meaningful to the
	 * driver only with CONFIG_WCE, which we do not offer. */
	cfg[VIRTIO_BLK_CFG_WRITEBACK] = 1;
	virtio_put16(d, cfg + VIRTIO_BLK_CFG_NUM_QUEUES, 1);
	if (f->can_discard) {
		virtio_put32(d, cfg + VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, VIRTIO_BLK_MAX_DWZ_SECTORS);
		virtio_put32(d, cfg + VIRTIO_BLK_CFG_MAX_DISCARD_SEG, VIRTIO_BLK_MAX_DWZ_SEG);
		virtio_put32(d, cfg + VIRTIO_BLK_CFG_DISCARD_ALIGN, pbs >> SECTOR_SHIFT);
	}
	if (f->can_write_zeroes) {
		virtio_put32(d, cfg + VIRTIO_BLK_CFG_MAX_WZ_SECTORS, VIRTIO_BLK_MAX_DWZ_SECTORS);
		virtio_put32(d, cfg + VIRTIO_BLK_CFG_MAX_WZ_SEG, VIRTIO_BLK_MAX_DWZ_SEG);
		cfg[VIRTIO_BLK_CFG_WZ_MAY_UNMAP] = f->can_discard;
	}
	/* the core checked off + len <= config_size */
	memcpy(data, cfg + off, len);
}

/* Only writeback is writable, and only with CONFIG_WCE, not offered. */
static void blk_config_write(struct virtio_dev *d, uint32_t off, const uint8_t *data, uint32_t len)
{
}

static int blk_activate(struct virtio_dev *d)
{
	return 0;
}

static void blk_reset(struct virtio_dev *d)
{
	/* Requests complete synchronously: nothing is in flight. */
}

/* ---- iovec helpers ---- */

static uint32_t le32_at(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64_at(const uint8_t *p)
{
	return (uint64_t)le32_at(p) | (uint64_t)le32_at(p + 4) << 32;
}

/* [sector, sector + nsec) inside the disk, written so nothing can wrap:
 * sector * 512 is only computed once sector <= capacity. */
static bool sectors_ok(const struct virtio_blk *b, uint64_t sector, uint64_t nsec)
{
	uint64_t cap = capacity_sectors(b);
	return sector <= cap && nsec <= cap - sector;
}

/* ---- requests (§5.2.6) ---- */

/* IN / OUT: the data is the in-segments minus the status byte, or the
 * out-segments after the header. */
static struct blk_result blk_rw(struct virtio_blk *b, const struct virtq_elem *e, bool write,
				uint64_t sector)
{
	struct virtio_dev *d = &b->vdev;
	uint64_t len = write ? e->out_len - HDR_SIZE : e->in_len - 1;
	int n;
	ssize_t r;

	/* §5.2.6.1: data is a multiple of 512 bytes */
	if (len % VIRTIO_BLK_SECTOR_SIZE) {
		virtio_warn(d, "%s of %llu bytes: not a multiple of 512", write ? "write" : "read",
			    (unsigned long long)len);
		return (struct blk_result){ VIRTIO_BLK_S_IOERR, 0 };
	}
	/* §5.2.6.1: "A driver MUST NOT submit a request which would cause a
	 * read or write beyond capacity." */
	if (!sectors_ok(b, sector, len >> SECTOR_SHIFT)) {
		virtio_warn(d, "%s of sectors [%llu,+%llu) beyond capacity %llu",
			    write ? "write" : "read", (unsigned long long)sector,
			    (unsigned long long)(len >> SECTOR_SHIFT),
			    (unsigned long long)capacity_sectors(b));
		return (struct blk_result){ VIRTIO_BLK_S_IOERR, 0 };
	}
	if (write)
		n = iov_slice(b->data_iov, e->iov, e->nout, HDR_SIZE, len);
	else
		n = iov_slice(b->data_iov, e->iov + e->nout, e->nin, 0, len);
	if (write)
		r = blk_file_pwritev(b->backend, b->data_iov, n, sector << SECTOR_SHIFT);
	else
		r = blk_file_preadv(b->backend, b->data_iov, n, sector << SECTOR_SHIFT);
	if (r < 0) {
		virtio_warn(d, "%s at sector %llu: %s", write ? "write" : "read",
			    (unsigned long long)sector, strerror((int)-r));
		return (struct blk_result){ VIRTIO_BLK_S_IOERR, 0 };
	}
	if (write) {
		b->stats.writes++;
		b->stats.write_bytes += len;
		return (struct blk_result){ VIRTIO_BLK_S_OK, 0 };
	}
	b->stats.reads++;
	b->stats.read_bytes += len;
	return (struct blk_result){ VIRTIO_BLK_S_OK, (uint32_t)len };
}

/* GET_ID: the serial, NUL-padded to 20 bytes, no terminator if 20 long. */
static struct blk_result blk_get_id(struct virtio_blk *b, const struct virtq_elem *e)
{
	uint8_t id[VIRTIO_BLK_ID_BYTES] = { 0 };
	uint64_t len = e->in_len - 1;
	int n;

	memcpy(id, b->serial, strnlen(b->serial, sizeof(id)));
	if (len > sizeof(id))
		len = sizeof(id);
	n = iov_slice(b->data_iov, e->iov + e->nout, e->nin, 0, len);
	for (int i = 0, pos = 0; i < n; pos += (int)b->data_iov[i].iov_len, i++)
		memcpy(b->data_iov[i].iov_base, id + pos, b->data_iov[i].iov_len);
	b->stats.get_ids++;
	return (struct blk_result){ VIRTIO_BLK_S_OK, (uint32_t)len };
}

struct dwz_seg {
	uint64_t sector;
	uint32_t num, flags;
};

/* DISCARD / WRITE_ZEROES. The segments are le64/le32 in every mode: the
 * spec declares them le (§5.2.6) and Linux fills them with cpu_to_le*,
 * legacy or not (as QEMU reads them). All are checked before any is run. */
static struct blk_result blk_discard_wz(struct virtio_blk *b, const struct virtq_elem *e,
					bool wz)
{
	struct virtio_dev *d = &b->vdev;
	const char *what = wz ? "write-zeroes" : "discard";
	uint64_t len = e->out_len - HDR_SIZE, nseg = len / DWZ_SIZE;
	uint8_t raw[DWZ_SIZE];
	struct dwz_seg seg;

	if (len == 0 || len % DWZ_SIZE || nseg > VIRTIO_BLK_MAX_DWZ_SEG) {
		virtio_warn(d, "%s with %llu bytes of segments", what, (unsigned long long)len);
		return (struct blk_result){ VIRTIO_BLK_S_IOERR, 0 };
	}
	for (int pass = 0; pass < 2; pass++) {
		for (uint64_t i = 0; i < nseg; i++) {
			iov_to_buf(e->iov, e->nout, HDR_SIZE + i * DWZ_SIZE, raw, DWZ_SIZE);
			seg = (struct dwz_seg){ le64_at(raw), le32_at(raw + 8), le32_at(raw + 12) };
			if (pass == 0) {
				/* §5.2.6.2: unknown flags, or UNMAP on a discard:
				 * UNSUPP. */
				uint32_t allowed = wz ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0;
				if (seg.flags & ~allowed)
					return (struct blk_result){ VIRTIO_BLK_S_UNSUPP, 0 };
				if (seg.num > VIRTIO_BLK_MAX_DWZ_SECTORS ||
				    !sectors_ok(b, seg.sector, seg.num)) {
					virtio_warn(d, "%s of sectors [%llu,+%u) refused", what,
						    (unsigned long long)seg.sector, seg.num);
					return (struct blk_result){ VIRTIO_BLK_S_IOERR, 0 };
				}
				continue;
			}
			uint64_t off = seg.sector << SECTOR_SHIFT, n = (uint64_t)seg.num << SECTOR_SHIFT;
			int r = wz ? blk_file_write_zeroes(b->backend, off, n,
					seg.flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
				   : blk_file_discard(b->backend, off, n);
			/* §5.2.6.2: a discard MAY deallocate: a file system
			 * that cannot is no error. */
			if (!wz && (r == -EOPNOTSUPP || r == -ENOSYS))
				r = 0;
			if (r) {
				virtio_warn(d, "%s at sector %llu: %s", what,
					    (unsigned long long)seg.sector, strerror(-r));
				return (struct blk_result){ VIRTIO_BLK_S_IOERR, 0 };
			}
		}
	}
	if (wz)
		b->stats.write_zeroes++;
	else
		b->stats.discards++;
	return (struct blk_result){ VIRTIO_BLK_S_OK, 0 };
}

static struct blk_result blk_dispatch(struct virtio_blk *b, const struct virtq_elem *e,
				      uint32_t type, uint64_t sector)
{
	struct virtio_dev *d = &b->vdev;
	bool ro = b->backend->readonly;

	switch (type) {
	case VIRTIO_BLK_T_IN:
		return blk_rw(b, e, false, sector);
	case VIRTIO_BLK_T_OUT:
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		/* §5.2.6.2: with RO offered, a write gets IOERR and writes
		 * nothing. */
		if (ro)
			return (struct blk_result){ VIRTIO_BLK_S_IOERR, 0 };
		if (type == VIRTIO_BLK_T_OUT)
			return blk_rw(b, e, true, sector);
		if (!virtio_has_feature(d, type == VIRTIO_BLK_T_DISCARD ? VIRTIO_BLK_F_DISCARD
									: VIRTIO_BLK_F_WRITE_ZEROES))
			break;
		return blk_discard_wz(b, e, type == VIRTIO_BLK_T_WRITE_ZEROES);
	case VIRTIO_BLK_T_FLUSH_OUT:
		if (!d->legacy)
			break;
		/* fall through */
	case VIRTIO_BLK_T_FLUSH:
		b->stats.flushes++;
		if (blk_file_flush(b->backend)) {
			virtio_warn(d, "flush failed");
			return (struct blk_result){ VIRTIO_BLK_S_IOERR, 0 };
		}
		return (struct blk_result){ VIRTIO_BLK_S_OK, 0 };
	case VIRTIO_BLK_T_GET_ID:
		return blk_get_id(b, e);
	}
	return (struct blk_result){ VIRTIO_BLK_S_UNSUPP, 0 };
}

/* One popped chain. Returns the used length to push, or -EINVAL if the
 * chain cannot carry a request at all -- no 16-byte header or no status
 * byte. Like QEMU (virtio_blk_handle_request -> virtio_error), that is a
 * framing error of the driver: the request is dropped unanswered and the
 * device goes to NEEDS_RESET (§2.1.2), since there is nowhere to put a status
 * or nothing to act on. */
static int blk_handle_request(struct virtio_blk *b, const struct virtq_elem *e)
{
	struct virtio_dev *d = &b->vdev;
	uint8_t hdr[HDR_SIZE];
	struct blk_result res;

	/* The core refuses zero-length descriptors, so a last in-segment
	 * always holds the status byte; check anyway. */
	if (e->nin == 0 || e->iov[e->nout + e->nin - 1].iov_len == 0) {
		virtio_warn(d, "request without a status byte");
		return -EINVAL;
	}
	if (e->out_len < HDR_SIZE || iov_to_buf(e->iov, e->nout, 0, hdr, HDR_SIZE) != HDR_SIZE) {
		virtio_warn(d, "request header of %llu bytes", (unsigned long long)e->out_len);
		return -EINVAL;
	}
	/* Legacy: guest order (§5.2.6.4); modern: little-endian. */
	uint32_t type = virtio_get32(d, hdr);
	uint64_t sector = virtio_get64(d, hdr + 8);

	res = blk_dispatch(b, e, type, sector);
	if (res.status == VIRTIO_BLK_S_IOERR)
		b->stats.ioerr++;
	else if (res.status == VIRTIO_BLK_S_UNSUPP)
		b->stats.unsupp++;
	const struct iovec *st = &e->iov[e->nout + e->nin - 1];
	((uint8_t *)st->iov_base)[st->iov_len - 1] = res.status;
	return (int)(res.written + 1);
}

/* ---- the queue ---- */

static int blk_serve_one(void *ctx, const struct virtq_elem *e)
{
	return blk_handle_request(ctx, e);
}

static void blk_queue_notify(struct virtio_dev *d, uint16_t qi)
{
	struct virtio_blk *b = to_blk(d);
	struct virtq *vq = &d->vq[qi < VIRTIO_MAX_QUEUES ? qi : 0];

	pthread_mutex_lock(&d->lock);
	if (qi != 0 || !(d->status & VIRTIO_STATUS_DRIVER_OK) ||
	    (d->status & VIRTIO_STATUS_NEEDS_RESET) || !vq->ready)
		goto out;
	if (virtio_queue_serve(d, qi, b->elem, blk_serve_one, b) < 0)
		b->stats.malformed++;
out:
	pthread_mutex_unlock(&d->lock);
}

static const struct virtio_dev_ops blk_ops = {
	.name = "blk",
	.device_id = VIRTIO_ID_BLOCK,
	.num_queues = 1,
	.queue_max_size = VIRTIO_BLK_QUEUE_SIZE,
	.config_size = VIRTIO_BLK_CONFIG_SIZE,
	.config_read = blk_config_read,
	.config_write = blk_config_write,
	.activate = blk_activate,
	.reset = blk_reset,
	.queue_notify = blk_queue_notify,
};

int virtio_blk_init(struct virtio_blk *b, struct blk_file *backend, const char *serial,
		    struct guest_mem *mem, const struct virtio_platform *platform)
{
	uint64_t f = 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_RING_INDIRECT_DESC |
		     1ull << VIRTIO_F_RING_EVENT_IDX |
		     /* we take any framing (header split, data with status) */
		     1ull << VIRTIO_F_ANY_LAYOUT |
		     1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_SIZE_MAX |
		     1ull << VIRTIO_BLK_F_BLK_SIZE |
		     1ull << VIRTIO_BLK_F_FLUSH | 1ull << VIRTIO_BLK_F_TOPOLOGY;

	memset(b, 0, sizeof(*b));
	if (!backend || !mem)
		return -EINVAL;
	b->backend = backend;
	if (serial)
		strncpy(b->serial, serial, VIRTIO_BLK_ID_BYTES);
	b->elem = malloc(sizeof(*b->elem));
	b->data_iov = calloc(VIRTQ_MAX_SEGS, sizeof(*b->data_iov));
	if (!b->elem || !b->data_iov) {
		virtio_blk_destroy(b);
		return -ENOMEM;
	}
	if (backend->readonly)
		f |= 1ull << VIRTIO_BLK_F_RO;
	if (backend->can_discard && !backend->readonly)
		f |= 1ull << VIRTIO_BLK_F_DISCARD;
	if (backend->can_write_zeroes && !backend->readonly)
		f |= 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	virtio_dev_init(&b->vdev, &blk_ops, b, f, mem, platform);
	return 0;
}

void virtio_blk_destroy(struct virtio_blk *b)
{
	if (b->vdev.ops)
		virtio_dev_destroy(&b->vdev);
	free(b->elem);
	free(b->data_iov);
	b->elem = NULL;
	b->data_iov = NULL;
}
