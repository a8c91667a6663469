/* One PCI function's type-0 configuration space (PCI Local Bus 3.0 §6.1,
 * §6.2): identification, command/status, six BARs with sizing, a capability
 * list, the interrupt pin/line, and the INTx line gated by the command
 * register's INTx-disable bit.
 *
 * Registers are kept as a little-endian byte image (cfg) with a write mask
 * (wmask): a bit the guest may change is 1 there, everything else is read-only
 * and keeps its value. Accessors take and return host integers; the byte order
 * of the bus is the host bridge's business (pci_host.c).
 *
 * Extended configuration space (0x100..0xFFF): our functions are conventional
 * PCI (no PCI Express capability), so unless `express` is set the extended
 * space reads all-ones and ignores writes — what QEMU does for a device whose
 * config size is 256 (pci_host_config_read_common: "limit <= addr → ~0"),
 * and what Linux's pci_cfg_space_size_ext() takes as "no extended space".
 * With `express` set the 4 KiB are served as they are: zero at 0x100 is the
 * PCIe "no extended capabilities" header (PCIe Base 4.0 §7.6.3).
 *
 * Concurrency: a pci_dev does not lock its config space; the host bridge
 * serialises config accesses (pci_host.h). The INTx state has its own lock
 * because devices raise interrupts from other threads. */
#ifndef KVMINI_DEVICES_PCI_H
#define KVMINI_DEVICES_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "io.h"

#define PCI_CFG_SIZE          256
#define PCI_CFG_EXP_SIZE      4096
#define PCI_NUM_BARS          6

/* Type-0 header (PCI 3.0 §6.1) */
#define PCI_VENDOR_ID         0x00
#define PCI_DEVICE_ID         0x02
#define PCI_COMMAND           0x04
#define PCI_STATUS            0x06
#define PCI_REVISION_ID       0x08
#define PCI_CLASS_PROG        0x09
#define PCI_CLASS_DEVICE      0x0a
#define PCI_HEADER_TYPE       0x0e
#define PCI_BAR0              0x10
#define PCI_SUBSYSTEM_VENDOR  0x2c
#define PCI_SUBSYSTEM_ID      0x2e
#define PCI_CAPABILITY_LIST   0x34
#define PCI_INTERRUPT_LINE    0x3c
#define PCI_INTERRUPT_PIN     0x3d

#define PCI_COMMAND_IO            0x0001
#define PCI_COMMAND_MEMORY        0x0002
#define PCI_COMMAND_MASTER        0x0004
#define PCI_COMMAND_INTX_DISABLE  0x0400

#define PCI_STATUS_INTERRUPT  0x0008
#define PCI_STATUS_CAP_LIST   0x0010

#define PCI_BAR_IO_FLAG       0x1
#define PCI_BAR_MEM64_FLAG    0x4
#define PCI_BAR_PREFETCH_FLAG 0x8

#define PCI_CAP_ID_VNDR       0x09
#define PCI_CAP_ID_MSIX       0x11

/* bar_update's old_addr when the BAR did not decode before. */
#define PCI_BAR_UNMAPPED      UINT64_MAX

enum pci_bar_type { PCI_BAR_NONE = 0, PCI_BAR_MEM32, PCI_BAR_MEM64, PCI_BAR_IO };

struct pci_dev;

struct pci_bar {
	enum pci_bar_type type;
	bool prefetch;
	uint64_t size;                /* power of two; I/O >= 4, memory >= 16 */
	/* The window's registers: offset relative to the BAR's start. */
	const struct io_ops *ops;
	void *opaque;
	/* Last state reported through bar_update. */
	bool decoding;
	uint64_t decode_addr;
};

/* Hooks of whoever owns the function (a transport). All optional; called with
 * the host bridge's config lock held. */
struct pci_dev_ops {
	/* Before a config read of [off, off+len): refresh computed bytes. */
	void (*cfg_read)(struct pci_dev *p, uint32_t off, uint32_t len);
	/* After a config write of [off, off+len) has been applied. */
	void (*cfg_write)(struct pci_dev *p, uint32_t off, uint32_t len);
	/* After a config write, once the host bridge's lock is dropped: work
	 * the write started that must not hold up every other config access
	 * (a queue kick through virtio's PCI_CFG window). */
	void (*after_cfg_write)(struct pci_dev *p);
	/* A BAR started or stopped decoding, or moved while decoding (guest
	 * programming of the BAR or of the command register). new_addr is the
	 * programmed address; old_addr the one decoded before, PCI_BAR_UNMAPPED
	 * if it did not decode. */
	void (*bar_update)(struct pci_dev *p, int bar, uint64_t old_addr, uint64_t new_addr,
			   bool enabled);
};

struct pci_dev {
	uint8_t cfg[PCI_CFG_EXP_SIZE];
	uint8_t wmask[PCI_CFG_EXP_SIZE];
	struct pci_bar bar[PCI_NUM_BARS];
	bool express;                 /* serve 0x100..0xFFF (see top) */
	uint8_t last_cap;             /* offset of the last capability, 0 if none */
	uint16_t cap_free;            /* next free offset in the capability area */

	const struct pci_dev_ops *ops;
	void *owner;                  /* the owner's state, for its ops */
	/* The host's own observer of BAR decoding (e.g. to map windows on its
	 * bus); called after ops->bar_update. Optional. */
	void (*host_bar_update)(void *host_opaque, struct pci_dev *p, int bar, uint64_t old_addr,
				uint64_t new_addr, bool enabled);
	void *host_opaque;

	pthread_mutex_t intx_lock;
	struct irq_line intx;
	bool intx_pending;            /* the function's request, before INTx disable */
	bool intx_disabled;           /* copy of Command.INTx disable */
	bool intx_level;              /* level last driven on intx */
};

/* Clears p and sets the identification registers; header type 0, INTx pin A
 * (pin 0 if intx.set is NULL). Interrupt line is writable scratch. */
void pci_dev_init(struct pci_dev *p, uint16_t vendor, uint16_t device, uint32_t class_code,
		  uint8_t revision, uint16_t subsys_vendor, uint16_t subsys_id,
		  struct irq_line intx);
void pci_dev_destroy(struct pci_dev *p);

/* Declares BAR n (64-bit memory takes n and n+1). size is rounded up to a
 * power of two (minimum 16 for memory, 4 for I/O). 0 or -EINVAL. */
int pci_set_bar(struct pci_dev *p, int n, enum pci_bar_type type, bool prefetch, uint64_t size,
		const struct io_ops *ops, void *opaque);
/* The address currently programmed in BAR n (type bits stripped). */
uint64_t pci_bar_addr(const struct pci_dev *p, int n);
/* Does BAR n decode now (command bit on, a sane address)? */
bool pci_bar_decoding(const struct pci_dev *p, int n);
/* Firmware's role: program BAR n with addr (as a guest write would, so
 * bar_update fires if the BAR decodes). */
void pci_program_bar(struct pci_dev *p, int n, uint64_t addr);

/* Appends a capability of len bytes (len >= 2) with ID id; returns its
 * offset (dword aligned, >= 0x40) or -ENOSPC. Bytes after the ID/next pair
 * are zero and read-only; the owner fills them with pci_cfg_set* and opens
 * writable bits in wmask. */
int pci_add_cap(struct pci_dev *p, uint8_t id, uint8_t len);

/* Config access by the bus (len 1, 2 or 4; off+len <= 4096, else the read
 * returns all-ones and the write is ignored). Writes honour wmask, then call
 * ops->cfg_write and report BAR decoding changes. */
uint32_t pci_cfg_read(struct pci_dev *p, uint32_t off, uint32_t len);
void pci_cfg_write(struct pci_dev *p, uint32_t off, uint32_t len, uint32_t value);

/* Raw little-endian accessors of the image (no masks, no hooks). */
uint8_t pci_cfg_get8(const struct pci_dev *p, uint32_t off);
uint16_t pci_cfg_get16(const struct pci_dev *p, uint32_t off);
uint32_t pci_cfg_get32(const struct pci_dev *p, uint32_t off);
void pci_cfg_set8(struct pci_dev *p, uint32_t off, uint8_t v);
void pci_cfg_set16(struct pci_dev *p, uint32_t off, uint16_t v);
void pci_cfg_set32(struct pci_dev *p, uint32_t off, uint32_t v);
/* Opens (or closes) the bits of mask at [off, off+len) for guest writes. */
void pci_set_wmask(struct pci_dev *p, uint32_t off, uint32_t len, uint32_t mask);

/* The function requests (1) or withdraws (0) its INTx interrupt. The line
 * follows the request unless the command register's INTx disable bit is set
 * (PCI 3.0 §6.2.2); Status.Interrupt shows the request either way. */
void pci_set_intx(struct pci_dev *p, int level);

/* Snapshots: the config image (the guest's BAR placement, command bits,
 * capability registers) and INTx. Loading reports every BAR's decoding
 * through bar_update, as a guest write would, and drives INTx as saved. */
struct state_w;
struct state_r;
void pci_dev_save_state(struct pci_dev *p, struct state_w *w);
int pci_dev_load_state(struct pci_dev *p, struct state_r *r);

#endif
