/* Tests for the bzImage parser and the 64-bit boot path of x86_boot_load:
 * a synthetic bzImage (Documentation/arch/x86/boot.rst) loaded into a
 * malloc'd guest RAM, then the zero page checked field by field. Every
 * multi-byte field goes through le.h so the test also holds on a
 * big-endian host. */
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

#include "boot.h"
#include "le.h"

#define MiB (1ULL << 20)
#define RAM_SIZE (64 * MiB)

/* A layout like arch/x86's, written out so boot/ tests need no arch/. */
#define KERNEL_ADDR 0x100000ULL
/* The decompressor runs at max(KERNEL_ADDR aligned up, pref_address): the
 * synthetic image says pref_address 16 MiB, so its memory ends there + init_size. */
#define KERNEL_RUN  0x1000000ULL
#define ZERO_PAGE   0x7000ULL
#define PVH_INFO    0x6000ULL
#define CMDLINE     0x20000ULL
#define CMDLINE_MAX 4096ULL
#define RSDP        0xE0000ULL

#define SETUP_SECTS 4
#define SETUP_SIZE  ((SETUP_SECTS + 1) * 512)
#define PM_SIZE     8192
#define HDR_END     0x268         /* end of the 2.15 setup header */

static uint8_t *ram;
static struct guest_mem gm;
static struct x86_boot_layout L;
static struct e820_entry e820[130];
static uint8_t img[SETUP_SIZE + PM_SIZE];
static size_t img_size;
static char err[BOOT_ERR_MAX];
static struct x86_boot_result res;

static void build_bzimage(void)
{
	memset(img, 0xCC, sizeof(img));             /* junk outside the header */
	memset(img + HDR_SETUP_SECTS, 0, HDR_END - HDR_SETUP_SECTS);
	img[HDR_SETUP_SECTS] = SETUP_SECTS;
	le16_put(img + HDR_VID_MODE, 0x1234);
	le16_put(img + HDR_BOOT_FLAG, 0xAA55);
	img[HDR_JUMP] = 0xEB;
	img[HDR_JUMP + 1] = HDR_END - 0x202;
	le32_put(img + HDR_MAGIC, 0x53726448);      /* "HdrS" */
	le16_put(img + HDR_VERSION, 0x020F);
	img[HDR_TYPE_OF_LOADER] = 0x00;
	img[HDR_LOADFLAGS] = 0x21;                  /* LOADED_HIGH | QUIET */
	le32_put(img + HDR_INITRD_ADDR_MAX, 0x7FFFFFFF);
	le32_put(img + HDR_KERNEL_ALIGNMENT, 0x200000);
	img[HDR_RELOCATABLE] = 1;
	le16_put(img + HDR_XLOADFLAGS, XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G);
	le32_put(img + HDR_CMDLINE_SIZE, 2047);
	le32_put(img + HDR_PAYLOAD_OFFSET, 0x3AC);
	le32_put(img + HDR_PAYLOAD_LENGTH, 0x1000);
	le64_put(img + HDR_PREF_ADDRESS, 0x1000000);
	le32_put(img + HDR_INIT_SIZE, 16 * MiB);
	for (size_t i = 0; i < PM_SIZE; i++)
		img[SETUP_SIZE + i] = (uint8_t)(i * 13 + 7);
	img_size = sizeof(img);
}

static int setup(void **state)
{
	(void)state;
	if (!ram)
		ram = malloc(RAM_SIZE);
	assert_non_null(ram);
	memset(ram, 0xAA, RAM_SIZE);
	memset(&gm, 0, sizeof(gm));
	assert_int_equal(gm_add_region(&gm, 0, RAM_SIZE, ram), 0);
	e820[0] = (struct e820_entry){ 0, 0x9FC00, E820_RAM };
	e820[1] = (struct e820_entry){ 0x9FC00, 0x60400, E820_RESERVED };
	e820[2] = (struct e820_entry){ 0x100000, RAM_SIZE - 0x100000, E820_RAM };
	L = (struct x86_boot_layout){
		.lowmem_end = RAM_SIZE, .kernel_addr = KERNEL_ADDR, .zero_page = ZERO_PAGE,
		.pvh_info = PVH_INFO, .cmdline_addr = CMDLINE, .cmdline_max = CMDLINE_MAX,
		.rsdp = RSDP, .e820 = e820, .nr_e820 = 3,
	};
	build_bzimage();
	memset(err, 0, sizeof(err));
	memset(&res, 0x5A, sizeof(res));
	return 0;
}

static int teardown_all(void **state)
{
	(void)state;
	free(ram);
	ram = NULL;
	return 0;
}

static int load(const uint8_t *initrd, size_t isize, const char *cmdline)
{
	return x86_boot_load(&gm, &L, img, img_size, initrd, isize, cmdline, &res, err,
			     sizeof(err));
}

/* The plan: what kvmini checks before /dev/kvm, with no guest memory. */
static int plan(size_t isize, const char *cmdline, struct x86_boot_result *r)
{
	return x86_boot_plan(&L, img, img_size, isize, cmdline, r, err, sizeof(err));
}

#define ASSERT_ERR_PREFIX(p)                                                \
	do {                                                                \
		if (strncmp(err, p, strlen(p)))                             \
			fail_msg("message '%s' does not start with '%s'", err, p); \
	} while (0)

/* Fields of the setup header the loader writes rather than copies. */
static int written_by_loader(size_t off)
{
	static const struct { size_t off, len; } w[] = {
		{ HDR_VID_MODE, 2 }, { HDR_TYPE_OF_LOADER, 1 }, { HDR_LOADFLAGS, 1 },
		{ HDR_RAMDISK_IMAGE, 4 }, { HDR_RAMDISK_SIZE, 4 }, { HDR_HEAP_END_PTR, 2 },
		{ HDR_CMD_LINE_PTR, 4 },
	};

	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (off >= w[i].off && off < w[i].off + w[i].len)
			return 1;
	return 0;
}

static void check_unchanged(uint64_t gpa, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (ram[gpa + i] != 0xAA)
			fail_msg("guest byte 0x%llx changed", (unsigned long long)(gpa + i));
}

static void parse_fields(void **state)
{
	struct bzimage_info bi;

	(void)state;
	assert_int_equal(bzimage_parse(img, img_size, &bi, err, sizeof(err)), 0);
	assert_int_equal(bi.version, 0x020F);
	assert_int_equal(bi.setup_size, SETUP_SIZE);
	assert_int_equal(bi.pm_size, PM_SIZE);
	assert_int_equal(bi.init_size, 16 * MiB);
	assert_int_equal(bi.initrd_addr_max, 0x7FFFFFFF);
	assert_int_equal(bi.cmdline_size, 2047);
	assert_int_equal(bi.xloadflags, 3);
	assert_int_equal(bi.hdr_end, HDR_END);

	/* setup_sects 0 means 4 (boot.rst). */
	img[HDR_SETUP_SECTS] = 0;
	assert_int_equal(bzimage_parse(img, img_size, &bi, err, sizeof(err)), 0);
	assert_int_equal(bi.setup_size, 5 * 512);
	/* init_size smaller than the file's code is raised to it. */
	le32_put(img + HDR_INIT_SIZE, 100);
	assert_int_equal(bzimage_parse(img, img_size, &bi, err, sizeof(err)), 0);
	assert_int_equal(bi.init_size, PM_SIZE);
	/* The largest header end allowed: the zero page's E820 table. */
	img[HDR_JUMP + 1] = 0x2d0 - 0x202;
	assert_int_equal(bzimage_parse(img, img_size, &bi, err, sizeof(err)), 0);
	assert_int_equal(bi.hdr_end, 0x2d0);
}

static void load_zero_page(void **state)
{
	static uint8_t initrd[MiB + 123];
	const char *cmdline = "console=ttyS0 root=/dev/vda";
	const uint8_t *zp = ram + ZERO_PAGE;
	uint64_t iaddr = (RAM_SIZE - sizeof(initrd)) & ~0xFFFULL;

	(void)state;
	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i * 31 + 1);
	assert_int_equal(load(initrd, sizeof(initrd), cmdline), 0);

	assert_int_equal(res.mode, X86_ENTRY_64);
	assert_int_equal(res.entry, KERNEL_ADDR + 0x200);
	assert_int_equal(res.arg, ZERO_PAGE);
	assert_int_equal(res.kernel_end, KERNEL_RUN + 16 * MiB);
	assert_int_equal(res.initrd_addr, iaddr);
	assert_int_equal(iaddr, 0x3EFF000);
	assert_int_equal(res.initrd_size, sizeof(initrd));

	/* Kernel, initrd and command line in guest memory. */
	assert_memory_equal(ram + KERNEL_ADDR, img + SETUP_SIZE, PM_SIZE);
	assert_int_equal(ram[KERNEL_ADDR + PM_SIZE], 0xAA);   /* only the file's bytes */
	assert_int_equal(ram[KERNEL_ADDR - 1], 0xAA);
	assert_memory_equal(ram + iaddr, initrd, sizeof(initrd));
	assert_int_equal(ram[iaddr - 1], 0xAA);
	assert_string_equal((const char *)ram + CMDLINE, cmdline);

	/* The setup header, copied up to its end and no further. */
	for (size_t off = BP_HDR; off < HDR_END; off++)
		if (!written_by_loader(off) && zp[off] != img[off])
			fail_msg("zero page 0x%zx: 0x%02x, file 0x%02x", off, zp[off], img[off]);
	for (size_t off = HDR_END; off < BP_E820_TABLE; off++)
		assert_int_equal(zp[off], 0);
	assert_int_equal(le16_get(zp + HDR_BOOT_FLAG), 0xAA55);
	assert_int_equal(le32_get(zp + HDR_MAGIC), 0x53726448);
	assert_int_equal(le16_get(zp + HDR_VERSION), 0x020F);
	assert_int_equal(le32_get(zp + HDR_INIT_SIZE), 16 * MiB);
	assert_int_equal(le16_get(zp + HDR_XLOADFLAGS), 3);

	/* What the loader fills in. */
	assert_int_equal(le16_get(zp + HDR_VID_MODE), 0xFFFF);
	assert_int_equal(zp[HDR_TYPE_OF_LOADER], 0xFF);
	assert_int_equal(zp[HDR_LOADFLAGS], 0x21 | LOADFLAGS_LOADED_HIGH | LOADFLAGS_CAN_USE_HEAP);
	assert_int_equal(le16_get(zp + HDR_HEAP_END_PTR), 0xFE00);
	assert_int_equal(le32_get(zp + HDR_CMD_LINE_PTR), CMDLINE);
	assert_int_equal(le32_get(zp + BP_EXT_CMD_LINE_PTR), 0);
	assert_int_equal(le32_get(zp + HDR_RAMDISK_IMAGE), iaddr);
	assert_int_equal(le32_get(zp + HDR_RAMDISK_SIZE), sizeof(initrd));
	assert_int_equal(le32_get(zp + BP_EXT_RAMDISK_IMAGE), 0);
	assert_int_equal(le32_get(zp + BP_EXT_RAMDISK_SIZE), 0);
	assert_int_equal(le64_get(zp + BP_ACPI_RSDP_ADDR), RSDP);

	/* E820: count and 20-byte packed entries. */
	assert_int_equal(zp[BP_E820_ENTRIES], 3);
	for (int i = 0; i < 3; i++) {
		const uint8_t *e = zp + BP_E820_TABLE + 20 * i;

		assert_int_equal(le64_get(e), e820[i].addr);
		assert_int_equal(le64_get(e + 8), e820[i].size);
		assert_int_equal(le32_get(e + 16), e820[i].type);
	}
	assert_int_equal(le64_get(zp + BP_E820_TABLE + 20 * 2 + 8), RAM_SIZE - 0x100000);
	assert_int_equal(le32_get(zp + BP_E820_TABLE + 20 + 16), E820_RESERVED);
	for (size_t off = BP_E820_TABLE + 60; off < BP_SIZE; off++)
		assert_int_equal(zp[off], 0);
	/* Below the header: only the RSDP and E820 count are non-zero. */
	for (size_t off = 0; off < BP_HDR; off++)
		if (!(off >= BP_ACPI_RSDP_ADDR && off < BP_ACPI_RSDP_ADDR + 8) &&
		    off != BP_E820_ENTRIES)
			assert_int_equal(zp[off], 0);
	/* Nothing outside the page. */
	assert_int_equal(ram[ZERO_PAGE - 1], 0xAA);
	assert_int_equal(ram[ZERO_PAGE + BP_SIZE], 0xAA);
}

static void no_initrd(void **state)
{
	const uint8_t *zp = ram + ZERO_PAGE;

	(void)state;
	assert_int_equal(load(NULL, 0, ""), 0);
	assert_int_equal(res.initrd_addr, 0);
	assert_int_equal(res.initrd_size, 0);
	assert_int_equal(le32_get(zp + HDR_RAMDISK_IMAGE), 0);
	assert_int_equal(le32_get(zp + HDR_RAMDISK_SIZE), 0);
	assert_int_equal(ram[CMDLINE], 0);
	assert_int_equal(ram[CMDLINE + 1], 0xAA);
	check_unchanged(KERNEL_RUN + 16 * MiB, RAM_SIZE - KERNEL_RUN - 16 * MiB);
}

/* initrd_addr_max bounds the initrd below lowmem_end. */
static void initrd_addr_max(void **state)
{
	static uint8_t initrd[3 * 4096 + 1];

	(void)state;
	memset(initrd, 0x77, sizeof(initrd));
	le32_put(img + HDR_INITRD_ADDR_MAX, 0x2FFFFFF);
	assert_int_equal(load(initrd, sizeof(initrd), "x"), 0);
	assert_int_equal(res.initrd_addr, 0x3000000 - 4 * 4096);
	assert_int_equal(res.initrd_addr % 4096, 0);
	assert_int_equal(le32_get(ram + ZERO_PAGE + HDR_RAMDISK_IMAGE), 0x3000000 - 4 * 4096);
	assert_memory_equal(ram + res.initrd_addr, initrd, sizeof(initrd));
	check_unchanged(0x3000000 - 4096 + 1, RAM_SIZE - 0x3000000 + 4096 - 1);

	/* A top of RAM below initrd_addr_max wins. */
	setup(NULL);
	le32_put(img + HDR_INITRD_ADDR_MAX, 0xFFFFFFFF);
	assert_int_equal(load(initrd, sizeof(initrd), "x"), 0);
	assert_int_equal(res.initrd_addr, RAM_SIZE - 4 * 4096);
}

/* The initrd may end the kernel's reach exactly, not a byte lower. */
static void initrd_fits_exactly(void **state)
{
	uint64_t kend = KERNEL_RUN + 16 * MiB;
	size_t room = RAM_SIZE - kend;
	uint8_t *initrd = calloc(1, room + 1);

	(void)state;
	assert_non_null(initrd);
	assert_int_equal(load(initrd, room, "x"), 0);
	assert_int_equal(res.initrd_addr, kend);
	setup(NULL);
	assert_int_equal(load(initrd, room + 1, "x"), -ENOMEM);
	ASSERT_ERR_PREFIX("--memory:");
	/* A kernel ending mid-page keeps the whole page: the initrd starts on
	 * the next one. */
	setup(NULL);
	le32_put(img + HDR_INIT_SIZE, 16 * MiB + 1);
	assert_int_equal(load(initrd, room, "x"), -ENOMEM);
	setup(NULL);
	le32_put(img + HDR_INIT_SIZE, 16 * MiB + 1);
	assert_int_equal(load(initrd, room - 4096, "x"), 0);
	assert_int_equal(res.initrd_addr, kend + 4096);
	free(initrd);
}

static void cmdline_limits(void **state)
{
	static char c[CMDLINE_MAX + 2];

	(void)state;
	/* cmdline_size 2047: 2047 characters fit, 2048 do not. */
	memset(c, 'a', 2047);
	c[2047] = 0;
	assert_int_equal(load(NULL, 0, c), 0);
	assert_int_equal(strlen((const char *)ram + CMDLINE), 2047);
	assert_int_equal(ram[CMDLINE + 2048], 0xAA);
	setup(NULL);
	memset(c, 'a', 2048);
	c[2048] = 0;
	assert_int_equal(load(NULL, 0, c), -E2BIG);
	ASSERT_ERR_PREFIX("--cmdline:");
	assert_non_null(strstr(err, "2047"));
	assert_int_equal(ram[CMDLINE], 0xAA);
	/* A kernel that accepts more is still bounded by the layout's room. */
	setup(NULL);
	le32_put(img + HDR_CMDLINE_SIZE, 0xFFFFFFFF);
	memset(c, 'b', CMDLINE_MAX - 1);
	c[CMDLINE_MAX - 1] = 0;
	assert_int_equal(load(NULL, 0, c), 0);
	assert_int_equal(ram[CMDLINE + CMDLINE_MAX - 1], 0);
	setup(NULL);
	le32_put(img + HDR_CMDLINE_SIZE, 0xFFFFFFFF);
	memset(c, 'b', CMDLINE_MAX);
	c[CMDLINE_MAX] = 0;
	assert_int_equal(load(NULL, 0, c), -E2BIG);
	ASSERT_ERR_PREFIX("--cmdline:");
}

static void e820_capped(void **state)
{
	const uint8_t *zp = ram + ZERO_PAGE;

	(void)state;
	for (int i = 0; i < 130; i++)
		e820[i] = (struct e820_entry){ (uint64_t)i << 20, 1 << 20, E820_RAM };
	L.nr_e820 = 130;
	assert_int_equal(load(NULL, 0, "x"), 0);
	assert_int_equal(zp[BP_E820_ENTRIES], BP_E820_MAX);
	assert_int_equal(le64_get(zp + BP_E820_TABLE + 20 * 127), 127ULL << 20);
	/* Entry 128 would run into the next structure: not written. */
	for (int i = 0; i < 20; i++)
		assert_int_equal(zp[BP_E820_TABLE + 20 * 128 + i], 0);
}

/* Loads a modified image and expects rejection before guest memory is
 * touched. */
static void expect_reject(int want, const char *msg_part)
{
	struct x86_boot_result pr;
	char plan_err[BOOT_ERR_MAX];

	/* The plan refuses it first, with the same words. */
	assert_int_equal(plan(0, "x", &pr), want);
	snprintf(plan_err, sizeof(plan_err), "%s", err);
	int r = load(NULL, 0, "x");

	assert_int_equal(r, want);
	if (!strstr(err, msg_part))
		fail_msg("message '%s' lacks '%s'", err, msg_part);
	assert_string_equal(plan_err, err);
	check_unchanged(ZERO_PAGE, BP_SIZE);
	check_unchanged(KERNEL_ADDR, PM_SIZE);
	check_unchanged(CMDLINE, 16);
}

static void reject_not_bzimage(void **state)
{
	struct bzimage_info bi;

	(void)state;
	memset(img, 0, sizeof(img));
	expect_reject(-ENOEXEC, "--kernel: not a bzImage or ELF kernel");
	/* "HdrS" without the boot flag. */
	setup(NULL);
	le16_put(img + HDR_BOOT_FLAG, 0x55AA);
	expect_reject(-ENOEXEC, "not a bzImage");
	/* The boot flag without "HdrS": parse refuses it too. */
	setup(NULL);
	memcpy(img + HDR_MAGIC, "HdrT", 4);
	assert_int_equal(bzimage_parse(img, img_size, &bi, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "not a bzImage"));
	/* Too short to hold the header. */
	setup(NULL);
	img_size = 0x26F;
	expect_reject(-ENOEXEC, "not a bzImage");
}

static void reject_old_protocol(void **state)
{
	(void)state;
	le16_put(img + HDR_VERSION, 0x020B);
	expect_reject(-ENOEXEC, "2.11 is too old");
	setup(NULL);
	le16_put(img + HDR_VERSION, 0x020C);     /* 2.12 is enough */
	assert_int_equal(load(NULL, 0, "x"), 0);
}

static void reject_no_kernel64(void **state)
{
	(void)state;
	le16_put(img + HDR_XLOADFLAGS, XLF_CAN_BE_LOADED_ABOVE_4G);
	expect_reject(-ENOEXEC, "64-bit entry");
}

static void reject_truncated(void **state)
{
	(void)state;
	img_size = SETUP_SIZE;                  /* setup but no kernel */
	expect_reject(-ENOEXEC, "truncated");
	setup(NULL);
	img[HDR_SETUP_SECTS] = 40;              /* setup longer than the file */
	expect_reject(-ENOEXEC, "truncated");
	setup(NULL);
	img_size = SETUP_SIZE + 1;              /* one byte of kernel is a kernel */
	assert_int_equal(load(NULL, 0, "x"), 0);
	assert_int_equal(ram[KERNEL_ADDR], img[SETUP_SIZE]);
	assert_int_equal(ram[KERNEL_ADDR + 1], 0xAA);
}

static void reject_header_end(void **state)
{
	(void)state;
	img[HDR_JUMP + 1] = 0x2d0 - 0x202 + 1;
	expect_reject(-ENOEXEC, "malformed");
	setup(NULL);
	img[HDR_JUMP + 1] = 0xFF;
	expect_reject(-ENOEXEC, "malformed");
}

/* Where the decompressor runs: the load address rounded up to
 * kernel_alignment, but never below pref_address (LOAD_PHYSICAL_ADDR). */
static void footprint_follows_decompressor(void **state)
{
	(void)state;
	le64_put(img + HDR_PREF_ADDRESS, 0);           /* alignment 2 MiB rules */
	assert_int_equal(load(NULL, 0, "x"), 0);
	assert_int_equal(res.kernel_end, 2 * MiB + 16 * MiB);
	setup(NULL);
	le64_put(img + HDR_PREF_ADDRESS, 0x3100000);   /* 49 MiB + 16 MiB: past the 64 MiB of RAM */
	assert_int_equal(load(NULL, 0, "x"), -ENOMEM);
	ASSERT_ERR_PREFIX("--memory:");
	setup(NULL);
	le32_put(img + HDR_KERNEL_ALIGNMENT, 3);       /* not a power of two: ignored */
	le64_put(img + HDR_PREF_ADDRESS, 0);
	assert_int_equal(load(NULL, 0, "x"), 0);
	assert_int_equal(res.kernel_end, KERNEL_ADDR + 16 * MiB);
}

static void reject_kernel_too_big(void **state)
{
	(void)state;
	/* init_size reaching exactly lowmem_end is fine... */
	le32_put(img + HDR_INIT_SIZE, RAM_SIZE - KERNEL_RUN);
	assert_int_equal(load(NULL, 0, "x"), 0);
	assert_int_equal(res.kernel_end, RAM_SIZE);
	/* ...one byte more is not. */
	setup(NULL);
	le32_put(img + HDR_INIT_SIZE, RAM_SIZE - KERNEL_RUN + 1);
	expect_reject(-ENOMEM, "--memory:");
	ASSERT_ERR_PREFIX("--memory:");
	assert_non_null(strstr(err, "65 MiB"));
}

/* A pref_address near 2^64 must not wrap the footprint's end around to a
 * small address that fits (found by fuzz_bzimage). */
static void reject_footprint_wrapping(void **state)
{
	struct x86_boot_result r;

	(void)state;
	le64_put(img + HDR_PREF_ADDRESS, UINT64_MAX);
	le32_put(img + HDR_INIT_SIZE, 0);            /* init_size becomes pm_size */
	assert_int_equal(plan(0, "x", &r), -ENOMEM);
	ASSERT_ERR_PREFIX("--memory:");
	setup(NULL);
	le64_put(img + HDR_PREF_ADDRESS, UINT64_MAX - 0xFFF);
	assert_int_equal(load(NULL, 0, "x"), -ENOMEM);
	ASSERT_ERR_PREFIX("--memory:");
	check_unchanged(ZERO_PAGE, BP_SIZE);
}

static void reject_initrd_too_big(void **state)
{
	static uint8_t initrd[48 * MiB];

	(void)state;
	assert_int_equal(load(initrd, sizeof(initrd), "x"), -ENOMEM);
	ASSERT_ERR_PREFIX("--memory:");
	/* Kernel end 32 MiB (16 MiB decompressor base + 16 MiB init_size) + 48 MiB of initrd. */
	assert_non_null(strstr(err, "80 MiB"));
	check_unchanged(ZERO_PAGE, BP_SIZE);
	/* Larger than the whole initrd window. */
	setup(NULL);
	le32_put(img + HDR_INITRD_ADDR_MAX, 0xFFFFF);
	assert_int_equal(load(initrd, 2 * MiB, "x"), -ENOMEM);
	ASSERT_ERR_PREFIX("--memory:");
}

static void assert_same_result(const struct x86_boot_result *a, const struct x86_boot_result *b)
{
	assert_int_equal(a->mode, b->mode);
	assert_int_equal(a->entry, b->entry);
	assert_int_equal(a->arg, b->arg);
	assert_int_equal(a->initrd_addr, b->initrd_addr);
	assert_int_equal(a->initrd_size, b->initrd_size);
	assert_int_equal(a->kernel_end, b->kernel_end);
}

/* The plan decides what the load does: same entry, argument, footprint and
 * initrd address. It reads no more of the layout than it says. */
static void plan_matches_load(void **state)
{
	static uint8_t initrd[5 * 4096 + 3];
	struct x86_boot_result p;

	(void)state;
	assert_int_equal(plan(sizeof(initrd), "console=ttyS0", &p), 0);
	assert_int_equal(load(initrd, sizeof(initrd), "console=ttyS0"), 0);
	assert_same_result(&p, &res);
	assert_int_equal(p.mode, X86_ENTRY_64);
	assert_int_equal(p.entry, KERNEL_ADDR + 0x200);
	assert_int_equal(p.arg, ZERO_PAGE);
	assert_int_equal(p.kernel_end, KERNEL_RUN + 16 * MiB);
	assert_int_equal(p.initrd_addr, (RAM_SIZE - sizeof(initrd)) & ~0xFFFULL);
	assert_int_equal(p.bz.pm_size, PM_SIZE);
	setup(NULL);
	L.e820 = NULL;
	L.nr_e820 = -1;
	L.rsdp = L.cmdline_addr = UINT64_MAX;
	assert_int_equal(plan(sizeof(initrd), "console=ttyS0", &p), 0);
	assert_int_equal(p.initrd_addr, (RAM_SIZE - sizeof(initrd)) & ~0xFFFULL);
	check_unchanged(0, RAM_SIZE);
}

/* Kernel and initrd against the memory there is, without memory. */
static void plan_fit(void **state)
{
	struct x86_boot_result p;
	size_t room = RAM_SIZE - (KERNEL_RUN + 16 * MiB);

	(void)state;
	assert_int_equal(plan(room, "x", &p), 0);
	assert_int_equal(p.initrd_addr, KERNEL_RUN + 16 * MiB);
	assert_int_equal(plan(room + 1, "x", &p), -ENOMEM);
	ASSERT_ERR_PREFIX("--memory: too small for this kernel and initrd");
	assert_int_equal(plan(SIZE_MAX, "x", &p), -ENOMEM);
	ASSERT_ERR_PREFIX("--memory:");
	/* Less RAM below 4 GiB: the decompressor's 16 MiB from 16 MiB need 32. */
	L.lowmem_end = 32 * MiB - 1;
	assert_int_equal(plan(0, "x", &p), -ENOMEM);
	ASSERT_ERR_PREFIX("--memory:");
	assert_non_null(strstr(err, "32 MiB"));
	L.lowmem_end = 32 * MiB;
	assert_int_equal(plan(0, "x", &p), 0);
	assert_int_equal(plan(1, "x", &p), -ENOMEM);
	/* initrd_addr_max bounds the initrd even with RAM above it. */
	le32_put(img + HDR_INITRD_ADDR_MAX, 40 * MiB - 1);
	L.lowmem_end = RAM_SIZE;
	assert_int_equal(plan(8 * MiB, "x", &p), 0);
	assert_int_equal(p.initrd_addr, 32 * MiB);
	assert_int_equal(plan(8 * MiB + 1, "x", &p), -ENOMEM);
}

/* The command line: the kernel's cmdline_size and the layout's room, the
 * smaller wins. */
static void plan_cmdline(void **state)
{
	static char c[CMDLINE_MAX + 2];
	struct x86_boot_result p;

	(void)state;
	memset(c, 'a', 2047);
	assert_int_equal(plan(0, c, &p), 0);
	c[2047] = 'a';
	assert_int_equal(plan(0, c, &p), -E2BIG);
	ASSERT_ERR_PREFIX("--cmdline: too long (2048 bytes, the kernel accepts 2047)");
	le32_put(img + HDR_CMDLINE_SIZE, 0xFFFFFFFF);
	memset(c, 'b', CMDLINE_MAX);
	assert_int_equal(plan(0, c, &p), -E2BIG);
	assert_non_null(strstr(err, "accepts 4095"));
	c[CMDLINE_MAX - 1] = 0;
	assert_int_equal(plan(0, c, &p), 0);
	/* A kernel that says 0 takes only the empty line. */
	le32_put(img + HDR_CMDLINE_SIZE, 0);
	assert_int_equal(plan(0, "", &p), 0);
	assert_int_equal(plan(0, "x", &p), -E2BIG);
}

static void detect(void **state)
{
	(void)state;
	assert_int_equal(boot_detect(img, img_size), KERNEL_BZIMAGE);
	assert_int_equal(boot_detect(img, 0x206), KERNEL_BZIMAGE);
	assert_int_equal(boot_detect(img, 0x205), KERNEL_UNKNOWN);
	assert_int_equal(boot_detect((const uint8_t *)"\177ELF", 4), KERNEL_ELF);
	assert_int_equal(boot_detect((const uint8_t *)"\177ELF", 3), KERNEL_UNKNOWN);
	assert_int_equal(boot_detect((const uint8_t *)"", 0), KERNEL_UNKNOWN);
	memcpy(img, "\177ELF", 4);                  /* ELF wins over HdrS */
	assert_int_equal(boot_detect(img, img_size), KERNEL_ELF);
	le32_put(img + HDR_MAGIC, 0);
	memset(img, 0, 4);
	assert_int_equal(boot_detect(img, img_size), KERNEL_UNKNOWN);
}

static void read_file(void **state)
{
	char path[] = "/tmp/kvmini-test-XXXXXX";
	uint8_t *data = (uint8_t *)"untouched";
	size_t size = 99;
	int fd;

	(void)state;
	/* Nonexistent. */
	assert_int_equal(boot_read_file("/nonexistent/kvmini/bz", "--kernel", &data, &size,
					err, sizeof(err)), -ENOENT);
	ASSERT_ERR_PREFIX("--kernel:");
	assert_non_null(strstr(err, "/nonexistent/kvmini/bz"));
	assert_int_equal(size, 99);
	/* A directory. */
	assert_int_equal(boot_read_file("/tmp", "--initrd", &data, &size, err, sizeof(err)),
			 -EINVAL);
	ASSERT_ERR_PREFIX("--initrd:");
	assert_non_null(strstr(err, "'/tmp'"));
	/* An empty file, then the same file with contents. */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(boot_read_file(path, "--initrd", &data, &size, err, sizeof(err)),
			 -EINVAL);
	ASSERT_ERR_PREFIX("--initrd:");
	assert_non_null(strstr(err, "non-empty"));
	assert_int_equal(size, 99);
	assert_int_equal(write(fd, img, img_size), (ssize_t)img_size);
	close(fd);
	assert_int_equal(boot_read_file(path, "--kernel", &data, &size, err, sizeof(err)), 0);
	assert_int_equal(size, img_size);
	assert_memory_equal(data, img, img_size);
	/* A read-only mapping, not a copy: the file's own pages. */
	assert_true(((uintptr_t)data & 4095) == 0);
	boot_unmap_file(data, size);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test_setup(parse_fields, setup),
		cmocka_unit_test_setup(load_zero_page, setup),
		cmocka_unit_test_setup(no_initrd, setup),
		cmocka_unit_test_setup(initrd_addr_max, setup),
		cmocka_unit_test_setup(initrd_fits_exactly, setup),
		cmocka_unit_test_setup(cmdline_limits, setup),
		cmocka_unit_test_setup(plan_matches_load, setup),
		cmocka_unit_test_setup(plan_fit, setup),
		cmocka_unit_test_setup(plan_cmdline, setup),
		cmocka_unit_test_setup(e820_capped, setup),
		cmocka_unit_test_setup(reject_not_bzimage, setup),
		cmocka_unit_test_setup(reject_old_protocol, setup),
		cmocka_unit_test_setup(reject_no_kernel64, setup),
		cmocka_unit_test_setup(reject_truncated, setup),
		cmocka_unit_test_setup(reject_header_end, setup),
		cmocka_unit_test_setup(footprint_follows_decompressor, setup),
		cmocka_unit_test_setup(reject_kernel_too_big, setup),
		cmocka_unit_test_setup(reject_initrd_too_big, setup),
		cmocka_unit_test_setup(reject_footprint_wrapping, setup),
		cmocka_unit_test_setup(detect, setup),
		cmocka_unit_test_setup(read_file, setup),
	};

	return cmocka_run_group_tests(t, NULL, teardown_all);
}
