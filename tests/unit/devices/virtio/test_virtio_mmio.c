/* virtio-mmio transport, both register layouts, driven through its io_ops the
 * way a vCPU would, over the real virtio core and split queues, a fake device,
 * simulated guest RAM, a recording interrupt line and recording notify hooks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "guest_mem.h"
#include "virtio/mmio.h"
#include "virtio/virtio.h"

#define RAM_SIZE   (1u << 20)
#define MMIO_BASE  0xd0000000ull
#define QMAX       256
#define FEAT_DEV   5   /* some device-specific feature bit */

struct attach_rec {
	uint16_t q;
	uint64_t addr;
	uint32_t len;
	bool is_pio;
	uint64_t datamatch;
};

struct fake {
	struct virtio_dev d;
	struct virtio_mmio m;
	struct guest_mem gm;
	struct virtio_platform plat;
	struct virtio_notify_hooks hooks;
	uint8_t *ram;
	int vcpu_be;                 /* what the fake arch answers at reset */
	/* device side */
	uint8_t cfg_byte;
	int activated, resets;
	int notifies, last_notify;
	bool notify_saw_lock_held;
	/* irq line */
	int levels[64];
	int nlevels;
	/* notify hooks */
	struct attach_rec att[16];
	int natt;
	uint16_t detached[16];
	int ndet;
	uint32_t attach_fail_mask;
};

/* ---- fake device ---- */

static void cfg_read(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len)
{
	struct fake *f = d->dev_priv;
	uint8_t buf[8];

	/* Multi-byte fields in device order, as real devices encode them. */
	virtio_put32(d, buf, 0x11223344);
	virtio_put16(d, buf + 4, 0x5566);
	buf[6] = 0x77;
	buf[7] = f->cfg_byte;
	memcpy(data, buf + off, len);
}

static void cfg_write(struct virtio_dev *d, uint32_t off, const uint8_t *data, uint32_t len)
{
	struct fake *f = d->dev_priv;

	if (off == 7 && len == 1)
		f->cfg_byte = data[0];
}

static int dev_activate(struct virtio_dev *d)
{
	((struct fake *)d->dev_priv)->activated++;
	return 0;
}

static void dev_reset(struct virtio_dev *d)
{
	((struct fake *)d->dev_priv)->resets++;
}

static void dev_queue_notify(struct virtio_dev *d, uint16_t q)
{
	struct fake *f = d->dev_priv;

	/* virtio.h: called WITHOUT dev->lock. */
	if (pthread_mutex_trylock(&d->lock) == 0)
		pthread_mutex_unlock(&d->lock);
	else
		f->notify_saw_lock_held = true;
	f->notifies++;
	f->last_notify = q;
}

static const struct virtio_dev_ops fake_ops = {
	.name = "fake",
	.device_id = 2,
	.num_queues = 2,
	.queue_max_size = QMAX,
	.config_size = 8,
	.config_read = cfg_read,
	.config_write = cfg_write,
	.activate = dev_activate,
	.reset = dev_reset,
	.queue_notify = dev_queue_notify,
};

/* ---- fake platform, irq line, hooks ---- */

static int vcpu_is_be(void *opaque)
{
	return ((struct fake *)opaque)->vcpu_be;
}

static void irq_set(void *opaque, int level)
{
	struct fake *f = opaque;

	if (f->nlevels < 64)
		f->levels[f->nlevels++] = level;
}

static int hook_attach(void *opaque, struct virtio_dev *d, uint16_t q, uint64_t addr,
		       uint32_t len, bool is_pio, uint64_t datamatch)
{
	struct fake *f = opaque;

	if (f->natt < 16)
		f->att[f->natt++] = (struct attach_rec){ q, addr, len, is_pio, datamatch };
	return (f->attach_fail_mask >> q) & 1 ? -ENOSYS : 0;
}

static void hook_detach(void *opaque, struct virtio_dev *d, uint16_t q)
{
	struct fake *f = opaque;

	if (f->ndet < 16)
		f->detached[f->ndet++] = q;
}

static struct fake *make(int version)
{
	struct fake *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->ram = aligned_alloc(4096, RAM_SIZE);
	assert_non_null(f->ram);
	memset(f->ram, 0, RAM_SIZE);
	assert_int_equal(gm_add_region(&f->gm, 0, RAM_SIZE, f->ram), 0);
	f->plat = (struct virtio_platform){ vcpu_is_be, VIRTIO_ENDIAN_LITTLE, f };
	f->hooks = (struct virtio_notify_hooks){ .attach = hook_attach, .detach = hook_detach, .opaque = f };
	/* VERSION_1 offered by the device: a version 1 transport must hide it. */
	virtio_dev_init(&f->d, &fake_ops, f,
			(1ull << FEAT_DEV) | (1ull << VIRTIO_F_RING_INDIRECT_DESC) |
			(1ull << VIRTIO_F_VERSION_1), &f->gm, &f->plat);
	virtio_mmio_init(&f->m, &f->d, version, MMIO_BASE,
			 (struct irq_line){ irq_set, f }, NULL);
	return f;
}

static int setup_v1(void **state) { *state = make(1); return 0; }
static int setup_v2(void **state) { *state = make(2); return 0; }

static int teardown(void **state)
{
	struct fake *f = *state;

	virtio_dev_destroy(&f->d);
	free(f->ram);
	free(f);
	return 0;
}

/* ---- bus access: little-endian bytes, built by hand ---- */

static void access_rd(struct fake *f, uint64_t off, uint8_t *b, uint32_t len)
{
	memset(b, 0xee, len);   /* the transport must fill every byte */
	virtio_mmio_ops.read(&f->m, off, b, len);
}

static uint32_t rd(struct fake *f, uint64_t off)
{
	uint8_t b[4];

	access_rd(f, off, b, 4);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void wr(struct fake *f, uint64_t off, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	virtio_mmio_ops.write(&f->m, off, b, 4);
}

static void wr_bytes(struct fake *f, uint64_t off, const uint8_t *b, uint32_t len)
{
	virtio_mmio_ops.write(&f->m, off, b, len);
}

#define S_ACK  VIRTIO_STATUS_ACKNOWLEDGE
#define S_DRV  VIRTIO_STATUS_DRIVER
#define S_FOK  VIRTIO_STATUS_FEATURES_OK
#define S_DOK  VIRTIO_STATUS_DRIVER_OK

static uint64_t qdesc(int q) { return 0x10000 + (uint64_t)q * 0x4000; }

/* §3.1.1 + §4.2.3.2, as Linux's virtio_mmio.c does it for version 2. */
static void modern_up_to_features_ok(struct fake *f)
{
	wr(f, VIRTIO_MMIO_STATUS, 0);
	wr(f, VIRTIO_MMIO_STATUS, S_ACK);
	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	assert_true(rd(f, VIRTIO_MMIO_DEVICE_FEATURES) & 1);   /* VERSION_1 */
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, 1u << FEAT_DEV);
	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), S_ACK | S_DRV | S_FOK);
}

static void modern_queue(struct fake *f, int q, uint32_t num)
{
	uint64_t desc = qdesc(q);

	wr(f, VIRTIO_MMIO_QUEUE_SEL, (uint32_t)q);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), QMAX);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, num);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	wr(f, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)(desc + 0x1000));
	wr(f, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
	wr(f, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)(desc + 0x2000));
	wr(f, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 1);
}

static void modern_init(struct fake *f)
{
	modern_up_to_features_ok(f);
	modern_queue(f, 0, 64);
	modern_queue(f, 1, 128);
	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), S_ACK | S_DRV | S_FOK | S_DOK);
}

/* §4.2.4, as Linux's virtio_mmio.c does it for version 1. */
static void legacy_queue(struct fake *f, int q, uint32_t num, uint32_t align, uint32_t pfn)
{
	wr(f, VIRTIO_MMIO_QUEUE_SEL, (uint32_t)q);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_PFN), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), QMAX);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, num);
	wr(f, VIRTIO_MMIO_QUEUE_ALIGN, align);
	wr(f, VIRTIO_MMIO_QUEUE_PFN, pfn);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_PFN), pfn);
}

static void legacy_init(struct fake *f)
{
	wr(f, VIRTIO_MMIO_GUEST_PAGE_SIZE, 4096);
	wr(f, VIRTIO_MMIO_STATUS, 0);
	wr(f, VIRTIO_MMIO_STATUS, S_ACK);
	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, rd(f, VIRTIO_MMIO_DEVICE_FEATURES));
	legacy_queue(f, 0, 64, 4096, (uint32_t)(qdesc(0) >> 12));
	legacy_queue(f, 1, 64, 4096, (uint32_t)(qdesc(1) >> 12));
	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_DOK);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), S_ACK | S_DRV | S_DOK);
}

/* ---- identity ---- */

static void check_ids(struct fake *f, uint32_t version)
{
	uint8_t b[4];

	assert_int_equal(rd(f, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	access_rd(f, VIRTIO_MMIO_MAGIC_VALUE, b, 4);
	assert_memory_equal(b, "virt", 4);
	assert_int_equal(rd(f, VIRTIO_MMIO_VERSION), version);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_ID), 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_VENDOR_ID), VIRTIO_MMIO_VENDOR);
	access_rd(f, VIRTIO_MMIO_VENDOR_ID, b, 4);
	assert_memory_equal(b, "KVMI", 4);
}

static void test_ids_v1(void **state)
{
	struct fake *f = *state;

	check_ids(f, 1);
	assert_true(f->d.legacy);
	assert_ptr_equal(f->d.transport_priv, &f->m);
}

static void test_ids_v2(void **state)
{
	struct fake *f = *state;

	check_ids(f, 2);
	assert_false(f->d.legacy);
}

/* ---- features ---- */

static void test_features_v1_never_version_1(void **state)
{
	struct fake *f = *state;

	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES),
			 (1u << FEAT_DEV) | (1u << VIRTIO_F_RING_INDIRECT_DESC));
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), 0);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), 0);

	/* A legacy driver cannot ack VERSION_1 through the high word either. */
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, 1u << FEAT_DEV);
	assert_int_equal(f->d.guest_features, 1ull << FEAT_DEV);
}

static void test_features_v2_offers_version_1(void **state)
{
	struct fake *f = *state;

	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES),
			 (1u << FEAT_DEV) | (1u << VIRTIO_F_RING_INDIRECT_DESC));
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), 1);   /* bit 32 */
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 7);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), 0);

	modern_up_to_features_ok(f);
	assert_int_equal(f->d.guest_features, (1ull << FEAT_DEV) | (1ull << VIRTIO_F_VERSION_1));
}

static void test_v2_adds_version_1_to_a_device_without_it(void **state)
{
	struct fake *f = *state;

	/* A device model that forgot VERSION_1 still works over version 2. */
	virtio_dev_destroy(&f->d);
	virtio_dev_init(&f->d, &fake_ops, f, 1ull << FEAT_DEV, &f->gm, &f->plat);
	virtio_mmio_init(&f->m, &f->d, 2, MMIO_BASE, (struct irq_line){ irq_set, f }, NULL);
	modern_init(f);
	assert_int_equal(f->activated, 1);
}

/* ---- queue setup ---- */

static void test_modern_init_sequence(void **state)
{
	struct fake *f = *state;

	modern_init(f);
	assert_int_equal(f->activated, 1);
	for (int q = 0; q < 2; q++) {
		assert_true(f->d.vq[q].ready);
		assert_int_equal(f->d.vq[q].num, q ? 128 : 64);
		assert_int_equal(f->d.vq[q].desc_gpa, qdesc(q));
		assert_int_equal(f->d.vq[q].avail_gpa, qdesc(q) + 0x1000);
		assert_int_equal(f->d.vq[q].used_gpa, qdesc(q) + 0x2000);
		assert_ptr_equal(f->d.vq[q].desc, f->ram + qdesc(q));
	}
	assert_false(f->d.status & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_modern_64bit_addresses(void **state)
{
	struct fake *f = *state;

	modern_up_to_features_ok(f);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 1);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0x12);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x34567000);
	wr(f, VIRTIO_MMIO_QUEUE_DRIVER_LOW, 0x89abc000);
	wr(f, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0xfedcba98);
	wr(f, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 1);
	assert_int_equal(f->d.vq[1].desc_gpa, 0x1234567000ull);
	assert_int_equal(f->d.vq[1].avail_gpa, 0xfedcba9889abc000ull);
	assert_int_equal(f->d.vq[1].used_gpa, 0x100000000ull);
	/* Outside RAM: the core refuses at DRIVER_OK. */
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(f->activated, 0);
}

static void test_legacy_pfn_setup(void **state)
{
	struct fake *f = *state;

	legacy_init(f);
	assert_int_equal(f->activated, 1);
	for (int q = 0; q < 2; q++) {
		assert_true(f->d.vq[q].ready);
		assert_int_equal(f->d.vq[q].num, 64);
		assert_int_equal(f->d.vq[q].desc_gpa, qdesc(q));
		assert_int_equal(f->d.vq[q].avail_gpa, qdesc(q) + 16 * 64);
		/* avail + 6 + 2 * 64 = +0x486, rounded up to 4096 */
		assert_int_equal(f->d.vq[q].used_gpa, qdesc(q) + 0x1000);
		assert_ptr_equal(f->d.vq[q].used, f->ram + qdesc(q) + 0x1000);
	}
	assert_false(f->d.status & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_legacy_page_size_and_align(void **state)
{
	struct fake *f = *state;

	wr(f, VIRTIO_MMIO_GUEST_PAGE_SIZE, 2048);
	wr(f, VIRTIO_MMIO_GUEST_PAGE_SIZE, 3000);   /* not a power of two: ignored */
	assert_int_equal(f->m.guest_page_size, 2048);
	wr(f, VIRTIO_MMIO_STATUS, 0);
	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	wr(f, VIRTIO_MMIO_QUEUE_ALIGN, 100);        /* ignored */
	legacy_queue(f, 0, 64, 64, 0x21);
	assert_int_equal(f->d.vq[0].desc_gpa, 0x21 * 2048);           /* 0x10800 */
	assert_int_equal(f->d.vq[0].avail_gpa, 0x10800 + 1024);       /* 0x10c00 */
	assert_int_equal(f->d.vq[0].used_gpa, 0x10cc0);               /* 0x10c86 up to 64 */

	/* PFN 0: stop using the queue. */
	wr(f, VIRTIO_MMIO_QUEUE_PFN, 0);
	assert_false(f->d.vq[0].ready);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_PFN), 0);
}

static void test_legacy_reset_keeps_page_size(void **state)
{
	struct fake *f = *state;

	legacy_init(f);
	wr(f, VIRTIO_MMIO_GUEST_PAGE_SIZE, 8192);
	wr(f, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(f->m.guest_page_size, 8192);
	for (int q = 0; q < 2; q++) {
		wr(f, VIRTIO_MMIO_QUEUE_SEL, (uint32_t)q);
		assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_PFN), 0);   /* §4.2.4 Status */
		assert_false(f->d.vq[q].ready);
	}
	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	legacy_queue(f, 0, 64, 4096, 8);
	assert_int_equal(f->d.vq[0].desc_gpa, 8 * 8192);
}

static void test_queue_config_outside_window_ignored(void **state)
{
	struct fake *f = *state;

	/* Modern, before FEATURES_OK (§3.1.1 step 7). */
	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 32);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x5000);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(f->d.vq[0].num, QMAX);
	assert_int_equal(f->d.vq[0].desc_gpa, 0);
	assert_false(f->d.vq[0].ready);

	/* After DRIVER_OK: neither moved nor stopped, and no NEEDS_RESET. */
	modern_init(f);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x5000);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 0);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 16);
	assert_int_equal(f->d.vq[0].desc_gpa, qdesc(0));
	assert_true(f->d.vq[0].ready);
	assert_int_equal(f->d.vq[0].num, 64);
	assert_false(f->d.status & VIRTIO_STATUS_NEEDS_RESET);

	/* Linux deletes queues after a reset: QueueReady 0 is harmless. */
	wr(f, VIRTIO_MMIO_STATUS, 0);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
}

static void test_legacy_pfn_after_driver_ok_ignored(void **state)
{
	struct fake *f = *state;

	legacy_init(f);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 1);
	wr(f, VIRTIO_MMIO_QUEUE_PFN, 0);
	wr(f, VIRTIO_MMIO_QUEUE_ALIGN, 16);
	assert_true(f->d.vq[1].ready);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_PFN), qdesc(1) >> 12);
	assert_int_equal(f->d.vq[1].used_gpa, qdesc(1) + 0x1000);
}

static void test_wrong_layout_registers_ignored(void **state)
{
	struct fake *f = *state;   /* version 2 */

	modern_up_to_features_ok(f);
	wr(f, VIRTIO_MMIO_GUEST_PAGE_SIZE, 8192);
	assert_int_equal(f->m.guest_page_size, 4096);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 64);
	wr(f, VIRTIO_MMIO_QUEUE_PFN, 0x10);
	assert_false(f->d.vq[0].ready);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_PFN), 0);
}

static void test_legacy_modern_registers_ignored(void **state)
{
	struct fake *f = *state;   /* version 1 */

	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x10000);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_false(f->d.vq[0].ready);
	assert_int_equal(f->d.vq[0].desc_gpa, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG_GENERATION), 0);
}

static void test_queue_index_out_of_range(void **state)
{
	struct fake *f = *state;

	modern_up_to_features_ok(f);
	static const uint32_t sels[] = { 2, VIRTIO_MAX_QUEUES, 1000, UINT32_MAX };
	for (unsigned i = 0; i < sizeof(sels) / sizeof(sels[0]); i++) {
		wr(f, VIRTIO_MMIO_QUEUE_SEL, sels[i]);
		assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
		assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
		wr(f, VIRTIO_MMIO_QUEUE_NUM, 64);
		wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x10000);
		wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	for (int q = 2; q < VIRTIO_MAX_QUEUES; q++) {
		assert_false(f->d.vq[q].ready);
		assert_int_equal(f->d.vq[q].desc_gpa, 0);
	}
	/* A valid selection still works afterwards. */
	modern_queue(f, 0, 64);
	modern_queue(f, 1, 64);
	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 2);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, VIRTIO_MAX_QUEUES);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, UINT32_MAX);
	assert_int_equal(f->notifies, 0);
}

/* ---- notifications ---- */

static void test_notify_sync_without_hooks(void **state)
{
	struct fake *f = *state;

	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);   /* before DRIVER_OK: dropped */
	assert_int_equal(f->notifies, 0);
	modern_init(f);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	assert_int_equal(f->notifies, 1);
	assert_int_equal(f->last_notify, 1);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(f->notifies, 2);
	assert_int_equal(f->last_notify, 0);
	assert_false(f->notify_saw_lock_held);
}

static void test_notify_sync_legacy(void **state)
{
	struct fake *f = *state;

	legacy_init(f);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	assert_int_equal(f->notifies, 1);
	assert_int_equal(f->last_notify, 1);
	assert_false(f->notify_saw_lock_held);
}

static void test_hooks_attach_on_driver_ok_detach_on_reset(void **state)
{
	struct fake *f = *state;

	f->m.hooks = &f->hooks;
	f->attach_fail_mask = 1u << 1;   /* queue 1 stays on the slow path */
	modern_init(f);
	assert_int_equal(f->natt, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(f->att[i].q, i);
		assert_int_equal(f->att[i].addr, MMIO_BASE + VIRTIO_MMIO_QUEUE_NOTIFY);
		assert_int_equal(f->att[i].len, 4);
		assert_false(f->att[i].is_pio);
		assert_int_equal(f->att[i].datamatch, i);
	}
	assert_int_equal(f->m.attached, 1u << 0);

	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);   /* belongs to the ioeventfd */
	assert_int_equal(f->notifies, 0);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 1);   /* attach failed: synchronous */
	assert_int_equal(f->notifies, 1);
	assert_int_equal(f->last_notify, 1);

	wr(f, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(f->ndet, 1);
	assert_int_equal(f->detached[0], 0);
	assert_int_equal(f->m.attached, 0);
	wr(f, VIRTIO_MMIO_STATUS, 0);         /* nothing left to detach */
	assert_int_equal(f->ndet, 1);

	/* Second life: attached again. */
	f->attach_fail_mask = 0;
	modern_init(f);
	assert_int_equal(f->natt, 4);
	assert_int_equal(f->m.attached, 3u);
}

static void test_hooks_only_ready_queues(void **state)
{
	struct fake *f = *state;

	f->m.hooks = &f->hooks;
	modern_up_to_features_ok(f);
	modern_queue(f, 1, 64);
	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	assert_int_equal(f->natt, 1);
	assert_int_equal(f->att[0].q, 1);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);   /* not ready: dropped */
	assert_int_equal(f->notifies, 0);
	/* System reset (no vCPU) detaches too. */
	pthread_mutex_lock(&f->d.lock);
	virtio_system_reset(&f->d);
	pthread_mutex_unlock(&f->d.lock);
	assert_int_equal(f->ndet, 1);
	assert_int_equal(f->detached[0], 1);
}

/* ---- interrupts ---- */

static void test_interrupt_status_and_ack(void **state)
{
	struct fake *f = *state;

	modern_init(f);
	assert_int_equal(f->nlevels, 0);
	pthread_mutex_lock(&f->d.lock);
	virtio_config_changed(&f->d);
	pthread_mutex_unlock(&f->d.lock);
	assert_int_equal(f->nlevels, 1);
	assert_int_equal(f->levels[0], 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG_GENERATION), 1);

	/* A used-buffer interrupt on top: the core sets the bit, then calls us. */
	pthread_mutex_lock(&f->d.lock);
	f->d.isr |= 1;
	f->d.tops->interrupt(&f->d, 0, 1);
	pthread_mutex_unlock(&f->d.lock);
	assert_int_equal(f->nlevels, 2);
	assert_int_equal(f->levels[1], 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 3);

	wr(f, VIRTIO_MMIO_INTERRUPT_ACK, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 2);
	assert_int_equal(f->nlevels, 2);      /* still pending: line stays up */
	wr(f, VIRTIO_MMIO_INTERRUPT_ACK, 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(f->nlevels, 3);
	assert_int_equal(f->levels[2], 0);
	wr(f, VIRTIO_MMIO_INTERRUPT_ACK, 3);  /* nothing pending: no new edge */
	assert_int_equal(f->nlevels, 3);
}

static void test_reset_lowers_pending_interrupt(void **state)
{
	struct fake *f = *state;

	legacy_init(f);
	pthread_mutex_lock(&f->d.lock);
	virtio_config_changed(&f->d);
	pthread_mutex_unlock(&f->d.lock);
	assert_int_equal(f->levels[f->nlevels - 1], 1);
	wr(f, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(f->levels[f->nlevels - 1], 0);
}

/* ---- config space ---- */

static void check_config_le(struct fake *f)
{
	uint8_t b[4];

	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG), 0x11223344);
	access_rd(f, VIRTIO_MMIO_CONFIG + 4, b, 2);
	assert_int_equal(b[0] | b[1] << 8, 0x5566);
	access_rd(f, VIRTIO_MMIO_CONFIG + 5, b, 1);
	assert_int_equal(b[0], 0x55);
	access_rd(f, VIRTIO_MMIO_CONFIG + 6, b, 1);
	assert_int_equal(b[0], 0x77);

	wr_bytes(f, VIRTIO_MMIO_CONFIG + 7, (const uint8_t[]){ 0xab }, 1);
	access_rd(f, VIRTIO_MMIO_CONFIG + 7, b, 1);
	assert_int_equal(b[0], 0xab);
	assert_int_equal(f->cfg_byte, 0xab);

	/* Past config_size, across the end of the window, past the window. */
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG + 8), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG + 6), 0);
	access_rd(f, VIRTIO_MMIO_SIZE - 2, b, 4);
	assert_int_equal(b[0] | b[1] | b[2] | b[3], 0);
	access_rd(f, VIRTIO_MMIO_SIZE, b, 4);
	assert_int_equal(b[0] | b[1] | b[2] | b[3], 0);
	wr_bytes(f, VIRTIO_MMIO_CONFIG + 6, (const uint8_t[]){ 1, 2, 3, 4 }, 4);
	assert_int_equal(f->cfg_byte, 0xab);
}

static void test_config_space_v2(void **state) { check_config_le(*state); }
static void test_config_space_v1(void **state) { check_config_le(*state); }

/* ---- access rules ---- */

static void test_non_32bit_register_access_ignored(void **state)
{
	struct fake *f = *state;
	uint8_t b[8];

	access_rd(f, VIRTIO_MMIO_MAGIC_VALUE, b, 2);
	assert_int_equal(b[0] | b[1], 0);
	access_rd(f, VIRTIO_MMIO_MAGIC_VALUE, b, 1);
	assert_int_equal(b[0], 0);
	access_rd(f, VIRTIO_MMIO_MAGIC_VALUE, b, 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(b[i], 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_MAGIC_VALUE + 2), 0);   /* misaligned */

	wr_bytes(f, VIRTIO_MMIO_STATUS, (const uint8_t[]){ S_ACK }, 1);
	wr_bytes(f, VIRTIO_MMIO_STATUS, (const uint8_t[]){ S_ACK, 0 }, 2);
	wr_bytes(f, VIRTIO_MMIO_STATUS, (const uint8_t[]){ S_ACK, 0, 0, 0, 0, 0, 0, 0 }, 8);
	wr_bytes(f, VIRTIO_MMIO_STATUS + 1, (const uint8_t[]){ S_ACK, 0, 0, 0 }, 4);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
	wr(f, VIRTIO_MMIO_STATUS, S_ACK);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), S_ACK);
	wr(f, VIRTIO_MMIO_STATUS, 0x100);   /* not a status: no reset by truncation */
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), S_ACK);
}

static void test_write_only_and_unknown_read_zero(void **state)
{
	struct fake *f = *state;
	static const uint32_t regs[] = {
		VIRTIO_MMIO_DEVICE_FEATURES_SEL, VIRTIO_MMIO_DRIVER_FEATURES,
		VIRTIO_MMIO_DRIVER_FEATURES_SEL, VIRTIO_MMIO_QUEUE_SEL, VIRTIO_MMIO_QUEUE_NUM,
		VIRTIO_MMIO_QUEUE_NOTIFY, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_QUEUE_DESC_LOW,
		VIRTIO_MMIO_QUEUE_DESC_HIGH, VIRTIO_MMIO_QUEUE_DRIVER_LOW,
		VIRTIO_MMIO_QUEUE_DEVICE_HIGH, VIRTIO_MMIO_GUEST_PAGE_SIZE,
		VIRTIO_MMIO_QUEUE_ALIGN, VIRTIO_MMIO_QUEUE_PFN, 0x018, 0x0f0, 0x0f8,
	};

	modern_up_to_features_ok(f);
	modern_queue(f, 0, 64);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	for (unsigned i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		assert_int_equal(rd(f, regs[i]), 0);
	/* No shared memory regions (§4.2.2 SHMLen/SHMBase: all ones). */
	assert_int_equal(rd(f, VIRTIO_MMIO_SHM_LEN_LOW), UINT32_MAX);
	assert_int_equal(rd(f, VIRTIO_MMIO_SHM_BASE_HIGH), UINT32_MAX);

	/* Writes to read-only registers change nothing. */
	wr(f, VIRTIO_MMIO_MAGIC_VALUE, 0);
	wr(f, VIRTIO_MMIO_INTERRUPT_STATUS, 3);
	wr(f, VIRTIO_MMIO_QUEUE_NUM_MAX, 1);
	wr(f, 0x0f0, 0xffffffff);
	assert_int_equal(rd(f, VIRTIO_MMIO_MAGIC_VALUE), VIRTIO_MMIO_MAGIC);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), QMAX);
}

/* ---- byte order ---- */

/* §4.2.2 "All register values are organized as Little Endian", unchanged by
 * §4.2.4; Linux uses readl/writel (little-endian on every CPU). A legacy
 * device reset from a big-endian vCPU therefore keeps little-endian registers
 * while its config space (and rings) turn big-endian. */
static void test_legacy_big_endian_reset(void **state)
{
	struct fake *f = *state;
	uint8_t b[4];

	f->vcpu_be = 1;
	wr(f, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(f->d.device_endian, VIRTIO_ENDIAN_BIG);
	assert_true(virtio_is_big_endian(&f->d));

	wr_bytes(f, VIRTIO_MMIO_STATUS, (const uint8_t[]){ S_ACK, 0, 0, 0 }, 4);
	assert_int_equal(f->d.status, S_ACK);
	access_rd(f, VIRTIO_MMIO_MAGIC_VALUE, b, 4);
	assert_memory_equal(b, "virt", 4);
	access_rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX, b, 4);
	assert_memory_equal(b, ((const uint8_t[]){ QMAX & 0xff, QMAX >> 8, 0, 0 }), 4);

	access_rd(f, VIRTIO_MMIO_CONFIG, b, 4);
	assert_memory_equal(b, ((const uint8_t[]){ 0x11, 0x22, 0x33, 0x44 }), 4);

	/* The whole legacy bring-up still works with big-endian rings. */
	legacy_init(f);
	assert_int_equal(f->d.vq[0].used_gpa, qdesc(0) + 0x1000);
	assert_int_equal(f->activated, 1);

	/* A reset from a little-endian vCPU turns the config back. */
	f->vcpu_be = 0;
	wr(f, VIRTIO_MMIO_STATUS, 0);
	access_rd(f, VIRTIO_MMIO_CONFIG, b, 4);
	assert_memory_equal(b, ((const uint8_t[]){ 0x44, 0x33, 0x22, 0x11 }), 4);
}

static void test_modern_ignores_vcpu_endian(void **state)
{
	struct fake *f = *state;
	uint8_t b[4];

	f->vcpu_be = 1;
	modern_init(f);
	assert_false(virtio_is_big_endian(&f->d));
	access_rd(f, VIRTIO_MMIO_CONFIG, b, 4);
	assert_memory_equal(b, ((const uint8_t[]){ 0x44, 0x33, 0x22, 0x11 }), 4);
	assert_int_equal(f->activated, 1);
}

#define T1(fn) cmocka_unit_test_setup_teardown(fn, setup_v1, teardown)
#define T2(fn) cmocka_unit_test_setup_teardown(fn, setup_v2, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T1(test_ids_v1),
		T2(test_ids_v2),
		T1(test_features_v1_never_version_1),
		T2(test_features_v2_offers_version_1),
		T2(test_v2_adds_version_1_to_a_device_without_it),
		T2(test_modern_init_sequence),
		T2(test_modern_64bit_addresses),
		T1(test_legacy_pfn_setup),
		T1(test_legacy_page_size_and_align),
		T1(test_legacy_reset_keeps_page_size),
		T2(test_queue_config_outside_window_ignored),
		T1(test_legacy_pfn_after_driver_ok_ignored),
		T2(test_wrong_layout_registers_ignored),
		T1(test_legacy_modern_registers_ignored),
		T2(test_queue_index_out_of_range),
		T2(test_notify_sync_without_hooks),
		T1(test_notify_sync_legacy),
		T2(test_hooks_attach_on_driver_ok_detach_on_reset),
		T2(test_hooks_only_ready_queues),
		T2(test_interrupt_status_and_ack),
		T1(test_reset_lowers_pending_interrupt),
		T2(test_config_space_v2),
		T1(test_config_space_v1),
		T2(test_non_32bit_register_access_ignored),
		T2(test_write_only_and_unknown_read_zero),
		T1(test_legacy_big_endian_reset),
		T2(test_modern_ignores_vcpu_endian),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
