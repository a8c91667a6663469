/* ELF vmlinux entered through PVH: the kernel advertises a 32-bit physical
 * entry point in a Xen ELF note (XEN_ELFNOTE_PHYS32_ENTRY = 18) and is loaded
 * by program headers, skipping the bzImage decompressor entirely. */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "boot.h"
#include "le.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* ELF fields are read with explicit little-endian helpers: the files are
 * x86_64 ELF (ELFDATA2LSB) whatever the host's byte order. */
struct phdr {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
};

static int get_phdr(const uint8_t *img, size_t size, unsigned i, struct phdr *ph)
{
	uint64_t phoff = le64_get(img + 32);
	uint16_t phentsize = le16_get(img + 54);
	uint64_t off = phoff + (uint64_t)i * phentsize;

	if (phentsize < 56 || phoff > size || off > size || size - off < 56)
		return -ENOEXEC;
	const uint8_t *p = img + off;
	ph->type = le32_get(p);
	ph->offset = le64_get(p + 8);
	ph->paddr = le64_get(p + 24);
	ph->filesz = le64_get(p + 32);
	ph->memsz = le64_get(p + 40);
	if (ph->offset > size || ph->filesz > size - ph->offset || ph->filesz > ph->memsz ||
	    ph->paddr + ph->memsz < ph->paddr)
		return -ENOEXEC;
	return 0;
}

/* Walks one PT_NOTE segment looking for the Xen PHYS32 entry note. */
static int find_pvh_note(const uint8_t *p, uint64_t len, uint32_t *entry)
{
	uint64_t off = 0;

	while (len - off >= 12) {
		uint32_t namesz = le32_get(p + off), descsz = le32_get(p + off + 4);
		uint32_t type = le32_get(p + off + 8);
		uint64_t name_off = off + 12;
		uint64_t desc_off = name_off + ((namesz + 3ULL) & ~3ULL);
		uint64_t next = desc_off + ((descsz + 3ULL) & ~3ULL);

		if (next > len)
			return -ENOEXEC;
		if (namesz == 4 && !memcmp(p + name_off, "Xen", 4) &&
		    type == XEN_ELFNOTE_PHYS32_ENTRY && descsz >= 4) {
			*entry = le32_get(p + desc_off);
			return 0;
		}
		off = next;
	}
	return -ENOENT;
}

int elf_pvh_parse(const uint8_t *img, size_t size, struct elf_pvh_info *ei,
		  char *err, size_t errlen)
{
	if (size < 64 || memcmp(img, ELFMAG, SELFMAG)) {
		snprintf(err, errlen, "not an ELF file");
		return -ENOEXEC;
	}
	if (img[EI_CLASS] != ELFCLASS64 || img[EI_DATA] != ELFDATA2LSB ||
	    le16_get(img + 18) != EM_X86_64) {
		snprintf(err, errlen, "ELF kernel is not x86_64 (64-bit little-endian)");
		return -ENOEXEC;
	}
	unsigned phnum = le16_get(img + 56);
	int found = 0, loads = 0;

	ei->lowest = UINT64_MAX;
	ei->highest = 0;
	for (unsigned i = 0; i < phnum; i++) {
		struct phdr ph;
		if (get_phdr(img, size, i, &ph)) {
			snprintf(err, errlen, "ELF program header %u is malformed", i);
			return -ENOEXEC;
		}
		if (ph.type == PT_NOTE && !found)
			found = !find_pvh_note(img + ph.offset, ph.filesz, &ei->entry);
		if (ph.type == PT_LOAD && ph.memsz) {
			loads++;
			if (ph.paddr < ei->lowest)
				ei->lowest = ph.paddr;
			if (ph.paddr + ph.memsz > ei->highest)
				ei->highest = ph.paddr + ph.memsz;
		}
	}
	if (!found) {
		snprintf(err, errlen, "ELF kernel has no PVH entry note (needs CONFIG_PVH=y)");
		return -ENOEXEC;
	}
	if (!loads) {
		snprintf(err, errlen, "ELF kernel has no loadable segments");
		return -ENOEXEC;
	}
	return 0;
}

int elf_pvh_load(const uint8_t *img, size_t size, struct guest_mem *gm,
		 char *err, size_t errlen)
{
	unsigned phnum = le16_get(img + 56);

	for (unsigned i = 0; i < phnum; i++) {
		struct phdr ph;
		if (get_phdr(img, size, i, &ph))
			return -ENOEXEC;   /* parse already said why */
		if (ph.type != PT_LOAD || !ph.memsz)
			continue;
		uint8_t *dst = gm_ptr(gm, ph.paddr, ph.memsz);
		if (!dst) {
			snprintf(err, errlen,
				 "kernel segment at 0x%llx (+%llu bytes) does not fit in guest memory",
				 (unsigned long long)ph.paddr, (unsigned long long)ph.memsz);
			return -ENOMEM;
		}
		memcpy(dst, img + ph.offset, ph.filesz);
		memset(dst + ph.filesz, 0, ph.memsz - ph.filesz);
	}
	return 0;
}
