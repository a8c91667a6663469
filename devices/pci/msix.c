/* MSI-X capability, table and PBA: PCI Local Bus 3.0 §6.8.2. */
#include "pci/msix.h"

#include <errno.h>
#include <string.h>

#include "state.h"

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- state, with m->lock held ---- */

static bool entry_masked(const struct msix *m, uint16_t v)
{
	return !m->enabled || m->fmask || (m->table[v][MSIX_ENTRY_CTRL] & MSIX_CTRL_MASKBIT);
}

static uint64_t entry_addr(const struct msix *m, uint16_t v)
{
	return (uint64_t)m->table[v][MSIX_ENTRY_ADDR_HI] << 32 | m->table[v][MSIX_ENTRY_ADDR_LO];
}

static bool pending(const struct msix *m, uint16_t v)
{
	return (m->pba[v / 64] >> (v % 64)) & 1;
}

static void set_pending(struct msix *m, uint16_t v, bool on)
{
	if (on)
		m->pba[v / 64] |= 1ull << (v % 64);
	else
		m->pba[v / 64] &= ~(1ull << (v % 64));
}

static void fire(struct msix *m, uint16_t v)
{
	if (m->host.fire)
		m->host.fire(m->host.opaque, v, entry_addr(m, v), m->table[v][MSIX_ENTRY_DATA]);
}

/* Vector v changed from (old_masked, old message) to its current state: tell
 * the host, and send a message left pending while it was masked. */
static void entry_changed(struct msix *m, uint16_t v, bool was_masked, bool msg_changed)
{
	bool masked = entry_masked(m, v);

	if ((msg_changed || masked != was_masked) && m->host.vector_changed)
		m->host.vector_changed(m->host.opaque, v, entry_addr(m, v),
				       m->table[v][MSIX_ENTRY_DATA], masked);
	if (was_masked && !masked && pending(m, v)) {
		set_pending(m, v, false);
		fire(m, v);
	}
}

/* ---- set-up ---- */

static void reset_locked(struct msix *m)
{
	memset(m->table, 0, sizeof(m->table));
	memset(m->pba, 0, sizeof(m->pba));
	for (uint16_t v = 0; v < m->nvec; v++)
		m->table[v][MSIX_ENTRY_CTRL] = MSIX_CTRL_MASKBIT;   /* §6.8.2.9 reset */
	m->enabled = m->fmask = false;
	pci_cfg_set16(m->pci, m->cap + MSIX_CAP_FLAGS, (uint16_t)(m->nvec - 1));
}

int msix_init(struct msix *m, struct pci_dev *pci, uint16_t nvec, uint8_t bar,
	      uint32_t table_off, uint32_t pba_off, const struct msix_host_ops *ops)
{
	int cap;

	memset(m, 0, sizeof(*m));
	if (nvec == 0 || nvec > MSIX_MAX_VECTORS || bar >= PCI_NUM_BARS ||
	    (table_off & 7) || (pba_off & 7))
		return -EINVAL;
	cap = pci_add_cap(pci, PCI_CAP_ID_MSIX, MSIX_CAP_LEN);
	if (cap < 0)
		return cap;
	pthread_mutex_init(&m->lock, NULL);
	m->pci = pci;
	m->cap = (uint8_t)cap;
	m->nvec = nvec;
	m->bar = bar;
	m->table_off = table_off;
	m->pba_off = pba_off;
	if (ops)
		m->host = *ops;
	pci_cfg_set32(pci, (uint32_t)cap + MSIX_CAP_TABLE, table_off | bar);
	pci_cfg_set32(pci, (uint32_t)cap + MSIX_CAP_PBA, pba_off | bar);
	/* Only Enable and Function Mask are writable in Message Control. */
	pci_set_wmask(pci, (uint32_t)cap + MSIX_CAP_FLAGS, 2, MSIX_FLAGS_ENABLE | MSIX_FLAGS_MASKALL);
	reset_locked(m);
	return 0;
}

void msix_destroy(struct msix *m)
{
	if (m->pci)
		pthread_mutex_destroy(&m->lock);
}

void msix_reset(struct msix *m)
{
	pthread_mutex_lock(&m->lock);
	reset_locked(m);
	pthread_mutex_unlock(&m->lock);
}

void msix_cfg_write(struct msix *m, uint32_t off, uint32_t len)
{
	uint32_t ctl = m->cap + MSIX_CAP_FLAGS;
	bool was[MSIX_MAX_VECTORS];
	uint16_t flags;

	if (!m->pci || off + len <= ctl || off >= ctl + 2)
		return;
	flags = pci_cfg_get16(m->pci, ctl);
	pthread_mutex_lock(&m->lock);
	for (uint16_t v = 0; v < m->nvec; v++)
		was[v] = entry_masked(m, v);
	m->enabled = flags & MSIX_FLAGS_ENABLE;
	m->fmask = flags & MSIX_FLAGS_MASKALL;
	for (uint16_t v = 0; v < m->nvec; v++)
		entry_changed(m, v, was[v], false);
	pthread_mutex_unlock(&m->lock);
}

bool msix_enabled(struct msix *m)
{
	bool en;

	pthread_mutex_lock(&m->lock);
	en = m->enabled;
	pthread_mutex_unlock(&m->lock);
	return en;
}

int msix_notify(struct msix *m, uint16_t vector)
{
	int r;

	if (vector >= m->nvec)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	if (!m->enabled) {
		r = -ENODEV;
	} else if (entry_masked(m, vector)) {
		set_pending(m, vector, true);
		r = 1;
	} else {
		fire(m, vector);
		r = 0;
	}
	pthread_mutex_unlock(&m->lock);
	return r;
}

bool msix_is_pending(struct msix *m, uint16_t vector)
{
	bool p;

	if (vector >= m->nvec)
		return false;
	pthread_mutex_lock(&m->lock);
	p = pending(m, vector);
	pthread_mutex_unlock(&m->lock);
	return p;
}

/* ---- table and PBA ---- */

static uint32_t table_bytes(const struct msix *m)
{
	return (uint32_t)m->nvec * MSIX_ENTRY_SIZE;
}

static uint32_t pba_bytes(const struct msix *m)
{
	return ((uint32_t)m->nvec + 63) / 64 * 8;
}

static bool in(uint64_t off, uint32_t len, uint32_t base, uint32_t size)
{
	return off >= base && off - base < size && len <= size - (off - base);
}

/* One dword of the table or PBA, with m->lock held. */
static uint32_t read_dword(struct msix *m, uint64_t off)
{
	if (in(off, 4, m->table_off, table_bytes(m))) {
		uint32_t i = (uint32_t)(off - m->table_off) / 4;
		return m->table[i / 4][i % 4];
	}
	if (in(off, 4, m->pba_off, pba_bytes(m))) {
		uint32_t i = (uint32_t)(off - m->pba_off) / 4;
		return (uint32_t)(m->pba[i / 2] >> (32 * (i % 2)));
	}
	return 0;
}

static bool access_ok(uint64_t off, uint32_t len)
{
	return (len == 4 || len == 8) && !(off & (len - 1));
}

static void msix_bar_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	struct msix *m = opaque;

	memset(data, 0, len);
	if (!access_ok(off, len))
		return;
	pthread_mutex_lock(&m->lock);
	for (uint32_t i = 0; i < len; i += 4)
		put_le32(data + i, read_dword(m, off + i));
	pthread_mutex_unlock(&m->lock);
}

static void msix_bar_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct msix *m = opaque;
	uint16_t v;
	bool was;
	uint64_t old_addr;
	uint32_t old_data;

	/* A qword write touches one entry (it is aligned); the PBA and holes
	 * are read-only. */
	if (!access_ok(off, len) || !in(off, len, m->table_off, table_bytes(m)))
		return;
	v = (uint16_t)((off - m->table_off) / MSIX_ENTRY_SIZE);
	pthread_mutex_lock(&m->lock);
	was = entry_masked(m, v);
	old_addr = entry_addr(m, v);
	old_data = m->table[v][MSIX_ENTRY_DATA];
	for (uint32_t i = 0; i < len; i += 4) {
		uint32_t dw = (uint32_t)((off + i - m->table_off) % MSIX_ENTRY_SIZE) / 4;
		uint32_t val = get_le32(data + i);

		if (dw == MSIX_ENTRY_ADDR_LO)
			val &= ~3u;              /* dword-aligned address (§6.8.2.6) */
		else if (dw == MSIX_ENTRY_CTRL)
			val &= MSIX_CTRL_MASKBIT; /* other bits reserved */
		m->table[v][dw] = val;
	}
	entry_changed(m, v, was, entry_addr(m, v) != old_addr ||
		      m->table[v][MSIX_ENTRY_DATA] != old_data);
	pthread_mutex_unlock(&m->lock);
}

const struct io_ops msix_bar_ops = {
	.read = msix_bar_read,
	.write = msix_bar_write,
};

/* ---- snapshots ---- */

#define MSIX_STATE_VERSION 1

void msix_save_state(struct msix *m, struct state_w *w)
{
	size_t at = sw_begin(w, STATE_TAG('M', 'S', 'I', 'X'), MSIX_STATE_VERSION);

	pthread_mutex_lock(&m->lock);
	sw_u16(w, m->nvec);
	for (uint16_t v = 0; v < m->nvec; v++)
		for (int i = 0; i < 4; i++)
			sw_u32(w, m->table[v][i]);
	for (size_t i = 0; i < sizeof(m->pba) / sizeof(m->pba[0]); i++)
		sw_u64(w, m->pba[i]);
	pthread_mutex_unlock(&m->lock);
	sw_end(w, at);
}

/* After the function's config space (Message Control) is loaded. The host
 * hears of every vector with a message or unmasked, so its routes exist
 * again before the guest runs. */
int msix_load_state(struct msix *m, struct state_r *r)
{
	struct state_r s;

	if (sr_section(r, STATE_TAG('M', 'S', 'I', 'X'), MSIX_STATE_VERSION, NULL, &s, "MSI-X"))
		return -EINVAL;
	uint16_t nvec = sr_u16(&s);
	if (sr_ok(&s) && nvec != m->nvec)
		return sr_fail(&s, "MSI-X: %u vectors saved, the function has %u", nvec, m->nvec);
	pthread_mutex_lock(&m->lock);
	for (uint16_t v = 0; v < m->nvec; v++)
		for (int i = 0; i < 4; i++)
			m->table[v][i] = sr_u32(&s);
	for (size_t i = 0; i < sizeof(m->pba) / sizeof(m->pba[0]); i++)
		m->pba[i] = sr_u64(&s);
	if (sr_end(&s, "MSI-X")) {
		reset_locked(m);
		pthread_mutex_unlock(&m->lock);
		return -EINVAL;
	}
	uint16_t flags = pci_cfg_get16(m->pci, m->cap + MSIX_CAP_FLAGS);
	m->enabled = flags & MSIX_FLAGS_ENABLE;
	m->fmask = flags & MSIX_FLAGS_MASKALL;
	for (uint16_t v = 0; v < m->nvec; v++) {
		bool masked = entry_masked(m, v);
		if ((entry_addr(m, v) || m->table[v][MSIX_ENTRY_DATA] || !masked) &&
		    m->host.vector_changed)
			m->host.vector_changed(m->host.opaque, v, entry_addr(m, v),
					       m->table[v][MSIX_ENTRY_DATA], masked);
	}
	pthread_mutex_unlock(&m->lock);
	return 0;
}
