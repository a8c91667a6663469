/* arm64 guest physical address map (close to QEMU's "virt" machine, which
 * Linux knows well). Every fixed address lives here, so the device tree, the
 * loaders and the test guests cannot disagree. */
#ifndef KVMINI_ARCH_ARM64_LAYOUT_H
#define KVMINI_ARCH_ARM64_LAYOUT_H

#define ARM64_GIC_DIST_BASE     0x08000000ULL   /* GICv3/v2 distributor, 64 KiB */
#define ARM64_GIC_DIST_SIZE     0x00010000ULL
#define ARM64_GICV2_CPU_BASE    0x08010000ULL   /* GICv2 CPU interface (fallback) */
#define ARM64_GICV2_CPU_SIZE    0x00010000ULL
#define ARM64_GIC_REDIST_BASE   0x080A0000ULL   /* GICv3 redistributors, 128 KiB per vCPU */
#define ARM64_GIC_REDIST_SIZE   0x00F60000ULL   /* room for 123 vCPUs */
#define ARM64_UART_BASE         0x09000000ULL   /* 16550A, MMIO, reg-shift 0, 8 bytes */
#define ARM64_UART_SPI          1               /* INTID 33 */
#define ARM64_PVPANIC_BASE      0x09010000ULL   /* pvpanic-mmio ("qemu,pvpanic-mmio"), 2 bytes */
#define ARM64_PVPANIC_SIZE      0x2ULL
#define ARM64_VIRTIO_MMIO_BASE  0x0A000000ULL   /* virtio-mmio windows, 0x200 each */
#define ARM64_VIRTIO_MMIO_STRIDE 0x200ULL
#define ARM64_VIRTIO_MMIO_SPI   16              /* device i: SPI 16 + i (INTID 48 + i), edge */
#define ARM64_VIRTIO_MMIO_MAX   16
#define ARM64_PCI_MMIO_BASE     0x10000000ULL   /* 32-bit BAR window */
#define ARM64_PCI_MMIO_SIZE     0x2EFF0000ULL
#define ARM64_PCI_IO_CPU_BASE   0x3EFF0000ULL   /* PCI I/O space, seen at this CPU address */
#define ARM64_PCI_IO_SIZE       0x00010000ULL
#define ARM64_PCI_ECAM_BASE     0x3F000000ULL   /* ECAM, bus 0 only: 1 MiB */
#define ARM64_PCI_ECAM_SIZE     0x00100000ULL
#define ARM64_PCI_INTX_SPI      3               /* INTA-D of slot s: SPI 3 + (s + pin) % 4 (level) */
#define ARM64_RAM_BASE          0x40000000ULL   /* RAM starts at 1 GiB */

#define ARM64_NR_SPIS           64              /* the GIC is created with 32 + 64 interrupts */

#endif
