/* Snapshot state of every device, saved and loaded into a second device
 * built the same way on a copy of guest RAM (what a restore does), in both
 * byte orders. The simulated driver writes rings and registers byte by byte
 * in an explicit order, so the tests mean the same on a big-endian host
 * (tests/cross/run-unit-s390x.sh).
 *
 * Each round trip checks three things: the second device saves exactly the
 * bytes the first one saved; it is in the state the first was in (a legacy
 * device reset from a big-endian vCPU is big-endian before anything runs,
 * although the second platform's default is little-endian and no reset
 * happens); and the driver carries on with it where it left off: a request
 * the driver queued before the snapshot is served after it, through the
 * same rings in the same byte order. */
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
#include <sys/socket.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include "serial/uart16550.h"
#include "state.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/mmio.h"
#include "virtio/net.h"
#include "virtio/pci.h"
#include "virtio/virtio_state.h"

#define RAM_GPA   0x100000ull
#define RAM_SIZE  (2u << 20)
#define QBASE(q)  (RAM_GPA + 0x10000u * (q))    /* desc; legacy layout below it */
#define BUF_GPA   (RAM_GPA + 0x100000)
#define MMIO_BASE 0xd0000000ull
#define SECTORS   64u

#define F_NEXT  1
#define F_WRITE 2

/* ---- a simulated guest around one device ---- */

struct guest {
	uint8_t *ram;
	struct guest_mem gm;
	struct virtio_platform plat;
	int vcpu_be;                 /* the platform hook's answer: 1, 0, -1 (no vCPU) */
	bool rings_be;               /* the device's order, as the driver knows it */
	uint16_t num[3], avail_idx[3], used_seen[3];
	int irqs;
	uint64_t next_buf;
};

static int hook(void *opaque)
{
	return ((struct guest *)opaque)->vcpu_be;
}

static void irq_set(void *opaque, int level)
{
	if (level)
		((struct guest *)opaque)->irqs++;
}

static void guest_init(struct guest *g, int vcpu_be)
{
	memset(g, 0, sizeof(*g));
	assert_int_equal(posix_memalign((void **)&g->ram, 4096, RAM_SIZE), 0);
	memset(g->ram, 0, RAM_SIZE);
	assert_int_equal(gm_add_region(&g->gm, RAM_GPA, RAM_SIZE, g->ram), 0);
	g->vcpu_be = vcpu_be;
	g->plat = (struct virtio_platform){ .current_vcpu_is_big_endian = hook,
					    .default_endian = VIRTIO_ENDIAN_LITTLE, .opaque = g };
	g->next_buf = BUF_GPA;
}

/* The restored guest: its RAM a copy (the memory file), its driver where
 * the first one was; the platform now says "not a vCPU", so nothing but the
 * loaded state can make the device big-endian. */
static void guest_clone(struct guest *to, const struct guest *from)
{
	uint8_t *ram;

	guest_init(to, -1);
	ram = to->ram;
	memcpy(ram, from->ram, RAM_SIZE);
	*to = *from;
	to->ram = ram;
	memset(&to->gm, 0, sizeof(to->gm));
	assert_int_equal(gm_add_region(&to->gm, RAM_GPA, RAM_SIZE, to->ram), 0);
	to->plat.opaque = to;
	to->vcpu_be = -1;
	to->irqs = 0;
}

static uint8_t *gp(struct guest *g, uint64_t gpa)
{
	assert_true(gpa >= RAM_GPA && gpa < RAM_GPA + RAM_SIZE);
	return g->ram + (gpa - RAM_GPA);
}

static void wr(struct guest *g, uint64_t gpa, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		gp(g, gpa)[g->rings_be ? n - 1 - i : i] = (uint8_t)(v >> (8 * i));
}

static uint64_t rd(struct guest *g, uint64_t gpa, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v |= (uint64_t)gp(g, gpa)[g->rings_be ? n - 1 - i : i] << (8 * i);
	return v;
}

/* The legacy layout (4096 alignment) for every transport. */
static uint64_t desc_of(int q) { return QBASE(q); }
static uint64_t avail_of(struct guest *g, int q) { return QBASE(q) + 16u * g->num[q]; }
static uint64_t used_of(struct guest *g, int q)
{
	return (avail_of(g, q) + 6 + 2u * g->num[q] + 4095) & ~4095ull;
}

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool w;
};

/* A chain at descriptor base, published; no notify. */
static void post(struct guest *g, int q, uint16_t base, const struct seg *s, int n)
{
	for (int i = 0; i < n; i++) {
		uint64_t d = desc_of(q) + 16u * (uint16_t)(base + i);
		wr(g, d, s[i].gpa, 8);
		wr(g, d + 8, s[i].len, 4);
		wr(g, d + 12, (i < n - 1 ? F_NEXT : 0) | (s[i].w ? F_WRITE : 0), 2);
		wr(g, d + 14, (uint16_t)(base + i + 1), 2);
	}
	wr(g, avail_of(g, q) + 4 + 2u * (g->avail_idx[q] % g->num[q]), base, 2);
	g->avail_idx[q]++;
	wr(g, avail_of(g, q) + 2, g->avail_idx[q], 2);
}

static bool used_pending(struct guest *g, int q)
{
	return (uint16_t)rd(g, used_of(g, q) + 2, 2) != g->used_seen[q];
}

static uint32_t take_used(struct guest *g, int q, uint16_t *id)
{
	assert_true(used_pending(g, q));
	uint64_t e = used_of(g, q) + 4 + 8u * (g->used_seen[q] % g->num[q]);
	g->used_seen[q]++;
	if (id)
		*id = (uint16_t)rd(g, e, 4);
	return (uint32_t)rd(g, e + 4, 4);
}

static uint64_t buf(struct guest *g, uint32_t len)
{
	uint64_t a = g->next_buf;
	g->next_buf += (len + 63) & ~63u;
	return a;
}

/* ---- virtio-mmio, driven through its registers (little-endian on the bus) ---- */

static void mw(struct virtio_mmio *m, uint64_t off, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	virtio_mmio_ops.write(m, off, b, 4);
}

static uint32_t mr(struct virtio_mmio *m, uint64_t off)
{
	uint8_t b[4];
	virtio_mmio_ops.read(m, off, b, 4);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* Reset from the guest's vCPU, negotiate everything offered but drop, set
 * up nq queues of num entries, DRIVER_OK. */
static void mmio_bring_up(struct guest *g, struct virtio_mmio *m, int nq, uint16_t num,
			  uint64_t drop)
{
	struct virtio_dev *d = m->dev;
	bool legacy = m->version == 1;

	mw(m, VIRTIO_MMIO_STATUS, 0);
	g->rings_be = legacy && g->vcpu_be == 1;
	assert_int_equal(d->device_endian, g->vcpu_be == 1 ? VIRTIO_ENDIAN_BIG : VIRTIO_ENDIAN_LITTLE);
	mw(m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	uint32_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	for (uint32_t sel = 0; sel < (legacy ? 1u : 2u); sel++) {
		mw(m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, sel);
		uint32_t f = mr(m, VIRTIO_MMIO_DEVICE_FEATURES) & ~(uint32_t)(drop >> (32 * sel));
		mw(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, sel);
		mw(m, VIRTIO_MMIO_DRIVER_FEATURES, f);
	}
	if (!legacy) {
		st |= VIRTIO_STATUS_FEATURES_OK;
		mw(m, VIRTIO_MMIO_STATUS, st);
	} else {
		mw(m, VIRTIO_MMIO_GUEST_PAGE_SIZE, 4096);
	}
	for (int q = 0; q < nq; q++) {
		g->num[q] = num;
		mw(m, VIRTIO_MMIO_QUEUE_SEL, (uint32_t)q);
		mw(m, VIRTIO_MMIO_QUEUE_NUM, num);
		if (legacy) {
			mw(m, VIRTIO_MMIO_QUEUE_ALIGN, 4096);
			mw(m, VIRTIO_MMIO_QUEUE_PFN, (uint32_t)(desc_of(q) >> 12));
		} else {
			mw(m, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc_of(q));
			mw(m, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)avail_of(g, q));
			mw(m, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)used_of(g, q));
			mw(m, VIRTIO_MMIO_QUEUE_READY, 1);
		}
	}
	mw(m, VIRTIO_MMIO_STATUS, st | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(mr(m, VIRTIO_MMIO_STATUS), st | VIRTIO_STATUS_DRIVER_OK);
}

/* ---- virtio-blk on virtio-mmio ---- */

struct blkdev {
	struct guest g;
	char path[64];
	struct blk_file file;
	struct virtio_blk blk;
	struct virtio_mmio mmio;
};

static void blk_make(struct blkdev *b, int version, const char *path)
{
	char err[200];
	struct virtio_blk_opts o = { .serial = "state", .num_queues = 1, .aio = BLK_AIO_SYNC };

	assert_int_equal(blk_file_open(&b->file, path, false, BLK_CACHE_WRITEBACK, err,
				       sizeof(err)), 0);
	assert_int_equal(virtio_blk_init(&b->blk, &b->file, &o, &b->g.gm, &b->g.plat), 0);
	virtio_mmio_init(&b->mmio, &b->blk.vdev, version, MMIO_BASE,
			 (struct irq_line){ irq_set, &b->g }, NULL);
}

static void blk_free(struct blkdev *b)
{
	virtio_blk_destroy(&b->blk);
	blk_file_close(&b->file);
	free(b->g.ram);
}

static void make_disk(char *path)
{
	strcpy(path, "/var/tmp/kvmini-state-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, SECTORS * 512), 0);
	close(fd);
}

/* header | data | status as descriptors base..base+2 */
static void blk_post(struct guest *g, uint16_t base, uint32_t type, uint64_t sector,
		     uint64_t data, uint64_t hdr)
{
	wr(g, hdr, type, 4);
	wr(g, hdr + 4, 0, 4);
	wr(g, hdr + 8, sector, 8);
	*gp(g, hdr + 16) = 0xee;
	struct seg s[3] = { { hdr, 16, false }, { data, 512, type == 0 }, { hdr + 16, 1, true } };
	post(g, 0, base, s, 3);
}

static void blk_kick(struct blkdev *b)
{
	mw(&b->mmio, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	virtio_blk_queue_complete(&b->blk, 0);   /* the sync engine's completions */
}

static void blk_save(struct blkdev *b, struct state_w *w)
{
	virtio_blk_quiesce(&b->blk);
	virtio_save_state(&b->blk.vdev, w);
	virtio_mmio_save_state(&b->mmio, w);
	virtio_blk_save_state(&b->blk, w);
}

static int blk_load(struct blkdev *b, const struct state_w *w, struct state_err *e)
{
	struct state_r r;

	sr_init(&r, w->buf, w->len, e);
	if (virtio_load_state(&b->blk.vdev, &r) || virtio_mmio_load_state(&b->mmio, &r) ||
	    virtio_state_activate(&b->blk.vdev, e) || virtio_blk_load_state(&b->blk, &r) ||
	    sr_end(&r, "test"))
		return -EINVAL;
	virtio_state_start(&b->blk.vdev);
	virtio_state_reraise(&b->blk.vdev);
	return 0;
}

static void blk_roundtrip(int version, int vcpu_be)
{
	struct blkdev *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct state_w wa, wb;
	struct state_err e = { 0 };
	uint64_t hdr = RAM_GPA + 0xf000;

	make_disk(a->path);
	guest_init(&a->g, vcpu_be);
	blk_make(a, version, a->path);
	mmio_bring_up(&a->g, &a->mmio, 1, 8, 0);
	/* a write served before the snapshot */
	uint64_t d1 = buf(&a->g, 512);
	for (int i = 0; i < 512; i++)
		*gp(&a->g, d1 + i) = (uint8_t)(i * 7 + 3);
	blk_post(&a->g, 0, 1, 1, d1, hdr);
	blk_kick(a);
	assert_int_equal(take_used(&a->g, 0, NULL), 1);
	assert_int_equal(*gp(&a->g, hdr + 16), 0);
	/* a read the driver queued and kicked just as the VM was paused: its
	 * kick is lost with the old process, the request is in the ring */
	uint64_t d2 = buf(&a->g, 512);
	blk_post(&a->g, 3, 0, 1, d2, hdr + 0x100);

	sw_init(&wa);
	blk_save(a, &wa);
	assert_int_equal(wa.err, 0);

	guest_clone(&b->g, &a->g);
	blk_make(b, version, a->path);
	assert_int_equal(b->blk.vdev.device_endian, VIRTIO_ENDIAN_LITTLE);
	assert_int_equal(blk_load(b, &wa, &e), 0);
	/* big-endian from the state, before the driver touches anything */
	assert_int_equal(b->blk.vdev.device_endian,
			 vcpu_be == 1 ? VIRTIO_ENDIAN_BIG : VIRTIO_ENDIAN_LITTLE);
	assert_int_equal(virtio_is_big_endian(&b->blk.vdev), version == 1 && vcpu_be == 1);
	sw_init(&wb);
	blk_save(b, &wb);
	assert_int_equal(wb.len, wa.len);
	assert_memory_equal(wb.buf, wa.buf, wa.len);

	/* the restore's kick: the queued read is served through the old ring */
	b->blk.vdev.ops->queue_notify(&b->blk.vdev, 0);
	virtio_blk_queue_complete(&b->blk, 0);
	uint16_t id;
	assert_int_equal(take_used(&b->g, 0, &id), 513);
	assert_int_equal(id, 3);
	assert_int_equal(*gp(&b->g, hdr + 0x110), 0);
	assert_memory_equal(gp(&b->g, d2), gp(&a->g, d1), 512);
	/* and the next request goes through the same ring */
	uint64_t d3 = buf(&b->g, 512);
	memset(gp(&b->g, d3), 0x5a, 512);
	blk_post(&b->g, 0, 1, 2, d3, hdr);
	blk_kick(b);
	assert_int_equal(take_used(&b->g, 0, NULL), 1);
	assert_int_equal(*gp(&b->g, hdr + 16), 0);
	uint8_t sec[512];
	int fd = open(a->path, O_RDONLY);
	assert_int_equal(pread(fd, sec, 512, 1024), 512);
	close(fd);
	assert_memory_equal(sec, gp(&b->g, d3), 512);

	sw_free(&wa);
	sw_free(&wb);
	unlink(a->path);
	blk_free(a);
	blk_free(b);
	free(a);
	free(b);
}

static void blk_mmio_legacy_be(void **s) { blk_roundtrip(1, 1); }
static void blk_mmio_legacy_le(void **s) { blk_roundtrip(1, 0); }
static void blk_mmio_modern_be_vcpu(void **s) { blk_roundtrip(2, 1); }

/* A device built otherwise than the saved one is refused, with a reason. */
static void blk_refuses_other_device(void **s)
{
	struct blkdev *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct state_w w;
	struct state_err e = { 0 };

	make_disk(a->path);
	guest_init(&a->g, 1);
	blk_make(a, 1, a->path);
	mmio_bring_up(&a->g, &a->mmio, 1, 8, 0);
	sw_init(&w);
	blk_save(a, &w);

	/* another transport layout */
	guest_clone(&b->g, &a->g);
	blk_make(b, 2, a->path);
	assert_int_equal(blk_load(b, &w, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "virtio-mmio: version 1 at 0xd0000000 saved, the device is "
				      "version 2"));
	blk_free(b);

	/* another disk: read-only offers VIRTIO_BLK_F_RO */
	memset(b, 0, sizeof(*b));
	memset(&e, 0, sizeof(e));
	guest_clone(&b->g, &a->g);
	{
		char err[200];
		struct virtio_blk_opts o = { .serial = "state", .num_queues = 1, .aio = BLK_AIO_SYNC };
		assert_int_equal(blk_file_open(&b->file, a->path, true, BLK_CACHE_WRITEBACK, err,
					       sizeof(err)), 0);
		assert_int_equal(virtio_blk_init(&b->blk, &b->file, &o, &b->g.gm, &b->g.plat), 0);
		virtio_mmio_init(&b->mmio, &b->blk.vdev, 1, MMIO_BASE,
				 (struct irq_line){ irq_set, &b->g }, NULL);
	}
	assert_int_equal(blk_load(b, &w, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "offered features"));
	blk_free(b);

	/* a state cut short */
	memset(b, 0, sizeof(*b));
	memset(&e, 0, sizeof(e));
	guest_clone(&b->g, &a->g);
	blk_make(b, 1, a->path);
	size_t len = w.len;
	w.len = len - 3;
	assert_int_equal(blk_load(b, &w, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "ends early"));
	w.len = len;
	blk_free(b);

	/* a flag that is not a flag (device_endian 2) */
	memset(b, 0, sizeof(*b));
	memset(&e, 0, sizeof(e));
	guest_clone(&b->g, &a->g);
	blk_make(b, 1, a->path);
	/* VIRT: tag, version, len, id u32, nq u16, host u64, guest u64,
	 * status u8, gen u32, isr u32, legacy u8, endian u8 */
	w.buf[12 + 4 + 2 + 8 + 8 + 1 + 4 + 4 + 1] = 2;
	assert_int_equal(blk_load(b, &w, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "device_endian"));

	sw_free(&w);
	unlink(a->path);
	blk_free(a);
	blk_free(b);
	free(a);
	free(b);
}

/* ---- virtio-blk on transitional virtio-pci: a legacy driver from a
 * big-endian vCPU, MSI-X on, BARs where the guest put them ---- */

struct pcidev {
	struct guest g;
	struct blk_file file;
	struct virtio_blk blk;
	struct virtio_pci p;
	struct msix_host_ops mops;
	int fired, changed;
	uint64_t changed_addr;
	uint32_t changed_data;
};

static void mfire(void *opaque, uint16_t v, uint64_t addr, uint32_t data)
{
	((struct pcidev *)opaque)->fired++;
}

static void mchanged(void *opaque, uint16_t v, uint64_t addr, uint32_t data, bool masked)
{
	struct pcidev *p = opaque;
	p->changed++;
	p->changed_addr = addr;
	p->changed_data = data;
}

static void pci_make(struct pcidev *p, const char *path)
{
	char err[200];
	struct virtio_blk_opts o = { .serial = "state", .num_queues = 1, .aio = BLK_AIO_SYNC };

	assert_int_equal(blk_file_open(&p->file, path, false, BLK_CACHE_WRITEBACK, err,
				       sizeof(err)), 0);
	assert_int_equal(virtio_blk_init(&p->blk, &p->file, &o, &p->g.gm, &p->g.plat), 0);
	p->mops = (struct msix_host_ops){ mfire, mchanged, p };
	assert_int_equal(virtio_pci_init(&p->p, &p->blk.vdev, true, (struct irq_line){ 0 }, NULL,
					 &p->mops), 0);
	/* firmware's placement */
	pci_program_bar(&p->p.pci, 0, 0xc000);
	pci_program_bar(&p->p.pci, 1, 0xfd000000);
	pci_program_bar(&p->p.pci, 4, 0xfe000000);
	pci_cfg_write(&p->p.pci, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY |
		      PCI_COMMAND_MASTER);
}

static void lw(struct pcidev *p, uint64_t off, uint32_t v, uint32_t len)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	virtio_pci_legacy_ops.write(&p->p, off, b, len);
}

static void pci_free(struct pcidev *p)
{
	virtio_pci_destroy(&p->p);
	virtio_blk_destroy(&p->blk);
	blk_file_close(&p->file);
	free(p->g.ram);
}

static int pci_load(struct pcidev *p, const struct state_w *w, struct state_err *e)
{
	struct state_r r;

	sr_init(&r, w->buf, w->len, e);
	if (virtio_load_state(&p->blk.vdev, &r) || virtio_pci_load_state(&p->p, &r) ||
	    virtio_state_activate(&p->blk.vdev, e) || virtio_blk_load_state(&p->blk, &r) ||
	    sr_end(&r, "test"))
		return -EINVAL;
	virtio_state_start(&p->blk.vdev);
	return 0;
}

static void pci_save(struct pcidev *p, struct state_w *w)
{
	virtio_blk_quiesce(&p->blk);
	virtio_save_state(&p->blk.vdev, w);
	virtio_pci_save_state(&p->p, w);
	virtio_blk_save_state(&p->blk, w);
}

static void blk_pci_legacy_be_msix(void **s)
{
	struct pcidev *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	char path[64];
	struct state_w wa, wb;
	struct state_err e = { 0 };
	uint64_t hdr = RAM_GPA + 0xf000;

	make_disk(path);
	guest_init(&a->g, 1);
	pci_make(a, path);
	/* The guest moves BAR4 and turns MSI-X on with vector 0 programmed. */
	pci_program_bar(&a->p.pci, 4, 0xfe100000);
	uint8_t cap = a->p.msix.cap;
	pci_cfg_write(&a->p.pci, cap + MSIX_CAP_FLAGS, 2, MSIX_FLAGS_ENABLE);
	uint32_t entry[4] = { 0xfee01000, 0, 0x4041, 0 };
	for (int i = 0; i < 4; i++) {
		uint8_t le[4] = { (uint8_t)entry[i], (uint8_t)(entry[i] >> 8), (uint8_t)(entry[i] >> 16),
				  (uint8_t)(entry[i] >> 24) };
		msix_bar_ops.write(&a->p.msix, (uint64_t)i * 4, le, 4);
	}
	/* the legacy interface, from a big-endian vCPU */
	lw(a, VIRTIO_PCI_L_STATUS, 0, 1);
	assert_true(a->blk.vdev.legacy);
	a->g.rings_be = true;
	lw(a, VIRTIO_PCI_L_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
	lw(a, VIRTIO_PCI_L_GUEST_FEATURES, 0, 4);
	lw(a, VIRTIO_PCI_L_QUEUE_SEL, 0, 2);
	lw(a, VIRTIO_PCI_L_QUEUE_VECTOR, 0, 2);
	a->g.num[0] = VIRTIO_BLK_QUEUE_SIZE;
	lw(a, VIRTIO_PCI_L_QUEUE_PFN, (uint32_t)(desc_of(0) >> 12), 4);
	lw(a, VIRTIO_PCI_L_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
	   VIRTIO_STATUS_DRIVER_OK, 1);
	assert_int_equal(a->blk.vdev.device_endian, VIRTIO_ENDIAN_BIG);
	uint64_t d1 = buf(&a->g, 512);
	memset(gp(&a->g, d1), 0x3c, 512);
	blk_post(&a->g, 0, 1, 4, d1, hdr);
	lw(a, VIRTIO_PCI_L_QUEUE_NOTIFY, 0, 2);
	virtio_blk_queue_complete(&a->blk, 0);
	assert_int_equal(take_used(&a->g, 0, NULL), 1);
	assert_true(a->fired > 0);

	sw_init(&wa);
	pci_save(a, &wa);
	guest_clone(&b->g, &a->g);
	pci_make(b, path);
	b->changed = 0;
	assert_int_equal(pci_load(b, &wa, &e), 0);
	assert_true(b->blk.vdev.legacy);
	assert_int_equal(b->blk.vdev.device_endian, VIRTIO_ENDIAN_BIG);
	assert_int_equal(pci_bar_addr(&b->p.pci, 4), 0xfe100000);
	assert_true(b->p.bar_live[4] && b->p.bar_addr[4] == 0xfe100000);
	assert_true(msix_enabled(&b->p.msix));
	assert_true(b->changed >= 1);             /* the host routes vector 0 again */
	assert_int_equal(b->changed_addr, 0xfee01000);
	assert_int_equal(b->changed_data, 0x4041);
	assert_int_equal(b->p.queue_vector[0], 0);
	assert_true(b->p.live);
	sw_init(&wb);
	pci_save(b, &wb);
	assert_int_equal(wb.len, wa.len);
	assert_memory_equal(wb.buf, wa.buf, wa.len);

	/* carry on through the same big-endian ring; the interrupt is MSI-X */
	uint64_t d2 = buf(&b->g, 512);
	blk_post(&b->g, 3, 0, 4, d2, hdr + 0x100);
	b->fired = 0;
	lw(b, VIRTIO_PCI_L_QUEUE_NOTIFY, 0, 2);
	virtio_blk_queue_complete(&b->blk, 0);
	assert_int_equal(take_used(&b->g, 0, NULL), 513);
	assert_memory_equal(gp(&b->g, d2), gp(&a->g, d1), 512);
	assert_true(b->fired > 0);

	sw_free(&wa);
	sw_free(&wb);
	unlink(path);
	pci_free(a);
	pci_free(b);
	free(a);
	free(b);
}

/* ---- virtio-net on virtio-mmio: a frame waiting for buffers, and a
 * frame half spread over mergeable buffers, survive the snapshot ---- */

struct netdev {
	struct guest g;
	int sv[2];
	struct net_tap tap;
	struct virtio_net net;
	struct virtio_mmio mmio;
};

static void net_make(struct netdev *n, int version)
{
	static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 1 };

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, n->sv), 0);
	assert_int_equal(net_tap_open_fd(&n->tap, n->sv[0]), 0);
	assert_int_equal(virtio_net_init(&n->net, &n->tap, mac, &n->g.gm, &n->g.plat), 0);
	virtio_mmio_init(&n->mmio, &n->net.vdev, version, MMIO_BASE,
			 (struct irq_line){ irq_set, &n->g }, NULL);
}

static void net_free(struct netdev *n)
{
	virtio_net_destroy(&n->net);
	net_tap_close(&n->tap);
	close(n->sv[1]);
	free(n->g.ram);
}

static void net_save(struct netdev *n, struct state_w *w)
{
	virtio_net_quiesce(&n->net);
	virtio_save_state(&n->net.vdev, w);
	virtio_mmio_save_state(&n->mmio, w);
	virtio_net_save_state(&n->net, w);
}

static int net_load(struct netdev *n, const struct state_w *w, struct state_err *e)
{
	struct state_r r;

	sr_init(&r, w->buf, w->len, e);
	if (virtio_load_state(&n->net.vdev, &r) || virtio_mmio_load_state(&n->mmio, &r) ||
	    virtio_state_activate(&n->net.vdev, e) || virtio_net_load_state(&n->net, &r) ||
	    sr_end(&r, "test"))
		return -EINVAL;
	virtio_state_start(&n->net.vdev);
	return 0;
}

/* A frame of len bytes (after a header of hdr bytes, zero) from the host. */
static void host_send(struct netdev *n, unsigned hdr, unsigned len, uint8_t seed)
{
	uint8_t *f = calloc(1, hdr + len);
	for (unsigned i = 0; i < len; i++)
		f[hdr + i] = (uint8_t)(seed + i * 3);
	assert_int_equal(send(n->sv[1], f, hdr + len, 0), (ssize_t)(hdr + len));
	free(f);
}

static void net_roundtrip(int version, int vcpu_be, bool mrg)
{
	struct netdev *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct state_w wa, wb;
	struct state_err e = { 0 };
	uint64_t drop = (mrg ? 0 : 1ull << VIRTIO_NET_F_MRG_RXBUF) |
			1ull << VIRTIO_NET_F_GUEST_CSUM | 1ull << VIRTIO_NET_F_GUEST_TSO4 |
			1ull << VIRTIO_NET_F_GUEST_TSO6 | 1ull << VIRTIO_NET_F_GUEST_ECN;
	unsigned hdr = mrg || version == 2 ? 12 : 10, flen = mrg ? 1500 : 600;

	guest_init(&a->g, vcpu_be);
	net_make(a, version);
	mmio_bring_up(&a->g, &a->mmio, 3, 16, drop);
	/* mergeable: one 1024-byte buffer for a 1500-byte frame, so the
	 * device holds it and waits for more; else no buffer at all, and the
	 * frame waits in the device */
	uint64_t rx1 = buf(&a->g, 1024);
	if (mrg) {
		struct seg s = { rx1, 1024, true };
		post(&a->g, 0, 0, &s, 1);
	}
	host_send(a, hdr, flen, 0x11);
	virtio_net_tap_readable(&a->net);
	assert_false(used_pending(&a->g, 0));
	assert_int_equal(a->net.rx_len, hdr + flen);
	if (mrg)
		assert_int_equal(a->net.rx_nused, 1);

	sw_init(&wa);
	net_save(a, &wa);
	/* quiesced: the held buffer went back to the ring */
	assert_int_equal(a->net.rx_nused, 0);
	assert_int_equal(a->net.vdev.vq[0].last_avail_idx, 0);

	guest_clone(&b->g, &a->g);
	net_make(b, version);
	assert_int_equal(net_load(b, &wa, &e), 0);
	assert_int_equal(b->net.vdev.device_endian,
			 vcpu_be == 1 ? VIRTIO_ENDIAN_BIG : VIRTIO_ENDIAN_LITTLE);
	assert_int_equal(b->net.hdr_len, hdr);
	sw_init(&wb);
	net_save(b, &wb);
	assert_int_equal(wb.len, wa.len);
	assert_memory_equal(wb.buf, wa.buf, wa.len);

	/* The driver adds a buffer and kicks: the saved frame arrives whole. */
	uint64_t rx2 = buf(&b->g, 1024);
	struct seg s = { rx2, 1024, true };
	post(&b->g, 0, 1, &s, 1);
	mw(&b->mmio, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	uint16_t id;
	uint32_t l1 = take_used(&b->g, 0, &id);
	if (mrg) {
		assert_int_equal(id, 0);
		assert_int_equal(l1, 1024);
		uint32_t l2 = take_used(&b->g, 0, &id);
		assert_int_equal(id, 1);
		assert_int_equal(l1 + l2, hdr + flen);
		assert_int_equal(rd(&b->g, rx1 + 10, 2), 2);   /* num_buffers */
		for (unsigned i = 0; i < 1024 - hdr; i++)
			assert_int_equal(*gp(&b->g, rx1 + hdr + i), (uint8_t)(0x11 + i * 3));
		for (unsigned i = 0; i < l2; i++)
			assert_int_equal(*gp(&b->g, rx2 + i), (uint8_t)(0x11 + (1024 - hdr + i) * 3));
	} else {
		assert_int_equal(id, 1);
		assert_int_equal(l1, hdr + flen);
		for (unsigned i = 0; i < flen; i++)
			assert_int_equal(*gp(&b->g, rx2 + hdr + i), (uint8_t)(0x11 + i * 3));
	}
	assert_int_equal(b->net.stats.rx_frames, 1);

	sw_free(&wa);
	sw_free(&wb);
	net_free(a);
	net_free(b);
	free(a);
	free(b);
}

static void net_legacy_be_pending_frame(void **s) { net_roundtrip(1, 1, false); }
static void net_legacy_be_mergeable(void **s) { net_roundtrip(1, 1, true); }
static void net_modern_mergeable(void **s) { net_roundtrip(2, 0, true); }

/* ---- packed bookkeeping: wrap counters and ids in flight ---- */

static const struct virtio_dev_ops plain_ops = {
	.name = "plain", .device_id = 9, .num_queues = 2, .queue_max_size = 64,
};

static void packed_bookkeeping(void **s)
{
	struct guest g;
	struct virtio_dev *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct state_w wa, wb;
	struct state_err e = { 0 };
	struct state_r r;

	guest_init(&g, 0);
	uint64_t f = 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_RING_PACKED |
		     1ull << VIRTIO_F_RING_EVENT_IDX;
	virtio_dev_init(a, &plain_ops, NULL, f, &g.gm, &g.plat);
	virtio_dev_init(b, &plain_ops, NULL, f, &g.gm, &g.plat);
	a->guest_features = f;
	a->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		    VIRTIO_STATUS_DRIVER_OK;
	struct virtq *q = &a->vq[1];
	q->num = 32;
	q->desc_gpa = QBASE(1);
	q->avail_gpa = QBASE(1) + 0x1000;
	q->used_gpa = QBASE(1) + 0x2000;
	q->ready = true;
	assert_int_equal(virtq_start(q), 0);
	assert_int_equal(q->layout, VIRTQ_PACKED);
	q->last_avail_idx = 5;
	q->avail_wrap = false;
	q->used_idx = 3;
	q->used_wrap = false;
	q->signalled_used = 2;
	q->signalled_wrap = true;
	q->inflight[0] = 0x18;        /* ids 3 and 4 */
	sw_init(&wa);
	virtio_save_state(a, &wa);
	sr_init(&r, wa.buf, wa.len, &e);
	assert_int_equal(virtio_load_state(b, &r), 0);
	assert_int_equal(virtio_state_activate(b, &e), 0);
	struct virtq *p = &b->vq[1];
	assert_non_null(p->desc);
	assert_int_equal(p->layout, VIRTQ_PACKED);
	assert_int_equal(p->last_avail_idx, 5);
	assert_false(p->avail_wrap);
	assert_int_equal(p->used_idx, 3);
	assert_false(p->used_wrap);
	assert_true(p->signalled_wrap);
	assert_true(p->packed_started);
	assert_int_equal(p->inflight[0], 0x18);
	sw_init(&wb);
	virtio_save_state(b, &wb);
	assert_memory_equal(wb.buf, wa.buf, wa.len);
	/* unpop across the start of the ring flips the wrap counter back */
	p->last_avail_idx = 1;
	virtq_unpop(p, 4, 3);
	assert_int_equal(p->last_avail_idx, 30);
	assert_true(p->avail_wrap);
	assert_int_equal(p->inflight[0], 0x08);
	sw_free(&wa);
	sw_free(&wb);
	virtio_dev_destroy(a);
	virtio_dev_destroy(b);
	free(a);
	free(b);
	free(g.ram);
}

/* ---- virtio-console: ports as the driver knows them, messages waiting ---- */

static void console_make(struct virtio_console *c, struct guest *g, const char *name)
{
	assert_int_equal(virtio_console_init(c, 3, true, &g->gm, &g->plat), 0);
	assert_int_equal(virtio_console_add_port(c, 0, NULL, true), 0);
	assert_int_equal(virtio_console_add_port(c, 1, name, false), 0);
}

static void console_roundtrip(void **s)
{
	struct guest g;
	struct virtio_console *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct state_w wa, wb;
	struct state_err e = { 0 };
	struct state_r r;

	guest_init(&g, 1);
	console_make(a, &g, "org.kvmini.test");
	a->vdev.legacy = true;
	virtio_set_status(&a->vdev, 0);          /* from a big-endian vCPU */
	assert_int_equal(a->vdev.device_endian, VIRTIO_ENDIAN_BIG);
	a->port[1].added = a->port[1].ready = a->port[1].guest_open = a->port[1].host_open = true;
	a->port[1].rx_bytes = 77;
	a->out_head = VIRTIO_CONSOLE_OUTBOX - 1;  /* waiting messages across the wrap */
	a->out_len = 2;
	a->outbox[VIRTIO_CONSOLE_OUTBOX - 1] = (struct virtio_console_msg){ 1, 6, 1 };
	a->outbox[0] = (struct virtio_console_msg){ 1, 7, 1 };
	sw_init(&wa);
	virtio_save_state(&a->vdev, &wa);
	virtio_console_save_state(a, &wa);

	g.vcpu_be = -1;
	console_make(b, &g, "org.kvmini.test");
	sr_init(&r, wa.buf, wa.len, &e);
	assert_int_equal(virtio_load_state(&b->vdev, &r), 0);
	assert_int_equal(virtio_console_load_state(b, &r), 0);
	assert_int_equal(sr_end(&r, "t"), 0);
	assert_int_equal(b->vdev.device_endian, VIRTIO_ENDIAN_BIG);
	assert_true(b->port[1].guest_open && b->port[1].ready);
	assert_int_equal(b->port[1].rx_bytes, 77);
	assert_int_equal(b->out_len, 2);
	assert_int_equal(b->outbox[b->out_head].event, 6);
	assert_int_equal(b->outbox[(b->out_head + 1) % VIRTIO_CONSOLE_OUTBOX].event, 7);
	sw_init(&wb);
	virtio_save_state(&b->vdev, &wb);
	virtio_console_save_state(b, &wb);
	assert_int_equal(wb.len, wa.len);
	assert_memory_equal(wb.buf, wa.buf, wa.len);

	/* ports named otherwise: another configuration */
	virtio_console_destroy(b);
	memset(b, 0, sizeof(*b));
	console_make(b, &g, "org.kvmini.other");
	memset(&e, 0, sizeof(e));
	sr_init(&r, wa.buf, wa.len, &e);
	assert_int_equal(virtio_load_state(&b->vdev, &r), 0);
	assert_int_equal(virtio_console_load_state(b, &r), -EINVAL);
	assert_non_null(strstr(e.msg, "port 1 was 'org.kvmini.test'"));

	sw_free(&wa);
	sw_free(&wb);
	virtio_console_destroy(a);
	virtio_console_destroy(b);
	free(a);
	free(b);
	free(g.ram);
}

/* ---- the 16550 ---- */

static int uart_irqs;
static void uart_irq(void *o, int level) { uart_irqs += level; }
static void uart_tx(void *o, const uint8_t *b, size_t n) {}

static void uart_roundtrip(void **s)
{
	struct uart16550 a, b;
	struct state_w wa, wb;
	struct state_err e = { 0 };
	struct state_r r;
	uint8_t v;

	uart_init(&a, (struct irq_line){ uart_irq, NULL }, (struct uart_sink){ uart_tx, NULL, NULL });
	uart_init(&b, (struct irq_line){ uart_irq, NULL }, (struct uart_sink){ uart_tx, NULL, NULL });
	v = 0x83; uart_io_ops.write(&a, 3, &v, 1);     /* DLAB */
	v = 0x01; uart_io_ops.write(&a, 0, &v, 1);     /* 115200 */
	v = 0x03; uart_io_ops.write(&a, 3, &v, 1);
	v = 0xc7; uart_io_ops.write(&a, 2, &v, 1);     /* FIFO on */
	v = 0x0b; uart_io_ops.write(&a, 4, &v, 1);     /* DTR RTS OUT2 */
	v = 0x01; uart_io_ops.write(&a, 1, &v, 1);     /* RX interrupt */
	v = 0x5a; uart_io_ops.write(&a, 7, &v, 1);
	assert_int_equal(uart_receive(&a, (const uint8_t *)"snap", 4), 4);
	uint8_t c;
	uart_io_ops.read(&a, 0, &c, 1);
	assert_int_equal(c, 's');
	sw_init(&wa);
	uart_save_state(&a, &wa);
	uart_irqs = 0;
	sr_init(&r, wa.buf, wa.len, &e);
	assert_int_equal(uart_load_state(&b, &r), 0);
	assert_int_equal(uart_irqs, 1);               /* data waiting: the line is up */
	sw_init(&wb);
	uart_save_state(&b, &wb);
	assert_memory_equal(wb.buf, wa.buf, wa.len);
	char got[4] = { 0 };
	for (int i = 0; i < 3; i++)
		uart_io_ops.read(&b, 0, (uint8_t *)&got[i], 1);
	assert_string_equal(got, "nap");
	uart_io_ops.read(&b, 7, &c, 1);
	assert_int_equal(c, 0x5a);
	/* a FIFO position out of range is refused */
	wa.buf[12 + 9 + 1 + UART_FIFO_SIZE] = 99;
	memset(&e, 0, sizeof(e));
	sr_init(&r, wa.buf, wa.len, &e);
	assert_int_equal(uart_load_state(&b, &r), -EINVAL);
	assert_non_null(strstr(e.msg, "FIFO"));
	sw_free(&wa);
	sw_free(&wb);
	uart_destroy(&a);
	uart_destroy(&b);
}

/* ---- the buffer format itself ---- */

static void state_buffer_format(void **s)
{
	struct state_w w;
	struct state_err e = { 0 };
	struct state_r r, sub;
	uint32_t ver;

	sw_init(&w);
	size_t at = sw_begin(&w, STATE_TAG('T', 'E', 'S', 'T'), 3);
	sw_u16(&w, 0x1234);
	sw_u64(&w, 0x0102030405060708ull);
	sw_end(&w, at);
	/* little-endian on every host */
	static const uint8_t want[] = { 'T', 'E', 'S', 'T', 3, 0, 0, 0, 10, 0, 0, 0, 0x34, 0x12,
					8, 7, 6, 5, 4, 3, 2, 1 };
	assert_int_equal(w.len, sizeof(want));
	assert_memory_equal(w.buf, want, sizeof(want));
	sr_init(&r, w.buf, w.len, &e);
	assert_int_equal(sr_section(&r, STATE_TAG('T', 'E', 'S', 'T'), 3, &ver, &sub, "t"), 0);
	assert_int_equal(ver, 3);
	assert_int_equal(sr_u16(&sub), 0x1234);
	assert_int_equal(sr_u64(&sub), 0x0102030405060708ull);
	assert_int_equal(sr_end(&sub, "t"), 0);
	/* a newer version than the reader knows */
	sr_init(&r, w.buf, w.len, &e);
	assert_int_equal(sr_section(&r, STATE_TAG('T', 'E', 'S', 'T'), 2, NULL, &sub, "t"), -EINVAL);
	assert_non_null(strstr(e.msg, "newer"));
	/* another tag */
	memset(&e, 0, sizeof(e));
	sr_init(&r, w.buf, w.len, &e);
	assert_int_equal(sr_section(&r, STATE_TAG('V', 'I', 'R', 'T'), 9, NULL, &sub, "t"), -EINVAL);
	assert_non_null(strstr(e.msg, "found section TEST where VIRT belongs"));
	/* a payload longer than its reader expects */
	memset(&e, 0, sizeof(e));
	sr_init(&r, w.buf, w.len, &e);
	assert_int_equal(sr_section(&r, STATE_TAG('T', 'E', 'S', 'T'), 3, NULL, &sub, "t"), 0);
	sr_u16(&sub);
	assert_int_equal(sr_end(&sub, "t"), -EINVAL);
	/* a length past the end */
	memset(&e, 0, sizeof(e));
	w.buf[8] = 11;
	sr_init(&r, w.buf, w.len, &e);
	assert_int_equal(sr_section(&r, STATE_TAG('T', 'E', 'S', 'T'), 3, NULL, &sub, "t"), -EINVAL);
	assert_non_null(strstr(e.msg, "ends early"));
	sw_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(state_buffer_format),
		cmocka_unit_test(blk_mmio_legacy_be),
		cmocka_unit_test(blk_mmio_legacy_le),
		cmocka_unit_test(blk_mmio_modern_be_vcpu),
		cmocka_unit_test(blk_refuses_other_device),
		cmocka_unit_test(blk_pci_legacy_be_msix),
		cmocka_unit_test(net_legacy_be_pending_frame),
		cmocka_unit_test(net_legacy_be_mergeable),
		cmocka_unit_test(net_modern_mergeable),
		cmocka_unit_test(packed_bookkeeping),
		cmocka_unit_test(console_roundtrip),
		cmocka_unit_test(uart_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
