/* PCI host bridge: configuration mechanism #1, ECAM, and BAR routing. */
#include "pci/pci_host.h"

#include <errno.h>
#include <string.h>

#define CFG_ENABLE  0x80000000u
/* CONFIG_ADDRESS bits that hold state: enable, bus, device, function,
 * register (PCI 3.0 §3.2.2.3.2; bits 30:24 reserved, 1:0 read as 0). */
#define CFG_ADDR_MASK 0x80fffffcu

void pci_host_init(struct pci_host *h)
{
	memset(h, 0, sizeof(*h));
	pthread_rwlock_init(&h->lock, NULL);
	pci_dev_init(&h->bridge, PCI_HOST_BRIDGE_VENDOR, PCI_HOST_BRIDGE_DEVICE,
		     PCI_HOST_BRIDGE_CLASS, 0, 0, 0, (struct irq_line){ 0 });
	h->dev[0] = &h->bridge;
}

void pci_host_destroy(struct pci_host *h)
{
	pci_dev_destroy(&h->bridge);
	pthread_rwlock_destroy(&h->lock);
}

int pci_host_add(struct pci_host *h, struct pci_dev *p, int slot)
{
	int r = -ENOSPC;

	if (slot == 0 || slot >= PCI_HOST_MAX_DEVS || slot < -1)
		return -EINVAL;
	pthread_rwlock_wrlock(&h->lock);
	if (slot > 0) {
		r = h->dev[slot] ? -EBUSY : slot;
	} else {
		for (int s = 1; s < PCI_HOST_MAX_DEVS; s++)
			if (!h->dev[s]) {
				r = s;
				break;
			}
	}
	if (r > 0)
		h->dev[r] = p;
	pthread_rwlock_unlock(&h->lock);
	return r;
}

/* ---- config cycles ---- */

static void put_le(uint8_t *data, uint32_t len, uint32_t v)
{
	for (uint32_t i = 0; i < len; i++)
		data[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le(const uint8_t *data, uint32_t len)
{
	uint32_t v = 0;

	for (uint32_t i = 0; i < len && i < 4; i++)
		v |= (uint32_t)data[i] << (8 * i);
	return v;
}

/* The function at bus/dev/fn, or NULL; with h->lock held. */
static struct pci_dev *find(struct pci_host *h, uint32_t bus, uint32_t dev, uint32_t fn)
{
	if (bus != 0 || fn != 0 || dev >= PCI_HOST_MAX_DEVS)
		return NULL;
	return h->dev[dev];
}

static bool cfg_len_ok(uint32_t reg, uint32_t len)
{
	return (len == 1 || len == 2 || len == 4) && reg + len <= PCI_CFG_EXP_SIZE;
}

static void cfg_access(struct pci_host *h, uint32_t bus, uint32_t dev, uint32_t fn, uint32_t reg,
		       uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_dev *p;

	if (!is_write)
		memset(data, 0xff, len);
	if (!cfg_len_ok(reg, len))
		return;
	pthread_rwlock_wrlock(&h->lock);
	p = find(h, bus, dev, fn);
	if (p && is_write)
		pci_cfg_write(p, reg, len, get_le(data, len));
	else if (p)
		put_le(data, len, pci_cfg_read(p, reg, len));
	pthread_rwlock_unlock(&h->lock);
	/* Functions are never removed while the VM runs: p stays valid. */
	if (p && is_write && p->ops && p->ops->after_cfg_write)
		p->ops->after_cfg_write(p);
}

/* ---- 0xCF8 / 0xCFC ---- */

static void cf8_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	struct pci_host *h = opaque;

	if (off == 0 && len == 4) {
		pthread_rwlock_rdlock(&h->lock);
		put_le(data, 4, h->config_address);
		pthread_rwlock_unlock(&h->lock);
	} else if (h->cf8_passthrough && h->cf8_passthrough->read) {
		h->cf8_passthrough->read(h->cf8_passthrough_opaque, off, data, len);
	} else {
		memset(data, 0xff, len);
	}
}

static void cf8_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct pci_host *h = opaque;

	if (off == 0 && len == 4) {
		pthread_rwlock_wrlock(&h->lock);
		h->config_address = get_le(data, 4) & CFG_ADDR_MASK;
		pthread_rwlock_unlock(&h->lock);
	} else if (h->cf8_passthrough && h->cf8_passthrough->write) {
		h->cf8_passthrough->write(h->cf8_passthrough_opaque, off, data, len);
	}
}

const struct io_ops pci_host_cf8_ops = { .read = cf8_read, .write = cf8_write };

static void cfc_access(struct pci_host *h, uint64_t off, uint8_t *data, uint32_t len,
		       bool is_write)
{
	uint32_t a;

	pthread_rwlock_rdlock(&h->lock);
	a = h->config_address;
	pthread_rwlock_unlock(&h->lock);
	if (!(a & CFG_ENABLE) || off >= 4 || len > 4 - off) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	cfg_access(h, (a >> 16) & 0xff, (a >> 11) & 0x1f, (a >> 8) & 7,
		   (a & 0xfc) + (uint32_t)off, data, len, is_write);
}

static void cfc_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	cfc_access(opaque, off, data, len, false);
}

static void cfc_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	cfc_access(opaque, off, (uint8_t *)data, len, true);
}

const struct io_ops pci_host_cfc_ops = { .read = cfc_read, .write = cfc_write };

/* ---- ECAM ---- */

static void ecam_access(struct pci_host *h, uint64_t off, uint8_t *data, uint32_t len,
			bool is_write)
{
	uint32_t reg = (uint32_t)(off & 0xfff);

	/* An access spilling into the next function's space, or of a size
	 * config cycles do not have, is not a config cycle. */
	if (off >> 28 || !cfg_len_ok(reg, len)) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	cfg_access(h, (uint32_t)(off >> 20) & 0xff, (uint32_t)(off >> 15) & 0x1f,
		   (uint32_t)(off >> 12) & 7, reg, data, len, is_write);
}

static void ecam_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	ecam_access(opaque, off, data, len, false);
}

static void ecam_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	ecam_access(opaque, off, (uint8_t *)data, len, true);
}

const struct io_ops pci_host_ecam_ops = { .read = ecam_read, .write = ecam_write };

/* ---- BAR routing ---- */

int pci_host_bar_access(struct pci_host *h, bool io, uint64_t addr, uint8_t *data, uint32_t len,
			bool is_write)
{
	const struct io_ops *ops = NULL;
	void *opaque = NULL;
	uint64_t off = 0;

	pthread_rwlock_rdlock(&h->lock);
	for (int s = 0; s < PCI_HOST_MAX_DEVS && !ops; s++) {
		struct pci_dev *p = h->dev[s];

		for (int n = 0; p && n < PCI_NUM_BARS; n++) {
			const struct pci_bar *b = &p->bar[n];

			if (!b->decoding || (b->type == PCI_BAR_IO) != io || !b->ops ||
			    addr < b->decode_addr || addr - b->decode_addr >= b->size ||
			    len > b->size - (addr - b->decode_addr))
				continue;
			ops = b->ops;
			opaque = b->opaque;
			off = addr - b->decode_addr;
			break;
		}
	}
	pthread_rwlock_unlock(&h->lock);
	if (!ops) {
		if (!is_write)
			memset(data, 0xff, len);
		return -ENOENT;
	}
	/* Without the lock: the device serialises its own registers, and a
	 * BAR that moved meanwhile still belongs to a live device. */
	if (is_write)
		ops->write(opaque, off, data, len);
	else
		ops->read(opaque, off, data, len);
	return 0;
}

static void window_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	struct pci_host_window *w = opaque;

	pci_host_bar_access(w->host, w->io, w->base + off, data, len, false);
}

static void window_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct pci_host_window *w = opaque;

	pci_host_bar_access(w->host, w->io, w->base + off, (uint8_t *)data, len, true);
}

const struct io_ops pci_host_window_ops = { .read = window_read, .write = window_write };
