/* What vmm/ asks of an architecture. vmm owns the process, the KVM fds, guest
 * RAM and the bus; arch owns registers, interrupt controllers, firmware tables
 * and boot entry. arch reaches back only through the callbacks given here. */
#ifndef KVMINI_ARCH_ARCH_H
#define KVMINI_ARCH_ARCH_H

#include <stdint.h>
#include <stdio.h>

#include "guest_mem.h"
#include "io.h"

enum sys_event { SYS_EVENT_POWEROFF, SYS_EVENT_RESET, SYS_EVENT_PANIC };

/* A memory-mapped device the firmware tables must announce (ACPI DSDT on
 * x86, device tree on arm64). */
struct arch_mmio_dev {
	const char *hid;            /* ACPI _HID, e.g. "LNRO0005" for virtio-mmio */
	uint64_t base;
	uint32_t size;
	uint32_t irq;               /* GSI / SPI */
};

#define ARCH_MAX_MMIO_DEVS 16

struct arch_host {
	int kvm_fd, vm_fd;
	struct guest_mem *mem;
	int ncpus;
	uint64_t mem_size;
	/* Register a device window on the port-I/O or memory bus. 0 or -errno. */
	int (*map_pio)(void *opaque, uint64_t base, uint64_t len, const struct io_ops *ops, void *dev);
	int (*map_mmio)(void *opaque, uint64_t base, uint64_t len, const struct io_ops *ops, void *dev);
	/* The guest asked to power off, reset, or reported a panic. */
	void (*sys_event)(void *opaque, enum sys_event ev);
	void *opaque;
	void *priv;   /* the architecture's own VM state */
	struct arch_mmio_dev mmio_devs[ARCH_MAX_MMIO_DEVS];
	int nr_mmio_devs;
};

struct arch_boot {
	const uint8_t *kernel;
	size_t kernel_size;
	const uint8_t *initrd;
	size_t initrd_size;
	const char *cmdline;
};

struct arch_ram_region {
	uint64_t gpa, size;
};

/* RAM layout for mem_size bytes; returns the number of regions (<= max). */
int arch_ram_regions(uint64_t mem_size, struct arch_ram_region *r, int max);

/* Creates the VM-wide state: interrupt controllers, timers, platform devices. */
int arch_vm_init(struct arch_host *h, char *err, size_t errlen);

/* Loads the kernel and writes firmware tables. Errors name the bad option. */
int arch_load(struct arch_host *h, const struct arch_boot *b, char *err, size_t errlen);

/* What arch_load will decide about the kernel, the initrd and the command
 * line, checked for mem_size bytes of RAM without a VM: called before
 * /dev/kvm is opened, so a kernel kvmini cannot boot, a kernel and initrd
 * that do not fit, or an over-long command line is named first. Errors name
 * the bad option, as arch_load's do. */
int arch_boot_check(uint64_t mem_size, const struct arch_boot *b, char *err, size_t errlen);

/* A KVM capability this architecture's code relies on: KVM_CHECK_EXTENSION
 * must answer it (> 0) before a VM is built. */
struct arch_kvm_cap {
	int cap;                    /* KVM_CAP_* */
	const char *name;           /* "KVM_CAP_PIT2", for the message */
	const char *use;            /* what kvmini uses it for */
	int pci_only;               /* needed only when a device sits on PCI */
};

/* The architecture's table of required capabilities; *n gets its length.
 * Optional ones, which vmm/ falls back from (ioeventfd, irqfd), are not in
 * it. */
const struct arch_kvm_cap *arch_kvm_caps(size_t *n);

/* Sets up vCPU number id (0 is the boot CPU) after KVM_CREATE_VCPU. */
int arch_vcpu_init(struct arch_host *h, int vcpu_fd, int id, char *err, size_t errlen);

/* Where the PCI host bridge lives: config space (ECAM, and on x86 the
 * 0xCF8/0xCFC ports), the windows BARs are placed in, and INTx routing. */
struct arch_pci_layout {
	uint64_t ecam_base;
	uint32_t ecam_size;
	uint64_t mem32_base, mem32_size;
	uint64_t io_base, io_size;          /* io_size 0: no I/O space */
	/* 0: I/O space is port I/O (x86). Else it is memory-mapped: port p is
	 * at io_cpu_base + p on the MMIO bus (arm64). */
	uint64_t io_cpu_base;
	uint32_t intx_gsi_base;             /* INTA..D of slot s: base + (s + pin) % 4 */
	int config_ports;                   /* 0xCF8/0xCFC exist (x86) */
	/* A platform register sharing the config-address ports (x86: 0xCF9
	 * reset control), reached by non-dword accesses to 0xCF8..0xCFB. */
	const struct io_ops *cf8_passthrough;
	void *cf8_passthrough_opaque;
};

/* Fills the layout and announces the host bridge in the firmware tables.
 * Call before arch_load. */
int arch_pci_layout(struct arch_host *h, struct arch_pci_layout *l);

/* Address window and interrupt for the index-th virtio-mmio device. */
int arch_virtio_mmio_slot(struct arch_host *h, int index, uint64_t *base, uint32_t *irq);

/* The interrupt line behind a GSI / SPI number, driven with KVM_IRQ_LINE
 * (level: set(1) asserts, set(0) deasserts). */
struct irq_line arch_irq_line(struct arch_host *h, uint32_t gsi);

/* Where the console UART sits: an I/O port (x86) or MMIO window, and its
 * interrupt. */
struct arch_console {
	uint64_t base;
	int is_pio;
	uint32_t irq;
};
void arch_console_slot(struct arch_host *h, struct arch_console *c);

/* KVM_SET_GSI_ROUTING replaces the whole table: the architecture's default
 * irqchip routes, which vmm/ keeps beside its MSI routes. Returns the count
 * (at most max) and the first GSI free for MSI routes in *first_free. */
struct kvm_irq_routing_entry;
int arch_irq_routes(struct arch_host *h, struct kvm_irq_routing_entry *e, int max,
		    unsigned *first_free);

/* Dumps the vCPU's registers for a crash report. */
void arch_vcpu_dump(int vcpu_fd, FILE *out);

/* Is this vCPU running big-endian right now? (x86: never.) */
int arch_vcpu_is_big_endian(int vcpu_fd);

void arch_vm_destroy(struct arch_host *h);

/* ---- snapshots (vmm/snapshot.c saves, vmm/restore.c loads) ----
 * Called with every vCPU parked out of KVM_RUN (saving) or not yet run
 * (loading). State goes through devices/state.h; the architecture owns
 * what its payload holds and checks it on load, failing with one message
 * in the reader's state_err. Loading order: every vCPU, then the VM-wide
 * state (interrupt controllers, clocks), then the devices. */
struct state_r;
struct state_w;
/* One vCPU's registers and whatever KVM keeps for it (x86: GPRs, special
 * registers, FPU/XSAVE, XCRs, MSRs, LAPIC, events, MP state, debug
 * registers; arm64: every register KVM_GET_REG_LIST names, PSCI power
 * state). 0, or -errno with err set. */
int arch_vcpu_save(struct arch_host *h, int vcpu_fd, int id, struct state_w *w, char *err,
		   size_t errlen);
int arch_vcpu_load(struct arch_host *h, int vcpu_fd, int id, struct state_r *r);
/* The VM-wide state: x86 PIC, IOAPIC, PIT and KVM clock; arm64 the GICv3's
 * distributor, redistributors and CPU interfaces. */
int arch_vm_save(struct arch_host *h, struct state_w *w, char *err, size_t errlen);
int arch_vm_load(struct arch_host *h, struct state_r *r);
/* A restored VM gets no arch_load (its RAM comes from the snapshot): this
 * does the rest of what arch_load would, i.e. everything but writing
 * guest memory. */
int arch_restore_platform(struct arch_host *h, char *err, size_t errlen);

#endif
