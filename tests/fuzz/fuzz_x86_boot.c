/* The x86 kernel loaders (boot/bzimage.c, boot/elf_pvh.c, boot/loader.c):
 * a kernel file planned and loaded into guest RAM the way the VMM does it
 * (arch/x86/machine.c's layout). Built twice: fuzz_bzimage keeps the inputs
 * that look like a bzImage, fuzz_elf_pvh those that look like an ELF file,
 * so each corpus stays on its own parser.
 *
 * Input: one configuration byte, then the kernel file.
 *   bits 0-1  lowmem_end: 16 MiB, 40 MiB, 64 MiB (all of the fake RAM), 3 GiB
 *             (more than there is: the load must fail cleanly)
 *   bits 2-3  initrd size: none, 4 KiB + 1, 1 MiB, 2 GiB (plan only)
 *   bits 4-5  command line length: 0, 100, 2047, 5000 bytes
 *
 * Checked on success: the kernel's footprint [kernel_addr, kernel_end)
 * covers what is copied and lies under lowmem_end; the initrd lies above the
 * footprint, under lowmem_end (and initrd_addr_max for a bzImage), page
 * aligned; the command line fits the kernel's limit; the bytes in guest RAM
 * are the file's. Guard pages around the fake RAM catch stray copies. */
#include "fuzz_common.h"

#include "boot.h"
#include "le.h"

#define RAM_SIZE (64ull << 20)
#define KERNEL_ADDR 0x100000ull

static const uint64_t lowmem[4] = { 16ull << 20, 40ull << 20, RAM_SIZE, 3ull << 30 };
static const size_t initrd_sizes[4] = { 0, 0x1001, 1u << 20, 2ull << 30 };
static const size_t cmd_lens[4] = { 0, 100, 2047, 5000 };

static uint8_t initrd_buf[1u << 20];
static char cmdline[5001];

static void check_bz(const struct x86_boot_layout *L, const struct x86_boot_result *r,
		     size_t isize, size_t clen)
{
	FZ_CHECK(r->mode == X86_ENTRY_64);
	FZ_CHECK(r->entry == L->kernel_addr + 0x200);
	FZ_CHECK(r->bz.setup_size + (uint64_t)r->bz.pm_size > r->bz.setup_size);
	/* The footprint covers the copied code and stays under lowmem_end. */
	FZ_CHECK(r->kernel_end >= L->kernel_addr + r->bz.pm_size);
	FZ_CHECK(r->kernel_end <= L->lowmem_end);
	FZ_CHECK(clen + 1 <= r->bz.cmdline_size + 1ull && clen + 1 <= L->cmdline_max);
	if (isize) {
		FZ_CHECK(r->initrd_size == isize);
		FZ_CHECK(!(r->initrd_addr & 0xfff));
		FZ_CHECK(r->initrd_addr >= r->kernel_end);
		FZ_CHECK(r->initrd_addr + isize <= L->lowmem_end);
		FZ_CHECK(r->initrd_addr + isize <= r->bz.initrd_addr_max + 1ull);
	}
}

static void check_elf(const struct x86_boot_layout *L, const struct x86_boot_result *r,
		      const uint8_t *k, size_t ksize, size_t isize, size_t clen)
{
	unsigned phnum = le16_get(k + 56);
	uint64_t phoff = le64_get(k + 32);
	uint16_t phentsize = le16_get(k + 54);

	FZ_CHECK(r->mode == X86_ENTRY_PVH32);
	FZ_CHECK(r->kernel_end <= L->lowmem_end);
	FZ_CHECK(clen + 1 <= L->cmdline_max);
	/* Every loadable segment inside [kernel_addr, kernel_end). */
	for (unsigned i = 0; i < phnum; i++) {
		uint64_t off = phoff + (uint64_t)i * phentsize;
		FZ_CHECK(off <= ksize && ksize - off >= 56);
		const uint8_t *p = k + off;
		uint64_t paddr = le64_get(p + 24), memsz = le64_get(p + 40);
		if (le32_get(p) != 1 /* PT_LOAD */ || !memsz)
			continue;
		FZ_CHECK(paddr >= L->kernel_addr);
		FZ_CHECK(paddr + memsz >= paddr && paddr + memsz <= r->kernel_end);
	}
	if (isize) {
		FZ_CHECK(!(r->initrd_addr & 0xfff));
		FZ_CHECK(r->initrd_addr >= r->kernel_end);
		FZ_CHECK(r->initrd_addr + isize <= L->lowmem_end);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t gpa[1] = { 0 };
	static const size_t sz[1] = { RAM_SIZE };
	static const struct e820_entry e820[3] = {
		{ 0, 0x9fc00, E820_RAM }, { 0x9fc00, 0x60400, E820_RESERVED },
		{ 0x100000, RAM_SIZE - 0x100000, E820_RAM },
	};
	struct x86_boot_result r;
	char err[BOOT_ERR_MAX];

	if (size < 1)
		return 0;
	uint8_t cfg = data[0];
	const uint8_t *k = data + 1;
	size_t ksize = size - 1;
#if FUZZ_FORMAT_ELF
	if (boot_detect(k, ksize) != KERNEL_ELF)
		return 0;
#else
	if (boot_detect(k, ksize) != KERNEL_BZIMAGE)
		return 0;
#endif
	struct x86_boot_layout L = {
		.lowmem_end = lowmem[cfg & 3],
		.kernel_addr = KERNEL_ADDR,
		.zero_page = 0x7000,
		.pvh_info = 0x6000,
		.cmdline_addr = 0x20000,
		.cmdline_max = 4096,
		.rsdp = 0xe0000,
		.e820 = e820,
		.nr_e820 = 3,
	};
	size_t isize = initrd_sizes[(cfg >> 2) & 3];
	size_t clen = cmd_lens[(cfg >> 4) & 3];

	memset(cmdline, 'k', clen);
	cmdline[clen] = 0;
	err[0] = 0;
	int rc = x86_boot_plan(&L, k, ksize, isize, cmdline, &r, err, sizeof(err));
	FZ_CHECK(rc <= 0);
	if (rc) {
		FZ_CHECK(err[0] == '-' && err[1] == '-');   /* names the option */
		return 0;
	}
	if (r.mode == X86_ENTRY_64)
		check_bz(&L, &r, isize, clen);
	else
		check_elf(&L, &r, k, ksize, isize, clen);
	if (isize > sizeof(initrd_buf))
		return 0;   /* plan only */

	struct fuzz_ram *m = fuzz_ram_get(gpa, sz, 1);
	struct x86_boot_result r2;
	rc = x86_boot_load(&m->gm, &L, k, ksize, isize ? initrd_buf : NULL, isize, cmdline, &r2,
			   err, sizeof(err));
	FZ_CHECK(rc <= 0);
	if (rc) {
		/* Only a layout larger than the RAM there may fail after a good plan. */
		FZ_CHECK(L.lowmem_end > RAM_SIZE);
		return 0;
	}
	FZ_CHECK(memcmp(&r, &r2, sizeof(r)) == 0);
	if (r.mode == X86_ENTRY_64) {
		const uint8_t *dst = fuzz_ram_ptr(m, L.kernel_addr, r.bz.pm_size);
		FZ_CHECK(dst && !memcmp(dst, k + r.bz.setup_size, r.bz.pm_size));
		const uint8_t *zp = fuzz_ram_ptr(m, L.zero_page, BP_SIZE);
		FZ_CHECK(zp && le32_get(zp + HDR_CMD_LINE_PTR) == L.cmdline_addr);
	}
	const char *cl = (const char *)fuzz_ram_ptr(m, L.cmdline_addr, clen + 1);
	FZ_CHECK(cl && cl[clen] == 0 && strlen(cl) == clen);
	return 0;
}
