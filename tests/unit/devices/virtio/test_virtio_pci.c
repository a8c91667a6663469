/* virtio-pci transport, modern and transitional, driven through config space
 * and its BAR io_ops the way a vCPU would, over the real virtio core, a fake
 * device, simulated guest RAM, a recording INTx line, recording MSI-X host
 * callbacks and recording notify hooks. */
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
#include "pci/pci_host.h"
#include "virtio/pci.h"
#include "virtio/virtio.h"

#define RAM_SIZE    (1u << 20)
#define QMAX        256
#define FEAT_DEV    5
#define BAR4_ADDR   0xfe000000ull
#define BAR4_ADDR2  0x800000000ull
#define BAR1_ADDR   0xfd000000ull
#define BAR0_PORT   0xc000u

#define S_ACK  VIRTIO_STATUS_ACKNOWLEDGE
#define S_DRV  VIRTIO_STATUS_DRIVER
#define S_FOK  VIRTIO_STATUS_FEATURES_OK
#define S_DOK  VIRTIO_STATUS_DRIVER_OK

struct attach_rec {
	uint16_t q;
	uint64_t addr;
	uint32_t len;
	bool is_pio;
	uint64_t datamatch;
};

struct fake {
	struct virtio_dev d;
	struct virtio_pci p;
	struct guest_mem gm;
	struct virtio_platform plat;
	struct virtio_notify_hooks hooks;
	struct msix_host_ops mops;
	uint8_t *ram;
	int vcpu_be;
	int activated, resets, notifies, last_notify;
	bool notify_saw_lock_held;
	struct pci_host *bridge;       /* when the test reaches config space through one */
	bool notify_saw_bridge_locked;
	int kicks, kick_ret;
	int levels[32], nlevels;
	struct attach_rec att[16];
	int natt;
	uint16_t detached[16];
	int ndet;
	uint16_t fired[16];
	int nfired;
};

/* ---- fake device ---- */

static void cfg_read(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len)
{
	uint8_t buf[8];

	virtio_put32(d, buf, 0x11223344);
	virtio_put16(d, buf + 4, 0x5566);
	buf[6] = 0x77;
	buf[7] = 0x88;
	memcpy(data, buf + off, len);
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

	if (pthread_mutex_trylock(&d->lock) == 0)
		pthread_mutex_unlock(&d->lock);
	else
		f->notify_saw_lock_held = true;
	if (f->bridge) {
		if (pthread_rwlock_trywrlock(&f->bridge->lock) == 0)
			pthread_rwlock_unlock(&f->bridge->lock);
		else
			f->notify_saw_bridge_locked = true;
	}
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
	.activate = dev_activate,
	.reset = dev_reset,
	.queue_notify = dev_queue_notify,
};

/* ---- fake platform, irq, hooks, MSI-X host ---- */

static int vcpu_is_be(void *opaque)
{
	return ((struct fake *)opaque)->vcpu_be;
}

static void irq_set(void *opaque, int level)
{
	struct fake *f = opaque;

	if (f->nlevels < 32)
		f->levels[f->nlevels++] = level;
}

static int hook_attach(void *opaque, struct virtio_dev *d, uint16_t q, uint64_t addr,
		       uint32_t len, bool is_pio, uint64_t datamatch)
{
	struct fake *f = opaque;

	if (f->natt < 16)
		f->att[f->natt++] = (struct attach_rec){ q, addr, len, is_pio, datamatch };
	return 0;
}

static void hook_detach(void *opaque, struct virtio_dev *d, uint16_t q)
{
	struct fake *f = opaque;

	if (f->ndet < 16)
		f->detached[f->ndet++] = q;
}

static int hook_kick(void *opaque, struct virtio_dev *d, uint16_t q)
{
	struct fake *f = opaque;

	f->kicks++;
	f->last_notify = q;
	return f->kick_ret;
}

static void msi_fire(void *opaque, uint16_t v, uint64_t addr, uint32_t data)
{
	struct fake *f = opaque;

	if (f->nfired < 16)
		f->fired[f->nfired++] = v;
}

static struct fake *make(bool transitional, bool with_hooks)
{
	struct fake *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->ram = aligned_alloc(4096, RAM_SIZE);
	assert_non_null(f->ram);
	memset(f->ram, 0, RAM_SIZE);
	assert_int_equal(gm_add_region(&f->gm, 0, RAM_SIZE, f->ram), 0);
	f->plat = (struct virtio_platform){ vcpu_is_be, VIRTIO_ENDIAN_LITTLE, f };
	f->hooks = (struct virtio_notify_hooks){ .attach = hook_attach, .detach = hook_detach,
						 .opaque = f, .kick = hook_kick };
	f->mops = (struct msix_host_ops){ msi_fire, NULL, f };
	virtio_dev_init(&f->d, &fake_ops, f, (1ull << FEAT_DEV) | (1ull << VIRTIO_F_RING_INDIRECT_DESC),
			&f->gm, &f->plat);
	assert_int_equal(virtio_pci_init(&f->p, &f->d, transitional, (struct irq_line){ irq_set, f },
					 with_hooks ? &f->hooks : NULL, &f->mops), 0);
	/* Firmware's part: place the BARs and turn decoding on. */
	pci_program_bar(&f->p.pci, 4, BAR4_ADDR);
	pci_program_bar(&f->p.pci, 1, BAR1_ADDR);
	if (transitional)
		pci_program_bar(&f->p.pci, 0, BAR0_PORT);
	pci_cfg_write(&f->p.pci, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY |
		      PCI_COMMAND_MASTER);
	return f;
}

static int setup_modern(void **state) { *state = make(false, true); return 0; }
static int setup_modern_sync(void **state) { *state = make(false, false); return 0; }
static int setup_trans(void **state) { *state = make(true, true); return 0; }

static int teardown(void **state)
{
	struct fake *f = *state;

	virtio_pci_destroy(&f->p);
	virtio_dev_destroy(&f->d);
	free(f->ram);
	free(f);
	return 0;
}

/* ---- bus helpers (little-endian bytes) ---- */

static void put(uint8_t *b, uint32_t len, uint64_t v)
{
	for (uint32_t i = 0; i < len; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get(const uint8_t *b, uint32_t len)
{
	uint64_t v = 0;

	for (uint32_t i = 0; i < len; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static uint64_t mrd(struct fake *f, uint64_t off, uint32_t len)
{
	uint8_t b[8];

	memset(b, 0xee, sizeof(b));
	virtio_pci_modern_ops.read(&f->p, off, b, len);
	return get(b, len);
}

static void mwr(struct fake *f, uint64_t off, uint32_t len, uint64_t v)
{
	uint8_t b[8];

	put(b, len, v);
	virtio_pci_modern_ops.write(&f->p, off, b, len);
}

static uint64_t lrd(struct fake *f, uint64_t off, uint32_t len)
{
	uint8_t b[8];

	memset(b, 0xee, sizeof(b));
	virtio_pci_legacy_ops.read(&f->p, off, b, len);
	return get(b, len);
}

static void lwr(struct fake *f, uint64_t off, uint32_t len, uint64_t v)
{
	uint8_t b[8];

	put(b, len, v);
	virtio_pci_legacy_ops.write(&f->p, off, b, len);
}

#define C(x) (VIRTIO_PCI_COMMON_OFF + VIRTIO_PCI_COMMON_##x)

static void msix_write(struct fake *f, uint64_t off, uint32_t v)
{
	uint8_t b[4];

	put(b, 4, v);
	msix_bar_ops.write(&f->p.msix, off, b, 4);
}

static void enable_msix(struct fake *f)
{
	uint32_t cap = f->p.msix.cap;

	for (uint16_t v = 0; v < f->p.msix.nvec; v++) {
		msix_write(f, v * 16u, 0xfee00000);
		msix_write(f, v * 16u + 8, 0x40 + v);
		msix_write(f, v * 16u + 12, 0);
	}
	pci_cfg_write(&f->p.pci, cap + MSIX_CAP_FLAGS, 2, MSIX_FLAGS_ENABLE);
}

/* ---- init sequences ---- */

static void modern_up_to_features_ok(struct fake *f)
{
	mwr(f, C(STATUS), 1, 0);
	mwr(f, C(STATUS), 1, S_ACK);
	mwr(f, C(STATUS), 1, S_ACK | S_DRV);
	mwr(f, C(DFSELECT), 4, 1);
	assert_int_equal(mrd(f, C(DF), 4), 1);        /* VERSION_1 */
	mwr(f, C(DFSELECT), 4, 0);
	assert_int_equal(mrd(f, C(DF), 4), (1u << FEAT_DEV) | (1u << VIRTIO_F_RING_INDIRECT_DESC));
	mwr(f, C(GFSELECT), 4, 1);
	mwr(f, C(GF), 4, 1);
	mwr(f, C(GFSELECT), 4, 0);
	mwr(f, C(GF), 4, 1u << FEAT_DEV);
	mwr(f, C(STATUS), 1, S_ACK | S_DRV | S_FOK);
	assert_int_equal(mrd(f, C(STATUS), 1), S_ACK | S_DRV | S_FOK);
}

static uint64_t qdesc(int q) { return 0x10000 + (uint64_t)q * 0x4000; }

static void modern_queue(struct fake *f, int q, uint16_t num, uint16_t vector)
{
	uint64_t desc = qdesc(q);

	mwr(f, C(Q_SELECT), 2, (uint32_t)q);
	assert_int_equal(mrd(f, C(Q_SIZE), 2), QMAX);
	assert_int_equal(mrd(f, C(Q_ENABLE), 2), 0);
	assert_int_equal(mrd(f, C(Q_NOFF), 2), q);
	mwr(f, C(Q_SIZE), 2, num);
	mwr(f, C(Q_DESCLO), 4, (uint32_t)desc);
	mwr(f, C(Q_DESCHI), 4, 0);
	mwr(f, C(Q_AVAILLO), 8, desc + 0x1000);       /* a qword access works too */
	mwr(f, C(Q_USEDLO), 4, (uint32_t)(desc + 0x2000));
	mwr(f, C(Q_USEDHI), 4, 0);
	mwr(f, C(Q_MSIX), 2, vector);
	mwr(f, C(Q_ENABLE), 2, 1);
	assert_int_equal(mrd(f, C(Q_ENABLE), 2), 1);
	assert_int_equal(mrd(f, C(Q_SIZE), 2), num);
	assert_true(mrd(f, C(Q_DESCLO), 8) == desc);
	assert_true(f->d.vq[q].avail_gpa == desc + 0x1000);
	assert_true(f->d.vq[q].used_gpa == desc + 0x2000);
}

static void modern_init(struct fake *f)
{
	modern_up_to_features_ok(f);
	modern_queue(f, 0, 64, 1);
	modern_queue(f, 1, 128, 2);
	mwr(f, C(STATUS), 1, S_ACK | S_DRV | S_FOK | S_DOK);
	assert_int_equal(mrd(f, C(STATUS), 1), S_ACK | S_DRV | S_FOK | S_DOK);
}

/* ---- identity and capabilities ---- */

struct vcap {
	uint8_t type, bar, len;
	uint32_t off, length, mult;
	uint32_t at;
};

static int walk(struct fake *f, struct vcap *caps, int max, bool *saw_msix)
{
	struct pci_dev *p = &f->p.pci;
	int n = 0;

	*saw_msix = false;
	assert_true(pci_cfg_read(p, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	for (uint32_t c = pci_cfg_read(p, PCI_CAPABILITY_LIST, 1); c; c = pci_cfg_read(p, c + 1, 1)) {
		uint8_t id = (uint8_t)pci_cfg_read(p, c, 1);

		assert_true(c >= 0x40 && c < 256);
		if (id == PCI_CAP_ID_MSIX) {
			*saw_msix = true;
			continue;
		}
		assert_int_equal(id, PCI_CAP_ID_VNDR);
		assert_true(n < max);
		caps[n] = (struct vcap){
			.len = (uint8_t)pci_cfg_read(p, c + 2, 1),
			.type = (uint8_t)pci_cfg_read(p, c + 3, 1),
			.bar = (uint8_t)pci_cfg_read(p, c + 4, 1),
			.off = pci_cfg_read(p, c + 8, 4),
			.length = pci_cfg_read(p, c + 12, 4),
			.at = c,
		};
		if (caps[n].type == VIRTIO_PCI_CAP_NOTIFY_CFG)
			caps[n].mult = pci_cfg_read(p, c + 16, 4);
		n++;
	}
	return n;
}

static void test_modern_ids_and_caps(void **state)
{
	struct fake *f = *state;
	struct pci_dev *p = &f->p.pci;
	struct vcap caps[8];
	bool saw_msix;
	int n;

	assert_int_equal(pci_cfg_read(p, PCI_VENDOR_ID, 2), 0x1af4);
	assert_int_equal(pci_cfg_read(p, PCI_DEVICE_ID, 2), 0x1042);
	assert_int_equal(pci_cfg_read(p, PCI_REVISION_ID, 1), 1);
	assert_int_equal(pci_cfg_read(p, PCI_SUBSYSTEM_VENDOR, 2), 0x1af4);
	assert_int_equal(pci_cfg_read(p, PCI_SUBSYSTEM_ID, 2), 2);
	assert_int_equal(pci_cfg_read(p, PCI_INTERRUPT_PIN, 1), 1);
	/* No legacy BAR; MSI-X BAR1 32-bit; modern BAR4 64-bit prefetchable. */
	assert_int_equal(p->bar[0].type, PCI_BAR_NONE);
	pci_cfg_write(p, PCI_BAR0 + 16, 4, 0xffffffff);
	assert_int_equal(pci_cfg_read(p, PCI_BAR0 + 16, 4), 0xffffc00c);
	pci_program_bar(p, 4, BAR4_ADDR);
	assert_true(f->d.host_features & (1ull << VIRTIO_F_VERSION_1));

	n = walk(f, caps, 8, &saw_msix);
	assert_true(saw_msix);
	assert_int_equal(n, 5);
	assert_int_equal(caps[0].type, VIRTIO_PCI_CAP_COMMON_CFG);
	assert_int_equal(caps[0].bar, 4);
	assert_int_equal(caps[0].off, 0);
	assert_true(caps[0].length >= VIRTIO_PCI_COMMON_SIZE);
	assert_int_equal(caps[1].type, VIRTIO_PCI_CAP_ISR_CFG);
	assert_int_equal(caps[1].off, 0x1000);
	assert_int_equal(caps[2].type, VIRTIO_PCI_CAP_DEVICE_CFG);
	assert_int_equal(caps[2].off, 0x2000);
	assert_int_equal(caps[3].type, VIRTIO_PCI_CAP_NOTIFY_CFG);
	assert_int_equal(caps[3].off, 0x3000);
	assert_int_equal(caps[3].len, 20);
	assert_int_equal(caps[3].mult, 4);
	assert_int_equal(caps[4].type, VIRTIO_PCI_CAP_PCI_CFG);
	assert_int_equal(caps[4].len, 20);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(caps[i].bar, 4);
		assert_true(caps[i].off + caps[i].length <= VIRTIO_PCI_MODERN_BAR_SIZE);
		assert_true(caps[i].len >= 16);
	}
	/* MSI-X: one vector per queue plus config, table in BAR1. */
	assert_int_equal(f->p.msix.nvec, 3);
	assert_int_equal(pci_cfg_read(p, f->p.msix.cap + 4, 4), 1);
	/* Common config basics. */
	assert_int_equal(mrd(f, C(NUMQ), 2), 2);
	assert_int_equal(mrd(f, C(MSIX), 2), 0xffff);
}

static void test_transitional_ids(void **state)
{
	struct fake *f = *state;
	struct pci_dev *p = &f->p.pci;

	assert_int_equal(pci_cfg_read(p, PCI_DEVICE_ID, 2), 0x1001);
	assert_int_equal(pci_cfg_read(p, PCI_REVISION_ID, 1), 0);
	assert_int_equal(pci_cfg_read(p, PCI_SUBSYSTEM_ID, 2), 2);
	assert_int_equal(p->bar[0].type, PCI_BAR_IO);
	assert_true(p->bar[0].size >= 24 + 8);
	pci_cfg_write(p, PCI_BAR0, 4, 0xffffffff);
	assert_int_equal(pci_cfg_read(p, PCI_BAR0, 4), 0xffffffe1);   /* 32 bytes, I/O */
	/* A device the transitional table lacks is refused. */
	static const struct virtio_dev_ops odd = { .name = "odd", .device_id = 42, .num_queues = 1,
						   .queue_max_size = 8 };
	struct virtio_dev d2;
	struct virtio_pci p2;
	virtio_dev_init(&d2, &odd, NULL, 0, &f->gm, NULL);
	assert_int_equal(virtio_pci_init(&p2, &d2, true, (struct irq_line){ 0 }, NULL, NULL), -EINVAL);
	assert_int_equal(virtio_pci_init(&p2, &d2, false, (struct irq_line){ 0 }, NULL, NULL), 0);
	assert_int_equal(pci_cfg_read(&p2.pci, PCI_DEVICE_ID, 2), 0x1040 + 42);
	assert_int_equal(pci_cfg_read(&p2.pci, PCI_CLASS_DEVICE, 2), 0xff00);
	virtio_pci_destroy(&p2);
	virtio_dev_destroy(&d2);
}

/* ---- modern ---- */

static void test_modern_init_and_attach(void **state)
{
	struct fake *f = *state;

	modern_init(f);
	assert_int_equal(f->activated, 1);
	assert_false(f->d.legacy);
	assert_true(f->d.guest_features == ((1ull << VIRTIO_F_VERSION_1) | (1ull << FEAT_DEV)));
	assert_int_equal(f->natt, 2);
	for (int q = 0; q < 2; q++) {
		assert_int_equal(f->att[q].q, q);
		assert_true(f->att[q].addr == BAR4_ADDR + 0x3000 + 4 * (uint64_t)q);
		assert_int_equal(f->att[q].len, 2);
		assert_false(f->att[q].is_pio);
		assert_int_equal(f->att[q].datamatch, q);
	}
	/* Queue registers are frozen after DRIVER_OK. */
	mwr(f, C(Q_SELECT), 2, 0);
	mwr(f, C(Q_SIZE), 2, 8);
	assert_int_equal(mrd(f, C(Q_SIZE), 2), 64);
	/* Reset detaches. */
	mwr(f, C(STATUS), 1, 0);
	assert_int_equal(f->ndet, 2);
	assert_int_equal(mrd(f, C(STATUS), 1), 0);
	assert_int_equal(mrd(f, C(Q_ENABLE), 2), 0);
	assert_int_equal(mrd(f, C(Q_MSIX), 2), 0xffff);
}

static void test_modern_queue_rules(void **state)
{
	struct fake *f = *state;

	/* Before FEATURES_OK, queue setup is ignored. */
	mwr(f, C(STATUS), 1, S_ACK | S_DRV);
	mwr(f, C(Q_SELECT), 2, 0);
	mwr(f, C(Q_SIZE), 2, 16);
	assert_int_equal(mrd(f, C(Q_SIZE), 2), QMAX);
	mwr(f, C(STATUS), 1, 0);
	modern_up_to_features_ok(f);
	/* Nonexistent queue: size 0, writes ignored. */
	mwr(f, C(Q_SELECT), 2, 5);
	assert_int_equal(mrd(f, C(Q_SIZE), 2), 0);
	mwr(f, C(Q_ENABLE), 2, 1);
	/* queue_enable 0 is ignored. */
	mwr(f, C(Q_SELECT), 2, 0);
	mwr(f, C(Q_ENABLE), 2, 1);
	mwr(f, C(Q_ENABLE), 2, 0);
	assert_int_equal(mrd(f, C(Q_ENABLE), 2), 1);
	/* Wrong widths are ignored. */
	mwr(f, C(Q_SELECT), 4, 1);
	assert_int_equal(mrd(f, C(Q_SELECT), 2), 0);
	/* Vectors out of range read back NO_VECTOR (§4.1.5.1.2). */
	mwr(f, C(MSIX), 2, 3);
	assert_int_equal(mrd(f, C(MSIX), 2), 0xffff);
	mwr(f, C(MSIX), 2, 2);
	assert_int_equal(mrd(f, C(MSIX), 2), 2);
	mwr(f, C(Q_MSIX), 2, 9);
	assert_int_equal(mrd(f, C(Q_MSIX), 2), 0xffff);
	mwr(f, C(Q_MSIX), 2, 0);
	assert_int_equal(mrd(f, C(Q_MSIX), 2), 0);
	/* Reads beyond the structure are zero; config generation is there. */
	assert_int_equal(mrd(f, 0x100, 4), 0);
	virtio_config_changed(&f->d);
	assert_int_equal(mrd(f, C(CFGGEN), 1), 1);
	/* Device config is little-endian for a modern device. */
	assert_int_equal(mrd(f, VIRTIO_PCI_DEVICE_OFF, 4), 0x11223344);
	assert_int_equal(mrd(f, VIRTIO_PCI_DEVICE_OFF + 4, 2), 0x5566);
	assert_int_equal(mrd(f, VIRTIO_PCI_DEVICE_OFF + 7, 1), 0x88);
	assert_int_equal(mrd(f, VIRTIO_PCI_DEVICE_OFF + 8, 1), 0);
}

static void test_modern_notify_sync(void **state)
{
	struct fake *f = *state;

	/* Before DRIVER_OK: nothing. */
	mwr(f, VIRTIO_PCI_NOTIFY_OFF + 4, 2, 1);
	assert_int_equal(f->notifies, 0);
	modern_init(f);
	assert_int_equal(f->natt, 0);                /* no hooks */
	mwr(f, VIRTIO_PCI_NOTIFY_OFF + 4, 2, 1);
	assert_int_equal(f->notifies, 1);
	assert_int_equal(f->last_notify, 1);
	assert_false(f->notify_saw_lock_held);
	mwr(f, VIRTIO_PCI_NOTIFY_OFF, 4, 0);
	assert_int_equal(f->notifies, 2);
	assert_int_equal(f->last_notify, 0);
	/* Out-of-range queue, misaligned: ignored. */
	mwr(f, VIRTIO_PCI_NOTIFY_OFF + 8, 2, 2);
	mwr(f, VIRTIO_PCI_NOTIFY_OFF + 2, 2, 0);
	assert_int_equal(f->notifies, 2);
}

static void test_isr_intx(void **state)
{
	struct fake *f = *state;

	modern_init(f);
	virtio_config_changed(&f->d);
	assert_int_equal(f->nlevels, 1);
	assert_int_equal(f->levels[0], 1);
	assert_true(pci_cfg_read(&f->p.pci, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	assert_int_equal(mrd(f, VIRTIO_PCI_ISR_OFF, 1), 2);
	assert_int_equal(f->nlevels, 2);
	assert_int_equal(f->levels[1], 0);
	assert_int_equal(mrd(f, VIRTIO_PCI_ISR_OFF, 1), 0);   /* cleared */
	assert_false(pci_cfg_read(&f->p.pci, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	assert_int_equal(f->nfired, 0);
}

static void test_msix_vectors(void **state)
{
	struct fake *f = *state;

	enable_msix(f);
	modern_init(f);
	mwr(f, C(MSIX), 2, 0);
	assert_int_equal(mrd(f, C(MSIX), 2), 0);
	virtio_config_changed(&f->d);
	assert_int_equal(f->nfired, 1);
	assert_int_equal(f->fired[0], 0);
	assert_int_equal(f->nlevels, 0);              /* no INTx with MSI-X */
	/* Queue 1's vector is 2: push a used element by hand and signal. */
	f->d.vq[1].event_idx = false;
	virtio_queue_notify_driver(&f->d, 1);
	assert_int_equal(f->nfired, 2);
	assert_int_equal(f->fired[1], 2);
	/* NO_VECTOR: no interrupt at all. */
	mwr(f, C(MSIX), 2, 0xffff);
	virtio_config_changed(&f->d);
	assert_int_equal(f->nfired, 2);
	assert_int_equal(f->nlevels, 0);
	/* A masked vector goes pending and fires on unmask. */
	mwr(f, C(MSIX), 2, 0);
	msix_write(f, 12, 1);
	virtio_config_changed(&f->d);
	assert_int_equal(f->nfired, 2);
	assert_true(msix_is_pending(&f->p.msix, 0));
	msix_write(f, 12, 0);
	assert_int_equal(f->nfired, 3);
	assert_int_equal(f->fired[2], 0);
}

static void test_bar_move_reattaches(void **state)
{
	struct fake *f = *state;

	modern_init(f);
	assert_int_equal(f->natt, 2);
	/* The guest moves BAR4 (64-bit) while the driver is live. */
	pci_program_bar(&f->p.pci, 4, BAR4_ADDR2);
	assert_true(f->ndet >= 2);
	assert_true(f->att[f->natt - 1].addr == BAR4_ADDR2 + 0x3000 + 4);
	assert_true(f->att[f->natt - 2].addr == BAR4_ADDR2 + 0x3000);
	/* Memory decoding off: detached, nothing attached. */
	int natt = f->natt, ndet = f->ndet;
	pci_cfg_write(&f->p.pci, PCI_COMMAND, 2, PCI_COMMAND_IO);
	assert_int_equal(f->natt, natt);
	assert_int_equal(f->ndet, ndet + 2);
	pci_cfg_write(&f->p.pci, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	assert_int_equal(f->natt, natt + 2);
	assert_true(f->att[f->natt - 1].addr == BAR4_ADDR2 + 0x3004);
	/* After a reset, a BAR move attaches nothing. */
	mwr(f, C(STATUS), 1, 0);
	natt = f->natt;
	pci_program_bar(&f->p.pci, 4, BAR4_ADDR);
	assert_int_equal(f->natt, natt);
}

static void test_pci_cfg_window(void **state)
{
	struct fake *f = *state;
	struct pci_dev *p = &f->p.pci;
	uint32_t c = f->p.pci_cfg_cap;

	assert_true(c != 0);
	/* Write device_status = ACK through the window. */
	pci_cfg_write(p, c + VIRTIO_PCI_CAP_BAR, 1, 4);
	pci_cfg_write(p, c + VIRTIO_PCI_CAP_OFFSET, 4, VIRTIO_PCI_COMMON_STATUS);
	pci_cfg_write(p, c + VIRTIO_PCI_CAP_LENGTH, 4, 1);
	pci_cfg_write(p, c + VIRTIO_PCI_CAP_PCI_CFG_DATA, 4, S_ACK);
	assert_int_equal(f->d.status, S_ACK);
	/* Read num_queues (2 bytes). */
	pci_cfg_write(p, c + VIRTIO_PCI_CAP_OFFSET, 4, VIRTIO_PCI_COMMON_NUMQ);
	pci_cfg_write(p, c + VIRTIO_PCI_CAP_LENGTH, 4, 2);
	assert_int_equal(pci_cfg_read(p, c + VIRTIO_PCI_CAP_PCI_CFG_DATA, 2), 2);
	/* Device config, 4 bytes. */
	pci_cfg_write(p, c + VIRTIO_PCI_CAP_OFFSET, 4, VIRTIO_PCI_DEVICE_OFF);
	pci_cfg_write(p, c + VIRTIO_PCI_CAP_LENGTH, 4, 4);
	assert_int_equal(pci_cfg_read(p, c + VIRTIO_PCI_CAP_PCI_CFG_DATA, 4), 0x11223344);
	/* Invalid windows are ignored: misaligned, bad length, other BAR. */
	pci_cfg_write(p, c + VIRTIO_PCI_CAP_OFFSET, 4, VIRTIO_PCI_COMMON_STATUS);
	pci_cfg_write(p, c + VIRTIO_PCI_CAP_LENGTH, 4, 3);
	pci_cfg_write(p, c + VIRTIO_PCI_CAP_PCI_CFG_DATA, 4, 0);
	assert_int_equal(f->d.status, S_ACK);
	pci_cfg_write(p, c + VIRTIO_PCI_CAP_LENGTH, 4, 1);
	pci_cfg_write(p, c + VIRTIO_PCI_CAP_BAR, 1, 1);
	pci_cfg_write(p, c + VIRTIO_PCI_CAP_PCI_CFG_DATA, 4, 0);
	assert_int_equal(f->d.status, S_ACK);
	/* The cap's type is read-only. */
	pci_cfg_write(p, c + VIRTIO_PCI_CAP_CFG_TYPE, 1, 1);
	assert_int_equal(pci_cfg_read(p, c + VIRTIO_PCI_CAP_CFG_TYPE, 1), VIRTIO_PCI_CAP_PCI_CFG);
}

/* A kick written through the PCI_CFG window, as a guest reaches it: by
 * config cycles on the host bridge (ECAM). It must not run the device under
 * the bridge's lock (every vCPU's config access would wait): with a fast
 * path it goes there (the hooks' kick: the queue's ioeventfd), and without
 * one, or when the queue has none, the device gets it after the bridge is
 * unlocked. */
#define KICK_SLOT 3

static void ecam_wr(struct pci_host *h, uint32_t reg, uint32_t len, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	pci_host_ecam_ops.write(h, (KICK_SLOT << 15) | reg, b, len);   /* bus 0, function 0 */
}

static void cfg_window_kick(struct fake *f, uint16_t q)
{
	uint32_t c = f->p.pci_cfg_cap;

	ecam_wr(f->bridge, c + VIRTIO_PCI_CAP_BAR, 1, 4);
	ecam_wr(f->bridge, c + VIRTIO_PCI_CAP_OFFSET, 4, VIRTIO_PCI_NOTIFY_OFF + 4u * q);
	ecam_wr(f->bridge, c + VIRTIO_PCI_CAP_LENGTH, 4, 2);
	ecam_wr(f->bridge, c + VIRTIO_PCI_CAP_PCI_CFG_DATA, 2, q);
}

static void pci_cfg_kick(bool with_hooks)
{
	struct fake *f = make(false, with_hooks);
	struct pci_host h;

	pci_host_init(&h);
	assert_int_equal(pci_host_add(&h, &f->p.pci, KICK_SLOT), KICK_SLOT);
	f->bridge = &h;
	modern_init(f);
	f->kick_ret = 0;
	cfg_window_kick(f, 1);
	if (with_hooks) {
		assert_int_equal(f->kicks, 1);          /* to the queue's fast path */
		assert_int_equal(f->notifies, 0);
	} else {
		assert_int_equal(f->notifies, 1);       /* served, after the unlock */
	}
	assert_int_equal(f->last_notify, 1);
	if (with_hooks) {
		f->kick_ret = -ENOENT;                  /* no ioeventfd for it */
		cfg_window_kick(f, 0);
		assert_int_equal(f->kicks, 2);
		assert_int_equal(f->notifies, 1);
		assert_int_equal(f->last_notify, 0);
	}
	assert_false(f->notify_saw_bridge_locked);
	assert_false(f->notify_saw_lock_held);
	/* Before DRIVER_OK (after a reset): a kick there is nothing. */
	mwr(f, C(STATUS), 1, 0);
	int before = f->notifies + f->kicks;
	cfg_window_kick(f, 0);
	assert_int_equal(f->notifies + f->kicks, before);
	f->bridge = NULL;
	pci_host_destroy(&h);
	struct fake *ff = f;
	teardown((void **)&ff);
}

static void test_pci_cfg_kick_sync(void **state) { pci_cfg_kick(false); }
static void test_pci_cfg_kick_hooks(void **state) { pci_cfg_kick(true); }

/* ---- legacy (transitional) ---- */

static void legacy_init(struct fake *f)
{
	uint32_t feats;

	lwr(f, VIRTIO_PCI_L_STATUS, 1, 0);
	lwr(f, VIRTIO_PCI_L_STATUS, 1, S_ACK);
	lwr(f, VIRTIO_PCI_L_STATUS, 1, S_ACK | S_DRV);
	feats = (uint32_t)lrd(f, VIRTIO_PCI_L_HOST_FEATURES, 4);
	assert_int_equal(feats, (1u << FEAT_DEV) | (1u << VIRTIO_F_RING_INDIRECT_DESC));
	lwr(f, VIRTIO_PCI_L_GUEST_FEATURES, 4, feats);
	for (int q = 0; q < 2; q++) {
		lwr(f, VIRTIO_PCI_L_QUEUE_SEL, 2, (uint32_t)q);
		assert_int_equal(lrd(f, VIRTIO_PCI_L_QUEUE_NUM, 2), QMAX);
		assert_int_equal(lrd(f, VIRTIO_PCI_L_QUEUE_PFN, 4), 0);
		lwr(f, VIRTIO_PCI_L_QUEUE_PFN, 4, (uint32_t)(qdesc(q) >> 12));
		assert_int_equal(lrd(f, VIRTIO_PCI_L_QUEUE_PFN, 4), qdesc(q) >> 12);
	}
	lwr(f, VIRTIO_PCI_L_STATUS, 1, S_ACK | S_DRV | S_DOK);
	assert_int_equal(lrd(f, VIRTIO_PCI_L_STATUS, 1), S_ACK | S_DRV | S_DOK);
}

static void test_legacy_init(void **state)
{
	struct fake *f = *state;
	struct virtq *vq = &f->d.vq[0];

	legacy_init(f);
	assert_true(f->d.legacy);
	assert_int_equal(f->activated, 1);
	assert_true(f->d.guest_features == ((1ull << FEAT_DEV) | (1ull << VIRTIO_F_RING_INDIRECT_DESC)));
	/* §2.7.2 legacy layout, 4096 alignment, size fixed at QueueSize. */
	assert_int_equal(vq->num, QMAX);
	assert_true(vq->desc_gpa == qdesc(0));
	assert_true(vq->avail_gpa == qdesc(0) + 16 * QMAX);
	assert_true(vq->used_gpa == ((qdesc(0) + 16 * QMAX + 6 + 2 * QMAX + 4095) & ~4095ull));
	assert_int_equal(vq->used_gpa % 4096, 0);
	/* Notifications: one port, datamatch on the queue index. */
	assert_int_equal(f->natt, 2);
	for (int q = 0; q < 2; q++) {
		assert_true(f->att[q].addr == BAR0_PORT + 16);
		assert_int_equal(f->att[q].len, 2);
		assert_true(f->att[q].is_pio);
		assert_int_equal(f->att[q].datamatch, q);
	}
	/* Synchronous kick through QueueNotify. */
	lwr(f, VIRTIO_PCI_L_QUEUE_NOTIFY, 2, 1);
	assert_int_equal(f->notifies, 1);
	assert_int_equal(f->last_notify, 1);
	/* PFN frozen after DRIVER_OK. */
	lwr(f, VIRTIO_PCI_L_QUEUE_SEL, 2, 0);
	lwr(f, VIRTIO_PCI_L_QUEUE_PFN, 4, 0x55);
	assert_int_equal(lrd(f, VIRTIO_PCI_L_QUEUE_PFN, 4), qdesc(0) >> 12);
	/* ISR read-to-clear with INTx. */
	virtio_config_changed(&f->d);
	assert_int_equal(f->levels[f->nlevels - 1], 1);
	assert_int_equal(lrd(f, VIRTIO_PCI_L_ISR, 1), 2);
	assert_int_equal(f->levels[f->nlevels - 1], 0);
	assert_int_equal(lrd(f, VIRTIO_PCI_L_ISR, 1), 0);
	/* Reset: PFN reads 0, detached. */
	lwr(f, VIRTIO_PCI_L_STATUS, 1, 0);
	assert_int_equal(lrd(f, VIRTIO_PCI_L_QUEUE_PFN, 4), 0);
	assert_int_equal(f->ndet, 2);
}

static void test_legacy_config_offset(void **state)
{
	struct fake *f = *state;

	lwr(f, VIRTIO_PCI_L_STATUS, 1, 0);
	/* MSI-X off: config at 20. */
	assert_int_equal(lrd(f, 20, 4), 0x11223344);
	assert_int_equal(lrd(f, 27, 1), 0x88);
	/* MSI-X on: vectors at 20/22, config at 24. */
	enable_msix(f);
	assert_int_equal(lrd(f, VIRTIO_PCI_L_CONFIG_VECTOR, 2), 0xffff);
	lwr(f, VIRTIO_PCI_L_CONFIG_VECTOR, 2, 0);
	assert_int_equal(lrd(f, VIRTIO_PCI_L_CONFIG_VECTOR, 2), 0);
	lwr(f, VIRTIO_PCI_L_QUEUE_SEL, 2, 1);
	lwr(f, VIRTIO_PCI_L_QUEUE_VECTOR, 2, 2);
	assert_int_equal(lrd(f, VIRTIO_PCI_L_QUEUE_VECTOR, 2), 2);
	lwr(f, VIRTIO_PCI_L_QUEUE_VECTOR, 2, 77);
	assert_int_equal(lrd(f, VIRTIO_PCI_L_QUEUE_VECTOR, 2), 0xffff);
	assert_int_equal(lrd(f, 24, 4), 0x11223344);
	assert_int_equal(lrd(f, 28, 2), 0x5566);
	assert_true(f->d.legacy);
}

/* Legacy or modern is decided once per driver session: a running legacy
 * driver (big-endian here) that touches the modern window -- feature
 * registers included, before any FEATURES_OK -- keeps a legacy device with
 * big-endian config; only a reset lets the next driver choose again. */
static void test_legacy_session_survives_modern_access(void **state)
{
	struct fake *f = *state;
	uint8_t b[4];

	f->vcpu_be = 1;
	legacy_init(f);
	assert_true(f->d.legacy);
	assert_int_equal(f->d.device_endian, VIRTIO_ENDIAN_BIG);
	mwr(f, C(DFSELECT), 4, 0);
	(void)mrd(f, C(DF), 4);
	mwr(f, C(GFSELECT), 4, 1);
	(void)mrd(f, C(STATUS), 1);
	(void)mrd(f, C(NUMQ), 2);
	virtio_pci_modern_ops.read(&f->p, VIRTIO_PCI_DEVICE_OFF, b, 4);
	assert_true(f->d.legacy);
	virtio_pci_legacy_ops.read(&f->p, 20, b, 4);
	assert_memory_equal(b, "\x11\x22\x33\x44", 4);   /* still the guest's order */
	assert_int_equal(lrd(f, VIRTIO_PCI_L_STATUS, 1), S_ACK | S_DRV | S_DOK);
	/* the next session, after a reset through the modern window, is modern */
	mwr(f, C(STATUS), 1, 0);
	(void)mrd(f, C(DF), 4);
	assert_false(f->d.legacy);
}

static void test_legacy_big_endian(void **state)
{
	struct fake *f = *state;
	uint8_t b[4];

	/* A reset from a big-endian vCPU: the legacy device config is in the
	 * guest's order, the header stays little-endian. */
	f->vcpu_be = 1;
	lwr(f, VIRTIO_PCI_L_STATUS, 1, 0);
	assert_true(f->d.legacy);
	assert_int_equal(f->d.device_endian, VIRTIO_ENDIAN_BIG);
	virtio_pci_legacy_ops.read(&f->p, 20, b, 4);
	assert_memory_equal(b, "\x11\x22\x33\x44", 4);
	for (int i = 0; i < 2; i++) {
		virtio_pci_legacy_ops.read(&f->p, 24 + (uint64_t)i, b, 1);
		assert_int_equal(b[0], i ? 0x66 : 0x55);
	}
	lwr(f, VIRTIO_PCI_L_QUEUE_SEL, 2, 0);
	virtio_pci_legacy_ops.read(&f->p, VIRTIO_PCI_L_QUEUE_NUM, b, 2);
	assert_memory_equal(b, "\x00\x01", 2);          /* 256, little-endian */
	/* A modern driver after a reset: little-endian config whatever the
	 * vCPU's order (modern ignores device_endian). */
	mwr(f, C(STATUS), 1, 0);
	assert_false(f->d.legacy);
	virtio_pci_modern_ops.read(&f->p, VIRTIO_PCI_DEVICE_OFF, b, 4);
	assert_memory_equal(b, "\x44\x33\x22\x11", 4);
}

static void test_transitional_modern_driver(void **state)
{
	struct fake *f = *state;

	/* A legacy access first, then a modern driver takes over. */
	lrd(f, VIRTIO_PCI_L_HOST_FEATURES, 4);
	assert_true(f->d.legacy);
	modern_init(f);
	assert_false(f->d.legacy);
	assert_int_equal(f->activated, 1);
	assert_true(f->att[0].addr == BAR4_ADDR + 0x3000);
	assert_false(f->att[0].is_pio);
	/* Legacy accesses while live do not flip the mode. */
	lrd(f, VIRTIO_PCI_L_STATUS, 1);
	assert_false(f->d.legacy);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test_setup_teardown(test_modern_ids_and_caps, setup_modern, teardown),
		cmocka_unit_test_setup_teardown(test_transitional_ids, setup_trans, teardown),
		cmocka_unit_test_setup_teardown(test_modern_init_and_attach, setup_modern, teardown),
		cmocka_unit_test_setup_teardown(test_modern_queue_rules, setup_modern, teardown),
		cmocka_unit_test_setup_teardown(test_modern_notify_sync, setup_modern_sync, teardown),
		cmocka_unit_test_setup_teardown(test_isr_intx, setup_modern, teardown),
		cmocka_unit_test_setup_teardown(test_msix_vectors, setup_modern, teardown),
		cmocka_unit_test_setup_teardown(test_bar_move_reattaches, setup_modern, teardown),
		cmocka_unit_test_setup_teardown(test_pci_cfg_window, setup_modern, teardown),
		cmocka_unit_test(test_pci_cfg_kick_sync),
		cmocka_unit_test_setup_teardown(test_legacy_session_survives_modern_access, setup_trans, teardown),
		cmocka_unit_test(test_pci_cfg_kick_hooks),
		cmocka_unit_test_setup_teardown(test_legacy_init, setup_trans, teardown),
		cmocka_unit_test_setup_teardown(test_legacy_config_offset, setup_trans, teardown),
		cmocka_unit_test_setup_teardown(test_legacy_big_endian, setup_trans, teardown),
		cmocka_unit_test_setup_teardown(test_transitional_modern_driver, setup_trans, teardown),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
