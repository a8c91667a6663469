/* virtio-blk through the real core and split queue: a simulated guest RAM,
 * and a tiny driver that lays out descriptors, rings and requests in the
 * device's byte order -- little-endian (modern), or big-endian (legacy device
 * reset by a big-endian vCPU) -- written byte by byte, independently of the
 * core's accessors.
 *
 * The whole suite runs once per block engine (sync, threads, io_uring where
 * the kernel has it): a kick is followed by pumping completions the way the
 * host's I/O thread does, until nothing is in flight. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include "virtio/blk.h"
#include "virtio/blk_file.h"
#include "virtio/virtio.h"

#include "driver_init.h"

#define RAM_GPA    0x100000ull
#define RAM_SIZE   (24u << 20)
#define INDIR_GPA  (RAM_GPA + 0x4000)    /* an indirect table, up to 1024 entries */
#define BIG_GPA    (RAM_GPA + 0x200000)  /* 16 MiB + 1 */
#define QSZ        16
#define DESC_GPA   (RAM_GPA + 0x0000)
#define AVAIL_GPA  (RAM_GPA + 0x1000)
#define USED_GPA   (RAM_GPA + 0x2000)
#define HDR_GPA    (RAM_GPA + 0x3000)
#define STATUS_GPA (RAM_GPA + 0x3100)
#define SEGS_GPA   (RAM_GPA + 0x3200)   /* discard/write-zeroes segments */
#define DATA_GPA   (RAM_GPA + 0x10000)
#define DATA2_GPA  (RAM_GPA + 0x80000)

#define DISK_SECTORS 512u
#define DISK_BYTES   (DISK_SECTORS * 512u)

#define F_NEXT  1
#define F_WRITE 2
#define F_INDIRECT 4

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool w;
};

struct tenv {
	uint8_t *ram;
	struct guest_mem gm;
	char path[64];
	struct blk_file file;
	struct virtio_blk blk;
	struct virtio_platform plat;
	bool legacy, be;
	uint16_t avail_idx, used_seen;
	uint16_t qsel;                 /* the queue kick() notifies */
	int irq_used, irq_config;
};

/* ---- the fake platform and transport ---- */

static int vcpu_be(void *opaque)
{
	return ((struct tenv *)opaque)->be ? 1 : 0;
}

static void fake_interrupt(struct virtio_dev *d, int q, uint32_t bits)
{
	struct tenv *t = d->transport_priv;
	if (bits & 1)
		t->irq_used++;
	if (bits & 2)
		t->irq_config++;
}

static const struct virtio_transport_ops fake_tops = { .interrupt = fake_interrupt };

/* ---- guest memory, in the device's byte order ---- */

static uint8_t *gp(struct tenv *t, uint64_t gpa)
{
	assert_true(gpa >= RAM_GPA && gpa < RAM_GPA + RAM_SIZE);
	return t->ram + (gpa - RAM_GPA);
}

static bool guest_be(const struct tenv *t)
{
	return t->legacy && t->be;
}

static void wr(struct tenv *t, uint64_t gpa, uint64_t v, int bytes)
{
	uint8_t *p = gp(t, gpa);
	for (int i = 0; i < bytes; i++)
		p[guest_be(t) ? bytes - 1 - i : i] = (uint8_t)(v >> (8 * i));
}

static uint64_t rd(struct tenv *t, uint64_t gpa, int bytes)
{
	const uint8_t *p = gp(t, gpa);
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)p[guest_be(t) ? bytes - 1 - i : i] << (8 * i);
	return v;
}

/* little-endian whatever the mode (discard/write-zeroes segments) */
static void wr_le(struct tenv *t, uint64_t gpa, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		gp(t, gpa)[i] = (uint8_t)(v >> (8 * i));
}

static uint8_t pattern(uint64_t off)
{
	return (uint8_t)(off * 13 + (off >> 9) + 1);
}

/* ---- set-up ---- */

struct opts {
	bool legacy, be, readonly, event_idx;
	const char *serial;
	uint16_t queues;
	uint64_t extra_bytes;          /* sparse bytes after the patterned disk */
};

/* The engine every device of the current run uses (main sets it). */
static enum blk_aio_kind engine = BLK_AIO_SYNC;

static struct tenv *setup_env(struct opts o)
{
	struct tenv *t = calloc(1, sizeof(*t));
	char err[256];

	t->legacy = o.legacy;
	t->be = o.be;
	assert_int_equal(posix_memalign((void **)&t->ram, 4096, RAM_SIZE), 0);
	memset(t->ram, 0, RAM_SIZE);
	assert_int_equal(gm_add_region(&t->gm, RAM_GPA, RAM_SIZE, t->ram), 0);

	strcpy(t->path, "/var/tmp/kvmini-vblk-XXXXXX");
	int fd = mkstemp(t->path);
	assert_true(fd >= 0);
	uint8_t *img = malloc(DISK_BYTES);
	for (uint32_t i = 0; i < DISK_BYTES; i++)
		img[i] = pattern(i);
	assert_int_equal(write(fd, img, DISK_BYTES), DISK_BYTES);
	free(img);
	if (o.extra_bytes)
		assert_int_equal(ftruncate(fd, (off_t)(DISK_BYTES + o.extra_bytes)), 0);
	close(fd);
	assert_int_equal(blk_file_open(&t->file, t->path, o.readonly, BLK_CACHE_WRITEBACK, err,
				       sizeof(err)), 0);

	t->plat = (struct virtio_platform){ .current_vcpu_is_big_endian = vcpu_be,
					    .default_endian = VIRTIO_ENDIAN_LITTLE, .opaque = t };
	struct virtio_blk_opts bo = { .serial = o.serial ? o.serial : "kvmini-test-serial",
				      .num_queues = o.queues ? o.queues : 1, .aio = engine };
	assert_int_equal(virtio_blk_init(&t->blk, &t->file, &bo, &t->gm, &t->plat), 0);
	assert_int_equal(t->blk.aio_kind, engine);
	struct virtio_dev *d = &t->blk.vdev;
	assert_ptr_equal(d->dev_priv, &t->blk);
	d->tops = &fake_tops;
	d->transport_priv = t;
	d->legacy = o.legacy;

	/* a guest-initiated reset samples the vCPU's byte order */
	virtio_set_status(d, 0);
	assert_int_equal(d->device_endian, o.be ? VIRTIO_ENDIAN_BIG : VIRTIO_ENDIAN_LITTLE);
	uint64_t want = d->host_features;
	if (!o.event_idx)
		want &= ~(1ull << VIRTIO_F_RING_EVENT_IDX);
	driver_init_queue0(d, want, o.legacy, (struct test_rings){ QSZ, DESC_GPA, AVAIL_GPA, USED_GPA });
	return t;
}

static void teardown_env(struct tenv *t)
{
	virtio_blk_destroy(&t->blk);
	blk_file_close(&t->file);
	unlink(t->path);
	free(t->ram);
	free(t);
}

/* ---- the driver ---- */

/* Descriptors base..base+n-1 as one chain, published in the avail ring. */
static void add_chain(struct tenv *t, uint16_t base, const struct seg *s, int n)
{
	for (int i = 0; i < n; i++) {
		uint64_t dg = DESC_GPA + 16u * (base + i);
		wr(t, dg, s[i].gpa, 8);
		wr(t, dg + 8, s[i].len, 4);
		wr(t, dg + 12, (i < n - 1 ? F_NEXT : 0) | (s[i].w ? F_WRITE : 0), 2);
		wr(t, dg + 14, (uint64_t)(base + i + 1), 2);
	}
	wr(t, AVAIL_GPA + 4 + 2u * (t->avail_idx % QSZ), base, 2);
	t->avail_idx++;
	wr(t, AVAIL_GPA + 2, t->avail_idx, 2);
}

/* What the host's I/O thread does when a queue's engine fd is readable. */
static void pump_queue(struct tenv *t, uint16_t q)
{
	for (int spins = 0; spins < 5000; spins++) {
		int fd = virtio_blk_queue_fd(&t->blk, q);
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t cnt;
		if (poll(&p, 1, 1) > 0 && read(fd, &cnt, sizeof(cnt)) < 0)
			fail_msg("read of the engine's eventfd");
		virtio_blk_queue_complete(&t->blk, q);
		if (!virtio_blk_inflight(&t->blk, q))
			return;
	}
	fail_msg("queue %u: requests still in flight after 5 s", q);
}

static void kick_queue(struct tenv *t, uint16_t q)
{
	t->blk.vdev.ops->queue_notify(&t->blk.vdev, q);
	pump_queue(t, q);
}

static void kick(struct tenv *t)
{
	kick_queue(t, t->qsel);
}

static uint16_t used_idx(struct tenv *t)
{
	return (uint16_t)rd(t, USED_GPA + 2, 2);
}

/* The next used element: its length (and id). */
static uint32_t take_used(struct tenv *t, uint16_t *id)
{
	assert_true(used_idx(t) != t->used_seen);
	uint64_t e = USED_GPA + 4 + 8u * (t->used_seen % QSZ);
	t->used_seen++;
	if (id)
		*id = (uint16_t)rd(t, e, 4);
	return (uint32_t)rd(t, e + 4, 4);
}

static void put_hdr(struct tenv *t, uint64_t gpa, uint32_t type, uint64_t sector)
{
	wr(t, gpa, type, 4);
	wr(t, gpa + 4, 0, 4);
	wr(t, gpa + 8, sector, 8);
}

/* header | [data] | status: returns the status byte, *ulen the used len */
static uint8_t req(struct tenv *t, uint32_t type, uint64_t sector, uint64_t data_gpa,
		   uint32_t len, bool data_in, uint32_t *ulen)
{
	struct seg s[3];
	int n = 0;

	put_hdr(t, HDR_GPA, type, sector);
	*gp(t, STATUS_GPA) = 0xee;
	s[n++] = (struct seg){ HDR_GPA, 16, false };
	if (len)
		s[n++] = (struct seg){ data_gpa, len, data_in };
	s[n++] = (struct seg){ STATUS_GPA, 1, true };
	add_chain(t, 0, s, n);
	kick(t);
	uint32_t l = take_used(t, NULL);
	if (ulen)
		*ulen = l;
	return *gp(t, STATUS_GPA);
}

static void file_read(struct tenv *t, uint64_t off, void *buf, size_t len)
{
	int fd = open(t->path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static void expect_file_pattern(struct tenv *t, uint64_t off, size_t len)
{
	uint8_t *buf = malloc(len);
	file_read(t, off, buf, len);
	for (size_t i = 0; i < len; i++)
		if (buf[i] != pattern(off + i))
			fail_msg("disk byte %llu changed", (unsigned long long)(off + i));
	free(buf);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static const struct opts MODERN = { 0 };
static const struct opts LEGACY_BE = { .legacy = true, .be = true };
static const struct opts LEGACY_LE = { .legacy = true, .be = false };

/* ---- tests ---- */

static void check_config(struct tenv *t)
{
	struct virtio_dev *d = &t->blk.vdev;
	uint8_t cfg[VIRTIO_BLK_CONFIG_SIZE];

	virtio_config_read(d, 0, cfg, sizeof(cfg));
	memcpy(gp(t, DATA2_GPA), cfg, sizeof(cfg));   /* decode with the guest's order */
	assert_int_equal(rd(t, DATA2_GPA + VIRTIO_BLK_CFG_CAPACITY, 8), DISK_SECTORS);
	assert_int_equal(rd(t, DATA2_GPA + VIRTIO_BLK_CFG_SEG_MAX, 4), VIRTIO_BLK_QUEUE_SIZE - 2);
	assert_int_equal(rd(t, DATA2_GPA + VIRTIO_BLK_CFG_SIZE_MAX, 4), VIRTIO_BLK_SIZE_MAX);
	assert_int_equal(rd(t, DATA2_GPA + VIRTIO_BLK_CFG_BLK_SIZE, 4), 512);
	assert_int_equal(cfg[VIRTIO_BLK_CFG_PHYS_BLOCK_EXP], 3);
	assert_int_equal(rd(t, DATA2_GPA + VIRTIO_BLK_CFG_MIN_IO_SIZE, 2), 8);
	assert_int_equal(rd(t, DATA2_GPA + VIRTIO_BLK_CFG_NUM_QUEUES, 2), 1);
	assert_int_equal(rd(t, DATA2_GPA + VIRTIO_BLK_CFG_MAX_DISCARD_SEG, 4), VIRTIO_BLK_MAX_DWZ_SEG);
	assert_int_equal(rd(t, DATA2_GPA + VIRTIO_BLK_CFG_MAX_WZ_SECTORS, 4),
			 VIRTIO_BLK_MAX_DWZ_SECTORS);
	assert_int_equal(cfg[VIRTIO_BLK_CFG_WZ_MAY_UNMAP], 1);
	assert_true(all_zero(cfg + 57, 3));   /* unused1 (§5.2.5: MUST be 0) */
	assert_int_equal(cfg[33], 0);         /* unused0 */

	/* an unaligned 4-byte read inside capacity, and reads past the end */
	uint8_t four[4];
	virtio_config_read(d, 2, four, 4);
	assert_memory_equal(four, cfg + 2, 4);
	memset(four, 0xff, 4);
	virtio_config_read(d, VIRTIO_BLK_CONFIG_SIZE - 2, four, 4);
	assert_true(all_zero(four, 4));
}

static void config_modern(void **s)
{
	struct tenv *t = setup_env(MODERN);
	uint8_t cap[8];
	check_config(t);
	virtio_config_read(&t->blk.vdev, 0, cap, 8);
	assert_int_equal(cap[0], DISK_SECTORS & 0xff);   /* little-endian on the wire */
	assert_int_equal(cap[1], DISK_SECTORS >> 8);
	teardown_env(t);
}

static void config_legacy_big_endian(void **s)
{
	struct tenv *t = setup_env(LEGACY_BE);
	uint8_t cap[8];
	check_config(t);
	virtio_config_read(&t->blk.vdev, 0, cap, 8);
	assert_int_equal(cap[7], DISK_SECTORS & 0xff);
	assert_int_equal(cap[6], DISK_SECTORS >> 8);
	teardown_env(t);
}

static void features_offered(void **s)
{
	struct tenv *t = setup_env(MODERN);
	uint64_t f = t->blk.vdev.host_features;
	assert_true(f & 1ull << VIRTIO_F_VERSION_1);
	assert_true(f & 1ull << VIRTIO_F_RING_INDIRECT_DESC);
	assert_true(f & 1ull << VIRTIO_F_RING_EVENT_IDX);
	assert_true(f & 1ull << VIRTIO_BLK_F_FLUSH);
	assert_true(f & 1ull << VIRTIO_BLK_F_SEG_MAX);
	assert_true(f & 1ull << VIRTIO_BLK_F_SIZE_MAX);
	assert_true(f & 1ull << VIRTIO_BLK_F_BLK_SIZE);
	assert_true(f & 1ull << VIRTIO_BLK_F_TOPOLOGY);
	assert_true(f & 1ull << VIRTIO_BLK_F_DISCARD);
	assert_true(f & 1ull << VIRTIO_BLK_F_WRITE_ZEROES);
	assert_false(f & 1ull << VIRTIO_BLK_F_RO);
	assert_false(f & 1ull << VIRTIO_BLK_F_CONFIG_WCE);
	assert_false(f & 1ull << VIRTIO_BLK_F_MQ);
	assert_false(f & 1ull << VIRTIO_F_RING_PACKED);
	assert_int_equal(t->blk.vdev.ops->device_id, 2);
	assert_int_equal(t->blk.vdev.num_queues, 1);
	assert_int_equal(t->blk.vdev.ops->queue_max_size, 256);
	teardown_env(t);

	t = setup_env((struct opts){ .readonly = true });
	f = t->blk.vdev.host_features;
	assert_true(f & 1ull << VIRTIO_BLK_F_RO);
	assert_false(f & 1ull << VIRTIO_BLK_F_DISCARD);
	assert_false(f & 1ull << VIRTIO_BLK_F_WRITE_ZEROES);
	teardown_env(t);
}

static void roundtrip(const struct opts o)
{
	struct tenv *t = setup_env(o);
	uint32_t ul;
	uint8_t *w = gp(t, DATA_GPA), *r = gp(t, DATA2_GPA);

	for (int i = 0; i < 2048; i++)
		w[i] = (uint8_t)(i * 3 + 1);
	assert_int_equal(req(t, VIRTIO_BLK_T_OUT, 3, DATA_GPA, 2048, false, &ul), VIRTIO_BLK_S_OK);
	assert_int_equal(ul, 1);   /* only the status byte was written */
	memset(r, 0, 2048);
	assert_int_equal(req(t, VIRTIO_BLK_T_IN, 3, DATA2_GPA, 2048, true, &ul), VIRTIO_BLK_S_OK);
	assert_int_equal(ul, 2048 + 1);
	assert_memory_equal(r, w, 2048);

	uint8_t disk[2048];
	file_read(t, 3 * 512, disk, sizeof(disk));
	assert_memory_equal(disk, w, 2048);
	expect_file_pattern(t, 0, 3 * 512);
	expect_file_pattern(t, 5 * 512 + 2048 - 1024, 4096);

	/* the last sector of the disk is reachable */
	assert_int_equal(req(t, VIRTIO_BLK_T_IN, DISK_SECTORS - 1, DATA2_GPA, 512, true, &ul),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(r[0], pattern(DISK_BYTES - 512));
	assert_int_equal(t->blk.stats.reads, 2);
	assert_int_equal(t->blk.stats.writes, 1);
	teardown_env(t);
}

static void roundtrip_modern(void **s) { roundtrip(MODERN); }
static void roundtrip_legacy_be(void **s) { roundtrip(LEGACY_BE); }
static void roundtrip_legacy_le(void **s) { roundtrip(LEGACY_LE); }

/* A big-endian header read as little-endian would be type 0x01000000: the
 * legacy device must decode it in the guest's order. */
static void legacy_header_byte_order(void **s)
{
	struct tenv *t = setup_env(LEGACY_BE);
	memset(gp(t, DATA_GPA), 0x77, 512);
	assert_int_equal(req(t, VIRTIO_BLK_T_OUT, 1, DATA_GPA, 512, false, NULL), VIRTIO_BLK_S_OK);
	uint8_t disk[512];
	file_read(t, 512, disk, 512);
	assert_int_equal(disk[0], 0x77);
	assert_int_equal(gp(t, HDR_GPA)[3], 1);   /* type really is big-endian in RAM */
	teardown_env(t);
}

/* Header split 6 + 10 across descriptors, data in odd pieces, status sharing
 * the last data descriptor (ANY_LAYOUT). */
static void split_header_and_data(void **s)
{
	struct tenv *t = setup_env(MODERN);
	uint8_t *w = gp(t, DATA_GPA);
	for (int i = 0; i < 1024; i++)
		w[i] = (uint8_t)(0xa0 ^ i);
	put_hdr(t, HDR_GPA, VIRTIO_BLK_T_OUT, 10);
	/* move the second part of the header elsewhere */
	memcpy(gp(t, HDR_GPA + 0x80), gp(t, HDR_GPA + 6), 10);
	memset(gp(t, HDR_GPA + 6), 0xcc, 10);
	struct seg wsegs[] = {
		{ HDR_GPA, 6, false }, { HDR_GPA + 0x80, 10, false },
		{ DATA_GPA, 100, false }, { DATA_GPA + 100, 924, false },
		{ STATUS_GPA, 1, true },
	};
	add_chain(t, 0, wsegs, 5);
	kick(t);
	assert_int_equal(take_used(t, NULL), 1);
	assert_int_equal(*gp(t, STATUS_GPA), VIRTIO_BLK_S_OK);

	/* read back: header in 3 pieces, data + status in one 1025-byte buffer */
	put_hdr(t, HDR_GPA, VIRTIO_BLK_T_IN, 10);
	memcpy(gp(t, HDR_GPA + 0x40), gp(t, HDR_GPA + 1), 15);
	struct seg rsegs[] = {
		{ HDR_GPA, 1, false }, { HDR_GPA + 0x40, 7, false }, { HDR_GPA + 0x47, 8, false },
		{ DATA2_GPA, 1025, true },
	};
	gp(t, DATA2_GPA)[1024] = 0xee;
	add_chain(t, 3, rsegs, 4);
	kick(t);
	uint16_t id;
	assert_int_equal(take_used(t, &id), 1025);
	assert_int_equal(id, 3);
	assert_int_equal(gp(t, DATA2_GPA)[1024], VIRTIO_BLK_S_OK);
	assert_memory_equal(gp(t, DATA2_GPA), w, 1024);
	teardown_env(t);
}

static void flush_and_get_id(void **s)
{
	struct tenv *t = setup_env(MODERN);
	uint32_t ul;
	assert_int_equal(req(t, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, &ul), VIRTIO_BLK_S_OK);
	assert_int_equal(ul, 1);
	assert_int_equal(t->blk.stats.flushes, 1);
	/* VIRTIO_BLK_T_FLUSH_OUT is a legacy synonym only */
	assert_int_equal(req(t, VIRTIO_BLK_T_FLUSH_OUT, 0, 0, 0, false, NULL), VIRTIO_BLK_S_UNSUPP);

	memset(gp(t, DATA_GPA), 0xff, 20);
	assert_int_equal(req(t, VIRTIO_BLK_T_GET_ID, 0, DATA_GPA, 20, true, &ul), VIRTIO_BLK_S_OK);
	assert_int_equal(ul, 21);
	uint8_t want[20] = "kvmini-test-serial";
	assert_memory_equal(gp(t, DATA_GPA), want, 20);
	teardown_env(t);

	/* 20 bytes exactly: no terminator; longer serials are cut */
	t = setup_env((struct opts){ .legacy = true, .be = true,
				     .serial = "0123456789abcdefghijKLMNO" });
	assert_int_equal(req(t, VIRTIO_BLK_T_FLUSH_OUT, 0, 0, 0, false, NULL), VIRTIO_BLK_S_OK);
	memset(gp(t, DATA_GPA), 0xff, 32);
	assert_int_equal(req(t, VIRTIO_BLK_T_GET_ID, 0, DATA_GPA, 32, true, &ul), VIRTIO_BLK_S_OK);
	assert_int_equal(ul, 21);
	assert_memory_equal(gp(t, DATA_GPA), "0123456789abcdefghij", 20);
	assert_int_equal(gp(t, DATA_GPA)[20], 0xff);
	teardown_env(t);
}

/* One DISCARD / WRITE_ZEROES request with n segments at SEGS_GPA. */
static uint8_t dwz_req(struct tenv *t, uint32_t type, const uint64_t (*segv)[3], int n)
{
	for (int i = 0; i < n; i++) {
		wr_le(t, SEGS_GPA + 16u * i, segv[i][0], 8);
		wr_le(t, SEGS_GPA + 16u * i + 8, segv[i][1], 4);
		wr_le(t, SEGS_GPA + 16u * i + 12, segv[i][2], 4);
	}
	return req(t, type, 0, SEGS_GPA, 16u * (uint32_t)n, false, NULL);
}

static void read_sectors(struct tenv *t, uint64_t sector, uint32_t n)
{
	assert_int_equal(req(t, VIRTIO_BLK_T_IN, sector, DATA2_GPA, n * 512, true, NULL),
			 VIRTIO_BLK_S_OK);
}

static void discard_and_write_zeroes(const struct opts o)
{
	struct tenv *t = setup_env(o);
	const uint8_t *r = gp(t, DATA2_GPA);

	/* two ranges in one request */
	const uint64_t d2[2][3] = { { 8, 8, 0 }, { 64, 16, 0 } };
	assert_int_equal(dwz_req(t, VIRTIO_BLK_T_DISCARD, d2, 2), VIRTIO_BLK_S_OK);
	read_sectors(t, 8, 8);
	assert_true(all_zero(r, 8 * 512));
	read_sectors(t, 64, 16);
	assert_true(all_zero(r, 16 * 512));
	expect_file_pattern(t, 16 * 512, 48 * 512);

	/* §5.2.6.2: UNMAP or an unknown flag on a discard: UNSUPP, nothing done */
	const uint64_t unmap[1][3] = { { 100, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP } };
	assert_int_equal(dwz_req(t, VIRTIO_BLK_T_DISCARD, unmap, 1), VIRTIO_BLK_S_UNSUPP);
	const uint64_t odd[2][3] = { { 100, 8, 0 }, { 120, 8, 4 } };
	assert_int_equal(dwz_req(t, VIRTIO_BLK_T_DISCARD, odd, 2), VIRTIO_BLK_S_UNSUPP);
	expect_file_pattern(t, 100 * 512, 8 * 512);   /* checked before acting */

	/* beyond the end, overflowing, too long, too many */
	const uint64_t beyond[1][3] = { { DISK_SECTORS - 4, 8, 0 } };
	assert_int_equal(dwz_req(t, VIRTIO_BLK_T_DISCARD, beyond, 1), VIRTIO_BLK_S_IOERR);
	const uint64_t wrap[1][3] = { { UINT64_MAX - 2, 8, 0 } };
	assert_int_equal(dwz_req(t, VIRTIO_BLK_T_WRITE_ZEROES, wrap, 1), VIRTIO_BLK_S_IOERR);
	const uint64_t huge[1][3] = { { 0, VIRTIO_BLK_MAX_DWZ_SECTORS + 1, 0 } };
	assert_int_equal(dwz_req(t, VIRTIO_BLK_T_DISCARD, huge, 1), VIRTIO_BLK_S_IOERR);
	uint64_t many[VIRTIO_BLK_MAX_DWZ_SEG + 1][3];
	for (unsigned i = 0; i <= VIRTIO_BLK_MAX_DWZ_SEG; i++) {
		many[i][0] = 200 + i;
		many[i][1] = 1;
		many[i][2] = 0;
	}
	assert_int_equal(dwz_req(t, VIRTIO_BLK_T_DISCARD, (const uint64_t (*)[3])many,
				 (int)VIRTIO_BLK_MAX_DWZ_SEG + 1), VIRTIO_BLK_S_IOERR);
	assert_int_equal(dwz_req(t, VIRTIO_BLK_T_DISCARD, (const uint64_t (*)[3])many,
				 (int)VIRTIO_BLK_MAX_DWZ_SEG), VIRTIO_BLK_S_OK);
	/* segment data not a multiple of 16 */
	assert_int_equal(req(t, VIRTIO_BLK_T_DISCARD, 0, SEGS_GPA, 24, false, NULL),
			 VIRTIO_BLK_S_IOERR);
	expect_file_pattern(t, (DISK_SECTORS - 4) * 512, 4 * 512);

	/* write zeroes, with and without UNMAP */
	const uint64_t z[2][3] = { { 300, 3, 0 }, { 310, 9, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP } };
	assert_int_equal(dwz_req(t, VIRTIO_BLK_T_WRITE_ZEROES, z, 2), VIRTIO_BLK_S_OK);
	read_sectors(t, 300, 3);
	assert_true(all_zero(r, 3 * 512));
	read_sectors(t, 310, 9);
	assert_true(all_zero(r, 9 * 512));
	expect_file_pattern(t, 303 * 512, 7 * 512);
	expect_file_pattern(t, 319 * 512, 512);
	const uint64_t zbad[1][3] = { { 330, 1, 2 } };
	assert_int_equal(dwz_req(t, VIRTIO_BLK_T_WRITE_ZEROES, zbad, 1), VIRTIO_BLK_S_UNSUPP);
	expect_file_pattern(t, 330 * 512, 512);
	teardown_env(t);
}

static void discard_wz_modern(void **s) { discard_and_write_zeroes(MODERN); }
/* segments stay little-endian on a big-endian legacy device */
static void discard_wz_legacy_be(void **s) { discard_and_write_zeroes(LEGACY_BE); }

static void readonly_disk(void **s)
{
	struct tenv *t = setup_env((struct opts){ .readonly = true });
	uint32_t ul;
	memset(gp(t, DATA_GPA), 0x11, 1024);
	assert_int_equal(req(t, VIRTIO_BLK_T_OUT, 0, DATA_GPA, 1024, false, &ul), VIRTIO_BLK_S_IOERR);
	assert_int_equal(ul, 1);
	const uint64_t seg[1][3] = { { 0, 8, 0 } };
	assert_int_equal(dwz_req(t, VIRTIO_BLK_T_DISCARD, seg, 1), VIRTIO_BLK_S_IOERR);
	assert_int_equal(dwz_req(t, VIRTIO_BLK_T_WRITE_ZEROES, seg, 1), VIRTIO_BLK_S_IOERR);
	expect_file_pattern(t, 0, 8 * 512);
	assert_int_equal(req(t, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, NULL), VIRTIO_BLK_S_OK);
	read_sectors(t, 0, 2);
	assert_int_equal(gp(t, DATA2_GPA)[0], pattern(0));
	assert_int_equal(t->blk.stats.ioerr, 3);
	teardown_env(t);
}

static void bad_ranges_and_lengths(void **s)
{
	struct tenv *t = setup_env(MODERN);
	uint32_t ul;
	memset(gp(t, DATA_GPA), 0x42, 4096);
	/* straddling the end */
	assert_int_equal(req(t, VIRTIO_BLK_T_IN, DISK_SECTORS - 1, DATA_GPA, 1024, true, &ul),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(ul, 1);
	assert_int_equal(req(t, VIRTIO_BLK_T_OUT, DISK_SECTORS, DATA_GPA, 512, false, NULL),
			 VIRTIO_BLK_S_IOERR);
	/* sector * 512 would wrap to a small offset: must not touch the host */
	assert_int_equal(req(t, VIRTIO_BLK_T_OUT, UINT64_MAX / 512, DATA_GPA, 512, false, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(req(t, VIRTIO_BLK_T_OUT, UINT64_MAX / 512 + 1, DATA_GPA, 512, false, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(req(t, VIRTIO_BLK_T_OUT, UINT64_MAX, DATA_GPA, 512, false, NULL),
			 VIRTIO_BLK_S_IOERR);
	/* not a multiple of 512 */
	assert_int_equal(req(t, VIRTIO_BLK_T_OUT, 0, DATA_GPA, 100, false, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(req(t, VIRTIO_BLK_T_IN, 0, DATA_GPA, 513, true, NULL), VIRTIO_BLK_S_IOERR);
	expect_file_pattern(t, 0, DISK_BYTES);
	/* a zero-length read at the very end is in range */
	assert_int_equal(req(t, VIRTIO_BLK_T_IN, DISK_SECTORS, 0, 0, true, &ul), VIRTIO_BLK_S_OK);
	/* unknown types (SCSI, GET_LIFETIME, SECURE_ERASE, junk) */
	assert_int_equal(req(t, 2, 0, 0, 0, false, NULL), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(req(t, 10, 0, DATA_GPA, 8, true, NULL), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(req(t, 14, 0, 0, 0, false, NULL), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(req(t, 0xdeadbeef, 0, 0, 0, false, &ul), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(ul, 1);
	assert_false(t->blk.vdev.status & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(t->blk.stats.ioerr, 7);
	teardown_env(t);
}

/* Documented behaviour (blk.c, after QEMU's virtio_error): a chain with a
 * header shorter than 16 bytes or no device-writable byte for the status is
 * dropped unanswered and the device needs a reset. */
static void malformed_framing(void **s)
{
	for (int variant = 0; variant < 3; variant++) {
		struct tenv *t = setup_env(MODERN);
		struct virtio_dev *d = &t->blk.vdev;
		put_hdr(t, HDR_GPA, VIRTIO_BLK_T_OUT, 0);
		if (variant == 0) {   /* 8-byte header */
			struct seg sg[] = { { HDR_GPA, 8, false }, { STATUS_GPA, 1, true } };
			add_chain(t, 0, sg, 2);
		} else if (variant == 1) {   /* no status byte at all */
			struct seg sg[] = { { HDR_GPA, 16, false }, { DATA_GPA, 512, false } };
			add_chain(t, 0, sg, 2);
		} else {   /* only a writable buffer: no header */
			struct seg sg[] = { { DATA_GPA, 512, true } };
			add_chain(t, 0, sg, 1);
		}
		*gp(t, STATUS_GPA) = 0xee;
		kick(t);
		assert_int_equal(used_idx(t), 0);
		assert_int_equal(*gp(t, STATUS_GPA), 0xee);
		assert_true(d->status & VIRTIO_STATUS_NEEDS_RESET);
		assert_int_equal(t->irq_config, 1);
		assert_int_equal(t->blk.stats.malformed, 1);
		expect_file_pattern(t, 0, 512);
		/* nothing more is served until a reset */
		put_hdr(t, HDR_GPA, VIRTIO_BLK_T_FLUSH, 0);
		struct seg ok[] = { { HDR_GPA, 16, false }, { STATUS_GPA, 1, true } };
		add_chain(t, 4, ok, 2);
		kick(t);
		assert_int_equal(used_idx(t), 0);
		teardown_env(t);
	}
}

/* A chain the core refuses (buffer outside RAM): NEEDS_RESET, no push. */
static void broken_chain(void **s)
{
	struct tenv *t = setup_env(MODERN);
	put_hdr(t, HDR_GPA, VIRTIO_BLK_T_IN, 0);
	struct seg sg[] = { { HDR_GPA, 16, false }, { RAM_GPA + RAM_SIZE - 256, 512, true },
			    { STATUS_GPA, 1, true } };
	add_chain(t, 0, sg, 3);
	kick(t);
	assert_int_equal(used_idx(t), 0);
	assert_true(t->blk.vdev.status & VIRTIO_STATUS_NEEDS_RESET);
	teardown_env(t);
}

/* Without EVENT_IDX: one interrupt per batch, none with NO_INTERRUPT;
 * NO_NOTIFY is clear again after the drain. */
static void interrupts_without_event_idx(void **s)
{
	struct tenv *t = setup_env(MODERN);
	assert_int_equal(req(t, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(t->irq_used, 1);
	assert_int_equal(rd(t, USED_GPA, 2), 0);   /* used->flags: kicks wanted */

	/* three requests, one kick: three used entries, one interrupt per
	 * batch of completions -- one batch with the sync engine, whose
	 * requests are all done when they are reaped; up to three with an
	 * engine that finishes them at its own pace, in any order. */
	put_hdr(t, HDR_GPA, VIRTIO_BLK_T_FLUSH, 0);
	for (int i = 0; i < 3; i++) {
		struct seg sg[] = { { HDR_GPA, 16, false }, { STATUS_GPA + 1 + i, 1, true } };
		add_chain(t, (uint16_t)(2 * i), sg, 2);
	}
	kick(t);
	assert_int_equal(used_idx(t), 4);
	if (engine == BLK_AIO_SYNC)
		assert_int_equal(t->irq_used, 2);
	else
		assert_in_range(t->irq_used, 2, 4);
	int ids = 0;
	for (int i = 0; i < 3; i++) {
		uint16_t id;
		assert_int_equal(take_used(t, &id), 1);
		assert_true(id == 0 || id == 2 || id == 4);
		if (engine == BLK_AIO_SYNC)
			assert_int_equal(id, 2 * i);
		ids |= 1 << id;
	}
	assert_int_equal(ids, 1 | 4 | 16);
	int irq_after_batch = t->irq_used;

	/* the driver asks for no interrupts */
	wr(t, AVAIL_GPA, 1, 2);
	assert_int_equal(req(t, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(t->irq_used, irq_after_batch);
	teardown_env(t);
}

static void interrupts_with_event_idx(const struct opts o)
{
	struct tenv *t = setup_env(o);
	const uint64_t used_event = AVAIL_GPA + 4 + 2 * QSZ;
	const uint64_t avail_event = USED_GPA + 4 + 8 * QSZ;

	wr(t, used_event, 0, 2);   /* interrupt when used idx passes 0 */
	assert_int_equal(req(t, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(t->irq_used, 1);
	/* the device asks to be kicked at the next avail index */
	assert_int_equal(rd(t, avail_event, 2), 1);

	wr(t, used_event, 3, 2);   /* not before the 4th completion */
	assert_int_equal(req(t, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(req(t, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(t->irq_used, 1);
	assert_int_equal(req(t, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(t->irq_used, 2);
	assert_int_equal(rd(t, avail_event, 2), 4);
	/* NO_INTERRUPT is ignored with EVENT_IDX (§2.7.10) */
	teardown_env(t);
}

static void event_idx_modern(void **s)
{
	interrupts_with_event_idx((struct opts){ .event_idx = true });
}

static void event_idx_legacy_be(void **s)
{
	interrupts_with_event_idx((struct opts){ .event_idx = true, .legacy = true, .be = true });
}

/* The rings wrap: more requests than QSZ. */
static void many_requests_wrap(void **s)
{
	struct tenv *t = setup_env(MODERN);
	for (uint32_t i = 0; i < 3 * QSZ + 1; i++) {
		assert_int_equal(req(t, VIRTIO_BLK_T_IN, i, DATA2_GPA, 512, true, NULL),
				 VIRTIO_BLK_S_OK);
		assert_int_equal(gp(t, DATA2_GPA)[7], pattern(i * 512 + 7));
	}
	assert_int_equal(used_idx(t), 3 * QSZ + 1);
	teardown_env(t);
}


/* ---- asynchronous completion, errors, reset, queues ---- */

/* Completions need not follow the ring: a GET_ID answered at once overtakes
 * the read posted before it, each with its own id and length. */
static void out_of_order_completion(void **s)
{
	struct tenv *t = setup_env(MODERN);
	put_hdr(t, HDR_GPA, VIRTIO_BLK_T_IN, 7);
	put_hdr(t, HDR_GPA + 0x20, VIRTIO_BLK_T_GET_ID, 0);
	struct seg rd1[] = { { HDR_GPA, 16, false }, { DATA2_GPA, 4096, true },
			     { STATUS_GPA, 1, true } };
	struct seg id1[] = { { HDR_GPA + 0x20, 16, false }, { DATA_GPA, 20, true },
			     { STATUS_GPA + 1, 1, true } };
	add_chain(t, 0, rd1, 3);
	add_chain(t, 3, id1, 3);
	kick(t);
	uint16_t id;
	assert_int_equal(take_used(t, &id), 21);
	assert_int_equal(id, 3);
	assert_int_equal(take_used(t, &id), 4097);
	assert_int_equal(id, 0);
	assert_int_equal(*gp(t, STATUS_GPA), VIRTIO_BLK_S_OK);
	assert_int_equal(gp(t, DATA2_GPA)[100], pattern(7 * 512 + 100));
	teardown_env(t);
}

/* Five reads of different sectors in one kick (ring slots 0..14): all come
 * back once, each with its own data, whatever the engine's order. */
static void many_in_flight(void **s)
{
	struct tenv *t = setup_env(MODERN);
	for (int i = 0; i < 5; i++) {
		put_hdr(t, HDR_GPA + 0x20u * i, VIRTIO_BLK_T_IN, 40u * i);
		gp(t, STATUS_GPA)[i] = 0xee;
		struct seg sg[] = { { HDR_GPA + 0x20u * i, 16, false },
				    { DATA_GPA + 0x4000u * i, 16384, true },
				    { STATUS_GPA + i, 1, true } };
		add_chain(t, (uint16_t)(3 * i), sg, 3);
	}
	kick(t);
	bool seen[5] = { false };
	for (int k = 0; k < 5; k++) {
		uint16_t id;
		assert_int_equal(take_used(t, &id), 16385);
		assert_true(id % 3 == 0 && id / 3 < 5 && !seen[id / 3]);
		seen[id / 3] = true;
	}
	for (int i = 0; i < 5; i++) {
		assert_int_equal(gp(t, STATUS_GPA)[i], VIRTIO_BLK_S_OK);
		const uint8_t *b = gp(t, DATA_GPA + 0x4000u * i);
		for (uint32_t k = 0; k < 16384; k += 511)
			assert_int_equal(b[k], pattern(40u * i * 512 + k));
	}
	assert_int_equal(t->blk.stats.reads, 5);
	teardown_env(t);
}

/* A write the driver saw acknowledged is in the file once a later FLUSH is
 * acknowledged (fdatasync after the write completed: §5.2.6). */
static void flush_after_acknowledged_write(void **s)
{
	struct tenv *t = setup_env(MODERN);
	memset(gp(t, DATA_GPA), 0x5a, 4096);
	assert_int_equal(req(t, VIRTIO_BLK_T_OUT, 20, DATA_GPA, 4096, false, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(req(t, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, NULL), VIRTIO_BLK_S_OK);
	uint8_t b[4096];
	file_read(t, 20 * 512, b, sizeof(b));
	for (int i = 0; i < 4096; i++)
		assert_int_equal(b[i], 0x5a);
	assert_int_equal(t->blk.stats.flushes, 1);
	teardown_env(t);
}

/* The image shrinks under the device: a read past its new end fails with
 * IOERR for that request only; the device stays usable. */
static void backend_error_is_ioerr(void **s)
{
	struct tenv *t = setup_env(MODERN);
	uint32_t ul;
	assert_int_equal(truncate(t->path, DISK_BYTES / 2), 0);
	assert_int_equal(req(t, VIRTIO_BLK_T_IN, DISK_SECTORS - 8, DATA2_GPA, 4096, true, &ul),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(ul, 1);
	assert_false(t->blk.vdev.status & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(req(t, VIRTIO_BLK_T_IN, 0, DATA2_GPA, 4096, true, &ul), VIRTIO_BLK_S_OK);
	assert_int_equal(ul, 4097);
	assert_int_equal(t->blk.stats.ioerr, 1);
	teardown_env(t);
}

/* Reset while requests are in flight: the reset waits for them and drops
 * them, so after it returns nothing writes guest memory -- no status byte,
 * no data, no used entry -- even when the engine is pumped afterwards. */
static void reset_with_requests_in_flight(void **s)
{
	struct tenv *t = setup_env(MODERN);
	struct virtio_dev *d = &t->blk.vdev;
	for (int i = 0; i < 5; i++) {
		put_hdr(t, HDR_GPA + 0x20u * i, VIRTIO_BLK_T_IN, 64u * i);
		gp(t, STATUS_GPA)[i] = 0xee;
		struct seg sg[] = { { HDR_GPA + 0x20u * i, 16, false },
				    { DATA_GPA + 0x8000u * i, 32768, true },
				    { STATUS_GPA + i, 1, true } };
		add_chain(t, (uint16_t)(3 * i), sg, 3);
	}
	d->ops->queue_notify(d, 0);          /* no pumping: the engine has them */
	uint16_t used_before = used_idx(t);
	pthread_mutex_lock(&d->lock);
	virtio_set_status(d, 0);
	pthread_mutex_unlock(&d->lock);
	assert_int_equal(virtio_blk_inflight(&t->blk, 0), 0);
	assert_int_equal(used_idx(t), used_before);
	/* poison everything the requests could still write, then pump */
	memset(gp(t, DATA_GPA), 0x33, 5 * 32768);
	for (int i = 0; i < 5; i++)
		if (gp(t, STATUS_GPA)[i] == 0xee)
			gp(t, STATUS_GPA)[i] = 0x44;
	uint8_t before[8];
	memcpy(before, gp(t, STATUS_GPA), 8);
	usleep(20000);
	virtio_blk_queue_complete(&t->blk, 0);
	assert_memory_equal(gp(t, STATUS_GPA), before, 8);
	for (uint32_t k = 0; k < 5 * 32768; k += 997)
		assert_int_equal(gp(t, DATA_GPA)[k], 0x33);
	assert_int_equal(used_idx(t), used_before);
	teardown_env(t);
}

/* Re-initialises the driver side with only queue q live on the standard
 * ring addresses (the device was reset first). */
static void go_live_on_queue(struct tenv *t, uint16_t q)
{
	struct virtio_dev *d = &t->blk.vdev;
	uint8_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	pthread_mutex_lock(&d->lock);
	virtio_set_status(d, 0);
	virtio_set_status(d, st);
	virtio_set_guest_features(d, 0, (uint32_t)d->host_features);
	virtio_set_guest_features(d, 1, (uint32_t)(d->host_features >> 32));
	st |= VIRTIO_STATUS_FEATURES_OK;
	virtio_set_status(d, st);
	d->vq[q].num = QSZ;
	d->vq[q].desc_gpa = DESC_GPA;
	d->vq[q].avail_gpa = AVAIL_GPA;
	d->vq[q].used_gpa = USED_GPA;
	d->vq[q].ready = true;
	virtio_set_status(d, st | VIRTIO_STATUS_DRIVER_OK);
	pthread_mutex_unlock(&d->lock);
	memset(gp(t, DESC_GPA), 0, 0x3000);
	t->avail_idx = t->used_seen = 0;
	t->qsel = q;
}

/* queues=4: MQ offered, num_queues in config, each queue its own engine,
 * and a request on queue 3 is served there; a kick for a queue the device
 * does not have is ignored. */
static void multi_queue_setup(void **s)
{
	struct tenv *t = setup_env((struct opts){ .queues = 4 });
	struct virtio_dev *d = &t->blk.vdev;
	assert_true(d->host_features & 1ull << VIRTIO_BLK_F_MQ);
	assert_int_equal(d->num_queues, 4);
	uint8_t cfg[2];
	virtio_config_read(d, VIRTIO_BLK_CFG_NUM_QUEUES, cfg, 2);
	assert_int_equal(cfg[0] | cfg[1] << 8, 4);
	for (uint16_t q = 0; q < 4; q++) {
		assert_true(virtio_blk_queue_fd(&t->blk, q) >= 0);
		for (uint16_t k = 0; k < q; k++)
			assert_int_not_equal(virtio_blk_queue_fd(&t->blk, q),
					     virtio_blk_queue_fd(&t->blk, k));
	}
	assert_int_equal(virtio_blk_queue_fd(&t->blk, 4), -1);
	go_live_on_queue(t, 3);
	assert_int_equal(req(t, VIRTIO_BLK_T_IN, 2, DATA2_GPA, 512, true, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(gp(t, DATA2_GPA)[9], pattern(2 * 512 + 9));
	d->ops->queue_notify(d, 17);         /* no such queue: nothing happens */
	d->ops->queue_notify(d, 0);          /* not enabled by the driver */
	assert_int_equal(used_idx(t), 1);
	teardown_env(t);

	/* one queue: no MQ */
	t = setup_env(MODERN);
	assert_false(t->blk.vdev.host_features & 1ull << VIRTIO_BLK_F_MQ);
	teardown_env(t);
}

/* DISCARD / WRITE_ZEROES act on the segments as they were when the request
 * was taken: rewriting them in guest memory afterwards (a second vCPU)
 * changes nothing -- not into a range past the 1 GiB limit, not beyond the
 * disk. */
static void dwz_segments_read_once(void **s)
{
	struct tenv *t = setup_env(MODERN);
	struct virtio_dev *d = &t->blk.vdev;
	const uint64_t segv[2][3] = { { 8, 8, 0 }, { 32, 8, 0 } };
	for (int i = 0; i < 2; i++) {
		wr_le(t, SEGS_GPA + 16u * i, segv[i][0], 8);
		wr_le(t, SEGS_GPA + 16u * i + 8, segv[i][1], 4);
		wr_le(t, SEGS_GPA + 16u * i + 12, segv[i][2], 4);
	}
	put_hdr(t, HDR_GPA, VIRTIO_BLK_T_WRITE_ZEROES, 0);
	*gp(t, STATUS_GPA) = 0xee;
	struct seg sg[] = { { HDR_GPA, 16, false }, { SEGS_GPA, 32, false },
			    { STATUS_GPA, 1, true } };
	add_chain(t, 0, sg, 3);
	d->ops->queue_notify(d, 0);
	/* the guest rewrites the second segment: all of the disk, huge */
	wr_le(t, SEGS_GPA + 16, 0, 8);
	wr_le(t, SEGS_GPA + 24, 0xffffffffu, 4);
	wr_le(t, SEGS_GPA + 28, 0, 4);
	pump_queue(t, 0);
	assert_int_equal(take_used(t, NULL), 1);
	assert_int_equal(*gp(t, STATUS_GPA), VIRTIO_BLK_S_OK);
	expect_file_pattern(t, 0, 8 * 512);
	expect_file_pattern(t, 16 * 512, 16 * 512);
	expect_file_pattern(t, 40 * 512, DISK_BYTES - 40 * 512);
	uint8_t z[8 * 512];
	file_read(t, 32 * 512, z, sizeof(z));
	assert_true(all_zero(z, sizeof(z)));
	teardown_env(t);
}

/* A read of 2 GiB (an indirect table: the header, then 128 descriptors all
 * over the same 16 MiB of guest RAM, against a sparse disk): answered OK with
 * used length 2^31 + 1 -- 32-bit used lengths, not a signed int that
 * overflows into "malformed". */
static void read_of_two_gib(void **s)
{
	if (engine != BLK_AIO_SYNC)
		return;               /* one engine is enough for the arithmetic */
	struct tenv *t = setup_env((struct opts){ .extra_bytes = 3ull << 30 });
	const uint32_t chunk = 16u << 20;
	put_hdr(t, HDR_GPA, VIRTIO_BLK_T_IN, DISK_SECTORS);
	for (int i = 0; i <= 128; i++) {
		uint64_t e = INDIR_GPA + 16u * i;
		bool last = i == 128;
		wr(t, e, i ? BIG_GPA : HDR_GPA, 8);
		wr(t, e + 8, i ? (last ? chunk + 1 : chunk) : 16, 4);
		wr(t, e + 12, (last ? 0 : F_NEXT) | (i ? F_WRITE : 0), 2);
		wr(t, e + 14, (uint64_t)(i + 1), 2);
	}
	wr(t, DESC_GPA, INDIR_GPA, 8);
	wr(t, DESC_GPA + 8, 129 * 16, 4);
	wr(t, DESC_GPA + 12, F_INDIRECT, 2);
	wr(t, AVAIL_GPA + 4 + 2u * (t->avail_idx % QSZ), 0, 2);
	t->avail_idx++;
	wr(t, AVAIL_GPA + 2, t->avail_idx, 2);
	gp(t, BIG_GPA)[chunk] = 0xee;
	kick(t);
	assert_int_equal(t->blk.stats.malformed, 0);
	assert_false(t->blk.vdev.status & VIRTIO_STATUS_NEEDS_RESET);
	uint32_t ul = take_used(t, NULL);
	assert_int_equal(gp(t, BIG_GPA)[chunk], VIRTIO_BLK_S_OK);
	assert_int_equal(ul, (1u << 31) + 1);
	teardown_env(t);
}

/* A chain may not be longer than the device's largest queue (virtio 1.2
 * §2.7.5.3.1), and kvmini's element holds no more: an indirect table of
 * VIRTIO_BLK_QUEUE_SIZE + 1 descriptors is malformed and needs a reset, and
 * nothing is written past the element's (queue-sized) segment array. */
static void chain_longer_than_queue(void **s)
{
	if (engine != BLK_AIO_SYNC)
		return;
	struct tenv *t = setup_env((struct opts){ 0 });
	const uint32_t n = VIRTIO_BLK_QUEUE_SIZE + 1;
	put_hdr(t, HDR_GPA, VIRTIO_BLK_T_IN, 0);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t e = INDIR_GPA + 16u * i;
		bool last = i == n - 1;
		wr(t, e, i ? BIG_GPA + 512u * i : HDR_GPA, 8);
		wr(t, e + 8, i ? 512 : 16, 4);
		wr(t, e + 12, (last ? 0 : F_NEXT) | (i ? F_WRITE : 0), 2);
		wr(t, e + 14, (uint64_t)(i + 1), 2);
	}
	wr(t, DESC_GPA, INDIR_GPA, 8);
	wr(t, DESC_GPA + 8, n * 16, 4);
	wr(t, DESC_GPA + 12, F_INDIRECT, 2);
	wr(t, AVAIL_GPA + 4 + 2u * (t->avail_idx % QSZ), 0, 2);
	t->avail_idx++;
	wr(t, AVAIL_GPA + 2, t->avail_idx, 2);
	kick(t);
	assert_true(t->blk.vdev.status & VIRTIO_STATUS_NEEDS_RESET);
	teardown_env(t);
}

static int engine_ok(enum blk_aio_kind k)
{
	char path[] = "/var/tmp/kvmini-vblk-probe-XXXXXX", err[256];
	struct blk_file f;
	struct blk_aio *a;
	int fd = mkstemp(path);
	int r = fd >= 0 && !ftruncate(fd, 4096) ? 0 : -1;
	if (fd >= 0)
		close(fd);
	if (!r && !(r = blk_file_open(&f, path, false, BLK_CACHE_WRITEBACK, err, sizeof(err)))) {
		r = blk_aio_open(&a, k, &f, 4);
		if (!r)
			blk_aio_close(a);
		blk_file_close(&f);
	}
	unlink(path);
	return r;
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(config_modern),
		cmocka_unit_test(config_legacy_big_endian),
		cmocka_unit_test(features_offered),
		cmocka_unit_test(roundtrip_modern),
		cmocka_unit_test(roundtrip_legacy_be),
		cmocka_unit_test(roundtrip_legacy_le),
		cmocka_unit_test(legacy_header_byte_order),
		cmocka_unit_test(split_header_and_data),
		cmocka_unit_test(flush_and_get_id),
		cmocka_unit_test(discard_wz_modern),
		cmocka_unit_test(discard_wz_legacy_be),
		cmocka_unit_test(readonly_disk),
		cmocka_unit_test(bad_ranges_and_lengths),
		cmocka_unit_test(malformed_framing),
		cmocka_unit_test(broken_chain),
		cmocka_unit_test(interrupts_without_event_idx),
		cmocka_unit_test(event_idx_modern),
		cmocka_unit_test(event_idx_legacy_be),
		cmocka_unit_test(many_requests_wrap),
		cmocka_unit_test(out_of_order_completion),
		cmocka_unit_test(many_in_flight),
		cmocka_unit_test(flush_after_acknowledged_write),
		cmocka_unit_test(backend_error_is_ioerr),
		cmocka_unit_test(reset_with_requests_in_flight),
		cmocka_unit_test(multi_queue_setup),
		cmocka_unit_test(dwz_segments_read_once),
		cmocka_unit_test(read_of_two_gib),
		cmocka_unit_test(chain_longer_than_queue),
	};
	const enum blk_aio_kind engines[] = { BLK_AIO_SYNC, BLK_AIO_THREADS, BLK_AIO_IO_URING };
	const char *req_uring = getenv("KVMINI_TEST_REQUIRE_IO_URING");
	int fails = 0;
	for (unsigned i = 0; i < 3; i++) {
		engine = engines[i];
		int r = engine_ok(engine);
		if (r) {
			if (engine == BLK_AIO_IO_URING && !(req_uring && !strcmp(req_uring, "1"))) {
				printf("io_uring refused here (%s): that engine is not run\n",
				       strerror(-r));
				continue;
			}
			printf("engine %s cannot be opened: %s\n", blk_aio_kind_name(engine),
			       strerror(-r));
			return 1;
		}
		printf("=== engine %s\n", blk_aio_kind_name(engine));
		fails += cmocka_run_group_tests_name(blk_aio_kind_name(engine), t, NULL, NULL);
	}
	return fails;
}
