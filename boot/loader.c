/* Reading kernel files and placing kernel, initrd and command line for the
 * two x86 entry paths: the 64-bit Linux boot protocol (bzImage) and PVH. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot.h"
#include "le.h"

#define BOOT_MAX_FILE (4ULL << 30)

int boot_read_file(const char *path, const char *what, uint8_t **data, size_t *size,
		   char *err, size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: cannot open '%s': %s", what, path, strerror(e));
		return -e;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size == 0 ||
	    (uint64_t)st.st_size > BOOT_MAX_FILE) {
		snprintf(err, errlen, "%s: '%s' is not a regular, non-empty file under 4 GiB",
			 what, path);
		close(fd);
		return -EINVAL;
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	int e = errno;
	close(fd);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "%s: cannot read '%s': %s", what, path, strerror(e));
		return -e;
	}
	*data = p;
	*size = (size_t)st.st_size;
	return 0;
}

void boot_unmap_file(const uint8_t *data, size_t size)
{
	if (data && size)
		munmap((void *)data, size);
}

enum kernel_format boot_detect(const uint8_t *img, size_t size)
{
	if (size >= 4 && !memcmp(img, "\177ELF", 4))
		return KERNEL_ELF;
	if (size >= 0x206 && le32_get(img + HDR_MAGIC) == 0x53726448)
		return KERNEL_BZIMAGE;
	if (size >= 0x40 && le32_get(img + 0x38) == 0x644d5241)   /* "ARM\x64" */
		return KERNEL_ARM64_IMAGE;
	return KERNEL_UNKNOWN;
}

static int too_small(char *err, size_t errlen, uint64_t need)
{
	snprintf(err, errlen,
		 "--memory: too small for this kernel and initrd (they need at least %llu MiB)",
		 (unsigned long long)((need >> 20) + ((need & 0xFFFFF) != 0)));
	return -ENOMEM;
}

static void fill_zero_page(uint8_t *zp, const uint8_t *img, const struct bzimage_info *bi,
			   const struct x86_boot_layout *L, const struct x86_boot_result *r)
{
	memset(zp, 0, BP_SIZE);
	memcpy(zp + BP_HDR, img + BP_HDR, bi->hdr_end - BP_HDR);
	le16_put(zp + HDR_VID_MODE, 0xFFFF);          /* "normal" text mode */
	zp[HDR_TYPE_OF_LOADER] = 0xFF;                /* undefined loader id */
	zp[HDR_LOADFLAGS] |= LOADFLAGS_LOADED_HIGH | LOADFLAGS_CAN_USE_HEAP;
	le16_put(zp + HDR_HEAP_END_PTR, 0xFE00);
	le32_put(zp + HDR_CMD_LINE_PTR, (uint32_t)L->cmdline_addr);
	le32_put(zp + BP_EXT_CMD_LINE_PTR, (uint32_t)(L->cmdline_addr >> 32));
	le32_put(zp + HDR_RAMDISK_IMAGE, (uint32_t)r->initrd_addr);
	le32_put(zp + HDR_RAMDISK_SIZE, (uint32_t)r->initrd_size);
	le32_put(zp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(r->initrd_addr >> 32));
	le32_put(zp + BP_EXT_RAMDISK_SIZE, (uint32_t)(r->initrd_size >> 32));
	le64_put(zp + BP_ACPI_RSDP_ADDR, L->rsdp);
	int n = L->nr_e820 < BP_E820_MAX ? L->nr_e820 : BP_E820_MAX;
	zp[BP_E820_ENTRIES] = (uint8_t)n;
	for (int i = 0; i < n; i++) {
		uint8_t *e = zp + BP_E820_TABLE + 20 * i;
		le64_put(e, L->e820[i].addr);
		le64_put(e + 8, L->e820[i].size);
		le32_put(e + 16, L->e820[i].type);
	}
}

static int fill_pvh_info(struct guest_mem *gm, const struct x86_boot_layout *L,
			 const struct x86_boot_result *r)
{
	uint64_t modlist = L->pvh_info + 64;
	uint64_t memmap = modlist + PVH_MODLIST_ENTRY;
	uint8_t *p = gm_ptr(gm, L->pvh_info, memmap - L->pvh_info +
			    (uint64_t)L->nr_e820 * PVH_MEMMAP_ENTRY);
	if (!p)
		return -EFAULT;
	memset(p, 0, memmap - L->pvh_info);
	le32_put(p + 0, PVH_MAGIC);
	le32_put(p + 4, 1);                               /* version: has memmap */
	le32_put(p + 12, r->initrd_size ? 1 : 0);         /* nr_modules */
	le64_put(p + 16, modlist);
	le64_put(p + 24, L->cmdline_addr);
	le64_put(p + 32, L->rsdp);
	le64_put(p + 40, memmap);
	le32_put(p + 48, (uint32_t)L->nr_e820);
	uint8_t *m = p + (modlist - L->pvh_info);
	le64_put(m, r->initrd_addr);
	le64_put(m + 8, r->initrd_size);
	for (int i = 0; i < L->nr_e820; i++) {
		uint8_t *e = p + (memmap - L->pvh_info) + PVH_MEMMAP_ENTRY * i;
		le64_put(e, L->e820[i].addr);
		le64_put(e + 8, L->e820[i].size);
		le32_put(e + 16, L->e820[i].type);
		le32_put(e + 20, 0);
	}
	return 0;
}

/* The decompressor copies itself to max(load address rounded up to
 * kernel_alignment, LOAD_PHYSICAL_ADDR = pref_address) and needs init_size
 * bytes from there (arch/x86/boot/compressed/head_64.S): that, not the load
 * address, is where the kernel's memory ends. */
static uint64_t bzimage_footprint_end(const struct bzimage_info *bi, uint64_t load)
{
	uint64_t a = bi->kernel_alignment;
	uint64_t run = (load + a - 1) & ~(a - 1);

	if (run < bi->pref_address)
		run = bi->pref_address;
	/* pref_address is the file's word: near 2^64 the sum would wrap to a
	 * small end that looks as if it fit. Saturate: "needs more than any
	 * RAM". */
	if (run > UINT64_MAX - bi->init_size)
		return UINT64_MAX;
	return run + bi->init_size;
}

/* Decides where the kernel runs and how far it reaches, where an initrd
 * may go, and how long a command line it takes. */
static int plan_kernel(const struct x86_boot_layout *L, const uint8_t *k, size_t ksize,
		       struct x86_boot_result *r, uint64_t *initrd_limit, uint64_t *cmdline_max,
		       char *err, size_t errlen)
{
	int ret;

	switch (boot_detect(k, ksize)) {
	case KERNEL_BZIMAGE:
		if ((ret = bzimage_parse(k, ksize, &r->bz, err, errlen)))
			return ret;
		r->mode = X86_ENTRY_64;
		r->entry = L->kernel_addr + 0x200;   /* 64-bit entry: startup_64 */
		r->arg = L->zero_page;
		r->kernel_end = bzimage_footprint_end(&r->bz, L->kernel_addr);
		if (r->kernel_end > L->lowmem_end)
			return too_small(err, errlen, r->kernel_end);
		*initrd_limit = (uint64_t)r->bz.initrd_addr_max + 1;
		if (r->bz.cmdline_size + 1ULL < *cmdline_max)
			*cmdline_max = r->bz.cmdline_size + 1ULL;
		return 0;
	case KERNEL_ELF: {
		struct elf_pvh_info ei;
		if ((ret = elf_pvh_parse(k, ksize, &ei, err, errlen)))
			return ret;
		if (ei.lowest < L->kernel_addr) {
			snprintf(err, errlen, "--kernel: ELF kernel loads below 1 MiB (0x%llx)",
				 (unsigned long long)ei.lowest);
			return -ENOEXEC;
		}
		if (ei.highest > L->lowmem_end)
			return too_small(err, errlen, ei.highest);
		r->mode = X86_ENTRY_PVH32;
		r->entry = ei.entry;
		r->arg = L->pvh_info;
		r->kernel_end = ei.highest;
		*initrd_limit = L->lowmem_end;
		return 0;
	}
	default:
		snprintf(err, errlen, "--kernel: not a bzImage or ELF kernel");
		return -ENOEXEC;
	}
}

/* Every loader message names the option it is about; the parsers' own
 * messages are about the kernel file. */
static void name_kernel(char *err, size_t errlen)
{
	if (strncmp(err, "--", 2)) {
		char why[BOOT_ERR_MAX];
		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "--kernel: %s", why);
	}
}

int x86_boot_plan(const struct x86_boot_layout *L, const uint8_t *kernel, size_t ksize,
		  size_t isize, const char *cmdline, struct x86_boot_result *r,
		  char *err, size_t errlen)
{
	uint64_t initrd_limit, cmdline_max = L->cmdline_max;
	int ret;

	memset(r, 0, sizeof(*r));
	ret = plan_kernel(L, kernel, ksize, r, &initrd_limit, &cmdline_max, err, errlen);
	if (ret) {
		name_kernel(err, errlen);
		return ret;
	}
	if (initrd_limit > L->lowmem_end)
		initrd_limit = L->lowmem_end;
	if (isize) {
		/* As high as the kernel allows, page-aligned, above its footprint. */
		uint64_t kend = (r->kernel_end + 0xFFF) & ~0xFFFULL;
		if (isize > initrd_limit || ((initrd_limit - isize) & ~0xFFFULL) < r->kernel_end)
			return too_small(err, errlen, kend > UINT64_MAX - isize ? UINT64_MAX
									      : kend + isize);
		r->initrd_addr = (initrd_limit - isize) & ~0xFFFULL;
		r->initrd_size = isize;
	}
	size_t clen = strlen(cmdline) + 1;
	if (clen > cmdline_max) {
		snprintf(err, errlen, "--cmdline: too long (%zu bytes, the kernel accepts %llu)",
			 clen - 1, (unsigned long long)cmdline_max - 1);
		return -E2BIG;
	}
	return 0;
}

int x86_boot_load(struct guest_mem *gm, const struct x86_boot_layout *L,
		  const uint8_t *kernel, size_t ksize,
		  const uint8_t *initrd, size_t isize, const char *cmdline,
		  struct x86_boot_result *r, char *err, size_t errlen)
{
	int ret;

	if (!initrd)
		isize = 0;
	if ((ret = x86_boot_plan(L, kernel, ksize, isize, cmdline, r, err, errlen)))
		return ret;
	/* The plan checked every address against lowmem_end; gm_ptr checks
	 * them against the RAM actually there. */
	if (r->mode == X86_ENTRY_64) {
		uint8_t *dst = gm_ptr(gm, L->kernel_addr, r->bz.pm_size);
		if (!dst)
			return too_small(err, errlen, L->kernel_addr + r->bz.pm_size);
		memcpy(dst, kernel + r->bz.setup_size, r->bz.pm_size);
	} else if ((ret = elf_pvh_load(kernel, ksize, gm, err, errlen))) {
		name_kernel(err, errlen);
		return ret;
	}
	if (isize && gm_write(gm, r->initrd_addr, initrd, isize))
		return too_small(err, errlen, r->initrd_addr + isize);
	if (gm_write(gm, L->cmdline_addr, cmdline, strlen(cmdline) + 1))
		return -EFAULT;

	if (r->mode == X86_ENTRY_64) {
		uint8_t *zp = gm_ptr(gm, L->zero_page, BP_SIZE);
		if (!zp)
			return -EFAULT;
		fill_zero_page(zp, kernel, &r->bz, L, r);
		return 0;
	}
	return fill_pvh_info(gm, L, r);
}
