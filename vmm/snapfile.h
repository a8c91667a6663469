/* The snapshot file format (kvmini snapshot DIR/state): a fixed header,
 * then tagged sections, then an END section with a CRC-32 of everything
 * before it. Pure functions over a byte buffer: unit-tested, and the one
 * place that decides whether a file is a snapshot this kvmini can restore.
 *
 *   header (64 bytes, every integer little-endian):
 *     0  "KVMISNAP"             magic
 *     8  u32 format version      SNAP_FORMAT_VERSION; a newer one is refused
 *    12  u32 architecture        SNAP_ARCH_*
 *    16  char[16] kvmini version that wrote it, NUL-padded
 *    32  u64 guest RAM bytes     (DIR/memory holds exactly this many)
 *    40  u32 vCPUs
 *    44  u32 header size         64; a later kvmini may grow the header
 *    48  u64 creation time       seconds since the epoch
 *    56  u64 reserved
 *   sections, each: u32 tag, u32 instance, u32 version, u32 length, payload
 *   END: tag "END ", instance 0, version 1, length 4, u32 CRC-32 (IEEE) of
 *        every byte before this section's header
 *
 * A section's payload is what its owner saved (devices/state.h): tags and
 * versions let a later kvmini read an older snapshot section by section,
 * and refuse in one line what it cannot. */
#ifndef KVMINI_VMM_SNAPFILE_H
#define KVMINI_VMM_SNAPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "state.h"

#define SNAP_MAGIC "KVMISNAP"
#define SNAP_FORMAT_VERSION 1
#define SNAP_HEADER_SIZE 64

enum snap_arch { SNAP_ARCH_X86_64 = 1, SNAP_ARCH_AARCH64 = 2 };

#if defined(__x86_64__)
#define SNAP_ARCH_HERE SNAP_ARCH_X86_64
#elif defined(__aarch64__)
#define SNAP_ARCH_HERE SNAP_ARCH_AARCH64
#else
#define SNAP_ARCH_HERE 0
#endif

/* Top-level section tags */
#define SNAP_TAG_CONF STATE_TAG('C', 'O', 'N', 'F')   /* the machine: kvmini run options */
#define SNAP_TAG_VCPU STATE_TAG('V', 'C', 'P', 'U')   /* one per vCPU (instance = id) */
#define SNAP_TAG_ARCH STATE_TAG('A', 'R', 'C', 'H')   /* interrupt controllers, clocks */
#define SNAP_TAG_UART STATE_TAG('U', 'A', 'R', 'T')   /* the console 16550 */
#define SNAP_TAG_PCIH STATE_TAG('P', 'C', 'I', 'H')   /* the PCI host bridge */
#define SNAP_TAG_VDEV STATE_TAG('V', 'D', 'E', 'V')   /* one per virtio device (instance) */
#define SNAP_TAG_END  STATE_TAG('E', 'N', 'D', ' ')

struct snap_header {
	uint32_t version;
	uint32_t arch;
	char kvmini_version[17];
	uint64_t ram_size;
	uint32_t ncpus;
	uint64_t created;
};

struct snap_section {
	uint32_t tag, instance, version;
	const uint8_t *p;
	size_t len;
};

#define SNAP_MAX_SECTIONS 512

struct snapfile {
	struct snap_header h;
	struct snap_section s[SNAP_MAX_SECTIONS];
	int n;
};

const char *snap_arch_name(uint32_t arch);
uint32_t snap_crc32(const void *p, size_t len);

/* Writing: the header, sections (snap_begin returns where sw_end patches
 * the length), then snap_finish appends END. */
void snap_write_header(struct state_w *w, const struct snap_header *h);
size_t snap_begin(struct state_w *w, uint32_t tag, uint32_t instance, uint32_t version);
void snap_finish(struct state_w *w);

/* Reading: checks magic, format version, architecture (here: the one this
 * kvmini runs), every section's bounds and the CRC, and indexes the
 * sections (pointing into buf). 0, or -EINVAL with one line in err. */
int snap_parse(const uint8_t *buf, size_t len, uint32_t here, struct snapfile *f, char *err,
	       size_t errlen);
/* The section with this tag and instance, or NULL. */
const struct snap_section *snap_find(const struct snapfile *f, uint32_t tag, uint32_t instance);
int snap_count(const struct snapfile *f, uint32_t tag);

#endif
