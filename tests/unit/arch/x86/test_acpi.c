/* Tests for the x86 ACPI tables: structure (ACPI 6.3 §5.2), checksums, and
 * a disassembly of the DSDT by iasl when it is installed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/acpi.h"
#include "arch/x86/layout.h"

#define BASE X86_ACPI_ADDR
#define NCPUS 4

static uint8_t buf[X86_ACPI_SIZE];

static const struct acpi_mmio_dev mmio[] = {
	{ "LNRO0005", X86_VIRTIO_MMIO_BASE, 0x1000, 5 },
	{ "LNRO0005", X86_VIRTIO_MMIO_BASE + 0x1000, 0x1000, 6 },
};

static struct acpi_config config(void)
{
	return (struct acpi_config){
		.ncpus = NCPUS,
		.lapic_addr = X86_LAPIC_ADDR,
		.ioapic_addr = X86_IOAPIC_ADDR,
		.ioapic_id = NCPUS,
		.sleep_ctl_port = X86_PORT_SLEEP_CTL,
		.sleep_sts_port = X86_PORT_SLEEP_STS,
		.reset_port = X86_PORT_RESET,
		.reset_value = X86_RESET_VALUE,
		.s5_slp_typ = X86_S5_SLP_TYP,
		.sci_irq = X86_SCI_IRQ,
		.pvpanic_port = X86_PORT_PVPANIC,
		.com1_port = X86_PORT_COM1,
		.com1_irq = X86_IRQ_COM1,
		.mmio_devs = mmio,
		.nr_mmio_devs = 2,
	};
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* Guest address -> pointer into buf, checking the table lies inside. */
static const uint8_t *table_at(uint64_t gpa, const char *sig)
{
	const uint8_t *t;

	assert_true(gpa >= BASE && gpa + 36 <= BASE + sizeof(buf));
	assert_int_equal(gpa % 8, 0);
	t = buf + (gpa - BASE);
	assert_memory_equal(t, sig, 4);
	assert_true(gpa + rd32(t + 4) <= BASE + sizeof(buf));
	return t;
}

static const uint8_t *rsdp;

static int build(void **state)
{
	struct acpi_config c = config();
	uint64_t gpa = 0;

	(void)state;
	memset(buf, 0xEE, sizeof(buf));
	assert_int_equal(acpi_build(buf, BASE, sizeof(buf), &c, &gpa), 0);
	assert_int_equal(gpa, BASE);
	rsdp = buf;
	return 0;
}

static const uint8_t *xsdt(void) { return table_at(rd64(rsdp + 24), "XSDT"); }

/* The XSDT entry with signature sig. */
static const uint8_t *find(const char *sig)
{
	const uint8_t *x = xsdt();
	uint32_t n = (rd32(x + 4) - 36) / 8;

	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *t = buf + (rd64(x + 36 + 8 * i) - BASE);

		if (!memcmp(t, sig, 4))
			return table_at(rd64(x + 36 + 8 * i), sig);
	}
	fail_msg("%s not in XSDT", sig);
	return NULL;
}

static const uint8_t *dsdt(void) { return table_at(rd64(find("FACP") + 140), "DSDT"); }

static void rsdp_fields(void **state)
{
	(void)state;
	assert_memory_equal(rsdp, "RSD PTR ", 8);
	assert_memory_equal(rsdp + 9, "KVMINI", 6);
	assert_int_equal(rsdp[15], 2);
	assert_int_equal(rd32(rsdp + 20), 36);
	assert_int_equal(sum(rsdp, 20), 0);
	assert_int_equal(sum(rsdp, 36), 0);
	assert_int_equal(acpi_checksum(rsdp, 36), 0);
	xsdt();
	table_at(rd32(rsdp + 16), "RSDT");
}

static void checksums(void **state)
{
	const uint8_t *tables[] = { xsdt(), table_at(rd32(rsdp + 16), "RSDT"), find("FACP"),
				    find("APIC"), dsdt() };

	(void)state;
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		assert_int_equal(sum(tables[i], rd32(tables[i] + 4)), 0);
		assert_memory_equal(tables[i] + 10, "KVMINI", 6);
	}
}

static void root_tables(void **state)
{
	const uint8_t *x = xsdt(), *r = table_at(rd32(rsdp + 16), "RSDT");

	(void)state;
	assert_int_equal(rd32(x + 4), 36 + 2 * 8);
	assert_int_equal(rd32(r + 4), 36 + 2 * 4);
	for (int i = 0; i < 2; i++)
		assert_int_equal(rd64(x + 36 + 8 * i), rd32(r + 36 + 4 * i));
	find("FACP");
	find("APIC");
	/* Every table sits after the RSDP, inside the buffer. */
	assert_true(rd64(rsdp + 24) >= BASE + 36);
}

static void check_gas_io8(const uint8_t *g, uint16_t port)
{
	assert_int_equal(g[0], 1);          /* SystemIO */
	assert_int_equal(g[1], 8);
	assert_int_equal(g[2], 0);
	assert_int_equal(g[3], 1);          /* byte access */
	assert_int_equal(rd64(g + 4), port);
}

static void fadt(void **state)
{
	const uint8_t *f = find("FACP");
	uint32_t flags = rd32(f + 112);
	uint16_t boot = rd16(f + 109);

	(void)state;
	assert_int_equal(rd32(f + 4), 276);
	assert_int_equal(f[8], 6);
	assert_int_equal(f[131], 3);                         /* minor: ACPI 6.3 */
	assert_true(flags & (1u << 20));                     /* HW_REDUCED_ACPI */
	assert_true(flags & (1u << 10));                     /* RESET_REG_SUP */
	assert_false(boot & (1u << 1));                      /* no 8042 */
	assert_true(boot & (1u << 2));                       /* VGA not present */
	assert_false(boot & (1u << 3));                      /* MSI works */
	assert_true(boot & (1u << 5));                       /* no CMOS RTC */
	assert_int_equal(rd16(f + 46), X86_SCI_IRQ);
	assert_int_equal(rd32(f + 48), 0);                   /* no SMI_CMD */
	assert_int_equal(rd32(f + 64), 0);                   /* no PM1a_CNT */
	check_gas_io8(f + 116, X86_PORT_RESET);
	assert_int_equal(f[128], X86_RESET_VALUE);
	check_gas_io8(f + 244, X86_PORT_SLEEP_CTL);
	check_gas_io8(f + 256, X86_PORT_SLEEP_STS);
	assert_int_equal(rd32(f + 40), rd64(f + 140));      /* DSDT == X_DSDT */
	dsdt();
}

static void madt(void **state)
{
	const uint8_t *m = find("APIC"), *p, *end;
	int lapics = 0, ioapics = 0, nmis = 0, irq0 = 0, sci = 0;

	(void)state;
	assert_int_equal(rd32(m + 36), X86_LAPIC_ADDR);
	assert_int_equal(rd32(m + 40), 1);                   /* PCAT_COMPAT */
	end = m + rd32(m + 4);
	for (p = m + 44; p < end; p += p[1]) {
		assert_true(p[1] >= 2 && p + p[1] <= end);
		switch (p[0]) {
		case 0:
			assert_int_equal(p[1], 8);
			assert_int_equal(p[2], lapics);
			assert_int_equal(p[3], lapics);
			assert_int_equal(rd32(p + 4), 1);
			lapics++;
			break;
		case 1:
			assert_int_equal(p[1], 12);
			assert_int_equal(p[2], NCPUS);
			assert_int_equal(rd32(p + 4), X86_IOAPIC_ADDR);
			assert_int_equal(rd32(p + 8), 0);
			ioapics++;
			break;
		case 2:
			assert_int_equal(p[1], 10);
			assert_int_equal(p[2], 0);
			if (p[3] == 0) {
				assert_int_equal(rd32(p + 4), 2);
				irq0++;
			} else {
				assert_int_equal(p[3], X86_SCI_IRQ);
				assert_int_equal(rd32(p + 4), X86_SCI_IRQ);
				assert_int_equal(rd16(p + 8), 0x0D);  /* level, active high */
				sci++;
			}
			break;
		case 4:
			assert_int_equal(p[1], 6);
			assert_int_equal(p[2], 0xFF);
			assert_int_equal(p[5], 1);
			nmis++;
			break;
		default:
			fail_msg("unexpected MADT entry type %d", p[0]);
		}
	}
	assert_ptr_equal(p, end);
	assert_int_equal(lapics, NCPUS);
	assert_int_equal(ioapics, 1);
	assert_int_equal(irq0, 1);
	assert_int_equal(sci, 1);
	assert_int_equal(nmis, 1);
}

static int contains(const uint8_t *p, size_t n, const void *s, size_t sn)
{
	for (size_t i = 0; i + sn <= n; i++)
		if (!memcmp(p + i, s, sn))
			return 1;
	return 0;
}

static void dsdt_content(void **state)
{
	const uint8_t *d = dsdt();
	size_t n = rd32(d + 4);

	(void)state;
	assert_int_equal(d[8], 2);                          /* 64-bit integers */
	assert_true(contains(d, n, "\x08_S5_\x12", 6));
	assert_true(contains(d, n, "\\_SB_", 5));
	assert_true(contains(d, n, "\x0C\x41\xD0\x05\x01", 5));   /* PNP0501 */
	assert_true(contains(d, n, "QEMU0001", 8));
	assert_true(contains(d, n, "VR00", 4));
	assert_true(contains(d, n, "VR01", 4));
	assert_false(contains(d, n, "VR02", 4));
	assert_true(contains(d, n, "LNRO0005", 8));
	/* Memory32Fixed(ReadWrite, 0xD0001000, 0x1000), Interrupt(..){6} */
	assert_true(contains(d, n, "\x86\x09\x00\x01\x00\x10\x00\xD0\x00\x10\x00\x00"
				   "\x89\x06\x00\x03\x01\x06\x00\x00\x00", 21));
}

static void optional_devices(void **state)
{
	struct acpi_config c = config();
	const uint8_t *d;
	uint64_t gpa;

	(void)state;
	c.com1_port = 0;
	c.pvpanic_port = 0;
	c.nr_mmio_devs = 0;
	c.mmio_devs = NULL;
	assert_int_equal(acpi_build(buf, BASE, sizeof(buf), &c, &gpa), 0);
	d = dsdt();
	assert_false(contains(d, rd32(d + 4), "QEMU0001", 8));
	assert_false(contains(d, rd32(d + 4), "COM1", 4));
	assert_false(contains(d, rd32(d + 4), "VR00", 4));
	assert_int_equal(sum(d, rd32(d + 4)), 0);
}

/* Every size short of the tables fails with -ENOSPC and writes nothing past
 * the size it was given. */
static void enospc(void **state)
{
	static uint8_t small[4096];
	struct acpi_config c = config();
	const uint8_t *d = dsdt();
	size_t need = (size_t)(d - buf) + rd32(d + 4);
	uint64_t gpa;

	(void)state;
	for (size_t size = 0; size < need; size++) {
		memset(small, 0xEE, sizeof(small));
		assert_int_equal(acpi_build(small, BASE, size, &c, &gpa), -ENOSPC);
		for (size_t i = size; i < need; i++)
			assert_int_equal(small[i], 0xEE);
	}
	assert_int_equal(acpi_build(small, BASE, need, &c, &gpa), 0);
}

static void einval(void **state)
{
	struct acpi_config c;
	struct acpi_mmio_dev bad = { "LNRO0005", 0x100000000ULL, 0x1000, 5 };
	uint64_t gpa;

	(void)state;
	c = config();
	assert_int_equal(acpi_build(buf, BASE + 8, sizeof(buf), &c, &gpa), -EINVAL);
	c.ncpus = 0;
	assert_int_equal(acpi_build(buf, BASE, sizeof(buf), &c, &gpa), -EINVAL);
	c = config();
	c.nr_mmio_devs = ACPI_MAX_MMIO_DEVS + 1;
	assert_int_equal(acpi_build(buf, BASE, sizeof(buf), &c, &gpa), -EINVAL);
	c = config();
	c.mmio_devs = &bad;
	c.nr_mmio_devs = 1;
	assert_int_equal(acpi_build(buf, BASE, sizeof(buf), &c, &gpa), -EINVAL);
	c = config();
	c.com1_irq = 16;
	assert_int_equal(acpi_build(buf, BASE, sizeof(buf), &c, &gpa), -EINVAL);
	assert_int_equal(acpi_build(NULL, BASE, sizeof(buf), &c, &gpa), -EINVAL);
}

static void many_cpus(void **state)
{
	struct acpi_config c = config();
	const uint8_t *m;
	uint64_t gpa;

	(void)state;
	c.ncpus = 255;
	c.ioapic_id = 0;     /* not a real constraint of the table */
	assert_int_equal(acpi_build(buf, BASE, sizeof(buf), &c, &gpa), 0);
	m = find("APIC");
	assert_int_equal(sum(m, rd32(m + 4)), 0);
	assert_int_equal(m[44 + 8 * 254 + 3], 254);
	c.ncpus = 256;
	assert_int_equal(acpi_build(buf, BASE, sizeof(buf), &c, &gpa), -EINVAL);
}

static int have_iasl(void)
{
	return system("command -v iasl >/dev/null 2>&1") == 0;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *s;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	s = calloc(1, (size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return s;
}

/* iasl -d writes dsdt.dsl beside dsdt.dat; it must parse the whole AML
 * stream and show every device we declared. */
/* Disassembles table t with iasl and returns the .dsl text; the log must be
 * free of errors and warnings. */
static char *iasl_disassemble(const uint8_t *d)
{
	char dir[] = "/tmp/kvmini-acpi-XXXXXX", path[128], cmd[512];
	char *dsl, *log;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/dsdt.dat", dir);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(d, 1, rd32(d + 4), f), rd32(d + 4));
	fclose(f);
	snprintf(cmd, sizeof(cmd), "cd %s && iasl -d dsdt.dat >iasl.log 2>&1", dir);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/dsdt.dsl", dir);
	dsl = slurp(path);
	snprintf(path, sizeof(path), "%s/iasl.log", dir);
	log = slurp(path);
	assert_null(strstr(log, "Error"));
	assert_null(strstr(log, "Warning"));
	free(log);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return dsl;
}

static void dsdt_iasl(void **state)
{
	char *dsl;

	(void)state;
	if (!have_iasl())
		skip();
	dsl = iasl_disassemble(dsdt());
	assert_non_null(strstr(dsl, "LNRO0005"));
	assert_non_null(strstr(dsl, "_S5_"));
	assert_non_null(strstr(dsl, "QEMU0001"));
	assert_non_null(strstr(dsl, "PNP0501"));
	assert_non_null(strstr(dsl, "Memory32Fixed (ReadWrite"));
	assert_non_null(strstr(dsl, "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive"));
	assert_null(strstr(dsl, "PNP0A08"));     /* no PCI unless asked for */
	free(dsl);
}

static const struct acpi_pci pci = {
	.ecam_base = 0xE0000000, .ecam_size = 1 << 20,
	.mem32_base = 0xC0000000, .mem32_size = 0x10000000,
	.mem64_base = 0x8000000000ULL, .mem64_size = 0x4000000000ULL,
	.intx_gsi_base = 20,
};

static int build_pci(void **state)
{
	struct acpi_config c = config();
	uint64_t gpa = 0;

	(void)state;
	c.pci = &pci;
	memset(buf, 0xEE, sizeof(buf));
	assert_int_equal(acpi_build(buf, BASE, sizeof(buf), &c, &gpa), 0);
	rsdp = buf;
	return 0;
}

/* MCFG joins the root tables and describes the ECAM window for bus 0. */
static void pci_mcfg(void **state)
{
	const uint8_t *x = xsdt(), *r = table_at(rd32(rsdp + 16), "RSDT");
	const uint8_t *m = find("MCFG");

	(void)state;
	assert_int_equal(rd32(x + 4), 36 + 3 * 8);
	assert_int_equal(rd32(r + 4), 36 + 3 * 4);
	assert_int_equal(rd32(m + 4), 60);
	assert_int_equal(sum(m, 60), 0);
	assert_int_equal(rd64(m + 44), 0xE0000000);
	assert_int_equal(rd16(m + 52), 0);       /* segment */
	assert_int_equal(m[54], 0);              /* buses 0..0 */
	assert_int_equal(m[55], 0);
	assert_int_equal(sum(dsdt(), rd32(dsdt() + 4)), 0);
}

static void pci_dsdt_iasl(void **state)
{
	char *dsl;

	(void)state;
	if (!have_iasl())
		skip();
	dsl = iasl_disassemble(dsdt());
	assert_non_null(strstr(dsl, "PNP0A08"));
	assert_non_null(strstr(dsl, "PNP0A03"));
	assert_non_null(strstr(dsl, "PNP0C02"));
	assert_non_null(strstr(dsl, "WordBusNumber"));
	assert_non_null(strstr(dsl, "0x0CF7"));
	assert_non_null(strstr(dsl, "DWordMemory"));
	assert_non_null(strstr(dsl, "0xCFFFFFFF"));
	assert_non_null(strstr(dsl, "QWordMemory"));
	assert_non_null(strstr(dsl, "_PRT"));
	/* slot 1 INTA -> GSI 20 + (1 + 0) % 4 = 21; slot 31 INTD -> 20 + 34 % 4 = 22 */
	assert_non_null(strstr(dsl, "0x0001FFFF"));
	assert_non_null(strstr(dsl, "0x001FFFFF"));
	assert_non_null(strstr(dsl, "0xE0000000"));   /* the ECAM window, reserved by MRES */
	free(dsl);
}

static void pci_einval(void **state)
{
	struct acpi_config c = config();
	struct acpi_pci p = pci;
	uint64_t gpa;

	(void)state;
	c.pci = &p;
	p.ecam_size = 4096;                       /* not whole buses */
	assert_int_equal(acpi_build(buf, BASE, sizeof(buf), &c, &gpa), -EINVAL);
	p = pci;
	p.intx_gsi_base = 21;                     /* past the IOAPIC's 24 pins */
	assert_int_equal(acpi_build(buf, BASE, sizeof(buf), &c, &gpa), -EINVAL);
	p = pci;
	p.mem32_base = 0xF8000000;                /* window past 4 GiB */
	assert_int_equal(acpi_build(buf, BASE, sizeof(buf), &c, &gpa), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test_setup(rsdp_fields, build),
		cmocka_unit_test_setup(checksums, build),
		cmocka_unit_test_setup(root_tables, build),
		cmocka_unit_test_setup(fadt, build),
		cmocka_unit_test_setup(madt, build),
		cmocka_unit_test_setup(dsdt_content, build),
		cmocka_unit_test_setup(optional_devices, build),
		cmocka_unit_test_setup(enospc, build),
		cmocka_unit_test(einval),
		cmocka_unit_test_setup(many_cpus, build),
		cmocka_unit_test_setup(dsdt_iasl, build),
		cmocka_unit_test_setup(pci_mcfg, build_pci),
		cmocka_unit_test_setup(pci_dsdt_iasl, build_pci),
		cmocka_unit_test(pci_einval),
	};

	return cmocka_run_group_tests(t, NULL, NULL);
}
