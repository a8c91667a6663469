/* A PCI function's type-0 configuration space: PCI Local Bus 3.0 §6. */
#include "pci/pci.h"

#include <errno.h>
#include <string.h>

#include "state.h"

#define CAP_AREA_START 0x40

/* ---- raw image ---- */

uint8_t pci_cfg_get8(const struct pci_dev *p, uint32_t off)
{
	return p->cfg[off];
}

uint16_t pci_cfg_get16(const struct pci_dev *p, uint32_t off)
{
	return (uint16_t)(p->cfg[off] | p->cfg[off + 1] << 8);
}

uint32_t pci_cfg_get32(const struct pci_dev *p, uint32_t off)
{
	return (uint32_t)pci_cfg_get16(p, off) | (uint32_t)pci_cfg_get16(p, off + 2) << 16;
}

void pci_cfg_set8(struct pci_dev *p, uint32_t off, uint8_t v)
{
	p->cfg[off] = v;
}

void pci_cfg_set16(struct pci_dev *p, uint32_t off, uint16_t v)
{
	p->cfg[off] = (uint8_t)v;
	p->cfg[off + 1] = (uint8_t)(v >> 8);
}

void pci_cfg_set32(struct pci_dev *p, uint32_t off, uint32_t v)
{
	pci_cfg_set16(p, off, (uint16_t)v);
	pci_cfg_set16(p, off + 2, (uint16_t)(v >> 16));
}

void pci_set_wmask(struct pci_dev *p, uint32_t off, uint32_t len, uint32_t mask)
{
	for (uint32_t i = 0; i < len && off + i < PCI_CFG_EXP_SIZE; i++)
		p->wmask[off + i] = (uint8_t)(mask >> (8 * i));
}

/* ---- set-up ---- */

void pci_dev_init(struct pci_dev *p, uint16_t vendor, uint16_t device, uint32_t class_code,
		  uint8_t revision, uint16_t subsys_vendor, uint16_t subsys_id,
		  struct irq_line intx)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->intx_lock, NULL);
	p->intx = intx;
	p->cap_free = CAP_AREA_START;
	pci_cfg_set16(p, PCI_VENDOR_ID, vendor);
	pci_cfg_set16(p, PCI_DEVICE_ID, device);
	pci_cfg_set8(p, PCI_REVISION_ID, revision);
	pci_cfg_set8(p, PCI_CLASS_PROG, (uint8_t)class_code);
	pci_cfg_set16(p, PCI_CLASS_DEVICE, (uint16_t)(class_code >> 8));
	pci_cfg_set16(p, PCI_SUBSYSTEM_VENDOR, subsys_vendor);
	pci_cfg_set16(p, PCI_SUBSYSTEM_ID, subsys_id);
	pci_cfg_set8(p, PCI_INTERRUPT_PIN, intx.set ? 1 : 0);   /* INTA# */
	/* The only bits of the header a driver may change: the command bits we
	 * implement, the interrupt line (scratch for the OS, §6.2.4) and the
	 * BARs (pci_set_bar opens those). */
	pci_set_wmask(p, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY |
		      PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	pci_set_wmask(p, PCI_INTERRUPT_LINE, 1, 0xff);
}

void pci_dev_destroy(struct pci_dev *p)
{
	pthread_mutex_destroy(&p->intx_lock);
}

static uint64_t pow2_roundup(uint64_t v)
{
	uint64_t r = 1;

	while (r < v && r)
		r <<= 1;
	return r;
}

int pci_set_bar(struct pci_dev *p, int n, enum pci_bar_type type, bool prefetch, uint64_t size,
		const struct io_ops *ops, void *opaque)
{
	uint32_t off, flags;
	uint64_t mask;

	if (n < 0 || n >= PCI_NUM_BARS || type == PCI_BAR_NONE ||
	    (type == PCI_BAR_MEM64 && n == PCI_NUM_BARS - 1) || size == 0)
		return -EINVAL;
	size = pow2_roundup(size < (type == PCI_BAR_IO ? 4 : 16) ? (type == PCI_BAR_IO ? 4 : 16) : size);
	if (!size || (type != PCI_BAR_MEM64 && size > 0x80000000ull))
		return -EINVAL;
	p->bar[n] = (struct pci_bar){ .type = type, .prefetch = prefetch && type != PCI_BAR_IO,
				      .size = size, .ops = ops, .opaque = opaque };
	off = PCI_BAR0 + 4 * (uint32_t)n;
	mask = ~(size - 1);
	if (type == PCI_BAR_IO) {
		flags = PCI_BAR_IO_FLAG;
		pci_set_wmask(p, off, 4, (uint32_t)mask & ~3u);
	} else {
		flags = (type == PCI_BAR_MEM64 ? PCI_BAR_MEM64_FLAG : 0) |
			(p->bar[n].prefetch ? PCI_BAR_PREFETCH_FLAG : 0);
		pci_set_wmask(p, off, 4, (uint32_t)mask & ~0xfu);
		if (type == PCI_BAR_MEM64) {
			pci_set_wmask(p, off + 4, 4, (uint32_t)(mask >> 32));
			pci_cfg_set32(p, off + 4, 0);
		}
	}
	/* The type bits are read-only: sizing reads back ~(size-1) | flags. */
	pci_cfg_set32(p, off, flags);
	return 0;
}

uint64_t pci_bar_addr(const struct pci_dev *p, int n)
{
	uint32_t off = PCI_BAR0 + 4 * (uint32_t)n;
	uint64_t lo;

	if (n < 0 || n >= PCI_NUM_BARS)
		return 0;
	lo = pci_cfg_get32(p, off);
	switch (p->bar[n].type) {
	case PCI_BAR_IO:
		return lo & ~3ull;
	case PCI_BAR_MEM32:
		return lo & ~0xfull;
	case PCI_BAR_MEM64:
		return (lo & ~0xfull) | (uint64_t)pci_cfg_get32(p, off + 4) << 32;
	default:
		return 0;
	}
}

/* A BAR decodes when its space is enabled in the command register and it
 * holds a usable address. Like QEMU (pci_bar_address) we treat address 0 and
 * windows reaching the top of their space (the all-ones sizing pattern) as
 * not decoding. */
bool pci_bar_decoding(const struct pci_dev *p, int n)
{
	const struct pci_bar *b;
	uint16_t cmd = pci_cfg_get16(p, PCI_COMMAND);
	uint64_t addr, end;

	if (n < 0 || n >= PCI_NUM_BARS)
		return false;
	b = &p->bar[n];
	if (b->type == PCI_BAR_NONE)
		return false;
	if (!(cmd & (b->type == PCI_BAR_IO ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY)))
		return false;
	addr = pci_bar_addr(p, n);
	end = addr + b->size - 1;
	if (addr == 0 || end < addr)
		return false;
	if (b->type != PCI_BAR_MEM64 && end >= UINT32_MAX)
		return false;
	return end != UINT64_MAX;
}

static void report_bars(struct pci_dev *p)
{
	for (int n = 0; n < PCI_NUM_BARS; n++) {
		struct pci_bar *b = &p->bar[n];
		bool dec = pci_bar_decoding(p, n);
		uint64_t addr = pci_bar_addr(p, n), old;

		if (b->type == PCI_BAR_NONE || (dec == b->decoding && (!dec || addr == b->decode_addr)))
			continue;
		old = b->decoding ? b->decode_addr : PCI_BAR_UNMAPPED;
		b->decoding = dec;
		b->decode_addr = addr;
		if (p->ops && p->ops->bar_update)
			p->ops->bar_update(p, n, old, addr, dec);
		if (p->host_bar_update)
			p->host_bar_update(p->host_opaque, p, n, old, addr, dec);
	}
}

void pci_program_bar(struct pci_dev *p, int n, uint64_t addr)
{
	uint32_t off = PCI_BAR0 + 4 * (uint32_t)n;

	if (n < 0 || n >= PCI_NUM_BARS || p->bar[n].type == PCI_BAR_NONE)
		return;
	pci_cfg_write(p, off, 4, (uint32_t)addr);
	if (p->bar[n].type == PCI_BAR_MEM64)
		pci_cfg_write(p, off + 4, 4, (uint32_t)(addr >> 32));
}

int pci_add_cap(struct pci_dev *p, uint8_t id, uint8_t len)
{
	uint32_t off = p->cap_free;

	if (len < 2 || off + len > PCI_CFG_SIZE)
		return -ENOSPC;
	p->cfg[off] = id;
	p->cfg[off + 1] = 0;
	if (p->last_cap)
		p->cfg[p->last_cap + 1] = (uint8_t)off;
	else
		p->cfg[PCI_CAPABILITY_LIST] = (uint8_t)off;
	pci_cfg_set16(p, PCI_STATUS, pci_cfg_get16(p, PCI_STATUS) | PCI_STATUS_CAP_LIST);
	p->last_cap = (uint8_t)off;
	/* Capabilities are dword aligned (PCI 3.0 §6.7: the bottom two bits of
	 * a pointer are reserved). */
	p->cap_free = (uint16_t)((off + len + 3) & ~3u);
	return (int)off;
}

/* ---- INTx ---- */

/* With intx_lock held: drive the line from the request and INTx disable. */
static void intx_update(struct pci_dev *p)
{
	bool level = p->intx_pending && !p->intx_disabled;

	if (level == p->intx_level)
		return;
	p->intx_level = level;
	irq_line_set(&p->intx, level);
}

void pci_set_intx(struct pci_dev *p, int level)
{
	pthread_mutex_lock(&p->intx_lock);
	__atomic_store_n(&p->intx_pending, level != 0, __ATOMIC_RELAXED);
	intx_update(p);
	pthread_mutex_unlock(&p->intx_lock);
}

/* ---- bus access ---- */

static bool access_ok(const struct pci_dev *p, uint32_t off, uint32_t len)
{
	return (len == 1 || len == 2 || len == 4) && off < PCI_CFG_EXP_SIZE &&
	       len <= PCI_CFG_EXP_SIZE - off;
}

static uint32_t size_of(const struct pci_dev *p)
{
	return p->express ? PCI_CFG_EXP_SIZE : PCI_CFG_SIZE;
}

uint32_t pci_cfg_read(struct pci_dev *p, uint32_t off, uint32_t len)
{
	uint32_t v = 0;

	if (!access_ok(p, off, len))
		return len >= 4 ? UINT32_MAX : (1u << (8 * len)) - 1;
	if (off < size_of(p) && p->ops && p->ops->cfg_read)
		p->ops->cfg_read(p, off, len);
	for (uint32_t i = 0; i < len; i++) {
		uint32_t o = off + i;
		uint8_t b = o < size_of(p) ? p->cfg[o] : 0xff;

		/* Status.Interrupt mirrors the function's INTx request. */
		if (o == PCI_STATUS && __atomic_load_n(&p->intx_pending, __ATOMIC_RELAXED))
			b |= PCI_STATUS_INTERRUPT;
		v |= (uint32_t)b << (8 * i);
	}
	return v;
}

void pci_cfg_write(struct pci_dev *p, uint32_t off, uint32_t len, uint32_t value)
{
	uint16_t old_cmd = pci_cfg_get16(p, PCI_COMMAND);

	if (!access_ok(p, off, len) || off >= size_of(p))
		return;
	if (len > size_of(p) - off)
		len = size_of(p) - off;
	for (uint32_t i = 0; i < len; i++) {
		uint32_t o = off + i;
		uint8_t m = p->wmask[o], b = (uint8_t)(value >> (8 * i));

		p->cfg[o] = (uint8_t)((p->cfg[o] & ~m) | (b & m));
	}
	if (p->ops && p->ops->cfg_write)
		p->ops->cfg_write(p, off, len);
	if ((old_cmd ^ pci_cfg_get16(p, PCI_COMMAND)) & PCI_COMMAND_INTX_DISABLE) {
		pthread_mutex_lock(&p->intx_lock);
		p->intx_disabled = pci_cfg_get16(p, PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE;
		intx_update(p);
		pthread_mutex_unlock(&p->intx_lock);
	}
	report_bars(p);
}

/* ---- snapshots ---- */

#define PCIC_VERSION 1

void pci_dev_save_state(struct pci_dev *p, struct state_w *w)
{
	size_t at = sw_begin(w, STATE_TAG('P', 'C', 'I', 'C'), PCIC_VERSION);
	uint32_t n = size_of(p);

	sw_u32(w, n);
	sw_bytes(w, p->cfg, n);
	pthread_mutex_lock(&p->intx_lock);
	sw_bool(w, p->intx_pending);
	sw_bool(w, p->intx_disabled);
	pthread_mutex_unlock(&p->intx_lock);
	sw_end(w, at);
}

/* The saved image must agree with this function in every bit the guest
 * cannot write (ids, BAR types, the capability chain): else it is another
 * device. Then the guest's bits come back, BARs report where they decode,
 * and INTx is driven as saved. */
int pci_dev_load_state(struct pci_dev *p, struct state_r *r)
{
	static uint8_t cfg[PCI_CFG_EXP_SIZE];   /* restore runs on one thread */
	struct state_r s;
	uint32_t n;

	if (sr_section(r, STATE_TAG('P', 'C', 'I', 'C'), PCIC_VERSION, NULL, &s, "PCI function"))
		return -EINVAL;
	n = sr_u32(&s);
	if (sr_ok(&s) && n != size_of(p))
		return sr_fail(&s, "PCI function: %u bytes of config space saved, it has %u", n,
			       size_of(p));
	sr_bytes(&s, cfg, n);
	bool pending = sr_bool(&s), disabled = sr_bool(&s);
	if (sr_end(&s, "PCI function"))
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++)
		if ((cfg[i] ^ p->cfg[i]) & ~p->wmask[i])
			return sr_fail(&s, "PCI function %04x:%04x: read-only config byte 0x%x is "
				       "0x%02x in the snapshot, 0x%02x here", pci_cfg_get16(p, 0),
				       pci_cfg_get16(p, 2), i, cfg[i], p->cfg[i]);
	memcpy(p->cfg, cfg, n);
	pthread_mutex_lock(&p->intx_lock);
	p->intx_disabled = disabled;
	p->intx_pending = pending;
	p->intx_level = false;        /* the new VM's line starts low */
	intx_update(p);
	pthread_mutex_unlock(&p->intx_lock);
	report_bars(p);
	return 0;
}
