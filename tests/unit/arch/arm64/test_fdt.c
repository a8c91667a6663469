/* Tests for the arm64 device tree: built for a 2-vCPU GICv3 machine with an
 * initrd, two virtio-mmio devices and PCI, then read back with libfdt the
 * way Linux reads it. With KVMINI_FDT_DUMP=PATH the blob is also written to
 * PATH (tests/cross/run-unit-aarch64.sh decompiles it with dtc). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfdt.h>

#include "arch/arm64/fdt.h"
#include "arch/arm64/layout.h"

#define DTB_SIZE (2 << 20)

static uint8_t *dtb;

static const struct arch_mmio_dev devs[2] = {
	{ "LNRO0005", ARM64_VIRTIO_MMIO_BASE, 0x200, ARM64_VIRTIO_MMIO_SPI },
	{ "LNRO0005", ARM64_VIRTIO_MMIO_BASE + 0x200, 0x200, ARM64_VIRTIO_MMIO_SPI + 1 },
};

static struct arm64_fdt_config config(void)
{
	return (struct arm64_fdt_config){
		.ncpus = 2, .gic_version = 3,
		.mem_base = ARM64_RAM_BASE, .mem_size = 512ULL << 20,
		.cmdline = "console=ttyS0 rdinit=/init",
		.initrd_start = 0x5e000000, .initrd_size = 0x123456,
		.mmio_devs = devs, .nr_mmio_devs = 2, .has_pci = 1,
	};
}

static int setup(void **state)
{
	dtb = calloc(1, DTB_SIZE);
	return dtb ? 0 : -1;
}

static int teardown(void **state)
{
	free(dtb);
	return 0;
}

static int node(const char *path)
{
	int off = fdt_path_offset(dtb, path);
	if (off < 0)
		fail_msg("no node %s: %s", path, fdt_strerror(off));
	return off;
}

static const void *prop(const char *path, const char *name, int *len)
{
	const void *p = fdt_getprop(dtb, node(path), name, len);
	if (!p)
		fail_msg("no property %s in %s", name, path);
	return p;
}

static uint32_t cell(const char *path, const char *name, int i)
{
	int len;
	const fdt32_t *p = prop(path, name, &len);
	assert_true((i + 1) * 4 <= len);
	return fdt32_to_cpu(p[i]);
}

static int ncells(const char *path, const char *name)
{
	int len;
	prop(path, name, &len);
	return len / 4;
}

static void assert_str(const char *path, const char *name, const char *want)
{
	int len;
	const char *s = prop(path, name, &len);
	assert_string_equal(s, want);
}

static uint64_t u64_prop(const char *path, const char *name)
{
	return (uint64_t)cell(path, name, 0) << 32 | cell(path, name, 1);
}

static void test_gicv3_machine(void **state)
{
	struct arm64_fdt_config c = config();

	assert_int_equal(arm64_fdt_build(dtb, DTB_SIZE, &c), 0);
	assert_int_equal(fdt_check_header(dtb), 0);
	assert_true(fdt_totalsize(dtb) < 8192);   /* compact: fdt_finish trimmed it */
	const char *dump = getenv("KVMINI_FDT_DUMP");
	if (dump) {
		FILE *f = fopen(dump, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(dtb, 1, fdt_totalsize(dtb), f), fdt_totalsize(dtb));
		fclose(f);
	}

	assert_int_equal(cell("/", "#address-cells", 0), 2);
	assert_int_equal(cell("/", "interrupt-parent", 0), ARM64_FDT_GIC_PHANDLE);
	assert_str("/chosen", "bootargs", "console=ttyS0 rdinit=/init");
	assert_str("/chosen", "stdout-path", "/serial@9000000");
	assert_int_equal(u64_prop("/chosen", "linux,initrd-start"), 0x5e000000);
	assert_int_equal(u64_prop("/chosen", "linux,initrd-end"), 0x5e000000 + 0x123456);

	assert_str("/memory@40000000", "device_type", "memory");
	assert_int_equal(u64_prop("/memory@40000000", "reg"), ARM64_RAM_BASE);
	assert_int_equal(cell("/memory@40000000", "reg", 3), 512u << 20);

	assert_str("/cpus/cpu@0", "enable-method", "psci");
	assert_int_equal(cell("/cpus/cpu@1", "reg", 0), 1);
	assert_str("/psci", "compatible", "arm,psci-0.2");
	assert_str("/psci", "method", "hvc");

	assert_str("/intc@8000000", "compatible", "arm,gic-v3");
	assert_int_equal(cell("/intc@8000000", "#interrupt-cells", 0), 3);
	assert_int_equal(cell("/intc@8000000", "phandle", 0), ARM64_FDT_GIC_PHANDLE);
	assert_int_equal(cell("/intc@8000000", "reg", 5), ARM64_GIC_REDIST_BASE);
	assert_int_equal(cell("/intc@8000000", "reg", 7), 2 * 0x20000);   /* one frame pair per vCPU */

	assert_str("/timer", "compatible", "arm,armv8-timer");
	assert_int_equal(ncells("/timer", "interrupts"), 12);
	assert_int_equal(cell("/timer", "interrupts", 0), 1);      /* PPI */
	assert_int_equal(cell("/timer", "interrupts", 1), 13);
	assert_int_equal(cell("/timer", "interrupts", 2), 4);      /* no CPU mask on v3 */

	assert_str("/serial@9000000", "compatible", "ns16550a");
	assert_int_equal(cell("/serial@9000000", "interrupts", 1), ARM64_UART_SPI);
	assert_int_equal(cell("/serial@9000000", "interrupts", 2), 4);
	assert_int_equal(cell("/serial@9000000", "clock-frequency", 0), 1843200);

	assert_str("/pvpanic@9010000", "compatible", "qemu,pvpanic-mmio");
	assert_int_equal(cell("/pvpanic@9010000", "reg", 1), ARM64_PVPANIC_BASE);

	assert_str("/virtio_mmio@a000200", "compatible", "virtio,mmio");
	assert_int_equal(cell("/virtio_mmio@a000200", "reg", 1), ARM64_VIRTIO_MMIO_BASE + 0x200);
	assert_int_equal(cell("/virtio_mmio@a000200", "interrupts", 1), ARM64_VIRTIO_MMIO_SPI + 1);
	assert_int_equal(cell("/virtio_mmio@a000200", "interrupts", 2), 1);   /* edge */

	const char *pci = "/pcie@3f000000";
	assert_str(pci, "compatible", "pci-host-ecam-generic");
	assert_str(pci, "device_type", "pci");
	assert_int_equal(cell(pci, "bus-range", 1), 0);            /* 1 MiB of ECAM: bus 0 */
	assert_int_equal(ncells(pci, "ranges"), 14);
	assert_int_equal(cell(pci, "ranges", 0), 0x01000000);     /* I/O */
	assert_int_equal(cell(pci, "ranges", 4), ARM64_PCI_IO_CPU_BASE);
	assert_int_equal(cell(pci, "ranges", 7), 0x02000000);     /* 32-bit memory */
	assert_int_equal(cell(pci, "ranges", 9), ARM64_PCI_MMIO_BASE);
	assert_int_equal(cell(pci, "ranges", 13), ARM64_PCI_MMIO_SIZE);
	assert_int_equal(ncells(pci, "interrupt-map"), 16 * 10);
	/* slot 1 INTA (entry 4) -> SPI 3 + (1 + 0) % 4; slot 3 INTD (entry 15) -> SPI 3 + 2 */
	assert_int_equal(cell(pci, "interrupt-map", 40), 1 << 11);
	assert_int_equal(cell(pci, "interrupt-map", 43), 1);
	assert_int_equal(cell(pci, "interrupt-map", 44), ARM64_FDT_GIC_PHANDLE);
	assert_int_equal(cell(pci, "interrupt-map", 48), ARM64_PCI_INTX_SPI + 1);
	assert_int_equal(cell(pci, "interrupt-map", 150), 3 << 11);
	assert_int_equal(cell(pci, "interrupt-map", 153), 4);
	assert_int_equal(cell(pci, "interrupt-map", 158), ARM64_PCI_INTX_SPI + 2);
	assert_int_equal(cell(pci, "interrupt-map", 159), 4);     /* level */
	assert_int_equal(cell(pci, "interrupt-map-mask", 0), 0x1800);
}

static void test_gicv2_no_initrd_no_pci(void **state)
{
	struct arm64_fdt_config c = config();

	c.gic_version = 2;
	c.ncpus = 3;
	c.initrd_size = 0;
	c.has_pci = 0;
	c.nr_mmio_devs = 0;
	assert_int_equal(arm64_fdt_build(dtb, DTB_SIZE, &c), 0);
	assert_int_equal(fdt_check_header(dtb), 0);
	assert_str("/intc@8000000", "compatible", "arm,cortex-a15-gic");
	assert_int_equal(cell("/intc@8000000", "reg", 5), ARM64_GICV2_CPU_BASE);
	assert_int_equal(cell("/timer", "interrupts", 2), 4 | 7 << 8);   /* CPUs 0-2 */
	assert_int_equal(cell("/cpus/cpu@2", "reg", 0), 2);
	assert_true(fdt_getprop(dtb, node("/chosen"), "linux,initrd-start", NULL) == NULL);
	assert_true(fdt_path_offset(dtb, "/pcie@3f000000") < 0);
	assert_true(fdt_path_offset(dtb, "/virtio_mmio@a000000") < 0);
}

static void test_rejects(void **state)
{
	struct arm64_fdt_config c = config();
	struct arch_mmio_dev bad = { "PNP0501", ARM64_VIRTIO_MMIO_BASE, 0x200, 16 };

	assert_int_equal(arm64_fdt_build(dtb, 512, &c), -ENOSPC);
	c.gic_version = 2;
	c.ncpus = 9;                               /* a GICv2 serves 8 CPUs */
	assert_int_equal(arm64_fdt_build(dtb, DTB_SIZE, &c), -EINVAL);
	c = config();
	c.mmio_devs = &bad;
	c.nr_mmio_devs = 1;
	assert_int_equal(arm64_fdt_build(dtb, DTB_SIZE, &c), -EINVAL);
	bad.hid = "LNRO0005";
	bad.irq = ARM64_NR_SPIS;                   /* past the GIC's SPIs */
	assert_int_equal(arm64_fdt_build(dtb, DTB_SIZE, &c), -EINVAL);
}

static void test_mpidr(void **state)
{
	/* KVM's reset_mpidr(): 16 CPUs per Aff0 cluster. */
	assert_int_equal(arm64_vcpu_mpidr(0), 0);
	assert_int_equal(arm64_vcpu_mpidr(15), 15);
	assert_int_equal(arm64_vcpu_mpidr(16), 0x100);
	assert_int_equal(arm64_vcpu_mpidr(63), 0x30f);
}

static void test_many_cpus(void **state)
{
	struct arm64_fdt_config c = config();

	c.ncpus = 64;
	assert_int_equal(arm64_fdt_build(dtb, DTB_SIZE, &c), 0);
	assert_int_equal(cell("/cpus/cpu@30f", "reg", 0), 0x30f);
	assert_int_equal(cell("/intc@8000000", "reg", 7), 64 * 0x20000);
	assert_true(64 * 0x20000 <= ARM64_GIC_REDIST_SIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gicv3_machine),
		cmocka_unit_test(test_gicv2_no_initrd_no_pci),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_mpidr),
		cmocka_unit_test(test_many_cpus),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
