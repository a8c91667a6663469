/* virtio-pci (devices/virtio/pci.c, pci_legacy.c) on the PCI host bridge
 * (devices/pci/pci_host.c, pci.c, msix.c), with the virtio core and the
 * echo device (fuzz_echo.c) behind it: configuration space through ECAM and
 * ports 0xCF8/0xCFC (BAR sizing and moving, the command register, the
 * capabilities, the PCI_CFG window), the modern BAR (common config, ISR,
 * device config, notifications), the legacy I/O BAR, the MSI-X table and
 * PBA -- every access routed by address as a vCPU's would be.
 *
 * Input: one set-up byte, then operations.
 *   set-up   bit 0 transitional (legacy I/O BAR0 too); bits 1-3 queues: 1, 2,
 *            3, 4, 8, 16, 31, 32; bit 4 notify hooks (ioeventfds that
 *            attach); bit 5 the vCPU is big-endian; bit 6 the rings' driver
 *            is sane (fuzz_vq.h); bit 7 block device id (else net)
 *   op % 16:
 *     0/1 config read / write through ECAM: u8 device (bit 7: u8 more for a
 *         raw bus/device/function), u16 register, u8 length selector
 *         (1, 2, 4), write: u32 value
 *     2   config access through 0xCF8/0xCFC: u32 CONFIG_ADDRESS, u8 (bits
 *         0-1 port offset, bits 2-3 length, bit 4 write), write: u32 value
 *     3   BAR access: u8 (BAR number % 6, bit 3 raw address: u64 follows),
 *         u16 offset, u8 (length selector, bit 2 write), write: u64 value
 *     4   firmware: program every BAR (BAR4 above 4 GiB if u8 bit 0) and
 *         enable I/O, memory and bus mastering
 *     5   modern driver init through BAR4 (as fuzz_mmio.c's op 2, plus u8:
 *         MSI-X vectors for config and queues)
 *     6   legacy driver init through BAR0 (u32 feature mask)
 *     7   add a chain to queue u8    8 notify queue u8 (u8 bit 0: legacy)
 *     9   the ioeventfd of queue u8 fires (if attached)
 *     10  MSI-X: u8 (bit 0 enable, bit 1 function mask) into Message
 *         Control, then u8 entry, u8 dword, u32 value into the table
 *     11  read the ISR (modern or legacy by u8 bit 0)
 *     12  the driver reads queue u8's used ring
 *     13  the PCI_CFG window: u8 bar, u16 offset, u8 length, u8 bit 0
 *         write (u32 value) else read
 *     14  the vCPU's byte order flips   15 function reset of MSI-X
 *
 * Checked besides memory safety: MSI-X messages go out only for vectors of
 * the function that are unmasked, with MSI-X enabled; INTx stays low while
 * MSI-X is enabled; the notify hooks' record matches the transport's; the
 * sane driver's check of every used element. */
#include "fuzz_echo.h"
#include "fuzz_vq.h"

#include "pci/pci_host.h"
#include "virtio/pci.h"

#define R0_GPA    0x100000ull
#define R0_SIZE   0xa0000u
#define R1_GPA    0x200000ull
#define R1_SIZE   0x1000u
#define QAREA(q)  (R0_GPA + 0x4000ull * (q))   /* rings; +0x2000: indirect tables */
#define IND_SIZE  0x2000u
#define BUF_GPA   (R0_GPA + 0x80000)
#define BUF_SIZE  (R0_SIZE - 0x80000)

#define BAR0_PORT 0xc000ull
#define BAR1_ADDR 0xc0000000ull
#define BAR4_ADDR 0xc0100000ull
#define BAR4_HIGH 0x8000000000ull

static const uint16_t nq_choice[8] = { 1, 2, 3, 4, 8, 16, 31, 32 };
static const uint32_t lens[4] = { 1, 2, 4, 8 };

static const struct fvq_layout layout = {
	.buf = BUF_GPA, .buf_size = BUF_SIZE, .r1 = R1_GPA, .r1_size = R1_SIZE,
	.r0_end = R0_GPA + R0_SIZE, .meta = R0_GPA, .meta_size = BUF_GPA - R0_GPA,
};

struct env {
	struct echo x;
	struct pci_host h;
	struct virtio_pci p;
	struct virtio_platform plat;
	struct virtio_notify_hooks hooks;
	struct msix_host_ops mops;
	struct fuzz_ram *ram;
	struct fvq q[VIRTIO_MAX_QUEUES];
	bool vcpu_be, sane;
	int intx;
	uint32_t attached;
	unsigned fired;
};

static int vcpu_be(void *opaque)
{
	return ((struct env *)opaque)->vcpu_be;
}

static void intx_set(void *opaque, int level)
{
	((struct env *)opaque)->intx = level;
}

static int attach(void *opaque, struct virtio_dev *d, uint16_t q, uint64_t addr, uint32_t len,
		  bool is_pio, uint64_t datamatch)
{
	struct env *t = opaque;

	FZ_CHECK(q < d->num_queues && !(t->attached & (1u << q)));
	FZ_CHECK(len == 2 && datamatch == q && is_pio == d->legacy);
	t->attached |= 1u << q;
	return 0;
}

static void detach(void *opaque, struct virtio_dev *d, uint16_t q)
{
	struct env *t = opaque;

	FZ_CHECK(t->attached & (1u << q));
	t->attached &= ~(1u << q);
}

/* MSI-X messages: a vector of ours, unmasked, MSI-X on (msix lock held). */
static void msix_fire(void *opaque, uint16_t v, uint64_t addr, uint32_t data)
{
	struct env *t = opaque;
	const struct msix *m = &t->p.msix;

	FZ_CHECK(v < m->nvec && m->enabled && !m->fmask);
	FZ_CHECK(!(m->table[v][3] & 1));
	t->fired++;
}

static void msix_changed(void *opaque, uint16_t v, uint64_t addr, uint32_t data, bool masked)
{
	struct env *t = opaque;

	FZ_CHECK(v < t->p.msix.nvec);
}

static void bar(struct env *t, bool io, uint64_t addr, uint8_t *b, uint32_t len, bool write)
{
	pci_host_bar_access(&t->h, io, addr, b, len, write);
}

static void put_le(uint8_t *b, uint32_t len, uint64_t v)
{
	for (uint32_t i = 0; i < len; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *b, uint32_t len)
{
	uint64_t v = 0;

	for (uint32_t i = 0; i < len; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

/* Register access in BAR n where the device decodes it now (nothing if
 * it does not). */
static uint64_t bar_rd(struct env *t, int n, uint64_t off, uint32_t len)
{
	const struct pci_bar *b = &t->p.pci.bar[n];
	uint8_t buf[8] = { 0 };

	if (!b->decoding)
		return 0;
	bar(t, b->type == PCI_BAR_IO, b->decode_addr + off, buf, len, false);
	return get_le(buf, len);
}

static void bar_wr(struct env *t, int n, uint64_t off, uint32_t len, uint64_t v)
{
	const struct pci_bar *b = &t->p.pci.bar[n];
	uint8_t buf[8];

	if (!b->decoding)
		return;
	put_le(buf, len, v);
	bar(t, b->type == PCI_BAR_IO, b->decode_addr + off, buf, len, true);
}

static void cfg(struct env *t, uint32_t dev, uint32_t reg, uint32_t len, bool write, uint32_t *v)
{
	uint8_t b[4];
	uint64_t off = (uint64_t)dev << 15 | (reg & 0xfff);

	if (write) {
		put_le(b, len, *v);
		pci_host_ecam_ops.write(&t->h, off, b, len);
	} else {
		pci_host_ecam_ops.read(&t->h, off, b, len);
		*v = (uint32_t)get_le(b, len);
	}
}

static void driver_rings(struct env *t)
{
	struct virtio_dev *d = &t->x.d;

	for (uint16_t i = 0; i < d->num_queues; i++) {
		struct virtq *vq = &d->vq[i];
		fvq_init(&t->q[i], t->ram, vq->layout == VIRTQ_PACKED, virtio_is_big_endian(d),
			 t->sane, vq->ready && vq->desc ? vq->num : 0, vq->desc_gpa, vq->avail_gpa,
			 vq->used_gpa, QAREA(i) + 0x2000, IND_SIZE);
	}
}

static void firmware(struct env *t, bool high)
{
	uint32_t cmd = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;

	if (t->p.legacy_bar)
		pci_program_bar(&t->p.pci, 0, BAR0_PORT);
	pci_program_bar(&t->p.pci, 1, BAR1_ADDR);
	pci_program_bar(&t->p.pci, 4, high ? BAR4_HIGH : BAR4_ADDR);
	cfg(t, 1, PCI_COMMAND, 2, true, &cmd);
}

#define COMMON(off) (VIRTIO_PCI_COMMON_OFF + (off))

static void modern_init(struct env *t, struct fz *f)
{
	struct virtio_dev *d = &t->x.d;
	uint32_t mask_lo = fz_u32(f), mask_hi = fz_u32(f);
	uint8_t qs = fz_u8(f), vec = fz_u8(f);

	bar_wr(t, 4, COMMON(VIRTIO_PCI_COMMON_STATUS), 1, 0);
	bar_wr(t, 4, COMMON(VIRTIO_PCI_COMMON_STATUS), 1, VIRTIO_STATUS_ACKNOWLEDGE);
	bar_wr(t, 4, COMMON(VIRTIO_PCI_COMMON_STATUS), 1,
	       VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	bar_wr(t, 4, COMMON(VIRTIO_PCI_COMMON_DFSELECT), 4, 0);
	uint32_t lo = (uint32_t)bar_rd(t, 4, COMMON(VIRTIO_PCI_COMMON_DF), 4) & mask_lo;
	bar_wr(t, 4, COMMON(VIRTIO_PCI_COMMON_DFSELECT), 4, 1);
	uint32_t hi = (uint32_t)bar_rd(t, 4, COMMON(VIRTIO_PCI_COMMON_DF), 4) & mask_hi;
	bar_wr(t, 4, COMMON(VIRTIO_PCI_COMMON_GFSELECT), 4, 0);
	bar_wr(t, 4, COMMON(VIRTIO_PCI_COMMON_GF), 4, lo);
	bar_wr(t, 4, COMMON(VIRTIO_PCI_COMMON_GFSELECT), 4, 1);
	bar_wr(t, 4, COMMON(VIRTIO_PCI_COMMON_GF), 4, hi);
	uint32_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
	bar_wr(t, 4, COMMON(VIRTIO_PCI_COMMON_STATUS), 1, st);
	bar_wr(t, 4, COMMON(VIRTIO_PCI_COMMON_MSIX), 2, vec & 1 ? 0 : VIRTIO_PCI_NO_VECTOR);
	bool packed = (hi >> (VIRTIO_F_RING_PACKED - 32)) & 1;
	for (uint16_t i = 0; i < d->num_queues; i++) {
		uint32_t num = packed ? qs % 64 + 1u : 1u << (qs % 7);
		uint64_t a = QAREA(i);
		bar_wr(t, 4, COMMON(VIRTIO_PCI_COMMON_Q_SELECT), 2, i);
		bar_wr(t, 4, COMMON(VIRTIO_PCI_COMMON_Q_SIZE), 2, num);
		bar_wr(t, 4, COMMON(VIRTIO_PCI_COMMON_Q_MSIX), 2,
		       vec & 2 ? (uint32_t)(i + 1) : VIRTIO_PCI_NO_VECTOR);
		bar_wr(t, 4, COMMON(VIRTIO_PCI_COMMON_Q_DESCLO), 8, a);
		bar_wr(t, 4, COMMON(VIRTIO_PCI_COMMON_Q_AVAILLO), 4, (uint32_t)(a + 0x400));
		bar_wr(t, 4, COMMON(VIRTIO_PCI_COMMON_Q_AVAILHI), 4, 0);
		bar_wr(t, 4, COMMON(VIRTIO_PCI_COMMON_Q_USEDLO), 4, (uint32_t)(a + 0x800));
		bar_wr(t, 4, COMMON(VIRTIO_PCI_COMMON_Q_USEDHI), 4, 0);
		bar_wr(t, 4, COMMON(VIRTIO_PCI_COMMON_Q_ENABLE), 2, 1);
	}
	bar_wr(t, 4, COMMON(VIRTIO_PCI_COMMON_STATUS), 1, st | VIRTIO_STATUS_DRIVER_OK);
}

static void legacy_init(struct env *t, struct fz *f)
{
	struct virtio_dev *d = &t->x.d;
	uint32_t mask = fz_u32(f);

	bar_wr(t, 0, VIRTIO_PCI_L_STATUS, 1, 0);
	bar_wr(t, 0, VIRTIO_PCI_L_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE);
	bar_wr(t, 0, VIRTIO_PCI_L_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	uint32_t feat = (uint32_t)bar_rd(t, 0, VIRTIO_PCI_L_HOST_FEATURES, 4) & mask;
	bar_wr(t, 0, VIRTIO_PCI_L_GUEST_FEATURES, 4, feat);
	for (uint16_t i = 0; i < d->num_queues; i++) {
		bar_wr(t, 0, VIRTIO_PCI_L_QUEUE_SEL, 2, i);
		bar_rd(t, 0, VIRTIO_PCI_L_QUEUE_NUM, 2);
		bar_wr(t, 0, VIRTIO_PCI_L_QUEUE_PFN, 4, (uint32_t)(QAREA(i) >> 12));
	}
	bar_wr(t, 0, VIRTIO_PCI_L_STATUS, 1,
	       VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);
}

static void check(struct env *t)
{
	FZ_CHECK(t->attached == t->p.attached);
	if (t->p.msix.enabled)
		FZ_CHECK(t->intx == 0);
	FZ_CHECK(t->intx == (int)t->p.pci.intx_level);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t gpa[2] = { R0_GPA, R1_GPA };
	static const size_t sz[2] = { R0_SIZE, R1_SIZE };
	static struct env t;
	struct virtq_elem *keep = t.x.e;
	struct fz f;

	fz_init(&f, data, size);
	uint8_t c = fz_u8(&f);
	memset(&t, 0, sizeof(t));
	t.x.e = keep;
	t.ram = fuzz_ram_get(gpa, sz, 2);
	t.vcpu_be = c & 0x20;
	t.sane = c & 0x40;
	t.plat = (struct virtio_platform){ vcpu_be, VIRTIO_ENDIAN_LITTLE, &t };
	t.hooks = (struct virtio_notify_hooks){ .attach = attach, .detach = detach, .opaque = &t };
	t.mops = (struct msix_host_ops){ msix_fire, msix_changed, &t };
	uint64_t feat = 1ull << VIRTIO_F_RING_INDIRECT_DESC | 1ull << VIRTIO_F_RING_EVENT_IDX |
			1ull << VIRTIO_F_RING_PACKED | 1ull << VIRTIO_F_ANY_LAYOUT | 0x3f;
	echo_init(&t.x, c & 0x80 ? 2 : 1, nq_choice[(c >> 1) & 7], feat, &t.ram->gm, &t.plat);
	pci_host_init(&t.h);
	FZ_CHECK(virtio_pci_init(&t.p, &t.x.d, c & 1, (struct irq_line){ intx_set, &t },
				 c & 0x10 ? &t.hooks : NULL, &t.mops) == 0);
	FZ_CHECK(pci_host_add(&t.h, &t.p.pci, 1) == 1);
	struct virtio_dev *d = &t.x.d;
	unsigned resets = t.x.resets;

	for (int ops = 0; fz_more(&f) && ops < 256; ops++) {
		uint8_t op = fz_u8(&f) % 16, k, b[8];
		uint32_t v, len, dev;
		uint16_t reg;

		switch (op) {
		case 0:
		case 1:
			k = fz_u8(&f);
			dev = k & 0x80 ? (uint32_t)fz_u8(&f) << 5 | (k & 0x1f) : 1;
			reg = fz_u16(&f);
			len = lens[fz_u8(&f) % 3];
			v = op == 1 ? fz_u32(&f) : 0;
			cfg(&t, dev, reg, len, op == 1, &v);
			break;
		case 2: {
			uint32_t a = fz_u32(&f);
			k = fz_u8(&f);
			len = lens[(k >> 2) & 3];
			put_le(b, 4, a);
			pci_host_cf8_ops.write(&t.h, 0, b, 4);
			if (k & 0x10) {
				put_le(b, 4, fz_u32(&f));
				pci_host_cfc_ops.write(&t.h, k & 3, b, len > 4 ? 4 : len);
			} else {
				pci_host_cfc_ops.read(&t.h, k & 3, b, len > 4 ? 4 : len);
			}
			break;
		}
		case 3: {
			k = fz_u8(&f);
			uint16_t off = fz_u16(&f);
			uint8_t m = fz_u8(&f);
			len = lens[m & 3];
			const struct pci_bar *pb = &t.p.pci.bar[(k & 7) % 6];
			uint64_t addr = k & 8 ? fz_u64(&f) : pb->decode_addr + off;
			bool io = k & 8 ? (k >> 4) & 1 : pb->type == PCI_BAR_IO;
			if (m & 4) {
				put_le(b, len, fz_u64(&f));
				bar(&t, io, addr, b, len, true);
			} else {
				bar(&t, io, addr, b, len, false);
			}
			break;
		}
		case 4:
			firmware(&t, fz_u8(&f) & 1);
			break;
		case 5:
			modern_init(&t, &f);
			break;
		case 6:
			legacy_init(&t, &f);
			break;
		case 7: {
			uint16_t qi = fz_u8(&f) % d->num_queues;
			struct fvq_seg s[8];
			unsigned n = fz_u8(&f) % 8 + 1;
			uint8_t mode = fz_u8(&f);
			uint16_t id = fz_u16(&f);
			fvq_read_segs(&f, &layout, t.sane, s, n);
			fvq_add(&t.q[qi], s, n, mode & 1, t.sane ? 0 : (uint16_t)((mode >> 2) & 7), id,
				mode & 2);
			break;
		}
		case 8: {
			uint16_t qi = fz_u8(&f) % (d->num_queues + 2u);
			if (fz_u8(&f) & 1)
				bar_wr(&t, 0, VIRTIO_PCI_L_QUEUE_NOTIFY, 2, qi);
			else
				bar_wr(&t, 4, VIRTIO_PCI_NOTIFY_OFF + 4ull * qi, 2, qi);
			break;
		}
		case 9: {
			uint16_t qi = fz_u8(&f) % d->num_queues;
			if (t.attached & (1u << qi))
				d->ops->queue_notify(d, qi);
			break;
		}
		case 10: {
			k = fz_u8(&f);
			v = (k & 1 ? MSIX_FLAGS_ENABLE : 0) | (k & 2 ? MSIX_FLAGS_MASKALL : 0);
			cfg(&t, 1, t.p.msix.cap + MSIX_CAP_FLAGS, 2, true, &v);
			uint8_t e = fz_u8(&f), dw = fz_u8(&f) % 4;
			v = fz_u32(&f);
			bar_wr(&t, 1, (uint64_t)(e % (t.p.msix.nvec + 1)) * 16 + dw * 4, 4, v);
			break;
		}
		case 11:
			if (fz_u8(&f) & 1)
				bar_rd(&t, 0, VIRTIO_PCI_L_ISR, 1);
			else
				bar_rd(&t, 4, VIRTIO_PCI_ISR_OFF, 1);
			break;
		case 12:
			fvq_collect(&t.q[fz_u8(&f) % d->num_queues]);
			break;
		case 13: {
			uint32_t cap = t.p.pci_cfg_cap, w;
			uint8_t bb = fz_u8(&f);
			uint16_t off = fz_u16(&f);
			uint8_t l = fz_u8(&f), rw = fz_u8(&f);
			w = bb;
			cfg(&t, 1, cap + VIRTIO_PCI_CAP_BAR, 1, true, &w);
			w = off;
			cfg(&t, 1, cap + VIRTIO_PCI_CAP_OFFSET, 4, true, &w);
			w = lens[l % 3];
			cfg(&t, 1, cap + VIRTIO_PCI_CAP_LENGTH, 4, true, &w);
			w = rw & 1 ? fz_u32(&f) : 0;
			cfg(&t, 1, cap + VIRTIO_PCI_CAP_PCI_CFG_DATA, 4, rw & 1, &w);
			break;
		}
		case 14:
			t.vcpu_be = !t.vcpu_be;
			break;
		case 15:
			msix_reset(&t.p.msix);
			break;
		}
		/* After a reset the driver starts over (its rings are gone);
		 * only then: an init whose status write found no decoding
		 * BAR reset nothing, and the driver keeps the rings it has. */
		if (t.x.resets != resets) {
			resets = t.x.resets;
			driver_rings(&t);
		}
		check(&t);
	}
	virtio_pci_destroy(&t.p);
	pci_host_destroy(&t.h);
	echo_destroy(&t.x);
	return 0;
}
