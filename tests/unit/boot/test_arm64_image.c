/* Tests for the arm64 Image loader: the header (booting.rst §4) parsed and
 * refused, and where kernel, DTB and initrd land for small, large and huge
 * RAM. Synthetic images; every field through le.h, so the test holds on a
 * big-endian host too. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arm64_image.h"
#include "le.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define RAM_BASE 0x40000000ULL

static uint8_t img[0x3000];
static char err[256];

static void make_image(uint64_t text_offset, uint64_t image_size, uint64_t flags)
{
	memset(img, 0, sizeof(img));
	le32_put(img, 0x91005a4d);                 /* "MZ" + add x13, x18, #0x16 */
	le32_put(img + 4, 0x14000000);            /* b stext */
	le64_put(img + ARM64_IMAGE_TEXT_OFFSET, text_offset);
	le64_put(img + ARM64_IMAGE_IMAGE_SIZE, image_size);
	le64_put(img + ARM64_IMAGE_FLAGS, flags);
	le32_put(img + ARM64_IMAGE_MAGIC_OFF, ARM64_IMAGE_MAGIC);
	for (size_t i = 0x40; i < sizeof(img); i++)
		img[i] = (uint8_t)(i * 7);
}

static int parse(size_t size, struct arm64_image_info *ii)
{
	err[0] = 0;
	return arm64_image_parse(img, size, ii, err, sizeof(err));
}

static void test_parse_modern(void **state)
{
	struct arm64_image_info ii;

	make_image(0, 30 * MiB, 0xa);              /* LE, 4K pages, anywhere */
	assert_int_equal(parse(sizeof(img), &ii), 0);
	assert_int_equal(ii.text_offset, 0);
	assert_int_equal(ii.image_size, 30 * MiB);
	assert_int_equal(ii.flags, 0xa);
	assert_int_equal(ii.big_endian, 0);
}

static void test_parse_text_offset_and_be(void **state)
{
	struct arm64_image_info ii;

	make_image(0x80000, 0x2000, ARM64_IMAGE_FLAG_BE);   /* image_size below file size */
	assert_int_equal(parse(sizeof(img), &ii), 0);
	assert_int_equal(ii.text_offset, 0x80000);
	assert_int_equal(ii.image_size, sizeof(img));      /* never less than the file */
	assert_int_equal(ii.big_endian, 1);                 /* accepted: the kernel sets EE itself */
}

static void test_parse_pre_3_17(void **state)
{
	struct arm64_image_info ii;

	make_image(0x1234, 0, 0xff);    /* image_size 0: text_offset and flags ignored */
	assert_int_equal(parse(sizeof(img), &ii), 0);
	assert_int_equal(ii.text_offset, 0x80000);
	assert_int_equal(ii.image_size, sizeof(img));
	assert_int_equal(ii.flags, 0);
}

static void test_parse_rejects(void **state)
{
	struct arm64_image_info ii;

	make_image(0, MiB, 0);
	assert_int_equal(parse(63, &ii), -ENOEXEC);
	assert_non_null(strstr(err, "--kernel: not an arm64 Image"));

	img[ARM64_IMAGE_MAGIC_OFF] = 'B';
	assert_int_equal(parse(sizeof(img), &ii), -ENOEXEC);
	assert_non_null(strstr(err, "--kernel: not an arm64 Image"));

	make_image(2 * MiB, MiB, 0);               /* text_offset must stay below 2 MiB */
	assert_int_equal(parse(sizeof(img), &ii), -ENOEXEC);
	assert_non_null(strstr(err, "--kernel: arm64 Image text_offset 0x200000"));

	make_image(0x80002, MiB, 0);               /* the entry must be an instruction */
	assert_int_equal(parse(sizeof(img), &ii), -ENOEXEC);

	memset(img, 0, sizeof(img));
	img[0] = 0x1f;
	img[1] = 0x8b;                             /* Image.gz */
	assert_int_equal(parse(sizeof(img), &ii), -ENOEXEC);
	assert_non_null(strstr(err, "--kernel: gzip-compressed"));

	memcpy(img, "MZ\0\0zimg", 8);              /* EFI zboot vmlinuz */
	assert_int_equal(parse(sizeof(img), &ii), -ENOEXEC);
	assert_non_null(strstr(err, "--kernel: an EFI zboot image"));
}

static int place(uint64_t image_size, uint64_t text_offset, uint64_t ram, uint64_t isize,
		 struct arm64_boot_result *r)
{
	struct arm64_image_info ii = { .text_offset = text_offset, .image_size = image_size };
	err[0] = 0;
	return arm64_boot_place(&ii, RAM_BASE, ram, isize, r, err, sizeof(err));
}

static void assert_disjoint(const struct arm64_boot_result *r, uint64_t ram)
{
	uint64_t dtb_end = r->dtb_addr + ARM64_DTB_MAX;

	assert_true(r->kernel_addr >= RAM_BASE && r->kernel_end <= r->dtb_addr);
	assert_true(dtb_end <= RAM_BASE + ram);
	assert_int_equal(r->dtb_addr % (2 * MiB), 0);
	if (r->initrd_size) {
		uint64_t i0 = r->initrd_addr, i1 = r->initrd_addr + r->initrd_size;
		assert_int_equal(i0 % 4096, 0);
		assert_true(i0 >= r->kernel_end);
		assert_true(i1 <= r->dtb_addr || i0 >= dtb_end);
		assert_true(i1 <= RAM_BASE + ram);
		/* one 1 GiB aligned 32 GiB window holds kernel and initrd */
		assert_true(i1 <= (r->kernel_addr & ~(GiB - 1)) + 32 * GiB);
	}
}

static void test_place_default_memory(void **state)
{
	struct arm64_boot_result r;

	assert_int_equal(place(40 * MiB, 0, 512 * MiB, 20 * MiB + 123, &r), 0);
	assert_int_equal(r.kernel_addr, RAM_BASE);              /* entry = load address */
	assert_int_equal(r.kernel_end, RAM_BASE + 40 * MiB);
	assert_int_equal(r.dtb_addr, RAM_BASE + 510 * MiB);     /* the top 2 MiB block */
	/* initrd: highest page below the DTB */
	assert_int_equal(r.initrd_addr, (RAM_BASE + 510 * MiB - (20 * MiB + 123)) & ~0xFFFULL);
	assert_int_equal(r.initrd_size, 20 * MiB + 123);
	assert_disjoint(&r, 512 * MiB);
}

static void test_place_text_offset(void **state)
{
	struct arm64_boot_result r;

	assert_int_equal(place(10 * MiB, 0x80000, 64 * MiB, 0, &r), 0);
	assert_int_equal(r.kernel_addr, RAM_BASE + 0x80000);    /* 2 MiB aligned base + offset */
	assert_int_equal(r.initrd_size, 0);
	assert_int_equal(r.dtb_addr, RAM_BASE + 62 * MiB);
	assert_disjoint(&r, 64 * MiB);
}

static void test_place_large_memory(void **state)
{
	struct arm64_boot_result r;

	/* 4 GiB: the DTB stays within 512 MiB of the kernel (older kernels
	 * map only that much early), the initrd goes to the top of RAM. */
	assert_int_equal(place(40 * MiB, 0, 4 * GiB, 100 * MiB, &r), 0);
	assert_int_equal(r.dtb_addr, RAM_BASE + 510 * MiB);
	assert_int_equal(r.initrd_addr, RAM_BASE + 4 * GiB - 100 * MiB);
	assert_disjoint(&r, 4 * GiB);

	/* 64 GiB: the initrd ends at the 32 GiB window, not the end of RAM. */
	assert_int_equal(place(40 * MiB, 0, 64 * GiB, 100 * MiB, &r), 0);
	assert_int_equal(r.initrd_addr, 33 * GiB - 100 * MiB);
	assert_disjoint(&r, 64 * GiB);
}

static void test_place_tight(void **state)
{
	struct arm64_boot_result r;

	/* Exactly enough: kernel 12 MiB, 2 MiB rounding, initrd 2 MiB, DTB 2 MiB. */
	assert_int_equal(place(12 * MiB, 0, 16 * MiB, 2 * MiB, &r), 0);
	assert_int_equal(r.initrd_addr, RAM_BASE + 12 * MiB);
	assert_int_equal(r.dtb_addr, RAM_BASE + 14 * MiB);
	assert_disjoint(&r, 16 * MiB);

	assert_int_equal(place(12 * MiB, 0, 16 * MiB, 2 * MiB + 1, &r), -ENOMEM);
	assert_non_null(strstr(err, "--memory: too small for this kernel and initrd"));
	assert_int_equal(place(15 * MiB, 0, 16 * MiB, 0, &r), -ENOMEM);
	assert_non_null(strstr(err, "--memory"));
	assert_int_equal(place(GiB + 1, 0, 16 * GiB, 0, &r), -ENOMEM);   /* absurd image_size */
	assert_int_equal(place(10 * MiB, 0, 512 * MiB, 600 * MiB, &r), -ENOMEM);
}

static void test_load(void **state)
{
	uint64_t ram_size = 64 * MiB;
	uint8_t *ram = calloc(1, ram_size);
	struct guest_mem gm = { 0 };
	struct arm64_boot_result r;
	uint8_t initrd[5000];

	assert_non_null(ram);
	assert_int_equal(gm_add_region(&gm, RAM_BASE, ram_size, ram), 0);
	memset(initrd, 0xA5, sizeof(initrd));
	make_image(0, 8 * MiB, 0);
	assert_int_equal(arm64_boot_load(&gm, RAM_BASE, ram_size, img, sizeof(img), initrd,
					 sizeof(initrd), "console=ttyS0", &r, err, sizeof(err)), 0);
	assert_memory_equal(ram + (r.kernel_addr - RAM_BASE), img, sizeof(img));
	assert_memory_equal(ram + (r.initrd_addr - RAM_BASE), initrd, sizeof(initrd));
	assert_int_equal(r.dtb_addr, RAM_BASE + 62 * MiB);

	/* no initrd */
	assert_int_equal(arm64_boot_load(&gm, RAM_BASE, ram_size, img, sizeof(img), NULL, 0,
					 "", &r, err, sizeof(err)), 0);
	assert_int_equal(r.initrd_size, 0);

	/* the command line the kernel can take: 2047 bytes and the NUL */
	char *cl = malloc(ARM64_CMDLINE_MAX + 1);
	memset(cl, 'a', ARM64_CMDLINE_MAX);
	cl[ARM64_CMDLINE_MAX - 1] = 0;
	assert_int_equal(arm64_boot_load(&gm, RAM_BASE, ram_size, img, sizeof(img), NULL, 0,
					 cl, &r, err, sizeof(err)), 0);
	cl[ARM64_CMDLINE_MAX - 1] = 'a';
	cl[ARM64_CMDLINE_MAX] = 0;
	assert_int_equal(arm64_boot_load(&gm, RAM_BASE, ram_size, img, sizeof(img), NULL, 0,
					 cl, &r, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "--cmdline: too long"));
	free(cl);

	/* the header is checked before anything is copied */
	memset(ram, 0, ram_size);
	img[ARM64_IMAGE_MAGIC_OFF] = 0;
	assert_int_equal(arm64_boot_load(&gm, RAM_BASE, ram_size, img, sizeof(img), NULL, 0,
					 "", &r, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "--kernel"));
	for (uint64_t i = 0; i < sizeof(img); i++)
		assert_int_equal(ram[i], 0);
	free(ram);
}

static int plan(uint64_t ram_size, size_t isize, const char *cmdline,
		struct arm64_boot_result *r)
{
	err[0] = 0;
	return arm64_boot_plan(RAM_BASE, ram_size, img, sizeof(img), isize, cmdline, r, err,
			       sizeof(err));
}

/* The plan is what kvmini checks before /dev/kvm: it must decide exactly
 * what the load does, and refuse exactly what the load refuses. */
static void test_plan_matches_load(void **state)
{
	uint64_t ram_size = 64 * MiB;
	uint8_t *ram = calloc(1, ram_size);
	struct guest_mem gm = { 0 };
	struct arm64_boot_result p, l;
	static uint8_t initrd[3 * 4096 + 1];

	assert_non_null(ram);
	assert_int_equal(gm_add_region(&gm, RAM_BASE, ram_size, ram), 0);
	make_image(0x80000, 8 * MiB, 0);
	assert_int_equal(plan(ram_size, sizeof(initrd), "console=ttyS0", &p), 0);
	assert_int_equal(arm64_boot_load(&gm, RAM_BASE, ram_size, img, sizeof(img), initrd,
					 sizeof(initrd), "console=ttyS0", &l, err, sizeof(err)), 0);
	assert_memory_equal(&p, &l, sizeof(p));
	assert_int_equal(p.kernel_addr, RAM_BASE + 0x80000);
	assert_int_equal(p.initrd_size, sizeof(initrd));
	free(ram);
}

static void test_plan_fit(void **state)
{
	struct arm64_boot_result r;

	/* 12 MiB kernel + 2 MiB initrd + the DTB's 2 MiB fill 16 MiB exactly. */
	make_image(0, 12 * MiB, 0);
	assert_int_equal(plan(16 * MiB, 2 * MiB, "", &r), 0);
	assert_int_equal(r.initrd_addr, RAM_BASE + 12 * MiB);
	assert_int_equal(plan(16 * MiB, 2 * MiB + 1, "", &r), -ENOMEM);
	assert_non_null(strstr(err, "--memory: too small"));
	assert_non_null(strstr(err, "17 MiB"));     /* says how much would do */
	/* The kernel alone does not fit. */
	make_image(0, 15 * MiB, 0);
	assert_int_equal(plan(16 * MiB, 0, "", &r), -ENOMEM);
	assert_int_equal(strncmp(err, "--memory:", 9), 0);
	/* An initrd larger than RAM, and one whose size would wrap the sums. */
	make_image(0, 8 * MiB, 0);
	assert_int_equal(plan(64 * MiB, 65 * MiB, "", &r), -ENOMEM);
	assert_int_equal(plan(64 * MiB, SIZE_MAX, "", &r), -ENOMEM);
	assert_int_equal(strncmp(err, "--memory:", 9), 0);
}

static void test_plan_cmdline(void **state)
{
	struct arm64_boot_result r;
	char *cl = malloc(ARM64_CMDLINE_MAX + 1);

	assert_non_null(cl);
	make_image(0, 8 * MiB, 0);
	memset(cl, 'c', ARM64_CMDLINE_MAX);
	cl[ARM64_CMDLINE_MAX - 1] = 0;
	assert_int_equal(plan(64 * MiB, 0, cl, &r), 0);
	cl[ARM64_CMDLINE_MAX - 1] = 'c';
	cl[ARM64_CMDLINE_MAX] = 0;
	assert_int_equal(plan(64 * MiB, 0, cl, &r), -E2BIG);
	assert_non_null(strstr(err, "--cmdline: too long (2048 bytes, the kernel accepts 2047)"));
	/* A command line too long is named even when memory is short too:
	 * both are the user's to fix, the line is checked first. */
	assert_int_equal(plan(4 * MiB, 0, cl, &r), -E2BIG);
	free(cl);
}

static void test_plan_rejects_kernel(void **state)
{
	struct arm64_boot_result r;

	make_image(0, 8 * MiB, 0);
	img[ARM64_IMAGE_MAGIC_OFF + 3] = 0;        /* no "ARM\x64" */
	assert_int_equal(plan(64 * MiB, 0, "", &r), -ENOEXEC);
	assert_int_equal(strncmp(err, "--kernel:", 9), 0);
	make_image(0x100001, 8 * MiB, 0);          /* text_offset not a word offset */
	assert_int_equal(plan(64 * MiB, 0, "", &r), -ENOEXEC);
	assert_int_equal(strncmp(err, "--kernel:", 9), 0);
	/* Shorter than the header. */
	make_image(0, 8 * MiB, 0);
	err[0] = 0;
	assert_int_equal(arm64_boot_plan(RAM_BASE, 64 * MiB, img, ARM64_IMAGE_HDR_SIZE - 1, 0, "",
					 &r, err, sizeof(err)), -ENOEXEC);
	assert_int_equal(strncmp(err, "--kernel:", 9), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_modern),
		cmocka_unit_test(test_parse_text_offset_and_be),
		cmocka_unit_test(test_parse_pre_3_17),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_place_default_memory),
		cmocka_unit_test(test_place_text_offset),
		cmocka_unit_test(test_place_large_memory),
		cmocka_unit_test(test_place_tight),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_plan_matches_load),
		cmocka_unit_test(test_plan_fit),
		cmocka_unit_test(test_plan_cmdline),
		cmocka_unit_test(test_plan_rejects_kernel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
