/* Kernel loaders. Each takes the kernel file as bytes, checks it as hostile
 * input (every offset and length against the file and against guest RAM), and
 * places it into guest memory. Errors come back as -errno plus a message. */
#ifndef KVMINI_BOOT_BOOT_H
#define KVMINI_BOOT_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "guest_mem.h"
#include "x86_bootproto.h"

#define BOOT_ERR_MAX 256

enum kernel_format { KERNEL_UNKNOWN, KERNEL_BZIMAGE, KERNEL_ELF, KERNEL_ARM64_IMAGE };

/* Maps a whole file read-only (private), for as long as it takes to check
 * or load it: kvmini keeps no copy of a kernel or initrd once it is in guest
 * RAM (the page cache has it). 0 or -errno (message in err naming what).
 * Release with boot_unmap_file. */
int boot_read_file(const char *path, const char *what, uint8_t **data, size_t *size,
		   char *err, size_t errlen);
void boot_unmap_file(const uint8_t *data, size_t size);

enum kernel_format boot_detect(const uint8_t *img, size_t size);

/* ---- x86 bzImage (Linux boot protocol >= 2.12, 64-bit entry) ---- */
struct bzimage_info {
	uint16_t version;
	uint32_t setup_size;      /* bytes before the protected-mode code */
	uint32_t pm_size;         /* protected-mode code size in the file */
	uint32_t init_size;       /* memory the decompressor needs from where it runs */
	uint32_t kernel_alignment;
	uint64_t pref_address;    /* LOAD_PHYSICAL_ADDR: the decompressor never runs below it */
	uint32_t initrd_addr_max;
	uint32_t cmdline_size;    /* max length, without the NUL */
	uint16_t xloadflags;
	uint32_t hdr_end;         /* end of the setup header in the file */
};

int bzimage_parse(const uint8_t *img, size_t size, struct bzimage_info *bi,
		  char *err, size_t errlen);

/* ---- ELF vmlinux with a PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY) ---- */
struct elf_pvh_info {
	uint32_t entry;           /* 32-bit protected-mode entry point */
	uint64_t lowest, highest; /* physical range of the PT_LOAD segments */
};

int elf_pvh_parse(const uint8_t *img, size_t size, struct elf_pvh_info *ei,
		  char *err, size_t errlen);
/* Copies the PT_LOAD segments to their physical addresses, zeroing bss. */
int elf_pvh_load(const uint8_t *img, size_t size, struct guest_mem *gm,
		 char *err, size_t errlen);

/* ---- Putting it together for x86 ---- */
struct x86_boot_layout {
	uint64_t lowmem_end;      /* end of RAM below 4 GiB */
	uint64_t kernel_addr;     /* where bzImage protected-mode code goes */
	uint64_t zero_page;       /* boot_params */
	uint64_t pvh_info;        /* hvm_start_info, memmap and modlist follow */
	uint64_t cmdline_addr;
	uint64_t cmdline_max;     /* room at cmdline_addr, including the NUL */
	uint64_t rsdp;
	const struct e820_entry *e820;
	int nr_e820;
};

enum x86_entry_mode { X86_ENTRY_64, X86_ENTRY_PVH32 };

struct x86_boot_result {
	enum x86_entry_mode mode;
	uint64_t entry;           /* rip */
	uint64_t arg;             /* rsi (64-bit: boot_params) or rbx (PVH: start info) */
	uint64_t initrd_addr, initrd_size;
	uint64_t kernel_end;
	struct bzimage_info bz;   /* the parsed setup header (X86_ENTRY_64 only) */
};

/* Everything x86_boot_load decides, without guest memory, so a bad kernel,
 * an initrd that does not fit or an over-long command line is named before a
 * VM exists: parses the kernel (bzImage or PVH ELF), places it and an initrd
 * of isize bytes (0: none) below L->lowmem_end, checks cmdline against the
 * kernel's and the layout's limit, and fills r. Reads only lowmem_end,
 * kernel_addr, zero_page, pvh_info and cmdline_max of L. 0, or -errno with a
 * message naming the option (--kernel, --memory, --cmdline). */
int x86_boot_plan(const struct x86_boot_layout *L, const uint8_t *kernel, size_t ksize,
		  size_t isize, const char *cmdline, struct x86_boot_result *r,
		  char *err, size_t errlen);

/* x86_boot_plan, then the copying: kernel, initrd (may be NULL) and cmdline
 * per the layout, and the zero page or the PVH start info. */
int x86_boot_load(struct guest_mem *gm, const struct x86_boot_layout *L,
		  const uint8_t *kernel, size_t ksize,
		  const uint8_t *initrd, size_t isize, const char *cmdline,
		  struct x86_boot_result *res, char *err, size_t errlen);

#endif
