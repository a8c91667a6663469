/* virtio-blk (devices/virtio/blk.c, blk_req.c, blk_aio.c, blk_file.c) with
 * the virtio core and a real split or packed queue, against a temporary
 * disk file: requests of every type, well-formed or not, as a driver lays
 * them out, served by the sync engine (deterministic) the way the I/O
 * thread serves them.
 *
 * The driver is sane about the ring (fuzz_vq.h) and hostile about the
 * requests: header and data split anywhere, sectors past the end, lengths
 * that are not multiples of 512, segments of DISCARD / WRITE_ZEROES, a
 * writable descriptor among readable ones, zero-length and out-of-RAM
 * buffers, indirect tables. Readable bytes (header, data, segments) lie in
 * memory the device never writes, so the driver knows exactly what each
 * request asks; from that it checks the disk:
 * - the file never changes size;
 * - after every kick, each byte of the file that changed lies inside the
 *   sectors an OUT, DISCARD or WRITE_ZEROES request of that batch named;
 * - a read answered OK in a batch without writes returned the file's bytes;
 * - the device never writes the driver's readable memory.
 *
 * Input: two set-up bytes, then operations.
 *   byte 0   bit 0 packed, bit 1 EVENT_IDX, bit 2 INDIRECT_DESC, bit 3 legacy
 *            with a big-endian vCPU (split), bit 4 read-only disk, bit 5 two
 *            queues, bit 6 DISCARD / WRITE_ZEROES acked
 *   byte 1   queue size: 2^(b % 9) (packed: b + 1)
 *   op % 6:
 *     0 a request on queue u8: u8 type (% 8: IN, OUT, FLUSH, legacy FLUSH_OUT,
 *       GET_ID, DISCARD, WRITE_ZEROES, u32 raw), u8 sector kind (% 4: u8,
 *       last sectors, u64 raw, past the end), u8 header split (% 3: alone,
 *       in two, with the first data), u8 data segments (% 5), per segment
 *       u16 length (bit 15: a multiple of 512) and a fill byte (DISCARD /
 *       WRITE_ZEROES: u64 sector, u32 sectors, u32 flags per 16 bytes), u8
 *       status length (% 3 + 1), u8 mutation (bit 7: flip WRITE on segment
 *       m % n, bit 6: make it empty, bit 5: move it out of RAM), u8 mode
 *       (bit 0 indirect, bit 1 publish)
 *     1 publish queue u8   2 kick queue u8 and serve it until idle
 *     3 the driver reads the used rings   4 reset and initialise again
 *     5 config read: u8 offset, u8 length selector */
#define _GNU_SOURCE
#include "fuzz_vq.h"

#include <sys/stat.h>
#include <unistd.h>

#include "virtio/blk.h"

#define R0_GPA    0x100000ull
#define R0_SIZE   0x80000u
#define R1_GPA    0x200000ull
#define R1_SIZE   0x1000u
#define QAREA(q)  (R0_GPA + 0x10000ull * (q))   /* rings; +0x2000: indirect tables */
#define IND_SIZE  0xe000u
#define RO_GPA    (R0_GPA + 0x20000)            /* readable bytes: the driver's */
#define RO_SIZE   0x20000u
#define WO_GPA    (R0_GPA + 0x40000)            /* writable buffers */
#define WO_SIZE   0x40000u

#define DISK_SECTORS 128u
#define DISK_BYTES   (DISK_SECTORS * 512u)
#define MAX_REQ 128

struct req {
	bool in_check;                 /* an IN to compare with the file */
	uint64_t off;                  /* IN: file offset */
	uint32_t len;                  /* IN: data bytes */
	struct fvq_seg w[8];           /* IN: writable segments, status last */
	unsigned nw;
};

struct range {
	uint64_t lo, hi;
};

struct env {
	struct fuzz_ram *ram;
	struct virtio_blk blk;
	struct virtio_platform plat;
	struct fvq q[2];
	bool packed, event_idx, indirect, legacy, ro, dwz;
	uint8_t qsize;
	uint16_t nq;
	uint64_t ro_next, wo_next;
	struct range ranges[MAX_REQ * 32];
	unsigned nranges;
	struct req reqs[MAX_REQ];
	unsigned nreqs;
	bool batch_writes, wo_wrapped;
};

static struct blk_file file_rw, file_ro;
static uint8_t ro_shadow[RO_SIZE];
static uint8_t disk[DISK_BYTES], shadow[DISK_BYTES];

static uint8_t pattern(uint32_t off)
{
	return (uint8_t)(off * 13 + (off >> 9) + 1);
}

/* The disk, made once: a temporary file, opened read-write and read-only,
 * and unlinked at once. Restored to the pattern for every input. */
static void disk_once(void)
{
	static bool done;
	char path[] = "/tmp/kvmini-fuzz-blk-XXXXXX", err[256];
	/* tmpfs when there is one: FLUSH (fdatasync) costs nothing there. */
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
	char buf[512];

	if (done)
		return;
	if (tmp && strlen(tmp) < 400)
		snprintf(buf, sizeof(buf), "%s/kvmini-fuzz-blk-XXXXXX", tmp);
	else
		snprintf(buf, sizeof(buf), "%s", path);
	int fd = mkstemp(buf);
	FZ_CHECK(fd >= 0);
	for (uint32_t i = 0; i < DISK_BYTES; i++)
		disk[i] = pattern(i);
	FZ_CHECK(pwrite(fd, disk, DISK_BYTES, 0) == DISK_BYTES);
	close(fd);
	FZ_CHECK(blk_file_open(&file_rw, buf, false, BLK_CACHE_WRITEBACK, err, sizeof(err)) == 0);
	FZ_CHECK(blk_file_open(&file_ro, buf, true, BLK_CACHE_WRITEBACK, err, sizeof(err)) == 0);
	unlink(buf);
	done = true;
}

static void disk_read(uint8_t *dst)
{
	struct stat st;

	FZ_CHECK(fstat(file_rw.fd, &st) == 0 && st.st_size == DISK_BYTES);
	FZ_CHECK(pread(file_rw.fd, dst, DISK_BYTES, 0) == DISK_BYTES);
}

static int fake_vcpu_be(void *opaque)
{
	return ((struct env *)opaque)->legacy;
}

static void fake_interrupt(struct virtio_dev *d, int q, uint32_t bits)
{
}

static const struct virtio_transport_ops fake_tops = { .interrupt = fake_interrupt };

static void driver_init(struct env *t)
{
	struct virtio_dev *d = &t->blk.vdev;

	pthread_mutex_lock(&d->lock);
	virtio_set_status(d, 0);
	virtio_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	uint64_t f = d->host_features;
	if (!t->event_idx)
		f &= ~(1ull << VIRTIO_F_RING_EVENT_IDX);
	if (!t->indirect)
		f &= ~(1ull << VIRTIO_F_RING_INDIRECT_DESC);
	if (!t->dwz)
		f &= ~(1ull << VIRTIO_BLK_F_DISCARD | 1ull << VIRTIO_BLK_F_WRITE_ZEROES);
	if (t->packed)
		f |= 1ull << VIRTIO_F_RING_PACKED;
	if (t->legacy)
		f &= 0xffffffffull;
	/* Legacy devices have no FEATURES_OK handshake: set them directly. */
	d->guest_features = f;
	d->host_features |= f & (1ull << VIRTIO_F_RING_PACKED);
	uint8_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	if (!t->legacy) {
		st |= VIRTIO_STATUS_FEATURES_OK;
		virtio_set_status(d, st);
	}
	uint16_t num = t->packed ? (uint16_t)(t->qsize + 1u) : (uint16_t)(1u << (t->qsize % 9));
	for (uint16_t i = 0; i < t->nq; i++) {
		struct virtq *vq = &d->vq[i];
		vq->num = num;
		vq->desc_gpa = QAREA(i);
		vq->avail_gpa = QAREA(i) + 0x1000;
		vq->used_gpa = QAREA(i) + 0x1400;
		vq->ready = true;
	}
	virtio_set_status(d, st | VIRTIO_STATUS_DRIVER_OK);
	FZ_CHECK(!(d->status & VIRTIO_STATUS_NEEDS_RESET));
	for (uint16_t i = 0; i < t->nq; i++)
		fvq_init(&t->q[i], t->ram, t->packed, virtio_is_big_endian(d), true, num,
			 QAREA(i), QAREA(i) + 0x1000, QAREA(i) + 0x1400, QAREA(i) + 0x2000, IND_SIZE);
	pthread_mutex_unlock(&d->lock);
}

/* Readable bytes in the driver's area; 0 when it is full. */
static uint64_t ro_alloc(struct env *t, uint32_t len)
{
	if (len > RO_SIZE || t->ro_next + len > RO_GPA + RO_SIZE)
		return 0;
	uint64_t a = t->ro_next;
	t->ro_next += len;
	return a;
}

static uint64_t wo_alloc(struct env *t, uint32_t len)
{
	if (len > WO_SIZE)
		len = WO_SIZE;
	if (t->wo_next + len > WO_GPA + WO_SIZE) {
		t->wo_next = WO_GPA;
		t->wo_wrapped = true;    /* buffers of this batch may overlap */
	}
	uint64_t a = t->wo_next;
	t->wo_next += len;
	return a;
}

static void add_range(struct env *t, uint64_t sector, uint64_t bytes)
{
	if (t->nranges >= sizeof(t->ranges) / sizeof(t->ranges[0]))
		abort();
	uint64_t lo = sector > (UINT64_MAX >> 9) ? UINT64_MAX : sector << 9;
	uint64_t hi = lo > UINT64_MAX - bytes ? UINT64_MAX : lo + bytes;
	FZ_TRACE("range [0x%llx, 0x%llx)\n", (unsigned long long)lo,
			(unsigned long long)hi);
	t->ranges[t->nranges++] = (struct range){ lo, hi };
}

static const uint32_t types[7] = { VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH,
				   VIRTIO_BLK_T_FLUSH_OUT, VIRTIO_BLK_T_GET_ID,
				   VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES };

static void request(struct env *t, struct fz *f)
{
	struct virtio_dev *d = &t->blk.vdev;
	uint16_t qi = fz_u8(f) % t->nq;
	uint8_t tsel = fz_u8(f);
	uint32_t type = tsel % 8 < 7 ? types[tsel % 8] : fz_u32(f);
	uint8_t sk = fz_u8(f);
	uint64_t sector;
	switch (sk % 4) {
	case 0: sector = fz_u8(f); break;
	case 1: sector = DISK_SECTORS - 1 - fz_u8(f) % 4; break;
	case 2: sector = fz_u64(f); break;
	default: sector = DISK_SECTORS + fz_u8(f); break;
	}
	uint8_t split = fz_u8(f) % 3;
	unsigned ndata = fz_u8(f) % 5;
	bool data_readable = type == VIRTIO_BLK_T_OUT || type == VIRTIO_BLK_T_DISCARD ||
			     type == VIRTIO_BLK_T_WRITE_ZEROES || (tsel % 8 == 7 && (tsel & 0x80));
	struct fvq_seg s[12];
	uint8_t hdr[16];
	unsigned n = 0;
	bool be = virtio_is_big_endian(d);

	for (int i = 0; i < 4; i++)
		hdr[be ? 3 - i : i] = (uint8_t)(type >> (8 * i));
	memset(hdr + 4, 0, 4);
	for (int i = 0; i < 8; i++)
		hdr[8 + (be ? 7 - i : i)] = (uint8_t)(sector >> (8 * i));

	/* data segments: lengths and contents */
	uint32_t dlen[4];
	uint8_t fill[4];
	for (unsigned i = 0; i < ndata; i++) {
		uint16_t l = fz_u16(f);
		dlen[i] = l & 0x8000 ? 512u * ((l & 0x7fff) % 9 + 1) : (l % 2048u) + 1;
		fill[i] = fz_u8(f);
	}
	/* the header, alone, in two, or with the first readable data */
	uint32_t first = split == 2 && ndata && data_readable ? dlen[0] : 0;
	uint64_t h = ro_alloc(t, 16 + first);
	if (!h)
		return;
	uint8_t *hp = fuzz_ram_ptr(t->ram, h, 16 + first);
	memcpy(hp, hdr, 16);
	if (split == 1) {
		uint32_t cut = fz_u8(f) % 15 + 1;
		s[n++] = (struct fvq_seg){ h, cut, false };
		s[n++] = (struct fvq_seg){ h + cut, 16 - cut, false };
	} else {
		s[n++] = (struct fvq_seg){ h, 16 + first, false };
	}
	for (unsigned i = 0; i < ndata; i++) {
		uint8_t *p;
		if (i == 0 && first) {
			p = hp + 16;
		} else if (data_readable) {
			uint64_t a = ro_alloc(t, dlen[i]);
			if (!a)
				return;
			p = fuzz_ram_ptr(t->ram, a, dlen[i]);
			s[n++] = (struct fvq_seg){ a, dlen[i], false };
		} else {
			s[n++] = (struct fvq_seg){ wo_alloc(t, dlen[i]), dlen[i], true };
			continue;
		}
		if (type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES) {
			for (uint32_t k = 0; k + 16 <= dlen[i]; k += 16) {
				uint64_t ss = fz_u8(f) & 1 ? fz_u8(f) : fz_u64(f);
				uint32_t nn = fz_u8(f) & 1 ? fz_u8(f) : fz_u32(f);
				uint32_t fl = fz_u8(f) & 3;
				for (int b = 0; b < 8; b++)
					p[k + b] = (uint8_t)(ss >> (8 * b));
				for (int b = 0; b < 4; b++) {
					p[k + 8 + b] = (uint8_t)(nn >> (8 * b));
					p[k + 12 + b] = (uint8_t)(fl >> (8 * b));
				}
			}
			memset(p + dlen[i] / 16 * 16, fill[i], dlen[i] % 16);
		} else {
			memset(p, fill[i], dlen[i]);
		}
	}
	uint32_t stlen = fz_u8(f) % 3 + 1;
	s[n++] = (struct fvq_seg){ wo_alloc(t, stlen), stlen, true };
	/* Not a status the device gives: OK is what the device wrote. */
	memset(fuzz_ram_ptr(t->ram, s[n - 1].addr, stlen), 0xff, stlen);

	uint8_t mut = fz_u8(f), mode = fz_u8(f);
	bool clean = !(mut & 0xe0);
	if (mut & 0xe0) {
		unsigned k = (mut & 0x1f) % n;
		if (mut & 0x80)
			s[k].write = !s[k].write;
		if (mut & 0x40)
			s[k].len = 0;
		if (mut & 0x20)
			s[k].addr = R1_GPA + R1_SIZE - 8 + (mut & 7);   /* straddles RAM's end */
		/* Readable bytes stay in the driver's area: a segment made
		 * readable keeps pointing where the device may write, but its
		 * content only makes the request longer (counted below). */
	}
	/* What the request may write to the disk: from the readable stream
	 * exactly as the device will read it. */
	uint8_t stream[16 + 4 * 4608 + 2048];
	size_t sl = 0;
	bool known = true;
	for (unsigned i = 0; i < n; i++) {
		if (s[i].write)
			continue;
		const uint8_t *p = s[i].len ? fuzz_ram_ptr(t->ram, s[i].addr, s[i].len) : NULL;
		if (!p || sl + s[i].len > sizeof(stream)) {
			known = false;
			continue;
		}
		memcpy(stream + sl, p, s[i].len);
		sl += s[i].len;
	}
	if (known && sl >= 16) {
		uint32_t ty = 0;
		uint64_t sec = 0;
		for (int i = 0; i < 4; i++)
			ty |= (uint32_t)stream[be ? 3 - i : i] << (8 * i);
		for (int i = 0; i < 8; i++)
			sec |= (uint64_t)stream[8 + (be ? 7 - i : i)] << (8 * i);
		if (ty == VIRTIO_BLK_T_OUT) {
			add_range(t, sec, sl - 16);
			t->batch_writes = true;
		} else if (ty == VIRTIO_BLK_T_DISCARD || ty == VIRTIO_BLK_T_WRITE_ZEROES) {
			for (size_t k = 16; k + 16 <= sl; k += 16) {
				uint64_t ss = 0;
				uint32_t nn = 0;
				for (int b = 0; b < 8; b++)
					ss |= (uint64_t)stream[k + b] << (8 * b);
				for (int b = 0; b < 4; b++)
					nn |= (uint32_t)stream[k + 8 + b] << (8 * b);
				add_range(t, ss, (uint64_t)nn << 9);
			}
			t->batch_writes = true;
		}
	} else if (!known) {
		/* The device refuses a chain with a buffer outside RAM. */
		add_range(t, 0, 0);
	}
	if (clean && type == VIRTIO_BLK_T_IN && t->nreqs < MAX_REQ) {
		struct req *r = &t->reqs[t->nreqs++];
		r->in_check = sector < DISK_SECTORS;
		r->off = sector << 9;
		r->len = 0;
		r->nw = 0;
		for (unsigned i = 0; i < n && r->nw < 8; i++)
			if (s[i].write) {
				r->w[r->nw++] = s[i];
				r->len += s[i].len;
			}
		r->len -= 1;   /* the status byte */
	}
	if (fuzz_tracing())
		for (unsigned i = 0; i < n; i++)
			fprintf(stderr, "q%u type %u seg %u: 0x%llx+%u %c\n", qi, type, i,
				(unsigned long long)s[i].addr, s[i].len, s[i].write ? 'W' : 'R');
	fvq_add(&t->q[qi], s, n, mode & 1, 0, 0, mode & 2);
}

static bool in_ranges(const struct env *t, uint64_t off)
{
	for (unsigned i = 0; i < t->nranges; i++)
		if (off >= t->ranges[i].lo && off < t->ranges[i].hi)
			return true;
	return false;
}

/* After a batch: the disk changed only where the batch's writes said, and
 * reads answered OK (in a batch without writes) returned the disk. */
static void check_batch(struct env *t)
{
	disk_read(disk);
	for (uint32_t i = 0; i < DISK_BYTES; i++) {
		if (!(i % 512) && !memcmp(disk + i, shadow + i, 512)) {
			i += 511;
			continue;
		}
		if (disk[i] != shadow[i]) {
			FZ_TRACE("byte 0x%x changed\n", i);
			FZ_CHECK(in_ranges(t, i));
		}
	}
	if (!t->batch_writes && !t->wo_wrapped) {
		for (unsigned k = 0; k < t->nreqs; k++) {
			struct req *r = &t->reqs[k];
			const struct fvq_seg *st = &r->w[r->nw - 1];
			const uint8_t *sp = fuzz_ram_ptr(t->ram, st->addr + st->len - 1, 1);
			if (!r->in_check || !sp || *sp != VIRTIO_BLK_S_OK)
				continue;
			FZ_CHECK(r->off + r->len <= DISK_BYTES);
			uint32_t pos = 0;
			for (unsigned i = 0; i < r->nw && pos < r->len; i++) {
				uint32_t k2 = r->w[i].len < r->len - pos ? r->w[i].len : r->len - pos;
				const uint8_t *p = fuzz_ram_ptr(t->ram, r->w[i].addr, k2);
				FZ_CHECK(p && !memcmp(p, disk + r->off + pos, k2));
				pos += k2;
			}
		}
	}
	memcpy(shadow, disk, DISK_BYTES);
	/* Requests not answered yet (another queue's, not published, or
	 * behind a broken chain until the reset) keep their ranges. */
	for (uint16_t i = 0; i < t->nq; i++) {
		fvq_collect(&t->q[i]);
		if (t->q[i].packed ? t->q[i].nfree_ids != t->q[i].num : t->q[i].nfree != t->q[i].num)
			return;
	}
	t->nranges = 0;
	t->nreqs = 0;
	t->batch_writes = false;
	t->wo_wrapped = false;
	t->ro_next = RO_GPA;
	t->wo_next = WO_GPA;
}

static void kick(struct env *t, uint16_t qi)
{
	struct virtio_dev *d = &t->blk.vdev;

	fvq_publish(&t->q[qi]);
	d->ops->queue_notify(d, qi);
	/* The I/O thread: completions until nothing is in flight. */
	for (int i = 0; i < 64; i++) {
		uint64_t cnt;
		if (read(virtio_blk_queue_fd(&t->blk, qi), &cnt, sizeof(cnt)) < 0) {
		}
		virtio_blk_queue_complete(&t->blk, qi);
		if (!virtio_blk_inflight(&t->blk, qi) && !virtq_has_work(&d->vq[qi]))
			break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t gpa[2] = { R0_GPA, R1_GPA };
	static const size_t sz[2] = { R0_SIZE, R1_SIZE };
	static struct env t;
	struct fz f;

	disk_once();
	fz_init(&f, data, size);
	uint8_t c = fz_u8(&f);
	memset(&t, 0, sizeof(t));
	t.qsize = fz_u8(&f);
	t.ram = fuzz_ram_get(gpa, sz, 2);
	t.packed = c & 1;
	t.event_idx = c & 2;
	t.indirect = c & 4;
	t.legacy = (c & 8) && !t.packed;
	t.ro = c & 16;
	t.nq = c & 32 ? 2 : 1;
	t.dwz = c & 64;
	t.ro_next = RO_GPA;
	t.wo_next = WO_GPA;
	for (uint32_t i = 0; i < DISK_BYTES; i++)
		shadow[i] = pattern(i);
	FZ_CHECK(pwrite(file_rw.fd, shadow, DISK_BYTES, 0) == DISK_BYTES);

	t.plat = (struct virtio_platform){ fake_vcpu_be, VIRTIO_ENDIAN_LITTLE, &t };
	struct virtio_blk_opts o = { .serial = "fuzz-serial", .num_queues = t.nq,
				     .aio = BLK_AIO_SYNC };
	FZ_CHECK(virtio_blk_init(&t.blk, t.ro ? &file_ro : &file_rw, &o, &t.ram->gm, &t.plat) == 0);
	struct virtio_dev *d = &t.blk.vdev;
	d->tops = &fake_tops;
	d->transport_priv = &t;
	d->legacy = t.legacy;
	driver_init(&t);

	for (int ops = 0; fz_more(&f) && ops < 128; ops++) {
		uint8_t op = fz_u8(&f) % 6;
		size_t ro_used = t.ro_next - RO_GPA;
		FZ_TRACE("op %u\n", op);
		memcpy(ro_shadow, fuzz_ram_ptr(t.ram, RO_GPA, RO_SIZE), ro_used);

		switch (op) {
		case 0:
			request(&t, &f);
			break;
		case 1:
			fvq_publish(&t.q[fz_u8(&f) % t.nq]);
			break;
		case 2:
			kick(&t, fz_u8(&f) % t.nq);
			check_batch(&t);
			break;
		case 3:
			for (uint16_t i = 0; i < t.nq; i++)
				fvq_collect(&t.q[i]);
			break;
		case 4:
			driver_init(&t);     /* the driver starts over: all answered or dropped */
			check_batch(&t);
			break;
		case 5: {
			static const uint32_t lens[4] = { 1, 2, 4, 8 };
			uint8_t b[8], off = fz_u8(&f);
			pthread_mutex_lock(&d->lock);
			virtio_config_read(d, off, b, lens[fz_u8(&f) % 4]);
			pthread_mutex_unlock(&d->lock);
			break;
		}
		}
		/* The device never writes what the driver gave it to read. */
		if (op >= 2)
			FZ_CHECK(!memcmp(fuzz_ram_ptr(t.ram, RO_GPA, RO_SIZE), ro_shadow, ro_used));
	}
	for (uint16_t i = 0; i < t.nq; i++)
		kick(&t, i);
	check_batch(&t);
	virtio_blk_destroy(&t.blk);
	return 0;
}
