/* x86 bzImage: the Linux boot protocol's setup header, checked before use.
 * Documentation/arch/x86/boot.rst is the reference for every field. */
#include <errno.h>
#include <stdio.h>

#include "boot.h"
#include "le.h"

/* 2.12 brought xloadflags (XLF_KERNEL_64: the 64-bit entry point we use). */
#define BZ_MIN_VERSION 0x020c

int bzimage_parse(const uint8_t *img, size_t size, struct bzimage_info *bi,
		  char *err, size_t errlen)
{
	if (size < 0x270 || le16_get(img + HDR_BOOT_FLAG) != 0xAA55 ||
	    le32_get(img + HDR_MAGIC) != 0x53726448 /* "HdrS" */) {
		snprintf(err, errlen, "not a bzImage (no Linux boot header)");
		return -ENOEXEC;
	}
	bi->version = le16_get(img + HDR_VERSION);
	if (bi->version < BZ_MIN_VERSION) {
		snprintf(err, errlen, "boot protocol %u.%02u is too old (need 2.12 or later)",
			 bi->version >> 8, bi->version & 0xff);
		return -ENOEXEC;
	}
	unsigned sects = img[HDR_SETUP_SECTS] ? img[HDR_SETUP_SECTS] : 4;
	bi->setup_size = (sects + 1) * 512;
	if (bi->setup_size >= size) {
		snprintf(err, errlen, "bzImage is truncated (setup %u bytes, file %zu)",
			 bi->setup_size, size);
		return -ENOEXEC;
	}
	bi->pm_size = (uint32_t)(size - bi->setup_size);
	bi->xloadflags = le16_get(img + HDR_XLOADFLAGS);
	if (!(bi->xloadflags & XLF_KERNEL_64)) {
		snprintf(err, errlen, "bzImage has no 64-bit entry point (not an x86_64 kernel?)");
		return -ENOEXEC;
	}
	bi->init_size = le32_get(img + HDR_INIT_SIZE);
	if (bi->init_size < bi->pm_size)
		bi->init_size = bi->pm_size;
	bi->kernel_alignment = le32_get(img + HDR_KERNEL_ALIGNMENT);
	if (!bi->kernel_alignment || (bi->kernel_alignment & (bi->kernel_alignment - 1)))
		bi->kernel_alignment = 1;
	bi->pref_address = le64_get(img + HDR_PREF_ADDRESS);
	bi->initrd_addr_max = le32_get(img + HDR_INITRD_ADDR_MAX);
	bi->cmdline_size = le32_get(img + HDR_CMDLINE_SIZE);
	/* The header ends where the 2-byte jump at 0x200 points. */
	bi->hdr_end = 0x202 + img[HDR_JUMP + 1];
	if (bi->hdr_end > bi->setup_size || bi->hdr_end > 0x2d0) {
		snprintf(err, errlen, "bzImage setup header is malformed");
		return -ENOEXEC;
	}
	return 0;
}
