/* The arm64 Linux boot protocol (Documentation/arch/arm64/booting.rst): the
 * "Image" file with its 64-byte header, and where kernel, initrd and device
 * tree go in RAM. Pure functions over a byte buffer and guest memory, built
 * and tested on every host; the device tree itself is arch/arm64/fdt.c. */
#ifndef KVMINI_BOOT_ARM64_IMAGE_H
#define KVMINI_BOOT_ARM64_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "guest_mem.h"

/* Header fields (booting.rst §4; little-endian since v3.17). */
#define ARM64_IMAGE_HDR_SIZE     64
#define ARM64_IMAGE_TEXT_OFFSET  0x08
#define ARM64_IMAGE_IMAGE_SIZE   0x10
#define ARM64_IMAGE_FLAGS        0x18
#define ARM64_IMAGE_MAGIC_OFF    0x38
#define ARM64_IMAGE_MAGIC        0x644d5241u   /* "ARM\x64" */
#define ARM64_IMAGE_FLAG_BE      (1u << 0)     /* kernel is big-endian */

#define ARM64_KERNEL_ALIGN       (2ULL << 20)  /* the Image's base: 2 MiB aligned */
#define ARM64_DTB_MAX            (2ULL << 20)  /* booting.rst §2: at most 2 MiB */
#define ARM64_DTB_LIMIT          (512ULL << 20) /* pre-4.2 kernels: DTB within 512 MiB of the kernel */
#define ARM64_INITRD_WINDOW      (32ULL << 30) /* initrd and kernel in one 1 GiB aligned 32 GiB window */
#define ARM64_CMDLINE_MAX        2048          /* COMMAND_LINE_SIZE, with the NUL */

struct arm64_image_info {
	uint64_t text_offset;     /* from the header; 0x80000 for pre-3.17 images */
	uint64_t image_size;      /* memory the kernel occupies from its load address */
	uint64_t flags;
	int big_endian;           /* flags bit 0: the kernel switches itself to BE */
};

/* Checks the header (hostile input). 0, or -ENOEXEC with a message. */
int arm64_image_parse(const uint8_t *img, size_t size, struct arm64_image_info *ii,
		      char *err, size_t errlen);

struct arm64_boot_result {
	uint64_t kernel_addr;     /* = entry point (booting.rst: branch to the first word) */
	uint64_t kernel_end;
	uint64_t initrd_addr, initrd_size;
	uint64_t dtb_addr;        /* a 2 MiB block of its own: ARM64_DTB_MAX bytes free */
};

/* Where everything goes in [ram_base, ram_base + ram_size): the kernel at
 * the 2 MiB aligned start of RAM + text_offset; the DTB in the highest 2 MiB
 * block below min(RAM end, kernel base + 512 MiB); the initrd as high as
 * possible inside the kernel's 32 GiB window without touching either.
 * 0 or -ENOMEM with a "--memory: ..." message. */
int arm64_boot_place(const struct arm64_image_info *ii, uint64_t ram_base, uint64_t ram_size,
		     uint64_t initrd_size, struct arm64_boot_result *r, char *err, size_t errlen);

/* Everything arm64_boot_load decides, without guest memory, so a bad
 * Image, an initrd that does not fit or an over-long command line is named
 * before a VM exists: parses the Image, checks the command line's length and
 * places kernel, an initrd of isize bytes (0: none) and the DTB. Errors name
 * the option (--kernel, --memory, --cmdline). */
int arm64_boot_plan(uint64_t ram_base, uint64_t ram_size, const uint8_t *kernel, size_t ksize,
		    size_t isize, const char *cmdline, struct arm64_boot_result *r,
		    char *err, size_t errlen);

/* arm64_boot_plan, then copies the Image and the initrd (may be NULL) into
 * guest RAM. The caller writes the device tree at r->dtb_addr. Errors name
 * the option (--kernel, --initrd, --memory, --cmdline). */
int arm64_boot_load(struct guest_mem *gm, uint64_t ram_base, uint64_t ram_size,
		    const uint8_t *kernel, size_t ksize, const uint8_t *initrd, size_t isize,
		    const char *cmdline, struct arm64_boot_result *r, char *err, size_t errlen);

#endif
