/* The arm64 Image loader (Documentation/arch/arm64/booting.rst). The header
 * is hostile input: every field is checked before it decides an address. */
#include "arm64_image.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "le.h"

#define KiB4  0x1000ULL
#define GiB1  (1ULL << 30)
#define MiB   (1ULL << 20)

static uint64_t align_down(uint64_t v, uint64_t a) { return v & ~(a - 1); }
static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

int arm64_image_parse(const uint8_t *img, size_t size, struct arm64_image_info *ii,
		      char *err, size_t errlen)
{
	memset(ii, 0, sizeof(*ii));
	if (size >= 2 && img[0] == 0x1f && img[1] == 0x8b) {
		snprintf(err, errlen, "--kernel: gzip-compressed; kvmini boots an uncompressed "
			 "arm64 Image (gunzip it first)");
		return -ENOEXEC;
	}
	if (size >= 8 && !memcmp(img, "MZ", 2) && !memcmp(img + 4, "zimg", 4)) {
		snprintf(err, errlen, "--kernel: an EFI zboot image; kvmini boots the plain "
			 "arm64 Image inside it");
		return -ENOEXEC;
	}
	if (size < ARM64_IMAGE_HDR_SIZE || le32_get(img + ARM64_IMAGE_MAGIC_OFF) != ARM64_IMAGE_MAGIC) {
		snprintf(err, errlen, "--kernel: not an arm64 Image (no \"ARM\\x64\" magic at 0x38)");
		return -ENOEXEC;
	}
	ii->image_size = le64_get(img + ARM64_IMAGE_IMAGE_SIZE);
	if (ii->image_size == 0) {
		/* Before v3.17: text_offset 0x80000 in the kernel's byte order,
		 * no size, no flags (booting.rst §4). */
		ii->text_offset = 0x80000;
		ii->image_size = size;
		return 0;
	}
	ii->text_offset = le64_get(img + ARM64_IMAGE_TEXT_OFFSET);
	ii->flags = le64_get(img + ARM64_IMAGE_FLAGS);
	ii->big_endian = (ii->flags & ARM64_IMAGE_FLAG_BE) != 0;
	if (ii->text_offset >= ARM64_KERNEL_ALIGN || (ii->text_offset & 3)) {
		snprintf(err, errlen, "--kernel: arm64 Image text_offset 0x%llx is not a "
			 "word offset below 2 MiB", (unsigned long long)ii->text_offset);
		return -ENOEXEC;
	}
	/* image_size covers bss too; the file may carry more (a PE trailer). */
	if (ii->image_size < size)
		ii->image_size = size;
	return 0;
}

static int too_small(char *err, size_t errlen, uint64_t need)
{
	snprintf(err, errlen,
		 "--memory: too small for this kernel and initrd (they need at least %llu MiB)",
		 (unsigned long long)((need + MiB - 1) / MiB));
	return -ENOMEM;
}

int arm64_boot_place(const struct arm64_image_info *ii, uint64_t ram_base, uint64_t ram_size,
		     uint64_t initrd_size, struct arm64_boot_result *r, char *err, size_t errlen)
{
	uint64_t ram_end = ram_base + ram_size;
	uint64_t base = align_up(ram_base, ARM64_KERNEL_ALIGN);
	/* What the kernel alone needs, counted from ram_base, before we know
	 * more: kernel, its 2 MiB rounding, and the DTB's block. */
	uint64_t need_k;

	memset(r, 0, sizeof(*r));
	if (ii->image_size > GiB1)        /* no kernel is this big; keeps the sums small */
		return too_small(err, errlen, ii->image_size);
	need_k = align_up(base - ram_base + ii->text_offset + ii->image_size, ARM64_KERNEL_ALIGN) +
		 ARM64_DTB_MAX;
	if (need_k > ram_size || initrd_size > ram_size - need_k)
		return too_small(err, errlen, need_k + initrd_size);

	r->kernel_addr = base + ii->text_offset;
	r->kernel_end = r->kernel_addr + ii->image_size;

	/* The DTB: a 2 MiB block of its own, as high as the oldest rule allows. */
	uint64_t dtb_top = align_down(min_u64(ram_end, base + ARM64_DTB_LIMIT), ARM64_KERNEL_ALIGN);
	uint64_t kend2m = align_up(r->kernel_end, ARM64_KERNEL_ALIGN);
	if (dtb_top < kend2m + ARM64_DTB_MAX)
		return too_small(err, errlen, need_k + initrd_size);
	r->dtb_addr = dtb_top - ARM64_DTB_MAX;
	if (!initrd_size)
		return 0;

	/* The initrd: high in the 1 GiB aligned, 32 GiB window that holds the
	 * kernel; else just below the DTB. */
	uint64_t lo = align_up(r->kernel_end, KiB4);
	uint64_t dtb_end = r->dtb_addr + ARM64_DTB_MAX;
	uint64_t top = min_u64(ram_end, align_down(base, GiB1) + ARM64_INITRD_WINDOW);
	uint64_t a;

	if (initrd_size <= top - lo) {
		a = align_down(top - initrd_size, KiB4);
		if (a >= lo && (a >= dtb_end || a + initrd_size <= r->dtb_addr))
			goto found;
	}
	if (initrd_size <= r->dtb_addr - lo) {
		a = align_down(r->dtb_addr - initrd_size, KiB4);
		if (a >= lo)
			goto found;
	}
	return too_small(err, errlen, need_k + initrd_size + KiB4);
found:
	r->initrd_addr = a;
	r->initrd_size = initrd_size;
	return 0;
}

int arm64_boot_plan(uint64_t ram_base, uint64_t ram_size, const uint8_t *kernel, size_t ksize,
		    size_t isize, const char *cmdline, struct arm64_boot_result *r,
		    char *err, size_t errlen)
{
	struct arm64_image_info ii;
	int ret;

	if ((ret = arm64_image_parse(kernel, ksize, &ii, err, errlen)))
		return ret;
	size_t clen = strlen(cmdline) + 1;
	if (clen > ARM64_CMDLINE_MAX) {
		snprintf(err, errlen, "--cmdline: too long (%zu bytes, the kernel accepts %d)",
			 clen - 1, ARM64_CMDLINE_MAX - 1);
		return -E2BIG;
	}
	return arm64_boot_place(&ii, ram_base, ram_size, isize, r, err, errlen);
}

int arm64_boot_load(struct guest_mem *gm, uint64_t ram_base, uint64_t ram_size,
		    const uint8_t *kernel, size_t ksize, const uint8_t *initrd, size_t isize,
		    const char *cmdline, struct arm64_boot_result *r, char *err, size_t errlen)
{
	int ret;

	if (!initrd)
		isize = 0;
	if ((ret = arm64_boot_plan(ram_base, ram_size, kernel, ksize, isize, cmdline, r,
				   err, errlen)))
		return ret;
	if (gm_write(gm, r->kernel_addr, kernel, ksize)) {
		snprintf(err, errlen, "--kernel: cannot copy the Image to 0x%llx",
			 (unsigned long long)r->kernel_addr);
		return -EFAULT;
	}
	if (isize && gm_write(gm, r->initrd_addr, initrd, isize)) {
		snprintf(err, errlen, "--initrd: cannot copy it to 0x%llx",
			 (unsigned long long)r->initrd_addr);
		return -EFAULT;
	}
	return 0;
}
