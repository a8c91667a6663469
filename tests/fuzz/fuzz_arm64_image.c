/* The arm64 Image loader (boot/arm64_image.c): an Image file planned and
 * loaded into guest RAM as the arm64 VMM does (kernel at the 2 MiB aligned
 * start of RAM + text_offset, DTB block, initrd high).
 *
 * Input: one configuration byte, then the Image file.
 *   bits 0-1  RAM base: 0x40000000, 0x80000000, 0x40100000 (not 2 MiB
 *             aligned), 0x4_0000_0000
 *   bits 2-3  RAM size: 16 MiB, 64 MiB (all of the fake RAM), 700 MiB,
 *             40 GiB (more than there is: the load must fail cleanly)
 *   bits 4-5  initrd size: none, 4 KiB + 1, 1 MiB, 3 GiB (plan only)
 *   bit 6     command line of 3000 bytes (too long) instead of 20
 *
 * Checked on success: kernel, DTB block and initrd inside RAM, aligned as
 * booting.rst asks, and not overlapping; the Image's bytes are in RAM at
 * the kernel address. Guard pages around the fake RAM catch stray copies. */
#include "fuzz_common.h"

#include "arm64_image.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define FAKE_RAM (64ull << 20)

static const uint64_t bases[4] = { 0x40000000ull, 0x80000000ull, 0x40100000ull, 0x400000000ull };
static const uint64_t sizes[4] = { 16 * MiB, FAKE_RAM, 700 * MiB, 40 * GiB };
static const size_t initrd_sizes[4] = { 0, 0x1001, 1u << 20, 3ull << 30 };

static uint8_t initrd_buf[1u << 20];

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arm64_boot_result r, r2;
	char err[256], cmdline[3001];

	if (size < 1)
		return 0;
	uint8_t cfg = data[0];
	const uint8_t *k = data + 1;
	size_t ksize = size - 1;
	uint64_t base = bases[cfg & 3], ram = sizes[(cfg >> 2) & 3];
	size_t isize = initrd_sizes[(cfg >> 4) & 3];
	size_t clen = cfg & 0x40 ? 3000 : 20;

	memset(cmdline, 'a', clen);
	cmdline[clen] = 0;
	err[0] = 0;
	int rc = arm64_boot_plan(base, ram, k, ksize, isize, cmdline, &r, err, sizeof(err));
	FZ_CHECK(rc <= 0);
	if (rc) {
		FZ_CHECK(err[0] == '-' && err[1] == '-');
		return 0;
	}
	uint64_t end = base + ram;
	FZ_CHECK(clen < 2048);
	FZ_CHECK((r.kernel_addr & ~(2 * MiB - 1)) >= base);
	FZ_CHECK(r.kernel_end >= r.kernel_addr + ksize && r.kernel_end <= end);
	FZ_CHECK(!(r.dtb_addr % (2 * MiB)) && r.dtb_addr >= base && r.dtb_addr + 2 * MiB <= end);
	FZ_CHECK(!overlap(r.kernel_addr, r.kernel_end - r.kernel_addr, r.dtb_addr, 2 * MiB));
	/* Before Linux 4.2 the DTB must lie within 512 MiB of the kernel. */
	FZ_CHECK(r.dtb_addr + 2 * MiB <= (r.kernel_addr & ~(2 * MiB - 1)) + 512 * MiB);
	if (isize) {
		FZ_CHECK(r.initrd_size == isize && !(r.initrd_addr & 0xfff));
		FZ_CHECK(r.initrd_addr >= base && r.initrd_addr + isize <= end);
		FZ_CHECK(!overlap(r.initrd_addr, isize, r.kernel_addr, r.kernel_end - r.kernel_addr));
		FZ_CHECK(!overlap(r.initrd_addr, isize, r.dtb_addr, 2 * MiB));
	}
	if (isize > sizeof(initrd_buf))
		return 0;   /* plan only */

	const uint64_t gpa[1] = { base };
	const size_t sz[1] = { FAKE_RAM };
	struct fuzz_ram *m = fuzz_ram_get(gpa, sz, 1);
	rc = arm64_boot_load(&m->gm, base, ram, k, ksize, isize ? initrd_buf : NULL, isize,
			     cmdline, &r2, err, sizeof(err));
	FZ_CHECK(rc <= 0);
	if (rc) {
		FZ_CHECK(ram > FAKE_RAM);
		return 0;
	}
	FZ_CHECK(!memcmp(&r, &r2, sizeof(r)));
	const uint8_t *dst = fuzz_ram_ptr(m, r.kernel_addr, ksize);
	FZ_CHECK(dst && !memcmp(dst, k, ksize));
	return 0;
}
