/* MSI-X (PCI Local Bus 3.0 §6.8.2): the capability in config space, the
 * vector table and the pending bit array (PBA) in one memory BAR.
 *
 * The host learns about vectors through msix_host_ops: vector_changed when an
 * entry's address, data or effective mask changes (it keeps KVM's GSI routing
 * in step: an MSI route and an irqfd per vector), fire when the function
 * signals an unmasked vector (write the vector's irqfd, or KVM_SIGNAL_MSI).
 *
 * Masking: a vector is masked when MSI-X is disabled, when the function mask
 * is set, or when its own Mask bit is set. A masked vector's message is not
 * sent; its pending bit is set instead, and the message goes out (and the bit
 * clears) when it becomes unmasked (§6.8.2.9). With MSI-X disabled the
 * function does not use MSI-X at all (msix_notify returns -ENODEV; the owner
 * falls back to INTx) and no pending bit is set.
 *
 * Concurrency: msix has its own lock, a leaf: host callbacks run with it held
 * and must not call back into msix. */
#ifndef KVMINI_DEVICES_PCI_MSIX_H
#define KVMINI_DEVICES_PCI_MSIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "io.h"
#include "pci/pci.h"

#define MSIX_MAX_VECTORS   64
#define MSIX_ENTRY_SIZE    16
#define MSIX_CAP_LEN       12

/* Capability registers (offsets from the capability) */
#define MSIX_CAP_FLAGS     2          /* Message Control */
#define MSIX_CAP_TABLE     4          /* Table Offset / BIR */
#define MSIX_CAP_PBA       8          /* PBA Offset / BIR */
#define MSIX_FLAGS_QSIZE   0x07ff
#define MSIX_FLAGS_MASKALL 0x4000
#define MSIX_FLAGS_ENABLE  0x8000

/* Table entry dwords (§6.8.2.6..9) */
#define MSIX_ENTRY_ADDR_LO 0
#define MSIX_ENTRY_ADDR_HI 1
#define MSIX_ENTRY_DATA    2
#define MSIX_ENTRY_CTRL    3
#define MSIX_CTRL_MASKBIT  1u

struct msix_host_ops {
	void (*fire)(void *opaque, uint16_t vector, uint64_t addr, uint32_t data);
	void (*vector_changed)(void *opaque, uint16_t vector, uint64_t addr, uint32_t data,
			       bool masked);
	void *opaque;
};

struct msix {
	pthread_mutex_t lock;
	struct pci_dev *pci;
	uint8_t cap;                  /* capability offset in config space */
	uint16_t nvec;
	uint8_t bar;
	uint32_t table_off, pba_off;  /* inside the BAR */
	uint32_t table[MSIX_MAX_VECTORS][4];
	uint64_t pba[MSIX_MAX_VECTORS / 64];
	bool enabled, fmask;          /* Message Control, cached under lock */
	struct msix_host_ops host;
};

/* Adds the capability to pci and resets the table (every vector masked).
 * The table (nvec * 16 bytes at table_off, 8-byte aligned) and the PBA (at
 * pba_off, 8-byte aligned) live in BAR bar, which the owner declares with
 * msix_bar_ops (or dispatches to it). ops may be NULL. 0 or -EINVAL/-ENOSPC. */
int msix_init(struct msix *m, struct pci_dev *pci, uint16_t nvec, uint8_t bar,
	      uint32_t table_off, uint32_t pba_off, const struct msix_host_ops *ops);
void msix_destroy(struct msix *m);
/* Function reset: MSI-X disabled, every vector masked, no pending bits. */
void msix_reset(struct msix *m);

/* The owner's pci_dev_ops.cfg_write calls this for every config write (it
 * ignores writes that miss Message Control). */
void msix_cfg_write(struct msix *m, uint32_t off, uint32_t len);

bool msix_enabled(struct msix *m);
/* Signal vector: 0 sent, 1 left pending (masked), -ENODEV MSI-X disabled,
 * -EINVAL no such vector. */
int msix_notify(struct msix *m, uint16_t vector);
/* Is vector's pending bit set? (tests, debugging) */
bool msix_is_pending(struct msix *m, uint16_t vector);

/* The table and PBA, at offsets relative to the BAR's start; accesses are
 * aligned dwords or qwords (§6.8.2: anything else is undefined; we ignore
 * writes and read zeros). The PBA is read-only. dev = struct msix *. */
extern const struct io_ops msix_bar_ops;

/* Snapshots: the vector table and pending bits (enable and function mask
 * are config space: load it first, pci_dev_load_state). */
struct state_w;
struct state_r;
void msix_save_state(struct msix *m, struct state_w *w);
int msix_load_state(struct msix *m, struct state_r *r);

#endif
