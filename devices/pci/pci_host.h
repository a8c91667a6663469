/* The PCI host bridge: bus 0 with up to 32 single-function devices, the
 * configuration mechanisms that reach them, and the routing of guest accesses
 * to whichever BAR decodes an address.
 *
 * Device 0 is the host bridge itself: 8086:29c0, class 0x060000 — the ids
 * QEMU's q35 presents for its MCH, so every Linux guest has met them (Linux
 * has no quirk for it beyond harmless AGP probing that finds no graphics
 * device). They are #defines: change them here if that ever bites.
 *
 * Configuration access (PCI 3.0 §3.2.2.3.2, "configuration mechanism #1"):
 * - CONFIG_ADDRESS at port 0xCF8, dword accesses only (bit 31 enable, bus
 *   23:16, device 15:11, function 10:8, register 7:2). Byte and word accesses
 *   to 0xCF8..0xCFB are not config cycles: they go to an optional
 *   passthrough (x86 has the PIIX reset control register at 0xCF9).
 * - CONFIG_DATA at 0xCFC..0xCFF, 1/2/4 bytes at register + (port & 3).
 * - ECAM (PCIe Base §7.2.2): offset = bus << 20 | dev << 15 | fn << 12 | reg;
 *   accesses of 1, 2 or 4 bytes that stay inside one function's 4 KiB.
 * Absent devices, functions other than 0, buses other than 0 and accesses
 * with the enable bit clear read all-ones and ignore writes.
 *
 * Byte order: the bus carries little-endian bytes (io.h); config registers
 * are little-endian (PCI 3.0 §6.1).
 *
 * Locking: config accesses take the host's lock for writing (the address
 * latch and every pci_dev's config space are serialised here); BAR routing
 * takes it for reading only to find the window, then calls the window's
 * io_ops without it. Lock order: host lock, then a device's own locks. */
#ifndef KVMINI_DEVICES_PCI_HOST_H
#define KVMINI_DEVICES_PCI_HOST_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "io.h"
#include "pci/pci.h"

#define PCI_HOST_MAX_DEVS       32
#define PCI_HOST_BRIDGE_VENDOR  0x8086
#define PCI_HOST_BRIDGE_DEVICE  0x29c0
#define PCI_HOST_BRIDGE_CLASS   0x060000

#define PCI_CONFIG_ADDRESS_PORT 0xcf8
#define PCI_CONFIG_DATA_PORT    0xcfc
#define PCI_ECAM_BUS_SIZE       (1u << 20)   /* ECAM window for bus 0 */

struct pci_host {
	pthread_rwlock_t lock;
	struct pci_dev bridge;                    /* device 0 */
	struct pci_dev *dev[PCI_HOST_MAX_DEVS];
	uint32_t config_address;                  /* 0xCF8 latch */
	/* Non-dword accesses at 0xCF8..0xCFB (offset 0..3 from 0xCF8). */
	const struct io_ops *cf8_passthrough;
	void *cf8_passthrough_opaque;
};

/* A window of guest address space (memory or I/O) whose accesses go to the
 * BAR decoding them: base is the window's guest address, so the io_ops
 * offset + base is the address compared with the BARs. */
struct pci_host_window {
	struct pci_host *host;
	uint64_t base;
	bool io;
};

void pci_host_init(struct pci_host *h);
void pci_host_destroy(struct pci_host *h);
/* Plugs p into slot (1..31, or -1 for the first free one). Returns the slot
 * or -EBUSY/-ENOSPC/-EINVAL. Call before the guest runs. */
int pci_host_add(struct pci_host *h, struct pci_dev *p, int slot);

/* 4 bytes at port 0xCF8 (dev = struct pci_host *). */
extern const struct io_ops pci_host_cf8_ops;
/* 4 bytes at port 0xCFC. */
extern const struct io_ops pci_host_cfc_ops;
/* ECAM window (PCI_ECAM_BUS_SIZE or more; bus 0 only has devices). */
extern const struct io_ops pci_host_ecam_ops;
/* A window of memory or port space routed to BARs (dev = struct
 * pci_host_window *). Misses read all-ones and ignore writes. */
extern const struct io_ops pci_host_window_ops;

/* The same routing for a host with its own dispatch: 0, or -ENOENT if no BAR
 * decodes [addr, addr+len) (a read then returns all-ones). */
int pci_host_bar_access(struct pci_host *h, bool io, uint64_t addr, uint8_t *data, uint32_t len,
			bool is_write);

#endif
